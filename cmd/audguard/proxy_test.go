package main

import (
	"testing"
	"time"

	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

func TestIsIdentityHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Audguard-Subject": true, "x-audguard-scope": true, "X_Audguard_Subject": true, "X-AUDGUARD-ANYTHING": true,
		"x_audguard-client_id": true, "X-Audguard-": true,
		"X-Audguard": false, "X-Audguardian": false, "Audguard-Subject": false, "X-Forwarded-For": false, "": false,
	} {
		if got := isIdentityHeader(name); got != want {
			t.Errorf("isIdentityHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestConfigProblemsNameFlags(t *testing.T) {
	tests := []struct {
		name  string
		cfg   middleware.Config
		lines []string
	}{
		{
			name:  "issuer",
			cfg:   middleware.Config{Resource: "https://api.example.com", Issuers: []middleware.Issuer{{URL: "http://as.example.com"}}},
			lines: []string{`-issuer "http://as.example.com": http is allowed only for a loopback host with the loopback option`},
		},
		{
			name:  "jwks_uri",
			cfg:   middleware.Config{Resource: "https://api.example.com", Issuers: []middleware.Issuer{{URL: "https://as.example.com", JWKSURI: "http://as.example.com/jwks"}}},
			lines: []string{`-jwks-uri "http://as.example.com/jwks": http is allowed only for a loopback host with the loopback option`},
		},
		{
			name:  "issuer_refused_by_jwks",
			cfg:   middleware.Config{Resource: "https://api.example.com", Issuers: []middleware.Issuer{{URL: "https://as.example.com?x=1"}}},
			lines: []string{`-issuer "https://as.example.com?x=1": an issuer identifier has no query (RFC 8414 §2)`},
		},
		{
			name:  "issuer_listed_twice",
			cfg:   middleware.Config{Resource: "https://api.example.com", Issuers: []middleware.Issuer{{URL: "https://as.example.com"}, {URL: "https://as.example.com"}}},
			lines: []string{`-issuer: "https://as.example.com" is listed twice`},
		},
		{
			name:  "offline_access_once",
			cfg:   middleware.Config{Resource: "https://api.example.com", Issuers: []middleware.Issuer{{URL: "https://as.example.com"}}, Scopes: []string{"offline_access"}},
			lines: []string{`-scopes "offline_access": offline_access is a refresh-token scope and must not be required or advertised by a resource server (MCP 2026-07-28 §10)`},
		},
		{
			name: "several",
			cfg: middleware.Config{Resource: "https://api.example.com/#x", Issuers: []middleware.Issuer{{URL: "https://as.example.com"}},
				Algorithms: []string{"none"}, Leeway: time.Hour, Audiences: []string{"a b"}},
			lines: []string{
				`-resource "https://api.example.com/#x": must not contain a fragment`,
				`-audience "a b": must be printable ASCII of at most 2048 bytes`,
				`-alg: "none" is never accepted (RFC 9068 §2.1)`,
				`-leeway: 1h0m0s exceeds the maximum of 5m0s`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := middleware.New(tc.cfg)
			require.Error(t, err)
			require.Equal(t, tc.lines, configProblems(err))
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{in: 24 * time.Hour, want: "24h"},
		{in: 30 * time.Second, want: "30s"},
		{in: 5 * time.Second, want: "5s"},
		{in: 5 * time.Minute, want: "5m"},
		{in: 90 * time.Minute, want: "1h30m"},
		{in: time.Hour + 30*time.Second, want: "1h0m30s"},
		{in: 1500 * time.Millisecond, want: "1.5s"},
		{in: 0, want: "0s"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, formatDuration(tc.in), tc.in)
	}
}

func TestNormalizeEscapes(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{in: "/mcp", want: "/mcp"},
		{in: "/%6dcp", want: "/mcp"},
		{in: "/a%2fb", want: "/a%2Fb"},
		{in: "/tenant%20a", want: "/tenant%20a"},
		{in: "/%7E%2D%2e%5F", want: "/~-._"},
		{in: "/%zz%4", want: "/%zz%4"},
		{in: "/%", want: "/%"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, normalizeEscapes(tc.in), tc.in)
	}
}
