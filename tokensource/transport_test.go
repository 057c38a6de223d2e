package tokensource_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/audguard/audguard/tokensource"
)

// rsEnv is one TLS server hosting two protected resources, /a and /b,
// each behind its own verifier, and a client with a Transport for both.
type rsEnv struct {
	*env
	srv        *httptest.Server
	resA, resB string
	hits       atomic.Int64
	client     *tokensource.Client
	http       *http.Client
}

func newRSEnv(t *testing.T) *rsEnv {
	t.Helper()
	r := &rsEnv{env: newEnv(t, audtest.Options{})}
	mux := http.NewServeMux()
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		mux.ServeHTTP(w, req)
	}))
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	r.resA, r.resB = r.srv.URL+"/a", r.srv.URL+"/b"
	for _, res := range []string{r.resA, r.resB} {
		v := r.verifier(t, res)
		name := res[strings.LastIndexByte(res, '/'):]
		ok := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			c, _ := middleware.ClaimsFromContext(req.Context())
			_, _ = io.WriteString(w, name+" "+c.Subject)
		})
		mux.Handle(name, v.Handler(ok))
		mux.Handle(name+"/", v.Handler(ok))
	}
	r.client = r.env.client(t, func(cfg *tokensource.Config) {
		cfg.Resources = []tokensource.Resource{
			{URI: r.resA, Scopes: []string{"a:read"}},
			{URI: r.resB, Scopes: []string{"b:read"}},
		}
	})
	r.http = &http.Client{Transport: r.client.Transport(r.srv.Client().Transport)}
	return r
}

func (r *rsEnv) get(t *testing.T, url string) (int, string, error) {
	t.Helper()
	resp, err := r.http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// The Transport sends each resource its own token: every request is
// accepted by the resource's own verifier.
func TestTransportSendsTokenPerTarget(t *testing.T) {
	r := newRSEnv(t)
	tests := []struct {
		name, url, body string
	}{
		{name: "A", url: r.resA, body: "/a audtest-client"},
		{name: "below A", url: r.resA + "/files/1?x=y", body: "/a audtest-client"},
		{name: "B", url: r.resB, body: "/b audtest-client"},
		{name: "below B", url: r.resB + "/x", body: "/b audtest-client"},
		{name: "A again", url: r.resA + "/", body: "/a audtest-client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := r.get(t, tt.url)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, tt.body, body)
		})
	}
	require.Equal(t, 2, r.iss.TokenRequests(), "one token per resource")
	forms := r.rec.Forms()
	require.Equal(t, r.resA, forms[0].Get("resource"))
	require.Equal(t, "a:read", forms[0].Get("scope"))
	require.Equal(t, r.resB, forms[1].Get("resource"))
	require.Equal(t, "b:read", forms[1].Get("scope"))
}

// Requests that match no configured resource, or cannot be matched
// safely, get no token and are not sent.
func TestTransportRefusesUnknownTargets(t *testing.T) {
	r := newRSEnv(t)
	base := r.srv.URL
	tests := []struct {
		name   string
		url    string
		mutate func(*http.Request)
	}{
		{name: "other path", url: base + "/c"},
		{name: "root", url: base + "/"},
		{name: "string prefix, not a segment", url: base + "/ab"},
		{name: "other port", url: strings.Replace(base, "127.0.0.1:", "127.0.0.1:1", 1) + "/a"},
		{name: "other host", url: strings.Replace(base, "127.0.0.1", "localhost", 1) + "/a"},
		{name: "http instead of https", url: strings.Replace(base, "https:", "http:", 1) + "/a"},
		{name: "dot segment", url: base + "/a/../b"},
		{name: "encoded dot segment", url: base + "/a/%2e%2E/b"},
		{name: "encoded slash", url: base + "/a%2F..%2Fb"},
		{name: "backslash", url: base + "/a/..%5Cb"},
		{name: "userinfo", url: strings.Replace(base, "https://", "https://user@", 1) + "/a"},
		{name: "Host header for another authority", url: base + "/a", mutate: func(r *http.Request) { r.Host = "evil.example.com" }},
		{name: "Authorization already set", url: base + "/a", mutate: func(r *http.Request) { r.Header.Set("Authorization", "Bearer other") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, strings.NewReader("body"))
			require.NoError(t, err)
			if tt.mutate != nil {
				tt.mutate(req)
			}
			resp, err := r.http.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			require.ErrorIs(t, err, tokensource.ErrNoResource)
		})
	}
	require.Zero(t, r.hits.Load(), "no request was sent")
	require.Zero(t, r.iss.TokenRequests(), "no token was requested")
}

