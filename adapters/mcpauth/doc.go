// Package mcpauth makes an MCP server built with
// github.com/modelcontextprotocol/go-sdk accept only access tokens issued
// for it (MCP authorization, revision 2026-07-28), with RFC 6750 / RFC 9728
// challenges: every refusal carries resource_metadata, an error code when
// credentials were presented (invalid_token, insufficient_scope,
// invalid_request) and a fixed error_description, never the error text.
//
// After audguard accepts a request, the request goes through the SDK's own
// auth.RequireBearerToken with the already verified token information, so
// the TokenInfo in a tool's request (req.Extra.TokenInfo) and the SDK's
// binding of sessions to TokenInfo.UserID keep working. TokenInfo.UserID
// is the issuer-qualified subject ([UserID]), so equal subjects of two
// issuers never share a session; a token that names neither subject nor
// client is refused, since sessions could not be bound to it.
//
// Quick start:
//
//	v, err := middleware.New(middleware.Config{
//		Resource: "https://mcp.example.com/mcp",
//		Issuers:  []middleware.Issuer{{URL: "https://as.example.com"}},
//		Scopes:   []string{"mcp:tools"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	server := mcp.NewServer(&mcp.Implementation{Name: "files", Version: "v1"}, nil)
//	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
//	// /mcp guarded, /.well-known/oauth-protected-resource/mcp public, 404 elsewhere.
//	log.Fatal(http.ListenAndServe(":8080", mcpauth.Handler(v, mcpHandler)))
//
// In a tool, the claims of the request being served are in its TokenInfo:
//
//	claims, ok := mcpauth.Claims(req.Extra.TokenInfo)
//
// Not in the tool's context: the SDK serves every request of a session
// with the context of the request that created the session, so
// [middleware.ClaimsFromContext] finds nothing there (this package stores
// no claims in it), and auth.TokenInfoFromContext returns the session's
// first TokenInfo, stale once the client has refreshed or stepped up its
// token.
//
// Tools that need more than the endpoint's scopes are declared with
// [HandlerWithOptions] and Options.ToolScopes: a call of such a tool with
// a token lacking one of its scopes is answered 403 insufficient_scope
// with every scope the call requires, so that the client can step up
// (MCP 2026-07-28 §11.1.1); the SDK's client does so through its
// OAuthHandler and retries the call in the same session.
//
// For mark3labs/mcp-go servers, see package
// github.com/audguard/audguard/adapters/mcpauth/mcpgo.
package mcpauth
