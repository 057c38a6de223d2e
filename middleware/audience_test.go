package middleware_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// rawClaimsWith returns the JSON of the env's valid claims without "aud",
// with extra raw members prepended (for duplicate-member rows).
func rawClaimsWith(t *testing.T, e *env, members string) string {
	t.Helper()
	b, err := json.Marshal(e.claims(map[string]any{"aud": nil}))
	require.NoError(t, err)
	return "{" + members + "," + string(b[1:])
}

// TestAudienceDecisionTable runs every row of standards-and-attacks §2.4
// ("Default" column) through Verify and the HTTP mapping.
func TestAudienceDecisionTable(t *testing.T) {
	const C = resource // https://api.example.com/mcp
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("https://a%d.example", i)
	}
	many[9999] = C
	over := make([]string, middleware.MaxAudiences)
	for i := range over {
		over[i] = fmt.Sprintf("https://a%d", i)
	}
	over = append(over, C) // 33 entries, the last one matching

	tests := []struct {
		name     string
		resource string // configured resource; default C
		aud      any    // the aud claim; absentAud deletes it
		raw      string // raw members prepended instead of aud (rows 38, 39)
		size     int    // MaxTokenSize override
		accept   bool
		wantErr  error
	}{
		{name: "01_exact", aud: C, accept: true},
		{name: "02_array_contains_resource", aud: []string{"https://other.example", C}, accept: true},
		{name: "03_nonroot_trailing_slash", aud: C + "/", wantErr: middleware.ErrAudience},
		{name: "04_root_empty_path_equals_slash", resource: "https://api.example.com", aud: "https://api.example.com/", accept: true},
		{name: "04b_root_configured_with_slash", resource: "https://api.example.com/", aud: "https://api.example.com", accept: true},
		{name: "05_uppercase_scheme_and_host", aud: "HTTPS://API.EXAMPLE.COM/mcp", accept: true},
		{name: "06_uppercase_host", aud: "https://API.example.com/mcp", accept: true},
		{name: "07_path_case_differs", aud: "https://api.example.com/MCP", wantErr: middleware.ErrAudience},
		{name: "08_default_port", aud: "https://api.example.com:443/mcp", accept: true},
		{name: "09_empty_port", aud: "https://api.example.com:/mcp", accept: true},
		{name: "10_other_port", aud: "https://api.example.com:8443/mcp", wantErr: middleware.ErrAudience},
		{name: "11_port_missing", resource: "https://api.example.com:8443/mcp", aud: "https://api.example.com/mcp", wantErr: middleware.ErrAudience},
		{name: "12_http_scheme", aud: "http://api.example.com/mcp", wantErr: middleware.ErrAudience},
		{name: "13_http_on_443", aud: "http://api.example.com:443/mcp", wantErr: middleware.ErrAudience},
		{name: "14_fragment", aud: C + "#x", wantErr: middleware.ErrAudience},
		{name: "15_query_added", aud: C + "?tenant=a", wantErr: middleware.ErrAudience},
		{name: "16_other_tenant_query", resource: C + "?tenant=a", aud: C + "?tenant=b", wantErr: middleware.ErrAudience},
		{name: "16b_same_tenant_query", resource: C + "?tenant=a", aud: C + "?tenant=a", accept: true},
		{name: "17_host_prefix", aud: "https://api.example.com.evil.com/mcp", wantErr: middleware.ErrAudience},
		{name: "18_path_prefix", aud: C + "/other", wantErr: middleware.ErrAudience},
		{name: "19_string_prefix", aud: C + "x", wantErr: middleware.ErrAudience},
		{name: "20_less_specific_origin", aud: "https://api.example.com", wantErr: middleware.ErrAudience},
		{name: "21_userinfo_trick", aud: "https://api.example.com@evil.com/mcp", wantErr: middleware.ErrAudience},
		{name: "22_userinfo", aud: "https://user@api.example.com/mcp", wantErr: middleware.ErrAudience},
		{name: "23a_fragment_at_trick", aud: "https://evil.com#@api.example.com/mcp", wantErr: middleware.ErrAudience},
		{name: "23b_backslash_at_trick", aud: `https://evil.com\@api.example.com/mcp`, wantErr: middleware.ErrAudience},
		{name: "24_percent_encoded_host", aud: "https://api.example.com%2Eevil.com/mcp", wantErr: middleware.ErrAudience},
		{name: "25_percent_encoded_path", aud: "https://api.example.com/%6Dcp", wantErr: middleware.ErrAudience},
		{name: "26a_dot_segment", aud: "https://api.example.com/./mcp", wantErr: middleware.ErrAudience},
		{name: "26b_dotdot_segment", aud: "https://api.example.com/x/../mcp", wantErr: middleware.ErrAudience},
		{name: "27_cyrillic_lookalike", aud: "https://\u0430pi.example.com/mcp", wantErr: middleware.ErrAudience},
		{name: "28_punycode_of_lookalike", aud: "https://xn--pi-7ld.example.com/mcp", wantErr: middleware.ErrAudience},
		// Row 29 (IDN resource configured as U-label) is a configuration
		// error: TestConfigValidation/29_idn_u_label.
		{name: "30_trailing_dot_fqdn", aud: "https://api.example.com./mcp", wantErr: middleware.ErrAudience},
		{name: "31a_leading_space", aud: " " + C, wantErr: middleware.ErrAudience},
		{name: "31b_trailing_newline", aud: C + "\n", wantErr: middleware.ErrAudience},
		{name: "31c_trailing_nul", aud: C + "\x00", wantErr: middleware.ErrAudience},
		{name: "32_empty_string", aud: "", wantErr: middleware.ErrAudience},
		{name: "33_empty_array", aud: []string{}, wantErr: middleware.ErrAudience},
		{name: "34a_null", aud: json.RawMessage("null"), wantErr: middleware.ErrAudience},
		{name: "34b_absent", aud: absentAud{}, wantErr: middleware.ErrAudience},
		{name: "35a_number", aud: 123, wantErr: middleware.ErrAudience},
		{name: "35b_bool", aud: true, wantErr: middleware.ErrAudience},
		{name: "35c_object", aud: map[string]string{"0": C}, wantErr: middleware.ErrAudience},
		{name: "36_mixed_type_array", aud: []any{C, 123}, wantErr: middleware.ErrAudience},
		{name: "37_nested_array", aud: [][]string{{C}}, wantErr: middleware.ErrAudience},
		{name: "38_duplicate_aud_member", raw: `"aud":"https://evil","aud":"` + C + `"`, wantErr: middleware.ErrMalformed},
		{name: "38b_duplicate_aud_via_escape", raw: `"aud":"https://evil","a\u0075d":"` + C + `"`, wantErr: middleware.ErrMalformed},
		{name: "39_case_variant_aud_member", raw: `"AUD":"` + C + `","aud":"https://evil"`, wantErr: middleware.ErrMalformed},
		{name: "40_abstract_identifier", aud: "urn:example:mcp", wantErr: middleware.ErrAudience},
		{name: "41a_10k_entries_default_cap", aud: many, wantErr: middleware.ErrMalformed},
		{name: "41b_10k_entries_1MiB_cap", aud: many, size: 1 << 20, wantErr: middleware.ErrMalformed},
		{name: "41c_33_entries", aud: over, wantErr: middleware.ErrAudience},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *middleware.Config) {
				if tc.resource != "" {
					c.Resource = tc.resource
				}
				c.MaxTokenSize = tc.size
			})
			var tok string
			switch {
			case tc.raw != "":
				tok = e.iss.MustSign(audtest.Token{RawClaims: rawClaimsWith(t, e, tc.raw)})
			default:
				claims := e.claims(nil)
				switch a := tc.aud.(type) {
				case absentAud:
					delete(claims, "aud")
				default:
					claims["aud"] = a
				}
				tok = e.iss.MustSign(audtest.Token{Claims: claims})
			}
			c, err := e.verify(tok)
			if tc.accept {
				require.NoError(t, err)
				require.NotEmpty(t, c.Audience)
				return
			}
			require.Error(t, err)
			require.Nil(t, c)
			require.ErrorIs(t, err, middleware.ErrInvalidToken)
			require.ErrorIs(t, err, tc.wantErr)
			r := e.v.ErrorResponse(err)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Equal(t, "invalid_token", r.Code)
			require.NotContains(t, r.Challenge, "evil")
		})
	}
}

