package mcpgo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/adapters/mcpauth/mcpgo"
	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

// legacy is the protocol version with sessions (2026-07-28 has none).
const legacy = mcp.LATEST_LEGACY_PROTOCOL_VERSION

// bearerFor returns an Authorization value for a token of iss for subject
// sub (no "sub" when empty) with scopes, with extra claims set (nil
// deletes one).
func bearerFor(iss *audtest.Issuer, sub string, scopes []string, extra map[string]any) string {
	c := iss.Claims(transporttest.Resource, scopes...)
	c["sub"] = sub
	if sub == "" {
		delete(c, "sub")
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return "Bearer " + iss.MustSign(audtest.Token{Claims: c})
}

// open runs mcp-go's own client with the legacy protocol through rec:
// start and initialize. It returns the client and the session ID the
// server assigned ("" for none).
func open(t *testing.T, endpoint string, rec *recorder) (*client.Client, string) {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(endpoint, transport.WithHTTPBasicClient(&http.Client{Transport: rec}))
	require.NoError(t, err)
	c := client.NewClient(tr, client.WithProtocolVersion(legacy))
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Start(t.Context()))
	_, err = c.Initialize(t.Context(), mcp.InitializeRequest{})
	require.NoError(t, err)
	return c, tr.GetSessionId()
}

// subject calls whoami and returns the subject it answers.
func subject(ctx context.Context, c *client.Client) (string, error) {
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "whoami"}})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) != 1 {
		return "", fmt.Errorf("tool error: %v", res.Content)
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		return "", fmt.Errorf("content %T", res.Content[0])
	}
	return tc.Text, nil
}

// rawResult is the answer to a hand-made request.
type rawResult struct {
	status  int
	session string // Mcp-Session-Id of the answer
	body    string
}

// raw sends a hand-made request of the legacy protocol: POST with body,
// GET (an event stream, closed once its header arrived) or DELETE, with
// the session ID (none when "") and the Authorization value.
func raw(t *testing.T, endpoint, method, body, session, authorization string) rawResult {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacy)
	req.Header.Set("Authorization", authorization)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	r := rawResult{status: resp.StatusCode, session: resp.Header.Get("Mcp-Session-Id")}
	if method != http.MethodGet || resp.StatusCode != http.StatusOK {
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		r.body = string(b)
	}
	return r
}

const (
	callWhoamiBody = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
	initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + legacy + `","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`
)

// sessionModes are mcp-go's modes that hand out session IDs: the default
// (IDs checked for their form only) and stateful.
var sessionModes = []struct {
	name string
	opts []server.StreamableHTTPOption
}{
	{name: "default session IDs"},
	{name: "stateful", opts: []server.StreamableHTTPOption{server.WithStateful(true)}},
}

