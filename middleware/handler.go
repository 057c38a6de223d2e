package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/audguard/audguard/internal/jose"
)

// Authenticate runs the whole pipeline for one request: it parses the
// Authorization header values (exactly one; scheme Bearer,
// case-insensitive; one or more spaces; a token68), verifies the token and
// checks that it covers Config.Scopes and scopes. Transport adapters call
// it with the header values they received: r.Header.Values("Authorization")
// for HTTP, the "authorization" metadata values for gRPC.
//
// Errors: [ErrNoToken] (no header, or another scheme), [ErrInvalidRequest]
// (several headers, an empty or comma-separated credential), any
// [ErrInvalidToken] from [Verifier.Verify], or a [*ScopeError].
//
// A scope in scopes that is not a valid scope-token, or is offline_access,
// can never be met: a request that passes every other check is refused
// with a [*ScopeError] naming it (fail closed; [Verifier.ValidateScopes]
// catches such requirements where they are declared).
func (v *Verifier) Authenticate(ctx context.Context, authorization []string, scopes ...string) (*Claims, error) {
	required := v.requiredScopes(scopes)
	c, err := v.authenticate(ctx, authorization, required)
	if err == nil {
		if bad := invalidScopes(scopes); bad != nil {
			c, err = nil, &ScopeError{Required: required, Missing: bad}
		}
	}
	v.report(ctx, c, err)
	return c, err
}

// invalidScopes returns the scopes a token can never meet (see
// checkScopeToken); nil, without allocating, when there are none.
func invalidScopes(scopes []string) []string {
	var bad []string
	for _, s := range scopes {
		if checkScopeToken(s) != nil {
			bad = append(bad, s)
		}
	}
	return bad
}

func (v *Verifier) authenticate(ctx context.Context, authorization []string, required []string) (*Claims, error) {
	tok, compact, err := v.bearerToken(authorization)
	if err != nil {
		return nil, err
	}
	c, err := v.verify(ctx, tok, compact)
	if err != nil {
		return nil, err
	}
	if err := v.checkScopes(c, required); err != nil {
		return nil, err
	}
	return c, nil
}

// bearerToken applies pipeline step 1 to the Authorization header values.
// compact reports that every byte of the token is in the compact-JWS
// alphabet (or a '.'), which the shape check can then take as given.
func (v *Verifier) bearerToken(values []string) (tok string, compact bool, err error) {
	switch len(values) {
	case 0:
		return "", false, ErrNoToken
	case 1:
	default:
		return "", false, fail(ErrInvalidRequest, "more than one Authorization header")
	}
	h := values[0]
	if len(h) > v.cfg.maxToken+len("Bearer ") {
		// Checked first, whatever the scheme: an oversized header value
		// is refused before any other work (standards-and-attacks §3 A13).
		return "", false, fail(ErrMalformed, "Authorization header too large")
	}
	const scheme = "bearer"
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		if strings.TrimSpace(h) == "" {
			return "", false, fail(ErrInvalidRequest, "empty Authorization header")
		}
		// Another scheme (Basic, DPoP, ...): no bearer credentials.
		return "", false, ErrNoToken
	}
	rest := h[len(scheme):]
	if rest == "" {
		return "", false, fail(ErrInvalidRequest, "Bearer without a token")
	}
	if rest[0] != ' ' {
		return "", false, fail(ErrInvalidRequest, "Bearer not followed by a space")
	}
	tok = strings.TrimLeft(rest, " ")
	if tok == "" {
		return "", false, fail(ErrInvalidRequest, "Bearer without a token")
	}
	if jose.CompactAlphabet(tok) {
		// The usual case, decided 8 bytes at a time: no control
		// character and no comma can be present.
		return tok, true, nil
	}
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c < 0x20 || c == 0x7f:
			return "", false, fail(ErrInvalidRequest, "Authorization header holds control characters")
		case c == ',' && startsCredentials(tok[i+1:]):
			return "", false, fail(ErrInvalidRequest, "Authorization header holds a list of credentials")
		}
	}
	return tok, false, nil
}

// startsCredentials reports whether s (what follows a comma) starts
// another set of credentials: optional spaces, an auth-scheme, a space.
// That is the shape of two Authorization headers joined by a proxy
// ("Bearer a, Bearer b"); any other comma just makes the token malformed.
func startsCredentials(s string) bool {
	s = strings.TrimLeft(s, " ")
	n := 0
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9' || s[n] == '-') {
		n++
	}
	return n > 0 && (n == len(s) || s[n] == ' ')
}

