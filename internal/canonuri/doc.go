// Package canonuri implements the canonical resource URI rules of audguard:
// validation of a configured resource identifier (RFC 8707 §2, RFC 9728 §1.2,
// MCP 2026-07-28 §8.1), the audience comparison of
// standards-and-attacks §2.2, and the RFC 9728 §3.1 well-known URL.
//
// The package never percent-decodes, never removes dot segments, never maps
// IDNs and never compares by prefix. The only equivalences it knows are
// scheme and host case, the default port, an empty port and an empty path
// versus "/".
package canonuri
