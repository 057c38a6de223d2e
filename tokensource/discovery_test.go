package tokensource_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/audguard/audguard/tokensource"
)

// prmEnv is a TLS server with a real audguard resource at /mcp (its
// metadata served by middleware's handler) and a second one at /other.
type prmEnv struct {
	iss        *audtest.Issuer
	srv        *httptest.Server
	mux        *http.ServeMux
	resource   string
	v, other   *middleware.Verifier
	discoverer *tokensource.Discoverer
}

func newPRMEnv(t *testing.T) *prmEnv {
	t.Helper()
	e := &prmEnv{iss: audtest.NewIssuer(t, audtest.Options{TLS: true}), mux: http.NewServeMux()}
	e.srv = httptest.NewUnstartedServer(e.mux)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.resource = e.srv.URL + "/mcp"
	newV := func(resource string) *middleware.Verifier {
		v, err := middleware.New(middleware.Config{
			Resource:        resource,
			Issuers:         []middleware.Issuer{{URL: e.iss.URL(), Keys: e.iss.KeySet()}},
			Scopes:          []string{"mcp:tools"},
			ScopesSupported: []string{"mcp:tools", "files:read"},
		})
		require.NoError(t, err)
		return v
	}
	e.v, e.other = newV(e.resource), newV(e.srv.URL+"/other")
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	e.mux.Handle("/mcp", e.v.Handler(ok))
	e.mux.Handle(e.v.MetadataPath(), e.v.MetadataHandler())
	e.mux.Handle("/other", e.other.Handler(ok))
	e.mux.Handle(e.other.MetadataPath(), e.other.MetadataHandler())
	// A resource whose challenge points at /other's metadata.
	e.mux.Handle("/mcp2", e.other.Handler(ok))
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: e.srv.Client()})
	require.NoError(t, err)
	e.discoverer = d
	return e
}

func (e *prmEnv) challengeResponse(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	return resp
}

// Discovery from a real 401 challenge, the steps an MCP client takes.
func TestDiscoverFromChallenge(t *testing.T) {
	e := newPRMEnv(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		token     string
		wantError string
	}{
		{name: "no token"},
		{name: "token for another resource", token: e.iss.AccessToken("https://elsewhere.example.com", "mcp:tools"), wantError: "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.challengeResponse(t, e.resource, tt.token)
			info, err := e.discoverer.DiscoverFromResponse(ctx, resp)
			require.NoError(t, err)
			require.Equal(t, e.resource, info.Resource)
			require.Equal(t, e.v.MetadataURL(), info.MetadataURL)
			require.Equal(t, []string{e.iss.URL()}, info.AuthorizationServers)
			require.Equal(t, []string{"mcp:tools", "files:read"}, info.ScopesSupported)
			require.Equal(t, []string{"header"}, info.BearerMethodsSupported)
			require.Equal(t, []string{"mcp:tools"}, info.Scope)
			require.Equal(t, tt.wantError, info.Error)
			if tt.wantError != "" {
				require.NotEmpty(t, info.ErrorDescription)
			}
		})
	}
}

// Without a challenge the RFC 9728 §3.1 well-known URL is derived from
// the resource URL.
func TestDiscoverFromResourceURL(t *testing.T) {
	e := newPRMEnv(t)
	info, err := e.discoverer.Discover(context.Background(), e.resource, nil)
	require.NoError(t, err)
	require.Equal(t, e.resource, info.Resource)
	require.Equal(t, e.srv.URL+"/.well-known/oauth-protected-resource/mcp", info.MetadataURL)
	require.Empty(t, info.Scope)

	// A challenge without resource_metadata also falls back to it.
	info, err = e.discoverer.Discover(context.Background(), e.resource, []string{`Basic realm="x"`, `Bearer scope="mcp:tools"`})
	require.NoError(t, err)
	require.Equal(t, []string{"mcp:tools"}, info.Scope)
}

// RFC 9728 §3.3: a document whose resource is not identical to the URL
// used is refused.
func TestDiscoverResourceMismatch(t *testing.T) {
	e := newPRMEnv(t)
	ctx := context.Background()
	t.Run("challenge points at another resource's metadata", func(t *testing.T) {
		resp := e.challengeResponse(t, e.srv.URL+"/mcp2", "")
		_, err := e.discoverer.DiscoverFromResponse(ctx, resp)
		require.ErrorIs(t, err, tokensource.ErrResourceMismatch)
	})
	tests := []struct {
		name, url string
	}{
		{name: "query not in the resource", url: e.resource + "?tenant=a"},
		{name: "upper-case scheme", url: "HTTPS" + strings.TrimPrefix(e.resource, "https")},
		{name: "path below the resource", url: e.resource + "/tools"},
		{name: "trailing slash", url: e.resource + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.discoverer.Discover(ctx, tt.url, []string{`Bearer resource_metadata="` + e.v.MetadataURL() + `"`})
			require.ErrorIs(t, err, tokensource.ErrResourceMismatch)
		})
	}
}

