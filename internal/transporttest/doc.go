// Package transporttest is the token matrix every transport is held to:
// net/http, chi, gin, gRPC (unary and stream) and MCP must reach the same
// decision, the same mapped status and the same challenge for the same
// request. A transport test builds an [Env], wires [Env.Verifier] into its
// framework so that the guarded operation requires [Scope] and reports
// the subject it finds in its context, and calls [Env.Run] with a function
// that sends one request.
//
// The package is internal to the audguard repository; the nested adapter
// modules may import it because their import paths share its prefix.
package transporttest
