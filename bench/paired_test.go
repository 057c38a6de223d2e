package bench

import (
	"sort"
	"testing"
	"time"
)

// BenchmarkPaired times each implementation against the floor in pairs:
// every iteration runs one floor verification and one verification by the
// implementation, back to back (alternating which goes first), timing each
// on its own. It reports the medians of the per-operation times and the
// median of the per-pair differences (overhead-µs). On a shared machine a
// burst of load stretches both halves of a pair alike or shows up in the
// tail, which the medians ignore; the mean-based ns/op of BenchmarkAuth
// absorbs every such burst.
func BenchmarkPaired(b *testing.B) {
	ss, err := allSubjects()
	if err != nil {
		b.Fatal(err)
	}
	floor := ss[0]
	if floor.impl != implFloor {
		b.Fatal("the first subject must be the floor")
	}
	for _, alg := range algs {
		for _, s := range ss[1:] {
			b.Run("alg="+alg+"/impl="+s.impl, func(b *testing.B) {
				assertSubject(b, s, alg)
				tok := fx.tokens[alg].valid
				fop, iop := floor.prepare(alg, tok), s.prepare(alg, tok)
				if err := fop(); err != nil {
					b.Fatal(err)
				}
				if err := iop(); err != nil {
					b.Fatal(err)
				}
				ft := make([]time.Duration, b.N)
				it := make([]time.Duration, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var e1, e2 error
					t0 := time.Now()
					if i%2 == 0 {
						e1 = fop()
						t1 := time.Now()
						e2 = iop()
						t2 := time.Now()
						ft[i], it[i] = t1.Sub(t0), t2.Sub(t1)
					} else {
						e2 = iop()
						t1 := time.Now()
						e1 = fop()
						t2 := time.Now()
						it[i], ft[i] = t1.Sub(t0), t2.Sub(t1)
					}
					if e1 != nil || e2 != nil {
						b.Fatal(e1, e2)
					}
				}
				b.StopTimer()
				diff := make([]time.Duration, b.N)
				for i := range diff {
					diff[i] = it[i] - ft[i]
				}
				us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
				fm, im := medianDuration(ft), medianDuration(it)
				b.ReportMetric(us(fm), "floor-µs")
				b.ReportMetric(us(im), "impl-µs")
				b.ReportMetric(us(medianDuration(diff)), "overhead-µs")
				if fm > 0 {
					b.ReportMetric(float64(im)/float64(fm), "×floor")
				}
			})
		}
	}
}

func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
