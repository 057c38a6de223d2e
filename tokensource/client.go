package tokensource

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/audguard/audguard/internal/canonuri"
)

// Client obtains access tokens for resource servers from one token
// endpoint as one OAuth client, and caches them per audience. It is safe
// for concurrent use; create it with [New] and share it.
type Client struct {
	cfg config

	mu      sync.Mutex
	entries map[cacheKey]*entry
}

// New validates cfg and returns a Client. All configuration problems are
// reported together. New performs no network I/O and starts no goroutine.
func New(cfg Config) (*Client, error) {
	c, errs := cfg.validate()
	if len(errs) > 0 {
		return nil, fmt.Errorf("tokensource: invalid configuration:\n  %w", joinIndented(errs))
	}
	return &Client{cfg: c, entries: map[cacheKey]*entry{}}, nil
}

// Request describes the token to obtain.
type Request struct {
	// Resource is the resource identifier the token is for (RFC 8707). It
	// is validated like a configured resource and sent in canonical form.
	Resource string
	// Scopes to request. When empty and Resource is one of
	// Config.Resources, that entry's scopes are used; otherwise at least
	// one scope is required.
	Scopes []string
	// Grant is how to obtain the token. Default [ClientCredentials].
	Grant Grant
}

// cacheKey partitions the cache: a token is only ever returned for the
// same token endpoint, client, canonical resource, scope set and grant.
type cacheKey struct {
	endpoint string
	clientID string
	resource string // canonical form (canonuri)
	scopes   string // sorted, de-duplicated, space-separated
	grant    string // Grant.identity(): never a secret in clear
}

type entry struct {
	tok       *oauth2.Token // nil until a token was obtained
	refreshAt time.Time     // tok is served until then
	expiry    time.Time     // tok is usable, as a fallback, until then
	err       error         // remembered refusal
	errUntil  time.Time
	call      *call // the token request in flight, if any
}

// call is one token request that concurrent callers wait for. Its results
// are written before done is closed.
type call struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
	// retry: the request ended because the caller that made it gave up
	// (its context ended), not because of the endpoint. Waiters that
	// have not given up ask again instead of sharing err.
	retry   bool
	waiters int // callers that waited for done (observed by tests)
}

// prepared is a validated Request.
type prepared struct {
	key     cacheKey
	uri     canonuri.URI
	scopes  []string
	grant   Grant
	matcher *canonuri.Matcher
}

func (c *Client) prepare(r Request) (prepared, error) {
	var p prepared
	u, canonical, err := parseResource(r.Resource, c.cfg.uopts)
	if err != nil {
		return p, fmt.Errorf("tokensource: %w", err)
	}
	conf := c.cfg.byResource[canonical]
	in := r.Scopes
	if len(in) == 0 && conf != nil {
		in = conf.scopes
	}
	scopes, err := normalizeScopes(in)
	if err != nil {
		return p, fmt.Errorf("tokensource: resource %q: %w", r.Resource, err)
	}
	g := r.Grant
	if g == nil {
		g = ClientCredentials()
	}
	if _, err := g.params(); err != nil {
		return p, err
	}
	var aliases []string
	if conf != nil {
		aliases = conf.audiences
	}
	p = prepared{
		key: cacheKey{
			endpoint: c.cfg.tokenURL,
			clientID: c.cfg.clientID,
			resource: canonical,
			scopes:   strings.Join(scopes, " "),
			grant:    g.identity(),
		},
		uri:     u,
		scopes:  scopes,
		grant:   g,
		matcher: canonuri.NewMatcher(canonical, u, aliases, false, c.cfg.uopts),
	}
	return p, nil
}

// Token returns an access token for r.Resource with r.Scopes, from the
// cache when one is there and not due for refresh, otherwise from the
// token endpoint. Concurrent calls for the same cache key share one token
// request. The request always carries "resource" (RFC 8707) and "scope".
//
// A refusal by the token endpoint is returned as an [*Error] (matching
// [ErrInvalidTarget], [ErrInvalidScope], ...) and remembered for
// Config.ErrorBackoff; so is a JWT whose "aud" does not name the resource
// ([ErrAudienceMismatch]). When a refresh fails while the cached token has
// not expired yet, the cached token is returned. Other failures (network
// errors, timeouts, ctx ending) are returned wrapped and not remembered.
// Callers waiting for a request another caller made get its outcome,
// failure included; only when that caller's own context ended do they ask
// again themselves.
//
// The returned token is the caller's copy. It has no refresh token (a
// [*RefreshGrant] keeps rotated refresh tokens itself) and its Expiry is
// computed with Config.Now from "expires_in".
func (c *Client) Token(ctx context.Context, r Request) (*oauth2.Token, error) {
	p, err := c.prepare(r)
	if err != nil {
		return nil, err
	}
	return c.token(ctx, p)
}

