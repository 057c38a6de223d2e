package middleware_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

func checksByName(checks []middleware.Check) map[string]middleware.Check {
	m := map[string]middleware.Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

func TestExplain(t *testing.T) {
	e := newEnv(t, func(c *middleware.Config) { c.Scopes = []string{"read"} })
	ctx := context.Background()
	all := []string{"format", "header", "algorithm", "header parameters", "typ", "claims", "issuer", "key", "signature", "claim types", "audience", "expiry", "not before", "issued at", "profile", "scopes"}

	t.Run("valid", func(t *testing.T) {
		checks, err := e.v.Explain(ctx, e.token(map[string]any{"scope": "read"}))
		require.NoError(t, err)
		require.Len(t, checks, len(all))
		for i, c := range checks {
			require.Equal(t, all[i], c.Name)
			require.True(t, c.OK, "%s: %s", c.Name, c.Detail)
		}
	})
	t.Run("every_problem_reported", func(t *testing.T) {
		tok := e.iss.MustSign(audtest.Token{Claims: e.claims(map[string]any{"aud": "https://api.example.com", "exp": clock.Add(-time2h).Unix()}), TamperSignature: true})
		checks, err := e.v.Explain(ctx, tok)
		require.ErrorIs(t, err, middleware.ErrSignature, "the first failure is what Verify reports")
		m := checksByName(checks)
		require.False(t, m["signature"].OK)
		require.False(t, m["audience"].OK)
		const unverified = " (unverified: the signature was not checked or did not verify)"
		require.Equal(t, "aud [https://api.example.com] does not contain "+resource+unverified, m["audience"].Detail)
		require.False(t, m["expiry"].OK)
		require.Contains(t, m["expiry"].Detail, "ago")
		for _, name := range []string{"claim types", "audience", "expiry", "not before", "issued at", "profile"} {
			require.True(t, strings.HasSuffix(m[name].Detail, unverified), "%s: every claim check of an unverified token says so: %q", name, m[name].Detail)
		}
		require.True(t, m["scopes"].Skipped)
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		for _, c := range checks {
			require.NotContains(t, c.Detail, sig[:16], "never the signature")
		}
	})
	t.Run("format_in_plain_words", func(t *testing.T) {
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
		body := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x"}`))
		for _, tc := range []struct{ token, want string }{
			{token: none + "." + body + ".", want: `unsigned token (alg "none", empty signature): unsigned tokens are never accepted`},
			{token: "a.b.c.d.e", want: "five segments: an encrypted token (JWE) rather than a signed one (JWS); a resource server accepts signed access tokens only"},
			{token: "abc", want: "not a signed JWT: a JWT has three dot-separated segments (header.payload.signature), this token has 1"},
			{token: ".b.c", want: "the header or the payload segment is empty"},
		} {
			checks, err := e.v.Explain(ctx, tc.token)
			require.ErrorIs(t, err, middleware.ErrMalformed)
			require.Equal(t, tc.want, checks[0].Detail, tc.token)
		}
	})
	t.Run("malformed_skips_the_rest", func(t *testing.T) {
		checks, err := e.v.Explain(ctx, "not.a-token")
		require.ErrorIs(t, err, middleware.ErrMalformed)
		require.False(t, checks[0].OK)
		for _, c := range checks[1:] {
			require.True(t, c.Skipped, c.Name)
		}
	})
	t.Run("unknown_issuer", func(t *testing.T) {
		checks, err := e.v.Explain(ctx, e.token(map[string]any{"iss": "https://evil.example"}))
		require.ErrorIs(t, err, middleware.ErrIssuer)
		m := checksByName(checks)
		require.Contains(t, m["issuer"].Detail, "https://evil.example")
		require.True(t, m["key"].Skipped)
		require.True(t, m["signature"].Skipped)
		require.True(t, m["audience"].OK, "claims are still evaluated")
		require.Contains(t, m["audience"].Detail, "unverified")
	})
	t.Run("missing_scope", func(t *testing.T) {
		checks, err := e.v.Explain(ctx, e.token(map[string]any{"scope": "read"}), "write")
		require.ErrorIs(t, err, middleware.ErrInsufficientScope)
		m := checksByName(checks)
		require.Equal(t, "missing [write] of the required [read write]", m["scopes"].Detail)
	})
}

const time2h = 2 * 3600 * 1e9
