package mcpgo

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/audguard/audguard/adapters/mcpauth/internal/route"
	"github.com/audguard/audguard/adapters/mcpauth/internal/sessionbind"
	"github.com/audguard/audguard/adapters/mcpauth/internal/toolscope"
	"github.com/audguard/audguard/adapters/mcpauth/internal/userid"
	"github.com/audguard/audguard/middleware"
)

// Options configure [HandlerWithOptions]. The zero value requires
// Config.Scopes of every request and nothing more.
type Options struct {
	// Scopes are required of every request, in addition to Config.Scopes.
	Scopes []string

	// ToolScopes maps a tool name to the scopes a call of that tool
	// requires, in addition to Config.Scopes and Scopes. A POST whose
	// JSON-RPC message calls a listed tool ("tools/call" with that
	// "params"."name") without those scopes is answered 403
	// insufficient_scope, before mcp-go sees it, with a challenge whose
	// scope lists every scope the call requires (MCP 2026-07-28
	// §11.1.1), so a client can ask for a token with them and retry.
	// Tools not listed require Config.Scopes and Scopes only. The map is
	// copied.
	//
	// To find the tools, the handler reads the whole body (at most
	// MaxBodyBytes) and hands mcp-go an identical one. A body that is not
	// a JSON-RPC message is left to mcp-go, which refuses it. Where JSON
	// readers could disagree on the tool a body names (repeated members,
	// member names differing in case), every candidate's scopes are
	// required.
	ToolScopes map[string][]string

	// MaxBodyBytes bounds the body read for ToolScopes; a larger body is
	// answered 413 (the check fails closed rather than skip a call it
	// could not read). Zero or negative means 4 MiB. Without ToolScopes
	// no body is read.
	MaxBodyBytes int64

	// MaxSessions bounds the sessions whose user the handler remembers
	// (see "Sessions" in the package documentation). When it is reached,
	// a new session makes the handler forget the least recently used
	// session that has no request in flight; with every session busy, the
	// new session is refused with 503. Zero or negative means 10,000.
	MaxSessions int

	// MaxSessionsPerUser bounds the sessions the handler remembers for
	// one user (the token's issuer with its subject, or client). When a
	// user has that many, the user's new session makes the handler forget
	// that user's least recently used session with no request in flight,
	// never another user's; with every one of them busy, the new session
	// is refused with 429, for that user alone. Keep it well below
	// MaxSessions: the users it takes to fill MaxSessions can still make
	// the handler forget each other's idle sessions. Zero or negative
	// means 100.
	MaxSessionsPerUser int

	// SessionIdleTimeout is how long the handler remembers a session that
	// has no request in flight (an open event stream is one). A forgotten
	// session is answered 404, and the client starts a new one. Zero or
	// negative means 24 hours.
	SessionIdleTimeout time.Duration
}

// Handler returns the handler to serve: mcpHandler (typically a
// *server.StreamableHTTPServer) guarded at the path of v.Resource() ("/"
// when it has no path) by v.RequireScopes(scopes...), which admits only
// requests with a valid token for v's resource covering Config.Scopes and
// scopes and answers every other one with v's response; v's RFC 9728
// metadata at v.MetadataPath() without a token; 404 for every other path.
//
// The token must name its subject ("sub") or its client ("client_id"): a
// token with neither cannot be told from another such token of its
// issuer, so no session could be bound to it. It is refused with 401
// invalid_token, error_description "The access token claims are not
// accepted" (reason "claims"), as by the go-sdk adapter. Tokens that
// follow RFC 9068 carry both.
//
// Every session mcpHandler creates is bound to the user of the request
// that created it, and a request carrying its session ID from any other
// user is refused with 403 (see "Sessions" in the package
// documentation). Serve each mcp-go server through one Handler: the
// bindings live in it.
//
// A refused request never reaches mcpHandler. Wrap the result with
// http.NewCrossOriginProtection().Handler to refuse cross-origin browser
// requests before authentication.
//
// mcpHandler sees "Bearer audguard-verified" in the Authorization header
// instead of the caller's token, so no tool can pass the token on.
//
// Handler(v, h, scopes...) is HandlerWithOptions(v, h, Options{Scopes:
// scopes}).
func Handler(v *middleware.Verifier, mcpHandler http.Handler, scopes ...string) http.Handler {
	return HandlerWithOptions(v, mcpHandler, Options{Scopes: scopes})
}

// HandlerWithOptions is [Handler] with per-tool scopes
// (Options.ToolScopes). A scope in opts that is not a valid scope-token
// (see [middleware.Verifier.ValidateScopes]) makes the handler refuse
// every request to the MCP endpoint with 500, fail closed; the problem is
// logged once on v's logger.
func HandlerWithOptions(v *middleware.Verifier, mcpHandler http.Handler, opts Options) http.Handler {
	scopes := slices.Clone(opts.Scopes)
	tools, err := toolscope.New(v, opts.ToolScopes, opts.MaxBodyBytes)
	if err != nil {
		return route.Handler(v, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}))
	}
	sessions := sessionbind.New(sessionbind.Config{
		MaxSessions:        opts.MaxSessions,
		MaxSessionsPerUser: opts.MaxSessionsPerUser,
		IdleTimeout:        opts.SessionIdleTimeout,
	})
	// serve is built once, not per request: the claims come as a
	// parameter rather than captured in a fresh closure.
	serve := func(w http.ResponseWriter, r *http.Request, claims *middleware.Claims) {
		if tools != nil {
			var ok bool
			if r, ok = tools.Check(w, r, claims, scopes); !ok {
				return
			}
		}
		mcpHandler.ServeHTTP(w, route.Redact(r))
	}
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := middleware.ClaimsFromContext(r.Context())
		if !ok { // RequireScopes stored them; never without
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		if userid.Anonymous(claims) {
			v.ErrorResponse(userid.ErrAnonymous, scopes...).Write(w)
			return
		}
		serveSession(sessions, w, r, userid.Of(claims), claims, serve)
	})
	return route.Handler(v, v.RequireScopes(scopes...)(guarded))
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
