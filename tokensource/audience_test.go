package tokensource_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/tokensource"
)

// fakeEndpoint is a token endpoint answering with a fixed response.
type fakeEndpoint struct {
	srv      *httptest.Server
	requests atomic.Int64
}

func newFakeEndpoint(t *testing.T, status int, body any) *fakeEndpoint {
	t.Helper()
	f := &fakeEndpoint{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEndpoint) client(t *testing.T, mutate func(*tokensource.Config)) *tokensource.Client {
	t.Helper()
	cfg := tokensource.Config{
		TokenURL: f.srv.URL + "/token", ClientID: "c", ClientSecret: "s",
		AllowHTTPLoopback: true, HTTPClient: f.srv.Client(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := tokensource.New(cfg)
	require.NoError(t, err)
	return c
}

// The issued token's aud is checked with the verifier's rule.
func TestAudienceCheckOfIssuedToken(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	jwt := func(claims map[string]any) string {
		c := iss.Claims("")
		for k, v := range claims {
			c[k] = v
		}
		return iss.MustSign(audtest.Token{Claims: c})
	}
	tests := []struct {
		name    string
		token   string
		aliases []string
		skip    bool
		ok      bool
	}{
		{name: "aud is the resource", token: jwt(map[string]any{"aud": resA}), ok: true},
		{name: "aud in an array", token: jwt(map[string]any{"aud": []string{"https://other.example.com", resA}}), ok: true},
		{name: "upper-case host and default port", token: jwt(map[string]any{"aud": "https://A.EXAMPLE.COM:443/api"}), ok: true},
		{name: "configured alias", token: jwt(map[string]any{"aud": "api://files"}), aliases: []string{"api://files"}, ok: true},
		{name: "opaque token", token: "opaque-access-token", ok: true},
		{name: "JWS with a non-JSON payload is opaque", token: "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln", ok: true},
		{name: "another resource", token: jwt(map[string]any{"aud": resB})},
		{name: "path below the resource", token: jwt(map[string]any{"aud": resA + "/x"})},
		{name: "trailing slash variant", token: jwt(map[string]any{"aud": resA + "/"})},
		{name: "string prefix", token: jwt(map[string]any{"aud": resA + "x"})},
		{name: "no aud", token: iss.MustSign(audtest.Token{Claims: map[string]any{"aud": nil}})},
		{name: "empty array", token: jwt(map[string]any{"aud": []string{}})},
		{name: "aud is a number", token: jwt(map[string]any{"aud": 42})},
		{name: "mixed array", token: jwt(map[string]any{"aud": []any{resA, 1}})},
		{name: "duplicate aud members", token: iss.MustSign(audtest.Token{RawClaims: `{"aud":"https://b.example.com/api","aud":"https://a.example.com/api"}`})},
		{name: "skip check", token: jwt(map[string]any{"aud": resB}), skip: true, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEndpoint(t, http.StatusOK, map[string]any{"access_token": tt.token, "token_type": "Bearer", "expires_in": 300})
			c := f.client(t, func(cfg *tokensource.Config) {
				cfg.SkipAudienceCheck = tt.skip
				cfg.Resources = []tokensource.Resource{{URI: resA, Scopes: []string{"x"}, Audiences: tt.aliases}}
			})
			tok, err := c.Token(context.Background(), tokensource.Request{Resource: resA})
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, tt.token, tok.AccessToken)
				return
			}
			require.ErrorIs(t, err, tokensource.ErrAudienceMismatch)
			require.Nil(t, tok)
			require.NotContains(t, err.Error(), tt.token, "errors never echo tokens")
			// Remembered: the endpoint is not asked again right away.
			_, err = c.Token(context.Background(), tokensource.Request{Resource: resA})
			require.ErrorIs(t, err, tokensource.ErrAudienceMismatch)
			require.EqualValues(t, 1, f.requests.Load())
		})
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       any
		sentinel   error
		remembered bool
	}{
		{name: "DPoP token", status: 200, body: map[string]any{"access_token": "t", "token_type": "DPoP", "expires_in": 60}, sentinel: tokensource.ErrTokenType, remembered: true},
		{name: "invalid_grant", status: 400, body: map[string]any{"error": "invalid_grant", "error_description": "bad \"grant\"\n\x1b[31m"}, sentinel: tokensource.ErrInvalidGrant, remembered: true},
		{name: "error code with 200", status: 200, body: map[string]any{"error": "invalid_target"}, sentinel: tokensource.ErrInvalidTarget, remembered: true},
		{name: "server error without code", status: 500, body: map[string]any{"detail": "secret-body-text"}},
		{name: "no access token", status: 200, body: map[string]any{"token_type": "Bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEndpoint(t, tt.status, tt.body)
			c := f.client(t, nil)
			req := tokensource.Request{Resource: resA, Scopes: []string{"x"}}
			_, err := c.Token(context.Background(), req)
			require.Error(t, err)
			if tt.sentinel != nil {
				require.ErrorIs(t, err, tt.sentinel)
			}
			require.NotContains(t, err.Error(), "secret-body-text", "the response body is never in the error")
			require.NotContains(t, err.Error(), "\x1b", "control characters are removed")
			_, err = c.Token(context.Background(), req)
			require.Error(t, err)
			want := int64(2)
			if tt.remembered {
				want = 1
			}
			require.Equal(t, want, f.requests.Load())
		})
	}
}

// A refresh that fails while the cached token is still valid returns the
// cached token.
func TestRefreshFailureKeepsValidToken(t *testing.T) {
	e := newEnv(t, audtest.Options{Resources: []string{resA}})
	c := e.client(t, nil)
	req := tokensource.Request{Resource: resA, Scopes: []string{"x"}}
	first, err := c.Token(context.Background(), req)
	require.NoError(t, err)
	e.clk.Add(4*60e9 + 45e9) // inside the 30s margin, before expiry
	e.iss.Close()            // the authorization server is gone
	tok, err := c.Token(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, first.AccessToken, tok.AccessToken)
	e.clk.Add(15e9) // expired now
	_, err = c.Token(context.Background(), req)
	require.Error(t, err)
}

// The token endpoint's redirects are never followed, even when the
// configured HTTP client would follow them: a 307 would replay the client
// credentials and the grant to the redirect target.
func TestTokenEndpointRedirectNotFollowed(t *testing.T) {
	var targetHits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { targetHits.Add(1) }))
	t.Cleanup(target.Close)
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(as.Close)
	c, err := tokensource.New(tokensource.Config{
		TokenURL: as.URL + "/token", ClientID: "c", ClientSecret: "s", AllowHTTPLoopback: true,
		HTTPClient: &http.Client{Transport: as.Client().Transport}, // follows redirects by default
	})
	require.NoError(t, err)
	_, err = c.Token(context.Background(), tokensource.Request{Resource: resA, Scopes: []string{"x"}})
	require.ErrorContains(t, err, "redirect")
	require.Zero(t, targetHits.Load())
}
