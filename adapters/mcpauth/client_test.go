package mcpauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/audguard/audguard/adapters/mcpauth"
	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

// bearer adds an Authorization header to every request of the SDK client.
// Its token can be swapped between calls, as a client does when it
// refreshes or steps up its token, and it records the refusals it sees.
type bearer struct {
	mu      sync.Mutex
	token   string
	refused []*http.Response
}

func (b *bearer) set(token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.token = token
}

// refusals returns the responses with status >= 400 seen so far.
func (b *bearer) refusals() []*http.Response {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Response(nil), b.refused...)
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	token := b.token
	b.mu.Unlock()
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 {
		b.mu.Lock()
		b.refused = append(b.refused, resp)
		b.mu.Unlock()
	}
	return resp, err
}

// connect connects the SDK's own client to endpoint with token.
func connect(t *testing.T, endpoint, token string) (*mcp.ClientSession, error) {
	t.Helper()
	cs, _, err := connectSwappable(t, endpoint, token)
	return cs, err
}

// connectSwappable is connect, also returning the client's transport so
// that the test can swap the token.
func connectSwappable(t *testing.T, endpoint, token string) (*mcp.ClientSession, *bearer, error) {
	t.Helper()
	b := &bearer{token: token}
	client := mcp.NewClient(&mcp.Implementation{Name: "audguard-test-client", Version: "v0"}, nil)
	transport := &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: b},
		MaxRetries: -1,
	}
	cs, err := client.Connect(t.Context(), transport, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, b, err
}

func callIdentity(t *testing.T, cs *mcp.ClientSession) identity {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var id identity
	require.NoError(t, json.Unmarshal(raw, &id))
	return id
}

// TestSDKClient: the SDK's own client, carrying a token for this resource,
// connects to a stateful SDK server and its tool sees the TokenInfo
// (issuer-qualified UserID, scopes, expiry) and the claims.
func TestSDKClient(t *testing.T) {
	env := transporttest.New(t)
	base := serve(t, env.Verifier, nil, transporttest.Scope)

	cs, err := connect(t, base+"/files", env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope, "files:write"))
	require.NoError(t, err)
	id := callIdentity(t, cs)

	require.Equal(t, transporttest.Subject, id.Subject)
	require.False(t, id.ContextClaims, "claims come from req.Extra.TokenInfo, never from the session's context")
	require.Equal(t, url.Values{"iss": {env.Issuer.URL()}, "sub": {transporttest.Subject}}.Encode(), id.UserID)
	require.Equal(t, []string{transporttest.Scope, "files:write"}, id.Scopes)
	require.WithinDuration(t, time.Now().Add(5*time.Minute), id.Expiration, time.Minute)
	require.Equal(t, "Bearer audguard-verified", id.Authorization, "tools never see the caller's token")
}

// TestToolSeesCurrentToken: the SDK keeps the context of the request that
// created a session for every later request of it, so claims stored in that
// context would be the initialize request's. A client that swaps its token
// within one session (same subject, other scopes) must have its tools see
// the claims of the current request, through req.Extra.TokenInfo, and never
// the stale ones through the context.
func TestToolSeesCurrentToken(t *testing.T) {
	tests := []struct {
		name string
		opts *mcp.StreamableHTTPOptions
	}{
		{name: "stateful", opts: nil},
		{name: "stateful JSON responses", opts: &mcp.StreamableHTTPOptions{JSONResponse: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := transporttest.New(t)
			base := serve(t, env.Verifier, tt.opts, transporttest.Scope)

			first := env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope)
			cs, b, err := connectSwappable(t, base+"/files", first)
			require.NoError(t, err)
			id := callIdentity(t, cs)
			require.Equal(t, transporttest.Scope, id.ClaimsScope)
			require.Equal(t, []string{transporttest.Scope}, id.Scopes)
			require.False(t, id.ContextClaims)

			b.set(env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope, "files:write"))
			for range 2 {
				id = callIdentity(t, cs)
				require.Equal(t, transporttest.Subject, id.Subject)
				require.Equal(t, transporttest.Scope+" files:write", id.ClaimsScope, "claims of the current token")
				require.Equal(t, []string{transporttest.Scope, "files:write"}, id.Scopes)
				require.False(t, id.ContextClaims, "no stale claims in the context")
			}

			b.set(first)
			id = callIdentity(t, cs)
			require.Equal(t, transporttest.Scope, id.ClaimsScope, "a narrower token again: its own claims")
			require.Empty(t, b.refusals())
		})
	}
}

