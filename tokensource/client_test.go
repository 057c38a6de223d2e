package tokensource_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/audguard/audguard/tokensource"
)

// The cache-partition property: one client, the same scopes, two
// resources give two distinct tokens, each accepted only by its own
// resource's verifier.
func TestCachePartitionTwoResourcesNeverCross(t *testing.T) {
	e := newEnv(t, audtest.Options{Resources: []string{resA, resB}})
	c := e.client(t, nil)
	ctx := context.Background()

	tokA, err := c.Token(ctx, tokensource.Request{Resource: resA, Scopes: []string{"files:read"}})
	require.NoError(t, err)
	tokB, err := c.Token(ctx, tokensource.Request{Resource: resB, Scopes: []string{"files:read"}})
	require.NoError(t, err)
	require.NotEqual(t, tokA.AccessToken, tokB.AccessToken, "two resources must get two tokens")
	require.Equal(t, 2, e.iss.TokenRequests())

	// Cached: asking again returns the same token per resource, never the other's.
	for range 3 {
		again, err := c.Token(ctx, tokensource.Request{Resource: resA, Scopes: []string{"files:read"}})
		require.NoError(t, err)
		require.Equal(t, tokA.AccessToken, again.AccessToken)
		again, err = c.Token(ctx, tokensource.Request{Resource: resB, Scopes: []string{"files:read"}})
		require.NoError(t, err)
		require.Equal(t, tokB.AccessToken, again.AccessToken)
	}
	require.Equal(t, 2, e.iss.TokenRequests())

	vA, vB := e.verifier(t, resA), e.verifier(t, resB)
	_, err = vA.Verify(ctx, tokA.AccessToken)
	require.NoError(t, err, "A's token at A")
	_, err = vB.Verify(ctx, tokB.AccessToken)
	require.NoError(t, err, "B's token at B")
	_, err = vB.Verify(ctx, tokA.AccessToken)
	require.ErrorIs(t, err, middleware.ErrAudience, "A's token at B")
	_, err = vA.Verify(ctx, tokB.AccessToken)
	require.ErrorIs(t, err, middleware.ErrAudience, "B's token at A")
}

// Every token request carries resource (canonical) and scope, whatever the grant.
func TestTokenRequestAlwaysSendsResourceAndScope(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	subject := e.iss.AccessToken("https://inbound.example.com/mcp", "mcp:tools")
	tests := []struct {
		name      string
		grant     tokensource.Grant
		grantType string
		extra     map[string]string
	}{
		{name: "client credentials", grant: nil, grantType: "client_credentials"},
		{name: "explicit client credentials", grant: tokensource.ClientCredentials(), grantType: "client_credentials"},
		{
			name:      "token exchange",
			grant:     tokensource.TokenExchange{SubjectToken: subject, SubjectTokenType: tokensource.TokenTypeAccessToken},
			grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
			extra:     map[string]string{"subject_token": subject, "subject_token_type": tokensource.TokenTypeAccessToken},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.rec.mu.Lock()
			e.rec.forms = nil
			e.rec.mu.Unlock()
			c := e.client(t, nil)
			tok, err := c.Token(context.Background(), tokensource.Request{
				Resource: "HTTPS://A.Example.COM:443/api",
				Scopes:   []string{"b", "a", "b"},
				Grant:    tt.grant,
			})
			require.NoError(t, err)
			require.NotEmpty(t, tok.AccessToken)
			forms := e.rec.Forms()
			require.Len(t, forms, 1)
			f := forms[0]
			require.Equal(t, []string{resA}, f["resource"], "resource in canonical form, exactly once")
			require.Equal(t, []string{"a b"}, f["scope"], "scopes sorted and de-duplicated")
			require.Equal(t, tt.grantType, f.Get("grant_type"))
			for k, v := range tt.extra {
				require.Equal(t, v, f.Get(k), k)
			}
			_, err = e.verifier(t, resA).Verify(context.Background(), tok.AccessToken)
			require.NoError(t, err)
		})
	}
}

