package catalog

import (
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// moreCases are the rows and variants added by the hardening suite: B8,
// C11, C13, C18, C19, A14 over any transport, the Go-library rows of group
// G, and H2/H7.
func moreCases(rsaKey *rsa.PrivateKey) []Case {
	jwe := func(hdr string, rest ...string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + strings.Join(rest, ".")
	}
	p2cJWE := jwe(`{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","p2c":2147483647,"p2s":"c2FsdA"}`, "a", "b", "c", "d")
	zipJWE := jwe(`{"alg":"RSA-OAEP","enc":"A256GCM","zip":"DEF"}`, "a", "b", "c", "d")
	return []Case{
		// A14: the gRPC row, transport-neutral here: no "authorization"
		// value and repeated values (adapters/grpcauth runs it over gRPC).
		{ID: "A14_authorization_missing", Authorization: func(*Fixture) []string { return nil }, Want: noToken},
		{ID: "A14_authorization_repeated", Authorization: func(f *Fixture) []string {
			return []string{"Bearer " + f.Valid(), "Bearer " + f.Valid()}
		}, Want: badRequest},

		// B8: whitespace and line breaks inside a segment. Go's base64
		// decoder would skip CR and LF; the header grammar refuses
		// control characters first (400, like A8's tab), and a space is
		// outside the compact alphabet (401).
		{ID: "B8_lf_in_header_segment", Authorization: bearer(insertAt(0, 10, "\n")), Want: badRequest},
		{ID: "B8_crlf_in_payload_segment", Authorization: bearer(insertAt(1, 10, "\r\n")), Want: badRequest},
		{ID: "B8_tab_in_signature_segment", Authorization: bearer(insertAt(2, 10, "\t")), Want: badRequest},
		{ID: "B8_space_in_payload_segment", Authorization: bearer(insertAt(1, 10, " ")), Want: malformed},

		// C11: ECDSA r or s outside [1, n-1].
		{ID: "C11_ecdsa_r_equals_n", Authorization: bearer(esSignature(func(sig []byte) []byte { return setHalf(sig, 0, p256N()) })), Want: signature},
		{ID: "C11_ecdsa_s_equals_n", Authorization: bearer(esSignature(func(sig []byte) []byte { return setHalf(sig, 1, p256N()) })), Want: signature},
		{ID: "C11_ecdsa_r_above_n", Authorization: bearer(esSignature(func(sig []byte) []byte {
			return setHalf(sig, 0, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)))
		})), Want: signature},
		{ID: "C11_ecdsa_s_n_minus_1", Authorization: bearer(esSignature(func(sig []byte) []byte {
			return setHalf(sig, 1, new(big.Int).Sub(p256N(), big.NewInt(1)))
		})), Want: signature},
		{ID: "C11_ecdsa_r_and_s_equal_1", Authorization: bearer(esSignature(func(sig []byte) []byte {
			return setHalf(setHalf(sig, 0, big.NewInt(1)), 1, big.NewInt(1))
		})), Want: signature},

		// C13: RS256 signatures over a PKCS#1 v1.5 encoding with an
		// altered padding, made with the raw RSA private operation. The
		// control case proves the raw signer itself is right.
		{ID: "C13_pkcs1_correct_padding_control", Config: pkcs1Keys(rsaKey), Authorization: bearer(pkcs1Token(rsaKey, nil)), Want: accept},
		{ID: "C13_pkcs1_block_type_2", Config: pkcs1Keys(rsaKey), Authorization: bearer(pkcs1Token(rsaKey, func(em []byte) []byte {
			em[1] = 0x02
			return em
		})), Want: signature},
		{ID: "C13_pkcs1_padding_byte_not_ff", Config: pkcs1Keys(rsaKey), Authorization: bearer(pkcs1Token(rsaKey, func(em []byte) []byte {
			em[20] = 0xfe
			return em
		})), Want: signature},
		{ID: "C13_pkcs1_no_zero_separator", Config: pkcs1Keys(rsaKey), Authorization: bearer(pkcs1Token(rsaKey, func(em []byte) []byte {
			em[len(em)-len(sha256DigestInfo)-sha256.Size-1] = 0xff
			return em
		})), Want: signature},
		{ID: "C13_pkcs1_digest_info_without_null", Config: pkcs1Keys(rsaKey), Authorization: bearer(pkcs1Token(rsaKey, func(em []byte) []byte {
			// SEQUENCE { SEQUENCE { OID sha256 } OCTET STRING } without
			// the NULL parameters, right-aligned, padding widened.
			t := []byte{0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20}
			return rebuildEM(len(em), append(t, em[len(em)-sha256.Size:]...))
		})), Want: signature},
		{ID: "C13_pkcs1_sha1_oid_for_sha256_digest", Config: pkcs1Keys(rsaKey), Authorization: bearer(pkcs1Token(rsaKey, func(em []byte) []byte {
			t := []byte{0x30, 0x2d, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x20}
			return rebuildEM(len(em), append(t, em[len(em)-sha256.Size:]...))
		})), Want: signature},
		{ID: "C13_pkcs1_garbage_after_digest", Config: pkcs1Keys(rsaKey), Authorization: bearer(pkcs1Token(rsaKey, func(em []byte) []byte {
			// Bleichenbacher 2006: a short padding, the DigestInfo, then
			// garbage a lax parser ignores.
			t := append(append([]byte(nil), sha256DigestInfo...), em[len(em)-sha256.Size:]...)
			out := []byte{0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}
			out = append(out, t...)
			for len(out) < len(em) {
				out = append(out, 0x5a)
			}
			return out
		})), Want: signature},

		// C18: a key with the ROCA fingerprint (Wycheproof's), which the
		// JWKS hygiene drops, so a token it really signed is refused.
		{ID: "C18_roca_key_dropped", Config: rocaKeys, Authorization: bearer(rocaToken), Want: signature},

		// C19: EC keys with a point off the curve, a wrong curve or
		// coordinates of the wrong length are dropped at load.
		{ID: "C19_ec_point_not_on_curve", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.ES256, map[string]any{"alg": "ES256", "y": flipLast(issuerJWK(f, f.ES256, nil)["y"].(string))}), unrelatedJWK()}
		}), Authorization: bearer(esToken), Want: signature},
		{ID: "C19_ec_wrong_crv", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.ES256, map[string]any{"crv": "P-384"}), unrelatedJWK()}
		}), Authorization: bearer(esToken), Want: signature},
		{ID: "C19_ec_coordinate_zero_padded", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.ES256, map[string]any{"alg": "ES256", "x": zeroPad(issuerJWK(f, f.ES256, nil)["x"].(string))}), unrelatedJWK()}
		}), Authorization: bearer(esToken), Want: signature},

		// G. Go-library-specific cases (standards-and-attacks §3 G).
		{ID: "G1_aud_array_without_resource", Authorization: bearer(tok(map[string]any{"aud": []string{"https://evil.example"}})), Want: audience},
		{ID: "G1_aud_empty_array", Authorization: bearer(tok(map[string]any{"aud": []string{}})), Want: audience},
		{ID: "G2_expired_and_badly_signed", Authorization: bearer(tok(map[string]any{"exp": Now.Add(-time.Hour).Unix()}, func(t *audtest.Token) { t.TamperSignature = true })), Want: signature},
		{ID: "G2_expired_and_signed_by_attacker", Authorization: bearer(func(f *Fixture) string {
			kid := must(f.Issuer.AddUnpublishedKey("RS256"))
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(map[string]any{"exp": Now.Add(-time.Hour).Unix()}), KeyID: kid, Header: map[string]any{"kid": f.RS256}})
		}), Want: signature},
		{ID: "G3_eight_megabytes_of_dots", Authorization: header1("Bearer " + strings.Repeat(".", 8<<20)), Want: malformed},
		{ID: "G4_one_megabyte_of_dots_within_raised_cap", Config: func(_ *Fixture, c *middleware.Config) { c.MaxTokenSize = 1 << 20 },
			Authorization: header1("Bearer " + strings.Repeat(".", 1<<20-16)), Want: malformed},
		{ID: "G4_many_segments_within_raised_cap", Config: func(_ *Fixture, c *middleware.Config) { c.MaxTokenSize = 1 << 20 },
			Authorization: header1("Bearer " + strings.Repeat("ab.", 300000)), Want: malformed},
		{ID: "G5_compressed_jwe", Authorization: header1("Bearer " + zipJWE), Want: malformed},
		{ID: "G5_zip_in_jws_header", Authorization: bearer(tok(nil, withHeader(map[string]any{"zip": "DEF"}))), Want: header},
		{ID: "G6_pbes2_jwe_huge_p2c", Authorization: header1("Bearer " + p2cJWE), Want: malformed},
		{ID: "G6_p2c_in_jws_header", Authorization: bearer(tok(nil, withHeader(map[string]any{"p2c": 2147483647, "p2s": "c2FsdA"}))), Want: header},
		{ID: "G7_crafted_jwe", Authorization: header1("Bearer " + jwe(`{"alg":"ECDH-ES","enc":"A128GCM","epk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}`, "", "AAAA", "AAAA", "AAAA")), Want: malformed},
		{ID: "G7_jwe_header_in_three_segments", Authorization: bearer(tok(nil, withHeader(map[string]any{"epk": map[string]any{"kty": "EC"}}))), Want: header},
		{ID: "G8_json_jws_two_signatures", Authorization: func(f *Fixture) []string {
			p := strings.SplitN(f.Valid(), ".", 3)
			return []string{`Bearer {"payload":"` + p[1] + `","signatures":[{"protected":"` + p[0] + `","signature":"` + p[2] + `"},{"protected":"` + p[0] + `","signature":"AAAA"}]}`}
		}, Want: malformed},
		{ID: "G10_ps256_salt_length_auto", Config: func(f *Fixture, c *middleware.Config) {
			k := audtest.PublicJWK(&rsaKey.PublicKey)
			k["kid"], k["alg"] = "pss", "PS256"
			staticKeys(func(*Fixture) []map[string]any { return []map[string]any{k} })(f, c)
		}, Authorization: bearer(func(f *Fixture) string { return pssAutoSalt(f, rsaKey) }), Want: signature},
		{ID: "G11_padded_signature_segment", Authorization: func(f *Fixture) []string { return []string{"Bearer " + f.Valid() + "=="} }, Want: malformed},
		{ID: "G11_noncanonical_payload_bits", Authorization: bearer(func(f *Fixture) string {
			for pad := 0; pad < 3; pad++ {
				t := f.Issuer.MustSign(audtest.Token{Claims: f.claims(map[string]any{"x": strings.Repeat("y", pad)})})
				p := strings.SplitN(t, ".", 3)
				if len(p[1])%4 != 0 {
					return p[0] + "." + setUnusedBits(p[1]) + "." + p[2]
				}
			}
			panic("unreachable")
		}), Want: malformed},
		{ID: "G12_exp_missing", Authorization: bearer(tok(map[string]any{"exp": nil})), Want: expired},
		{ID: "G12_aud_null", Authorization: bearer(tok(map[string]any{"aud": jsonNull{}})), Want: audience},
		{ID: "G12_aud_absent", Authorization: bearer(tok(map[string]any{"aud": nil})), Want: audience},
		{ID: "G12_iat_in_future", Authorization: bearer(tok(map[string]any{"iat": Now.Add(time.Hour).Unix()})), Want: notYet},
		{ID: "G13_case_insensitive_aud_shadow", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, []string{"aud"}, `"Aud":"https://evil.example","aud":"`+Resource+`"`)
		})), Want: malformed},
		{ID: "G13_duplicate_aud_last_wins", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, []string{"aud"}, `"aud":"https://evil.example","aud":"`+Resource+`"`)
		})), Want: malformed},
		{ID: "G14_crlf_between_segments", Authorization: bearer(func(f *Fixture) string { return strings.Replace(f.Valid(), ".", ".\r\n", 1) }), Want: badRequest},
		{ID: "G15_second_header_valid", Authorization: func(f *Fixture) []string { return []string{"Bearer garbage", "Bearer " + f.Valid()} }, Want: badRequest},
		{ID: "G15_first_header_valid", Authorization: func(f *Fixture) []string { return []string{"Bearer " + f.Valid(), "Basic dXNlcjpwYXNz"} }, Want: badRequest},
		{ID: "G16_invalid_utf8_in_header", Authorization: bearer(signedRaw(func(f *Fixture) string { return kidHeader(f, `,"x":"`+"\xc3\x28"+`"`) }, nil)), Want: malformed},
		{ID: "G16_overlong_utf8_in_claims", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, `"note":"`+"\xc0\xaf"+`"`)
		})), Want: malformed},
		{ID: "G17_tab_after_scheme", Authorization: func(f *Fixture) []string { return []string{"Bearer\t" + f.Valid()} }, Want: badRequest},
		{ID: "G17_several_headers", Authorization: func(f *Fixture) []string { return []string{"Bearer " + f.Valid(), "Bearer " + f.Valid()} }, Want: badRequest},
		{ID: "G17_invalid_token_has_error_code", Authorization: bearer(tok(map[string]any{"aud": "https://other.example"})), Want: audience},

		// H2: the catalog runners check, for every case, that neither the
		// log nor the observer's error carries token bytes; this case is
		// the one whose log line would most tempt a leak.
		{ID: "H2_rejection_logged_without_token", Authorization: bearer(tok(map[string]any{"aud": "https://leak-check.example/mcp", "sub": "leak-check-subject"})), Want: audience},
		// H7: offline_access is never put in a challenge, even when the
		// token holds it and the route needs another scope.
		{ID: "H7_offline_access_never_challenged", Scopes: []string{"write"}, Authorization: bearer(tok(map[string]any{"scope": "read offline_access"})), Want: insufficientScp},
	}
}

