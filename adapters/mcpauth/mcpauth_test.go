package mcpauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/adapters/mcpauth"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// identity is what the whoami tool reports about the caller.
type identity struct {
	Subject       string    `json:"subject"`        // from mcpauth.Claims(req.Extra.TokenInfo)
	ClaimsScope   string    `json:"claims_scope"`   // from mcpauth.Claims(req.Extra.TokenInfo)
	UserID        string    `json:"user_id"`        // TokenInfo.UserID
	Scopes        []string  `json:"scopes"`         // TokenInfo.Scopes
	Expiration    time.Time `json:"expiration"`     // TokenInfo.Expiration
	ContextClaims bool      `json:"context_claims"` // middleware.ClaimsFromContext(ctx) found claims
	Authorization string    `json:"authorization"`  // what the tool can read of the header
}

func whoami(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, identity, error) {
	var id identity
	if req.Extra == nil || req.Extra.TokenInfo == nil {
		return nil, id, nil
	}
	ti := req.Extra.TokenInfo
	id.UserID, id.Scopes, id.Expiration = ti.UserID, ti.Scopes, ti.Expiration
	if c, ok := mcpauth.Claims(ti); ok {
		id.Subject, id.ClaimsScope = c.Subject, c.Scope
	}
	_, id.ContextClaims = middleware.ClaimsFromContext(ctx)
	id.Authorization = req.Extra.Header.Get("Authorization")
	return nil, id, nil
}

// newMCPServer returns an SDK server with two tools reporting the
// caller: whoami, and write, for which tests require an extra scope.
func newMCPServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "audguard-test", Version: "v0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "reports the caller"}, whoami)
	mcp.AddTool(s, &mcp.Tool{Name: "write", Description: "reports the caller"}, whoami)
	return s
}

// serve starts an HTTP server with the SDK's streamable handler behind
// mcpauth.Handler and returns its base URL.
func serve(t *testing.T, v *middleware.Verifier, opts *mcp.StreamableHTTPOptions, scopes ...string) string {
	t.Helper()
	return serveWith(t, v, opts, mcpauth.Options{Scopes: scopes})
}

// serveWith is serve with mcpauth.HandlerWithOptions.
func serveWith(t *testing.T, v *middleware.Verifier, opts *mcp.StreamableHTTPOptions, o mcpauth.Options) string {
	t.Helper()
	s := newMCPServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)
	srv := httptest.NewServer(mcpauth.HandlerWithOptions(v, h, o))
	t.Cleanup(srv.Close)
	return srv.URL
}

// callWhoami posts a tools/call of whoami to a stateless JSON-response
// server.
func callWhoami(t *testing.T, url string, authorization []string) (*http.Response, []byte) {
	t.Helper()
	return callTool(t, url, "whoami", authorization)
}

// callTool posts a tools/call of tool to a stateless JSON-response server.
func callTool(t *testing.T, url, tool string, authorization []string) (*http.Response, []byte) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp, buf.Bytes()
}

// TestTransportMatrix: a real go-sdk streamable HTTP server behind
// mcpauth.Handler gives the shared matrix's answers; on success the tool
// sees the subject through the SDK's TokenInfo.
func TestTransportMatrix(t *testing.T) {
	env := transporttest.New(t)
	base := serve(t, env.Verifier, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, transporttest.Scope)

	env.Run(t, func(t *testing.T, authorization []string) transporttest.Result {
		resp, body := callWhoami(t, base+"/files", authorization)
		challenges := resp.Header.Values("WWW-Authenticate")
		require.LessOrEqual(t, len(challenges), 1)
		r := transporttest.Result{Status: resp.StatusCode}
		if len(challenges) == 1 {
			r.Challenge = challenges[0]
		}
		if resp.StatusCode == http.StatusOK {
			var rpc struct {
				Result struct {
					StructuredContent identity `json:"structuredContent"`
				} `json:"result"`
			}
			require.NoError(t, json.Unmarshal(body, &rpc), "%s", body)
			r.Subject = rpc.Result.StructuredContent.Subject
		} else {
			require.NotContains(t, string(body), "audguard:", "error text leaked")
		}
		return r
	})
}
