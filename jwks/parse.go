package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/audguard/audguard/internal/jose"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// MaxKeys is the largest number of keys a JWK Set may hold; a larger set is
// refused as a whole.
const MaxKeys = 100

// ErrInvalidSet reports a JWK Set document that is not a JSON object with a
// "keys" array of objects, or that holds more than [MaxKeys] keys. A
// refreshing [Remote] keeps its previous keys when this happens.
var ErrInvalidSet = errors.New("jwks: invalid JWK Set document")

// Dropped describes a key that was left out of a [Set] and why.
type Dropped struct {
	KeyID  string // "kid", possibly empty
	Index  int    // position in the "keys" array
	Reason string // plain-words reason, safe to log
}

// ParseOptions tunes [Parse].
type ParseOptions struct {
	// RSAAlgorithm is the algorithm given to RSA keys that carry no "alg"
	// (RFC 8725 §3.1: each key is used with exactly one algorithm). The
	// zero value means RS256.
	RSAAlgorithm string
}

// Parse reads a JWK Set (RFC 7517 §5) and keeps only keys that are safe to
// verify JWS signatures with. It drops, with a reason in the returned list:
// symmetric ("oct") keys, keys carrying private members, keys with "use"
// other than "sig" or "key_ops" without "verify", keys for JWE or unknown
// algorithms, RSA keys under 2048 or over 8192 bits or with a bad exponent
// or the ROCA fingerprint, EC points not on their curve, kty/crv/alg
// mismatches, and unsupported key types. A key without "alg" gets the one
// algorithm its kty/crv implies (EC curve → ESxxx, Ed25519 → EdDSA, RSA →
// opts.RSAAlgorithm). A "kid" shared by two or more keys that pass these
// rules makes all of them unusable (ambiguous). Keys dropped by the rules
// are not counted: a kid shared by one usable signing key and dropped
// keys (an "enc" or "oct" copy, as authorization servers publishing
// signing and encryption keys under one kid do) names the usable key.
//
// Parse fails only when the document itself is unusable: not a JSON object,
// "keys" missing or not an array of objects, or more than [MaxKeys] keys.
// A document whose keys are all dropped parses into an empty Set.
func Parse(data []byte, opts ParseOptions) (*Set, []Dropped, error) {
	rsaAlg := opts.RSAAlgorithm
	if rsaAlg == "" {
		rsaAlg = "RS256"
	}
	if f, ok := algFamilies[rsaAlg]; !ok || f.family != "RSA" {
		return nil, nil, fmt.Errorf("jwks: RSAAlgorithm %q is not an RSA signature algorithm", rsaAlg)
	}
	var keysVal jose.Value
	found := false
	err := jose.ForEachMember(data, jose.Limits{MaxDepth: 8, MaxMembers: 1024, MaxNumber: 40}, func(name []byte, v jose.Value) error {
		if string(name) == "keys" {
			keysVal, found = v, true
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidSet, err)
	}
	if !found || keysVal.Kind != jose.Array {
		return nil, nil, fmt.Errorf("%w: \"keys\" is missing or not an array", ErrInvalidSet)
	}
	var raws []jose.Value
	err = keysVal.ForEachElement(func(v jose.Value) error {
		if v.Kind != jose.Object {
			return fmt.Errorf("%w: a \"keys\" element is not an object", ErrInvalidSet)
		}
		if len(raws) == MaxKeys {
			return fmt.Errorf("%w: more than %d keys", ErrInvalidSet, MaxKeys)
		}
		raws = append(raws, v)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var (
		keys    []*Key
		dropped []Dropped
	)
	for i, raw := range raws {
		k, kid, reason := parseKey(raw.Raw, rsaAlg)
		if reason != "" {
			dropped = append(dropped, Dropped{KeyID: kid, Index: i, Reason: reason})
			continue
		}
		keys = append(keys, k)
	}
	set, dups := newSet(keys)
	for _, d := range dups {
		dropped = append(dropped, Dropped{KeyID: d, Index: -1, Reason: "kid appears more than once among usable keys; all of them are unusable"})
	}
	return set, dropped, nil
}

// jwkMembers are the members of one JWK that the hygiene rules read.
type jwkMembers struct {
	kty, kid, use, alg, crv string
	keyOps                  []string
	hasKeyOps               bool
	private                 []string
	hasRSA, hasCrv, hasXY   bool
	nLen                    int // characters of "n"
}

func parseKey(raw []byte, rsaAlg string) (k *Key, kid, reason string) {
	var m jwkMembers
	doc := string(raw)
	err := jose.ForEachMember(raw, jose.DefaultLimits, func(name []byte, v jose.Value) error {
		str := func(dst *string) error {
			s, err := v.Text(doc)
			if err != nil {
				return fmt.Errorf("%q is not a string", name)
			}
			*dst = s
			return nil
		}
		switch string(name) {
		case "kty":
			return str(&m.kty)
		case "kid":
			return str(&m.kid)
		case "use":
			return str(&m.use)
		case "alg":
			return str(&m.alg)
		case "crv":
			m.hasCrv = true
			return str(&m.crv)
		case "key_ops":
			m.hasKeyOps = true
			return v.ForEachElement(func(e jose.Value) error {
				s, err := e.Text(doc)
				if err != nil {
					return errors.New(`"key_ops" is not an array of strings`)
				}
				m.keyOps = append(m.keyOps, s)
				return nil
			})
		case "n", "e":
			m.hasRSA = true
			if string(name) == "n" {
				n, err := v.Text(doc)
				if err != nil {
					return errors.New(`"n" is not a string`)
				}
				m.nLen = len(n)
			}
		case "x", "y":
			m.hasXY = true
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k", "r", "t":
			m.private = append(m.private, string(name))
		}
		return nil
	})
	if err != nil {
		return nil, m.kid, "malformed JWK: " + err.Error()
	}
	switch {
	case m.kty == "oct":
		return nil, m.kid, "symmetric (kty oct) key in a public key set"
	case len(m.private) > 0:
		return nil, m.kid, fmt.Sprintf("carries private key member %q", m.private[0])
	case m.use != "" && m.use != "sig":
		return nil, m.kid, fmt.Sprintf("use is %q, not sig", m.use)
	case m.hasKeyOps && !contains(m.keyOps, "verify"):
		return nil, m.kid, "key_ops does not include verify"
	}
	alg := m.alg
	switch m.kty {
	case "RSA":
		if m.hasCrv || m.hasXY {
			return nil, m.kid, "RSA key carries EC or OKP members"
		}
		// Refused before the key material is converted, which for a
		// huge modulus is the costly part (one leading zero byte is
		// tolerated, as some encoders write it).
		if jose.DecodedLen(m.nLen) > MaxRSABits/8+1 {
			return nil, m.kid, fmt.Sprintf("RSA modulus has more than %d bits", MaxRSABits)
		}
		if alg == "" {
			alg = rsaAlg
		}
	case "EC":
		want := map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[m.crv]
		if want == "" {
			return nil, m.kid, fmt.Sprintf("unsupported EC curve %q", m.crv)
		}
		if m.hasRSA {
			return nil, m.kid, "EC key carries RSA members"
		}
		if alg == "" {
			alg = want
		} else if alg != want {
			return nil, m.kid, fmt.Sprintf("alg %q does not match curve %q", alg, m.crv)
		}
	case "OKP":
		if m.crv != "Ed25519" {
			return nil, m.kid, fmt.Sprintf("unsupported OKP curve %q", m.crv)
		}
		if m.hasRSA {
			return nil, m.kid, "OKP key carries RSA members"
		}
		if alg == "" {
			alg = "EdDSA"
		}
	case "":
		return nil, m.kid, "kty missing"
	default:
		return nil, m.kid, fmt.Sprintf("unsupported kty %q", m.kty)
	}
	f, ok := algFamilies[alg]
	if !ok {
		return nil, m.kid, fmt.Sprintf("alg %q is not a supported signature algorithm", alg)
	}
	if f.family != m.kty {
		return nil, m.kid, fmt.Sprintf("alg %q does not fit kty %q", alg, m.kty)
	}
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, m.kid, "key material does not parse: " + err.Error()
	}
	pub, err := exportPublic(jk, m.kty)
	if err != nil {
		return nil, m.kid, err.Error()
	}
	key, err := NewKey(m.kid, alg, pub)
	if err != nil {
		return nil, m.kid, err.Error()
	}
	return key, m.kid, ""
}

func exportPublic(jk jwk.Key, kty string) (crypto.PublicKey, error) {
	switch kty {
	case "RSA":
		var k rsa.PublicKey
		if err := jwk.Export(jk, &k); err != nil {
			return nil, fmt.Errorf("RSA key does not convert: %w", err)
		}
		return &k, nil
	case "EC":
		var k ecdsa.PublicKey
		if err := jwk.Export(jk, &k); err != nil {
			return nil, fmt.Errorf("EC key does not convert: %w", err)
		}
		return &k, nil
	case "OKP":
		var k ed25519.PublicKey
		if err := jwk.Export(jk, &k); err != nil {
			return nil, fmt.Errorf("OKP key does not convert: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported kty %q", kty)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
