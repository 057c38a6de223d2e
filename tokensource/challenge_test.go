package tokensource_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/tokensource"
)

func TestParseChallenges(t *testing.T) {
	type ch = tokensource.Challenge
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		values []string
		want   []ch
	}{
		{
			name:   "audguard no-token challenge",
			values: []string{`Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="files:read mcp:tools"`},
			want:   []ch{{Scheme: "Bearer", Params: p("resource_metadata", "https://h/.well-known/oauth-protected-resource/mcp", "scope", "files:read mcp:tools")}},
		},
		{
			name:   "case-insensitive names, token values, BWS",
			values: []string{`bEaReR ERROR = invalid_token ,Resource_Metadata="x"`},
			want:   []ch{{Scheme: "bEaReR", Params: p("error", "invalid_token", "resource_metadata", "x")}},
		},
		{
			name:   "quoted-pair escapes and commas inside quotes",
			values: []string{`Bearer error_description="a \"quoted\", \\ value", realm="r,s"`},
			want:   []ch{{Scheme: "Bearer", Params: p("error_description", `a "quoted", \ value`, "realm", "r,s")}},
		},
		{
			name:   "several challenges in one value",
			values: []string{`Basic realm="x", Bearer realm="y", error="invalid_token", DPoP algs="ES256 PS256"`},
			want: []ch{
				{Scheme: "Basic", Params: p("realm", "x")},
				{Scheme: "Bearer", Params: p("realm", "y", "error", "invalid_token")},
				{Scheme: "DPoP", Params: p("algs", "ES256 PS256")},
			},
		},
		{
			name:   "several values, empty list elements",
			values: []string{`Negotiate abc==, , Basic`, ` ,Bearer scope="a"`},
			want: []ch{
				{Scheme: "Negotiate", Token68: "abc==", Params: p()},
				{Scheme: "Basic", Params: p()},
				{Scheme: "Bearer", Params: p("scope", "a")},
			},
		},
		{
			name:   "bare scheme followed by another challenge",
			values: []string{`Bearer, Basic realm=x`},
			want:   []ch{{Scheme: "Bearer", Params: p()}, {Scheme: "Basic", Params: p("realm", "x")}},
		},
		{name: "empty", values: []string{""}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokensource.ParseChallenges(tt.values)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseChallengesRejects(t *testing.T) {
	tests := []struct {
		name  string
		value string
	}{
		{name: "duplicate parameter", value: `Bearer scope="a", SCOPE="b"`},
		{name: "duplicate resource_metadata", value: `Bearer resource_metadata="https://a", resource_metadata="https://b"`},
		{name: "unterminated quoted-string", value: `Bearer realm="abc`},
		{name: "control character in quoted-string", value: "Bearer realm=\"a\x01b\""},
		{name: "missing value", value: `Bearer a="b", realm=`},
		{name: "token68 is not a parameter list", value: `Bearer realm=, error="x"`},
		{name: "missing '='", value: `Bearer realm "x"`},
		{name: "no space after scheme", value: `Bearer"x"`},
		{name: "garbage after value", value: `Bearer realm="x" y`},
		{name: "no scheme", value: `="x"`},
		{name: "too long", value: "Bearer realm=\"" + strings.Repeat("a", tokensource.MaxChallengeHeader) + "\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokensource.ParseChallenges([]string{tt.value})
			require.ErrorIs(t, err, tokensource.ErrChallenge)
		})
	}
}

func TestChallengeAccessors(t *testing.T) {
	cs, err := tokensource.ParseChallenges([]string{`BEARER Scope="a b"`})
	require.NoError(t, err)
	require.True(t, cs[0].Is("bearer"))
	require.False(t, cs[0].Is("basic"))
	require.Equal(t, "a b", cs[0].Param("SCOPE"))
}
