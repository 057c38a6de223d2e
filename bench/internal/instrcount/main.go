// Command instrcount runs one verification path a given number of times,
// for counting instructions with valgrind: the difference between two
// counts (n and 3n operations) divided by 2n is the cost of one operation,
// free of the noise of a shared machine. bench/RESULTS.md reports such
// counts for the floor, Verify and Authenticate, commit by commit.
//
//	go run ./internal/instrcount gen fix.json      # keys and tokens, once
//	go build -o /tmp/ic ./internal/instrcount      # per commit under test
//	GOGC=off valgrind --tool=cachegrind --cache-sim=no /tmp/ic fix.json EdDSA 2000
//	GOGC=off valgrind --tool=cachegrind --cache-sim=no /tmp/ic fix.json EdDSA 6000
//
// Paths: RS256, ES256, EdDSA (Verify, cache off, static key set),
// auth-<alg> (Authenticate with a bearer header), floor-<alg> (the
// standard library's verification of the pre-split token).
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
)

const res = "https://mcp.example.com/mcp"

var now = time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)

type fixture struct {
	JWKS   json.RawMessage
	Iss    string
	Tokens map[string]string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "instrcount:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 2 && args[0] == "gen" {
		return gen(args[1])
	}
	if len(args) != 3 {
		return fmt.Errorf("usage: instrcount gen FILE | instrcount FILE PATH N")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	n, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	set, _, err := jwks.Parse(f.JWKS, jwks.ParseOptions{})
	if err != nil {
		return err
	}
	path := args[1]
	if alg, ok := strings.CutPrefix(path, "floor-"); ok {
		return floor(set, f.Tokens[alg], n)
	}
	v, err := middleware.New(middleware.Config{
		Resource:   res,
		Issuers:    []middleware.Issuer{{URL: f.Iss, Keys: set}},
		Algorithms: []string{"RS256", "ES256", "EdDSA"},
		Typ:        middleware.TypStrict,
		CacheSize:  middleware.NoCache,
		Now:        func() time.Time { return now },
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if alg, ok := strings.CutPrefix(path, "auth-"); ok {
		h := []string{"Bearer " + f.Tokens[alg]}
		for i := 0; i < n; i++ {
			if _, err := v.Authenticate(ctx, h); err != nil {
				return err
			}
		}
		return nil
	}
	tok := f.Tokens[path]
	for i := 0; i < n; i++ {
		if _, err := v.Verify(ctx, tok); err != nil {
			return err
		}
	}
	return nil
}

func gen(path string) error {
	iss, err := audtest.Start(audtest.Options{Algorithms: []string{"RS256", "ES256", "EdDSA", "PS256"}, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	defer iss.Close()
	f := fixture{JWKS: iss.JWKS(), Iss: iss.URL(), Tokens: map[string]string{}}
	for i, alg := range []string{"RS256", "ES256", "EdDSA"} {
		c := iss.Claims(res, "files:read", "files:write", "calendar:read")
		c["aud"] = []string{res, "https://calendar.example.com/api"}
		kid := fmt.Sprintf("key-%d-%s", i+1, strings.ToLower(alg))
		if f.Tokens[alg], err = iss.Sign(audtest.Token{Claims: c, KeyID: kid}); err != nil {
			return err
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func floor(set *jwks.Set, tok string, n int) error {
	i := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:i])
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return err
	}
	hdr, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil {
		return err
	}
	var h struct{ Kid, Alg string }
	if err := json.Unmarshal(hdr, &h); err != nil {
		return err
	}
	key, err := set.Key(context.Background(), h.Kid, h.Alg)
	if err != nil {
		return err
	}
	bad := fmt.Errorf("floor: signature does not verify")
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		for j := 0; j < n; j++ {
			d := sha256.Sum256(input)
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) != nil {
				return bad
			}
		}
	case *ecdsa.PublicKey:
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:len(sig)/2]), new(big.Int).SetBytes(sig[len(sig)/2:])})
		if err != nil {
			return err
		}
		for j := 0; j < n; j++ {
			d := sha256.Sum256(input)
			if !ecdsa.VerifyASN1(k, d[:], der) {
				return bad
			}
		}
	case ed25519.PublicKey:
		for j := 0; j < n; j++ {
			if !ed25519.Verify(k, input, sig) {
				return bad
			}
		}
	}
	return nil
}
