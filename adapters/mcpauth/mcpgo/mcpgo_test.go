package mcpgo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
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

// scope answers the "scope" claim of the claims in the tool's context.
func scope(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	c, ok := middleware.ClaimsFromContext(ctx)
	if !ok {
		return mcp.NewToolResultError("no claims in the context"), nil
	}
	return mcp.NewToolResultText(c.Scope), nil
}

func serve(t *testing.T, v *middleware.Verifier, scopes ...string) string {
	t.Helper()
	return serveWith(t, v, nil, scopes...)
}

// serveWith is serve with options for mcp-go's streamable HTTP server.
func serveWith(t *testing.T, v *middleware.Verifier, opts []server.StreamableHTTPOption, scopes ...string) string {
	t.Helper()
	return serveOptions(t, v, opts, mcpgo.Options{Scopes: scopes})
}

// serveOptions is serveWith with mcpgo.HandlerWithOptions.
func serveOptions(t *testing.T, v *middleware.Verifier, opts []server.StreamableHTTPOption, o mcpgo.Options) string {
	t.Helper()
	s := server.NewMCPServer("audguard-test", "v0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami"), whoami)
	s.AddTool(mcp.NewTool("scope"), scope)
	h := server.NewStreamableHTTPServer(s, append([]server.StreamableHTTPOption{server.WithHTTPContextFunc(mcpgo.ContextFunc)}, opts...)...)
	srv := httptest.NewServer(mcpgo.HandlerWithOptions(v, h, o))
	t.Cleanup(srv.Close)
	return srv.URL
}

// recorder sends the given Authorization values with every request of the
// mcp-go client (they can be swapped between calls) and records the first
// refusal it sees and the session IDs the server assigned.
type recorder struct {
	mu            sync.Mutex
	authorization []string
	status        int
	challenge     []string
	sessions      []string
}

func (r *recorder) setAuthorization(a ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authorization = a
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	r.mu.Lock()
	for _, a := range r.authorization {
		req.Header.Add("Authorization", a)
	}
	r.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" && !slices.Contains(r.sessions, id) {
		r.sessions = append(r.sessions, id)
	}
	if resp.StatusCode >= 400 && r.status == 0 {
		r.status, r.challenge = resp.StatusCode, resp.Header.Values("WWW-Authenticate")
	}
	return resp, err
}

