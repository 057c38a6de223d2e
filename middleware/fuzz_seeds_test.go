package middleware_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/audguard/audguard/internal/catalog"
	"github.com/stretchr/testify/require"
)

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "regenerate the fuzz seed corpora in testdata/fuzz from the attack catalog")

// fuzzSeedDirs are the corpora generated from the catalog, relative to
// this package.
var fuzzSeedDirs = map[string]string{
	"FuzzAuthenticate":  "testdata/fuzz/FuzzAuthenticate",
	"FuzzVerifyToken":   "testdata/fuzz/FuzzVerifyToken",
	"FuzzVerifyClaims":  "testdata/fuzz/FuzzVerifyClaims",
	"FuzzForEachMember": "../internal/jose/testdata/fuzz/FuzzForEachMember",
}

// maxSeed skips the catalog's multi-megabyte inputs (B15, G3, G4): the
// fuzzer gains nothing from them and the repository would carry them.
const maxSeed = 16 << 10

// TestFuzzSeeds checks that the seed corpora generated from the attack
// catalog are present; with -write-fuzz-seeds it regenerates them. Each
// catalog request becomes a seed of every target, its token moved to the
// fuzz issuer: the issuer URL and key IDs are replaced, and a token the
// catalog's issuer really signed is signed again with the fuzz key of the
// same algorithm, so that seeds reach the same checks they reach in the
// catalog.
func TestFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		for name, dir := range fuzzSeedDirs {
			entries, err := os.ReadDir(dir)
			require.NoError(t, err, "%s: run go test ./middleware -run TestFuzzSeeds -write-fuzz-seeds", name)
			require.Greater(t, len(entries), 100, "%s seeds", name)
		}
		return
	}
	f := catalog.NewFixture(t)
	for _, dir := range fuzzSeedDirs {
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	n := 0
	for _, c := range catalog.Cases() {
		if !c.TransportNeutral() {
			continue
		}
		authz := c.Authorization(f)
		moved := make([]string, len(authz))
		for i, a := range authz {
			moved[i] = moveValue(t, f, a)
		}
		if len(strings.Join(moved, "")) > maxSeed {
			continue
		}
		n++
		name := "catalog-" + c.ID
		header, twice := "", false
		if len(moved) > 0 {
			header, twice = moved[0], len(moved) > 1
		}
		writeSeed(t, "FuzzAuthenticate", name, header, twice)
		tok := bearerPart(header)
		writeSeed(t, "FuzzVerifyToken", name, tok)
		if h, cl, ok := decodedSegments(tok); ok {
			writeSeed(t, "FuzzVerifyClaims", name, h, cl)
			writeSeed(t, "FuzzForEachMember", name+"-header", []byte(h))
			writeSeed(t, "FuzzForEachMember", name+"-claims", []byte(cl))
		}
	}
	t.Logf("wrote seeds for %d catalog cases", n)
}

// bearerPart is what follows the scheme and its spaces, or the value.
func bearerPart(v string) string {
	if len(v) > 6 && strings.EqualFold(v[:6], "bearer") {
		return strings.TrimLeft(v[6:], " ")
	}
	return v
}

// moveValue moves the token inside an Authorization value to the fuzz
// issuer.
func moveValue(t *testing.T, f *catalog.Fixture, v string) string {
	tok := bearerPart(v)
	if tok == v {
		return v
	}
	return v[:len(v)-len(tok)] + moveToken(t, f, tok)
}

func moveToken(t *testing.T, f *catalog.Fixture, tok string) string {
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		return tok
	}
	strict := base64.RawURLEncoding.Strict()
	h, err1 := strict.DecodeString(p[0])
	c, err2 := strict.DecodeString(p[1])
	if err1 != nil || err2 != nil {
		return tok // a deliberately broken encoding: keep it as it is
	}
	repl := strings.NewReplacer(f.Issuer.URL(), fuzzIssuer, f.RS256, fuzzRS256, f.ES256, fuzzES256, f.EdDSA, fuzzEdDSA)
	nh, nc := repl.Replace(string(h)), repl.Replace(string(c))
	in := base64.RawURLEncoding.EncodeToString([]byte(nh)) + "." + base64.RawURLEncoding.EncodeToString([]byte(nc))
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(h, &hdr)
	if !signedByFixture(f, hdr.Kid, hdr.Alg, []byte(p[0]+"."+p[1]), p[2]) {
		return in + "." + p[2] // not really signed: the signature stays wrong
	}
	switch hdr.Alg {
	case "RS256":
		return in + "." + base64.RawURLEncoding.EncodeToString(signInput(fuzzKeys()[fuzzRS256], []byte(in)))
	case "ES256":
		return in + "." + base64.RawURLEncoding.EncodeToString(signInput(fuzzKeys()[fuzzES256], []byte(in)))
	case "EdDSA":
		return in + "." + base64.RawURLEncoding.EncodeToString(signInput(fuzzKeys()[fuzzEdDSA], []byte(in)))
	}
	return in + "." + p[2]
}

// signedByFixture reports whether sig is a valid signature of in by the
// fixture issuer's key kid (the current key when kid is empty) for alg.
func signedByFixture(f *catalog.Fixture, kid, alg string, in []byte, sig64 string) bool {
	pub, err := f.Issuer.PublicKey(kid)
	if err != nil {
		return false
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sig64)
	if err != nil {
		return false
	}
	d := sha256.Sum256(in)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" && rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	case *ecdsa.PublicKey:
		return alg == "ES256" && len(sig) == 64 && ecdsa.Verify(k, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case ed25519.PublicKey:
		return alg == "EdDSA" && ed25519.Verify(k, in, sig)
	}
	return false
}

// writeSeed writes one corpus file in the "go test fuzz v1" format.
func writeSeed(t *testing.T, target, name string, args ...any) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", v)
		default:
			t.Fatalf("seed type %T", a)
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(fuzzSeedDirs[target], name), []byte(b.String()), 0o644))
}
