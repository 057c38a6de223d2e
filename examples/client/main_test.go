package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSmoke runs the example without setup and checks every step.
func TestSmoke(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), nil, &out))
	got := out.String()
	for _, want := range []string{
		"1. Call A without a token",
		"401 Unauthorized, WWW-Authenticate: Bearer resource_metadata=",
		"Fetch the authorization server's metadata",
		"token endpoint:  http://127.0.0.1:",
		"200 OK: hello from resource A",
		"401 Unauthorized: invalid_token",
		"200 OK: hello from resource B",
		"A and B hold different tokens",
		"token requests made to the issuer: 2 (one per resource)",
		"10. Done",
	} {
		require.Contains(t, got, want)
	}
	require.NotContains(t, got, "eyJ", "no token (a JWT starts with eyJ) is printed")
	require.NotContains(t, got, "audtest-secret")
}

// The flags for real resources, pointed at the in-process ones.
func TestFlagsForRealResources(t *testing.T) {
	d, err := startDemo()
	require.NoError(t, err)
	t.Cleanup(d.Close)
	args := []string{"-resource-a", d.a.resource, "-resource-b", d.b.resource, "-client-id", "audtest-client", "-allow-http-loopback"}

	t.Run("valid", func(t *testing.T) {
		t.Setenv(secretEnv, "audtest-secret")
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), args, &out))
		require.Contains(t, out.String(), "A and B hold different tokens")
		require.Contains(t, out.String(), "Done")
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Setenv(secretEnv, "wrong-secret-value")
		var out bytes.Buffer
		err := run(t.Context(), args, &out)
		require.ErrorContains(t, err, "invalid_client")
		require.NotContains(t, err.Error(), "wrong-secret-value")
		require.NotContains(t, out.String(), "wrong-secret-value")
	})
	t.Run("scope override", func(t *testing.T) {
		t.Setenv(secretEnv, "audtest-secret")
		var out bytes.Buffer
		err := run(t.Context(), append(args, "-scope", "other:scope"), &out)
		require.ErrorContains(t, err, "403", "the resources require api:read")
	})
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "resource without client ID", args: []string{"-resource-a", "https://api.example.com/x"}, want: "-client-id is required"},
		{name: "resource B without A", args: []string{"-resource-b", "https://api.example.com/x"}, want: "need -resource-a"},
		{name: "bad timeout", args: []string{"-timeout", "0s"}, want: "-timeout"},
		{name: "unknown flag", args: []string{"-nope"}, want: "not defined"},
		{name: "extra argument", args: []string{"x"}, want: "unexpected arguments"},
		{name: "http resource", args: []string{"-resource-a", "http://api.example.com/x", "-client-id", "c"}, want: "must be https"},
		{name: "http loopback resource without the option", args: []string{"-resource-a", "http://127.0.0.1:1/x", "-client-id", "c"}, want: "must be https"},
		{name: "http resource B on another host", args: []string{"-resource-a", "http://127.0.0.1:1/x", "-resource-b", "http://api.example.com/x", "-client-id", "c", "-allow-http-loopback"}, want: "must be https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			require.ErrorContains(t, run(t.Context(), tt.args, &out), tt.want)
		})
	}
}

// TestExitStatus runs main in a child process: exit status 0 and the steps
// on stdout without setup, 1 and a message on stderr for a bad flag.
func TestExitStatus(t *testing.T) {
	if args, ok := os.LookupEnv("CLIENT_EXAMPLE_ARGS"); ok {
		os.Args = append([]string{"client"}, strings.Fields(args)...)
		main()
		return
	}
	tests := []struct {
		name       string
		args       string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no setup", args: "", wantCode: 0, wantStdout: "10. Done"},
		{name: "bad flag", args: "-resource-a https://api.example.com/x", wantCode: 1, wantStderr: "client: -client-id is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestExitStatus$")
			cmd.Env = append(os.Environ(), "CLIENT_EXAMPLE_ARGS="+tt.args)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			require.Contains(t, stdout.String(), tt.wantStdout)
			require.Contains(t, stderr.String(), tt.wantStderr)
		})
	}
}
