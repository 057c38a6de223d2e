package middleware

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendECDSADERMatchesEncodingASN1(t *testing.T) {
	vals := [][]byte{
		{0}, {0, 0, 0}, {1}, {0x7f}, {0x80}, {0, 0x80}, {0xff, 0xff},
		{0, 0, 0x01, 0x02}, make([]byte, 66), append([]byte{0x80}, make([]byte, 65)...),
		append([]byte{0x01}, make([]byte, 65)...), append([]byte{0x7f}, make([]byte, 31)...),
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, 1+i%66)
		_, _ = rand.Read(b)
		if i%3 == 0 {
			b[0] = 0
		}
		vals = append(vals, b)
	}
	for _, r := range vals {
		for _, s := range vals[:12] {
			want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)})
			require.NoError(t, err)
			var buf [maxECDSADER]byte
			require.Equal(t, want, appendECDSADER(buf[:0], r, s), "r=%x s=%x", r, s)
		}
	}
}

func TestVerifyWith(t *testing.T) {
	msg := []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0")
	for _, tc := range []struct {
		alg   string
		curve elliptic.Curve
		h     crypto.Hash
	}{
		{"ES256", elliptic.P256(), crypto.SHA256},
		{"ES384", elliptic.P384(), crypto.SHA384},
		{"ES512", elliptic.P521(), crypto.SHA512},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			priv, err := ecdsa.GenerateKey(tc.curve, rand.Reader)
			require.NoError(t, err)
			size := (tc.curve.Params().BitSize + 7) / 8
			d := tc.h.New()
			d.Write(msg)
			sum := d.Sum(nil)
			// Many signatures, so that R or S with a leading zero byte or
			// the high bit set occur.
			for i := 0; i < 300; i++ {
				r, s, err := ecdsa.Sign(rand.Reader, priv, sum)
				require.NoError(t, err)
				sig := make([]byte, 2*size)
				r.FillBytes(sig[:size])
				s.FillBytes(sig[size:])
				require.NoError(t, verifyWith(&priv.PublicKey, tc.alg, msg, sig))
				if i == 0 {
					bad := append([]byte(nil), sig...)
					bad[len(bad)/3] ^= 1
					require.Error(t, verifyWith(&priv.PublicKey, tc.alg, msg, bad), "tampered")
					require.Error(t, verifyWith(&priv.PublicKey, tc.alg, msg, sig[:len(sig)-1]), "short")
					require.Error(t, verifyWith(&priv.PublicKey, tc.alg, msg, append(sig, 0)), "long")
					der, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
					require.Error(t, verifyWith(&priv.PublicKey, tc.alg, msg, der), "ASN.1 instead of R||S")
					zero := make([]byte, 2*size)
					require.Error(t, verifyWith(&priv.PublicKey, tc.alg, msg, zero), "r = s = 0")
					n := tc.curve.Params().N
					withN := append([]byte(nil), sig...)
					n.FillBytes(withN[:size])
					require.Error(t, verifyWith(&priv.PublicKey, tc.alg, msg, withN), "r = n")
					other := map[string]string{"ES256": "ES384", "ES384": "ES512", "ES512": "ES256"}[tc.alg]
					require.Error(t, verifyWith(&priv.PublicKey, other, msg, sig), "curve of another alg")
					require.Error(t, verifyWith(&priv.PublicKey, "RS256", msg, sig), "RSA alg")
				}
			}
		})
	}
}

func TestVerifyWithRSAAndEdDSA(t *testing.T) {
	msg := []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0")
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		h, pss, ok := rsaAlg(alg)
		require.True(t, ok)
		d := h.New()
		d.Write(msg)
		var sig []byte
		if pss {
			sig, err = rsa.SignPSS(rand.Reader, priv, h, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv, h, d.Sum(nil))
		}
		require.NoError(t, err)
		require.NoError(t, verifyWith(&priv.PublicKey, alg, msg, sig), alg)
		bad := append([]byte(nil), sig...)
		bad[10] ^= 1
		require.Error(t, verifyWith(&priv.PublicKey, alg, msg, bad), alg)
		require.Error(t, verifyWith(&priv.PublicKey, "ES256", msg, sig), alg)
	}
	// PSS with a salt shorter than the hash is refused (salt length must
	// equal the hash length).
	d := crypto.SHA256.New()
	d.Write(msg)
	sig, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d.Sum(nil), &rsa.PSSOptions{SaltLength: 20})
	require.NoError(t, err)
	require.Error(t, verifyWith(&priv.PublicKey, "PS256", msg, sig))

	pub, epriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	esig := ed25519.Sign(epriv, msg)
	require.NoError(t, verifyWith(pub, "EdDSA", msg, esig))
	require.NoError(t, verifyWith(pub, "Ed25519", msg, esig))
	esig[0] ^= 1
	require.Error(t, verifyWith(pub, "EdDSA", msg, esig))
	require.Error(t, verifyWith(pub, "RS256", msg, esig))
}
