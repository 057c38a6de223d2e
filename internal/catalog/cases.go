package catalog

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
)

// NotApplicable lists the catalog rows (or the part of a row, as
// "A3_with_header") that no test covers because they do not apply to
// audguard, with the reason, so the gaps are visible in one place. The
// keys are row IDs of standards-and-attacks §3; TestCoverage checks that
// every row is a Case, is in [Elsewhere] or is listed here.
var NotApplicable = map[string]string{
	"A3_with_header": "the form-body method is not supported and the body is never read (it belongs to the application); a request with a header token is judged on the header alone (A3_token_only_in_form_body covers the row)",
	"A15":            "Origin validation is the MCP transport's job before authentication (adapters/mcpauth documents http.CrossOriginProtection); not part of token verification",
	"C20":            "no HMAC key can exist in audguard: New refuses HS* algorithms (middleware TestConfigValidation/alg_hs256) and jwks.Parse drops every oct key (D11_oct_key_and_hs256_token), so there is no HMAC key length to check",
	"F26":            "RFC 9470 step-up (acr, auth_time, insufficient_user_authentication) is not implemented",
	"G9":             "go-jose is not a dependency; audguard's allow-list is always explicit (Config.Algorithms, default RS256 PS256 ES256 EdDSA; C5)",
	"H4":             "no HMAC is ever verified, so there is no MAC comparison to time",
	"H9":             "state-handle binding is the application's: ClaimsFromContext gives it the verified subject (middleware TestClaimsInContext)",
}

// Elsewhere maps the catalog rows that are not per-request cases with
// static keys (JWKS endpoint faults, the reverse proxy) to the named test
// that asserts their outcome, as "<directory>: <TestName>[/<subtest>]".
// TestCoverage checks that each named test exists.
var Elsewhere = map[string]string{
	"E1":  "middleware: TestJWKSFaults/E1_slow_jwks_bounded_by_fetch_timeout",
	"E2":  "middleware: TestJWKSFaults/E2_jwks_500_keeps_last_good_keys",
	"E3":  "middleware: TestJWKSFaults/E3_garbage_keeps_last_good_keys",
	"E4":  "middleware: TestJWKSFaults/E4_huge_body_refused",
	"E5":  "middleware: TestJWKSFaults/E5_ten_thousand_keys_refused",
	"E6":  "middleware: TestJWKSFaults/E6_cross_origin_redirect_not_followed",
	"E7":  "middleware: TestJWKSFaults/E7_http_jwks_uri_refused",
	"E8":  "middleware: TestJWKSFaults/E8_invalid_tls_certificate",
	"E9":  "middleware: TestJWKSFaults/E9_rotation_first_request_accepted",
	"E10": "middleware: TestJWKSFaults/E10_revoked_key_refused_after_refresh",
	"E11": "middleware: TestJWKSFaults/E11_discovery_issuer_mismatch",
	"E12": "middleware: TestJWKSFaults/E12_jwks_uri_on_another_host_warned",
	"E13": "middleware: TestJWKSFaults/E13_thundering_herd_one_fetch",
	"E14": "middleware: TestJWKSFaults/E14_max_age_clamped",
	"E15": "middleware: TestJWKSFaults/E15_issuers_do_not_share_kids",
	"H3":  "cmd/audguard: TestProxyEndToEnd/accept_and_forward",
}