// The refresh-token grant sends resource and scope, and keeps a rotated
// refresh token.
func TestRefreshGrant(t *testing.T) {
	e := newEnv(t, audtest.Options{Resources: []string{resA, resB}})
	rt := obtainRefreshToken(t, e, resA, "files:read files:write")
	g := tokensource.NewRefreshGrant(rt)
	c := e.client(t, nil)
	ctx := context.Background()

	tok, err := c.Token(ctx, tokensource.Request{Resource: resB, Scopes: []string{"files:read"}, Grant: g})
	require.NoError(t, err)
	require.Empty(t, tok.RefreshToken, "refresh tokens are not handed out with access tokens")
	_, err = e.verifier(t, resB).Verify(ctx, tok.AccessToken)
	require.NoError(t, err)
	_, err = e.verifier(t, resA).Verify(ctx, tok.AccessToken)
	require.ErrorIs(t, err, middleware.ErrAudience)

	forms := e.rec.Forms()
	last := forms[len(forms)-1]
	require.Equal(t, "refresh_token", last.Get("grant_type"))
	require.Equal(t, rt, last.Get("refresh_token"))
	require.Equal(t, resB, last.Get("resource"))
	require.Equal(t, "files:read", last.Get("scope"))
	require.NotEqual(t, rt, g.RefreshToken(), "the rotated refresh token is kept")

	// A scope beyond the original grant is refused as invalid_scope.
	_, err = c.Token(ctx, tokensource.Request{Resource: resB, Scopes: []string{"admin"}, Grant: g})
	require.ErrorIs(t, err, tokensource.ErrInvalidScope)

	// A client-credentials token for the same resource and scopes is a
	// different cache entry: the grant is part of the key.
	cc, err := c.Token(ctx, tokensource.Request{Resource: resB, Scopes: []string{"files:read"}})
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, cc.AccessToken)
}

// obtainRefreshToken gets a refresh token from audtest's token endpoint
// directly (audtest issues one with every client-credentials token).
func obtainRefreshToken(t *testing.T, e *env, resource, scope string) string {
	t.Helper()
	resp, err := e.iss.Client().PostForm(e.iss.TokenURL(), map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {"audtest-client"}, "client_secret": {"audtest-secret"},
		"resource": {resource}, "scope": {scope},
	})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tr audtest.TokenResponse
	require.NoError(t, decodeJSON(resp, &tr))
	require.NotEmpty(t, tr.RefreshToken)
	return tr.RefreshToken
}

// Token exchange results are keyed by the subject: two users never share
// a token, one user's repeated exchanges do.
func TestTokenExchangeKeyedBySubject(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	c := e.client(t, nil)
	ctx := context.Background()
	alice := tokensource.TokenExchange{SubjectToken: e.iss.AccessToken("https://mcp.example.com", "x"), SubjectTokenType: tokensource.TokenTypeAccessToken}
	bob := tokensource.TokenExchange{SubjectToken: e.iss.AccessToken("https://mcp.example.com", "x"), SubjectTokenType: tokensource.TokenTypeAccessToken}
	req := func(g tokensource.Grant) tokensource.Request {
		return tokensource.Request{Resource: resA, Scopes: []string{"files:read"}, Grant: g}
	}
	ta, err := c.Token(ctx, req(alice))
	require.NoError(t, err)
	tb, err := c.Token(ctx, req(bob))
	require.NoError(t, err)
	require.NotEqual(t, ta.AccessToken, tb.AccessToken)
	ta2, err := c.Token(ctx, req(tokensource.TokenExchange{SubjectToken: alice.SubjectToken, SubjectTokenType: alice.SubjectTokenType}))
	require.NoError(t, err)
	require.Equal(t, ta.AccessToken, ta2.AccessToken)
	require.Equal(t, 2, e.iss.TokenRequests())
}

