// Package audtest is an in-process OAuth 2.0 authorization server for
// testing resource servers that use audguard, and for demos.
//
// An [Issuer] listens on a loopback port and serves RFC 8414 and OpenID
// Connect discovery, a JWKS, dynamic client registration, an authorization
// endpoint that approves every valid request at once (authorization code
// with PKCE, so real MCP clients run their usual flow unattended), and a
// token endpoint that issues audience-bound access tokens: the RFC 8707
// "resource" parameter becomes the token's "aud", and a resource outside
// Options.Resources is refused with invalid_target. It mints valid tokens
// ([Issuer.AccessToken]) and every kind of broken token a test needs
// through [Issuer.Sign] and [Token]: wrong audience or issuer, expired,
// "alg": "none", HMAC signed with the public key, embedded "jwk",
// duplicate members (RawClaims), tampered signatures, unpublished keys.
// It rotates and revokes keys and injects JWKS and discovery faults
// ([Issuer.SetJWKSHandler] with [Status], [Hang], [Body], [Redirect]).
//
//	iss := audtest.NewIssuer(t, audtest.Options{})
//	v, _ := middleware.New(middleware.Config{
//		Resource: "https://api.example.com",
//		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
//	})
//	tok := iss.AccessToken("https://api.example.com", "read")
//
// The authorization endpoint serves only public clients registered at
// /register, and redirects only to a redirect_uri given at their
// registration (exact match). The confidential clients of Options.Clients
// have no registered redirect URIs, so /authorize refuses them with 400
// invalid_request and no redirect; they use the token endpoint's other
// grants. At the token endpoint, an authorization_code or refresh_token
// request may narrow the scope granted, never widen it (invalid_scope).
//
// The issuer serves plain http on 127.0.0.1 unless Options.TLS is set, so a
// verifier that discovers its keys over the network needs
// Config.AllowHTTPLoopback. Keys are generated fresh for every Issuer; they
// are for tests only.
package audtest
