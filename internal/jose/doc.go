// Package jose holds audguard's strict JOSE input handling: the compact JWS
// shape check, strict base64url decoding and a strict JSON scanner. None of
// it verifies signatures; it decides, before any expensive work, whether the
// input can be a compact JWS at all (RFC 7515 §7.1, RFC 7519 §7.2,
// draft-ietf-oauth-rfc8725bis §3.14).
package jose
