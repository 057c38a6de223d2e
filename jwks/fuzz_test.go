package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/stretchr/testify/require"
)

var allAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "HS256", "none", "RSA-OAEP"}

// FuzzParse: JWK Set parsing never panics; a document it refuses is
// refused as ErrInvalidSet; a document it accepts is JSON, and every key
// it returns is usable (NewKey accepts the same material and algorithm),
// has a key type that fits its algorithm, is bound to that one algorithm
// (no other algorithm selects it) and, when it has a kid, is the only key
// with that kid; allocation is bounded by the document size.
func FuzzParse(f *testing.F) {
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			set     *jwks.Set
			dropped []jwks.Dropped
			err     error
		)
		parse := func() { set, dropped, err = jwks.Parse(data, jwks.ParseOptions{}) }
		if n++; n%64 == 1 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			parse()
			runtime.ReadMemStats(&after)
			if got, bound := after.TotalAlloc-before.TotalAlloc, uint64(32*len(data))+512<<10; got > bound {
				t.Fatalf("allocated %d bytes for %d input bytes (bound %d)", got, len(data), bound)
			}
		} else {
			parse()
		}
		if err != nil {
			if !errors.Is(err, jwks.ErrInvalidSet) {
				t.Fatalf("refused with %v, not ErrInvalidSet", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted a document that is not JSON")
		}
		for _, d := range dropped {
			if d.Reason == "" {
				t.Fatalf("dropped without a reason: %+v", d)
			}
		}
		kids := map[string]int{}
		for _, k := range set.Keys() {
			if k.ID() != "" {
				kids[k.ID()]++
			}
		}
		for _, k := range set.Keys() {
			if !jwks.SupportedAlgorithm(k.Algorithm()) {
				t.Fatalf("key %q bound to unsupported %q", k.ID(), k.Algorithm())
			}
			if _, err := jwks.NewKey(k.ID(), k.Algorithm(), k.Public()); err != nil {
				t.Fatalf("key %q is not usable: %v", k.ID(), err)
			}
			family := map[string]string{"RS": "rsa", "PS": "rsa", "ES": "ec", "Ed": "ed"}[k.Algorithm()[:2]]
			switch k.Public().(type) {
			case *rsa.PublicKey:
				require.Equal(t, "rsa", family)
			case *ecdsa.PublicKey:
				require.Equal(t, "ec", family)
			case ed25519.PublicKey:
				require.Equal(t, "ed", family)
			default:
				t.Fatalf("key type %T", k.Public())
			}
			if k.ID() == "" {
				continue
			}
			if kids[k.ID()] != 1 {
				t.Fatalf("kid %q is held by %d keys", k.ID(), kids[k.ID()])
			}
			for _, alg := range allAlgs {
				got, err := set.Key(context.Background(), k.ID(), alg)
				if alg == k.Algorithm() {
					if err != nil || got != k {
						t.Fatalf("kid %q alg %q not found: %v", k.ID(), alg, err)
					}
				} else if err == nil {
					t.Fatalf("kid %q bound to %q is selected for %q", k.ID(), k.Algorithm(), alg)
				}
			}
		}
	})
}

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "regenerate testdata/fuzz/FuzzParse")

// TestFuzzParseSeeds checks the FuzzParse seed corpus is present; with
// -write-fuzz-seeds it regenerates it from the Wycheproof key sets (every
// JWK file group, every JWS group's key), JWKS documents of audtest
// issuers for each algorithm, and documents the catalog's key hygiene
// rows use.
func TestFuzzParseSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if !*writeFuzzSeeds {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "run go test ./jwks -run TestFuzzParseSeeds -write-fuzz-seeds")
		require.Greater(t, len(entries), 50)
		return
	}
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	write := func(name string, doc []byte) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(doc)) + ")\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	for _, file := range []string{"json_web_key_test.json", "json_web_signature_test.json", "json_web_crypto_test.json"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "wycheproof", file))
		require.NoError(t, err)
		var doc struct {
			TestGroups []struct {
				Private, Public json.RawMessage
			} `json:"testGroups"`
		}
		require.NoError(t, json.Unmarshal(data, &doc))
		for i, g := range doc.TestGroups {
			for which, k := range map[string]json.RawMessage{"private": g.Private, "public": g.Public} {
				if len(k) == 0 {
					continue
				}
				if !strings.Contains(string(k), `"keys"`) {
					k = json.RawMessage(`{"keys":[` + string(k) + `]}`)
				}
				write(fmt.Sprintf("wycheproof-%s-%d-%s", strings.TrimSuffix(file, "_test.json"), i, which), k)
			}
		}
	}
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"} {
		iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{alg, "ES256"}})
		write("audtest-"+alg, iss.JWKS())
	}
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"RS256", "ES256", "EdDSA"}})
	var base struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(iss.JWKS(), &base))
	variant := func(name string, i int, changes map[string]any) {
		var doc struct {
			Keys []map[string]any `json:"keys"`
		}
		require.NoError(t, json.Unmarshal(iss.JWKS(), &doc))
		for k, v := range changes {
			if v == nil {
				delete(doc.Keys[i], k)
			} else {
				doc.Keys[i][k] = v
			}
		}
		b, err := json.Marshal(doc)
		require.NoError(t, err)
		write("hygiene-"+name, b)
	}
	variant("rsa-no-alg", 0, map[string]any{"alg": nil})
	variant("rsa-use-enc", 0, map[string]any{"use": "enc"})
	variant("rsa-key-ops-encrypt", 0, map[string]any{"key_ops": []string{"encrypt"}})
	variant("rsa-alg-rsa-oaep", 0, map[string]any{"alg": "RSA-OAEP"})
	variant("rsa-private-d", 0, map[string]any{"d": "AQAB"})
	variant("rsa-e-1", 0, map[string]any{"e": "AQ"})
	variant("rsa-with-crv", 0, map[string]any{"crv": "P-256"})
	variant("ec-no-alg", 1, map[string]any{"alg": nil})
	variant("ec-wrong-crv", 1, map[string]any{"crv": "P-384"})
	variant("ec-es512-on-p256", 1, map[string]any{"alg": "ES512"})
	variant("ed-crv-ed448", 2, map[string]any{"crv": "Ed448"})
	variant("duplicate-kid", 1, map[string]any{"kid": base.Keys[0]["kid"]})
	variant("oct", 2, map[string]any{"kty": "oct", "k": "c2VjcmV0", "crv": nil, "x": nil, "alg": "HS256"})
	for _, doc := range []string{`{"keys":[]}`, `{"keys":{}}`, `[]`, `{"keys":[1]}`, `{"keys":[{"kty":"EC"}]}`, `{"keys":null}`, `{"KEYS":[],"keys":[]}`} {
		write("document-"+strconv.Itoa(len(doc))+"-"+strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r
			}
			return -1
		}, doc), []byte(doc))
	}
}