func (c *Client) token(ctx context.Context, p prepared) (*oauth2.Token, error) {
	for {
		c.mu.Lock()
		now := c.cfg.now()
		e := c.entries[p.key]
		if e != nil {
			if e.tok != nil && now.Before(e.refreshAt) {
				tok := copyToken(e.tok)
				c.mu.Unlock()
				return tok, nil
			}
			if e.err != nil && now.Before(e.errUntil) {
				if e.tok != nil && now.Before(e.expiry) {
					tok := copyToken(e.tok)
					c.mu.Unlock()
					return tok, nil
				}
				err := e.err
				c.mu.Unlock()
				return nil, err
			}
			if cl := e.call; cl != nil {
				cl.waiters++
				c.mu.Unlock()
				select {
				case <-cl.done:
				case <-ctx.Done():
					return nil, fmt.Errorf("tokensource: waiting for a token for %s: %w", p.key.resource, ctx.Err())
				}
				if cl.retry && ctx.Err() == nil {
					// The caller that made the request gave up; this
					// one has not, so it asks again itself.
					continue
				}
				if cl.err != nil {
					return nil, cl.err
				}
				return copyToken(cl.tok), nil
			}
		} else {
			c.evictLocked(now)
			e = &entry{}
			c.entries[p.key] = e
		}
		cl := &call{done: make(chan struct{})}
		e.call = cl
		c.mu.Unlock()

		res, ferr := c.fetch(ctx, p)

		c.mu.Lock()
		e.call = nil
		switch {
		case ferr == nil:
			e.tok, e.refreshAt, e.expiry = res.tok, res.refreshAt, res.expiry
			e.err, e.errUntil = nil, time.Time{}
			cl.tok = res.tok
		case e.tok != nil && c.cfg.now().Before(e.expiry):
			// The refresh failed but the token in hand is still valid.
			if remembered(ferr) {
				e.err, e.errUntil = ferr, c.cfg.now().Add(c.cfg.backoff)
			}
			cl.tok = e.tok
		default:
			if remembered(ferr) {
				e.err, e.errUntil = ferr, c.cfg.now().Add(c.cfg.backoff)
			}
			cl.err = ferr
			// Only the leader's own context ending makes the others
			// retry. A timeout of the HTTP client also matches
			// context.DeadlineExceeded, but it is the endpoint's
			// answer and is shared like any other.
			cl.retry = ctx.Err() != nil
		}
		close(cl.done)
		c.mu.Unlock()
		if cl.err != nil {
			return nil, cl.err
		}
		return copyToken(cl.tok), nil
	}
}

// evictLocked makes room for one entry: first entries with nothing usable
// left, then arbitrary ones. Entries with a request in flight stay.
func (c *Client) evictLocked(now time.Time) {
	if len(c.entries) < c.cfg.maxEntries {
		return
	}
	for k, e := range c.entries {
		if e.call == nil && (e.tok == nil || !now.Before(e.expiry)) && !now.Before(e.errUntil) {
			delete(c.entries, k)
		}
	}
	for k, e := range c.entries {
		if len(c.entries) < c.cfg.maxEntries {
			return
		}
		if e.call == nil {
			delete(c.entries, k)
		}
	}
}

type fetched struct {
	tok       *oauth2.Token
	refreshAt time.Time
	expiry    time.Time
}

