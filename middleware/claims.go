package middleware

import (
	"context"
	"encoding/json"
	"time"
)

// Claims are the verified claims of an access token. The registered claims
// audguard checks are typed fields; every other claim is reachable through
// [Claims.Decode].
//
// A Claims value handed out by audguard is a private copy: modifying it
// does not affect other requests. Its slices may share backing arrays with
// audguard's verified-token cache, so treat them as read-only.
type Claims struct {
	Issuer   string   // "iss", equal to a configured issuer
	Subject  string   // "sub", may be empty in the compat profile
	ClientID string   // "client_id" (RFC 9068 §2.2), may be empty
	Audience []string // "aud", always at least one entry
	Scopes   []string // "scope" split on spaces (plus "scp" if enabled)
	// Scope is the "scope" claim exactly as issued (space-separated).
	Scope     string
	ID        string    // "jti", may be empty
	Expiry    time.Time // "exp", always set
	NotBefore time.Time // "nbf", zero when absent
	IssuedAt  time.Time // "iat", zero when absent
	// KeyID is the "kid" header of the token (empty when absent).
	KeyID string
	// Algorithm is the verified "alg".
	Algorithm string

	raw string    // the JSON claims set as received
	by  *Verifier // the Verifier that accepted the token; nil if built by hand
}

// VerifiedBy reports whether these claims come from a token that v itself
// verified. Claims that another Verifier (another resource) accepted, or
// that were built by hand, do not count: [Verifier.RequireScopes] then
// verifies the request again and [Verifier.CheckScopes] refuses them, so a
// token issued for one resource never passes another resource's scope
// check.
func (c *Claims) VerifiedBy(v *Verifier) bool {
	return c != nil && v != nil && c.by == v
}

// Decode unmarshals the whole claims set into dst with encoding/json, for
// claims audguard does not model (roles, tenant IDs, ...). The claims set
// was checked to have no duplicate or case-colliding member names, so
// encoding/json's case-insensitive field matching cannot pick between
// ambiguous members.
func (c *Claims) Decode(dst any) error {
	return json.Unmarshal([]byte(c.raw), dst)
}

// RawJSON returns a copy of the claims set as received.
func (c *Claims) RawJSON() []byte { return []byte(c.raw) }

// HasScope reports whether the token was granted scope, by exact,
// case-sensitive comparison.
func (c *Claims) HasScope(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// clone returns a copy that can be handed to a request.
func (c *Claims) clone() *Claims {
	cp := *c
	return &cp
}

type claimsKey struct{}

// ContextWithClaims returns a copy of ctx carrying c. Adapters use it; tests
// can use it to call handlers that read [ClaimsFromContext]. Claims built by
// hand (or accepted by another Verifier) never satisfy a Verifier's scope
// checks: [Verifier.RequireScopes] verifies the request again and
// [Verifier.CheckScopes] refuses them ([Claims.VerifiedBy]).
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the verified claims stored by
// [Verifier.Handler] or an adapter, and whether there were any.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
