package mcpgo

import (
	"context"
	"net/http"

	"github.com/audguard/audguard/adapters/mcpauth/internal/route"
	"github.com/audguard/audguard/middleware"
)

// Handler returns the handler to serve: mcpHandler (typically a
// *server.StreamableHTTPServer) guarded at the path of v.Resource() ("/"
// when it has no path) by v.RequireScopes(scopes...), which admits only
// requests with a valid token for v's resource covering Config.Scopes and
// scopes and answers every other one with v's response; v's RFC 9728
// metadata at v.MetadataPath() without a token; 404 for every other path.
//
// A refused request never reaches mcpHandler. Wrap the result with
// http.NewCrossOriginProtection().Handler to refuse cross-origin browser
// requests before authentication.
//
// mcpHandler sees "Bearer audguard-verified" in the Authorization header
// instead of the caller's token, so no tool can pass the token on.
func Handler(v *middleware.Verifier, mcpHandler http.Handler, scopes ...string) http.Handler {
	redacted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mcpHandler.ServeHTTP(w, route.Redact(r))
	})
	return route.Handler(v, v.RequireScopes(scopes...)(redacted))
}

// ContextFunc is a server.HTTPContextFunc (pass it to
// server.WithHTTPContextFunc) that puts the claims of the HTTP request
// into the context mcp-go hands to tools, so [middleware.ClaimsFromContext]
// finds them there even when mcp-go builds that context apart from the
// request's (for example through StreamableHTTPServer.Handle).
func ContextFunc(ctx context.Context, r *http.Request) context.Context {
	if c, ok := middleware.ClaimsFromContext(r.Context()); ok {
		return middleware.ContextWithClaims(ctx, c)
	}
	return ctx
}
