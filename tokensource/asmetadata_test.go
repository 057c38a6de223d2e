package tokensource_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/tokensource"
)

// Against audtest, which serves RFC 8414 (path insertion) and OpenID
// Connect (path appending) metadata.
func TestDiscoverAuthorizationServerAudtest(t *testing.T) {
	tests := []struct {
		name     string
		opts     audtest.Options
		loopback bool
	}{
		{name: "https issuer", opts: audtest.Options{TLS: true}},
		{name: "https issuer with a path", opts: audtest.Options{TLS: true, Path: "/tenant-a"}},
		{name: "http loopback issuer by option", opts: audtest.Options{}, loopback: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := audtest.NewIssuer(t, tt.opts)
			d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: iss.Client(), AllowHTTPLoopback: tt.loopback})
			require.NoError(t, err)
			md, err := d.DiscoverAuthorizationServer(context.Background(), iss.URL())
			require.NoError(t, err)
			require.Equal(t, iss.URL(), md.Issuer)
			require.Equal(t, iss.ServerURL()+"/.well-known/oauth-authorization-server"+tt.opts.Path, md.MetadataURL)
			require.Equal(t, iss.TokenURL(), md.TokenEndpoint)
			require.Equal(t, iss.URL()+"/authorize", md.AuthorizationEndpoint)
			require.Equal(t, iss.URL()+"/register", md.RegistrationEndpoint)
			require.Equal(t, []string{"S256"}, md.CodeChallengeMethodsSupported)
			require.Contains(t, md.GrantTypesSupported, "client_credentials")
			require.Contains(t, md.TokenEndpointAuthMethodsSupported, tokensource.AuthClientSecretBasic.String())
			require.Equal(t, []string{"code"}, md.ResponseTypesSupported)
			require.True(t, md.AuthorizationResponseIssParameterSupported)
			require.Equal(t, 1, iss.DiscoveryFetches())

			// The discovered endpoint works as Config.TokenURL.
			c, err := tokensource.New(tokensource.Config{
				TokenURL: md.TokenEndpoint, ClientID: "audtest-client", ClientSecret: "audtest-secret",
				HTTPClient: iss.Client(), AllowHTTPLoopback: tt.loopback,
			})
			require.NoError(t, err)
			_, err = c.Token(context.Background(), tokensource.Request{Resource: resA, Scopes: []string{"x"}})
			require.NoError(t, err)
		})
	}
}

func TestDiscoverAuthorizationServerAudtestFaults(t *testing.T) {
	t.Run("issuer mismatch", func(t *testing.T) {
		iss := audtest.NewIssuer(t, audtest.Options{TLS: true})
		iss.SetDiscoveryIssuer("https://evil.example.com")
		d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: iss.Client()})
		require.NoError(t, err)
		md, err := d.DiscoverAuthorizationServer(context.Background(), iss.URL())
		require.ErrorIs(t, err, tokensource.ErrIssuerMismatch)
		require.Nil(t, md)
		require.Equal(t, 1, iss.DiscoveryFetches(), "a document for another issuer ends discovery")
	})
	t.Run("http issuer without the loopback option", func(t *testing.T) {
		iss := audtest.NewIssuer(t, audtest.Options{})
		d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: iss.Client()})
		require.NoError(t, err)
		_, err = d.DiscoverAuthorizationServer(context.Background(), iss.URL())
		require.ErrorContains(t, err, "http is allowed only for a loopback host")
		require.Equal(t, 0, iss.DiscoveryFetches())
	})
}

// asServer is a TLS server whose issuer identifier is its URL plus path;
// serve answers every request and gets the issuer. It records the paths
// requested.
type asServer struct {
	srv    *httptest.Server
	issuer string
	mu     sync.Mutex
	paths  []string
}

func newASServer(t *testing.T, path string, serve func(w http.ResponseWriter, r *http.Request, issuer string)) *asServer {
	t.Helper()
	a := &asServer{}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.paths = append(a.paths, r.URL.Path)
		a.mu.Unlock()
		serve(w, r, a.issuer)
	}))
	t.Cleanup(a.srv.Close)
	a.issuer = a.srv.URL + path
	return a
}

