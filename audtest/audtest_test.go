package audtest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
