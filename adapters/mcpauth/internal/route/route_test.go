package route_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/adapters/mcpauth/internal/route"
	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

func TestHandler(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	guarded := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	tests := []struct {
		name     string
		resource string
		path     string
		want     int
	}{
		{name: "endpoint", resource: "https://mcp.example.com/mcp", path: "/mcp", want: http.StatusTeapot},
		{name: "metadata", resource: "https://mcp.example.com/mcp", path: "/.well-known/oauth-protected-resource/mcp", want: http.StatusOK},
		{name: "root metadata is not this resource's", resource: "https://mcp.example.com/mcp", path: "/.well-known/oauth-protected-resource", want: http.StatusNotFound},
		{name: "trailing slash is another path", resource: "https://mcp.example.com/mcp", path: "/mcp/", want: http.StatusNotFound},
		{name: "sub path", resource: "https://mcp.example.com/mcp", path: "/mcp/x", want: http.StatusNotFound},
		{name: "root resource endpoint", resource: "https://mcp.example.com", path: "/", want: http.StatusTeapot},
		{name: "root resource metadata", resource: "https://mcp.example.com/", path: "/.well-known/oauth-protected-resource", want: http.StatusOK},
		{name: "root resource other path", resource: "https://mcp.example.com", path: "/mcp", want: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := middleware.New(middleware.Config{
				Resource: tt.resource,
				Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
			})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			route.Handler(v, guarded).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			require.Equal(t, tt.want, rec.Code)
		})
	}
}