// TestSessionBoundToUser (MCP security best practices, session
// hijacking): a session belongs to the user who initialized it. Another
// user's valid token, of the same issuer or of another, is refused with
// 403 and a fixed body whatever the method; its owner's refreshed token
// (other scopes) keeps working, and the owner's session survives the
// attempts.
func TestSessionBoundToUser(t *testing.T) {
	for _, mode := range sessionModes {
		t.Run(mode.name, func(t *testing.T) {
			env := transporttest.New(t)
			other := audtest.NewIssuer(t, audtest.Options{})
			v, err := middleware.New(middleware.Config{
				Resource: transporttest.Resource,
				Issuers: []middleware.Issuer{
					{URL: env.Issuer.URL(), Keys: env.Issuer.KeySet()},
					{URL: other.URL(), Keys: other.KeySet()},
				},
				Scopes: []string{transporttest.Scope},
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = v.Close() })
			endpoint := serveWith(t, v, mode.opts) + "/files"

			rec := &recorder{}
			rec.setAuthorization(bearerFor(env.Issuer, "alice", []string{transporttest.Scope}, nil))
			alice, session := open(t, endpoint, rec)
			require.NotEmpty(t, session)

			tests := []struct {
				name          string
				method        string
				authorization string
				session       string
				wantStatus    int
				wantBody      string
			}{
				{name: "owner", method: http.MethodPost, authorization: bearerFor(env.Issuer, "alice", []string{transporttest.Scope}, nil), session: session, wantStatus: http.StatusOK},
				{name: "owner's refreshed token with other scopes", method: http.MethodPost, authorization: bearerFor(env.Issuer, "alice", []string{transporttest.Scope, "files:write"}, nil), session: session, wantStatus: http.StatusOK},
				{name: "owner's event stream", method: http.MethodGet, authorization: bearerFor(env.Issuer, "alice", []string{transporttest.Scope}, nil), session: session, wantStatus: http.StatusOK},
				{name: "another subject", method: http.MethodPost, authorization: bearerFor(env.Issuer, "mallory", []string{transporttest.Scope}, nil), session: session, wantStatus: http.StatusForbidden, wantBody: "session user mismatch\n"},
				{name: "same subject of another issuer", method: http.MethodPost, authorization: bearerFor(other, "alice", []string{transporttest.Scope}, nil), session: session, wantStatus: http.StatusForbidden, wantBody: "session user mismatch\n"},
				{name: "another subject with the owner's client", method: http.MethodPost, authorization: bearerFor(env.Issuer, "mallory", []string{transporttest.Scope}, map[string]any{"client_id": "audtest-client"}), session: session, wantStatus: http.StatusForbidden, wantBody: "session user mismatch\n"},
				{name: "another subject's event stream", method: http.MethodGet, authorization: bearerFor(env.Issuer, "mallory", []string{transporttest.Scope}, nil), session: session, wantStatus: http.StatusForbidden, wantBody: "session user mismatch\n"},
				{name: "another subject's delete", method: http.MethodDelete, authorization: bearerFor(env.Issuer, "mallory", []string{transporttest.Scope}, nil), session: session, wantStatus: http.StatusForbidden, wantBody: "session user mismatch\n"},
				{name: "unknown session", method: http.MethodPost, authorization: bearerFor(env.Issuer, "alice", []string{transporttest.Scope}, nil), session: "mcp-session-00000000-0000-4000-8000-000000000000", wantStatus: http.StatusNotFound, wantBody: "session not found\n"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					body := ""
					if tt.method == http.MethodPost {
						body = callWhoamiBody
					}
					got := raw(t, endpoint, tt.method, body, tt.session, tt.authorization)
					require.Equal(t, tt.wantStatus, got.status, got.body)
					if tt.wantStatus == http.StatusOK {
						if tt.method == http.MethodPost {
							require.Contains(t, got.body, `"alice"`)
						}
						return
					}
					require.Equal(t, tt.wantBody, got.body, "fixed body")
					require.NotContains(t, got.body, tt.session)
				})
			}

			got, err := subject(t.Context(), alice)
			require.NoError(t, err, "the owner's session survived")
			require.Equal(t, "alice", got)
		})
	}
}

// TestSessionEndsOnDelete: the owner's DELETE (mcp-go's client sends one on
// Close) ends the binding, so the session ID is unknown afterwards, for
// its owner and everybody else, even where mcp-go itself would accept it
// (default mode checks IDs for their form only).
func TestSessionEndsOnDelete(t *testing.T) {
	for _, mode := range sessionModes {
		t.Run(mode.name, func(t *testing.T) {
			env := transporttest.New(t)
			endpoint := serveWith(t, env.Verifier, mode.opts) + "/files"
			alice := bearerFor(env.Issuer, "alice", nil, nil)
			rec := &recorder{}
			rec.setAuthorization(alice)
			c, session := open(t, endpoint, rec)
			require.NotEmpty(t, session)
			require.NoError(t, c.Close())
			rec.mu.Lock()
			require.Zero(t, rec.status, "DELETE accepted")
			rec.mu.Unlock()

			for _, authorization := range []string{alice, bearerFor(env.Issuer, "mallory", nil, nil)} {
				got := raw(t, endpoint, http.MethodPost, callWhoamiBody, session, authorization)
				require.Equal(t, http.StatusNotFound, got.status)
				require.Equal(t, "session not found\n", got.body)
			}

			_, fresh := open(t, endpoint, rec)
			require.NotEmpty(t, fresh, "a new session")
			require.NotEqual(t, session, fresh)
		})
	}
}

