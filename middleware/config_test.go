package middleware_test

import (
	"strings"
	"testing"
	"time"

	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

func TestConfigValidation(t *testing.T) {
	keys := jwks.NewSet()
	good := func() middleware.Config {
		return middleware.Config{
			Resource: resource,
			Issuers:  []middleware.Issuer{{URL: "https://as.example.com", Keys: keys}},
		}
	}
	tests := []struct {
		name string
		mod  func(*middleware.Config)
		want []string // substrings of the error; nil means valid
	}{
		{name: "valid", mod: func(*middleware.Config) {}},
		{name: "resource_missing", mod: func(c *middleware.Config) { c.Resource = "" }, want: []string{"Resource is required"}},
		{name: "resource_relative", mod: func(c *middleware.Config) { c.Resource = "/mcp" }, want: []string{"absolute URI"}},
		{name: "resource_no_scheme", mod: func(c *middleware.Config) { c.Resource = "mcp.example.com" }, want: []string{"absolute URI"}},
		{name: "resource_http", mod: func(c *middleware.Config) { c.Resource = "http://api.example.com/mcp" }, want: []string{"http is allowed only"}},
		{name: "resource_http_loopback_without_option", mod: func(c *middleware.Config) { c.Resource = "http://127.0.0.1:8080/mcp" }, want: []string{"http is allowed only"}},
		{name: "resource_http_loopback_with_option", mod: func(c *middleware.Config) {
			c.Resource = "http://localhost:8080/mcp"
			c.AllowHTTPLoopback = true
		}},
		{name: "resource_http_non_loopback_with_option", mod: func(c *middleware.Config) {
			c.Resource = "http://api.example.com/mcp"
			c.AllowHTTPLoopback = true
		}, want: []string{"http is allowed only"}},
		{name: "resource_ftp", mod: func(c *middleware.Config) { c.Resource = "ftp://api.example.com/mcp" }, want: []string{"scheme must be https"}},
		{name: "resource_fragment", mod: func(c *middleware.Config) { c.Resource = resource + "#frag" }, want: []string{"fragment"}},
		{name: "resource_userinfo", mod: func(c *middleware.Config) { c.Resource = "https://user@api.example.com/mcp" }, want: []string{"userinfo"}},
		{name: "29_idn_u_label", mod: func(c *middleware.Config) { c.Resource = "https://bücher.example/mcp" }, want: []string{"A-label"}},
		{name: "idn_a_label", mod: func(c *middleware.Config) { c.Resource = "https://xn--bcher-kva.example/mcp" }},
		{name: "resource_dot_segment", mod: func(c *middleware.Config) { c.Resource = "https://api.example.com/a/../mcp" }, want: []string{"dot segments"}},
		{name: "resource_empty_port", mod: func(c *middleware.Config) { c.Resource = "https://api.example.com:/mcp" }, want: []string{"empty port"}},
		{name: "resource_bad_port", mod: func(c *middleware.Config) { c.Resource = "https://api.example.com:x/mcp" }, want: []string{"port"}},
		{name: "resource_space", mod: func(c *middleware.Config) { c.Resource = "https://api.example.com/m cp" }, want: []string{"whitespace"}},
		{name: "resource_quote", mod: func(c *middleware.Config) { c.Resource = `https://api.example.com/m"cp` }, want: []string{"quote"}},
		{name: "resource_port_and_query", mod: func(c *middleware.Config) { c.Resource = "https://api.example.com:8443/mcp?tenant=a" }},
		{name: "resource_ipv6", mod: func(c *middleware.Config) { c.Resource = "https://[2001:db8::1]:8443/mcp" }},
		{name: "no_issuers", mod: func(c *middleware.Config) { c.Issuers = nil }, want: []string{"at least one trusted issuer"}},
		{name: "issuer_without_url", mod: func(c *middleware.Config) { c.Issuers = []middleware.Issuer{{Keys: keys}} }, want: []string{"URL is required"}},
		{name: "issuer_twice", mod: func(c *middleware.Config) {
			c.Issuers = append(c.Issuers, middleware.Issuer{URL: "https://as.example.com", Keys: keys})
		}, want: []string{"listed twice"}},
		{name: "issuer_http_discovery", mod: func(c *middleware.Config) {
			c.Issuers = []middleware.Issuer{{URL: "http://as.example.com"}}
		}, want: []string{"http is allowed only"}},
		{name: "issuer_keys_and_jwks_uri", mod: func(c *middleware.Config) {
			c.Issuers = []middleware.Issuer{{URL: "https://as.example.com", Keys: keys, JWKSURI: "https://as.example.com/jwks"}}
		}, want: []string{"not both"}},
		{name: "alg_none", mod: func(c *middleware.Config) { c.Algorithms = []string{"none"} }, want: []string{`"none" is never accepted`}},
		{name: "alg_NONE", mod: func(c *middleware.Config) { c.Algorithms = []string{"NONE"} }, want: []string{"never accepted"}},
		{name: "alg_hs256", mod: func(c *middleware.Config) { c.Algorithms = []string{"RS256", "HS256"} }, want: []string{"shared-secret"}},
		{name: "alg_unknown", mod: func(c *middleware.Config) { c.Algorithms = []string{"ES256K"} }, want: []string{"not supported"}},
		{name: "alg_lowercase", mod: func(c *middleware.Config) { c.Algorithms = []string{"rs256"} }, want: []string{"not supported"}},
		{name: "leeway_too_large", mod: func(c *middleware.Config) { c.Leeway = 10 * time.Minute }, want: []string{"exceeds the maximum"}},
		{name: "leeway_negative", mod: func(c *middleware.Config) { c.Leeway = -time.Second }, want: []string{"negative"}},
		{name: "leeway_none", mod: func(c *middleware.Config) { c.Leeway = middleware.NoLeeway }},
		{name: "scope_offline_access", mod: func(c *middleware.Config) { c.Scopes = []string{"offline_access"} }, want: []string{"offline_access"}},
		{name: "scope_with_space", mod: func(c *middleware.Config) { c.Scopes = []string{"a b"} }, want: []string{"not allowed in a scope"}},
		{name: "scope_with_quote", mod: func(c *middleware.Config) { c.Scopes = []string{`a"b`} }, want: []string{"not allowed in a scope"}},
		{name: "scopes_supported_offline_access", mod: func(c *middleware.Config) { c.ScopesSupported = []string{"read", "offline_access"} }, want: []string{"offline_access"}},
		{name: "typ_unknown", mod: func(c *middleware.Config) { c.Typ = middleware.TypPolicy(7) }, want: []string{"unknown policy"}},
		{name: "max_token_size_tiny", mod: func(c *middleware.Config) { c.MaxTokenSize = 10 }, want: []string{"MaxTokenSize"}},
		{name: "cache_negative", mod: func(c *middleware.Config) { c.CacheSize = -5 }, want: []string{"CacheSize"}},
		{name: "audience_alias_with_space", mod: func(c *middleware.Config) { c.Audiences = []string{"a b"} }, want: []string{"Audiences"}},
		{name: "every_problem_at_once", mod: func(c *middleware.Config) {
			c.Resource = "http://api.example.com/mcp#x"
			c.Issuers = nil
			c.Algorithms = []string{"none"}
			c.Leeway = time.Hour
		}, want: []string{"Resource", "Issuers", "none", "Leeway"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.mod(&cfg)
			v, err := middleware.New(cfg)
			if tc.want == nil {
				require.NoError(t, err)
				require.NotNil(t, v)
				return
			}
			require.Error(t, err)
			require.Nil(t, v)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestConfigZeroValueDoesNotPanic(t *testing.T) {
	require.NotPanics(t, func() {
		_, err := middleware.New(middleware.Config{})
		require.Error(t, err)
		require.Equal(t, 2, strings.Count(err.Error(), "\n"), "both missing fields reported: %v", err)
	})
}

func TestParseTypPolicy(t *testing.T) {
	p, err := middleware.ParseTypPolicy("strict")
	require.NoError(t, err)
	require.Equal(t, middleware.TypStrict, p)
	require.Equal(t, "strict", p.String())
	p, err = middleware.ParseTypPolicy("compat")
	require.NoError(t, err)
	require.Equal(t, middleware.TypCompat, p)
	_, err = middleware.ParseTypPolicy("STRICT")
	require.Error(t, err)
}