// CheckScopes reports whether c covers Config.Scopes and scopes, honouring
// Config.ScopeCovers. It returns nil or a [*ScopeError] listing every
// required scope and the missing ones. Claims that v did not verify
// ([Claims.VerifiedBy]) are refused with an error wrapping [ErrAudience]:
// they may come from a token issued for another resource.
//
// Invalid scopes are never met, as in [Verifier.Authenticate].
//
// A refusal is reported to Config.Observer (and logged at Debug level)
// like a refusal by [Verifier.Handler].
func (v *Verifier) CheckScopes(c *Claims, scopes ...string) error {
	var err error
	if !c.VerifiedBy(v) {
		err = fail(ErrAudience, "the claims were not verified by this Verifier")
	} else {
		required := v.requiredScopes(scopes)
		err = v.checkScopes(c, required)
		if bad := invalidScopes(scopes); err == nil && bad != nil {
			err = &ScopeError{Required: required, Missing: bad}
		}
	}
	if err != nil {
		v.report(context.Background(), nil, err)
	}
	return err
}

func (v *Verifier) checkScopes(c *Claims, required []string) error {
	var missing []string
	for _, r := range required {
		if !v.covered(c.Scopes, r) {
			missing = append(missing, r)
		}
	}
	if missing != nil {
		return &ScopeError{Required: required, Missing: missing}
	}
	return nil
}

func (v *Verifier) covered(granted []string, required string) bool {
	for _, g := range granted {
		if g == required || (v.cfg.covers != nil && v.cfg.covers(g, required)) {
			return true
		}
	}
	return false
}

// requiredScopes returns Config.Scopes followed by the extra scopes not
// already in it. Without extra scopes it does not allocate.
func (v *Verifier) requiredScopes(extra []string) []string {
	if len(extra) == 0 {
		return v.cfg.scopes
	}
	out := append([]string(nil), v.cfg.scopes...)
	for _, s := range extra {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Handler returns middleware that admits only requests with a valid token
// for this resource covering Config.Scopes. It stores the claims in the
// request context ([ClaimsFromContext]) and calls next; otherwise it
// answers with [Verifier.WriteError] and does not call next. Tokens in the
// query string, form body or cookies are ignored (OAuth 2.1 §5.1).
//
// With chi: r.Use(v.Handler).
func (v *Verifier) Handler(next http.Handler) http.Handler {
	return v.guard(next, v.cfg.scopes)
}

// RequireScopes returns middleware that requires scopes (in addition to
// Config.Scopes) for the routes it wraps. Behind [Verifier.Handler] of the
// same Verifier it checks the claims already in the context; on its own,
// or behind another Verifier's middleware, it verifies the request itself
// (claims accepted for another resource never satisfy it). A missing scope is answered 403 insufficient_scope with
// every scope the route requires, in one challenge (MCP 2026-07-28
// §11.1.1).
//
// A scope that is not a valid RFC 6749 scope-token (or offline_access)
// makes the returned middleware refuse every request with 500, fail closed,
// and log the problem at Error level.
//
// With chi: r.With(v.RequireScopes("files:read")).Get(...).
func (v *Verifier) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	var bad []string
	for _, s := range scopes {
		if err := checkScopeToken(s); err != nil {
			bad = append(bad, err.Error())
		}
	}
	required := v.requiredScopes(scopes)
	return func(next http.Handler) http.Handler {
		if bad != nil {
			v.cfg.logger.Error("audguard: RequireScopes called with invalid scopes; refusing every request", slog.Any("problems", bad))
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			})
		}
		inner := v.guard(next, required)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFromContext(r.Context())
			if !ok || !c.VerifiedBy(v) {
				inner.ServeHTTP(w, r)
				return
			}
			if err := v.checkScopes(c, required); err != nil {
				v.report(r.Context(), nil, err)
				v.ErrorResponse(err).Write(w)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (v *Verifier) guard(next http.Handler, required []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		c, err := v.authenticate(ctx, r.Header.Values("Authorization"), required)
		v.report(ctx, c, err)
		if err != nil {
			v.ErrorResponse(err, required...).Write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(ctx, c)))
	})
}