// TestStatelessUnaffected: without session IDs (mcp-go's stateless mode,
// or the 2026-07-28 protocol in any mode) there is nothing to bind: every
// user's requests are served, and nothing is remembered for them.
func TestStatelessUnaffected(t *testing.T) {
	tests := []struct {
		name     string
		opts     []server.StreamableHTTPOption
		protocol string
	}{
		{name: "stateless, legacy protocol", opts: []server.StreamableHTTPOption{server.WithStateLess(true)}, protocol: legacy},
		{name: "stateless, newest protocol", opts: []server.StreamableHTTPOption{server.WithStateLess(true)}, protocol: mcp.LATEST_PROTOCOL_VERSION},
		{name: "stateful, newest protocol", opts: []server.StreamableHTTPOption{server.WithStateful(true)}, protocol: mcp.LATEST_PROTOCOL_VERSION},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := transporttest.New(t)
			// One session at most: were stateless requests remembered, the
			// second user could not be served alongside the first.
			endpoint := serveOptions(t, env.Verifier, tt.opts, mcpgo.Options{MaxSessions: 1}) + "/files"
			var clients []*client.Client
			for _, user := range []string{"alice", "bob", "alice"} {
				rec := &recorder{}
				rec.setAuthorization(bearerFor(env.Issuer, user, nil, nil))
				tr, err := transport.NewStreamableHTTP(endpoint, transport.WithHTTPBasicClient(&http.Client{Transport: rec}))
				require.NoError(t, err)
				c := client.NewClient(tr, client.WithProtocolVersion(tt.protocol))
				t.Cleanup(func() { _ = c.Close() })
				require.NoError(t, c.Start(t.Context()))
				_, err = c.Initialize(t.Context(), mcp.InitializeRequest{})
				require.NoError(t, err)
				clients = append(clients, c)
				got, err := subject(t.Context(), c)
				require.NoError(t, err)
				require.Equal(t, user, got)
				require.Empty(t, tr.GetSessionId())
			}
			for i, c := range clients {
				got, err := subject(t.Context(), c)
				require.NoError(t, err)
				require.Equal(t, []string{"alice", "bob", "alice"}[i], got)
			}
		})
	}
}

// TestSessionBound: the handler remembers at most Options.MaxSessions
// sessions. A new session makes it forget the least recently used idle
// one (answered 404 afterwards, so its client starts again); while every
// remembered session has a request in flight (an open event stream), a
// new session is refused with 503 and its ID is not handed out.
func TestSessionBound(t *testing.T) {
	env := transporttest.New(t)
	endpoint := serveOptions(t, env.Verifier, []server.StreamableHTTPOption{server.WithStateful(true)}, mcpgo.Options{MaxSessions: 2}) + "/files"
	alice := bearerFor(env.Issuer, "alice", nil, nil)
	initialize := func() rawResult {
		t.Helper()
		return raw(t, endpoint, http.MethodPost, initializeBody, "", alice)
	}
	var sessions []string
	for range 3 {
		got := initialize()
		require.Equal(t, http.StatusOK, got.status, got.body)
		require.NotEmpty(t, got.session)
		sessions = append(sessions, got.session)
	}
	got := raw(t, endpoint, http.MethodPost, callWhoamiBody, sessions[0], alice)
	require.Equal(t, http.StatusNotFound, got.status, "the least recently used session was forgotten")
	require.Equal(t, "session not found\n", got.body)
	for _, s := range sessions[1:] {
		require.Equal(t, http.StatusOK, raw(t, endpoint, http.MethodPost, callWhoamiBody, s, alice).status)
	}

	// Hold both remembered sessions busy with event streams.
	for _, s := range sessions[1:] {
		holdStream(t, endpoint, s, alice)
	}
	got = initialize()
	require.Equal(t, http.StatusServiceUnavailable, got.status)
	require.Equal(t, "too many sessions\n", got.body)
	require.Empty(t, got.session, "the ID of a session that is not bound never leaves")
	for _, s := range sessions[1:] {
		require.Equal(t, http.StatusOK, raw(t, endpoint, http.MethodPost, callWhoamiBody, s, alice).status, "busy sessions are kept")
	}

	// Ending one makes room.
	require.Equal(t, http.StatusOK, raw(t, endpoint, http.MethodDelete, "", sessions[1], alice).status)
	got = initialize()
	require.Equal(t, http.StatusOK, got.status, got.body)
	require.NotEmpty(t, got.session)
	require.Equal(t, http.StatusOK, raw(t, endpoint, http.MethodPost, callWhoamiBody, got.session, alice).status)
}

