package middleware

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"

	"github.com/lestrrat-go/dsig"
)

// Signature verification (pipeline step 6) with the key converted to its
// crypto type when the key set was loaded.
//
// RSA and EdDSA go through jwx's signature module (dsig) by their typed
// functions: jws/jwsbb's verifiers look the algorithm up by name in a
// registry behind a global lock on every call, and hash into a fresh heap
// digest; here the digest lives on the stack. PSS keeps the salt length
// equal to the hash length (dsig's rule).
//
// ECDSA does not go through dsig: its JWS path unpacks R||S into big.Ints
// and lets crypto/ecdsa.Verify re-encode them as ASN.1, 13 allocations and
// most of audguard's ES256 overhead. The raw signature is re-encoded here
// into a stack buffer and checked with crypto/ecdsa.VerifyASN1, after the
// same checks: the key's curve is the one alg names and the signature is
// exactly twice the curve's byte length (RFC 7518 §3.4).

var errSigKeyType = errors.New("key type does not fit alg")

func verifyWith(pub crypto.PublicKey, alg string, input, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		h, pss, ok := rsaAlg(alg)
		if !ok {
			return errSigKeyType
		}
		var buf [sha512.Size]byte
		return dsig.VerifyRSADigest(k, digest(h, input, &buf), sig, h, pss)
	case *ecdsa.PublicKey:
		h, curve, ok := ecdsaAlg(alg)
		if !ok || k.Curve != curve {
			return errSigKeyType
		}
		var buf [sha512.Size]byte
		return verifyECDSA(k, digest(h, input, &buf), sig)
	case ed25519.PublicKey:
		if alg == "EdDSA" || alg == "Ed25519" {
			return dsig.VerifyEdDSA(k, input, sig)
		}
	}
	return errSigKeyType
}

func rsaAlg(alg string) (h crypto.Hash, pss, ok bool) {
	switch alg {
	case "RS256":
		return crypto.SHA256, false, true
	case "RS384":
		return crypto.SHA384, false, true
	case "RS512":
		return crypto.SHA512, false, true
	case "PS256":
		return crypto.SHA256, true, true
	case "PS384":
		return crypto.SHA384, true, true
	case "PS512":
		return crypto.SHA512, true, true
	}
	return 0, false, false
}

func ecdsaAlg(alg string) (crypto.Hash, elliptic.Curve, bool) {
	switch alg {
	case "ES256":
		return crypto.SHA256, elliptic.P256(), true
	case "ES384":
		return crypto.SHA384, elliptic.P384(), true
	case "ES512":
		return crypto.SHA512, elliptic.P521(), true
	}
	return 0, nil, false
}

// digest hashes input with h into buf and returns the digest.
func digest(h crypto.Hash, input []byte, buf *[sha512.Size]byte) []byte {
	switch h {
	case crypto.SHA256:
		*(*[sha256.Size]byte)(buf[:]) = sha256.Sum256(input)
		return buf[:sha256.Size]
	case crypto.SHA384:
		*(*[sha512.Size384]byte)(buf[:]) = sha512.Sum384(input)
		return buf[:sha512.Size384]
	default:
		*buf = sha512.Sum512(input)
		return buf[:]
	}
}

var errECDSA = errors.New("invalid ECDSA signature")

// verifyECDSA checks a JWS ECDSA signature (R||S, each exactly the curve's
// byte length).
func verifyECDSA(k *ecdsa.PublicKey, digest, sig []byte) error {
	size := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return errECDSA
	}
	var buf [maxECDSADER]byte
	if !ecdsa.VerifyASN1(k, digest, appendECDSADER(buf[:0], sig[:size], sig[size:])) {
		return errECDSA
	}
	return nil
}

// maxECDSADER bounds the DER encoding of a P-521 signature: SEQUENCE
// header (3) + 2 × INTEGER (2 + 1 + 66).
const maxECDSADER = 3 + 2*(2+1+66)

// appendECDSADER appends the DER encoding of SEQUENCE { INTEGER r,
// INTEGER s } for big-endian unsigned r and s (at most 66 bytes each):
// leading zero bytes dropped (one kept for zero), a zero byte added where
// the high bit is set. It is what encoding/asn1 produces for the same
// big.Ints (tested).
func appendECDSADER(dst, r, s []byte) []byte {
	r, rPad := derInt(r)
	s, sPad := derInt(s)
	body := 2 + rPad + len(r) + 2 + sPad + len(s)
	dst = append(dst, 0x30)
	if body >= 0x80 {
		dst = append(dst, 0x81)
	}
	dst = append(dst, byte(body))
	dst = append(dst, 0x02, byte(rPad+len(r)))
	if rPad == 1 {
		dst = append(dst, 0)
	}
	dst = append(dst, r...)
	dst = append(dst, 0x02, byte(sPad+len(s)))
	if sPad == 1 {
		dst = append(dst, 0)
	}
	return append(dst, s...)
}

// derInt returns the minimal big-endian bytes of an unsigned integer and
// whether a 0x00 must precede them to keep the DER INTEGER positive.
func derInt(b []byte) ([]byte, int) {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 {
		return []byte{0}, 0
	}
	if b[0]&0x80 != 0 {
		return b, 1
	}
	return b, 0
}