// A redirect from one resource to another is refused: B's token is not
// spent on a request the caller addressed to A.
func TestTransportRefusesRedirectAcrossResources(t *testing.T) {
	r := newRSEnv(t)
	// /a answers with a redirect to /b through a wrapper on the server.
	inner := r.srv.Config.Handler
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/a/redirect" {
			r.hits.Add(1)
			http.Redirect(w, req, "/b/target", http.StatusFound)
			return
		}
		if req.URL.Path == "/a/same" {
			r.hits.Add(1)
			http.Redirect(w, req, "/a/target", http.StatusFound)
			return
		}
		inner.ServeHTTP(w, req)
	})
	_, _, err := r.get(t, r.resA+"/redirect")
	require.ErrorIs(t, err, tokensource.ErrNoResource)
	require.EqualValues(t, 1, r.hits.Load(), "only the first request was sent")

	status, body, err := r.get(t, r.resA+"/same")
	require.NoError(t, err, "a redirect within the resource is followed")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "/a audtest-client", body)
}

// The grant in the request context is used: an MCP server exchanges the
// token it received instead of passing it through.
func TestTransportGrantFromContext(t *testing.T) {
	r := newRSEnv(t)
	inbound := r.iss.AccessToken("https://mcp.example.com/mcp", "mcp:tools")
	ctx := tokensource.ContextWithGrant(context.Background(), tokensource.TokenExchange{
		SubjectToken: inbound, SubjectTokenType: tokensource.TokenTypeAccessToken,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.resB, nil)
	require.NoError(t, err)
	resp, err := r.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/b exchanged:audtest-client", string(b))
	f := r.rec.Forms()[0]
	require.Equal(t, "urn:ietf:params:oauth:grant-type:token-exchange", f.Get("grant_type"))
	require.Equal(t, r.resB, f.Get("resource"))
	require.NotEqual(t, inbound, f.Get("resource"))

	g, ok := tokensource.GrantFromContext(ctx)
	require.True(t, ok)
	require.NotNil(t, g)
	_, ok = tokensource.GrantFromContext(context.Background())
	require.False(t, ok)
}

// A refusal by the token endpoint reaches the caller of http.Client.
func TestTransportSurfacesTokenErrors(t *testing.T) {
	r := newRSEnv(t)
	c := r.env.client(t, func(cfg *tokensource.Config) {
		cfg.ClientSecret = "wrong"
		cfg.Resources = []tokensource.Resource{{URI: r.resA, Scopes: []string{"a"}}}
	})
	hc := &http.Client{Transport: c.Transport(r.srv.Client().Transport)}
	resp, err := hc.Get(r.resA)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, tokensource.ErrInvalidClient)
	require.Zero(t, r.hits.Load())
}

// The most specific configured resource wins, whatever the order of
// Config.Resources.
func TestTransportMostSpecificResource(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, audtest.Options{})
	resources := []string{srv.URL, srv.URL + "/mcp", srv.URL + "/mcp?tenant=a", srv.URL + "/mcp/admin"}
	c := e.client(t, func(cfg *tokensource.Config) {
		for _, r := range resources {
			cfg.Resources = append(cfg.Resources, tokensource.Resource{URI: r, Scopes: []string{"s"}})
		}
	})
	hc := &http.Client{Transport: c.Transport(srv.Client().Transport)}
	tests := []struct {
		name, url, resource string
	}{
		{name: "root", url: srv.URL + "/other", resource: srv.URL},
		{name: "mcp", url: srv.URL + "/mcp/tools", resource: srv.URL + "/mcp"},
		{name: "mcp with the tenant query", url: srv.URL + "/mcp?tenant=a", resource: srv.URL + "/mcp?tenant=a"},
		{name: "mcp with another query", url: srv.URL + "/mcp?tenant=b", resource: srv.URL + "/mcp"},
		{name: "admin", url: srv.URL + "/mcp/admin/x", resource: srv.URL + "/mcp/admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := hc.Get(tt.url)
			require.NoError(t, err)
			resp.Body.Close()
			tok, err := c.Token(context.Background(), tokensource.Request{Resource: tt.resource})
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, "Bearer "+tok.AccessToken, got[len(got)-1])
		})
	}
}
