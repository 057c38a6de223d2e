// Package toolscope enforces per-tool scope requirements on MCP
// streamable HTTP requests: it reads the JSON-RPC request body (bounded),
// finds the tools it calls and checks the token's scopes before the MCP
// SDK sees the request, so that a missing scope is answered with HTTP 403
// insufficient_scope and the scopes the call needs (MCP 2026-07-28
// §11.1.1), like every other audguard refusal.
package toolscope