// Equivalent spellings of a resource and scope lists in another order
// share one cache entry; a different scope set does not.
func TestCacheKeyCanonicalization(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	c := e.client(t, nil)
	ctx := context.Background()
	tests := []struct {
		name     string
		resource string
		scopes   []string
		same     bool
	}{
		{name: "canonical", resource: resA, scopes: []string{"r", "w"}, same: true},
		{name: "upper-case scheme and host, default port", resource: "HTTPS://A.EXAMPLE.COM:443/api", scopes: []string{"w", "r"}, same: true},
		{name: "duplicate scope", resource: resA, scopes: []string{"w", "r", "w"}, same: true},
		{name: "fewer scopes", resource: resA, scopes: []string{"r"}, same: false},
		{name: "path case differs", resource: "https://a.example.com/API", scopes: []string{"r", "w"}, same: false},
		{name: "trailing slash differs", resource: resA + "/", scopes: []string{"r", "w"}, same: false},
	}
	first, err := c.Token(ctx, tokensource.Request{Resource: resA, Scopes: []string{"r", "w"}})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := c.Token(ctx, tokensource.Request{Resource: tt.resource, Scopes: tt.scopes})
			require.NoError(t, err)
			if tt.same {
				require.Equal(t, first.AccessToken, tok.AccessToken)
			} else {
				require.NotEqual(t, first.AccessToken, tok.AccessToken)
			}
		})
	}
}

// Concurrent requests for one key make one token request.
func TestCoalescing(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	hold := e.rec.setHold()
	c := e.client(t, nil)
	req := tokensource.Request{Resource: resA, Scopes: []string{"files:read"}}

	const n = 100
	var wg sync.WaitGroup
	toks := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Token(context.Background(), req)
			errs[i] = err
			if err == nil {
				toks[i] = tok.AccessToken
			}
		}()
	}
	// Release the one request only when every other caller waits for it.
	require.Eventually(t, func() bool { return c.Waiters(req) == n-1 }, 10*time.Second, time.Millisecond)
	close(hold)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, toks[0], toks[i])
	}
	require.Equal(t, 1, e.iss.TokenRequests(), "token requests for %d concurrent callers", n)
}

// A waiter whose own context ends stops waiting; the request goes on for
// the others.
func TestWaiterContextCancelled(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	hold := e.rec.setHold()
	c := e.client(t, nil)
	req := tokensource.Request{Resource: resA, Scopes: []string{"files:read"}}

	done := make(chan error, 1)
	go func() {
		_, err := c.Token(context.Background(), req)
		done <- err
	}()
	require.Eventually(t, func() bool { return len(e.rec.Forms()) == 1 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Token(ctx, req)
	require.ErrorIs(t, err, context.Canceled)
	close(hold)
	require.NoError(t, <-done)
	require.Equal(t, 1, e.iss.TokenRequests())
}

// Tokens are replaced at expiry minus the margin, not before.
func TestRefreshAtMargin(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		margin   time.Duration // Config.RefreshMargin
		refresh  time.Duration // expected refresh point after issue
	}{
		{name: "default margin capped at 30s", lifetime: 5 * time.Minute, refresh: 4*time.Minute + 30*time.Second},
		{name: "default margin 10% of a short lifetime", lifetime: time.Minute, refresh: 54 * time.Second},
		{name: "configured margin", lifetime: 5 * time.Minute, margin: time.Minute, refresh: 4 * time.Minute},
		{name: "margin at most half the lifetime", lifetime: time.Minute, margin: 10 * time.Minute, refresh: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, audtest.Options{TokenLifetime: tt.lifetime})
			c := e.client(t, func(cfg *tokensource.Config) { cfg.RefreshMargin = tt.margin })
			req := tokensource.Request{Resource: resA, Scopes: []string{"files:read"}}
			first, err := c.Token(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, e.clk.Now().Add(tt.lifetime), first.Expiry, "expiry from expires_in and Config.Now")

			e.clk.Add(tt.refresh - time.Second)
			tok, err := c.Token(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, first.AccessToken, tok.AccessToken, "one second before the margin: cached")
			require.Equal(t, 1, e.iss.TokenRequests())

			e.clk.Add(time.Second)
			tok, err = c.Token(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, first.AccessToken, tok.AccessToken, "at the margin: the valid token, refreshed in the background")
			c.WaitBackground()
			require.Equal(t, 2, e.iss.TokenRequests())
			tok, err = c.Token(context.Background(), req)
			require.NoError(t, err)
			require.NotEqual(t, first.AccessToken, tok.AccessToken, "after the background refresh: the new token")
			require.Equal(t, e.clk.Now().Add(tt.lifetime), tok.Expiry)
			require.Equal(t, 2, e.iss.TokenRequests())
		})
	}
}

