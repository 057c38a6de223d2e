// Package userid names the user an MCP session is bound to: the
// issuer-qualified subject (or client) of a verified access token. Both
// MCP adapters bind sessions to it, the go-sdk one through the SDK's
// TokenInfo.UserID and the mcp-go one itself.
package userid
