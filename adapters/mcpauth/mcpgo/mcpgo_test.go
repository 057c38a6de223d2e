package mcpgo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/adapters/mcpauth/mcpgo"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// whoami answers the subject of the claims in the tool's context.
func whoami(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	c, ok := middleware.ClaimsFromContext(ctx)
	if !ok {
		return mcp.NewToolResultError("no claims in the context"), nil
	}
	return mcp.NewToolResultText(c.Subject), nil
}

func serve(t *testing.T, v *middleware.Verifier, scopes ...string) string {
	t.Helper()
	s := server.NewMCPServer("audguard-test", "v0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami"), whoami)
	h := server.NewStreamableHTTPServer(s, server.WithHTTPContextFunc(mcpgo.ContextFunc))
	srv := httptest.NewServer(mcpgo.Handler(v, h, scopes...))
	t.Cleanup(srv.Close)
	return srv.URL
}

// recorder sends the given Authorization values with every request of the
// mcp-go client and records the first refusal it sees.
type recorder struct {
	authorization []string

	mu        sync.Mutex
	status    int
	challenge []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	for _, a := range r.authorization {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && resp.StatusCode >= 400 {
		r.mu.Lock()
		if r.status == 0 {
			r.status, r.challenge = resp.StatusCode, resp.Header.Values("WWW-Authenticate")
		}
		r.mu.Unlock()
	}
	return resp, err
}

// callWhoami runs mcp-go's own client: start, initialize, call whoami.
func callWhoami(t *testing.T, endpoint string, authorization []string) transporttest.Result {
	t.Helper()
	rec := &recorder{authorization: authorization}
	c, err := client.NewStreamableHttpClient(endpoint, transport.WithHTTPBasicClient(&http.Client{Transport: rec}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	require.NoError(t, c.Start(ctx))
	var text string
	if _, err = c.Initialize(ctx, mcp.InitializeRequest{}); err == nil {
		var res *mcp.CallToolResult
		res, err = c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "whoami"}})
		if err == nil {
			require.False(t, res.IsError, "tool error: %v", res.Content)
			require.Len(t, res.Content, 1)
			tc, ok := res.Content[0].(mcp.TextContent)
			require.True(t, ok)
			text = tc.Text
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.status != 0 {
		require.Error(t, err)
		require.LessOrEqual(t, len(rec.challenge), 1)
		r := transporttest.Result{Status: rec.status}
		if len(rec.challenge) == 1 {
			r.Challenge = rec.challenge[0]
		}
		return r
	}
	require.NoError(t, err)
	return transporttest.Result{Status: http.StatusOK, Subject: text}
}

// TestTransportMatrix: mcp-go's own client against a real mcp-go
// streamable HTTP server behind mcpgo.Handler gives the shared matrix's
// answers, and the tool sees the claims in its context.
func TestTransportMatrix(t *testing.T) {
	env := transporttest.New(t)
	base := serve(t, env.Verifier, transporttest.Scope)
	env.Run(t, func(t *testing.T, authorization []string) transporttest.Result {
		return callWhoami(t, base+"/files", authorization)
	})
}

func TestContextFunc(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	ctx := mcpgo.ContextFunc(context.Background(), r)
	_, ok := middleware.ClaimsFromContext(ctx)
	require.False(t, ok)

	want := &middleware.Claims{Subject: "s"}
	r = r.WithContext(middleware.ContextWithClaims(r.Context(), want))
	got, ok := middleware.ClaimsFromContext(mcpgo.ContextFunc(context.Background(), r))
	require.True(t, ok)
	require.Same(t, want, got)
}

// TestHandlerHidesToken: the MCP handler (and so every tool) sees a
// placeholder, never the caller's token.
func TestHandlerHidesToken(t *testing.T) {
	env := transporttest.New(t)
	var seen string
	h := mcpgo.Handler(env.Verifier, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("Authorization")
	}))
	tok := env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope)
	req := httptest.NewRequest(http.MethodPost, transporttest.Resource, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, "Bearer audguard-verified", seen)
	require.Equal(t, "Bearer "+tok, req.Header.Get("Authorization"), "the caller's request is not modified")
}
