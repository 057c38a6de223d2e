// Package tokensource is the client side of audience binding: it obtains
// OAuth 2.0 access tokens that name the resource server they are for
// (RFC 8707 resource indicators) and never uses a token for another one.
//
// Use it in a service that calls other resource servers: an MCP server
// calling a downstream API, an agent gateway fanning out to several MCP
// servers, a batch job calling two APIs with one client registration.
//
// # Quick start
//
//	client, err := tokensource.New(tokensource.Config{
//		TokenURL:     "https://as.example.com/oauth/token",
//		ClientID:     "reporting-job",
//		ClientSecret: secret,
//		Resources: []tokensource.Resource{
//			{URI: "https://files.example.com/api", Scopes: []string{"files:read"}},
//			{URI: "https://mcp.example.com/mcp", Scopes: []string{"mcp:tools"}},
//		},
//	})
//	// Every request gets the token of its own resource; others fail.
//	hc := &http.Client{Transport: client.Transport(nil)}
//
//	// Or one oauth2.TokenSource per resource:
//	ts := client.TokenSource("https://files.example.com/api") // configured scopes
//
//	// Acting for a user: exchange the token you received (RFC 8693)
//	// instead of passing it through.
//	ctx = tokensource.ContextWithGrant(ctx, tokensource.TokenExchange{
//		SubjectToken: inbound, SubjectTokenType: tokensource.TokenTypeAccessToken,
//	})
//
// Every token request is made with golang.org/x/oauth2's client
// credentials machinery and carries "resource" (the resource URI in
// canonical form: lower-case scheme and host, no default port, no lone
// "/" path) and "scope". Grants: [ClientCredentials] (default), a
// refresh token ([NewRefreshGrant]; rotated refresh tokens are kept), and
// RFC 8693 [TokenExchange].
//
// To find out which authorization server protects a resource and which
// scopes it wants, use a [Discoverer] on the 401 response
// ([Discoverer.DiscoverFromResponse]): it reads the WWW-Authenticate
// challenge, fetches the RFC 9728 protected resource metadata and checks
// that it describes exactly the URL you called. Then
// [Discoverer.DiscoverAuthorizationServer] fetches the authorization
// server's RFC 8414 (or OpenID Connect) metadata, refusing a document
// for another issuer, and gives the token endpoint to put in
// Config.TokenURL. The example program in examples/client runs these
// steps end to end.
//
// # Security model
//
//   - Cache partition. Tokens are cached per (token endpoint, client ID,
//     canonical resource URI, sorted scope set, grant). Two resources never
//     share a token, even with the same scopes; two users' token exchanges
//     never share one (the key holds a SHA-256 digest of the subject
//     token, never the token).
//   - Fail closed. [Transport] attaches a token only to a request whose
//     URL belongs to a configured resource (same origin, path on a segment
//     boundary) and refuses, without sending anything, requests to other
//     targets, with dot segments or encoded separators in the path, a Host
//     header for another authority, userinfo, an existing Authorization
//     header, or a redirect from one resource to another.
//   - Audience check. By default a JWT returned by the token endpoint
//     must name the requested resource in "aud", with the same rule as
//     audguard's verifier (canonuri.Matcher: exact, or equal after
//     lower-casing scheme and host and dropping the default port; never a
//     prefix). A token for another audience is refused with
//     [ErrAudienceMismatch] rather than sent: handing resource X a token
//     for resource Y would let X replay it at Y. The check is on by
//     default because it costs nothing and catches authorization servers
//     that ignore "resource"; turn it off with Config.SkipAudienceCheck
//     only for servers that put abstract identifiers in "aud" that you
//     cannot list in Resource.Audiences. Signatures are not verified: the
//     client is not the token's audience and does not trust its claims;
//     it only refuses what is visibly addressed to someone else. Opaque
//     (non-JWT) tokens cannot be checked and pass.
//   - No token leaks. Tokens, client secrets and refresh tokens never
//     appear in errors; token endpoint error texts are reduced to the
//     characters RFC 6749 allows and the raw response body is dropped.
//     The package does not log. Returned tokens carry no refresh token.
//   - No hot loops. Concurrent requests for one cache key share one token
//     request, and its failure: a timeout is not retried by every waiter
//     in turn. OAuth error responses and unusable tokens are remembered
//     for Config.ErrorBackoff. Client authentication is never retried
//     with another method, and the token endpoint's redirects are never
//     followed.
//   - No I/O or goroutines in constructors. [New] and [NewDiscoverer]
//     only validate. The only goroutine a [Client] starts is a background
//     refresh (see Expiry), one per cache key at a time, bounded by a
//     timeout and stopped by [Client.Close].
//
// # Expiry
//
// A token is served from the cache until its expiry minus a margin
// (Config.RefreshMargin; default 10% of the lifetime, at most 30s, at most
// half the lifetime), computed with Config.Now from "expires_in" (a
// response without it is assumed to live Config.DefaultLifetime).
//
// Inside the margin the cached token is still valid, so it is returned at
// once and replaced in the background: a slow or hanging token endpoint
// delays no caller while a valid token is at hand. The background refresh
// is one request per cache key, detached from the caller's context,
// bounded by the HTTP client's Timeout (or [DefaultHTTPTimeout]); if it
// fails, the cached token is served until it expires and the background
// refresh is not retried for Config.ErrorBackoff. Once the token has
// expired, callers wait for a token request (joining the background one
// if it is still running); an expired token is never returned.
// [Client.Close] stops background refreshes and waits for them; calling it
// is optional, as each ends within its timeout.
//
// # Errors
//
// Token endpoint refusals are [*Error] values with the OAuth error code;
// match them with errors.Is against [ErrInvalidTarget] (the resource is
// unknown to the authorization server), [ErrInvalidScope],
// [ErrInvalidGrant] and [ErrInvalidClient]. [ErrAudienceMismatch] and
// [ErrTokenType] are about the issued token, [ErrNoResource] about a
// request [Transport] refused, and [ErrChallenge], [ErrMetadata],
// [ErrResourceMismatch] and [ErrIssuerMismatch] come from discovery. Network errors and
// cancellation are returned wrapped, unchanged in kind.
package tokensource
