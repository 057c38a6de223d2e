// Package middleware makes an OAuth 2.0 resource server accept only access
// tokens that were issued for it.
//
// Most JWT middleware checks the signature and the issuer and stops, so a
// token minted for one API is accepted by its sibling (the confused deputy).
// RFC 8707, RFC 9728 and the MCP authorization specification (2026-07-28)
// require a resource server to refuse every token whose "aud" does not
// contain its own canonical URI, and to answer with challenges that tell a
// client where to get the right token. A [Verifier] does all of that, over
// net/http directly and over any other transport through
// [Verifier.Authenticate] and [Verifier.ErrorResponse].
//
// # Quick start
//
//	v, err := middleware.New(middleware.Config{
//		Resource: "https://mcp.example.com/mcp",
//		Issuers:  []middleware.Issuer{{URL: "https://as.example.com"}},
//		Scopes:   []string{"mcp:tools"},
//	})
//	if err != nil {
//		log.Fatal(err) // every configuration problem, listed
//	}
//	defer v.Close()
//	mux.Handle("/mcp", v.Handler(mcpHandler))
//	mux.Handle(v.MetadataPath(), v.MetadataHandler()) // RFC 9728, no token
//
// Handlers read the verified claims with [ClaimsFromContext]. With chi,
// r.Use(v.Handler) and r.With(v.RequireScopes("files:read")). Adapters for
// gin, gRPC and MCP servers live in separate modules under adapters/.
//
// # Security model
//
// For every request, in this order (DESIGN.md "Verification pipeline"):
//
//  1. Exactly one Authorization header, scheme Bearer (any case), one or
//     more spaces, a token of at most Config.MaxTokenSize bytes. Tokens in
//     the query string, form body or cookies are ignored.
//  2. The token is a compact JWS: only [A-Za-z0-9_-] and exactly two dots,
//     strict unpadded base64url, UTF-8 JSON objects without duplicate or
//     case-colliding member names, bounded size and depth. JWE and JSON
//     serialization are refused before any decoding.
//  3. Header: "alg" in the allow-list (never "none" or HMAC); "typ" per
//     [TypPolicy]; crit, b64, zip, enc, jwk, jku, x5u, x5c and cty JWT are
//     refused: keys are never taken from the token.
//  4. The unverified "iss" selects the issuer by exact byte comparison; an
//     unknown issuer is refused, and a token of issuer A is never checked
//     with issuer B's keys.
//  5. The key is looked up by "kid" in that issuer's key source and must be
//     bound to the token's "alg" (RFC 8725 §3.1).
//  6. The signature is verified (RSA PKCS#1 v1.5 and PSS with the salt
//     length equal to the hash, ECDSA with raw R||S on the key's own
//     curve, Ed25519).
//  7. Claims: "aud" names this resource (see below); "exp" is required and
//     in the future; "nbf" and "iat" are not in the future, all with
//     Config.Leeway; registered claims have their JSON types; a token bound
//     to a key ("cnf") is refused over Bearer; so is an ID token ("nonce",
//     "at_hash" or "c_hash" without typ at+jwt); the strict profile
//     requires sub, client_id, iat and jti.
//  8. Scopes: every required scope is in the space-separated "scope" claim
//     (case-sensitive), or covered by Config.ScopeCovers.
//
// What is not checked: revocation (tokens stay valid until they expire;
// keep lifetimes short), DPoP and mutual-TLS proof of possession (such
// tokens are refused), RFC 9470 step-up (acr/auth_time), and anything an
// application decides from claims (roles, tenants).
//
// A token failure is never reported with token or claim text: responses use
// fixed descriptions per category, logs carry only the category, and an
// unknown key and a bad signature share one description so clients cannot
// probe which keys exist.
//
// # Audience rule
//
// An "aud" entry matches when it equals Config.Resource or one of
// Config.Audiences byte for byte, or, if it is an absolute https URI
// without userinfo, fragment, dot segments or non-ASCII, when it equals the
// resource after lower-casing scheme and host, dropping ":443" or an empty
// port, and treating an empty path as "/". There is no prefix matching, no
// percent-decoding, no IDN mapping and no trailing-slash folding on
// non-root paths (opt in with Config.AllowTrailingSlashVariant). "aud" must
// be a string or a non-empty array of at most [MaxAudiences] strings; it is
// enough that one entry matches (RFC 7519 §4.1.3), unless
// Config.RejectMultipleAudiences is set (then every entry must match).
//
// # Errors and responses
//
// Every token failure wraps [ErrInvalidToken] and exactly one finer
// sentinel ([ErrMalformed], [ErrHeader], [ErrSignature], [ErrIssuer],
// [ErrAudience], [ErrExpired], [ErrNotYetValid], [ErrClaims],
// [ErrKeysUnavailable]). [Verifier.ErrorResponse] maps any error to the
// one response table every transport shares:
//
//	no token                    401  Bearer resource_metadata="…"[, scope="…"]
//	malformed request           400  error="invalid_request"
//	bad, expired, wrong aud …   401  error="invalid_token", error_description="<fixed>"
//	missing scope               403  error="insufficient_scope", scope="<all required>"
//	no keys (opt. 503)          401  error="invalid_token"
//
// gRPC maps 401 to Unauthenticated, 403 to PermissionDenied, 400 to
// InvalidArgument and 503 to Unavailable.
package middleware
