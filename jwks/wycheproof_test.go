package jwks_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/audguard/audguard/jwks"
	"github.com/stretchr/testify/require"
)

// wycheproofHMACOnlyValid are the "valid" JsonWebKey tests whose key sets
// hold only HMAC ("oct") keys. A public-key resource server refuses every
// oct key (DESIGN.md "JWKS policy", standards-and-attacks D11; the NOTICE in
// testdata/wycheproof says so): these sets are deliberately unusable here.
var wycheproofHMACOnlyValid = []int{2, 13, 14, 15}

type wycheproofJWKFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		Type    string          `json:"type"`
		Comment string          `json:"comment"`
		Private json.RawMessage `json:"private"`
		Public  json.RawMessage `json:"public"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			JWS     string   `json:"jws"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproofJSONWebKey runs Project Wycheproof's json_web_key_test.json:
// each test's key set (the public one when given, else the private one) is
// loaded with Parse and the test's JWS is verified with the key its header
// selects. "invalid" must end refused (document), unusable (key dropped or
// not selectable) or unverified; "valid" must verify, except the HMAC-only
// sets above.
func TestWycheproofJSONWebKey(t *testing.T) {
	data, err := os.ReadFile("../testdata/wycheproof/json_web_key_test.json")
	require.NoError(t, err)
	var f wycheproofJWKFile
	require.NoError(t, json.Unmarshal(data, &f))

	counts := map[string]int{}
	seen := 0
	for _, g := range f.TestGroups {
		require.Equal(t, "JsonWebKey", g.Type)
		keySet := g.Public
		if len(keySet) == 0 {
			keySet = g.Private
		}
		for _, tc := range g.Tests {
			seen++
			outcome, detail := wycheproofOutcome(t, keySet, tc.JWS)
			name := tc.Result + "/" + outcome
			counts[name]++
			switch {
			case tc.Result == "valid" && slices.Contains(wycheproofHMACOnlyValid, tc.TcID):
				require.Equal(t, "unusable", outcome, "tc %d (%s): HMAC-only set must be unusable", tc.TcID, tc.Comment)
				require.Contains(t, detail, "symmetric (kty oct)", "tc %d", tc.TcID)
			case tc.Result == "valid":
				require.Equal(t, "verified", outcome, "tc %d (%s): %s", tc.TcID, tc.Comment, detail)
			case tc.Result == "invalid":
				require.NotEqual(t, "verified", outcome, "tc %d (%s) %v must be refused", tc.TcID, tc.Comment, tc.Flags)
			default:
				t.Fatalf("tc %d: unexpected result %q", tc.TcID, tc.Result)
			}
			t.Logf("tc %2d %-7s %-32s -> %-13s %s", tc.TcID, tc.Result, tc.Comment, outcome, detail)
		}
	}
	require.Equal(t, f.NumberOfTests, seen)
	require.Equal(t, 26, seen)
	// Exact tallies, so a change in behaviour shows up here.
	require.Equal(t, map[string]int{
		"valid/verified":   1,  // tc 5
		"valid/unusable":   4,  // tc 2, 13, 14, 15: HMAC-only, deliberate deviation
		"invalid/unusable": 21, // every invalid set: key dropped or not selectable
	}, counts)
	t.Logf("Wycheproof json_web_key_test.json: %d tests; %v", seen, counts)
}

// wycheproofOutcome loads keySet and tries to verify jws: "refused" (the
// document), "unusable" (no key for the header's kid and alg), "bad
// signature" or "verified". detail says why.
func wycheproofOutcome(t *testing.T, keySet []byte, jws string) (outcome, detail string) {
	t.Helper()
	set, dropped, err := jwks.Parse(keySet, jwks.ParseOptions{})
	if err != nil {
		return "refused", err.Error()
	}
	var reasons []string
	for _, d := range dropped {
		reasons = append(reasons, d.KeyID+": "+d.Reason)
	}
	detail = strings.Join(reasons, "; ")
	parts := strings.Split(jws, ".")
	require.Len(t, parts, 3)
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	require.NoError(t, json.Unmarshal(hdrJSON, &hdr))
	key, err := set.Key(t.Context(), hdr.Kid, hdr.Alg)
	if err != nil {
		return "unusable", strings.TrimPrefix(detail+"; "+err.Error(), "; ")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "bad signature", err.Error()
	}
	if err := verifyJWS(key, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return "bad signature", err.Error()
	}
	return "verified", detail
}

// verifyJWS checks a JWS signature with the standard library only, as an
// oracle independent of the middleware's verifier.
func verifyJWS(key *jwks.Key, input, sig []byte) error {
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	alg := key.Algorithm()
	if alg == "EdDSA" || alg == "Ed25519" {
		if !ed25519.Verify(key.Public().(ed25519.PublicKey), input, sig) {
			return errors.New("ed25519: invalid signature")
		}
		return nil
	}
	h := hashes[alg[2:]]
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch alg[:2] {
	case "RS":
		return rsa.VerifyPKCS1v15(key.Public().(*rsa.PublicKey), h, digest, sig)
	case "PS":
		return rsa.VerifyPSS(key.Public().(*rsa.PublicKey), h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES":
		pub := key.Public().(*ecdsa.PublicKey)
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return errors.New("ecdsa: wrong signature length")
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return errors.New("ecdsa: invalid signature")
		}
		return nil
	}
	return errors.New("unsupported alg " + alg)
}
