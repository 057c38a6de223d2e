package userid_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/adapters/mcpauth/internal/userid"
	"github.com/audguard/audguard/middleware"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name          string
		claims        middleware.Claims
		want          string
		wantAnonymous bool
	}{
		{name: "subject", claims: middleware.Claims{Issuer: "https://as.example.com", Subject: "u1", ClientID: "app"}, want: "iss=https%3A%2F%2Fas.example.com&sub=u1"},
		{name: "client only", claims: middleware.Claims{Issuer: "https://as.example.com", ClientID: "app"}, want: "client_id=app&iss=https%3A%2F%2Fas.example.com"},
		{name: "separators in values stay unambiguous", claims: middleware.Claims{Issuer: "https://as.example.com/?a=1&sub=x", Subject: "u&sub=v"}, want: "iss=https%3A%2F%2Fas.example.com%2F%3Fa%3D1%26sub%3Dx&sub=u%26sub%3Dv"},
		{name: "anonymous", claims: middleware.Claims{Issuer: "https://as.example.com"}, want: "iss=https%3A%2F%2Fas.example.com&sub=", wantAnonymous: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, userid.Of(&tt.claims))
			require.Equal(t, tt.wantAnonymous, userid.Anonymous(&tt.claims))
		})
	}
}

func TestErrAnonymous(t *testing.T) {
	require.ErrorIs(t, userid.ErrAnonymous, middleware.ErrClaims)
}