func TestDiscoverRefusesUnsafeMetadataURLs(t *testing.T) {
	e := newPRMEnv(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		challenge string
		sentinel  error
	}{
		{name: "http resource_metadata", challenge: `Bearer resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource"`, sentinel: tokensource.ErrChallenge},
		{name: "relative resource_metadata", challenge: `Bearer resource_metadata="/.well-known/oauth-protected-resource"`, sentinel: tokensource.ErrChallenge},
		{name: "two Bearer challenges", challenge: `Bearer scope="a", Bearer scope="b"`, sentinel: tokensource.ErrChallenge},
		{name: "malformed challenge", challenge: `Bearer resource_metadata="x`, sentinel: tokensource.ErrChallenge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.discoverer.Discover(ctx, e.resource, []string{tt.challenge})
			require.ErrorIs(t, err, tt.sentinel)
		})
	}
}

// metadataServer serves one RFC 9728 document for resource srv.URL+"/r".
func metadataServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv, srv.URL + "/r"
}

func TestDiscoverRefusesBadDocuments(t *testing.T) {
	const asURL = "https://as.example.com"
	doc := func(resource string, extra string) string {
		return `{"resource":"` + resource + `","authorization_servers":["` + asURL + `"]` + extra + `}`
	}
	tests := []struct {
		name     string
		status   int
		ctype    string
		body     func(resource string) string
		sentinel error
		msg      string
	}{
		{name: "valid", body: func(r string) string { return doc(r, "") }},
		{name: "content type with charset", ctype: "application/json; charset=utf-8", body: func(r string) string { return doc(r, "") }},
		{name: "not found", status: http.StatusNotFound, body: func(r string) string { return doc(r, "") }, sentinel: tokensource.ErrMetadata},
		{name: "wrong content type", ctype: "text/html", body: func(r string) string { return doc(r, "") }, sentinel: tokensource.ErrMetadata},
		{name: "larger than 1 MiB", body: func(r string) string {
			return doc(r, `,"pad":"`+strings.Repeat("a", tokensource.MaxMetadataSize)+`"`)
		}, sentinel: tokensource.ErrMetadata, msg: "larger than"},
		{name: "not JSON", body: func(string) string { return "resource=x" }, sentinel: tokensource.ErrMetadata},
		{name: "duplicate resource member", body: func(r string) string {
			return `{"resource":"https://evil.example.com","resource":"` + r + `","authorization_servers":["` + asURL + `"]}`
		}, sentinel: tokensource.ErrMetadata},
		{name: "case-colliding member", body: func(r string) string { return doc(r, `,"Resource":"https://evil.example.com"`) }, sentinel: tokensource.ErrMetadata},
		{name: "resource missing", body: func(string) string { return `{"authorization_servers":["` + asURL + `"]}` }, sentinel: tokensource.ErrMetadata},
		{name: "resource not a string", body: func(string) string { return `{"resource":1,"authorization_servers":["` + asURL + `"]}` }, sentinel: tokensource.ErrMetadata},
		{name: "no authorization servers", body: func(r string) string { return `{"resource":"` + r + `"}` }, sentinel: tokensource.ErrMetadata},
		{name: "http authorization server", body: func(r string) string {
			return `{"resource":"` + r + `","authorization_servers":["http://as.example.com"]}`
		}, sentinel: tokensource.ErrMetadata},
		{name: "scopes_supported not an array", body: func(r string) string { return doc(r, `,"scopes_supported":"a b"`) }, sentinel: tokensource.ErrMetadata},
		{name: "other resource", body: func(string) string { return doc("https://evil.example.com/r", "") }, sentinel: tokensource.ErrResourceMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resource string
			srv, res := metadataServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/.well-known/oauth-protected-resource/r" {
					http.NotFound(w, r)
					return
				}
				ct := tt.ctype
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				_, _ = w.Write([]byte(tt.body(resource)))
			})
			resource = res
			d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: srv.Client()})
			require.NoError(t, err)
			info, err := d.Discover(context.Background(), resource, nil)
			if tt.sentinel == nil {
				require.NoError(t, err)
				require.Equal(t, []string{asURL}, info.AuthorizationServers)
				return
			}
			require.ErrorIs(t, err, tt.sentinel)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, info)
		})
	}
}