// insertAt returns a valid token with s inserted at offset off of segment
// seg.
func insertAt(seg, off int, s string) func(*Fixture) string {
	return func(f *Fixture) string {
		p := strings.SplitN(f.Valid(), ".", 3)
		p[seg] = p[seg][:off] + s + p[seg][off:]
		return strings.Join(p, ".")
	}
}

func p256N() *big.Int { return elliptic.P256().Params().N }

// setHalf replaces r (half 0) or s (half 1) of a raw P-256 signature.
func setHalf(sig []byte, half int, v *big.Int) []byte {
	out := append([]byte(nil), sig...)
	v.FillBytes(out[32*half : 32*half+32])
	return out
}

// esToken is a valid token signed by the fixture's ES256 key.
func esToken(f *Fixture) string {
	return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: f.ES256})
}

func flipLast(b64 string) string {
	b, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		panic(err)
	}
	b[len(b)-1] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}

// zeroPad prepends a zero byte: the same integer, one byte too long for
// the curve (RFC 7518 §6.2.1.2 requires the full coordinate size, no more).
func zeroPad(b64 string) string {
	b, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(append([]byte{0}, b...))
}

// setUnusedBits sets the unused low bits of a segment's last character
// (RFC 4648 §3.5): a decoder that ignores them reads the same bytes.
func setUnusedBits(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last|1])
}

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo (RFC 8017
// §9.2 note 1).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// rebuildEM builds 00 01 FF..FF 00 t of length k.
func rebuildEM(k int, t []byte) []byte {
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[k-len(t):], t)
	return em
}

