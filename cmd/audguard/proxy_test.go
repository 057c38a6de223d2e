package main

import (
	"testing"
	"time"

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