// TestSDKClientRefused: the SDK client with a token for another resource
// cannot connect, and the server's answer is the core's 401 challenge,
// not the SDK's.
func TestSDKClientRefused(t *testing.T) {
	env := transporttest.New(t)
	base := serve(t, env.Verifier, nil, transporttest.Scope)
	wrongAud := env.Issuer.AccessToken("https://other.example.com/files", transporttest.Scope)

	_, err := connect(t, base+"/files", wrongAud)
	require.Error(t, err)

	resp, body := callWhoami(t, base+"/files", []string{"Bearer " + wrongAud})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, env.Verifier.ErrorResponse(middleware.ErrAudience, transporttest.Scope).Challenge, resp.Header.Get("WWW-Authenticate"))
	require.JSONEq(t, `{"error":"invalid_token","error_description":"The access token was not issued for this resource"}`, string(body))
}

// TestSessionBoundToIssuerQualifiedSubject (attack H9): a session created
// with one subject's token cannot be used with another subject's token,
// nor with a token of another trusted issuer for the same "sub"; a fresh
// token of the same subject and issuer can.
func TestSessionBoundToIssuerQualifiedSubject(t *testing.T) {
	env := transporttest.New(t)
	other := audtest.NewIssuer(t, audtest.Options{})
	v, err := middleware.New(middleware.Config{
		Resource: transporttest.Resource,
		Issuers: []middleware.Issuer{
			{URL: env.Issuer.URL(), Keys: env.Issuer.KeySet()},
			{URL: other.URL(), Keys: other.KeySet()},
		},
	})
	require.NoError(t, err)
	base := serve(t, v, nil)

	cs, err := connect(t, base+"/files", env.Issuer.AccessToken(transporttest.Resource))
	require.NoError(t, err)
	require.NotEmpty(t, cs.ID())

	anotherSubject := env.Issuer.Claims(transporttest.Resource)
	anotherSubject["sub"] = "user-2"
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{name: "same subject and issuer", token: env.Issuer.AccessToken(transporttest.Resource), wantStatus: http.StatusOK},
		{name: "another subject", token: env.Issuer.MustSign(audtest.Token{Claims: anotherSubject}), wantStatus: http.StatusForbidden},
		{name: "same subject of another issuer", token: other.AccessToken(transporttest.Resource), wantStatus: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/files", strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", cs.ID())
			req.Header.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			t.Cleanup(func() { _ = resp.Body.Close() })
			require.Equal(t, tt.wantStatus, resp.StatusCode)
		})
	}
}

// TestSDKExpiryCheckDisabled: audguard decides expiry with Config.Now;
// the SDK's wall-clock check must not refuse a token audguard accepted.
func TestSDKExpiryCheckDisabled(t *testing.T) {
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time { return past }
	iss := audtest.NewIssuer(t, audtest.Options{Now: now})
	v, err := middleware.New(middleware.Config{
		Resource: transporttest.Resource,
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Now:      now,
	})
	require.NoError(t, err)
	base := serve(t, v, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})

	resp, body := callWhoami(t, base+"/files", []string{"Bearer " + iss.AccessToken(transporttest.Resource)})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
}

// TestTokenInfo: the conversion and UserID's unambiguity.
func TestTokenInfo(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	c := &middleware.Claims{Issuer: "https://as.example.com", Subject: "alice", ClientID: "app", Scopes: []string{"a", "b"}, Expiry: exp}
	ti := mcpauth.TokenInfo(c)
	require.Equal(t, []string{"a", "b"}, ti.Scopes)
	require.Equal(t, exp, ti.Expiration)
	require.Equal(t, "iss=https%3A%2F%2Fas.example.com&sub=alice", ti.UserID)
	got, ok := mcpauth.Claims(ti)
	require.True(t, ok)
	require.Same(t, c, got)

	anonymous := mcpauth.UserID(&middleware.Claims{Issuer: "https://as.example.com"})
	require.Equal(t, "iss=https%3A%2F%2Fas.example.com&sub=", anonymous, "never empty, which would turn the SDK's binding off")

	_, ok = mcpauth.Claims(nil)
	require.False(t, ok)
	_, ok = mcpauth.Claims(&auth.TokenInfo{})
	require.False(t, ok)

	pairs := []struct {
		name string
		a, b middleware.Claims
	}{
		{name: "separator in issuer vs subject", a: middleware.Claims{Issuer: "x#y", Subject: "z"}, b: middleware.Claims{Issuer: "x", Subject: "y#z"}},
		{name: "ampersand", a: middleware.Claims{Issuer: "x&sub=y", Subject: "z"}, b: middleware.Claims{Issuer: "x", Subject: "y&sub=z"}},
		{name: "subject vs client", a: middleware.Claims{Issuer: "x", Subject: "app"}, b: middleware.Claims{Issuer: "x", ClientID: "app"}},
		{name: "issuer", a: middleware.Claims{Issuer: "x", Subject: "s"}, b: middleware.Claims{Issuer: "y", Subject: "s"}},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			require.NotEqual(t, mcpauth.UserID(&p.a), mcpauth.UserID(&p.b))
		})
	}
}

