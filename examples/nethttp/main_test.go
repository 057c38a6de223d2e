package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/examples/internal/smoke"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSmoke runs the example with the in-process issuer and performs
// every curl line it prints.
func TestSmoke(t *testing.T) {
	p := smoke.Start(t, run, "Fresh tokens")
	require.Equal(t, 5, smoke.CheckCurlLines(t, p.Output()))
}

// TestResourcePath: the API is served, and the printed lines point, at
// the path of -resource, or at /files when the resource is the origin.
func TestResourcePath(t *testing.T) {
	smoke.CheckResourcePaths(t, run, "/files")
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "issuer without resource", args: []string{"-issuer", "https://as.example.com"}},
		{name: "jwks-uri without issuer", args: []string{"-jwks-uri", "https://as.example.com/jwks"}},
		{name: "http resource of a real issuer", args: []string{"-issuer", "https://as.example.com", "-resource", "http://api.example.com/files"}},
		{name: "unknown flag", args: []string{"-nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out nopWriter
			require.Error(t, run(t.Context(), append([]string{"-listen", "127.0.0.1:0"}, tt.args...), out))
		})
	}
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
