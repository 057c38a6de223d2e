package tokensource

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"sync/atomic"
)

// Token type identifiers of RFC 8693 §3, for [TokenExchange].
const (
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
)

const grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Grant is how a token is obtained: [ClientCredentials] (the default), a
// [*RefreshGrant], or a [TokenExchange]. The set is closed: only this
// package implements it. A grant that acts for a user is part of the
// cache key, so one user's token is never returned for another's grant.
type Grant interface {
	// validate reports a grant that cannot make a request. It is cheap
	// (no allocation): it runs on every Token call, cache hits included.
	validate() error
	// params returns the grant-specific form parameters (validate first).
	params() (url.Values, error)
	// identity distinguishes grants in the cache key. It never contains
	// grant secrets in clear.
	identity() string
}

// ClientCredentials returns the client credentials grant (RFC 6749 §4.4):
// the client acts on its own behalf.
func ClientCredentials() Grant { return clientCredentials{} }

type clientCredentials struct{}

func (clientCredentials) validate() error { return nil }

func (clientCredentials) params() (url.Values, error) {
	return url.Values{"grant_type": {"client_credentials"}}, nil
}

func (clientCredentials) identity() string { return "client_credentials" }

// refreshGrantIDs numbers RefreshGrants; an identity must never be reused
// while cache entries for it may exist, which rules out pointer values.
var refreshGrantIDs atomic.Uint64

// RefreshGrant obtains tokens with a refresh token (RFC 6749 §6). When the
// authorization server rotates the refresh token, the grant keeps the new
// one; [RefreshGrant.RefreshToken] returns it for storage. Refreshes with
// one RefreshGrant are serialized, so that rotation cannot make two
// concurrent requests spend the same refresh token. Create it with
// [NewRefreshGrant]; it is safe for concurrent use.
type RefreshGrant struct {
	id  uint64
	sem chan struct{} // holds the current refresh token; taken while refreshing
	cur atomic.Pointer[string]
}

// NewRefreshGrant returns a grant for refreshToken.
func NewRefreshGrant(refreshToken string) *RefreshGrant {
	g := &RefreshGrant{id: refreshGrantIDs.Add(1), sem: make(chan struct{}, 1)}
	g.cur.Store(&refreshToken)
	return g
}

// RefreshToken returns the current refresh token (the latest one the
// authorization server issued).
func (g *RefreshGrant) RefreshToken() string {
	if g == nil || g.cur.Load() == nil {
		return ""
	}
	return *g.cur.Load()
}

var errNoRefreshToken = errors.New("tokensource: RefreshGrant without refresh token (use NewRefreshGrant)")

func (g *RefreshGrant) validate() error {
	if g == nil || g.id == 0 || g.RefreshToken() == "" {
		return errNoRefreshToken
	}
	return nil
}

func (g *RefreshGrant) params() (url.Values, error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken()}}, nil
}

func (g *RefreshGrant) identity() string {
	if g == nil {
		return "refresh_token:0"
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], g.id)
	return "refresh_token:" + base64.RawURLEncoding.EncodeToString(b[:])
}

// lock serializes refreshes of one grant; it gives up when ctx ends.
func (g *RefreshGrant) lock(ctx context.Context) error {
	select {
	case g.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *RefreshGrant) unlock() { <-g.sem }

// rotate stores a refresh token the authorization server issued.
func (g *RefreshGrant) rotate(rt string) {
	if rt != "" {
		g.cur.Store(&rt)
	}
}

// TokenExchange is the RFC 8693 token exchange grant: a service presents
// the token it received (SubjectToken) and obtains one for another
// resource. This is how an MCP server calls a downstream API without token
// passthrough (MCP security best practices).
type TokenExchange struct {
	// SubjectToken is the token that represents the party on whose behalf
	// the request is made. Required.
	SubjectToken string
	// SubjectTokenType is its RFC 8693 type, e.g. [TokenTypeAccessToken].
	// Required.
	SubjectTokenType string
	// ActorToken and ActorTokenType optionally identify the acting party
	// (delegation, RFC 8693 §1.1). Both or neither.
	ActorToken, ActorTokenType string
	// RequestedTokenType optionally asks for a token type; the default is
	// the authorization server's choice (normally an access token).
	RequestedTokenType string
}

var (
	errNoSubject    = errors.New("tokensource: TokenExchange needs SubjectToken and SubjectTokenType")
	errActorPartial = errors.New("tokensource: TokenExchange needs both ActorToken and ActorTokenType, or neither")
)

func (t TokenExchange) validate() error {
	if t.SubjectToken == "" || t.SubjectTokenType == "" {
		return errNoSubject
	}
	if (t.ActorToken == "") != (t.ActorTokenType == "") {
		return errActorPartial
	}
	return nil
}

func (t TokenExchange) params() (url.Values, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	v := url.Values{
		"grant_type":         {grantTypeTokenExchange},
		"subject_token":      {t.SubjectToken},
		"subject_token_type": {t.SubjectTokenType},
	}
	if t.ActorToken != "" {
		v.Set("actor_token", t.ActorToken)
		v.Set("actor_token_type", t.ActorTokenType)
	}
	if t.RequestedTokenType != "" {
		v.Set("requested_token_type", t.RequestedTokenType)
	}
	return v, nil
}

// identity is a SHA-256 digest of every field, length-prefixed, so that
// tokens obtained for one subject are never served for another while
// repeated exchanges of the same subject token share the cache.
func (t TokenExchange) identity() string {
	h := sha256.New()
	for _, f := range []string{t.SubjectToken, t.SubjectTokenType, t.ActorToken, t.ActorTokenType, t.RequestedTokenType} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return "token_exchange:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
