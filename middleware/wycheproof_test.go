package middleware_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/audguard/audguard/internal/jose"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// Project Wycheproof JOSE vectors (testdata/wycheproof, see its NOTICE),
// run against the signature layer of the real pipeline
// (middleware.VerifyJWS: shape, header rules, key lookup with the key/alg
// binding, signature) with each group's key loaded by jwks.Parse.

const wycheproofDir = "../testdata/wycheproof/"

type wpFile struct {
	NumberOfTests int       `json:"numberOfTests"`
	TestGroups    []wpGroup `json:"testGroups"`
}

type wpGroup struct {
	Type    string          `json:"type"`
	Comment string          `json:"comment"`
	Private json.RawMessage `json:"private"`
	Public  json.RawMessage `json:"public"`
	Tests   []wpTest        `json:"tests"`
}

type wpTest struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	JWS     wpText   `json:"jws"`
	JWE     wpText   `json:"jwe"`
	Result  string   `json:"result"`
	Flags   []string `json:"flags"`
}

// wpText is a compact serialization (a JSON string) or a JSON
// serialization given as an object, kept as its JSON text: both are what
// a client could put in an Authorization header.
type wpText string

func (w *wpText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*w = wpText(s)
		return nil
	}
	*w = wpText(b)
	return nil
}

// key returns the group's key as a JWK Set document: the public key when
// given, else the private one (HMAC groups only have a private "oct" key).
func (g wpGroup) key() []byte {
	k := g.Public
	if len(k) == 0 {
		k = g.Private
	}
	if strings.Contains(string(k), `"keys"`) {
		return k // already a JWK Set (keyset groups)
	}
	return []byte(`{"keys":[` + string(k) + `]}`)
}

// hmacKey returns the decoded "k" of an oct group key, or nil.
func (g wpGroup) hmacKey(t *testing.T) []byte {
	t.Helper()
	var k struct {
		Kty string `json:"kty"`
		K   string `json:"k"`
	}
	src := g.Public
	if len(src) == 0 {
		src = g.Private
	}
	if json.Unmarshal(src, &k) != nil || k.Kty != "oct" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(k.K)
	require.NoError(t, err)
	return b
}

func loadWycheproof(t *testing.T, name string) wpFile {
	t.Helper()
	data, err := os.ReadFile(wycheproofDir + name)
	require.NoError(t, err)
	var f wpFile
	require.NoError(t, json.Unmarshal(data, &f))
	return f
}

// wycheproofVerifier is a verifier allowing every algorithm audguard
// supports, so that only the vectors decide.
func wycheproofVerifier(t *testing.T) *middleware.Verifier {
	t.Helper()
	v, err := middleware.New(middleware.Config{
		Resource:   resource,
		Issuers:    []middleware.Issuer{{URL: "https://wycheproof.example", Keys: jwks.NewSet()}},
		Algorithms: []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"},
		Now:        fixedNow,
	})
	require.NoError(t, err)
	return v
}

// deviation is a vector whose label audguard deliberately does not follow,
// with the exact refusal it gives instead.
type deviation struct {
	err error // the category VerifyJWS must return
	why string
}

