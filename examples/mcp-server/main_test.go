package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/examples/internal/smoke"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var postLine = regexp.MustCompile(`curl -i -X POST .*?(?:-H 'Authorization: Bearer ([A-Za-z0-9_.-]+)' )?-d '([^']+)' (\S+)\s+# expect (\d{3})`)

// bearer adds a token to every request of the SDK client.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// TestSmoke runs the mcp-server example with the in-process issuer,
// performs every curl line it prints, and connects the SDK's own client
// with the token of the line that expects 200.
func TestSmoke(t *testing.T) {
	p := smoke.Start(t, run, "Fresh tokens")
	out := p.Output()
	require.Equal(t, 1, smoke.CheckCurlLines(t, out), "metadata line")

	lines := postLine.FindAllStringSubmatch(out, -1)
	require.Len(t, lines, 4)
	var token, endpoint string
	for _, m := range lines {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, m[3], strings.NewReader(m[2]))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if m[1] != "" {
			req.Header.Set("Authorization", "Bearer "+m[1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		want, _ := strconv.Atoi(m[4])
		require.Equal(t, want, resp.StatusCode, "line %q", m[0])
		if want == http.StatusOK {
			token, endpoint = m[1], m[3]
			endSession(t, endpoint, token, resp.Header.Get("Mcp-Session-Id"))
		} else {
			require.Contains(t, resp.Header.Get("WWW-Authenticate"), `resource_metadata="`)
		}
	}

	client := mcp.NewClient(&mcp.Implementation{Name: "smoke", Version: "v0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: bearer(token)},
	}, nil)
	require.NoError(t, err)
	defer func() { _ = cs.Close() }()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "whoami"})
	require.NoError(t, err)
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var who whoamiResult
	require.NoError(t, json.Unmarshal(raw, &who))
	require.Equal(t, "user-1", who.Subject)
	require.Equal(t, []string{"mcp:tools"}, who.Scopes)
}

// endSession deletes the session a curl line created, as a client would.
func endSession(t *testing.T, endpoint, token, id string) {
	t.Helper()
	require.NotEmpty(t, id, "session ID")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, endpoint, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Session-Id", id)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Less(t, resp.StatusCode, 300)
}

// TestCrossOriginRefused: a cross-origin browser POST is refused before
// authentication (attack A15).
func TestCrossOriginRefused(t *testing.T) {
	p := smoke.Start(t, run, "Fresh tokens")
	m := postLine.FindStringSubmatch(p.Output())
	require.NotNil(t, m)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, m[3], strings.NewReader(m[2]))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, resp.Header.Get("WWW-Authenticate"))
}
