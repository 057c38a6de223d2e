// Command audguard guards resource servers written in any language so that
// they accept only OAuth access tokens issued for them (RFC 8707, RFC 9728,
// MCP authorization 2026-07-28).
//
// Usage:
//
//	audguard demo                 walk through audience binding end to end, in one process
//	audguard proxy [flags]        guard an upstream HTTP server (e.g. an MCP server)
//	audguard check [flags] TOKEN  explain, check by check, why a token is or is not accepted
//	audguard version              print the version
//
// Run "audguard <command> -h" for the flags of a command; every flag can
// also be set through an AUDGUARD_* environment variable.
package main