// TestHandlerRoutes: the metadata document is public, the endpoint is at
// the resource's path, other paths are 404 even with a valid token.
func TestHandlerRoutes(t *testing.T) {
	env := transporttest.New(t)
	base := serve(t, env.Verifier, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	token := "Bearer " + env.Issuer.AccessToken(transporttest.Resource)

	resp, err := http.Get(base + env.Verifier.MetadataPath())
	require.NoError(t, err)
	var doc middleware.Metadata
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, transporttest.Resource, doc.Resource)

	resp, _ = callWhoami(t, base+"/elsewhere", []string{token})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = callWhoami(t, base+"/files", []string{token})
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestInvalidScopesFailClosed: an invalid scope requirement refuses every
// request with 500 and never reaches the MCP handler.
func TestInvalidScopesFailClosed(t *testing.T) {
	env := transporttest.New(t)
	base := serve(t, env.Verifier, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, "offline_access")
	resp, _ := callWhoami(t, base+"/files", []string{"Bearer " + env.Issuer.AccessToken(transporttest.Resource, "offline_access")})
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Empty(t, resp.Header.Get("WWW-Authenticate"))
}

// stepUp is an auth.OAuthHandler that plays the client's part of MCP
// step-up authorization: on 403 insufficient_scope it gets a token with
// the scopes of the challenge from the test issuer, and the SDK's client
// retries the request with it. It records the challenges it was given.
type stepUp struct {
	iss *audtest.Issuer

	mu         sync.Mutex
	token      string
	challenges []string
}

func (s *stepUp) TokenSource(context.Context) (oauth2.TokenSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.token, TokenType: "Bearer"}), nil
}

func (s *stepUp) Authorize(_ context.Context, _ *http.Request, resp *http.Response) error {
	defer func() { _ = resp.Body.Close() }()
	challenge := resp.Header.Get("WWW-Authenticate")
	params, err := transporttest.ParseChallenge(challenge)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.challenges = append(s.challenges, challenge)
	if resp.StatusCode != http.StatusForbidden || params["error"] != "insufficient_scope" {
		return errors.New("not a step-up challenge")
	}
	s.token = s.iss.AccessToken(transporttest.Resource, strings.Fields(params["scope"])...)
	return nil
}

func (s *stepUp) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.challenges)
}

