package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
)

// seen records what the upstream MCP server's tool observed.
type seen struct {
	mu            sync.Mutex
	subject       string
	authorization string
}

func (s *seen) set(sub, authz string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subject, s.authorization = sub, authz
}

func (s *seen) get() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subject, s.authorization
}

// upstreamMCP is a streamable HTTP MCP server without any authorization:
// it trusts the identity headers audguard sets.
func upstreamMCP(t *testing.T, rec *seen) *httptest.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "unguarded", Version: "v0"}, nil)
	type out struct {
		Subject string `json:"subject"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, out, error) {
		sub := req.Extra.Header.Get("X-Audguard-Subject")
		rec.set(sub, req.Extra.Header.Get("Authorization"))
		return nil, out{Subject: sub}, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// logBuffer keeps the proxy's stderr for failure messages; it is written
// by the scanning goroutine and read by the test.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAudguard builds cmd/audguard and runs it as a proxy; it returns the
// proxy's base URL. A proxy that exits before listening fails the test at
// once, with its output.
func startAudguard(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "audguard")
	build := exec.Command("go", "build", "-o", bin, "github.com/audguard/audguard/cmd/audguard")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	cmd := exec.Command(bin, append([]string{"proxy", "-listen", "127.0.0.1:0"}, args...)...)
	logs := &logBuffer{}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(logs, pw)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "audguard proxy listening" {
				addr <- line["listen"].(string)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("audguard proxy exited before listening (%v):\n%s", err, logs.String())
		return ""
	case <-time.After(30 * time.Second):
		t.Fatalf("audguard proxy did not start:\n%s", logs.String())
		return ""
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func connect(ctx context.Context, endpoint, token string) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "sdk-client", Version: "v0"}, nil)
	return client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: bearer{token: token}},
		MaxRetries: -1,
	}, nil)
}

// TestSDKClientThroughProxy: the MCP Go SDK client reaches an unguarded
// SDK server through audguard with a token for the proxy's resource, the
// server sees the verified subject and never the token, and a token for
// another resource cannot even initialize a session.
func TestSDKClientThroughProxy(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	rec := &seen{}
	up := upstreamMCP(t, rec)
	base := startAudguard(t,
		"-resource", "http://127.0.0.1/mcp", // the URL clients are told; routing is by path
		"-issuer", iss.URL(),
		"-upstream", up.URL,
		"-scopes", "mcp:tools",
		"-allow-http-loopback")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cs, err := connect(ctx, base+"/mcp", iss.AccessToken("http://127.0.0.1/mcp", "mcp:tools"))
	require.NoError(t, err)
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	sub, authz := rec.get()
	require.Equal(t, "user-1", sub)
	require.Empty(t, authz, "the upstream never receives the token")
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	require.Len(t, tools.Tools, 1)

	_, err = connect(ctx, base+"/mcp", iss.AccessToken("http://127.0.0.1/other", "mcp:tools"))
	require.Error(t, err, "a token for another resource must not open a session")

	_, err = connect(ctx, base+"/mcp", iss.AccessToken("http://127.0.0.1/mcp"))
	require.Error(t, err, "a token without the required scope must not open a session")
	require.True(t, strings.Contains(err.Error(), "403") || strings.Contains(strings.ToLower(err.Error()), "forbidden") || strings.Contains(err.Error(), "insufficient"), err.Error())
}