// fetch performs one token request with x/oauth2's client credentials
// machinery: its EndpointParams may override grant_type, which is how the
// refresh-token and token-exchange grants get "resource" and "scope" too.
func (c *Client) fetch(ctx context.Context, p prepared) (fetched, error) {
	if rg, ok := p.grant.(*RefreshGrant); ok {
		if err := rg.lock(ctx); err != nil {
			return fetched{}, fmt.Errorf("tokensource: waiting for another refresh with the same refresh token: %w", err)
		}
		defer rg.unlock()
	}
	params, err := p.grant.params()
	if err != nil {
		return fetched{}, err
	}
	params.Set("resource", p.key.resource)
	cc := clientcredentials.Config{
		ClientID:       c.cfg.clientID,
		ClientSecret:   c.cfg.clientSecret,
		TokenURL:       c.cfg.tokenURL,
		Scopes:         p.scopes,
		EndpointParams: params,
		AuthStyle:      authStyle(c.cfg.auth),
	}
	start := c.cfg.now()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, c.cfg.httpClient))
	if err != nil {
		return fetched{}, mapError(err, p.key.resource)
	}
	if rg, ok := p.grant.(*RefreshGrant); ok {
		rg.rotate(tok.RefreshToken)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return fetched{}, fmt.Errorf("%w (token_type %q) for %s", ErrTokenType, sanitize(tok.TokenType, 32), p.key.resource)
	}
	if c.cfg.checkAud {
		if err := checkAudience(tok.AccessToken, p.matcher); err != nil {
			return fetched{}, fmt.Errorf("%w (requested %s)", err, p.key.resource)
		}
	}
	lifetime := c.cfg.defLifetime
	if s := expiresIn(tok); s > 0 {
		lifetime = time.Duration(s) * time.Second
	}
	margin := c.cfg.margin
	if margin == 0 {
		margin = min(lifetime/10, DefaultMaxRefreshMargin)
	}
	margin = min(margin, lifetime/2)
	expiry := start.Add(lifetime)
	out := &oauth2.Token{
		AccessToken: tok.AccessToken,
		TokenType:   "Bearer",
		Expiry:      expiry,
		ExpiresIn:   int64(lifetime / time.Second),
	}
	return fetched{tok: out, refreshAt: expiry.Add(-margin), expiry: expiry}, nil
}

// expiresIn returns the response's expires_in in seconds, or 0 when it is
// absent, not a positive integer or absurdly large. x/oauth2's client
// credentials source does not copy ExpiresIn, so the raw response is read:
// a JSON number, or a string in a form-encoded response.
func expiresIn(tok *oauth2.Token) int64 {
	if tok.ExpiresIn > 0 {
		return tok.ExpiresIn
	}
	const maxSeconds = 1 << 31
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		if v > 0 && v < maxSeconds && v == float64(int64(v)) {
			return int64(v)
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && n < maxSeconds {
			return n
		}
	}
	return 0
}

// mapError turns x/oauth2 errors into this package's. The raw response body
// (which x/oauth2 puts in its error text when there is no error code) is
// never included. Network errors, timeouts and cancellation are wrapped,
// so that errors.Is still tells them apart.
func mapError(err error, resource string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode != "" {
			return &Error{
				Code:        sanitize(re.ErrorCode, 64),
				Description: sanitize(re.ErrorDescription, maxDescription),
				StatusCode:  status,
			}
		}
		return fmt.Errorf("tokensource: token request for %s failed: HTTP %d without an OAuth error code", resource, status)
	}
	return fmt.Errorf("tokensource: token request for %s failed: %w", resource, err)
}

// remembered reports whether err is a decision of the authorization server
// (or about what it issued) that asking again right away would not change.
func remembered(err error) bool {
	var oe *Error
	return errors.As(err, &oe) || errors.Is(err, ErrAudienceMismatch) || errors.Is(err, ErrTokenType)
}

func authStyle(m AuthMethod) oauth2.AuthStyle {
	if m == AuthClientSecretBasic {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}

func copyToken(t *oauth2.Token) *oauth2.Token {
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, Expiry: t.Expiry, ExpiresIn: t.ExpiresIn}
}

// TokenSource returns an [oauth2.TokenSource] of client-credentials tokens
// for resource with scopes (the configured scopes when none are given). It
// never returns a token for another resource. Its Token method uses
// context.Background; bound it with the HTTP client's timeout, or use
// [Client.TokenSourceFor].
func (c *Client) TokenSource(resource string, scopes ...string) oauth2.TokenSource {
	return c.TokenSourceFor(context.Background(), Request{Resource: resource, Scopes: scopes})
}

// TokenSourceFor returns an [oauth2.TokenSource] for r whose Token method
// uses ctx, like x/oauth2's token sources.
func (c *Client) TokenSourceFor(ctx context.Context, r Request) oauth2.TokenSource {
	r.Scopes = append([]string(nil), r.Scopes...)
	return &source{c: c, ctx: ctx, r: r}
}

type source struct {
	c   *Client
	ctx context.Context
	r   Request
}

func (s *source) Token() (*oauth2.Token, error) { return s.c.Token(s.ctx, s.r) }
