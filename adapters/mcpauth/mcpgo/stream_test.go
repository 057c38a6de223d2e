package mcpgo_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/adapters/mcpauth/mcpgo"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

// allModes are mcp-go's session modes: stateless (no session IDs) and the
// two that hand out IDs.
var allModes = append([]struct {
	name string
	opts []server.StreamableHTTPOption
}{
	{name: "stateless", opts: []server.StreamableHTTPOption{server.WithStateLess(true)}},
}, sessionModes...)

// TestStreamWithoutSessionRefused: a GET without a session ID (a
// standalone event stream outside any session) is answered 405 with an
// Allow header and a fixed body in every mode, resuming (Last-Event-ID)
// included; mcp-go never sees it. A GET on a bound session is still
// served (TestSessionBoundToUser).
func TestStreamWithoutSessionRefused(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
	}{
		{name: "no session header", header: http.Header{}},
		{name: "empty session header", header: http.Header{"Mcp-Session-Id": {""}}},
		{name: "resuming", header: http.Header{"Last-Event-Id": {"1"}}},
		{name: "newest protocol", header: http.Header{"Mcp-Protocol-Version": {mcp.LATEST_PROTOCOL_VERSION}}},
	}
	for _, mode := range allModes {
		t.Run(mode.name, func(t *testing.T) {
			env := transporttest.New(t)
			endpoint := serveWith(t, env.Verifier, mode.opts) + "/files"
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint, nil)
					require.NoError(t, err)
					req.Header.Set("Accept", "text/event-stream")
					req.Header.Set("Mcp-Protocol-Version", legacy)
					for k, v := range tt.header {
						req.Header[k] = v
					}
					req.Header.Set("Authorization", bearerFor(env.Issuer, "alice", nil, nil))
					resp, err := http.DefaultClient.Do(req)
					require.NoError(t, err)
					defer func() { _ = resp.Body.Close() }()
					require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
					body, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					require.Equal(t, "POST, DELETE", resp.Header.Get("Allow"))
					require.Equal(t, "no event stream without a session\n", string(body))
					require.Empty(t, resp.Header.Get("Mcp-Session-Id"))
				})
			}
		})
	}
}

