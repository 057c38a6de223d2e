package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/internal/transporttest"
)

// TestTransportMatrixNetHTTP holds a plain net/http mux to the shared
// token matrix: the route is guarded by RequireScopes alone, which
// verifies the request itself.
func TestTransportMatrixNetHTTP(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET /files", v.RequireScopes(transporttest.Scope)(transporttest.SubjectHandler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	env.Run(t, transporttest.HTTP(srv.URL+"/files"))
}

// TestTransportMatrixChi holds a real chi router to the shared token
// matrix, wired the way the README shows: r.Use(v.Handler) for the group,
// r.With(v.RequireScopes(...)) for the route.
func TestTransportMatrixChi(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	r := chi.NewRouter()
	r.Handle(v.MetadataPath(), v.MetadataHandler())
	r.Group(func(r chi.Router) {
		r.Use(v.Handler)
		r.With(v.RequireScopes(transporttest.Scope)).Get("/files", transporttest.SubjectHandler().ServeHTTP)
		r.Get("/open", transporttest.SubjectHandler().ServeHTTP)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	env.Run(t, transporttest.HTTP(srv.URL+"/files"))

	t.Run("group route without a scope requirement admits a token without the scope", func(t *testing.T) {
		got := transporttest.HTTP(srv.URL+"/open")(t, []string{"Bearer " + env.Issuer.AccessToken(transporttest.Resource, "files:write")})
		require.Equal(t, http.StatusOK, got.Status)
		require.Equal(t, transporttest.Subject, got.Subject)
	})
	t.Run("metadata is served without a token", func(t *testing.T) {
		resp, err := http.Get(srv.URL + v.MetadataPath())
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestValidateScopes(t *testing.T) {
	env := transporttest.New(t)
	tests := []struct {
		name    string
		scopes  []string
		wantErr bool
	}{
		{name: "none", scopes: nil},
		{name: "valid", scopes: []string{"files:read", "mcp:tools"}},
		{name: "empty", scopes: []string{""}, wantErr: true},
		{name: "space", scopes: []string{"files:read files:write"}, wantErr: true},
		{name: "quote", scopes: []string{`a"b`}, wantErr: true},
		{name: "offline_access", scopes: []string{"offline_access"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := env.Verifier.ValidateScopes(tt.scopes...)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
		})
	}
}
