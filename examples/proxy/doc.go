// Package proxy holds the end-to-end test of the audguard binary in front
// of an MCP server that knows nothing about OAuth: the official MCP Go SDK
// client talks through `audguard proxy` to an unauthenticated SDK server,
// as a Python or TypeScript server would be guarded. It has no code of its
// own; see proxy_test.go.
package proxy
