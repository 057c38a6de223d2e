package audtest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

func noRedirect(iss *audtest.Issuer) *http.Client {
	c := *iss.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func tokenRequest(t *testing.T, iss *audtest.Issuer, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, iss.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("audtest-client", "audtest-secret")
	}
	resp, err := iss.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func verifier(t *testing.T, iss *audtest.Issuer, resource string) *middleware.Verifier {
	v, err := middleware.New(middleware.Config{Resource: resource, Issuers: []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}}})
	require.NoError(t, err)
	return v
}

func TestClientCredentialsHonoursResource(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Resources: []string{"https://a.example/mcp", "https://b.example/api"}})
	code, body := tokenRequest(t, iss, url.Values{"grant_type": {"client_credentials"}, "resource": {"https://a.example/mcp"}, "scope": {"x"}}, true)
	require.Equal(t, 200, code, body)
	c, err := verifier(t, iss, "https://a.example/mcp").Verify(context.Background(), body["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, []string{"https://a.example/mcp"}, c.Audience)
	_, err = verifier(t, iss, "https://b.example/api").Verify(context.Background(), body["access_token"].(string))
	require.ErrorIs(t, err, middleware.ErrAudience)

	code, body = tokenRequest(t, iss, url.Values{"grant_type": {"client_credentials"}, "resource": {"https://c.example"}}, true)
	require.Equal(t, 400, code)
	require.Equal(t, "invalid_target", body["error"])
	code, body = tokenRequest(t, iss, url.Values{"grant_type": {"client_credentials"}}, true)
	require.Equal(t, 400, code)
	require.Equal(t, "invalid_target", body["error"], "a resource indicator is required")
	code, body = tokenRequest(t, iss, url.Values{"grant_type": {"client_credentials"}, "resource": {"https://a.example/mcp"}}, false)
	require.Equal(t, 401, code)
	require.Equal(t, "invalid_client", body["error"])
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	const resource = "https://mcp.example.com/mcp"
	const redirect = "http://127.0.0.1:9/callback"

	// Dynamic registration of a public client.
	resp, err := iss.Client().Post(iss.URL()+"/register", "application/json", strings.NewReader(`{"redirect_uris":["`+redirect+`"],"client_name":"t"}`))
	require.NoError(t, err)
	var reg map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg))
	resp.Body.Close()
	require.Equal(t, 201, resp.StatusCode)
	clientID := reg["client_id"].(string)

	verifierStr := "a-very-long-code-verifier-of-at-least-43-characters-xyz"
	sum := sha256.Sum256([]byte(verifierStr))
	authorize := func(params url.Values) *url.URL {
		t.Helper()
		resp, err := noRedirect(iss).Get(iss.URL() + "/authorize?" + params.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		return loc
	}
	params := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"resource": {resource}, "scope": {"mcp:tools"}, "state": {"s1"},
	}
	loc := authorize(params)
	require.Equal(t, "s1", loc.Query().Get("state"))
	require.Equal(t, iss.URL(), loc.Query().Get("iss"), "RFC 9207")
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)

	redeem := func(code, verifier, redirectURI string) (int, map[string]any) {
		return tokenRequest(t, iss, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}, "client_id": {clientID}}, false)
	}
	status, body := redeem(code, verifierStr, redirect)
	require.Equal(t, 200, status, body)
	c, err := verifier(t, iss, resource).Verify(context.Background(), body["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, "user-1", c.Subject)
	require.Equal(t, clientID, c.ClientID)
	require.Equal(t, []string{"mcp:tools"}, c.Scopes)

	status, body = redeem(code, verifierStr, redirect)
	require.Equal(t, 400, status, "a code is single use")
	require.Equal(t, "invalid_grant", body["error"])

	status, _ = redeem(authorize(params).Query().Get("code"), "wrong-verifier-wrong-verifier-wrong-verifier", redirect)
	require.Equal(t, 400, status, "PKCE")
	status, _ = redeem(authorize(params).Query().Get("code"), verifierStr, "http://127.0.0.1:9/other")
	require.Equal(t, 400, status, "redirect_uri must match")

	noPKCE := url.Values{}
	for k, v := range params {
		noPKCE[k] = v
	}
	noPKCE.Del("code_challenge")
	require.Equal(t, "invalid_request", authorize(noPKCE).Query().Get("error"))

	resp, err = noRedirect(iss).Get(iss.URL() + "/authorize?" + url.Values{"client_id": {clientID}, "redirect_uri": {"https://evil.example/cb"}}.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "never redirect to an unregistered URI")

	// Public clients cannot use client_credentials.
	status, body = tokenRequest(t, iss, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "resource": {resource}}, false)
	require.Equal(t, 401, status)
	require.Equal(t, "invalid_client", body["error"])
}

func TestDiscoveryDocuments(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Path: "/tenant"})
	for _, p := range []string{"/.well-known/oauth-authorization-server/tenant", "/tenant/.well-known/openid-configuration"} {
		resp, err := iss.Client().Get(iss.ServerURL() + p)
		require.NoError(t, err)
		var md map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&md))
		resp.Body.Close()
		require.Equal(t, iss.URL(), md["issuer"], p)
		require.Equal(t, iss.JWKSURL(), md["jwks_uri"])
		require.Equal(t, []any{"S256"}, md["code_challenge_methods_supported"])
	}
	require.Equal(t, 2, iss.DiscoveryFetches())
}