// pkcs1Keys publishes key as the RS256 key "pkcs1".
func pkcs1Keys(key *rsa.PrivateKey) func(*Fixture, *middleware.Config) {
	return staticKeys(func(*Fixture) []map[string]any {
		k := audtest.PublicJWK(&key.PublicKey)
		k["kid"], k["alg"] = "pkcs1", "RS256"
		return []map[string]any{k}
	})
}

// pkcs1Token signs valid claims for RS256 with the raw RSA operation over
// the PKCS#1 v1.5 encoding (EMSA-PKCS1-v1_5, RFC 8017 §9.2), after tamper
// (if any) rewrote the encoded message.
func pkcs1Token(key *rsa.PrivateKey, tamper func(em []byte) []byte) func(*Fixture) string {
	return func(f *Fixture) string {
		in := strings.TrimSuffix(rawToken(`{"alg":"RS256","kid":"pkcs1","typ":"at+jwt"}`, validClaimsJSON(f, nil, ""), ""), ".")
		d := sha256.Sum256([]byte(in))
		k := key.Size()
		em := rebuildEM(k, append(append([]byte(nil), sha256DigestInfo...), d[:]...))
		if tamper != nil {
			em = tamper(em)
		}
		m := new(big.Int).SetBytes(em)
		s := new(big.Int).Exp(m, key.D, key.N)
		return in + "." + base64.RawURLEncoding.EncodeToString(s.FillBytes(make([]byte, k)))
	}
}

