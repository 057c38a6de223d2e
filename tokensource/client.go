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
	closed  bool                              // Close was called: no background refreshes
	bg      map[*call]context.CancelCauseFunc // background refreshes in flight
	wg      sync.WaitGroup                    // their goroutines
}

// New validates cfg and returns a Client. All configuration problems are
// reported together. New performs no network I/O and starts no goroutine;
// the only goroutines a Client ever runs are background refreshes
// ([Client.Token]), which end by themselves and are stopped by
// [Client.Close].
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
	bgRetryAt time.Time // no background refresh before then (one failed)
	call      *call     // the token request in flight, if any
}

// call is one token request that concurrent callers wait for. Its results
// are written before done is closed.
type call struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
	// retry: the request ended because whoever made it gave up (the
	// caller's context ended, or Close stopped a background refresh),
	// not because of the endpoint. Waiters that have not given up ask
	// again instead of sharing err.
	retry   bool
	waiters int // callers that waited for done (observed by tests)
}

// prepared is a validated Request.
type prepared struct {
	key     cacheKey
	uri     canonuri.URI
	scopes  []string
	grant   Grant
	aliases []string // the resource's configured audiences
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
	if err := g.validate(); err != nil {
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
		aliases: aliases,
	}
	return p, nil
}

// Token returns an access token for r.Resource with r.Scopes, from the
// cache when one is there and not due for refresh, otherwise from the
// token endpoint. Concurrent calls for the same cache key share one token
// request. The request always carries "resource" (RFC 8707) and "scope".
//
// Within the refresh margin (Config.RefreshMargin) the cached token, still
// valid, is returned at once and replaced in the background: one request
// per cache key, detached from ctx (its values are kept), bounded by the
// HTTP client's Timeout ([DefaultHTTPTimeout] when it has none) and
// stopped by [Client.Close]. When it fails, the cached token goes on being
// returned until it expires, and no other background refresh is made for
// Config.ErrorBackoff; a call after expiry asks the token endpoint itself
// and waits for the answer (or joins the background request in flight).
// Token never waits for the token endpoint while it holds a valid token.
//
// A refusal by the token endpoint is returned as an [*Error] (matching
// [ErrInvalidTarget], [ErrInvalidScope], ...) and remembered for
// Config.ErrorBackoff; so is a JWT whose "aud" does not name the resource
// ([ErrAudienceMismatch]). Other failures (network errors, timeouts, ctx
// ending) are returned wrapped and not remembered. Callers waiting for a
// request another caller made get its outcome, failure included; only
// when that caller's own context ended do they ask again themselves.
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
		if e == nil {
			c.evictLocked(now)
			e = &entry{}
			c.entries[p.key] = e
		}
		valid := e.tok != nil && now.Before(e.expiry)
		switch {
		case e.tok != nil && now.Before(e.refreshAt):
			// Fresh.
		case e.err != nil && now.Before(e.errUntil):
			// A remembered refusal: the token in hand while it lasts,
			// then the refusal, without asking again.
			if !valid {
				err := e.err
				c.mu.Unlock()
				return nil, err
			}
		case valid:
			// In the refresh margin. The token in hand is still good:
			// hand it out now and replace it in the background, so
			// that a slow or hanging token endpoint delays nobody.
			if e.call == nil && !c.closed && !now.Before(e.bgRetryAt) {
				c.refreshInBackgroundLocked(ctx, e, p)
			}
		default:
			// Nothing usable: join the request in flight or make one.
			if cl := e.call; cl != nil {
				cl.waiters++
				c.mu.Unlock()
				select {
				case <-cl.done:
				case <-ctx.Done():
					return nil, fmt.Errorf("tokensource: waiting for a token for %s: %w", p.key.resource, ctx.Err())
				}
				if cl.retry && ctx.Err() == nil {
					// Whoever made the request gave up (its context
					// ended, or Close stopped it); this caller has not,
					// so it asks again itself.
					continue
				}
				if cl.err != nil {
					return nil, cl.err
				}
				return copyToken(cl.tok), nil
			}
			cl := &call{done: make(chan struct{})}
			e.call = cl
			c.mu.Unlock()

			res, ferr := c.fetch(ctx, p)

			c.mu.Lock()
			// Only this caller's own context ending makes the others
			// retry. A timeout of the HTTP client also matches
			// context.DeadlineExceeded, but it is the endpoint's
			// answer and is shared like any other.
			c.completeLocked(e, cl, res, ferr, ferr != nil && ctx.Err() != nil)
			c.mu.Unlock()
			if cl.err != nil {
				return nil, cl.err
			}
			return copyToken(cl.tok), nil
		}
		tok := copyToken(e.tok)
		c.mu.Unlock()
		return tok, nil
	}
}

// completeLocked publishes the outcome of the token request cl for e and
// wakes its waiters. retry says that the request ended because whoever
// made it gave up, not because of the endpoint. c.mu must be held.
func (c *Client) completeLocked(e *entry, cl *call, res fetched, ferr error, retry bool) {
	e.call = nil
	now := c.cfg.now()
	switch {
	case ferr == nil:
		e.tok, e.refreshAt, e.expiry = res.tok, res.refreshAt, res.expiry
		e.err, e.errUntil, e.bgRetryAt = nil, time.Time{}, time.Time{}
		cl.tok = res.tok
	case e.tok != nil && now.Before(e.expiry):
		// The refresh failed but the token in hand is still valid.
		if remembered(ferr) {
			e.err, e.errUntil = ferr, now.Add(c.cfg.backoff)
		}
		cl.tok = e.tok
	default:
		if remembered(ferr) {
			e.err, e.errUntil = ferr, now.Add(c.cfg.backoff)
		}
		cl.err, cl.retry = ferr, retry
	}
	close(cl.done)
}

// errClosed is the cancellation cause of background refreshes stopped by
// Close.
var errClosed = errors.New("tokensource: client closed")

// refreshInBackgroundLocked starts the one background refresh of e. It
// runs detached from the caller's context (keeping its values), bounded
// by c.cfg.bgTimeout, and is stopped by Close. c.mu must be held and no
// request may be in flight for e.
func (c *Client) refreshInBackgroundLocked(ctx context.Context, e *entry, p prepared) {
	cl := &call{done: make(chan struct{})}
	e.call = cl
	stopCtx, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	bctx, cancel := context.WithTimeout(stopCtx, c.cfg.bgTimeout)
	if c.bg == nil {
		c.bg = map[*call]context.CancelCauseFunc{}
	}
	c.bg[cl] = stop
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer stop(nil)
		defer cancel()
		res, ferr := c.fetch(bctx, p)
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.bg, cl)
		c.completeLocked(e, cl, res, ferr, ferr != nil && errors.Is(context.Cause(stopCtx), errClosed))
		if ferr != nil {
			// Not again in the background before the backoff; once the
			// token has expired, the next caller asks itself.
			e.bgRetryAt = c.cfg.now().Add(c.cfg.backoff)
		}
	}()
}

// Close stops the background refreshes in flight and waits for them to
// end. Calling it is optional: a background refresh ends by itself within
// its timeout (see [Config].HTTPClient). Call it when shutting down, or at
// the end of a test that checks for leaked goroutines.
//
// The Client stays usable after Close, without background refreshes: a
// cached token is returned until it expires, then the next call asks the
// token endpoint itself. Close is safe to call more than once and always
// returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	for _, stop := range c.bg {
		stop(errClosed)
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
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
		m := canonuri.NewMatcher(p.key.resource, p.uri, p.aliases, false, c.cfg.uopts)
		if err := checkAudience(tok.AccessToken, m); err != nil {
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