// codeFlow is an issuer with two registered public clients and a clock
// the test moves, for the reject paths of /authorize and the
// authorization_code grant.
type codeFlow struct {
	iss      *audtest.Issuer
	a, b     string // client_ids
	now      atomic.Int64
	verifier string
}

const (
	flowRedirect = "http://127.0.0.1:9/callback"
	flowResA     = "https://a.example/mcp"
	flowResB     = "https://b.example/api"
)

func newCodeFlow(t *testing.T) *codeFlow {
	f := &codeFlow{verifier: "a-very-long-code-verifier-of-at-least-43-characters-xyz"}
	f.now.Store(time.Now().Unix())
	f.iss = audtest.NewIssuer(t, audtest.Options{
		Resources: []string{flowResA, flowResB},
		Scopes:    []string{"read", "write"},
		Now:       func() time.Time { return time.Unix(f.now.Load(), 0) },
	})
	f.a, f.b = f.register(t), f.register(t)
	return f
}

func (f *codeFlow) register(t *testing.T) string {
	t.Helper()
	resp, err := f.iss.Client().Post(f.iss.URL()+"/register", "application/json", strings.NewReader(`{"redirect_uris":["`+flowRedirect+`"]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var reg map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg))
	return reg["client_id"].(string)
}

// params is a valid authorization request of client a for flowResA with
// scope "read".
func (f *codeFlow) params() url.Values {
	sum := sha256.Sum256([]byte(f.verifier))
	return url.Values{
		"response_type": {"code"}, "client_id": {f.a}, "redirect_uri": {flowRedirect},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"resource": {flowResA}, "scope": {"read"}, "state": {"s1"},
	}
}

// authorize returns the response to an authorization request, not
// following its redirect.
func (f *codeFlow) authorize(t *testing.T, params url.Values) *http.Response {
	t.Helper()
	resp, err := noRedirect(f.iss).Get(f.iss.URL() + "/authorize?" + params.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// code returns a fresh code for f.params().
func (f *codeFlow) code(t *testing.T) string {
	t.Helper()
	resp := f.authorize(t, f.params())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)
	return code
}

func TestAuthorizationCodeRedeemRejects(t *testing.T) {
	f := newCodeFlow(t)
	tests := []struct {
		name      string
		clientID  string
		extra     url.Values
		advance   time.Duration
		wantError string // "" for success
	}{
		{name: "same scope and resource", clientID: f.a, extra: url.Values{"scope": {"read"}, "resource": {flowResA}}},
		{name: "scope of the code by default", clientID: f.a},
		{name: "scope widened", clientID: f.a, extra: url.Values{"scope": {"read write"}}, wantError: "invalid_scope"},
		{name: "other scope", clientID: f.a, extra: url.Values{"scope": {"write"}}, wantError: "invalid_scope"},
		{name: "code issued to another client", clientID: f.b, wantError: "invalid_grant"},
		{name: "expired code", clientID: f.a, advance: 2 * time.Minute, wantError: "invalid_grant"},
		{name: "resource not authorized for this code", clientID: f.a, extra: url.Values{"resource": {flowResB}}, wantError: "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := f.code(t)
			f.now.Add(int64(tt.advance / time.Second))
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {f.verifier}, "redirect_uri": {flowRedirect}, "client_id": {tt.clientID}}
			for k, v := range tt.extra {
				form[k] = v
			}
			status, body := tokenRequest(t, f.iss, form, false)
			if tt.wantError == "" {
				require.Equal(t, http.StatusOK, status, body)
				require.Equal(t, "read", body["scope"])
				return
			}
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Equal(t, tt.wantError, body["error"], body)
			require.Nil(t, body["access_token"])
		})
	}
}

func TestAuthorizeRejects(t *testing.T) {
	f := newCodeFlow(t)
	tests := []struct {
		name     string
		set      url.Values
		redirect bool   // the error goes back to the client's redirect_uri
		want     string // "error" in the redirect
	}{
		{name: "unsupported response_type", set: url.Values{"response_type": {"token"}}, redirect: true, want: "unsupported_response_type"},
		{name: "unknown resource", set: url.Values{"resource": {"https://c.example/mcp"}}, redirect: true, want: "invalid_target"},
		{name: "unknown scope", set: url.Values{"scope": {"read admin"}}, redirect: true, want: "invalid_scope"},
		{name: "unknown client", set: url.Values{"client_id": {"nobody"}}},
		{name: "unregistered redirect_uri", set: url.Values{"redirect_uri": {"https://evil.example/cb"}}},
		{name: "confidential client, loopback redirect_uri", set: url.Values{"client_id": {"audtest-client"}}},
		{name: "confidential client, other redirect_uri", set: url.Values{"client_id": {"audtest-client"}, "redirect_uri": {"https://evil.example/cb"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := f.params()
			for k, v := range tt.set {
				params[k] = v
			}
			resp := f.authorize(t, params)
			if !tt.redirect {
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.Empty(t, resp.Header.Get("Location"), "never redirect to an unverified URI")
				return
			}
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, flowRedirect, loc.Scheme+"://"+loc.Host+loc.Path)
			require.Equal(t, tt.want, loc.Query().Get("error"))
			require.Equal(t, "s1", loc.Query().Get("state"))
			require.Equal(t, f.iss.URL(), loc.Query().Get("iss"))
			require.Empty(t, loc.Query().Get("code"))
		})
	}
}
