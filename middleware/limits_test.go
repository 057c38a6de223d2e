package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// cost is what refusing one input cost, measured over several runs.
type cost struct {
	allocs float64       // allocations per run (testing.AllocsPerRun)
	bytes  uint64        // bytes allocated per run (runtime.MemStats)
	min    time.Duration // fastest run, robust against scheduling noise
}

func (c cost) String() string {
	return fmt.Sprintf("%.0f allocs, %d B, %v", c.allocs, c.bytes, c.min)
}

func measure(runs int, fn func()) cost {
	var c cost
	c.allocs = testing.AllocsPerRun(runs, fn)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		fn()
	}
	runtime.ReadMemStats(&after)
	c.bytes = (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
	c.min = time.Duration(1<<63 - 1)
	for range runs {
		start := time.Now()
		fn()
		c.min = min(c.min, time.Since(start))
	}
	return c
}

// signedWithClaims signs raw claims JSON with the shared issuer.
func signedWithClaims(claims string) string {
	return shared.MustSign(audtest.Token{RawClaims: claims})
}

// TestResourceLimits: oversized and pathological inputs are refused as
// malformed tokens (401 invalid_token) through the Handler, Authenticate
// and Verify, with allocations and bytes bounded, and the oversized ones
// before any work proportional to their size: the fastest refusal of an
// input over the size cap (8 MiB, a megabyte of dots, 400 kB of claims)
// is within a small factor of the fastest refusal of a 12-byte token (a
// linear pass over 8 MiB is thousands of times slower). Inputs within a
// raised cap (MaxTokenSize 1 MiB) are bounded in allocations and bytes:
// the payload is decoded once, then the JSON limits stop the scan.
func TestResourceLimits(t *testing.T) {
	small := newEnv(t, nil)                                                      // default cap, 8 KiB
	raised := newEnv(t, func(c *middleware.Config) { c.MaxTokenSize = 1 << 20 }) // the largest cap New accepts
	e := small

	deep := func(n int) string {
		b, _ := jsonMarshal(e.claims(nil))
		return "{" + `"deep":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "," + b[1:]
	}
	manyAud := func(n int) string {
		aud := make([]string, n)
		for i := range aud {
			aud[i] = resource
		}
		b, _ := jsonMarshal(e.claims(map[string]any{"aud": aud}))
		return b
	}

	baseline := measure(200, func() { _, _ = small.v.Verify(context.Background(), "abc.def.ghi!") })
	t.Logf("baseline (12-byte malformed token): %v", baseline)

	tests := []struct {
		name      string
		v         *middleware.Verifier
		token     string // what follows "Bearer "
		wantErr   error
		constant  bool // refused before work proportional to the size
		maxAllocs float64
		maxBytes  uint64
	}{
		{name: "8MiB_header", v: small.v, token: strings.Repeat("a", 8<<20), wantErr: middleware.ErrMalformed, constant: true, maxAllocs: 8, maxBytes: 512},
		{name: "8MiB_of_dots", v: small.v, token: strings.Repeat(".", 8<<20), wantErr: middleware.ErrMalformed, constant: true, maxAllocs: 8, maxBytes: 512},
		{name: "1MB_of_dots_default_cap", v: small.v, token: strings.Repeat(".", 1_000_000), wantErr: middleware.ErrMalformed, constant: true, maxAllocs: 8, maxBytes: 512},
		{name: "1MB_of_dots_1MiB_cap", v: raised.v, token: strings.Repeat(".", 1_000_000), wantErr: middleware.ErrMalformed, maxAllocs: 8, maxBytes: 512},
		{name: "1MB_of_segments_1MiB_cap", v: raised.v, token: strings.Repeat("ab.", 333_333), wantErr: middleware.ErrMalformed, maxAllocs: 8, maxBytes: 512},
		{name: "nested_json_2000_default_cap", v: small.v, token: signedWithClaims(deep(2000)), wantErr: middleware.ErrMalformed, maxAllocs: 8, maxBytes: 8 << 10},
		{name: "nested_json_100k_1MiB_cap", v: raised.v, token: signedWithClaims(deep(100_000)), wantErr: middleware.ErrMalformed, maxAllocs: 8, maxBytes: 300 << 10},
		{name: "aud_10k_entries_default_cap", v: small.v, token: signedWithClaims(manyAud(10_000)), wantErr: middleware.ErrMalformed, constant: true, maxAllocs: 8, maxBytes: 512},
		{name: "aud_10k_entries_1MiB_cap", v: raised.v, token: signedWithClaims(manyAud(10_000)), wantErr: middleware.ErrMalformed, maxAllocs: 8, maxBytes: 300 << 10},
		{name: "aud_100_entries", v: small.v, token: signedWithClaims(manyAud(100)), wantErr: middleware.ErrAudience, maxAllocs: 40, maxBytes: 16 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Net/http, through the Handler.
			h := tc.v.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next ran") }))
			req := httptest.NewRequest(http.MethodGet, resource, nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			code, _ := challengeParam(rec.Header().Get("WWW-Authenticate"), "error")
			require.Equal(t, "invalid_token", code)

			authz := []string{"Bearer " + tc.token}
			_, err := tc.v.Authenticate(context.Background(), authz)
			require.ErrorIs(t, err, tc.wantErr)
			_, err = tc.v.Verify(context.Background(), tc.token)
			require.ErrorIs(t, err, tc.wantErr)

			for _, path := range []struct {
				name string
				fn   func()
			}{
				{"Authenticate", func() { _, _ = tc.v.Authenticate(context.Background(), authz) }},
				{"Verify", func() { _, _ = tc.v.Verify(context.Background(), tc.token) }},
			} {
				c := measure(20, path.fn)
				t.Logf("%s, %d bytes: %v", path.name, len(tc.token), c)
				require.LessOrEqual(t, c.allocs, tc.maxAllocs, "%s allocations", path.name)
				require.LessOrEqual(t, c.bytes, tc.maxBytes, "%s bytes per refusal", path.name)
				if tc.constant {
					require.Less(t, c.min, 20*baseline.min+50*time.Microsecond,
						"%s: refusing %d bytes costs as much as reading them", path.name, len(tc.token))
				}
			}
		})
	}
}

// TestOversizedHeaderOverRealServer: on a real server Go refuses a header
// block over http.DefaultMaxHeaderBytes (1 MiB) with 431 before the
// Handler runs (standards-and-attacks A13 allows either); a header under
// that but over MaxTokenSize reaches the Handler and is refused there.
func TestOversizedHeaderOverRealServer(t *testing.T) {
	e := newEnv(t, nil)
	srv := httptest.NewServer(e.v.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next ran") })))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		size   int
		status int
	}{
		{name: "8MiB", size: 8 << 20, status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "100KiB", size: 100 << 10, status: http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", tc.size))
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
		})
	}
}

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// TestManyClaimNamesLinearTime: a claims set of many member names sharing
// a long prefix (checked for repeats before the signature) costs about
// what the same number of bytes in one string claim costs, at the default
// cap and under a raised 1 MiB cap. Comparing every pair of names made
// them 8 and 24 times slower (0.7 ms and 95 ms per token).
func TestManyClaimNamesLinearTime(t *testing.T) {
	build := func(e *env, names, objects, prefix int) (many, one string) {
		base, _ := jsonMarshal(e.claims(nil))
		var b strings.Builder
		b.WriteString("{")
		for i := range names {
			fmt.Fprintf(&b, `"%s%04d":0,`, strings.Repeat("p", prefix), i)
		}
		for o := range objects {
			fmt.Fprintf(&b, `"o%d":{`, o)
			for i := range 255 {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `"%s%03d":0`, strings.Repeat("p", prefix), i)
			}
			b.WriteString("},")
		}
		extra := b.String()[1:]
		many = signedWithClaims("{" + extra + base[1:])
		one = signedWithClaims(`{"pad":"` + strings.Repeat("p", len(extra)-9) + `",` + base[1:])
		return many, one
	}
	for _, tc := range []struct {
		name                   string
		size                   int
		names, objects, prefix int
	}{
		{name: "default_cap", names: 200, prefix: 12},
		{name: "1MiB_cap", size: 1 << 20, names: 240, prefix: 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *middleware.Config) {
				c.MaxTokenSize = tc.size
				c.CacheSize = middleware.NoCache
			})
			many, one := build(e, tc.names, tc.objects, tc.prefix)
			require.InDelta(t, len(one), len(many), 8)
			for _, tok := range []string{many, one} {
				_, err := e.v.Verify(context.Background(), tok)
				require.NoError(t, err, "extra claims are ignored")
			}
			cMany := measure(5, func() { _, _ = e.v.Verify(context.Background(), many) })
			cOne := measure(5, func() { _, _ = e.v.Verify(context.Background(), one) })
			t.Logf("%d bytes: many names %v; one string %v", len(many), cMany, cOne)
			// Quadratic comparison made many names 8-24 times slower;
			// linear work stays within 4 times (12 under -race).
			require.Less(t, cMany.min, slowdown*(4*cOne.min+200*time.Microsecond))
		})
	}
}