type absentAud struct{}

func TestAudienceOptIns(t *testing.T) {
	t.Run("03_trailing_slash_variant_opt_in", func(t *testing.T) {
		e := newEnv(t, func(c *middleware.Config) { c.AllowTrailingSlashVariant = true })
		_, err := e.verify(e.token(map[string]any{"aud": resource + "/"}))
		require.NoError(t, err)
		// Only one slash, and never a prefix.
		_, err = e.verify(e.token(map[string]any{"aud": resource + "//"}))
		require.ErrorIs(t, err, middleware.ErrAudience)
		_, err = e.verify(e.token(map[string]any{"aud": resource + "/x"}))
		require.ErrorIs(t, err, middleware.ErrAudience)
	})
	t.Run("03_trailing_slash_variant_configured_with_slash", func(t *testing.T) {
		e := newEnv(t, func(c *middleware.Config) {
			c.Resource = resource + "/"
			c.AllowTrailingSlashVariant = true
		})
		_, err := e.verify(e.token(map[string]any{"aud": resource}))
		require.NoError(t, err)
	})
	t.Run("20_and_40_aliases_are_byte_exact", func(t *testing.T) {
		e := newEnv(t, func(c *middleware.Config) {
			c.Audiences = []string{"https://api.example.com", "urn:example:mcp"}
		})
		for _, aud := range []string{"https://api.example.com", "urn:example:mcp"} {
			_, err := e.verify(e.token(map[string]any{"aud": aud}))
			require.NoError(t, err, aud)
		}
		for _, aud := range []string{"https://API.example.com", "urn:example:MCP", "urn:example:mcp/"} {
			_, err := e.verify(e.token(map[string]any{"aud": aud}))
			require.ErrorIs(t, err, middleware.ErrAudience, aud)
		}
	})
	t.Run("02_reject_multiple_audiences", func(t *testing.T) {
		e := newEnv(t, func(c *middleware.Config) { c.RejectMultipleAudiences = true })
		_, err := e.verify(e.token(map[string]any{"aud": []string{"https://other.example", resource}}))
		require.ErrorIs(t, err, middleware.ErrAudience)
		_, err = e.verify(e.token(map[string]any{"aud": []string{resource, "https://other.example"}}))
		require.ErrorIs(t, err, middleware.ErrAudience, "the foreign entry after the match counts too")
		_, err = e.verify(e.token(map[string]any{"aud": []string{resource}}))
		require.NoError(t, err)
		_, err = e.verify(e.token(map[string]any{"aud": []string{resource, resource, "https://API.example.com/mcp"}}))
		require.NoError(t, err, "entries that all name this resource are one audience")
	})
	t.Run("loopback_http_resource", func(t *testing.T) {
		e := newEnv(t, func(c *middleware.Config) {
			c.Resource = "http://127.0.0.1:8080/mcp"
			c.AllowHTTPLoopback = true
		})
		_, err := e.verify(e.token(map[string]any{"aud": "http://127.0.0.1:8080/mcp"}))
		require.NoError(t, err)
		_, err = e.verify(e.token(map[string]any{"aud": "https://127.0.0.1:8080/mcp"}))
		require.ErrorIs(t, err, middleware.ErrAudience)
	})
}

func TestAudienceNeverInResponse(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(map[string]any{"aud": `https://evil.example/"injected`})
	rec, called := serve(e.v, nil, "Bearer "+tok)
	require.False(t, called)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.False(t, strings.Contains(rec.Header().Get("WWW-Authenticate")+rec.Body.String(), "evil"))
}
