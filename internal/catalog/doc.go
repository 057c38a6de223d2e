// Package catalog holds the attack catalog of
// shared/reference/standards-and-attacks.md §3 as data: one Case per
// applicable row, with the exact expected outcome. Transport tests (net/http
// in middleware, gRPC in adapters/grpcauth) run the same cases, so every
// transport gives the same decision.
package catalog