func (a *asServer) Paths() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.paths...)
}

func (a *asServer) discover(t *testing.T) (*tokensource.AuthorizationServerMetadata, error) {
	t.Helper()
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: a.srv.Client()})
	require.NoError(t, err)
	return d.DiscoverAuthorizationServer(context.Background(), a.issuer)
}

func asDoc(issuer, extra string) string {
	return `{"issuer":"` + issuer + `","token_endpoint":"` + strings.TrimSuffix(issuer, "/") + `/token"` + extra + `}`
}

func writeJSONBody(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(body))
}

// The locations are tried in the order MCP specifies, moving on only
// when a location has no document.
func TestDiscoverAuthorizationServerFallbacks(t *testing.T) {
	const (
		rfc8414  = "/.well-known/oauth-authorization-server"
		oidc     = "/.well-known/openid-configuration"
		tenant   = "/tenant"
		tenantSl = "/tenant/"
	)
	tests := []struct {
		name      string
		path      string // issuer path
		servedAt  string // the one path with a document
		wantPaths []string
	}{
		{name: "no path, RFC 8414", path: "", servedAt: rfc8414, wantPaths: []string{rfc8414}},
		{name: "no path, OIDC", path: "", servedAt: oidc, wantPaths: []string{rfc8414, oidc}},
		{name: "trailing slash, OIDC", path: "/", servedAt: oidc, wantPaths: []string{rfc8414, oidc}},
		{name: "path, RFC 8414 insertion", path: tenant, servedAt: rfc8414 + tenant, wantPaths: []string{rfc8414 + tenant}},
		{name: "path, OIDC insertion", path: tenant, servedAt: oidc + tenant, wantPaths: []string{rfc8414 + tenant, oidc + tenant}},
		{name: "path, OIDC appending", path: tenant, servedAt: tenant + oidc, wantPaths: []string{rfc8414 + tenant, oidc + tenant, tenant + oidc}},
		{name: "path with trailing slash, OIDC appending", path: tenantSl, servedAt: tenant + oidc, wantPaths: []string{rfc8414 + tenant, oidc + tenant, tenant + oidc}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newASServer(t, tt.path, func(w http.ResponseWriter, r *http.Request, issuer string) {
				if r.URL.Path != tt.servedAt {
					http.NotFound(w, r)
					return
				}
				writeJSONBody(w, asDoc(issuer, ""))
			})
			md, err := a.discover(t)
			require.NoError(t, err)
			require.Equal(t, a.issuer, md.Issuer)
			require.Equal(t, a.srv.URL+tt.servedAt, md.MetadataURL)
			require.Equal(t, strings.TrimSuffix(a.issuer, "/")+"/token", md.TokenEndpoint)
			require.Equal(t, tt.wantPaths, a.Paths())
		})
	}
}