// invalid_target is surfaced as a typed error, remembered for the backoff
// and not retried before.
func TestInvalidTargetSurfacedNotRetried(t *testing.T) {
	e := newEnv(t, audtest.Options{Resources: []string{resA}})
	c := e.client(t, nil)
	req := tokensource.Request{Resource: resB, Scopes: []string{"files:read"}}

	_, err := c.Token(context.Background(), req)
	require.ErrorIs(t, err, tokensource.ErrInvalidTarget)
	require.NotErrorIs(t, err, tokensource.ErrInvalidScope)
	var oe *tokensource.Error
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "invalid_target", oe.Code)
	require.Equal(t, http.StatusBadRequest, oe.StatusCode)
	require.Equal(t, "unknown resource", oe.Description)
	require.Equal(t, 1, e.iss.TokenRequests())

	for range 50 {
		_, err = c.Token(context.Background(), req)
		require.ErrorIs(t, err, tokensource.ErrInvalidTarget)
	}
	require.Equal(t, 1, e.iss.TokenRequests(), "remembered, not retried")

	e.clk.Add(tokensource.DefaultErrorBackoff)
	_, err = c.Token(context.Background(), req)
	require.ErrorIs(t, err, tokensource.ErrInvalidTarget)
	require.Equal(t, 2, e.iss.TokenRequests(), "asked again after the backoff")

	// The refusal for B does not affect A.
	_, err = c.Token(context.Background(), tokensource.Request{Resource: resA, Scopes: []string{"files:read"}})
	require.NoError(t, err)
}

func TestInvalidScopeSurfaced(t *testing.T) {
	e := newEnv(t, audtest.Options{Scopes: []string{"files:read"}})
	c := e.client(t, nil)
	_, err := c.Token(context.Background(), tokensource.Request{Resource: resA, Scopes: []string{"files:read", "admin"}})
	require.ErrorIs(t, err, tokensource.ErrInvalidScope)
	var oe *tokensource.Error
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "invalid_scope", oe.Code)
	_, err = c.Token(context.Background(), tokensource.Request{Resource: resA, Scopes: []string{"files:read", "admin"}})
	require.ErrorIs(t, err, tokensource.ErrInvalidScope)
	require.Equal(t, 1, e.iss.TokenRequests())
}

func TestInvalidClient(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	c := e.client(t, func(cfg *tokensource.Config) { cfg.ClientSecret = "wrong" })
	_, err := c.Token(context.Background(), tokensource.Request{Resource: resA, Scopes: []string{"x"}})
	require.ErrorIs(t, err, tokensource.ErrInvalidClient)
	require.NotContains(t, err.Error(), "wrong")
	require.Equal(t, 1, e.iss.TokenRequests(), "no retry with another client authentication method")
}

