package jwks_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/stretchr/testify/require"
)

var testKeys = sync.OnceValue(func() (k struct {
	rsa2048 *rsa.PrivateKey
	rsa1024 *rsa.PrivateKey
	p256    *ecdsa.PrivateKey
	p384    *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
}) {
	var err error
	if k.rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		panic(err)
	}
	if k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// jwk returns the public JWK of pub with extra members merged in (a nil
// value deletes a member).
func jwk(pub any, extra map[string]any) map[string]any {
	m := audtest.PublicJWK(pub)
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwksDoc(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	return b
}

// Every key-hygiene rule of DESIGN.md "JWKS policy" and
// standards-and-attacks D10-D17, one hand-built JWK per row, next to a
// usable control key.
func TestParseKeyHygiene(t *testing.T) {
	k := testKeys()
	offCurve := jwk(k.p256.Public(), map[string]any{"kid": "off-curve", "alg": "ES256"})
	y := new(big.Int).Add(k.p256.Y, big.NewInt(1))
	yb := make([]byte, 32)
	y.FillBytes(yb)
	offCurve["y"] = b64(yb)

	tests := []struct {
		name    string
		key     map[string]any
		dropped string // reason substring; "" means usable
		alg     string // the algorithm a usable key is bound to
	}{
		{name: "oct", key: map[string]any{"kty": "oct", "kid": "x", "alg": "HS256", "k": b64([]byte("0123456789abcdef0123456789abcdef"))}, dropped: "symmetric (kty oct)"},
		{name: "oct without alg", key: map[string]any{"kty": "oct", "kid": "x", "k": "AAAA"}, dropped: "symmetric (kty oct)"},
		{name: "EC with private d", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "d": b64(k.p256.D.Bytes())}), dropped: `private key member "d"`},
		{name: "RSA with private p", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "p": b64(k.rsa2048.Primes[0].Bytes())}), dropped: `private key member "p"`},
		{name: "OKP with private d", key: jwk(k.ed.Public(), map[string]any{"kid": "x", "d": b64(k.ed.Seed())}), dropped: `private key member "d"`},
		{name: "use enc", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "use": "enc"}), dropped: `use is "enc"`},
		{name: "key_ops without verify", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "key_ops": []string{"sign", "encrypt"}}), dropped: "key_ops does not include verify"},
		{name: "key_ops empty", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "key_ops": []string{}}), dropped: "key_ops does not include verify"},
		{name: "alg RSA-OAEP", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "alg": "RSA-OAEP"}), dropped: `alg "RSA-OAEP" is not a supported signature algorithm`},
		{name: "alg RSA1_5", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "alg": "RSA1_5"}), dropped: `alg "RSA1_5" is not a supported`},
		{name: "alg HS256 on RSA", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "alg": "HS256"}), dropped: `alg "HS256" is not a supported`},
		{name: "alg none", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "alg": "none"}), dropped: `alg "none" is not a supported`},
		{name: "1024-bit RSA", key: jwk(k.rsa1024.Public(), map[string]any{"kid": "x", "alg": "RS256"}), dropped: "1024 bits"},
		{name: "e=1", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "e": b64([]byte{1})}), dropped: "exponent"},
		{name: "e even", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "e": b64([]byte{1, 0, 2})}), dropped: "exponent"},
		{name: "EC point off the curve", key: offCurve, dropped: "not on curve"},
		{name: "crv/alg mismatch P-256 ES384", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "alg": "ES384"}), dropped: `alg "ES384" does not match curve "P-256"`},
		{name: "crv/alg mismatch P-384 ES256", key: jwk(k.p384.Public(), map[string]any{"kid": "x", "alg": "ES256"}), dropped: `alg "ES256" does not match curve "P-384"`},
		{name: "EC alg on RSA key", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "alg": "ES256"}), dropped: `alg "ES256" does not fit kty "RSA"`},
		{name: "RSA alg on EC key", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "alg": "RS256"}), dropped: `alg "RS256" does not match curve`},
		{name: "kty RSA with crv", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "crv": "P-256"}), dropped: "RSA key carries EC or OKP members"},
		{name: "kty RSA with EC x/y", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "x": "AA", "y": "AA"}), dropped: "RSA key carries EC or OKP members"},
		{name: "kty EC with n/e", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "n": "AA", "e": "AQAB"}), dropped: "EC key carries RSA members"},
		{name: "unsupported curve", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "crv": "secp256k1"}), dropped: `unsupported EC curve "secp256k1"`},
		{name: "X25519 OKP", key: map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x", "x": b64(make([]byte, 32))}, dropped: `unsupported OKP curve "X25519"`},
		{name: "kty missing", key: map[string]any{"kid": "x", "n": "AA", "e": "AQAB"}, dropped: "kty missing"},
		{name: "kid not a string", key: jwk(k.p256.Public(), map[string]any{"kid": 7}), dropped: `"kid" is not a string`},
		{name: "n not a string", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x", "n": 5}), dropped: `"n" is not a string`},
		{name: "alg-less RSA gets RSAAlgorithm", key: jwk(k.rsa2048.Public(), map[string]any{"kid": "x"}), alg: "PS256"},
		{name: "alg-less EC P-256 gets ES256", key: jwk(k.p256.Public(), map[string]any{"kid": "x"}), alg: "ES256"},
		{name: "alg-less EC P-384 gets ES384", key: jwk(k.p384.Public(), map[string]any{"kid": "x"}), alg: "ES384"},
		{name: "alg-less Ed25519 gets EdDSA", key: jwk(k.ed.Public(), map[string]any{"kid": "x"}), alg: "EdDSA"},
		{name: "use sig and key_ops verify", key: jwk(k.p256.Public(), map[string]any{"kid": "x", "use": "sig", "key_ops": []string{"verify"}}), alg: "ES256"},
	}
	control := jwk(k.p256.Public(), map[string]any{"kid": "control", "alg": "ES256"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, dropped, err := jwks.Parse(jwksDoc(t, tc.key, control), jwks.ParseOptions{RSAAlgorithm: "PS256"})
			require.NoError(t, err)
			_, err = set.Key(t.Context(), "control", "ES256")
			require.NoError(t, err, "the control key next to it stays usable")
			if tc.dropped != "" {
				require.Len(t, dropped, 1)
				require.Equal(t, 0, dropped[0].Index)
				require.Contains(t, dropped[0].Reason, tc.dropped)
				require.Equal(t, 1, set.Len())
				for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"} {
					_, err := set.Key(t.Context(), "x", alg)
					require.ErrorIs(t, err, jwks.ErrKeyNotFound, alg)
				}
				return
			}
			require.Empty(t, dropped)
			key, err := set.Key(t.Context(), "x", tc.alg)
			require.NoError(t, err)
			require.Equal(t, tc.alg, key.Algorithm())
			// Bound to exactly one algorithm: "never try them all".
			for _, other := range []string{"RS256", "RS384", "PS256", "ES256", "ES384", "EdDSA"} {
				if other != tc.alg {
					_, err := set.Key(t.Context(), "x", other)
					require.ErrorIs(t, err, jwks.ErrKeyNotFound, other)
				}
			}
		})
	}

	t.Run("duplicate kid", func(t *testing.T) {
		a := jwk(k.p256.Public(), map[string]any{"kid": "dup", "alg": "ES256"})
		b := jwk(k.p384.Public(), map[string]any{"kid": "dup", "alg": "ES384"})
		set, dropped, err := jwks.Parse(jwksDoc(t, a, control, b), jwks.ParseOptions{})
		require.NoError(t, err)
		require.Len(t, dropped, 1)
		require.Equal(t, "dup", dropped[0].KeyID)
		require.Contains(t, dropped[0].Reason, "kid appears more than once")
		for _, alg := range []string{"ES256", "ES384"} {
			_, err := set.Key(t.Context(), "dup", alg)
			require.ErrorIs(t, err, jwks.ErrKeyNotFound)
		}
		require.Equal(t, 1, set.Len())
	})

	// Only keys that pass the rules count as duplicates: authorization
	// servers publish a signing key and an encryption key under one kid,
	// and the signing key must stay usable.
	dropTests := []struct {
		name   string
		bad    map[string]any
		reason string
	}{
		{name: "oct copy", bad: map[string]any{"kty": "oct", "kid": "dup", "k": b64([]byte("0123456789abcdef0123456789abcdef"))}, reason: "symmetric"},
		{name: "enc copy", bad: jwk(k.p384.Public(), map[string]any{"kid": "dup", "use": "enc"}), reason: "use"},
		{name: "copy with private members", bad: jwk(k.p384.Public(), map[string]any{"kid": "dup", "d": "AAAA"}), reason: "private"},
		{name: "weak RSA copy", bad: jwk(k.rsa1024.Public(), map[string]any{"kid": "dup"}), reason: "bits"},
	}
	for _, tt := range dropTests {
		t.Run("kid shared with a dropped key: "+tt.name, func(t *testing.T) {
			good := jwk(k.p256.Public(), map[string]any{"kid": "dup", "alg": "ES256"})
			for _, order := range [][]map[string]any{{tt.bad, good}, {good, tt.bad}} {
				set, dropped, err := jwks.Parse(jwksDoc(t, order...), jwks.ParseOptions{})
				require.NoError(t, err)
				require.Len(t, dropped, 1)
				require.Contains(t, dropped[0].Reason, tt.reason)
				require.NotContains(t, dropped[0].Reason, "more than once")
				key, err := set.Key(t.Context(), "dup", "ES256")
				require.NoError(t, err, "the signing key stays usable")
				require.Equal(t, "ES256", key.Algorithm())
			}
		})
	}
}

