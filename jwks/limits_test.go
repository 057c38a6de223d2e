package jwks_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"testing"
	"time"

	"github.com/audguard/audguard/jwks"
	"github.com/stretchr/testify/require"
)

// rsaJWKS is a JWK Set of one RSA key with a random odd modulus of the
// given size (not a real key: only its size matters here).
func rsaJWKS(bytes int) []byte {
	n := make([]byte, bytes)
	_, _ = rand.Read(n)
	n[0] |= 0x80
	n[bytes-1] |= 1
	return []byte(`{"keys":[{"kty":"RSA","kid":"big","alg":"RS256","n":"` + base64.RawURLEncoding.EncodeToString(n) + `","e":"AQAB"}]}`)
}

// TestOversizedRSAKeysDropped: an RSA key over MaxRSABits is dropped. Its
// signatures would be longer than any token audguard accepts can carry, so
// it could never verify anything; and loading one was the costly part of
// a JWKS (a 5.7-megabit modulus within the 1 MiB body cap took 1.8 s).
func TestOversizedRSAKeysDropped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes int
		keep  bool
	}{
		{name: "8192_bits", bytes: 1024, keep: true},
		{name: "8200_bits", bytes: 1025},
		{name: "65536_bits", bytes: 8192},
		{name: "5.7_megabits_within_the_body_cap", bytes: 700 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := rsaJWKS(tc.bytes)
			require.Less(t, len(doc), jwks.MaxBodySize)
			set, dropped, err := jwks.Parse(doc, jwks.ParseOptions{})
			require.NoError(t, err)
			if tc.keep {
				require.Equal(t, 1, set.Len())
				return
			}
			require.Zero(t, set.Len())
			require.Len(t, dropped, 1)
			require.Contains(t, dropped[0].Reason, "more than")
			// Refused for about what reading the document costs: a set
			// of the same size whose bulk is an ignored member.
			pad := []byte(`{"keys":[],"pad":"` + string(make([]byte, len(doc)-20)) + `"}`)
			for i := range pad[18 : len(pad)-2] {
				pad[18+i] = 'p'
			}
			require.Less(t, fastestParse(t, doc), 10*fastestParse(t, pad)+20*time.Millisecond, "refused without converting the modulus")
		})
	}
	n := new(big.Int).Lsh(big.NewInt(1), jwks.MaxRSABits+7)
	_, err := jwks.NewKey("k", "RS256", &rsa.PublicKey{N: n.Or(n, big.NewInt(1)), E: 65537})
	require.ErrorContains(t, err, "more than")
}

func fastestParse(t *testing.T, doc []byte) time.Duration {
	best := time.Hour
	for range 3 {
		start := time.Now()
		_, _, err := jwks.Parse(doc, jwks.ParseOptions{})
		require.NoError(t, err)
		best = min(best, time.Since(start))
	}
	return best
}
