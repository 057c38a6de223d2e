package bench

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

// contentionResult is what one contention run measured.
type contentionResult struct {
	fetches            int           // JWKS fetches caused by the unknown kid
	unknownOK          int           // unknown-kid requests accepted after the refresh
	unknownWait        time.Duration // median wait of the unknown-kid requests
	baseline, during   []time.Duration
	knownErrs, ignored int
}

// runContention starts an issuer, lets a Verifier (cache off, keys through
// jwks.Remote) fetch its JWKS, then publishes a new key whose JWKS answer
// is delayed by slow and sends n concurrent requests with a token under the
// new kid. Meanwhile known-kid requests run back to back from two
// goroutines; their latencies are also taken for as long before the
// unknown-kid burst, as a baseline.
func runContention(tb testing.TB, n int, slow time.Duration) contentionResult {
	tb.Helper()
	iss, err := audtest.Start(audtest.Options{Algorithms: []string{"EdDSA"}, TokenLifetime: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	defer iss.Close()
	v, err := middleware.New(middleware.Config{
		Resource:          resource,
		Issuers:           []middleware.Issuer{{URL: iss.URL(), JWKSURI: iss.JWKSURL()}},
		AllowHTTPLoopback: true,
		CacheSize:         middleware.NoCache,
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	if err := v.Refresh(ctx); err != nil {
		tb.Fatal(err)
	}
	oldKID := iss.CurrentKeyID()
	known := iss.MustSign(audtest.Token{Claims: iss.Claims(resource), KeyID: oldKID})
	if _, err := iss.Rotate("EdDSA"); err != nil {
		tb.Fatal(err)
	}
	unknown := iss.AccessToken(resource) // signed under the new kid
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(slow)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(iss.JWKS())
	}))
	before := iss.JWKSFetches()

	var res contentionResult
	// Known-kid latencies: a baseline stretch, then the same during the
	// refresh.
	measure := func(stop <-chan struct{}) (lat []time.Duration, errs int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local []time.Duration
				bad := 0
				for {
					select {
					case <-stop:
						mu.Lock()
						lat = append(lat, local...)
						errs += bad
						mu.Unlock()
						return
					default:
					}
					t0 := time.Now()
					_, err := v.Verify(ctx, known)
					local = append(local, time.Since(t0))
					if err != nil {
						bad++
					}
				}
			}()
		}
		wg.Wait()
		return lat, errs
	}
	stop := make(chan struct{})
	go func() { time.Sleep(slow / 2); close(stop) }()
	res.baseline, res.ignored = measure(stop)

	start := make(chan struct{})
	var wg sync.WaitGroup
	waits := make([]time.Duration, n)
	oks := make([]bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			t0 := time.Now()
			_, err := v.Verify(ctx, unknown)
			waits[i] = time.Since(t0)
			oks[i] = err == nil
		}(i)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	close(start)
	res.during, res.knownErrs = measure(done)
	res.fetches = iss.JWKSFetches() - before
	for _, ok := range oks {
		if ok {
			res.unknownOK++
		}
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	res.unknownWait = waits[len(waits)/2]
	return res
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

func checkContention(tb testing.TB, res contentionResult, n int) {
	tb.Helper()
	if res.fetches != 1 {
		tb.Fatalf("%d concurrent requests with one unknown kid caused %d JWKS fetches, want 1", n, res.fetches)
	}
	if res.unknownOK != n {
		tb.Fatalf("%d of %d unknown-kid requests accepted after the refresh", res.unknownOK, n)
	}
	if res.knownErrs != 0 || res.ignored != 0 {
		tb.Fatalf("known-kid requests refused: %d during the refresh, %d before", res.knownErrs, res.ignored)
	}
}

// TestUnknownKIDOneFetch runs under make test with a short delay: 1,000
// concurrent requests with one unknown kid cause exactly one JWKS fetch,
// and known-kid requests keep being served meanwhile.
func TestUnknownKIDOneFetch(t *testing.T) {
	const n = 1000
	checkContention(t, runContention(t, n, 200*time.Millisecond), n)
}

var (
	contentionOnce sync.Once
	contention     contentionResult
)

// BenchmarkJWKSContention is the slow (2 s) refresh of issue 7: it runs
// once per process whatever b.N and reports the fetch count, the
// known-kid latency percentiles before and during the refresh, and the
// median wait of the unknown-kid requests.
func BenchmarkJWKSContention(b *testing.B) {
	const n = 1000
	contentionOnce.Do(func() { contention = runContention(b, n, 2*time.Second) })
	checkContention(b, contention, n)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(float64(contention.fetches), "jwks-fetches")
	b.ReportMetric(us(percentile(contention.baseline, 0.50)), "p50-before-µs")
	b.ReportMetric(us(percentile(contention.baseline, 0.99)), "p99-before-µs")
	b.ReportMetric(us(percentile(contention.during, 0.50)), "p50-during-µs")
	b.ReportMetric(us(percentile(contention.during, 0.99)), "p99-during-µs")
	b.ReportMetric(float64(len(contention.during)), "known-reqs-during")
	b.ReportMetric(us(contention.unknownWait)/1000, "unknown-wait-ms")
}