// jwsDeviations lists, by tcId, every json_web_signature_test.json vector
// labelled "valid" that audguard refuses, and the two "invalid" ones the
// NOTICE says are really valid. Every other vector must match its label.
var jwsDeviations = func() map[int]deviation {
	const emptyPayload = "empty payload: not a JWT claims set (RFC 7519 §7.2)"
	hmac := "HMAC (kty oct) key: a public-key resource server refuses HS256 (alg allow-list) and drops oct keys (NOTICE; RFC 8725 §3.1)"
	m := map[int]deviation{
		// rfc7520 cookbook groups whose key "alg" does not name the
		// token's alg: a key is used with exactly one algorithm (RFC
		// 8725 §3.1, RFC 7517 §4.4). The signatures themselves verify
		// (TestWycheproofKeyAlgDeviationsVerifyWhenRebound).
		346: {middleware.ErrSignature, "key alg PS256, token alg PS384: key/alg binding"},
		350: {middleware.ErrSignature, "key alg PS256, token alg PS384: key/alg binding"},
		347: {middleware.ErrKeysUnavailable, `key alg "ES521" is not a JWS algorithm: the key is dropped`},
		351: {middleware.ErrKeysUnavailable, `key alg "ES521" is not a JWS algorithm: the key is dropped`},
		// An empty payload is a valid JWS but not a JWT: the claims set
		// must be a JSON object (RFC 7519 §7.2 step 10, catalog B22),
		// and the shape layer refuses an empty segment. The signatures
		// themselves verify (TestWycheproofEmptyPayloadSignaturesVerify).
		259: {middleware.ErrMalformed, emptyPayload},
		264: {middleware.ErrMalformed, emptyPayload},
		268: {middleware.ErrMalformed, emptyPayload},
		272: {middleware.ErrMalformed, emptyPayload},
		320: {middleware.ErrMalformed, emptyPayload},
		325: {middleware.ErrMalformed, emptyPayload},
		// NOTICE: labelled valid, but the MAC only matches if the '?'
		// is stripped; a strict verifier refuses the character.
		372: {middleware.ErrMalformed, "NOTICE: '?' inserted in the header must be refused (RFC 7515 §5.2)"},
		373: {middleware.ErrMalformed, "NOTICE: '?' inserted in the payload must be refused (RFC 7515 §5.2)"},
	}
	for _, tc := range []int{1, 348, 352, 357, 358, 359, 376, 377} {
		m[tc] = deviation{middleware.ErrHeader, hmac}
	}
	return m
}()

// jwsNoticeValid are the "invalid"-labelled vectors the NOTICE says are
// byte-identical to tc 357 and therefore valid MACs.
var jwsNoticeValid = map[int]int{367: 357, 370: 357}

func TestWycheproofJSONWebSignature(t *testing.T) {
	f := loadWycheproof(t, "json_web_signature_test.json")
	v := wycheproofVerifier(t)
	byID := map[int]wpText{}
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			byID[tc.TcID] = tc.JWS
		}
	}
	// The NOTICE's claim about tc 367 and 370, checked rather than trusted.
	for tc, same := range jwsNoticeValid {
		require.Equal(t, byID[same], byID[tc], "tc %d is byte-identical to tc %d", tc, same)
	}

	var tally wpTally
	seen := map[int]bool{}
	for _, g := range f.TestGroups {
		require.Equal(t, "JsonWebSignature", g.Type)
		set, _, err := jwks.Parse(g.key(), jwks.ParseOptions{})
		require.NoError(t, err, "group %q: the key document parses", g.Comment)
		for _, tc := range g.Tests {
			seen[tc.TcID] = true
			t.Run(fmt.Sprintf("tc%d_%s", tc.TcID, tc.Comment), func(t *testing.T) {
				err := middleware.VerifyJWS(v, context.Background(), set, string(tc.JWS))
				if err != nil {
					require.ErrorIs(t, err, middleware.ErrInvalidToken, "every refusal is an invalid token")
				}
				if d, ok := jwsDeviations[tc.TcID]; ok {
					require.Equal(t, "valid", tc.Result, "only valid-labelled vectors can be deviations")
					require.ErrorIs(t, err, d.err, "deviation (%s)", d.why)
					tally.add("deviation: refused although labelled valid")
					return
				}
				switch tc.Result {
				case "valid":
					require.NoError(t, err, "group %q", g.Comment)
				case "invalid":
					require.Error(t, err, "group %q flags %v", g.Comment, tc.Flags)
				default:
					t.Fatalf("unexpected result %q", tc.Result)
				}
				tally.add("matches label " + tc.Result)
			})
		}
	}
	require.Len(t, seen, f.NumberOfTests)
	require.Equal(t, 401, f.NumberOfTests)
	tally.require(t, map[string]int{
		"matches label valid":                        26,
		"matches label invalid":                      355,
		"deviation: refused although labelled valid": 20,
	})
}