// holdStream opens the event stream (GET) of session with authorization
// and keeps it open, the session busy, until the test ends.
func holdStream(t *testing.T, endpoint, session, authorization string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacy)
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestSessionsPerUser (review finding): one user's sessions cannot push
// out another's. A user at Options.MaxSessionsPerUser who starts a new
// session makes the handler forget that user's own least recently used
// idle session, however many sessions the store could hold; a user whose
// sessions are all busy is refused with 429 alone, and everyone else
// still gets new sessions.
func TestSessionsPerUser(t *testing.T) {
	env := transporttest.New(t)
	endpoint := serveOptions(t, env.Verifier, []server.StreamableHTTPOption{server.WithStateful(true)},
		mcpgo.Options{MaxSessions: 4, MaxSessionsPerUser: 2}) + "/files"
	alice, bob := bearerFor(env.Issuer, "alice", nil, nil), bearerFor(env.Issuer, "bob", nil, nil)
	initialize := func(authorization string) string {
		t.Helper()
		got := raw(t, endpoint, http.MethodPost, initializeBody, "", authorization)
		require.Equal(t, http.StatusOK, got.status, got.body)
		require.NotEmpty(t, got.session)
		return got.session
	}
	calls := func(session, authorization string) int {
		t.Helper()
		return raw(t, endpoint, http.MethodPost, callWhoamiBody, session, authorization).status
	}

	aliceSession := initialize(alice)
	var bobSessions []string
	for range 5 { // more than MaxSessions
		bobSessions = append(bobSessions, initialize(bob))
	}
	require.Equal(t, http.StatusOK, calls(aliceSession, alice), "alice's session survived bob's")
	for i, s := range bobSessions {
		want := http.StatusNotFound
		if i >= len(bobSessions)-2 {
			want = http.StatusOK
		}
		require.Equal(t, want, calls(s, bob), "bob's session %d", i)
	}

	// Bob's two sessions busy: only Bob is refused a new one.
	for _, s := range bobSessions[3:] {
		holdStream(t, endpoint, s, bob)
	}
	got := raw(t, endpoint, http.MethodPost, initializeBody, "", bob)
	require.Equal(t, http.StatusTooManyRequests, got.status)
	require.Equal(t, "too many sessions for this user\n", got.body)
	require.Empty(t, got.session, "the ID of a session that is not bound never leaves")
	for _, s := range bobSessions[3:] {
		require.Equal(t, http.StatusOK, calls(s, bob), "busy sessions are kept")
	}
	second := initialize(alice)
	for _, s := range []string{aliceSession, second} {
		require.Equal(t, http.StatusOK, calls(s, alice))
	}
}

