package middleware_test

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// render serializes a recorded response: status, the headers audguard
// sets, and the body.
func render(rec *httptest.ResponseRecorder) string {
	var b strings.Builder
	b.WriteString("HTTP " + itoa(rec.Code) + " " + http.StatusText(rec.Code) + "\n")
	keys := make([]string, 0, len(rec.Header()))
	for k := range rec.Header() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range rec.Header()[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.WriteString(rec.Body.String())
	return b.String()
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n /= 10 {
		s = append([]byte{digits[n%10]}, s...)
	}
	return string(s)
}

// golden compares got with testdata/golden/<name>.txt (or rewrites it with
// -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -run Golden -update")
	require.Equal(t, string(want), got, "response differs from %s", path)
}

// goldenVerifier has a fixed resource, so challenges are deterministic.
func goldenVerifier(t *testing.T, mod func(*middleware.Config)) *middleware.Verifier {
	cfg := middleware.Config{
		Resource: resource,
		Issuers:  []middleware.Issuer{{URL: "https://as.example.com", Keys: jwks.NewSet()}},
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := middleware.New(cfg)
	require.NoError(t, err)
	return v
}

// TestGoldenResponses pins the exact response of every error category.
func TestGoldenResponses(t *testing.T) {
	v := goldenVerifier(t, nil)
	scoped := goldenVerifier(t, func(c *middleware.Config) { c.Scopes = []string{"mcp:tools", "files:read"} })
	v503 := goldenVerifier(t, func(c *middleware.Config) { c.UnavailableStatus503 = true })
	tests := []struct {
		name   string
		v      *middleware.Verifier
		err    error
		scopes []string
	}{
		{name: "no_token", v: v, err: middleware.ErrNoToken},
		{name: "no_token_with_scopes", v: scoped, err: middleware.ErrNoToken},
		{name: "invalid_request", v: v, err: middleware.ErrInvalidRequest},
		{name: "malformed", v: v, err: middleware.ErrMalformed},
		{name: "header", v: v, err: middleware.ErrHeader},
		{name: "signature", v: v, err: middleware.ErrSignature},
		{name: "issuer", v: v, err: middleware.ErrIssuer},
		{name: "audience", v: v, err: middleware.ErrAudience},
		{name: "expired", v: v, err: middleware.ErrExpired},
		{name: "not_yet_valid", v: v, err: middleware.ErrNotYetValid},
		{name: "claims", v: v, err: middleware.ErrClaims},
		{name: "keys_unavailable", v: v, err: middleware.ErrKeysUnavailable},
		{name: "keys_unavailable_503", v: v503, err: middleware.ErrKeysUnavailable},
		{name: "insufficient_scope", v: scoped, err: &middleware.ScopeError{Required: []string{"mcp:tools", "files:read", "files:write"}, Missing: []string{"files:write"}}},
		{name: "insufficient_scope_route", v: scoped, err: middleware.ErrInsufficientScope, scopes: []string{"files:write"}},
		{name: "unknown_error_fails_closed", v: v, err: os.ErrPermission},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.v.WriteError(rec, tc.err, tc.scopes...)
			golden(t, tc.name, render(rec))
		})
	}
}