// TestToolScopes (MCP 2026-07-28 §11.1.1): a tool that requires a scope
// beyond the endpoint's is refused to a token without it with 403
// insufficient_scope listing every scope the call needs, before the SDK
// sees the call. The SDK's client steps up: its OAuthHandler gets a token
// with the challenged scopes, the call is retried in the same session,
// and the tool runs and sees the new token's claims.
func TestToolScopes(t *testing.T) {
	env := transporttest.New(t)
	base := serveWith(t, env.Verifier, nil, mcpauth.Options{
		Scopes:     []string{transporttest.Scope},
		ToolScopes: map[string][]string{"write": {"files:write"}},
	})

	handler := &stepUp{iss: env.Issuer, token: env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope)}
	client := mcp.NewClient(&mcp.Implementation{Name: "audguard-test-client", Version: "v0"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint:     base + "/files",
		OAuthHandler: handler,
		MaxRetries:   -1,
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	require.Equal(t, transporttest.Scope, callIdentity(t, cs).ClaimsScope, "tools without a requirement run")
	require.Empty(t, handler.seen())

	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "write", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var id identity
	require.NoError(t, json.Unmarshal(raw, &id))
	require.Equal(t, transporttest.Scope+" files:write", id.ClaimsScope, "the tool ran with the stepped-up token")

	seen := handler.seen()
	require.Len(t, seen, 1, "one challenge with every scope the call needs")
	want := env.Verifier.ErrorResponse(&middleware.ScopeError{Required: []string{transporttest.Scope, "files:write"}, Missing: []string{"files:write"}}, transporttest.Scope, "files:write")
	require.Equal(t, want.Challenge, seen[0])
	params, err := transporttest.ParseChallenge(seen[0])
	require.NoError(t, err)
	require.Equal(t, "insufficient_scope", params["error"])
	require.Equal(t, transporttest.Scope+" files:write", params["scope"])
	require.Equal(t, env.Verifier.MetadataURL(), params["resource_metadata"])
}

// TestToolScopesStateless: the same check on a stateless server, with a
// plain HTTP client: 403 and the challenge without the scope, the tool's
// answer with it; other tools need only the endpoint's scopes.
func TestToolScopesStateless(t *testing.T) {
	env := transporttest.New(t)
	base := serveWith(t, env.Verifier, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, mcpauth.Options{
		Scopes:     []string{transporttest.Scope},
		ToolScopes: map[string][]string{"write": {"files:write", "files:audit"}},
	})
	narrow := "Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope, "files:write")
	wide := "Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope, "files:write", "files:audit")
	tests := []struct {
		name       string
		tool       string
		token      string
		wantStatus int
	}{
		{name: "tool without a requirement", tool: "whoami", token: narrow, wantStatus: http.StatusOK},
		{name: "tool scope missing", tool: "write", token: narrow, wantStatus: http.StatusForbidden},
		{name: "tool scopes granted", tool: "write", token: wide, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := callTool(t, base+"/files", tt.tool, []string{tt.token})
			require.Equal(t, tt.wantStatus, resp.StatusCode, "%s", body)
			if tt.wantStatus == http.StatusForbidden {
				params, err := transporttest.ParseChallenge(resp.Header.Get("WWW-Authenticate"))
				require.NoError(t, err)
				require.Equal(t, "insufficient_scope", params["error"])
				require.Equal(t, transporttest.Scope+" files:write files:audit", params["scope"], "all of them, in one challenge")
				require.JSONEq(t, `{"error":"insufficient_scope","error_description":"The access token lacks a scope this operation requires"}`, string(body))
			}
		})
	}
}

// TestToolScopesFailClosed: an invalid tool scope refuses every request
// with 500; a body over MaxBodyBytes is refused with 413 rather than
// passed on unchecked.
func TestToolScopesFailClosed(t *testing.T) {
	env := transporttest.New(t)
	token := []string{"Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope, "files:write")}
	stateless := &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}

	base := serveWith(t, env.Verifier, stateless, mcpauth.Options{ToolScopes: map[string][]string{"write": {"files:write"}, "admin": {"offline_access"}}})
	resp, _ := callTool(t, base+"/files", "whoami", token)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Empty(t, resp.Header.Get("WWW-Authenticate"))

	base = serveWith(t, env.Verifier, stateless, mcpauth.Options{ToolScopes: map[string][]string{"write": {"files:write"}}, MaxBodyBytes: 64})
	resp, _ = callTool(t, base+"/files", "whoami", token)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

// TestAnonymousTokenRefused: a token naming neither subject nor client
// cannot be told from another such token, so the SDK could not bind a
// session to it; it is refused with 401 invalid_token. A client token
// (client_id, no sub) is accepted and bound to its client.
func TestAnonymousTokenRefused(t *testing.T) {
	env := transporttest.New(t)
	base := serve(t, env.Verifier, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	claims := func(drop ...string) string {
		c := env.Issuer.Claims(transporttest.Resource)
		c["client_id"] = "app-1"
		for _, k := range drop {
			delete(c, k)
		}
		return "Bearer " + env.Issuer.MustSign(audtest.Token{Claims: c})
	}

	resp, body := callWhoami(t, base+"/files", []string{claims("sub", "client_id")})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, env.Verifier.ErrorResponse(middleware.ErrClaims).Challenge, resp.Header.Get("WWW-Authenticate"))
	require.JSONEq(t, `{"error":"invalid_token","error_description":"The access token claims are not accepted"}`, string(body))

	resp, body = callWhoami(t, base+"/files", []string{claims("sub")})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var rpc struct {
		Result struct {
			StructuredContent identity `json:"structuredContent"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(body, &rpc))
	require.Equal(t, url.Values{"iss": {env.Issuer.URL()}, "client_id": {"app-1"}}.Encode(), rpc.Result.StructuredContent.UserID)
}