func TestDiscoverRedirects(t *testing.T) {
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the other origin must not be contacted")
	}))
	t.Cleanup(other.Close)
	var resource string
	srv, res := metadataServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-protected-resource/r":
			http.Redirect(w, r, "/moved", http.StatusFound)
		case "/moved":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"resource":"` + resource + `","authorization_servers":["https://as.example.com"]}`))
		case "/cross":
			http.Redirect(w, r, other.URL+"/.well-known/oauth-protected-resource/r", http.StatusFound)
		}
	})
	resource = res
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: srv.Client()})
	require.NoError(t, err)
	_, err = d.Discover(context.Background(), resource, nil)
	require.NoError(t, err, "same-origin redirect is followed")
	_, err = d.Discover(context.Background(), resource, []string{`Bearer resource_metadata="` + srv.URL + `/cross"`})
	require.ErrorIs(t, err, tokensource.ErrMetadata)
	require.ErrorContains(t, err, "another origin")
}

// A 401 reached through a redirect is refused, whether the redirect
// stays on the origin or not: its challenge describes the target, not the
// URL the client called (good → 307 → evil would otherwise return evil's
// metadata).
func TestDiscoverFromResponseRefusesRedirects(t *testing.T) {
	e := newPRMEnv(t)
	evil := newPRMEnv(t) // another origin with its own audguard resource at /mcp
	e.mux.Handle("/cross", http.RedirectHandler(evil.resource, http.StatusTemporaryRedirect))
	e.mux.Handle("/same", http.RedirectHandler(e.resource, http.StatusTemporaryRedirect))
	tests := []struct {
		name, url string
	}{
		{name: "redirect to another origin", url: e.srv.URL + "/cross"},
		{name: "redirect within the origin", url: e.srv.URL + "/same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := clientFor(t, e, evil).Get(tt.url)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.NotNil(t, resp.Request.Response, "http.Client followed the redirect")
			info, err := e.discoverer.DiscoverFromResponse(context.Background(), resp)
			require.ErrorIs(t, err, tokensource.ErrResourceMismatch)
			require.ErrorContains(t, err, "after a redirect from "+tt.url)
			require.Nil(t, info)
		})
	}
	// Without the redirect, the same resource is discovered.
	resp := e.challengeResponse(t, e.resource, "")
	_, err := e.discoverer.DiscoverFromResponse(context.Background(), resp)
	require.NoError(t, err)
}

// The redirect error names both URLs without their passwords: a URL
// with user:pass@ userinfo is redacted before it reaches the error text.
func TestDiscoverFromResponseRedactsUserinfo(t *testing.T) {
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{})
	require.NoError(t, err)
	tests := []struct {
		name, from, to string
	}{
		{name: "password in the first URL", from: "https://alice:s3cret-first@a.example/mcp", to: "https://b.example/mcp"},
		{name: "password in the target URL", from: "https://a.example/mcp", to: "https://bob:s3cret-target@b.example/mcp"},
		{name: "password in both", from: "https://alice:s3cret-first@a.example/mcp", to: "https://bob:s3cret-target@b.example/mcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := http.NewRequest(http.MethodGet, tt.from, nil)
			require.NoError(t, err)
			second, err := http.NewRequest(http.MethodGet, tt.to, nil)
			require.NoError(t, err)
			second.Response = &http.Response{StatusCode: http.StatusTemporaryRedirect, Request: first}
			resp := &http.Response{StatusCode: http.StatusUnauthorized, Request: second}
			info, err := d.DiscoverFromResponse(context.Background(), resp)
			require.ErrorIs(t, err, tokensource.ErrResourceMismatch)
			require.Nil(t, info)
			require.NotContains(t, err.Error(), "s3cret")
			require.ErrorContains(t, err, "a.example/mcp")
			require.ErrorContains(t, err, "b.example/mcp")
		})
	}
}

// clientFor returns an HTTP client that trusts the test certificates of
// both environments' servers.
func clientFor(t *testing.T, envs ...*prmEnv) *http.Client {
	pool := x509.NewCertPool()
	for _, e := range envs {
		pool.AddCert(e.srv.Certificate())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestDiscoveryConfigValidation(t *testing.T) {
	_, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{Timeout: -1})
	require.Error(t, err)
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{})
	require.NoError(t, err)
	_, err = d.Discover(context.Background(), "http://example.com/mcp", nil)
	require.Error(t, err, "http resource URL without the loopback option")
	_, err = d.DiscoverFromResponse(context.Background(), &http.Response{})
	require.Error(t, err)
}