// TestStatelessNotificationsStayWithTheirUser (review finding): in
// mcp-go's stateless mode every session ID is "", so a standalone GET
// stream was registered under "" and every later request without an ID,
// whoever made it, ran on that stream's session: the notifications a tool
// sent its caller reached the stream's owner instead. With the GET
// refused, each user's POST keeps its own session and gets its own
// notifications, and no other user's.
func TestStatelessNotificationsStayWithTheirUser(t *testing.T) {
	const notifications = 5
	env := transporttest.New(t)
	s := server.NewMCPServer("audguard-test", "v0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("notify"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c, ok := middleware.ClaimsFromContext(ctx)
		if !ok {
			return mcp.NewToolResultError("no claims in the context"), nil
		}
		for range notifications {
			err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/message",
				map[string]any{"level": "info", "data": "private to " + c.Subject})
			if err != nil {
				return nil, err
			}
		}
		return mcp.NewToolResultText("ok"), nil
	})
	h := server.NewStreamableHTTPServer(s, server.WithHTTPContextFunc(mcpgo.ContextFunc), server.WithStateLess(true))
	srv := httptest.NewServer(mcpgo.Handler(env.Verifier, h))
	t.Cleanup(srv.Close)
	endpoint := srv.URL + "/files"

	// Alice opens a standalone event stream; there is no session ID to
	// send in stateless mode.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacy)
	req.Header.Set("Authorization", bearerFor(env.Issuer, "alice", nil, nil))
	stream, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = stream.Body.Close() }()
	// What the stream carries up to the marker broadcast below, if it was
	// opened at all.
	aliceSaw := make(chan []string, 1)
	if stream.StatusCode == http.StatusOK {
		go func() {
			var data []string
			sc := bufio.NewScanner(stream.Body)
			for sc.Scan() && !strings.Contains(sc.Text(), "notifications/marker") {
				if strings.HasPrefix(sc.Text(), "data:") {
					data = append(data, sc.Text())
				}
			}
			aliceSaw <- data
		}()
	} else {
		aliceSaw <- nil
	}

	// Bob calls the tool, without a session ID.
	bob := raw(t, endpoint, http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"notify","arguments":{}}}`, "", bearerFor(env.Issuer, "bob", nil, nil))
	require.Equal(t, http.StatusOK, bob.status, bob.body)

	// Bob's notifications were queued before his answer was complete, so a
	// broadcast sent now reaches a stream after any of them.
	s.SendNotificationToAllClients("notifications/marker", nil)
	var saw []string
	select {
	case saw = <-aliceSaw:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's stream never received the marker")
	}
	for _, line := range saw {
		require.NotContains(t, line, "private to bob", "bob's notification on alice's stream")
	}
	// mcp-go may drop the one notification its forwarder holds when the
	// request ends; every other one reaches the caller.
	require.GreaterOrEqual(t, strings.Count(bob.body, "private to bob"), notifications-1, "bob gets his notifications: %s", bob.body)
	require.Equal(t, http.StatusMethodNotAllowed, stream.StatusCode)
}

// TestStatelessClientListening: mcp-go's client asked to keep an event
// stream open (WithContinuousListening) against a stateless server takes
// the 405 as "no stream offered" and works on.
func TestStatelessClientListening(t *testing.T) {
	env := transporttest.New(t)
	endpoint := serveWith(t, env.Verifier, []server.StreamableHTTPOption{server.WithStateLess(true)}) + "/files"
	rec := &recorder{}
	rec.setAuthorization(bearerFor(env.Issuer, "alice", nil, nil))
	//lint:ignore SA1019 clients of the legacy protocol open the standalone stream, which is what this test is about
	listen := transport.WithContinuousListening()
	tr, err := transport.NewStreamableHTTP(endpoint, transport.WithHTTPBasicClient(&http.Client{Transport: rec}), listen)
	require.NoError(t, err)
	c := client.NewClient(tr, client.WithProtocolVersion(legacy))
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Start(t.Context()))
	_, err = c.Initialize(t.Context(), mcp.InitializeRequest{})
	require.NoError(t, err)
	for range 2 {
		got, err := subject(t.Context(), c)
		require.NoError(t, err)
		require.Equal(t, "alice", got)
	}
}

// TestDeleteWithoutSessionRefused: a DELETE without a session ID has no
// session to end; it is answered 400 with a fixed body in every mode and
// never reaches mcp-go.
func TestDeleteWithoutSessionRefused(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode.name, func(t *testing.T) {
			env := transporttest.New(t)
			endpoint := serveWith(t, env.Verifier, mode.opts) + "/files"
			got := raw(t, endpoint, http.MethodDelete, "", "", bearerFor(env.Issuer, "alice", nil, nil))
			require.Equal(t, http.StatusBadRequest, got.status)
			require.Equal(t, "missing session ID\n", got.body)
		})
	}
}

// TestStatelessDeleteSparesOthers: in stateless mode mcp-go ends a
// DELETE's session by its ID, "" without one, which is every user's: with
// an event store that detached every request stream in flight, so one
// user's DELETE cut off another user's answer. Refused, it cannot.
func TestStatelessDeleteSparesOthers(t *testing.T) {
	env := transporttest.New(t)
	release := make(chan struct{})
	s := server.NewMCPServer("audguard-test", "v0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("slow"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		// The notification opens the answer's event stream.
		if err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/message",
			map[string]any{"level": "info", "data": "started"}); err != nil {
			return nil, err
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return mcp.NewToolResultText("done"), nil
	})
	h := server.NewStreamableHTTPServer(s, server.WithHTTPContextFunc(mcpgo.ContextFunc), server.WithStateLess(true),
		server.WithEventStore(server.NewInMemoryEventStore()))
	srv := httptest.NewServer(mcpgo.Handler(env.Verifier, h))
	t.Cleanup(srv.Close)
	endpoint := srv.URL + "/files"

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint,
		strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{}}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacy)
	req.Header.Set("Authorization", bearerFor(env.Issuer, "alice", nil, nil))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), "started") {
	}

	// Alice's call is in flight, its stream open. Bob sends a DELETE.
	raw(t, endpoint, http.MethodDelete, "", "", bearerFor(env.Issuer, "bob", nil, nil))
	close(release)
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	require.Contains(t, strings.Join(rest, "\n"), `"text":"done"`, "alice's answer arrives")
}
