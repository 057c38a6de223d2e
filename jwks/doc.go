// Package jwks supplies the public keys an OAuth resource server verifies
// access tokens with: a remote JWK Set fetched over HTTPS and cached
// ([Remote]), or a static one ([Set]). Every key is bound to exactly one JWS
// algorithm ([Key]) and passed the hygiene rules of [Parse].
//
// Most users never touch this package directly: middleware.New creates a
// Remote for every middleware.Issuer that has no Keys. Use it directly for a
// static key set, for your own verifier, or to tune the refresh policy
// (middleware.Config.JWKS takes an [Options]).
//
// # Quick start
//
// Remote key set, discovered from the issuer:
//
//	keys, err := jwks.NewRemote(jwks.RemoteConfig{Issuer: "https://as.example.com"})
//	if err != nil { ... }          // configuration error; no I/O happened
//	defer keys.Close()
//	if err := keys.Refresh(ctx); err != nil { ... } // optional: warm up, fail fast
//	key, err := keys.Key(ctx, kid, alg)
//
// Set RemoteConfig.JWKSURI instead of (or besides) Issuer to skip
// discovery. Static key set, from JSON bytes or a file (tests, air-gapped
// deployments):
//
//	set, dropped, err := jwks.ParseFile("/etc/audguard/jwks.json", jwks.ParseOptions{})
//	for _, d := range dropped { log.Printf("key %q dropped: %s", d.KeyID, d.Reason) }
//
// [NewSet] builds a Set from keys made with [NewKey].
//
// # Security model
//
//   - Keys come only from configuration: the issuer's discovered or
//     configured jwks_uri, or a static set. Token headers that point
//     elsewhere (jku, x5u, jwk, x5c) are refused by the verifier and never
//     reach this package.
//   - https only; http only for a loopback host with
//     Options.AllowHTTPLoopback. Redirects are followed only within the same
//     origin (so never from https to http), at most three.
//   - Discovery tries RFC 8414 authorization server metadata, with the
//     well-known suffix inserted before the issuer's path
//     (https://as/tenant → https://as/.well-known/oauth-authorization-server/tenant),
//     then OpenID Connect discovery (https://as/tenant/.well-known/openid-configuration).
//     A document whose "issuer" is not byte for byte the configured issuer
//     is refused and nothing in it is used ([ErrIssuerMismatch]). Its
//     jwks_uri must be https (loopback http by option); one on another host
//     is allowed and logged.
//   - Responses are read through a limit of [MaxBodySize] (1 MiB) and a set
//     may hold at most [MaxKeys] keys; anything larger, non-200, HTML,
//     invalid JSON, or not {"keys": [objects]} is refused and the cached set
//     stays in use.
//   - Key hygiene ([Parse]): symmetric ("oct") keys, keys with private
//     members, "use" other than "sig", "key_ops" without "verify", JWE or
//     unknown algorithms, RSA under 2048 or over 8192 bits or with a bad
//     exponent or the ROCA fingerprint, EC points off their curve, and
//     kty/crv/alg mismatches are dropped. A kid shared by two or more keys
//     that pass these rules is ambiguous and unusable; a copy that is
//     dropped does not count, so a kid shared by a signing key and, say,
//     its "use": "enc" or "oct" sibling names the signing key
//     (authorization servers publish both under one kid). A key without
//     "alg" gets the one algorithm its type implies (RSA:
//     Options.RSAAlgorithm, default RS256; EC: by curve; Ed25519: EdDSA),
//     never "any that verifies". A Remote logs each dropped key once.
//   - Fail closed: with no usable keys, [Remote.Key] returns
//     [ErrUnavailable]; it never returns a key it has not verified.
//
// # Refresh policy
//
// [NewRemote] performs no I/O and starts no goroutine. The first [Remote.Key]
// (or [Remote.Refresh]) fetches the set; concurrent callers share that one
// request, which runs detached from any caller's context, so one caller
// giving up never cancels it for the others. Each HTTP request is bounded
// by Options.FetchTimeout (5s), so a fetch that has to discover the JWKS
// URI first takes up to three of them (RFC 8414 document, OpenID Connect
// document, JWKS) before it fails.
//
// A lookup of a known kid reads an immutable snapshot through an atomic
// pointer: it takes no lock and never waits, whatever refresh is running or
// failing.
//
// The set's lifetime is the response's Cache-Control max-age (minus Age),
// else Expires minus Date, clamped to [Options.MinTTL, Options.MaxTTL]
// (5m, 24h); "no-store" and "no-cache" count as MinTTL; without these
// headers it is Options.DefaultTTL (15m). A background goroutine, started
// after the first successful fetch and stopped by [Remote.Close], refreshes
// at 80% of the lifetime, so requests never wait on a scheduled refresh.
//
// A token whose kid is unknown (a rotation) waits for a refresh, shared
// with every concurrent caller, and gets the new key if the issuer
// published it: the first token after a rotation is accepted. Such
// refreshes happen at most once per Options.RefreshCooldown (30s); within
// the cooldown an unknown kid is refused at once with [ErrKeyNotFound], so a
// flood of random kids costs at most one fetch per cooldown. A known kid
// bound to another algorithm, or ambiguous, is refused without a refresh.
//
// When a fetch fails, the last good set stays in use for up to
// Options.MaxStale (24h) counted from the last successful fetch; the
// background refresh retries every cooldown. Past MaxStale the keys are no
// longer used and Key returns [ErrUnavailable] (fail closed), fetching on
// demand at most once per cooldown; the next successful fetch restores
// them. Every request is reported to Options.OnFetch, failures are logged
// at Warn.
//
// A refresh that returns the same material for a kid keeps the previous
// *[Key], so verifications cached against it stay valid; a changed key gets
// a new *Key and a removed one is no longer returned, so callers comparing
// pointers notice both.
//
// # Errors
//
// Key sources return [ErrKeyNotFound] (no usable key for this kid and alg:
// unknown, removed, ambiguous or bound to another algorithm) or
// [ErrUnavailable] (no usable keys at all: never fetched, fetch failing past
// MaxStale, an empty set, or a closed Remote). middleware reports both as an
// invalid token; the second as "keys unavailable" (401, or 503 by option).
// Errors wrap their cause with %w: [ErrDiscovery], [ErrIssuerMismatch],
// [ErrTooLarge], [ErrInvalidSet], [ErrClosed], or the HTTP client's error.
// Error texts may name URLs and key IDs from configuration or the issuer's
// documents, never token contents.
package jwks