func TestDiscoverAuthorizationServerRefusesBadDocuments(t *testing.T) {
	other := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the other origin must not be contacted")
	}))
	t.Cleanup(other.Close)
	tests := []struct {
		name      string
		serve     func(w http.ResponseWriter, r *http.Request, issuer string)
		sentinel  error
		msg       string
		wantPaths int // locations asked
	}{
		{name: "issuer differs", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, asDoc(issuer+"/", ""))
		}, sentinel: tokensource.ErrIssuerMismatch, wantPaths: 1},
		{name: "issuer differs in case", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, asDoc(strings.ToUpper(issuer), ""))
		}, sentinel: tokensource.ErrIssuerMismatch, wantPaths: 1},
		{name: "issuer missing", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, `{"token_endpoint":"`+issuer+`/token"}`)
		}, sentinel: tokensource.ErrMetadata, msg: `"issuer" is missing`, wantPaths: 1},
		{name: "issuer twice", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, `{"issuer":"https://evil.example.com",`+asDoc(issuer, "")[1:])
		}, sentinel: tokensource.ErrMetadata, msg: "duplicate", wantPaths: 1},
		{name: "case-colliding member", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, asDoc(issuer, `,"Token_Endpoint":"https://evil.example.com/token"`))
		}, sentinel: tokensource.ErrMetadata, wantPaths: 1},
		{name: "not JSON", serve: func(w http.ResponseWriter, _ *http.Request, _ string) {
			writeJSONBody(w, `issuer=x`)
		}, sentinel: tokensource.ErrMetadata, msg: "not a valid JSON object", wantPaths: 1},
		{name: "token_endpoint missing", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, `{"issuer":"`+issuer+`"}`)
		}, sentinel: tokensource.ErrMetadata, msg: `"token_endpoint" is missing`, wantPaths: 1},
		{name: "http token_endpoint", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, `{"issuer":"`+issuer+`","token_endpoint":"http://as.example.com/token"}`)
		}, sentinel: tokensource.ErrMetadata, msg: "token_endpoint", wantPaths: 1},
		{name: "registration_endpoint with a fragment", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, asDoc(issuer, `,"registration_endpoint":"https://as.example.com/r#x"`))
		}, sentinel: tokensource.ErrMetadata, msg: "registration_endpoint", wantPaths: 1},
		{name: "scopes_supported not an array", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, asDoc(issuer, `,"scopes_supported":"a b"`))
		}, sentinel: tokensource.ErrMetadata, msg: "wrong type", wantPaths: 1},
		{name: "iss parameter flag not a boolean", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, asDoc(issuer, `,"authorization_response_iss_parameter_supported":"true"`))
		}, sentinel: tokensource.ErrMetadata, msg: "wrong type", wantPaths: 1},
		{name: "larger than MaxMetadataSize everywhere", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			writeJSONBody(w, asDoc(issuer, `,"pad":"`+strings.Repeat("a", tokensource.MaxMetadataSize)+`"`))
		}, sentinel: tokensource.ErrMetadata, msg: "larger than", wantPaths: 2},
		{name: "HTML everywhere", serve: func(w http.ResponseWriter, _ *http.Request, issuer string) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(asDoc(issuer, "")))
		}, sentinel: tokensource.ErrMetadata, msg: "not application/json", wantPaths: 2},
		{name: "redirect to another origin everywhere", serve: func(w http.ResponseWriter, r *http.Request, _ string) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		}, sentinel: tokensource.ErrMetadata, msg: "another origin", wantPaths: 2},
		{name: "nothing found", serve: func(w http.ResponseWriter, r *http.Request, _ string) {
			http.NotFound(w, r)
		}, sentinel: tokensource.ErrMetadata, msg: "no authorization server metadata found", wantPaths: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newASServer(t, "", tt.serve)
			md, err := a.discover(t)
			require.ErrorIs(t, err, tt.sentinel)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, md)
			require.Len(t, a.Paths(), tt.wantPaths)
		})
	}
}

func TestDiscoverAuthorizationServerRefusesIssuers(t *testing.T) {
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{})
	require.NoError(t, err)
	tests := []struct {
		name, issuer, msg string
	}{
		{name: "http", issuer: "http://as.example.com", msg: "http is allowed only for a loopback host"},
		{name: "other scheme", issuer: "ftp://as.example.com", msg: "scheme must be https"},
		{name: "query", issuer: "https://as.example.com?tenant=a", msg: "no query"},
		{name: "fragment", issuer: "https://as.example.com#x", msg: "fragment"},
		{name: "relative", issuer: "/as", msg: "absolute"},
		{name: "empty port", issuer: "https://as.example.com:/t", msg: "empty port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.DiscoverAuthorizationServer(context.Background(), tt.issuer)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// A cancelled context ends discovery at once instead of trying the next
// location.
func TestDiscoverAuthorizationServerContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := newASServer(t, "/tenant", func(w http.ResponseWriter, r *http.Request, _ string) {
		cancel()
		http.NotFound(w, r)
	})
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: a.srv.Client()})
	require.NoError(t, err)
	_, err = d.DiscoverAuthorizationServer(ctx, a.issuer)
	require.ErrorIs(t, err, tokensource.ErrMetadata)
	require.Len(t, a.Paths(), 1)
}