// TestSessionsPerUserConcurrent: under -race, users start more sessions
// than their maximum all at once; each keeps exactly its maximum, and a
// bystander's session survives.
func TestSessionsPerUserConcurrent(t *testing.T) {
	const (
		users   = 4
		each    = 6
		perUser = 2
	)
	env := transporttest.New(t)
	endpoint := serveOptions(t, env.Verifier, []server.StreamableHTTPOption{server.WithStateful(true)},
		mcpgo.Options{MaxSessions: 100, MaxSessionsPerUser: perUser}) + "/files"
	carol := bearerFor(env.Issuer, "carol", nil, nil)
	carolSession := raw(t, endpoint, http.MethodPost, initializeBody, "", carol)
	require.Equal(t, http.StatusOK, carolSession.status)

	authorization := make([]string, users)
	for u := range users {
		authorization[u] = bearerFor(env.Issuer, fmt.Sprint("user-", u), nil, nil)
	}
	// send posts body in session (none when "") with authorization and
	// returns the status and session ID of the answer.
	send := func(body, session, authorization string) (int, string, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", legacy)
		req.Header.Set("Authorization", authorization)
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), err
	}
	sessions := make([][]string, users)
	errs := make([]error, users*each)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range errs {
		u := i % users
		wg.Go(func() {
			status, session, err := send(initializeBody, "", authorization[u])
			if err == nil && (status != http.StatusOK || session == "") {
				err = fmt.Errorf("user-%d: initialize answered %d", u, status)
			}
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			sessions[u] = append(sessions[u], session)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	for u := range users {
		live := 0
		for _, s := range sessions[u] {
			status, _, err := send(callWhoamiBody, s, authorization[u])
			require.NoError(t, err)
			require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, status)
			if status == http.StatusOK {
				live++
			}
		}
		require.Equal(t, perUser, live, "user-%d", u)
	}
	require.Equal(t, http.StatusOK, raw(t, endpoint, http.MethodPost, callWhoamiBody, carolSession.session, carol).status)
}

// TestAnonymousTokenRefused: as in the go-sdk adapter, a token naming
// neither subject nor client cannot be bound to a session and is refused
// with 401 invalid_token; a client token (client_id, no sub) is served and
// its session bound to its client.
func TestAnonymousTokenRefused(t *testing.T) {
	env := transporttest.New(t)
	endpoint := serveWith(t, env.Verifier, []server.StreamableHTTPOption{server.WithStateful(true)}) + "/files"

	got := raw(t, endpoint, http.MethodPost, initializeBody, "", bearerFor(env.Issuer, "", nil, map[string]any{"client_id": nil}))
	require.Equal(t, http.StatusUnauthorized, got.status)
	require.Empty(t, got.session)
	require.JSONEq(t, `{"error":"invalid_token","error_description":"The access token claims are not accepted"}`, got.body)

	app1 := bearerFor(env.Issuer, "", nil, map[string]any{"client_id": "app-1"})
	got = raw(t, endpoint, http.MethodPost, initializeBody, "", app1)
	require.Equal(t, http.StatusOK, got.status, got.body)
	require.NotEmpty(t, got.session)
	require.Equal(t, http.StatusOK, raw(t, endpoint, http.MethodPost, callWhoamiBody, got.session, app1).status)
	app2 := bearerFor(env.Issuer, "", nil, map[string]any{"client_id": "app-2"})
	require.Equal(t, http.StatusForbidden, raw(t, endpoint, http.MethodPost, callWhoamiBody, got.session, app2).status)
}

// TestSessionsConcurrent: under -race, users initialize and use their
// sessions concurrently while each also tries the next user's session;
// every user sees only itself, and every attempt is refused.
func TestSessionsConcurrent(t *testing.T) {
	const users = 8
	env := transporttest.New(t)
	endpoint := serveWith(t, env.Verifier, []server.StreamableHTTPOption{server.WithStateful(true)}) + "/files"
	authorization := make([]string, users)
	for i := range users {
		authorization[i] = bearerFor(env.Issuer, fmt.Sprint("user-", i), nil, nil)
	}

	type opened struct {
		c       *client.Client
		session string
	}
	sessions := make([]opened, users)
	errs := make([]error, users)
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			rec := &recorder{}
			rec.setAuthorization(authorization[i])
			tr, err := transport.NewStreamableHTTP(endpoint, transport.WithHTTPBasicClient(&http.Client{Transport: rec}))
			if err != nil {
				errs[i] = err
				return
			}
			c := client.NewClient(tr, client.WithProtocolVersion(legacy))
			if err := c.Start(t.Context()); err != nil {
				errs[i] = errors.Join(err, c.Close())
				return
			}
			if _, err := c.Initialize(t.Context(), mcp.InitializeRequest{}); err != nil {
				errs[i] = errors.Join(err, c.Close())
				return
			}
			sessions[i] = opened{c: c, session: tr.GetSessionId()}
		})
	}
	wg.Wait()
	for i := range users {
		require.NoError(t, errs[i])
		c := sessions[i].c
		t.Cleanup(func() { _ = c.Close() })
		require.NotEmpty(t, sessions[i].session)
	}

	for i := range users {
		wg.Go(func() {
			victim := sessions[(i+1)%users].session
			for range 5 {
				got, err := subject(t.Context(), sessions[i].c)
				if err == nil && got != fmt.Sprint("user-", i) {
					err = fmt.Errorf("user-%d saw %q", i, got)
				}
				if err == nil {
					err = attempt(t.Context(), endpoint, victim, authorization[i])
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// attempt calls whoami in another user's session and reports an error
// unless it is refused with 403.
func attempt(ctx context.Context, endpoint, session, authorization string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(callWhoamiBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacy)
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var body json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusForbidden {
		return fmt.Errorf("another user's session answered %d: %s", resp.StatusCode, body)
	}
	return nil
}