// rocaKey is the private key of Wycheproof's jws_rsa_roca_key group
// (testdata/wycheproof/json_web_crypto_test.json), whose modulus has the
// ROCA fingerprint.
func rocaKey() (*rsa.PrivateKey, map[string]any) {
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "wycheproof", "json_web_crypto_test.json"))
	if err != nil {
		panic(err)
	}
	var doc struct {
		TestGroups []struct {
			Comment string          `json:"comment"`
			Private json.RawMessage `json:"private"`
			Public  map[string]any  `json:"public"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		panic(err)
	}
	for _, g := range doc.TestGroups {
		if g.Comment != "jws_rsa_roca_key" {
			continue
		}
		k, err := jwk.ParseKey(g.Private)
		if err != nil {
			panic(err)
		}
		var priv rsa.PrivateKey
		if err := jwk.Export(k, &priv); err != nil {
			panic(err)
		}
		return &priv, g.Public
	}
	panic("catalog: no jws_rsa_roca_key group in the Wycheproof file")
}

// rocaKeys publishes the ROCA public key (and an unrelated key) and checks
// that the hygiene rules dropped it for its fingerprint.
func rocaKeys(_ *Fixture, c *middleware.Config) {
	_, pub := rocaKey()
	m := map[string]any{}
	for k, v := range pub {
		m[k] = v
	}
	m["kid"], m["alg"] = "roca", "RS256"
	doc, _ := json.Marshal(map[string]any{"keys": []any{m, unrelatedJWK()}})
	set, dropped, err := jwks.Parse(doc, jwks.ParseOptions{})
	if err != nil {
		panic(err)
	}
	if len(dropped) != 1 || !strings.Contains(dropped[0].Reason, "ROCA") {
		panic(fmt.Sprintf("catalog: the ROCA key was not dropped for its fingerprint: %+v", dropped))
	}
	c.Issuers[0].Keys = set
}

// rocaToken is a valid token really signed by the ROCA key.
func rocaToken(f *Fixture) string {
	priv, _ := rocaKey()
	return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), Signer: priv, Header: map[string]any{"kid": "roca"}})
}