// Cases returns every applicable per-request row of §3 (groups A, B, C,
// D, F, G and H), one or more variants each.
func Cases() []Case {
	pssKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	big := strings.Repeat("a", 9000)
	cases := []Case{
		// A. Token transport and header parsing.
		{ID: "A1_no_authorization_header", Authorization: func(*Fixture) []string { return nil }, Want: noToken},
		{ID: "A1_no_header_with_required_scope", Authorization: func(*Fixture) []string { return nil }, Scopes: []string{"read"}, Want: noToken},
		{ID: "A2_token_only_in_query", Authorization: func(*Fixture) []string { return nil },
			HTTP: func(f *Fixture, r *http.Request) { r.URL.RawQuery = "access_token=" + f.Valid() }, Want: noToken},
		{ID: "A2_query_token_ignored_next_to_header", Authorization: bearer((*Fixture).Valid),
			HTTP: func(f *Fixture, r *http.Request) { r.URL.RawQuery = "access_token=garbage" }, Want: accept},
		{ID: "A3_token_only_in_form_body", Authorization: func(*Fixture) []string { return nil },
			HTTP: func(f *Fixture, r *http.Request) {
				r.Method = http.MethodPost
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Body = http.NoBody
				r.URL.RawQuery = ""
				r.Form = nil
				r.PostForm = map[string][]string{"access_token": {f.Valid()}}
			}, Want: noToken},
		{ID: "A4_two_authorization_headers", Authorization: func(f *Fixture) []string {
			return []string{"Bearer " + f.Valid(), "Bearer " + f.Valid()}
		}, Want: badRequest},
		{ID: "A5_comma_joined_credentials", Authorization: func(f *Fixture) []string {
			return []string{"Bearer " + f.Valid() + ", Bearer " + f.Valid()}
		}, Want: badRequest},
		{ID: "A6_scheme_lowercase", Authorization: func(f *Fixture) []string { return []string{"bearer " + f.Valid()} }, Want: accept},
		{ID: "A6_scheme_uppercase", Authorization: func(f *Fixture) []string { return []string{"BEARER " + f.Valid()} }, Want: accept},
		{ID: "A6_scheme_mixed_case", Authorization: func(f *Fixture) []string { return []string{"bEaReR " + f.Valid()} }, Want: accept},
		{ID: "A7_several_spaces", Authorization: func(f *Fixture) []string { return []string{"Bearer   " + f.Valid()} }, Want: accept},
		{ID: "A8_tab_separator", Authorization: func(f *Fixture) []string { return []string{"Bearer\t" + f.Valid()} }, Want: badRequest},
		{ID: "A8_nbsp_separator", Authorization: func(f *Fixture) []string { return []string{"Bearer\u00a0" + f.Valid()} }, Want: badRequest},
		{ID: "A8_no_separator", Authorization: func(f *Fixture) []string { return []string{"Bearer" + f.Valid()} }, Want: badRequest},
		{ID: "A9_bearer_without_token", Authorization: header1("Bearer"), Want: badRequest},
		{ID: "A9_bearer_space_without_token", Authorization: header1("Bearer "), Want: badRequest},
		{ID: "A9_empty_header", Authorization: header1(""), Want: badRequest},
		{ID: "A10_basic_scheme", Authorization: header1("Basic dXNlcjpwYXNz"), Want: noToken},
		{ID: "A10_token_scheme", Authorization: func(f *Fixture) []string { return []string{"Token " + f.Valid()} }, Want: noToken},
		{ID: "A10_dpop_scheme", Authorization: func(f *Fixture) []string { return []string{"DPoP " + f.Valid()} }, Want: noToken},
		{ID: "A11_brace", Authorization: header1(`Bearer {"alg":"none"}`), Want: malformed},
		{ID: "A11_quote", Authorization: header1(`Bearer "abc.def.ghi"`), Want: malformed},
		{ID: "A11_space_inside", Authorization: header1("Bearer abc.def ghi"), Want: malformed},
		{ID: "A11_plus_slash", Authorization: header1("Bearer ab+c.d/ef.ghi"), Want: malformed},
		{ID: "A11_padding", Authorization: header1("Bearer abc=.def.ghi"), Want: malformed},
		{ID: "A12_token_in_cookie", Authorization: func(*Fixture) []string { return nil },
			HTTP: func(f *Fixture, r *http.Request) { r.AddCookie(&http.Cookie{Name: "access_token", Value: f.Valid()}) }, Want: noToken},
		{ID: "A13_header_over_8KiB", Authorization: header1("Bearer " + big), Want: malformed},
		{ID: "A13_other_scheme_over_8KiB", Authorization: header1("Basic " + big), Want: malformed},

		// B. JOSE structure and encoding.
		{ID: "B1_two_segments", Authorization: header1("Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0"), Want: malformed},
		{ID: "B1_four_segments", Authorization: func(f *Fixture) []string { return []string{"Bearer " + f.Valid() + ".abc"} }, Want: malformed},
		{ID: "B1_only_dots", Authorization: header1("Bearer .."), Want: malformed},
		{ID: "B1_empty_header_segment", Authorization: func(f *Fixture) []string {
			v := f.Valid()
			return []string{"Bearer " + v[strings.IndexByte(v, '.'):]}
		}, Want: malformed},
		{ID: "B2_jwe_five_segments", Authorization: header1("Bearer eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"), Want: malformed},
		{ID: "B2_enc_header", Authorization: bearer(tok(nil, withHeader(map[string]any{"enc": "A256GCM"}))), Want: header},
		{ID: "B3_json_serialization", Authorization: func(f *Fixture) []string {
			p := strings.SplitN(f.Valid(), ".", 3)
			return []string{`Bearer {"payload":"` + p[1] + `","protected":"` + p[0] + `","signature":"` + p[2] + `"}`}
		}, Want: malformed},
		{ID: "B4_nested_jwt_cty", Authorization: bearer(tok(nil, withHeader(map[string]any{"cty": "JWT"}))), Want: header},
		{ID: "B4_nested_jwt_cty_media_type", Authorization: bearer(tok(nil, withHeader(map[string]any{"cty": "application/jwt"}))), Want: header},
		{ID: "B5_padding", Authorization: func(f *Fixture) []string {
			p := strings.SplitN(f.Valid(), ".", 3)
			return []string{"Bearer " + p[0] + "==." + p[1] + "." + p[2]}
		}, Want: malformed},
		{ID: "B6_standard_alphabet", Authorization: func(f *Fixture) []string {
			v := strings.NewReplacer("-", "+", "_", "/").Replace(f.Valid())
			if !strings.ContainsAny(v, "+/") {
				v = "a+" + v
			}
			return []string{"Bearer " + v}
		}, Want: malformed},
		{ID: "B7_noncanonical_trailing_bits", Authorization: bearer(nonCanonical), Want: malformed},
		{ID: "B9_empty_signature", Authorization: func(f *Fixture) []string {
			v := f.Valid()
			return []string{"Bearer " + v[:strings.LastIndexByte(v, '.')+1]}
		}, Want: malformed},
		{ID: "B10_header_array", Authorization: bearer(signedRaw(func(*Fixture) string { return `["RS256"]` }, nil)), Want: malformed},
		{ID: "B10_header_string", Authorization: bearer(signedRaw(func(*Fixture) string { return `"RS256"` }, nil)), Want: malformed},
		{ID: "B10_header_null", Authorization: bearer(signedRaw(func(*Fixture) string { return `null` }, nil)), Want: malformed},
		{ID: "B10_header_trailing_data", Authorization: bearer(signedRaw(func(f *Fixture) string { return kidHeader(f, "") + "x" }, nil)), Want: malformed},
		{ID: "B10_header_bom", Authorization: bearer(signedRaw(func(f *Fixture) string { return "\ufeff" + kidHeader(f, "") }, nil)), Want: malformed},
		{ID: "B10_header_utf16", Authorization: bearer(signedRaw(func(*Fixture) string { return "{\x00\"\x00a\x00l\x00g\x00\"\x00}\x00" }, nil)), Want: malformed},
		{ID: "B11_invalid_utf8_in_claims", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, []string{"sub"}, "\"sub\":\"\xff\xfe\"")
		})), Want: malformed},
		{ID: "B11_lone_surrogate_escape", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, []string{"sub"}, `"sub":"\ud800"`)
		})), Want: malformed},
		{ID: "B12_duplicate_alg", Authorization: bearer(signedRaw(func(f *Fixture) string { return kidHeader(f, `,"alg":"none"`) }, nil)), Want: malformed},
		{ID: "B13_duplicate_exp", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, `"exp":1`)
		})), Want: malformed},
		{ID: "B13_duplicate_aud", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, `"aud":"https://evil.example"`)
		})), Want: malformed},
		{ID: "B13_duplicate_in_nested_object", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, `"ext":{"role":"user","role":"admin"}`)
		})), Want: malformed},
		{ID: "B14_case_variant_header_collision", Authorization: bearer(signedRaw(func(f *Fixture) string { return kidHeader(f, `,"ALG":"none"`) }, nil)), Want: malformed},
		{ID: "B14_case_variant_claim_collision", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, `"Exp":99999999999`)
		})), Want: malformed},
		{ID: "B14_unicode_fold_collision", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, "\"\u017fub\":\"admin\"") // ſ folds to s: collides with "sub"
		})), Want: malformed},
		{ID: "B14_case_variant_alone_ignored", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, []string{"scope"}, `"AUDIENCE":"x","Scope":"admin"`)
		})), Want: accept},
		{ID: "B14_case_variant_aud_alone_is_no_aud", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, []string{"aud"}, `"AUD":"`+Resource+`"`)
		})), Want: audience},
		{ID: "B15_one_megabyte_of_dots", Authorization: header1("Bearer " + strings.Repeat(".", 1<<20)), Want: malformed},
		{ID: "B15_many_segments_within_limit", Authorization: header1("Bearer " + strings.Repeat("a.", 4000)), Want: malformed},
		{ID: "B16_deeply_nested_claim", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, `"deep":`+strings.Repeat("[", 2000)+strings.Repeat("]", 2000))
		})), Want: malformed},
		{ID: "B17_huge_exponent_exp", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, []string{"exp"}, `"exp":1e999999`)
		})), Want: malformed},
		{ID: "B17_ten_thousand_digit_number", Authorization: bearer(signedRaw(nil, func(f *Fixture) string {
			return validClaimsJSON(f, nil, `"n":`+strings.Repeat("9", 3000))
		})), Want: malformed},
		{ID: "B18_crit_unknown", Authorization: bearer(tok(nil, withHeader(map[string]any{"crit": []string{"foo"}, "foo": 1}))), Want: header},
		{ID: "B19_crit_empty", Authorization: bearer(tok(nil, withHeader(map[string]any{"crit": []string{}}))), Want: header},
		{ID: "B19_crit_standard_name", Authorization: bearer(tok(nil, withHeader(map[string]any{"crit": []string{"alg"}}))), Want: header},
		{ID: "B19_crit_not_array", Authorization: bearer(tok(nil, withHeader(map[string]any{"crit": "exp"}))), Want: header},
		{ID: "B20_b64_false", Authorization: bearer(tok(nil, withHeader(map[string]any{"b64": false, "crit": []string{"b64"}}))), Want: header},
		{ID: "B20_b64_false_without_crit", Authorization: bearer(tok(nil, withHeader(map[string]any{"b64": false}))), Want: header},
		{ID: "B21_zip", Authorization: bearer(tok(nil, withHeader(map[string]any{"zip": "DEF"}))), Want: header},
		{ID: "B22_payload_not_object", Authorization: bearer(signedRaw(nil, func(*Fixture) string { return "foo" })), Want: malformed},
		{ID: "B22_payload_array", Authorization: bearer(signedRaw(nil, func(*Fixture) string { return `["iss"]` })), Want: malformed},

		// C. Algorithms and signatures.
		{ID: "C1_alg_none_empty_signature", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Alg = "none" })), Want: malformed},
		{ID: "C2_alg_None", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"alg": "None"} })), Want: header},
		{ID: "C2_alg_NONE", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"alg": "NONE"} })), Want: header},
		{ID: "C2_alg_nOnE", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"alg": "nOnE"} })), Want: header},
		{ID: "C3_alg_none_with_signature", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"alg": "none"} })), Want: header},
		{ID: "C4_hs256_with_rsa_public_key", Authorization: bearer(func(f *Fixture) string {
			pub := must(f.Issuer.PublicKey(f.RS256)).(*rsa.PublicKey)
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), HMACSecret: pub.N.Bytes()})
		}), Want: header},
		{ID: "C4_hs256_with_jwk_json", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), HMACSecret: f.Issuer.JWKS()})
		}), Want: header},
		{ID: "C5_alg_outside_allow_list", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"alg": "RS384"} })), Want: header},
		{ID: "C5_alg_narrowed_allow_list", Config: func(_ *Fixture, c *middleware.Config) { c.Algorithms = []string{"ES256"} },
			Authorization: bearer((*Fixture).Valid), Want: header},
		{ID: "C6_token_alg_differs_from_key_alg", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"alg": "PS256"} })), Want: signature},
		{ID: "C7_rsa_key_without_alg_is_rs256_only",
			Config:        staticKeys(func(f *Fixture) []map[string]any { return []map[string]any{issuerJWK(f, f.RS256, nil)} }),
			Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Alg = "PS256" })), Want: signature},
		{ID: "C7_rsa_key_without_alg_accepts_rs256",
			Config:        staticKeys(func(f *Fixture) []map[string]any { return []map[string]any{issuerJWK(f, f.RS256, nil)} }),
			Authorization: bearer((*Fixture).Valid), Want: accept},
		{ID: "C8_es256_token_with_p384_key", Authorization: bearer(func(f *Fixture) string {
			kid := must(f.Issuer.AddUnpublishedKey("ES384"))
			if err := f.Issuer.Publish(kid); err != nil {
				panic(err)
			}
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: kid, Alg: "ES256"})
		}), Config: func(f *Fixture, c *middleware.Config) {
			c.Algorithms = []string{"ES256", "ES384"}
			c.Issuers[0].Keys = lazyKeys{f.Issuer}
		}, Want: signature},
		{ID: "C9_es256_der_signature", Authorization: bearer(esSignature(func(sig []byte) []byte {
			return append([]byte{0x30, 0x44, 0x02, 0x20}, append(append(sig[:32:32], 0x02, 0x20), sig[32:]...)...)
		})), Want: signature},
		{ID: "C9_es256_short_signature", Authorization: bearer(esSignature(func(sig []byte) []byte { return sig[:63] })), Want: signature},
		{ID: "C10_ecdsa_zero_signature", Authorization: bearer(esSignature(func([]byte) []byte { return make([]byte, 64) })), Want: signature},
		{ID: "C12_ecdsa_high_s_accepted", Authorization: bearer(esSignature(highS)), Want: accept},
		{ID: "C12_es256_valid", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: f.ES256})
		}), Want: accept},
		{ID: "C12_eddsa_valid", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: f.EdDSA})
		}), Want: accept},
		{ID: "C14_rsa_signature_truncated", Authorization: bearer(func(f *Fixture) string {
			v := f.Valid()
			i := strings.LastIndexByte(v, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(v[i+1:])
			return v[:i+1] + base64.RawURLEncoding.EncodeToString(sig[:len(sig)-1])
		}), Want: signature},
		{ID: "C14_rsa_signature_zero_prepended", Authorization: bearer(func(f *Fixture) string {
			v := f.Valid()
			i := strings.LastIndexByte(v, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(v[i+1:])
			return v[:i+1] + base64.RawURLEncoding.EncodeToString(append([]byte{0}, sig...))
		}), Want: signature},
		{ID: "C14_rsa_signature_tampered", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.TamperSignature = true })), Want: signature},
		{ID: "C15_pss_wrong_salt_length", Config: func(f *Fixture, c *middleware.Config) {
			k := audtest.PublicJWK(&pssKey.PublicKey)
			k["kid"], k["alg"] = "pss", "PS256"
			staticKeys(func(*Fixture) []map[string]any { return []map[string]any{k} })(f, c)
		}, Authorization: bearer(func(f *Fixture) string { return pssAutoSalt(f, pssKey) }), Want: signature},
		{ID: "C16_rsa_1024_key_dropped", Config: staticKeys(func(f *Fixture) []map[string]any {
			k := must(rsa.GenerateKey(rand.Reader, 1024))
			m := audtest.PublicJWK(&k.PublicKey)
			m["kid"], m["alg"] = "weak", "RS256"
			return []map[string]any{m, unrelatedJWK()}
		}), Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"kid": "weak"} })), Want: signature},
		{ID: "C17_rsa_exponent_1_dropped", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"e": "AQ"}), unrelatedJWK()}
		}), Authorization: bearer((*Fixture).Valid), Want: signature},
		{ID: "C21_ed448_key_dropped", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.EdDSA, map[string]any{"crv": "Ed448"}), unrelatedJWK()}
		}), Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: f.EdDSA})
		}), Want: signature},
		{ID: "C22_es256k", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Header = map[string]any{"alg": "ES256K"} })), Want: header},

		// D. Key selection and header injection.
		{ID: "D1_embedded_jwk", Authorization: bearer(func(f *Fixture) string {
			kid := must(f.Issuer.AddUnpublishedKey("RS256"))
			pub := must(f.Issuer.PublicKey(kid))
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: kid, Header: map[string]any{"jwk": audtest.PublicJWK(pub)}})
		}), Want: header},
		{ID: "D2_jku", Authorization: bearer(tok(nil, withHeader(map[string]any{"jku": "https://attacker.example/jwks"}))), Want: header},
		{ID: "D2_jku_metadata_ip", Authorization: bearer(tok(nil, withHeader(map[string]any{"jku": "http://169.254.169.254/"}))), Want: header},
		{ID: "D3_x5u", Authorization: bearer(tok(nil, withHeader(map[string]any{"x5u": "https://attacker.example/cert"}))), Want: header},
		{ID: "D4_x5c", Authorization: bearer(tok(nil, withHeader(map[string]any{"x5c": []string{"MIIB"}}))), Want: header},
		{ID: "D5_kid_path_traversal", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": "../../../../dev/null"}))), Want: signature},
		{ID: "D6_kid_sql_injection", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": "x' UNION SELECT 'k' --"}))), Want: signature},
		{ID: "D7_kid_number", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": 7}))), Want: malformed},
		{ID: "D7_kid_object", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": map[string]any{"a": 1}}))), Want: malformed},
		{ID: "D7_kid_empty", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": ""}))), Want: malformed},
		{ID: "D7_kid_too_long", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": strings.Repeat("k", 300)}))), Want: malformed},
		{ID: "D7_kid_control_characters", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": "a\nb"}))), Want: malformed},
		{ID: "D8_no_kid_single_key_for_alg", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": nil}))), Want: accept},
		{ID: "D8_no_kid_several_keys_for_alg", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), Header: map[string]any{"kid": nil}})
		}), Config: staticKeys(func(f *Fixture) []map[string]any {
			other := must(rsa.GenerateKey(rand.Reader, 2048))
			m := audtest.PublicJWK(&other.PublicKey)
			m["kid"], m["alg"] = "second", "RS256"
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"alg": "RS256"}), m}
		}), Want: signature},
		{ID: "D9_unknown_kid", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": "never-published"}))), Want: signature},
		{ID: "D9_unpublished_key", Authorization: bearer(func(f *Fixture) string {
			kid := must(f.Issuer.AddUnpublishedKey("RS256"))
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: kid})
		}), Want: signature},
		{ID: "D10_duplicate_kid", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"alg": "RS256"}), issuerJWK(f, f.RS256, map[string]any{"alg": "RS256"}), unrelatedJWK()}
		}), Authorization: bearer((*Fixture).Valid), Want: signature},
		{ID: "D11_oct_key_and_hs256_token", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{{"kty": "oct", "kid": "sym", "alg": "HS256", "k": base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}, unrelatedJWK()}
		}), Authorization: bearer(tok(nil, func(t *audtest.Token) {
			t.HMACSecret = []byte("0123456789abcdef0123456789abcdef")
			t.Header = map[string]any{"kid": "sym"}
		})), Want: header},
		{ID: "D12_key_use_enc", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"use": "enc", "alg": "RS256"}), unrelatedJWK()}
		}), Authorization: bearer((*Fixture).Valid), Want: signature},
		{ID: "D13_key_ops_without_verify", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"key_ops": []string{"encrypt"}, "alg": "RS256"}), unrelatedJWK()}
		}), Authorization: bearer((*Fixture).Valid), Want: signature},
		{ID: "D14_key_alg_rsa_oaep", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"alg": "RSA-OAEP"}), unrelatedJWK()}
		}), Authorization: bearer((*Fixture).Valid), Want: signature},
		{ID: "D15_key_with_private_members", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"alg": "RS256", "d": "AQAB"}), unrelatedJWK()}
		}), Authorization: bearer((*Fixture).Valid), Want: signature},
		{ID: "D16_issuer_a_token_signed_with_issuer_b_key", Authorization: bearer(func(f *Fixture) string {
			c := f.claims(nil) // iss = primary issuer
			return f.Other.MustSign(audtest.Token{Claims: c})
		}), Want: signature},
		{ID: "D16_issuer_b_kid_in_issuer_a_token", Authorization: bearer(func(f *Fixture) string {
			c := f.claims(nil)
			return f.Other.MustSign(audtest.Token{Claims: c, Header: map[string]any{"kid": f.Other.CurrentKeyID()}})
		}), Want: signature},
		{ID: "D17_kty_rsa_with_ec_members", Config: staticKeys(func(f *Fixture) []map[string]any {
			return []map[string]any{issuerJWK(f, f.RS256, map[string]any{"alg": "RS256", "crv": "P-256"}), unrelatedJWK()}
		}), Authorization: bearer((*Fixture).Valid), Want: signature},

		// F. Claims.
		{ID: "F1_exp_missing", Authorization: bearer(tok(map[string]any{"exp": nil})), Want: expired},
		{ID: "F2_expired", Authorization: bearer(tok(map[string]any{"exp": Now.Add(-time.Hour).Unix()})), Want: expired},
		{ID: "F2_expired_just_beyond_leeway", Authorization: bearer(tok(map[string]any{"exp": Now.Add(-31 * time.Second).Unix()})), Want: expired},
		{ID: "F3_expired_within_leeway", Config: func(_ *Fixture, c *middleware.Config) { c.Leeway = time.Minute },
			Authorization: bearer(tok(map[string]any{"exp": Now.Add(-30 * time.Second).Unix()})), Want: accept},
		{ID: "F3_no_leeway", Config: func(_ *Fixture, c *middleware.Config) { c.Leeway = middleware.NoLeeway },
			Authorization: bearer(tok(map[string]any{"exp": Now.Unix()})), Want: expired},
		{ID: "F4_exp_string", Authorization: bearer(tok(map[string]any{"exp": "1900000000"})), Want: malformed},
		{ID: "F5_exp_fractional", Authorization: bearer(tok(map[string]any{"exp": float64(Now.Unix()) + 600.5})), Want: accept},
		{ID: "F6_exp_1e300", Authorization: bearer(tok(map[string]any{"exp": 1e300})), Want: malformed},
		{ID: "F6_exp_9_3e18", Authorization: bearer(tok(map[string]any{"exp": 9.3e18})), Want: malformed},
		{ID: "F6_nbf_1e300", Authorization: bearer(tok(map[string]any{"nbf": 1e300})), Want: malformed},
		{ID: "F6_nbf_minus_1e300", Authorization: bearer(tok(map[string]any{"nbf": -1e300})), Want: malformed},
		{ID: "F6_iat_1e300", Authorization: bearer(tok(map[string]any{"iat": 1e300})), Want: malformed},
		{ID: "F6_iat_9_3e18", Authorization: bearer(tok(map[string]any{"iat": 9.3e18})), Want: malformed},
		{ID: "F6_nbf_1e300_exp_past", Authorization: bearer(tok(map[string]any{"nbf": 1e300, "exp": 1})), Want: malformed},
		{ID: "F7_exp_zero", Authorization: bearer(tok(map[string]any{"exp": 0})), Want: expired},
		{ID: "F7_exp_negative", Authorization: bearer(tok(map[string]any{"exp": -1})), Want: expired},
		{ID: "F8_exp_null", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.Claims["exp"] = jsonNull{} })), Want: malformed},
		{ID: "F8_exp_bool", Authorization: bearer(tok(map[string]any{"exp": true})), Want: malformed},
		{ID: "F8_exp_array", Authorization: bearer(tok(map[string]any{"exp": []int{1}})), Want: malformed},
		{ID: "F8_exp_object", Authorization: bearer(tok(map[string]any{"exp": map[string]int{}})), Want: malformed},
		{ID: "F9_nbf_in_future", Authorization: bearer(tok(map[string]any{"nbf": Now.Add(time.Hour).Unix()})), Want: notYet},
		{ID: "F9_nbf_within_leeway", Authorization: bearer(tok(map[string]any{"nbf": Now.Add(20 * time.Second).Unix()})), Want: accept},
		{ID: "F10_iat_in_future", Authorization: bearer(tok(map[string]any{"iat": Now.Add(time.Hour).Unix()})), Want: notYet},
		{ID: "F11_iat_missing_compat", Authorization: bearer(tok(map[string]any{"iat": nil})), Want: accept},
		{ID: "F11_iat_missing_strict", Config: strict, Authorization: bearer(tok(map[string]any{"iat": nil})), Want: claimsRefused},
		{ID: "F12_iss_missing", Authorization: bearer(tok(map[string]any{"iss": nil})), Want: issuer},
		{ID: "F13_iss_trailing_slash", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(map[string]any{"iss": f.Issuer.URL() + "/"})})
		}), Want: issuer},
		{ID: "F14_iss_uppercase", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(map[string]any{"iss": strings.ToUpper(f.Issuer.URL())})})
		}), Want: issuer},
		{ID: "F14_iss_port_spelled_differently", Authorization: bearer(func(f *Fixture) string {
			u := strings.Replace(f.Issuer.URL(), "127.0.0.1:", "127.0.0.1:0", 1)
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(map[string]any{"iss": u})})
		}), Want: issuer},
		{ID: "F15_iss_array", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(map[string]any{"iss": []string{f.Issuer.URL()}})})
		}), Want: issuer},
		{ID: "F15_iss_number", Authorization: bearer(tok(map[string]any{"iss": 42})), Want: issuer},
		{ID: "F16_typ_jwt_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"typ": "JWT"})), Want: header},
		{ID: "F16_typ_absent_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"typ": nil})), Want: header},
		{ID: "F16_typ_id_token_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"typ": "id_token+jwt"})), Want: header},
		{ID: "F16_typ_id_token_compat", Authorization: bearer(tok(nil, withHeader(map[string]any{"typ": "id_token+jwt"}))), Want: header},
		{ID: "F16_typ_dpop_compat", Authorization: bearer(tok(nil, withHeader(map[string]any{"typ": "dpop+jwt"}))), Want: header},
		{ID: "F16_typ_jwt_compat", Authorization: bearer(tok(nil, withHeader(map[string]any{"typ": "JWT"}))), Want: accept},
		{ID: "F16_typ_absent_compat", Authorization: bearer(tok(nil, withHeader(map[string]any{"typ": nil}))), Want: accept},
		{ID: "F17_typ_uppercase_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"typ": "AT+JWT"})), Want: accept},
		{ID: "F17_typ_media_type_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"typ": "application/AT+JWT"})), Want: accept},
		{ID: "F18_id_token_as_access_token", Authorization: bearer(tok(map[string]any{"aud": "audtest-client", "nonce": "n-0S6", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"},
			withHeader(map[string]any{"typ": "JWT"}))), Want: audience},
		{ID: "F18_id_token_with_alias_audience", Config: func(f *Fixture, c *middleware.Config) { c.Audiences = []string{"audtest-client"} },
			Authorization: bearer(tok(map[string]any{"aud": "audtest-client", "nonce": "n-0S6", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"},
				withHeader(map[string]any{"typ": "JWT"}))), Want: claimsRefused},
		{ID: "F18_nonce_without_typ", Authorization: bearer(tok(map[string]any{"nonce": "n-0S6"}, withHeader(map[string]any{"typ": nil}))), Want: claimsRefused},
		{ID: "F18_c_hash_typ_jwt", Authorization: bearer(tok(map[string]any{"c_hash": "LDktKdoQak3Pk0cnXxCltA"}, withHeader(map[string]any{"typ": "JWT"}))), Want: claimsRefused},
		{ID: "F18_nonce_in_at_jwt", Authorization: bearer(tok(map[string]any{"nonce": "n-0S6"}, withHeader(map[string]any{"typ": "at+jwt"}))), Want: accept},
		{ID: "F19_token_for_other_resource", Authorization: bearer(tok(map[string]any{"aud": "https://other-mcp.example.com"})), Want: audience},
		{ID: "F20_sibling_path", Authorization: bearer(tok(map[string]any{"aud": "https://api.example.com/mcp2"})), Want: audience},
		{ID: "F21_sub_missing_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"sub": nil})), Want: claimsRefused},
		{ID: "F21_client_id_missing_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"client_id": nil})), Want: claimsRefused},
		{ID: "F21_jti_missing_strict", Config: strict, Authorization: bearer(strictTok(map[string]any{"jti": nil})), Want: claimsRefused},
		{ID: "F21_sub_missing_compat", Authorization: bearer(tok(map[string]any{"sub": nil})), Want: accept},
		{ID: "F22_scope_missing", Scopes: []string{"read", "write"}, Authorization: bearer(tok(map[string]any{"scope": nil})), Want: insufficientScp},
		{ID: "F22_scope_partially_missing", Scopes: []string{"read", "write"}, Authorization: bearer((*Fixture).Valid), Want: insufficientScp},
		{ID: "F22_config_scope_missing", Config: func(_ *Fixture, c *middleware.Config) { c.Scopes = []string{"admin"} },
			Authorization: bearer((*Fixture).Valid), Want: insufficientScp},
		{ID: "F23_scope_array", Authorization: bearer(tok(map[string]any{"scope": []string{"read"}})), Want: malformed},
		{ID: "F23_scope_number", Authorization: bearer(tok(map[string]any{"scope": 1})), Want: malformed},
		{ID: "F23_scp_array_ignored_by_default", Scopes: []string{"write"}, Authorization: bearer(tok(map[string]any{"scp": []string{"write"}})), Want: insufficientScp},
		{ID: "F23_scp_array_with_option", Scopes: []string{"write"}, Config: func(_ *Fixture, c *middleware.Config) { c.AcceptSCPClaim = true },
			Authorization: bearer(tok(map[string]any{"scp": []string{"write"}})), Want: accept},
		{ID: "F23_scp_malformed_with_option", Config: func(_ *Fixture, c *middleware.Config) { c.AcceptSCPClaim = true },
			Authorization: bearer(tok(map[string]any{"scp": []any{"write", 1}})), Want: malformed},
		{ID: "F24_scope_case_differs", Scopes: []string{"files:read"}, Authorization: bearer(tok(map[string]any{"scope": "Files:Read"})), Want: insufficientScp},
		{ID: "F25_broader_scope_with_hierarchy", Scopes: []string{"files:read"}, Config: hierarchy,
			Authorization: bearer(tok(map[string]any{"scope": "files"})), Want: accept},
		{ID: "F25_wildcard_scope_with_hierarchy", Scopes: []string{"files:read"}, Config: hierarchy,
			Authorization: bearer(tok(map[string]any{"scope": "files:*"})), Want: accept},
		{ID: "F25_broader_scope_without_hierarchy", Scopes: []string{"files:read"},
			Authorization: bearer(tok(map[string]any{"scope": "files"})), Want: insufficientScp},
		{ID: "F25_hierarchy_is_not_string_prefix", Scopes: []string{"filesystem"}, Config: hierarchy,
			Authorization: bearer(tok(map[string]any{"scope": "files"})), Want: insufficientScp},
		{ID: "F27_cnf_bound_token_over_bearer", Authorization: bearer(tok(map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})), Want: claimsRefused},
		{ID: "F28_unicode_lookalike_iss", Authorization: bearer(func(f *Fixture) string {
			return f.Issuer.MustSign(audtest.Token{Claims: f.claims(map[string]any{"iss": strings.Replace(f.Issuer.URL(), "1", "\u0661", 1)})})
		}), Want: issuer},
		{ID: "F29_lifetime_over_maximum", Config: func(_ *Fixture, c *middleware.Config) { c.MaxTokenLifetime = time.Hour },
			Authorization: bearer(tok(map[string]any{"iat": Now.Add(-time.Minute).Unix(), "exp": Now.Add(10 * 365 * 24 * time.Hour).Unix()})), Want: claimsRefused},
		{ID: "F29_lifetime_within_maximum", Config: func(_ *Fixture, c *middleware.Config) { c.MaxTokenLifetime = time.Hour },
			Authorization: bearer((*Fixture).Valid), Want: accept},

		// H. Response, logging and forwarding.
		{ID: "H1_claims_with_injection_characters", Authorization: bearer(tok(map[string]any{"aud": "x\"\r\nSet-Cookie: a=b\\", "sub": "\"\r\n"})), Want: audience},
		{ID: "H5_unknown_kid_same_answer_as_bad_signature", Authorization: bearer(tok(nil, withHeader(map[string]any{"kid": "nope"}))), Want: signature},
		{ID: "H5_bad_signature_same_answer_as_unknown_kid", Authorization: bearer(tok(nil, func(t *audtest.Token) { t.TamperSignature = true })), Want: signature},
		{ID: "H6_resource_metadata_on_every_401", Authorization: func(*Fixture) []string { return nil }, Want: noToken},
		{ID: "H8_all_missing_scopes_in_one_challenge", Scopes: []string{"read", "write", "admin"}, Authorization: bearer((*Fixture).Valid), Want: insufficientScp},

		// The valid token itself.
		{ID: "OK_valid_token", Authorization: bearer((*Fixture).Valid), Want: accept},
		{ID: "OK_valid_token_with_scope", Scopes: []string{"read"}, Authorization: bearer((*Fixture).Valid), Want: accept},
		{ID: "OK_second_issuer", Authorization: bearer(func(f *Fixture) string {
			c := f.claims(map[string]any{"iss": f.Other.URL()})
			return f.Other.MustSign(audtest.Token{Claims: c})
		}), Want: accept},
	}
	return append(cases, moreCases(pssKey)...)
}

func strict(_ *Fixture, c *middleware.Config) { c.Typ = middleware.TypStrict }

func hierarchy(_ *Fixture, c *middleware.Config) { c.ScopeCovers = middleware.HierarchicalScopes(":") }

// strictTok signs a token whose header is changed by hdr.
func strictTok(hdr map[string]any) func(*Fixture) string {
	claims := map[string]any{}
	header := map[string]any{}
	for k, v := range hdr {
		switch k {
		case "typ":
			header[k] = v
			if v == nil {
				header[k] = nil
			}
		default:
			claims[k] = v
			if v == nil {
				claims[k] = nil
			}
		}
	}
	return func(f *Fixture) string {
		c := f.claims(nil)
		for k, v := range claims {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return f.Issuer.MustSign(audtest.Token{Claims: c, Header: header})
	}
}

// jsonNull marshals as JSON null (a nil map value would delete the claim).
type jsonNull struct{}

// MarshalJSON implements json.Marshaler.
func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// nonCanonical returns a valid token whose header segment's last character
// has non-zero unused bits (RFC 4648 §3.5; Wycheproof tc 374/375).
func nonCanonical(f *Fixture) string {
	for pad := 0; pad < 3; pad++ {
		extra := `,"x":"` + strings.Repeat("y", pad) + `"`
		t := f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), RawHeader: kidHeader(f, extra)})
		h := t[:strings.IndexByte(t, '.')]
		if len(h)%4 == 0 {
			continue // no unused bits in the last character
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, h[len(h)-1])
		return h[:len(h)-1] + string(alphabet[last|1]) + t[len(h):]
	}
	panic("unreachable")
}

// lazyKeys reads the issuer's published keys at each lookup (for cases
// that rotate a key while building the token).
type lazyKeys struct{ iss *audtest.Issuer }

func (l lazyKeys) Key(ctx context.Context, kid, alg string) (*jwks.Key, error) {
	return l.iss.KeySet().Key(ctx, kid, alg)
}
