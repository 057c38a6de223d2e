package mcpauth

import (
	"context"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/audguard/audguard/adapters/mcpauth/internal/route"
	"github.com/audguard/audguard/adapters/mcpauth/internal/toolscope"
	"github.com/audguard/audguard/adapters/mcpauth/internal/userid"
	"github.com/audguard/audguard/middleware"
)

// extraClaims is the TokenInfo.Extra key of the *middleware.Claims.
const extraClaims = "audguard.claims"

// tokenInfoKey carries the verified TokenInfo from Middleware to the SDK's
// RequireBearerToken.
type tokenInfoKey struct{}

// Options configure [HandlerWithOptions] and [MiddlewareWithOptions]. The
// zero value requires Config.Scopes of every request and nothing more.
type Options struct {
	// Scopes are required of every request, in addition to Config.Scopes.
	Scopes []string

	// ToolScopes maps a tool name to the scopes a call of that tool
	// requires, in addition to Config.Scopes and Scopes. A POST whose
	// JSON-RPC message (or batch) calls a listed tool ("tools/call" with
	// that "params"."name") without those scopes is answered 403
	// insufficient_scope, before the SDK sees it, with a challenge whose
	// scope lists every scope the call requires (MCP 2026-07-28
	// §11.1.1), so a client can ask for a token with them and retry.
	// Tools not listed require Config.Scopes and Scopes only. The map is
	// copied.
	//
	// To find the tools, the middleware reads the whole body (at most
	// MaxBodyBytes) and hands the SDK an identical one. A body that is not
	// a JSON-RPC message is left to the SDK, which refuses it. Where JSON
	// readers could disagree on the tool a body names (repeated members,
	// member names differing in case), every candidate's scopes are
	// required.
	ToolScopes map[string][]string

	// MaxBodyBytes bounds the body read for ToolScopes; a larger body is
	// answered 413 (the check fails closed rather than skip a call it
	// could not read). Zero or negative means 4 MiB, the default of the
	// SDK's StreamableHTTPOptions.MaxRequestBodyBytes: raise both
	// together. Without ToolScopes no body is read.
	MaxBodyBytes int64
}

// Handler returns the handler to serve: mcpHandler (typically an
// *mcp.StreamableHTTPHandler) guarded by [Middleware] at the path of
// v.Resource() ("/" when it has no path), v's RFC 9728 metadata at
// v.MetadataPath() without a token, and 404 for every other path.
//
// A refused request never reaches mcpHandler, so it cannot create a
// session. Wrap the result with http.NewCrossOriginProtection().Handler to
// refuse cross-origin browser requests before authentication.
//
// Handler(v, h, scopes...) is HandlerWithOptions(v, h, Options{Scopes:
// scopes}).
func Handler(v *middleware.Verifier, mcpHandler http.Handler, scopes ...string) http.Handler {
	return HandlerWithOptions(v, mcpHandler, Options{Scopes: scopes})
}

// HandlerWithOptions is [Handler] guarded by [MiddlewareWithOptions]: use
// it for per-tool scopes (Options.ToolScopes).
func HandlerWithOptions(v *middleware.Verifier, mcpHandler http.Handler, opts Options) http.Handler {
	return route.Handler(v, MiddlewareWithOptions(v, opts)(mcpHandler))
}

// Middleware returns net/http middleware that admits only requests with
// a valid token for v's resource covering Config.Scopes and scopes, and
// answers every other request with v's response (status, Bearer
// challenge, JSON body). It is MiddlewareWithOptions(v, Options{Scopes:
// scopes}).
func Middleware(v *middleware.Verifier, scopes ...string) func(http.Handler) http.Handler {
	return MiddlewareWithOptions(v, Options{Scopes: scopes})
}