// TestWycheproofKeyAlgDeviationsVerifyWhenRebound shows that the rfc7520
// deviations (tc 346, 347, 350, 351) are refused only because of the key's
// "alg": bound with jwks.NewKey to the algorithm its material implies, the
// same key verifies the same vector through the same layer.
func TestWycheproofKeyAlgDeviationsVerifyWhenRebound(t *testing.T) {
	f := loadWycheproof(t, "json_web_signature_test.json")
	v := wycheproofVerifier(t)
	rebind := map[int]string{346: "PS384", 350: "PS384", 347: "ES512", 351: "ES512"}
	n := 0
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			alg, ok := rebind[tc.TcID]
			if !ok {
				continue
			}
			n++
			var m map[string]any
			require.NoError(t, json.Unmarshal(g.Public, &m))
			m["alg"] = alg
			doc, err := json.Marshal(map[string]any{"keys": []any{m}})
			require.NoError(t, err)
			set, dropped, err := jwks.Parse(doc, jwks.ParseOptions{})
			require.NoError(t, err)
			require.Empty(t, dropped)
			key := set.Keys()[0]
			rebound, err := jwks.NewKey(key.ID(), alg, key.Public())
			require.NoError(t, err)
			require.NoError(t, middleware.VerifyJWS(v, context.Background(), jwks.NewSet(rebound), string(tc.JWS)), "tc %d", tc.TcID)
		}
	}
	require.Equal(t, len(rebind), n)
}

// TestWycheproofHMACShapeLayer runs the HMAC groups, which the pipeline
// refuses as a whole (HS256), through audguard's shape layer (jose.Split,
// strict base64url, strict JSON header) and an HMAC-SHA256 check done
// here with crypto/hmac. It shows that the encoding vectors of these
// groups (base64 padding, whitespace, unused bits, inserted characters)
// get the decision their label gives, apart from the NOTICE's anomalies:
// tc 367/370 are valid MACs, tc 372/373 must be refused.
func TestWycheproofHMACShapeLayer(t *testing.T) {
	f := loadWycheproof(t, "json_web_signature_test.json")
	var tally wpTally
	for _, g := range f.TestGroups {
		key := g.hmacKey(t)
		if key == nil {
			continue
		}
		var kid struct {
			Kid string `json:"kid"`
		}
		require.NoError(t, json.Unmarshal(g.Private, &kid))
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("tc%d_%s", tc.TcID, tc.Comment), func(t *testing.T) {
				ok := hmacShapeValid(string(tc.JWS), kid.Kid, key)
				want := tc.Result == "valid"
				switch {
				case jwsNoticeValid[tc.TcID] != 0:
					require.True(t, ok, "NOTICE: byte-identical to tc %d, a valid MAC", jwsNoticeValid[tc.TcID])
					tally.add("NOTICE anomaly: valid although labelled invalid")
				case tc.TcID == 372 || tc.TcID == 373:
					require.False(t, ok, "NOTICE: the inserted '?' must be refused")
					tally.add("NOTICE anomaly: refused although labelled valid")
				default:
					require.Equal(t, want, ok, "label %s flags %v", tc.Result, tc.Flags)
					tally.add("matches label " + tc.Result)
				}
			})
		}
	}
	tally.require(t, map[string]int{
		"matches label valid":                             8,
		"matches label invalid":                           28,
		"NOTICE anomaly: valid although labelled invalid": 2,
		"NOTICE anomaly: refused although labelled valid": 2,
	})
}

