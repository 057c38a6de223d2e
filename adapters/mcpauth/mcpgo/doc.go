// Package mcpgo makes an MCP server built with github.com/mark3labs/mcp-go
// accept only access tokens issued for it, with the same RFC 6750 / RFC
// 9728 challenges as every other audguard transport.
//
// Quick start:
//
//	v, err := middleware.New(middleware.Config{
//		Resource: "https://mcp.example.com/mcp",
//		Issuers:  []middleware.Issuer{{URL: "https://as.example.com"}},
//		Scopes:   []string{"mcp:tools"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	s := server.NewMCPServer("files", "v1")
//	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
//		claims, _ := middleware.ClaimsFromContext(ctx)
//		return mcp.NewToolResultText(claims.Subject), nil
//	})
//	h := server.NewStreamableHTTPServer(s, server.WithHTTPContextFunc(mcpgo.ContextFunc))
//	// /mcp guarded, /.well-known/oauth-protected-resource/mcp public, 404 elsewhere.
//	log.Fatal(http.ListenAndServe(":8080", mcpgo.Handler(v, h)))
//
// Tools read the claims with [middleware.ClaimsFromContext]: mcp-go builds
// a tool's context from each HTTP request (through [ContextFunc]), so they
// are the claims of the request being served, also after the client has
// refreshed or stepped up its token within a session.
//
// Tools that need more than the endpoint's scopes are declared with
// [HandlerWithOptions] and Options.ToolScopes: a call of such a tool with
// a token lacking one of its scopes is answered 403 insufficient_scope
// with every scope the call requires (MCP 2026-07-28 §11.1.1).
//
// # Sessions
//
// mcp-go does not tie a session to a user: by itself it serves any
// request carrying a known Mcp-Session-Id, whoever's token came with it.
// [Handler] and [HandlerWithOptions] therefore bind every session to the
// user who created it, as the MCP security best practices require and as
// the go-sdk does with TokenInfo.UserID. Nothing needs to be passed to
// mcp-go; the binding works with every session mode and SessionIdManager:
//
//   - The user is the token's issuer with its subject ("sub"), or with
//     its client ("client_id") when it has no subject, the same user ID
//     as mcpauth.UserID. Tokens with neither are refused with 401
//     invalid_token.
//   - The response that hands out a session ID (the answer to initialize)
//     binds that ID to the user of its request before it leaves.
//   - A later request carrying that ID is served only for the same user,
//     with any of that user's valid tokens (a refreshed or stepped-up
//     token keeps its session). Any other user gets 403 "session user
//     mismatch", for POST, GET (event streams) and DELETE alike, before
//     mcp-go sees the request.
//   - An ID the handler does not know (never handed out, ended, forgotten)
//     gets 404 "session not found"; an MCP client then starts a new
//     session. The refusals are fixed texts: no session ID, claim or token
//     is echoed.
//   - A session ends for the handler when its owner's DELETE succeeds or
//     when mcp-go answers 404 for it (terminated, swept as idle).
//   - A GET without a session ID (a standalone event stream outside any
//     session) gets 405 "no event stream without a session" with "Allow:
//     POST, DELETE", as the transport lets a server that offers no such
//     stream answer; MCP clients then go on without one. mcp-go would
//     key such a stream under the ID its SessionIdManager generates,
//     which in stateless mode is "" for everyone, and then run every
//     user's requests without a session ID on that stream's session,
//     sending their notifications to the stream's owner. In the other
//     modes the stream got an ID no client learns, so only a client that
//     skipped its session's ID loses a stream there. A DELETE without a
//     session ID gets 400 "missing session ID": mcp-go would clean up the
//     session "", every user's in stateless mode.
//
// The bindings are bounded: at most Options.MaxSessions (10,000 by
// default) sessions are remembered, at most Options.MaxSessionsPerUser
// (100 by default) of them for one user, and one without a request in
// flight is forgotten after Options.SessionIdleTimeout (24 hours by
// default). A user at the per-user bound who starts a new session makes
// the handler forget that user's own least recently used session with no
// request in flight, never another user's; with every one of them busy,
// the new session is refused with 429 "too many sessions for this user",
// for that user alone. When the overall bound is reached, a new session
// makes the handler forget the least recently used session that has no
// request in flight, whoever's; with every session busy, it is refused
// with 503 "too many sessions". With MaxSessionsPerUser well below
// MaxSessions, one user can therefore neither push out the others'
// sessions nor, by holding event streams open, have everyone refused: it
// takes MaxSessions / MaxSessionsPerUser users together. Idle sessions
// are dropped as the handler is used; no goroutine is started. mcp-go's
// own session state is mcp-go's to bound: use server.WithSessionIdleTTL.
//
// The bindings live in memory, in the handler: serve each mcp-go server
// through one Handler, and run one instance, or route every request of a
// session to the instance that created it (sticky sessions, which mcp-go's
// stateful mode needs anyway). Without session IDs (server.WithStateLess,
// or the 2026-07-28 protocol, which has no sessions) nothing is bound; a
// request that carries an ID anyway gets 404. A stateless server
// therefore has no standalone event stream: a request's notifications
// come on its own response, and notifications mcp-go sends to every
// client (SendNotificationToAllClients, such as list changes) reach no
// client of the legacy protocol; clients of the 2026-07-28 protocol
// receive them through subscriptions/listen, a POST.
//
// # Limits of mcp-go's stateless mode
//
// In stateless mode mcp-go keys the session of every request under the
// empty session ID, and the handler has no ID to bind. Two consequences
// are mcp-go's, and the handler cannot prevent them:
//
//   - When a tool sends its client a request of its own
//     (RequestElicitation, RequestSampling, RequestRoots), mcp-go
//     registers the calling POST's session under "" until the tool stops
//     waiting, and meanwhile serves every other request of the legacy
//     protocol (before 2026-07-28), whoever makes it, on that session:
//     the notifications of their tools can go down the waiting user's
//     event stream instead of their own. The answer never arrives anyway
//     (mcp-go refuses a client's answer without a session ID, and the
//     handler one with an ID it never bound), so the tool waits until its
//     request ends. Tools of a stateless server must not send such
//     requests; serve them in the default mode or with
//     server.WithStateful(true), where each session has its own ID, bound
//     to its user.
//   - The level a client sets with logging/setLevel is kept under "" as
//     well, so it applies to every user's requests.
//
// For custom routing, guard the MCP handler with v.RequireScopes(scopes...)
// (or v.Handler) and serve v.MetadataHandler() at v.MetadataPath(); such
// a handler does not bind sessions to users, so use it only with
// server.WithStateLess. Per-tool scopes and session binding need
// HandlerWithOptions.
package mcpgo