// MiddlewareWithOptions returns net/http middleware that admits only
// requests with a valid token for v's resource covering Config.Scopes,
// opts.Scopes and the opts.ToolScopes of the tools the request calls, and
// answers every other request with v's response (status, Bearer
// challenge, JSON body).
//
// The token must name its subject ("sub") or its client ("client_id"): a
// token with neither cannot be told from another such token of its
// issuer, so the SDK could not bind sessions to it ([UserID]). It is
// refused with 401 invalid_token, error_description "The access token
// claims are not accepted" (reason "claims"). Tokens that follow RFC
// 9068 carry both.
//
// An admitted request reaches next through the SDK's
// auth.RequireBearerToken with the token's TokenInfo ([TokenInfo]), which
// the SDK hands to tools as req.Extra.TokenInfo and uses to bind sessions
// to TokenInfo.UserID. Tools read the claims with
// [Claims](req.Extra.TokenInfo), the claims of the request being served.
// The middleware does not store claims for [middleware.ClaimsFromContext]:
// the SDK runs every request of a session with the context of the request
// that created it, so claims there would be the first request's, with its
// scopes, after the client has changed its token. For the same reason do
// not use auth.TokenInfoFromContext in a tool; an HTTP handler between
// this middleware and the SDK may, since its request context is the
// current request's.
//
// The MCP handler, and so every tool, sees "Bearer audguard-verified" in
// the Authorization header instead of the caller's token, so no tool can
// pass the token on to another service (token passthrough is forbidden by
// the MCP security best practices); tools use the claims instead.
//
// The SDK's own checks never refuse a request audguard admitted: no
// scopes are passed to it, and its wall-clock expiry check is disabled
// because audguard already checked "exp" with Config.Now and Config.Leeway.
//
// A scope in opts that is not a valid scope-token (see
// [middleware.Verifier.ValidateScopes]) makes the middleware refuse every
// request with 500, fail closed; the problem is logged once on v's logger.
func MiddlewareWithOptions(v *middleware.Verifier, opts Options) func(http.Handler) http.Handler {
	scopes := slices.Clone(opts.Scopes)
	invalid := v.ValidateScopes(scopes...) != nil
	tools, err := toolscope.New(v, opts.ToolScopes, opts.MaxBodyBytes)
	invalid = invalid || err != nil
	sdkOpts := &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: v.MetadataURL(),
		ClockSkew:           time.Duration(math.MaxInt64),
	}
	return func(next http.Handler) http.Handler {
		if invalid {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			})
		}
		sdk := auth.RequireBearerToken(verified, sdkOpts)(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := v.Authenticate(r.Context(), r.Header.Values("Authorization"), scopes...)
			if err == nil && userid.Anonymous(claims) {
				err = userid.ErrAnonymous
			}
			if err != nil {
				v.ErrorResponse(err, scopes...).Write(w)
				return
			}
			if tools != nil {
				var ok bool
				if r, ok = tools.Check(w, r, claims, scopes); !ok {
					return
				}
			}
			// Only the SDK's verifier reads this value; the SDK then
			// stores the TokenInfo for itself and its tools.
			ctx := context.WithValue(r.Context(), tokenInfoKey{}, TokenInfo(claims))
			// The SDK and its tools see a placeholder, never the token.
			sdk.ServeHTTP(w, route.Redact(r.WithContext(ctx)))
		})
	}
}

// verified is the auth.TokenVerifier handed to the SDK: it returns the
// TokenInfo of the token Middleware has just verified. Without one (which
// Middleware never lets happen) it refuses.
func verified(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
	ti, ok := ctx.Value(tokenInfoKey{}).(*auth.TokenInfo)
	if !ok || ti == nil {
		return nil, auth.ErrInvalidToken
	}
	return ti, nil
}

// TokenInfo converts verified claims to the SDK's TokenInfo: Scopes are
// the granted scopes, Expiration is "exp", UserID is [UserID](c), and
// Extra holds the claims for [Claims].
func TokenInfo(c *middleware.Claims) *auth.TokenInfo {
	return &auth.TokenInfo{
		Scopes:     append([]string(nil), c.Scopes...),
		Expiration: c.Expiry,
		UserID:     UserID(c),
		Extra:      map[string]any{extraClaims: c},
	}
}

// Claims returns the verified claims of a TokenInfo built by this package
// (in a tool: req.Extra.TokenInfo), and whether there were any.
func Claims(ti *auth.TokenInfo) (*middleware.Claims, bool) {
	if ti == nil {
		return nil, false
	}
	c, ok := ti.Extra[extraClaims].(*middleware.Claims)
	return c, ok && c != nil
}

// UserID returns the issuer-qualified identity of the token's subject,
// used as TokenInfo.UserID so that the SDK binds each session to one
// subject of one issuer. It is the form encoding of the issuer and the
// subject ("iss=...&sub=..."), or of the issuer and the client ID
// ("client_id=...&iss=...") for a token without "sub"; percent-encoding
// makes it unambiguous whatever characters the values hold. Treat it as
// opaque.
//
// A token with neither "sub" nor "client_id" identifies nobody: all such
// tokens of one issuer get the same UserID ("iss=...&sub="), never the
// empty string (which would turn the SDK's session binding off).
// [MiddlewareWithOptions] refuses such tokens, so no session is bound to
// that shared ID.
func UserID(c *middleware.Claims) string {
	return userid.Of(c)
}
