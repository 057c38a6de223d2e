// Package mcpgo makes an MCP server built with github.com/mark3labs/mcp-go
// accept only access tokens issued for it, with the same RFC 6750 / RFC
// 9728 challenges as every other audguard transport.
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
//	s := server.NewMCPServer("files", "v1")
//	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
//		claims, _ := middleware.ClaimsFromContext(ctx)
//		return mcp.NewToolResultText(claims.Subject), nil
//	})
//	h := server.NewStreamableHTTPServer(s, server.WithHTTPContextFunc(mcpgo.ContextFunc))
//	// /mcp guarded, /.well-known/oauth-protected-resource/mcp public, 404 elsewhere.
//	log.Fatal(http.ListenAndServe(":8080", mcpgo.Handler(v, h)))
//
// Tools read the claims with [middleware.ClaimsFromContext]: mcp-go builds
// a tool's context from each HTTP request (through [ContextFunc]), so they
// are the claims of the request being served, also after the client has
// refreshed or stepped up its token within a session.
//
// Tools that need more than the endpoint's scopes are declared with
// [HandlerWithOptions] and Options.ToolScopes: a call of such a tool with
// a token lacking one of its scopes is answered 403 insufficient_scope
// with every scope the call requires (MCP 2026-07-28 §11.1.1).
//
// For custom routing, guard the MCP handler with v.RequireScopes(scopes...)
// (or v.Handler) and serve v.MetadataHandler() at v.MetadataPath();
// per-tool scopes need HandlerWithOptions.
package mcpgo
