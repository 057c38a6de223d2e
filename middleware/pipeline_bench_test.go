package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
)

// BenchmarkPipelineWithoutSignature times everything Verify does for a valid
// token except the public-key operation: shape, header, claims scan, key
// selection, claim checks and the Claims. It isolates audguard's own
// overhead from the signature, which dominates (and makes noisy) any
// end-to-end figure; bench/ has the end-to-end comparison. cpu-ns/op is
// CPU time per operation, steadier than wall time on a shared machine.
func BenchmarkPipelineWithoutSignature(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			v, tok := pipelineFixture(b, alg)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				now := v.cfg.now()
				var t parsedToken
				if err := v.parse(tok, &t); err != nil {
					b.Fatal(err)
				}
				is, _, err := v.selectKey(ctx, &t)
				if err != nil {
					b.Fatal(err)
				}
				if err := v.checkClaims(&t, now); err != nil {
					b.Fatal(err)
				}
				_ = t.claims(is.url, false)
			}
			reportCPU(b, cpu)
		})
	}
}

var pipelineFixtures = map[string]struct {
	v   *Verifier
	tok string
}{}

// pipelineFixture returns a verifier and a valid token for alg, made once
// per process (key generation would otherwise dominate short runs).
func pipelineFixture(b *testing.B, alg string) (*Verifier, string) {
	if f, ok := pipelineFixtures[alg]; ok {
		return f.v, f.tok
	}
	const res = "https://mcp.example.com/mcp"
	iss, err := audtest.Start(audtest.Options{Algorithms: []string{alg}, TokenLifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	v, err := New(Config{
		Resource:  res,
		Issuers:   []Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Typ:       TypStrict,
		CacheSize: NoCache,
	})
	if err != nil {
		b.Fatal(err)
	}
	c := iss.Claims(res, "files:read", "files:write", "calendar:read")
	c["aud"] = []string{res, "https://calendar.example.com/api"}
	tok := iss.MustSign(audtest.Token{Claims: c})
	iss.Close() // the keys are static: the server is not needed any more
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	pipelineFixtures[alg] = struct {
		v   *Verifier
		tok string
	}{v, tok}
	return v, tok
}