// callWhoami runs mcp-go's own client: start, initialize, call whoami.
func callWhoami(t *testing.T, endpoint string, authorization []string) transporttest.Result {
	t.Helper()
	rec := &recorder{}
	rec.setAuthorization(authorization...)
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

// TestToolSeesCurrentToken: mcp-go builds a tool's context from each
// HTTP request (ContextFunc runs per request), so when the client swaps
// its token within one session (same subject, other scopes) the tool sees
// the current token's claims, in every session mode of the server and
// with the legacy (session) and the 2026-07-28 (sessionless) protocol.
func TestToolSeesCurrentToken(t *testing.T) {
	tests := []struct {
		name        string
		opts        []server.StreamableHTTPOption
		protocol    string // "" for the client's default, the newest
		wantSession bool
	}{
		{name: "default session IDs, legacy protocol", protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, wantSession: true},
		{name: "stateful, legacy protocol", opts: []server.StreamableHTTPOption{server.WithStateful(true)}, protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, wantSession: true},
		{name: "stateless, legacy protocol", opts: []server.StreamableHTTPOption{server.WithStateLess(true)}, protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION},
		{name: "stateful, newest protocol", opts: []server.StreamableHTTPOption{server.WithStateful(true)}},
		{name: "stateless, newest protocol", opts: []server.StreamableHTTPOption{server.WithStateLess(true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := transporttest.New(t)
			base := serveWith(t, env.Verifier, tt.opts, transporttest.Scope)
			rec := &recorder{}
			rec.setAuthorization("Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope))
			tr, err := transport.NewStreamableHTTP(base+"/files", transport.WithHTTPBasicClient(&http.Client{Transport: rec}))
			require.NoError(t, err)
			c := client.NewClient(tr, client.WithProtocolVersion(tt.protocol))
			t.Cleanup(func() { _ = c.Close() })
			require.NoError(t, c.Start(t.Context()))
			_, err = c.Initialize(t.Context(), mcp.InitializeRequest{})
			require.NoError(t, err)
			callScope := func() string {
				res, err := c.CallTool(t.Context(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "scope"}})
				require.NoError(t, err)
				require.False(t, res.IsError, "tool error: %v", res.Content)
				require.Len(t, res.Content, 1)
				tc, ok := res.Content[0].(mcp.TextContent)
				require.True(t, ok)
				return tc.Text
			}
			require.Equal(t, transporttest.Scope, callScope())

			rec.setAuthorization("Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope, "files:write"))
			require.Equal(t, transporttest.Scope+" files:write", callScope(), "claims of the current token")
			require.Equal(t, transporttest.Scope+" files:write", callScope())

			rec.mu.Lock()
			defer rec.mu.Unlock()
			require.Zero(t, rec.status)
			if tt.wantSession {
				require.Len(t, rec.sessions, 1, "one session throughout")
			} else {
				require.Empty(t, rec.sessions)
			}
		})
	}
}

// TestToolScopes (MCP 2026-07-28 §11.1.1): mcp-go's own client calling a
// tool that needs a scope beyond the endpoint's gets 403
// insufficient_scope listing every scope the call requires; with a token
// that has it, the same client runs the tool.
func TestToolScopes(t *testing.T) {
	env := transporttest.New(t)
	base := serveOptions(t, env.Verifier, nil, mcpgo.Options{
		Scopes:     []string{transporttest.Scope},
		ToolScopes: map[string][]string{"scope": {"files:write"}},
	})
	rec := &recorder{}
	rec.setAuthorization("Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope))
	c, err := client.NewStreamableHttpClient(base+"/files", transport.WithHTTPBasicClient(&http.Client{Transport: rec}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Start(t.Context()))
	_, err = c.Initialize(t.Context(), mcp.InitializeRequest{})
	require.NoError(t, err)
	res, err := c.CallTool(t.Context(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "whoami"}})
	require.NoError(t, err, "tools without a requirement run")
	require.False(t, res.IsError)

	_, err = c.CallTool(t.Context(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "scope"}})
	require.Error(t, err)
	rec.mu.Lock()
	status, challenge := rec.status, rec.challenge
	rec.mu.Unlock()
	require.Equal(t, http.StatusForbidden, status)
	require.Len(t, challenge, 1)
	want := env.Verifier.ErrorResponse(&middleware.ScopeError{Required: []string{transporttest.Scope, "files:write"}}, transporttest.Scope, "files:write")
	require.Equal(t, want.Challenge, challenge[0])
	params, err := transporttest.ParseChallenge(challenge[0])
	require.NoError(t, err)
	require.Equal(t, "insufficient_scope", params["error"])
	require.Equal(t, transporttest.Scope+" files:write", params["scope"], "every scope the call requires")

	rec.setAuthorization("Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope, "files:write"))
	res, err = c.CallTool(t.Context(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "scope"}})
	require.NoError(t, err)
	require.False(t, res.IsError, "tool error: %v", res.Content)
	require.Equal(t, mcp.TextContent{Type: "text", Text: transporttest.Scope + " files:write"}, res.Content[0])
}

// TestToolScopesInvalid: an invalid tool scope refuses every request to
// the MCP endpoint with 500; the metadata stays public.
func TestToolScopesInvalid(t *testing.T) {
	env := transporttest.New(t)
	h := mcpgo.HandlerWithOptions(env.Verifier, http.NotFoundHandler(), mcpgo.Options{ToolScopes: map[string][]string{"scope": {"offline_access"}}})
	req := httptest.NewRequest(http.MethodPost, transporttest.Resource, nil)
	req.Header.Set("Authorization", "Bearer "+env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Empty(t, rec.Header().Get("WWW-Authenticate"))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, env.Verifier.MetadataURL(), nil))
	require.Equal(t, http.StatusOK, rec.Code)
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