// hmacShapeValid accepts jws when audguard's shape layer accepts it, its
// header is a strict JSON object naming HS256 and kid, and its HMAC-SHA256
// over the literal signing input is right.
func hmacShapeValid(jws, kid string, key []byte) bool {
	parts, err := jose.Split(jws, middleware.DefaultMaxTokenSize)
	if err != nil {
		return false
	}
	hdoc, hdr, err := jose.DecodeString(parts.Header)
	if err != nil {
		return false
	}
	var alg, gotKID string
	err = jose.ForEachMember(hdr, jose.DefaultLimits, func(name []byte, val jose.Value) error {
		s, _ := val.Text(hdoc)
		switch string(name) {
		case "alg":
			alg = s
		case "kid":
			gotKID = s
		}
		return nil
	})
	if err != nil || alg != "HS256" || gotKID != kid {
		return false
	}
	if _, err := jose.Decode(nil, parts.Payload); err != nil {
		return false
	}
	sig, err := jose.Decode(nil, parts.Signature)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(parts.SigningInput))
	return hmac.Equal(m.Sum(nil), sig)
}

// jwcDeviations are the valid-labelled JWS vectors of
// json_web_crypto_test.json that audguard refuses: HMAC keys (the jws_aes
// group and an all-oct key set).
var jwcDeviations = map[int]deviation{
	1:  {middleware.ErrHeader, "HMAC (kty oct) key: HS256 is not in the allow-list"},
	48: {middleware.ErrHeader, "HMAC (kty oct) key set: HS256 is not in the allow-list"},
}

// TestWycheproofJSONWebCrypto runs the older combined file's JWS groups
// like the JWS file (its JWE groups are presented as bearer tokens in
// TestWycheproofJWEAsBearerToken).
func TestWycheproofJSONWebCrypto(t *testing.T) {
	f := loadWycheproof(t, "json_web_crypto_test.json")
	v := wycheproofVerifier(t)
	var tally wpTally
	for _, g := range f.TestGroups {
		if !strings.HasPrefix(g.Comment, "jws_") {
			continue
		}
		set, _, err := jwks.Parse(g.key(), jwks.ParseOptions{})
		require.NoError(t, err, "group %q", g.Comment)
		for _, tc := range g.Tests {
			t.Run(fmt.Sprintf("%s_tc%d_%s", g.Comment, tc.TcID, tc.Comment), func(t *testing.T) {
				err := middleware.VerifyJWS(v, context.Background(), set, string(tc.JWS))
				if d, ok := jwcDeviations[tc.TcID]; ok {
					require.Equal(t, "valid", tc.Result)
					require.ErrorIs(t, err, d.err, d.why)
					tally.add("deviation: refused although labelled valid")
					return
				}
				if tc.Result == "valid" {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, middleware.ErrInvalidToken, "flags %v", tc.Flags)
				}
				tally.add("matches label " + tc.Result)
			})
		}
	}
	tally.require(t, map[string]int{
		"matches label valid":                        2,
		"matches label invalid":                      45,
		"deviation: refused although labelled valid": 2,
	})
}

// jweInvalidRequest is the JWE vector of json_web_crypto_test.json that is
// not even a credential: a JSON serialization with line breaks (control
// characters in the Authorization value). It is answered 400
// invalid_request, before any token check.
var jweInvalidRequest = map[int]bool{66: true}

