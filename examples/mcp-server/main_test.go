package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/audguard/audguard/examples/internal/smoke"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	postLine  = regexp.MustCompile(`curl -i -X POST .*?(?:-H 'Authorization: Bearer ([A-Za-z0-9_.-]+)' )?-d '([^']+)' (\S+)\s+# expect (\d{3})`)
	tokenLine = regexp.MustCompile(`curl -s -u (\S+):(\S+) -d grant_type=client_credentials -d scope=\S+ --data-urlencode resource=(\S+) (\S+)`)
)

// stepUp is the SDK client's OAuthHandler: it starts with a token and, on
// 403 insufficient_scope, gets one with the challenged scopes from the
// token endpoint the example printed (client credentials, RFC 8707
// resource), as an MCP client steps up.
type stepUp struct {
	tokenURL, clientID, secret, resource string

	mu     sync.Mutex
	token  string
	scopes []string // the scopes asked for at each step-up
}

func (s *stepUp) TokenSource(context.Context) (oauth2.TokenSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.token, TokenType: "Bearer"}), nil
}

func (s *stepUp) Authorize(ctx context.Context, _ *http.Request, resp *http.Response) error {
	defer func() { _ = resp.Body.Close() }()
	m := regexp.MustCompile(`error="insufficient_scope".*scope="([^"]*)"`).FindStringSubmatch(resp.Header.Get("WWW-Authenticate"))
	if resp.StatusCode != http.StatusForbidden || m == nil {
		return errors.New("not a step-up challenge")
	}
	token, err := s.fetch(ctx, m[1])
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.scopes = token, append(s.scopes, m[1])
	return nil
}

// fetch gets a token for scope from the token endpoint.
func (s *stepUp) fetch(ctx context.Context, scope string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {s.resource}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.clientID, s.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %d", resp.StatusCode)
	}
	return tok.AccessToken, nil
}

// checkPostLines performs every POST curl line in out, requires the status
// it announces, and returns the token and endpoint of the line that
// expects 200.
func checkPostLines(t *testing.T, out string) (token, endpoint string) {
	t.Helper()
	lines := postLine.FindAllStringSubmatch(out, -1)
	require.Len(t, lines, 5)
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
			continue
		}
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), `resource_metadata="`)
		if strings.Contains(m[2], "admin_status") {
			require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
			require.Contains(t, resp.Header.Get("WWW-Authenticate"), `scope="mcp:tools mcp:admin"`)
		}
	}
	require.NotEmpty(t, endpoint)
	return token, endpoint
}

// TestSmoke runs the mcp-server example with the in-process issuer and
// performs every curl line it prints. Then the SDK's own client, with a
// token for mcp:tools from the token endpoint the example printed, runs
// whoami, and admin_status after stepping up to mcp:admin on the server's
// challenge, in the same session (bound to the same client).
func TestSmoke(t *testing.T) {
	p := smoke.Start(t, run, "Fresh tokens")
	out := p.Output()
	require.Equal(t, 1, smoke.CheckCurlLines(t, out), "metadata line")
	_, endpoint := checkPostLines(t, out)
	tl := tokenLine.FindStringSubmatch(out)
	require.NotNil(t, tl, "token endpoint line")

	handler := &stepUp{clientID: tl[1], secret: tl[2], resource: tl[3], tokenURL: tl[4]}
	token, err := handler.fetch(t.Context(), "mcp:tools")
	require.NoError(t, err)
	handler.token = token
	client := mcp.NewClient(&mcp.Implementation{Name: "smoke", Version: "v0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:     endpoint,
		OAuthHandler: handler,
	}, nil)
	require.NoError(t, err)
	defer func() { _ = cs.Close() }()

	var who whoamiResult
	callTool(t, cs, "whoami", &who)
	require.Equal(t, "audtest-client", who.Subject)
	require.Equal(t, []string{"mcp:tools"}, who.Scopes)

	var status statusResult
	callTool(t, cs, "admin_status", &status)
	require.Equal(t, statusResult{Status: "ok", Admin: "audtest-client"}, status)
	handler.mu.Lock()
	require.Equal(t, []string{"mcp:tools mcp:admin"}, handler.scopes, "one step-up, with every scope the call needs")
	handler.mu.Unlock()

	callTool(t, cs, "whoami", &who)
	require.Equal(t, []string{"mcp:tools", "mcp:admin"}, who.Scopes, "the tool sees the current token")
}

// callTool calls tool and decodes its structured result into dst.
func callTool(t *testing.T, cs *mcp.ClientSession, tool string, dst any) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool})
	require.NoError(t, err)
	require.False(t, res.IsError)
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, dst))
}

// TestResourcePath: with a -resource whose path is not /mcp, the example
// serves and prints the endpoint at that path.
func TestResourcePath(t *testing.T) {
	p := smoke.Start(t, run, "Fresh tokens", "-resource", "http://127.0.0.1:8095/api/mcp", "-allow-http-loopback")
	out := p.Output()
	require.Equal(t, 1, smoke.CheckCurlLines(t, out), "metadata line")
	token, endpoint := checkPostLines(t, out)
	u, err := url.Parse(endpoint)
	require.NoError(t, err)
	require.Equal(t, "/api/mcp", u.Path)
	require.Contains(t, out, "  endpoint:  "+endpoint+"\n")

	client := mcp.NewClient(&mcp.Implementation{Name: "smoke", Version: "v0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: bearer(token)},
	}, nil)
	require.NoError(t, err)
	defer func() { _ = cs.Close() }()
	var who whoamiResult
	callTool(t, cs, "whoami", &who)
	require.Equal(t, "user-1", who.Subject)
}

// bearer adds a token to every request of the SDK client.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
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