func TestAuthMethods(t *testing.T) {
	tests := []struct {
		name   string
		method tokensource.AuthMethod
		post   bool
	}{
		{name: "basic", method: tokensource.AuthClientSecretBasic},
		{name: "post", method: tokensource.AuthClientSecretPost, post: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, audtest.Options{})
			c := e.client(t, func(cfg *tokensource.Config) { cfg.AuthMethod = tt.method })
			_, err := c.Token(context.Background(), tokensource.Request{Resource: resA, Scopes: []string{"x"}})
			require.NoError(t, err)
			f := e.rec.Forms()[0]
			if tt.post {
				require.Equal(t, "audtest-client", f.Get("client_id"))
				require.Equal(t, "audtest-secret", f.Get("client_secret"))
			} else {
				require.Empty(t, f.Get("client_secret"))
			}
		})
	}
}

// TestTokenSource: the oauth2.TokenSource per resource uses the
// configured scopes and never serves another resource.
func TestTokenSource(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	c := e.client(t, func(cfg *tokensource.Config) {
		cfg.Resources = []tokensource.Resource{{URI: resA, Scopes: []string{"a:read"}}, {URI: resB, Scopes: []string{"b:read"}}}
	})
	ta, err := c.TokenSource(resA).Token()
	require.NoError(t, err)
	tb, err := c.TokenSource(resB).Token()
	require.NoError(t, err)
	require.NotEqual(t, ta.AccessToken, tb.AccessToken)
	forms := e.rec.Forms()
	require.Equal(t, "a:read", forms[0].Get("scope"))
	require.Equal(t, "b:read", forms[1].Get("scope"))
	require.Equal(t, "Bearer", ta.Type())

	_, err = c.TokenSource("https://unlisted.example.com").Token()
	require.ErrorContains(t, err, "at least one scope is required")
	_, err = c.TokenSource("http://a.example.com/api", "x").Token()
	require.Error(t, err, "http resource on a non-loopback host")
	require.Equal(t, 2, e.iss.TokenRequests())
}

func TestEviction(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	c := e.client(t, func(cfg *tokensource.Config) { cfg.MaxCacheEntries = 2 })
	for _, r := range []string{resA, resB, "https://c.example.com"} {
		_, err := c.Token(context.Background(), tokensource.Request{Resource: r, Scopes: []string{"x"}})
		require.NoError(t, err)
	}
	require.LessOrEqual(t, c.CacheLen(), 2)
}