func TestParseDocumentRules(t *testing.T) {
	_, _, err := jwks.Parse([]byte(`{"keys":[]}`), jwks.ParseOptions{RSAAlgorithm: "ES256"})
	require.ErrorContains(t, err, "RSAAlgorithm")
	for _, doc := range []string{``, `null`, `[]`, `{"keys":null}`, `{"keys":{}}`, `{"keys":[[]]}`, `{"keys":[],"keys":[]}`, "{\"keys\":[]}x"} {
		_, _, err := jwks.Parse([]byte(doc), jwks.ParseOptions{})
		require.ErrorIs(t, err, jwks.ErrInvalidSet, doc)
	}
	set, dropped, err := jwks.Parse([]byte(`{"keys":[]}`), jwks.ParseOptions{})
	require.NoError(t, err)
	require.Empty(t, dropped)
	_, err = set.Key(t.Context(), "any", "ES256")
	require.ErrorIs(t, err, jwks.ErrUnavailable, "an empty set has no usable keys")
}

// The static set: from bytes, from a file, and from keys.
func TestStaticSet(t *testing.T) {
	k := testKeys()
	doc := jwksDoc(t,
		jwk(k.p256.Public(), map[string]any{"kid": "a", "alg": "ES256"}),
		jwk(k.ed.Public(), map[string]any{"alg": "EdDSA"}),
	)
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	set, dropped, err := jwks.ParseFile(path, jwks.ParseOptions{})
	require.NoError(t, err)
	require.Empty(t, dropped)
	require.Equal(t, 2, set.Len())
	a, err := set.Key(t.Context(), "a", "ES256")
	require.NoError(t, err)
	require.True(t, k.p256.PublicKey.Equal(a.Public()))
	// No kid: the one key bound to the token's alg.
	e, err := set.Key(t.Context(), "", "EdDSA")
	require.NoError(t, err)
	require.Equal(t, "", e.ID())
	_, err = set.Key(t.Context(), "", "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	_, _, err = jwks.ParseFile(filepath.Join(t.TempDir(), "missing.json"), jwks.ParseOptions{})
	require.Error(t, err)

	// NewSet: two keys without kid for one alg are ambiguous without a kid.
	k1, err := jwks.NewKey("", "ES256", k.p256.Public())
	require.NoError(t, err)
	k2, err := jwks.NewKey("", "ES256", &testKeys().p256.PublicKey)
	require.NoError(t, err)
	_, err = jwks.NewSet(k1, k2).Key(t.Context(), "", "ES256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	_, err = jwks.NewKey("x", "ES256", k.rsa2048.Public())
	require.Error(t, err)
	_, err = jwks.NewKey("x", "HS256", []byte("secret"))
	require.Error(t, err)
	var nilSet *jwks.Set
	_, err = nilSet.Key(t.Context(), "a", "ES256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
}
