package bench

import (
	"testing"
)

// TestSubjectsAreConfiguredCorrectly runs under `make test`: every measured
// configuration accepts the valid token and refuses the wrong-audience and
// the bad-signature token of every algorithm.
func TestSubjectsAreConfiguredCorrectly(t *testing.T) {
	ss, err := allSubjects()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		for _, alg := range algs {
			t.Run(s.impl+"/"+alg, func(t *testing.T) {
				assertSubject(t, s, alg)
			})
		}
	}
}

// BenchmarkAuth measures one verification of the valid token of each
// algorithm by each implementation, serially and with RunParallel. Names
// carry benchstat keys: mode, alg, impl.
func BenchmarkAuth(b *testing.B) {
	ss, err := allSubjects()
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, alg := range algs {
			for _, s := range ss {
				b.Run("mode="+mode+"/alg="+alg+"/impl="+s.impl, func(b *testing.B) {
					assertSubject(b, s, alg)
					tok := fx.tokens[alg].valid
					if mode == "serial" {
						op := s.prepare(alg, tok)
						if err := op(); err != nil { // warm (fills the verified-token cache where there is one)
							b.Fatal(err)
						}
						b.ReportAllocs()
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							if err := op(); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						op := s.prepare(alg, tok)
						for pb.Next() {
							if err := op(); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	}
}