func TestConfigValidation(t *testing.T) {
	valid := tokensource.Config{TokenURL: "https://as.example.com/token", ClientID: "c", ClientSecret: "s"}
	tests := []struct {
		name   string
		mutate func(*tokensource.Config)
		want   string
	}{
		{name: "valid", mutate: func(*tokensource.Config) {}},
		{name: "no token URL", mutate: func(c *tokensource.Config) { c.TokenURL = "" }, want: "TokenURL is required"},
		{name: "http token URL", mutate: func(c *tokensource.Config) { c.TokenURL = "http://as.example.com/token" }, want: "TokenURL"},
		{name: "no client ID", mutate: func(c *tokensource.Config) { c.ClientID = "" }, want: "ClientID is required"},
		{name: "no secret", mutate: func(c *tokensource.Config) { c.ClientSecret = "" }, want: "ClientSecret is required"},
		{name: "public client with secret", mutate: func(c *tokensource.Config) { c.AuthMethod = tokensource.AuthNone }, want: "must be empty"},
		{name: "unknown auth method", mutate: func(c *tokensource.Config) { c.AuthMethod = 7 }, want: "unknown method"},
		{name: "resource with fragment", mutate: func(c *tokensource.Config) {
			c.Resources = []tokensource.Resource{{URI: "https://r.example.com/#x", Scopes: []string{"a"}}}
		}, want: "fragment"},
		{name: "resource without scopes", mutate: func(c *tokensource.Config) {
			c.Resources = []tokensource.Resource{{URI: "https://r.example.com"}}
		}, want: "at least one scope"},
		{name: "bad scope", mutate: func(c *tokensource.Config) {
			c.Resources = []tokensource.Resource{{URI: "https://r.example.com", Scopes: []string{"a b"}}}
		}, want: "not allowed"},
		{name: "duplicate resource", mutate: func(c *tokensource.Config) {
			c.Resources = []tokensource.Resource{{URI: "https://r.example.com", Scopes: []string{"a"}}, {URI: "HTTPS://R.example.com/", Scopes: []string{"b"}}}
		}, want: "listed twice"},
		{name: "bad alias", mutate: func(c *tokensource.Config) {
			c.Resources = []tokensource.Resource{{URI: "https://r.example.com", Scopes: []string{"a"}, Audiences: []string{""}}}
		}, want: "Audiences"},
		{name: "negative margin", mutate: func(c *tokensource.Config) { c.RefreshMargin = -time.Second }, want: "RefreshMargin"},
		{name: "negative backoff", mutate: func(c *tokensource.Config) { c.ErrorBackoff = -time.Second }, want: "ErrorBackoff"},
		{name: "negative lifetime", mutate: func(c *tokensource.Config) { c.DefaultLifetime = -time.Second }, want: "DefaultLifetime"},
		{name: "negative cache size", mutate: func(c *tokensource.Config) { c.MaxCacheEntries = -1 }, want: "MaxCacheEntries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			c, err := tokensource.New(cfg)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, c)
		})
	}
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	c := e.client(t, nil)
	tests := []struct {
		name string
		req  tokensource.Request
		want string
	}{
		{name: "no resource", req: tokensource.Request{Scopes: []string{"a"}}, want: "resource URI is required"},
		{name: "relative resource", req: tokensource.Request{Resource: "/api", Scopes: []string{"a"}}, want: "absolute"},
		{name: "empty scope", req: tokensource.Request{Resource: resA, Scopes: []string{""}}, want: "empty scope"},
		{name: "exchange without subject", req: tokensource.Request{Resource: resA, Scopes: []string{"a"}, Grant: tokensource.TokenExchange{}}, want: "SubjectToken"},
		{name: "exchange with half an actor", req: tokensource.Request{Resource: resA, Scopes: []string{"a"}, Grant: tokensource.TokenExchange{
			SubjectToken: "s", SubjectTokenType: tokensource.TokenTypeAccessToken, ActorToken: "a"}}, want: "ActorTokenType"},
		{name: "zero refresh grant", req: tokensource.Request{Resource: resA, Scopes: []string{"a"}, Grant: &tokensource.RefreshGrant{}}, want: "NewRefreshGrant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Token(context.Background(), tt.req)
			require.ErrorContains(t, err, tt.want)
		})
	}
	require.Equal(t, 0, e.iss.TokenRequests())
}

// BenchmarkTokenCacheHit measures Token when the cache holds a fresh
// token: no token request, only validation and the lookup.
func BenchmarkTokenCacheHit(b *testing.B) {
	iss := audtest.NewIssuer(b, audtest.Options{})
	grants := []struct {
		name  string
		grant tokensource.Grant
	}{
		{name: "client credentials"},
		{name: "token exchange", grant: tokensource.TokenExchange{SubjectToken: "subject", SubjectTokenType: tokensource.TokenTypeAccessToken}},
	}
	for _, g := range grants {
		b.Run(g.name, func(b *testing.B) {
			c, err := tokensource.New(tokensource.Config{
				TokenURL: iss.TokenURL(), ClientID: "audtest-client", ClientSecret: "audtest-secret",
				AllowHTTPLoopback: true, HTTPClient: iss.Client(),
			})
			require.NoError(b, err)
			b.Cleanup(func() { _ = c.Close() })
			req := tokensource.Request{Resource: resA, Scopes: []string{"files:read"}, Grant: g.grant}
			ctx := context.Background()
			_, err = c.Token(ctx, req)
			require.NoError(b, err)
			want := iss.TokenRequests()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Token(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			require.Equal(b, want, iss.TokenRequests(), "every call was a cache hit")
		})
	}
}
