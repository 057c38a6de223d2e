package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
)

// MinRSABits is the smallest RSA modulus audguard accepts (RFC 7518 §3.3
// requires 2048 bits; Go's own floor is 1024).
const MinRSABits = 2048

// MaxRSABits is the largest RSA modulus audguard accepts. A larger key's
// signatures would not fit a token under the size cap audguard reads them
// from (1024-byte signatures), and converting such a modulus is the costly
// part of loading a key set; crypto/tls draws the same line.
const MaxRSABits = 8192

// Key is a public verification key bound to exactly one JWS algorithm
// (RFC 8725 §3.1). A Key is immutable and safe for concurrent use.
type Key struct {
	id  string
	alg string
	pub crypto.PublicKey
	// fingerprint identifies the key material and algorithm, so that a
	// refresh that returns the same key keeps the same *Key.
	fingerprint string
}

// NewKey binds pub to alg under key ID kid. pub must be an *rsa.PublicKey
// (RS256, RS384, RS512, PS256, PS384, PS512; 2048 to 8192 bits, odd
// exponent ≥ 3), an *ecdsa.PublicKey on the curve alg names (ES256 P-256,
// ES384 P-384, ES512 P-521) or an ed25519.PublicKey (EdDSA, Ed25519).
// Symmetric keys and other algorithms are refused.
func NewKey(kid, alg string, pub crypto.PublicKey) (*Key, error) {
	if err := checkKey(alg, pub); err != nil {
		return nil, err
	}
	fp, err := fingerprint(alg, pub)
	if err != nil {
		return nil, err
	}
	return &Key{id: kid, alg: alg, pub: pub, fingerprint: fp}, nil
}

// ID returns the key ID ("kid"); it may be empty.
func (k *Key) ID() string { return k.id }

// Algorithm returns the one JWS "alg" value this key verifies.
func (k *Key) Algorithm() string { return k.alg }

// Public returns the public key: *rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey. Callers must not modify it.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Supported JWS algorithms and what they need.
var algFamilies = map[string]struct {
	family string // "RSA", "EC", "OKP"
	curve  elliptic.Curve
}{
	"RS256": {family: "RSA"}, "RS384": {family: "RSA"}, "RS512": {family: "RSA"},
	"PS256": {family: "RSA"}, "PS384": {family: "RSA"}, "PS512": {family: "RSA"},
	"ES256": {family: "EC", curve: elliptic.P256()},
	"ES384": {family: "EC", curve: elliptic.P384()},
	"ES512": {family: "EC", curve: elliptic.P521()},
	"EdDSA": {family: "OKP"}, "Ed25519": {family: "OKP"},
}

// SupportedAlgorithm reports whether alg is an asymmetric JWS algorithm
// audguard can verify. "none", HMAC and JWE algorithms are never supported.
func SupportedAlgorithm(alg string) bool {
	_, ok := algFamilies[alg]
	return ok
}

var errKeyType = errors.New("jwks: key type does not fit the algorithm")

func checkKey(alg string, pub crypto.PublicKey) error {
	f, ok := algFamilies[alg]
	if !ok {
		return fmt.Errorf("jwks: unsupported algorithm %q", alg)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if f.family != "RSA" {
			return errKeyType
		}
		return checkRSA(k)
	case *ecdsa.PublicKey:
		if f.family != "EC" || k.Curve != f.curve {
			return errKeyType
		}
		if k.X == nil || k.Y == nil {
			return errors.New("jwks: EC point missing")
		}
		if _, err := k.ECDH(); err != nil { // full public-key validation, on-curve included
			return errors.New("jwks: EC point is not on the curve")
		}
		return nil
	case ed25519.PublicKey:
		if f.family != "OKP" {
			return errKeyType
		}
		if len(k) != ed25519.PublicKeySize {
			return errors.New("jwks: Ed25519 key has the wrong length")
		}
		return nil
	default:
		return fmt.Errorf("jwks: unsupported key type %T", pub)
	}
}

func checkRSA(k *rsa.PublicKey) error {
	if k.N == nil || k.N.Sign() <= 0 {
		return errors.New("jwks: RSA modulus missing")
	}
	if bits := k.N.BitLen(); bits < MinRSABits {
		return fmt.Errorf("jwks: RSA key has %d bits, fewer than %d", bits, MinRSABits)
	} else if bits > MaxRSABits {
		return fmt.Errorf("jwks: RSA key has %d bits, more than %d", bits, MaxRSABits)
	}
	if k.E < 3 || k.E%2 == 0 || k.E > 1<<31-1 {
		return fmt.Errorf("jwks: RSA public exponent %d is not odd and ≥ 3", k.E)
	}
	if k.N.Bit(0) == 0 {
		return errors.New("jwks: RSA modulus is even")
	}
	if rocaVulnerable(k.N) {
		return errors.New("jwks: RSA key has the ROCA (CVE-2017-15361) fingerprint")
	}
	return nil
}

func fingerprint(alg string, pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return alg + "|" + k.N.Text(62) + "|" + big.NewInt(int64(k.E)).Text(62), nil
	case *ecdsa.PublicKey:
		return alg + "|" + k.X.Text(62) + "|" + k.Y.Text(62), nil
	case ed25519.PublicKey:
		return alg + "|" + string(k), nil
	}
	return "", errKeyType
}

// rocaPrimes and rocaGenerator implement the ROCA fingerprint test of Nemec
// et al. (CCS 2017): moduli made by the vulnerable Infineon library are, for
// every small prime p below, congruent modulo p to a power of 65537.
var rocaPrimes = []int64{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}

func rocaVulnerable(n *big.Int) bool {
	var m big.Int
	for _, p := range rocaPrimes {
		r := m.Mod(n, big.NewInt(p)).Int64()
		// Walk the subgroup generated by 65537 mod p.
		g := int64(65537 % p)
		x := int64(1)
		found := false
		for i := int64(0); i < p; i++ {
			if x == r {
				found = true
				break
			}
			x = x * g % p
			if x == 1 {
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