// TestWycheproofJWEAsBearerToken presents every JWE vector (both files) as
// a bearer token: all are refused with 401 invalid_token as malformed (not
// three segments, not the compact alphabet) or for their header (enc, a
// key-management alg), and none is ever decrypted; in the older file a
// one is not a credential at all (400, see jweInvalidRequest).
func TestWycheproofJWEAsBearerToken(t *testing.T) {
	v := wycheproofVerifier(t)
	h := v.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a JWE reached the handler")
	}))
	var tally wpTally
	for _, name := range []string{"json_web_encryption_test.json", "json_web_crypto_test.json"} {
		f := loadWycheproof(t, name)
		jwe := 0
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				if g.Type == "JsonWebCrypto" && !strings.HasPrefix(g.Comment, "jwe_") {
					continue
				}
				jwe++
				t.Run(fmt.Sprintf("%s_tc%d_%s", strings.TrimSuffix(name, "_test.json"), tc.TcID, tc.Comment), func(t *testing.T) {
					authz := []string{"Bearer " + string(tc.JWE)}
					_, err := v.Authenticate(context.Background(), authz)
					status, code := http.StatusUnauthorized, "invalid_token"
					if name == "json_web_crypto_test.json" && jweInvalidRequest[tc.TcID] {
						status, code = http.StatusBadRequest, "invalid_request"
						require.ErrorIs(t, err, middleware.ErrInvalidRequest)
						tally.add(name + ": invalid_request")
					} else {
						require.ErrorIs(t, err, middleware.ErrInvalidToken)
						malformed, header := errors.Is(err, middleware.ErrMalformed), errors.Is(err, middleware.ErrHeader)
						require.True(t, malformed || header, "refused as malformed or for its header: %v", err)
						if malformed {
							tally.add(name + ": malformed")
						} else {
							tally.add(name + ": header")
						}
					}
					require.Equal(t, status, v.ErrorResponse(err).Status)
					if strings.ContainsAny(authz[0], "\r\n") {
						return // net/http cannot carry it; Authenticate decided above
					}
					req := httptest.NewRequest(http.MethodGet, resource, nil)
					req.Header.Set("Authorization", authz[0])
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					require.Equal(t, status, rec.Code)
					got, _ := challengeParam(rec.Header().Get("WWW-Authenticate"), "error")
					require.Equal(t, code, got)
				})
			}
		}
		switch name {
		case "json_web_encryption_test.json":
			require.Equal(t, 139, jwe)
		case "json_web_crypto_test.json":
			require.Equal(t, 34, jwe)
		}
	}
	tally.require(t, map[string]int{
		"json_web_encryption_test.json: malformed":   139,
		"json_web_crypto_test.json: malformed":       33,
		"json_web_crypto_test.json: invalid_request": 1,
	})
}

// wpTally counts outcomes by kind and checks exact totals, so that any
// change of behaviour on the vectors shows up.
type wpTally map[string]int

func (w *wpTally) add(kind string) {
	if *w == nil {
		*w = wpTally{}
	}
	(*w)[kind]++
}

func (w wpTally) String() string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d; ", k, w[k])
	}
	return b.String()
}

func (w wpTally) require(t *testing.T, want map[string]int) {
	t.Helper()
	t.Logf("tally: %v", w)
	require.Equal(t, want, map[string]int(w))
}

// TestWycheproofEmptyPayloadSignaturesVerify shows that the empty-payload
// deviations are refused only for the empty payload: checked with
// crypto/rsa alone, their signatures are right.
func TestWycheproofEmptyPayloadSignaturesVerify(t *testing.T) {
	f := loadWycheproof(t, "json_web_signature_test.json")
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	n := 0
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			if tc.Comment != "emptyPayload" {
				continue
			}
			n++
			require.Equal(t, middleware.ErrMalformed, jwsDeviations[tc.TcID].err, "tc %d is a listed deviation", tc.TcID)
			parts := strings.Split(string(tc.JWS), ".")
			require.Len(t, parts, 3)
			require.Empty(t, parts[1])
			set, _, err := jwks.Parse(g.key(), jwks.ParseOptions{})
			require.NoError(t, err)
			key := set.Keys()[0]
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			require.NoError(t, err)
			alg := key.Algorithm()
			h := hashes[alg[2:]]
			d := h.New()
			d.Write([]byte(parts[0] + "."))
			pub := key.Public().(*rsa.PublicKey)
			if strings.HasPrefix(alg, "PS") {
				err = rsa.VerifyPSS(pub, h, d.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			} else {
				err = rsa.VerifyPKCS1v15(pub, h, d.Sum(nil), sig)
			}
			require.NoError(t, err, "tc %d", tc.TcID)
		}
	}
	require.Equal(t, 6, n)
}
