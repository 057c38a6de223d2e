// Package smoke runs an example's run function in-process for its smoke
// test and checks the lines it prints.
package smoke

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RunFunc is an example's main, minus the process.
type RunFunc func(ctx context.Context, args []string, stdout io.Writer) error

// Process is an example running in the test.
type Process struct {
	mu  sync.Mutex
	out bytes.Buffer
}

// Write implements io.Writer for the example's output.
func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns everything printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Start runs run with args (plus -listen 127.0.0.1:0) until the test ends,
// waits until it printed marker, and at cleanup cancels it and requires a
// nil error.
func Start(t *testing.T, run RunFunc, marker string, args ...string) *Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Process{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), p) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("example did not stop")
		}
	})
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		return strings.Contains(p.Output(), marker)
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, p.Output(), marker, "example stopped early")
	return p
}

// curlLine matches the GET lines the examples print.
var curlLine = regexp.MustCompile(`(?m)^\s*curl -i (?:-H 'Authorization: Bearer ([A-Za-z0-9_.-]+)' )?(\S+)\s+# expect (\d{3})`)

// CheckCurlLines performs every printed GET curl line and requires the
// status it announces. It returns how many lines it checked.
func CheckCurlLines(t *testing.T, output string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(output, "\n") {
		m := curlLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, m[2], nil)
		require.NoError(t, err)
		if m[1] != "" {
			req.Header.Set("Authorization", "Bearer "+m[1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		want, _ := strconv.Atoi(m[3])
		require.Equal(t, want, resp.StatusCode, "line %q", line)
		if want == http.StatusUnauthorized || want == http.StatusForbidden {
			require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer "), "line %q", line)
		}
	}
	return n
}

// CheckResourcePaths runs a GET example (one printing curl lines with
// Env.TryHTTP) with -resource set to the server's origin, where it must
// serve its API at defaultPath, and to a URI with a path of its own, where
// it must serve the API at that path; every curl line it prints must get
// its announced status. A resource path that a router would not take
// literally must be refused at start.
func CheckResourcePaths(t *testing.T, run RunFunc, defaultPath string) {
	t.Helper()
	tests := []struct {
		name     string
		resource string
		wantPath string
	}{
		{name: "origin", resource: "http://127.0.0.1:1", wantPath: defaultPath},
		{name: "origin with slash", resource: "http://127.0.0.1:1/", wantPath: defaultPath},
		{name: "own path", resource: "http://localhost:1/api/v2/files", wantPath: "/api/v2/files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Start(t, run, "Fresh tokens", "-resource", tt.resource)
			out := p.Output()
			require.Equal(t, 5, CheckCurlLines(t, out))
			n := 0
			for _, m := range curlLine.FindAllStringSubmatch(out, -1) {
				u, err := url.Parse(m[2])
				require.NoError(t, err)
				if !strings.HasPrefix(u.Path, "/.well-known/") {
					require.Equal(t, tt.wantPath, u.Path)
					n++
				}
			}
			require.Equal(t, 4, n)
		})
	}
	t.Run("path a router would not take literally", func(t *testing.T) {
		err := run(t.Context(), []string{"-listen", "127.0.0.1:0", "-resource", "http://127.0.0.1:1/files/:id"}, io.Discard)
		require.ErrorContains(t, err, "-resource")
	})
}
