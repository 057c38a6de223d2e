package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// TestMetadataLocation covers the RFC 9728 §3.1 table of
// standards-and-attacks §2.3.
func TestMetadataLocation(t *testing.T) {
	tests := []struct {
		resource string
		url      string
		path     string
		query    string
	}{
		{resource: "https://api.example.com", url: "https://api.example.com/.well-known/oauth-protected-resource", path: "/.well-known/oauth-protected-resource"},
		{resource: "https://api.example.com/", url: "https://api.example.com/.well-known/oauth-protected-resource", path: "/.well-known/oauth-protected-resource"},
		{resource: "https://api.example.com/mcp", url: "https://api.example.com/.well-known/oauth-protected-resource/mcp", path: "/.well-known/oauth-protected-resource/mcp"},
		{resource: "https://api.example.com/mcp/", url: "https://api.example.com/.well-known/oauth-protected-resource/mcp/", path: "/.well-known/oauth-protected-resource/mcp/"},
		{resource: "https://api.example.com/tenant/a/mcp", url: "https://api.example.com/.well-known/oauth-protected-resource/tenant/a/mcp", path: "/.well-known/oauth-protected-resource/tenant/a/mcp"},
		{resource: "https://api.example.com:8443/mcp", url: "https://api.example.com:8443/.well-known/oauth-protected-resource/mcp", path: "/.well-known/oauth-protected-resource/mcp"},
		{resource: "https://api.example.com/mcp?tenant=a", url: "https://api.example.com/.well-known/oauth-protected-resource/mcp?tenant=a", path: "/.well-known/oauth-protected-resource/mcp", query: "tenant=a"},
		{resource: "https://api.example.com:443/mcp", url: "https://api.example.com/.well-known/oauth-protected-resource/mcp", path: "/.well-known/oauth-protected-resource/mcp"},
		{resource: "https://API.Example.com/mcp", url: "https://api.example.com/.well-known/oauth-protected-resource/mcp", path: "/.well-known/oauth-protected-resource/mcp"},
		// Percent-encoded paths stay encoded: the handler is routed by the
		// escaped path, and the query is compared raw.
		{resource: "https://api.example.com/tenant%20a/mcp", url: "https://api.example.com/.well-known/oauth-protected-resource/tenant%20a/mcp", path: "/.well-known/oauth-protected-resource/tenant%20a/mcp"},
		{resource: "https://api.example.com/a%2Fb", url: "https://api.example.com/.well-known/oauth-protected-resource/a%2Fb", path: "/.well-known/oauth-protected-resource/a%2Fb"},
		{resource: "https://api.example.com/mcp?tenant=a%20b", url: "https://api.example.com/.well-known/oauth-protected-resource/mcp?tenant=a%20b", path: "/.well-known/oauth-protected-resource/mcp", query: "tenant=a%20b"},
	}
	for _, tc := range tests {
		t.Run(tc.resource, func(t *testing.T) {
			v := goldenVerifier(t, func(c *middleware.Config) { c.Resource = tc.resource })
			require.Equal(t, tc.url, v.MetadataURL())
			require.Equal(t, tc.path, v.MetadataPath())

			mux := http.NewServeMux()
			mux.Handle(v.MetadataPath(), v.MetadataHandler())
			target := tc.path
			if tc.query != "" {
				target += "?" + tc.query
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			require.Contains(t, rec.Header().Get("Cache-Control"), "max-age=")
			require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
			var doc map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
			require.Equal(t, tc.resource, doc["resource"], "resource is the configured URI exactly (RFC 9728 §3.3)")

			if tc.query != "" {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path+"?tenant=b", nil))
				require.Equal(t, http.StatusNotFound, rec.Code, "another tenant's query is not this document")
			}
		})
	}
}

func TestMetadataDocument(t *testing.T) {
	v, err := middleware.New(middleware.Config{
		Resource:     resource,
		Issuers:      []middleware.Issuer{{URL: "https://as.example.com", Keys: jwks.NewSet()}, {URL: "https://as2.example.com/tenant", Keys: jwks.NewSet()}},
		Scopes:       []string{"mcp:tools"},
		ResourceName: "Example MCP server",
	})
	require.NoError(t, err)
	h := v.MetadataHandler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, v.MetadataPath(), nil))
	require.JSONEq(t, `{
		"resource": "https://api.example.com/mcp",
		"authorization_servers": ["https://as.example.com", "https://as2.example.com/tenant"],
		"bearer_methods_supported": ["header"],
		"scopes_supported": ["mcp:tools"],
		"resource_name": "Example MCP server"
	}`, rec.Body.String())

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, v.MetadataPath(), nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Body.String())

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodOptions, v.MetadataPath(), nil))
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "GET")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, v.MetadataPath(), nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Contains(t, rec.Header().Get("Allow"), "GET")

	// Without scopes, scopes_supported is omitted (zero values are omitted,
	// RFC 9728 §3.2) and offline_access can never appear.
	bare := goldenVerifier(t, nil)
	rec = httptest.NewRecorder()
	bare.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, bare.MetadataPath(), nil))
	require.NotContains(t, rec.Body.String(), "scopes_supported")
	require.NotContains(t, rec.Body.String(), "offline_access")
}

func TestMetadataNeedsNoToken(t *testing.T) {
	e := newEnv(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", e.v.Handler(http.NotFoundHandler()))
	mux.Handle(e.v.MetadataPath(), e.v.MetadataHandler())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, e.v.MetadataPath(), nil))
	require.Equal(t, http.StatusOK, rec.Code)
}
