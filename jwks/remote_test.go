package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// latencyBound is what "answered quickly" means for a request whose key is
// cached: a cached lookup takes microseconds; the bound leaves room for a
// loaded, race-instrumented CI machine while staying far below the fetch
// timeouts (≥ 500ms) and hangs (10s) the tests inject.
const latencyBound = 50 * time.Millisecond

func TestNewRemoteDoesNoIOAndStartsNoGoroutine(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r, err := jwks.NewRemote(jwks.RemoteConfig{Issuer: iss.URL(), Options: jwks.Options{AllowHTTPLoopback: true}})
	require.NoError(t, err)
	// No goroutine yet: VerifyNone would fail here if NewRemote started one.
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
	require.Zero(t, iss.DiscoveryFetches())
	require.Zero(t, iss.JWKSFetches())
	require.False(t, jwks.LoopStartedForTest(r))
	require.NoError(t, r.Close())
}

func TestNewRemoteValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  jwks.RemoteConfig
		want string
	}{
		{name: "nothing", cfg: jwks.RemoteConfig{}, want: "Issuer or JWKSURI is required"},
		{name: "http issuer not loopback", cfg: jwks.RemoteConfig{Issuer: "http://as.example.com", Options: jwks.Options{AllowHTTPLoopback: true}}, want: "http is allowed only"},
		{name: "http loopback without option", cfg: jwks.RemoteConfig{Issuer: "http://127.0.0.1:8080"}, want: "http is allowed only"},
		{name: "http jwks uri", cfg: jwks.RemoteConfig{JWKSURI: "http://as.example.com/jwks"}, want: "http is allowed only"},
		{name: "ftp", cfg: jwks.RemoteConfig{JWKSURI: "ftp://as.example.com/jwks"}, want: "scheme must be https"},
		{name: "issuer with query", cfg: jwks.RemoteConfig{Issuer: "https://as.example.com?tenant=a"}, want: "no query"},
		{name: "issuer with fragment", cfg: jwks.RemoteConfig{Issuer: "https://as.example.com#a"}, want: "fragment"},
		{name: "userinfo", cfg: jwks.RemoteConfig{JWKSURI: "https://u:p@as.example.com/jwks"}, want: "userinfo"},
		{name: "negative cooldown", cfg: jwks.RemoteConfig{Issuer: "https://as.example.com", Options: jwks.Options{RefreshCooldown: -1}}, want: "RefreshCooldown -1ns is negative"},
		{name: "negative timeout", cfg: jwks.RemoteConfig{Issuer: "https://as.example.com", Options: jwks.Options{FetchTimeout: -time.Second}}, want: "FetchTimeout"},
		{name: "min above max", cfg: jwks.RemoteConfig{Issuer: "https://as.example.com", Options: jwks.Options{MinTTL: time.Hour, MaxTTL: time.Minute}}, want: "MinTTL 1h0m0s exceeds MaxTTL 1m0s"},
		{name: "rsa alg", cfg: jwks.RemoteConfig{Issuer: "https://as.example.com", Options: jwks.Options{RSAAlgorithm: "ES256"}}, want: "not an RSA signature algorithm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := jwks.NewRemote(tc.cfg)
			require.Nil(t, r)
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, ok := range []jwks.RemoteConfig{
		{Issuer: "https://as.example.com"},
		{Issuer: "https://as.example.com/tenant/"},
		{JWKSURI: "https://as.example.com/jwks?v=2"},
		{Issuer: "http://localhost:9000", Options: jwks.Options{AllowHTTPLoopback: true}},
		{JWKSURI: "http://[::1]:9000/jwks", Options: jwks.Options{AllowHTTPLoopback: true}},
	} {
		r, err := jwks.NewRemote(ok)
		require.NoError(t, err, "%+v", ok)
		require.NoError(t, r.Close())
	}
}

// Lazy first fetch, coalesced: 1,000 callers on a cold Remote make one
// discovery request and one JWKS request.
func TestRemoteFirstFetchCoalesced(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	kid := h.iss.CurrentKeyID()
	keys := concurrentKeys(t, h.r, 1000, func(int) string { return kid })
	for _, r := range keys {
		require.NoError(t, r.err)
		require.Same(t, keys[0].key, r.key)
	}
	h.waitIdle()
	require.Equal(t, 1, h.iss.DiscoveryFetches())
	require.Equal(t, 1, h.iss.JWKSFetches())
	ev := h.ev.list()
	require.Len(t, ev, 2)
	require.True(t, ev[0].Discovery)
	require.Equal(t, jwks.CauseInitial, ev[0].Cause)
	require.Equal(t, h.iss.URL(), ev[1].Issuer)
	require.Equal(t, h.iss.JWKSURL(), ev[1].URL)
	require.Equal(t, jwks.CauseInitial, ev[1].Cause)
	require.False(t, ev[1].Discovery)
	require.NoError(t, ev[1].Err)
	require.Equal(t, 1, ev[1].Keys)
	require.True(t, jwks.LoopStartedForTest(h.r), "background refresh starts after the first successful fetch")
}

type keyResult struct {
	key *jwks.Key
	err error
	dur time.Duration
}

// concurrentKeys releases n goroutines at once, each asking for kid(i).
func concurrentKeys(t *testing.T, r *jwks.Remote, n int, kid func(int) string) []keyResult {
	t.Helper()
	out := make([]keyResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			k, err := r.Key(context.Background(), kid(i), "ES256")
			out[i] = keyResult{key: k, err: err, dur: time.Since(t0)}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// The first request after a rotation succeeds, after exactly one refresh.
func TestRemoteRotationAcceptedAfterOneRefresh(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	oldKID := h.iss.CurrentKeyID()
	oldKey := h.warm()
	require.Equal(t, 1, h.iss.JWKSFetches())

	newKID, err := h.iss.Rotate("ES256")
	require.NoError(t, err)
	k, err := h.r.Key(t.Context(), newKID, "ES256")
	require.NoError(t, err)
	require.Equal(t, newKID, k.ID())
	h.waitIdle()
	require.Equal(t, 2, h.iss.JWKSFetches(), "exactly one refresh")
	require.Equal(t, jwks.CauseUnknownKID, h.ev.last().Cause)

	// The old key is still published: same pointer, no further fetch.
	k2, err := h.r.Key(t.Context(), oldKID, "ES256")
	require.NoError(t, err)
	require.Same(t, oldKey, k2, "an unchanged key keeps its *Key across a refresh")
	require.Equal(t, 2, h.iss.JWKSFetches())
	require.Equal(t, 1, h.iss.DiscoveryFetches(), "the discovered jwks_uri is cached")
}

// 1,000 concurrent requests with one unknown kid: exactly one fetch, and
// every one of them gets the new key.
func TestRemoteUnknownKIDThunderingHerd(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	h.warm()
	newKID, err := h.iss.Rotate("ES256")
	require.NoError(t, err)

	res := concurrentKeys(t, h.r, 1000, func(int) string { return newKID })
	var slowest time.Duration
	for _, r := range res {
		require.NoError(t, r.err)
		require.Same(t, res[0].key, r.key)
		slowest = max(slowest, r.dur)
	}
	h.waitIdle()
	require.Equal(t, 2, h.iss.JWKSFetches(), "warm-up + exactly one refresh for 1,000 requests")
	t.Logf("1000 concurrent requests with one new kid: %d JWKS fetch(es) after warm-up, slowest wait %v", h.iss.JWKSFetches()-1, slowest)
}

// A flood of random kids makes at most one fetch per cooldown, and its
// negative answer is cached for the cooldown.
func TestRemoteRandomKIDFloodOneFetchPerCooldown(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	known := h.warm()
	knownKID := h.iss.CurrentKeyID()

	for round := 1; round <= 3; round++ {
		res := concurrentKeys(t, h.r, 200, func(i int) string { return fmt.Sprintf("random-%d-%d", round, i) })
		for _, r := range res {
			require.ErrorIs(t, r.err, jwks.ErrKeyNotFound)
		}
		h.waitIdle()
		require.Equal(t, 1+round, h.iss.JWKSFetches(), "round %d: one fetch for 200 random kids", round)

		// Within the cooldown: refused at once, no fetch, and known
		// kids are unaffected.
		h.clock.Advance(jwks.DefaultRefreshCooldown - time.Second)
		res = concurrentKeys(t, h.r, 200, func(i int) string { return fmt.Sprintf("again-%d-%d", round, i) })
		for _, r := range res {
			require.ErrorIs(t, r.err, jwks.ErrKeyNotFound)
			require.Less(t, r.dur, latencyBound)
		}
		require.Less(t, maxLatency(t, h.r, knownKID, "ES256", known, 100), latencyBound)
		require.Equal(t, 1+round, h.iss.JWKSFetches(), "round %d: negative result cached for the cooldown", round)
		h.clock.Advance(time.Second)
	}
	for _, ev := range h.ev.list()[2:] {
		require.Equal(t, jwks.CauseUnknownKID, ev.Cause)
	}
}

// A caller that gives up does not cancel the shared fetch; the others get
// its result.
func TestRemoteCallerCancellationDoesNotKillSharedFetch(t *testing.T) {
	h := newHarness(t, audtest.Options{}, func(c *jwks.RemoteConfig) { c.JWKSURI = "" })
	release := make(chan struct{})
	var arrived atomic.Int32
	h.iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(h.iss.JWKS())
	}))
	kid := h.iss.CurrentKeyID()

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := h.r.Key(ctx, kid, "ES256")
		first <- err
	}()
	require.Eventually(t, func() bool { return arrived.Load() == 1 }, 5*time.Second, time.Millisecond)
	second := make(chan keyResult, 1)
	go func() {
		k, err := h.r.Key(t.Context(), kid, "ES256")
		second <- keyResult{key: k, err: err}
	}()
	cancel()
	err := <-first
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	close(release)
	got := <-second
	require.NoError(t, got.err)
	require.Equal(t, kid, got.key.ID())
	require.Equal(t, 1, h.iss.JWKSFetches())
	h.waitIdle()
	require.NoError(t, h.ev.last().Err)
}

// Faults after warm-up: the last good set stays in use, known kids are
// answered at once (never waiting on the failing fetch), and every failure
// is reported and logged.
func TestRemoteFaultsKeepLastGoodSet(t *testing.T) {
	tooMany := `{"keys":[` + strings.TrimSuffix(strings.Repeat(`{"kty":"EC"},`, jwks.MaxKeys+1), ",") + `]}`
	tests := []struct {
		name    string
		handler http.Handler
		wantErr string
	}{
		{name: "500", handler: audtest.Status(http.StatusInternalServerError), wantErr: "status 500"},
		{name: "503", handler: audtest.Status(http.StatusServiceUnavailable), wantErr: "status 503"},
		{name: "404", handler: audtest.Status(http.StatusNotFound), wantErr: "status 404"},
		{name: "hang 10s", handler: audtest.Hang(10 * time.Second), wantErr: "deadline exceeded"},
		{name: "html", handler: audtest.Body("text/html", []byte("<html><body>Sign in</body></html>")), wantErr: "invalid JWK Set"},
		{name: "garbage", handler: audtest.Body("application/json", []byte("\x00\x01garbage")), wantErr: "invalid JWK Set"},
		{name: "array", handler: audtest.Body("application/json", []byte(`[{"keys":[]}]`)), wantErr: "invalid JWK Set"},
		{name: "string", handler: audtest.Body("application/json", []byte(`"keys"`)), wantErr: "invalid JWK Set"},
		{name: "keys object", handler: audtest.Body("application/json", []byte(`{"keys":{"kty":"EC"}}`)), wantErr: "invalid JWK Set"},
		{name: "keys string", handler: audtest.Body("application/json", []byte(`{"keys":"none"}`)), wantErr: "invalid JWK Set"},
		{name: "no keys", handler: audtest.Body("application/json", []byte(`{"kty":"EC"}`)), wantErr: "invalid JWK Set"},
		{name: "key not object", handler: audtest.Body("application/json", []byte(`{"keys":[1]}`)), wantErr: "invalid JWK Set"},
		{name: "too many keys", handler: audtest.Body("application/json", []byte(tooMany)), wantErr: "more than 100 keys"},
		{name: "truncated", handler: audtest.Body("application/json", []byte(`{"keys":[{"kty":"EC"`)), wantErr: "invalid JWK Set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, audtest.Options{}, func(c *jwks.RemoteConfig) { c.FetchTimeout = 500 * time.Millisecond })
			kid := h.iss.CurrentKeyID()
			key := h.warm()
			h.iss.SetJWKSHandler(tc.handler)

			h.scheduled()
			// While the scheduled refresh fails (or hangs), known kids
			// are answered from the cache at once.
			require.Eventually(t, func() bool { return h.iss.JWKSFetches() == 2 }, 5*time.Second, time.Millisecond)
			worst := maxLatency(t, h.r, kid, "ES256", key, 200)
			require.Less(t, worst, latencyBound)
			h.waitEvents(3) // discovery, warm-up, failed refresh
			ev := h.ev.last()
			require.Equal(t, jwks.CauseScheduled, ev.Cause)
			require.ErrorContains(t, ev.Err, tc.wantErr)
			require.Equal(t, 1, h.logs.Count("jwks: fetch failed"))
			require.Equal(t, 1, h.logs.Count("cached_keys_in_use=1"))

			// An unknown kid waits at most for one fetch and is refused;
			// the known kid still verifies with the same key.
			start := time.Now()
			_, err := h.r.Key(t.Context(), "rotated-in", "ES256")
			waited := time.Since(start)
			require.ErrorIs(t, err, jwks.ErrKeyNotFound)
			require.ErrorContains(t, err, "refresh failed")
			require.Less(t, waited, h.cfg.FetchTimeout+latencyBound+time.Second)
			require.Less(t, maxLatency(t, h.r, kid, "ES256", key, 10), latencyBound)
			require.Equal(t, 3, h.iss.JWKSFetches())
			t.Logf("%s: slowest cached answer during the failing refresh %v; unknown kid answered after %v", tc.name, worst, waited)
		})
	}
}

// Past MaxStale, counted from the last successful fetch, and while fetches
// keep failing, the keys are no longer used (fail closed); the next
// successful fetch restores them.
func TestRemoteMaxStaleFailsClosedThenRecovers(t *testing.T) {
	h := newHarness(t, audtest.Options{}, func(c *jwks.RemoteConfig) { c.MaxStale = time.Hour })
	kid := h.iss.CurrentKeyID()
	key := h.warm()
	h.iss.SetJWKSHandler(audtest.Status(http.StatusInternalServerError))

	// Background refresh at 80% of the 5 minute lifetime fails, then
	// retries every cooldown; the keys stay in use for the hour.
	h.scheduled()
	h.waitEvents(3)
	require.Error(t, h.ev.last().Err)
	h.clock.Advance(59*time.Minute - 4*time.Minute)
	k, err := h.r.Key(t.Context(), kid, "ES256")
	require.NoError(t, err)
	require.Same(t, key, k)
	fetches := h.iss.JWKSFetches()

	// 1h01m after the last success: the set is dropped. The request
	// tries one fetch on demand, which fails: ErrUnavailable.
	h.clock.Advance(2 * time.Minute)
	_, err = h.r.Key(t.Context(), kid, "ES256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	require.ErrorContains(t, err, "status 500")
	h.waitIdle()
	require.Equal(t, fetches+1, h.iss.JWKSFetches())
	require.Equal(t, 1, h.logs.Count("older than MaxStale"))

	// Within the cooldown after that failure: refused without a fetch,
	// even once the endpoint is back.
	h.iss.SetJWKSHandler(nil)
	for range 50 {
		_, err = h.r.Key(t.Context(), kid, "ES256")
		require.ErrorIs(t, err, jwks.ErrUnavailable)
	}
	require.Equal(t, fetches+1, h.iss.JWKSFetches())

	// After the cooldown the next request fetches and the keys are back,
	// with the same *Key (same material).
	h.clock.Advance(jwks.DefaultRefreshCooldown)
	k, err = h.r.Key(t.Context(), kid, "ES256")
	require.NoError(t, err)
	require.Same(t, key, k)
	require.Equal(t, fetches+2, h.iss.JWKSFetches())
}

// With no keys ever fetched and the endpoint down: fail closed, and at
// most one attempt per cooldown.
func TestRemoteDownWithoutCachedKeys(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	h.iss.SetJWKSHandler(audtest.Status(http.StatusServiceUnavailable))
	kid := h.iss.CurrentKeyID()
	for range 20 {
		_, err := h.r.Key(t.Context(), kid, "ES256")
		require.ErrorIs(t, err, jwks.ErrUnavailable)
	}
	require.Equal(t, 1, h.iss.JWKSFetches())
	require.False(t, jwks.LoopStartedForTest(h.r), "no background goroutine before a successful fetch")
	h.clock.Advance(jwks.DefaultRefreshCooldown)
	h.iss.SetJWKSHandler(nil)
	_, err := h.r.Key(t.Context(), kid, "ES256")
	require.NoError(t, err)
	require.Equal(t, 2, h.iss.JWKSFetches())
	require.Equal(t, 1, h.iss.DiscoveryFetches())
}

// A 20 MiB body is refused after reading at most MaxBodySize+1 bytes, with
// bounded memory.
func TestRemoteBodyTooLarge(t *testing.T) {
	const size = 20 << 20
	h := newHarness(t, audtest.Options{}, nil)
	var written atomic.Int64
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = ' '
	}
	h.iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[`))
		for written.Load() < size {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := h.r.Refresh(t.Context())
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, jwks.ErrTooLarge)
	alloc := after.TotalAlloc - before.TotalAlloc
	require.Less(t, alloc, uint64(8<<20), "bytes allocated while refusing a 20 MiB body")
	t.Logf("20 MiB body refused: %.2f MiB allocated in the whole process during the fetch; server wrote %.2f MiB before the client hung up",
		float64(alloc)/(1<<20), float64(written.Load())/(1<<20))

	// A declared Content-Length over the cap is refused before reading.
	big := make([]byte, 2<<20)
	h.iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		_, _ = w.Write(big)
	}))
	err = h.r.Refresh(t.Context())
	require.ErrorIs(t, err, jwks.ErrTooLarge)
	require.ErrorContains(t, err, "Content-Length")

	// Exactly MaxBodySize is fine (padding after a valid set).
	doc := h.iss.JWKS()
	exact := append(doc, make([]byte, jwks.MaxBodySize-len(doc))...)
	for i := len(doc); i < len(exact); i++ {
		exact[i] = '\n'
	}
	h.iss.SetJWKSHandler(audtest.Body("application/json", exact))
	require.NoError(t, h.r.Refresh(t.Context()))
}

func TestRemoteRedirects(t *testing.T) {
	t.Run("cross-origin not followed", func(t *testing.T) {
		other := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		h := newHarness(t, audtest.Options{}, nil)
		h.iss.SetJWKSHandler(audtest.Redirect(other.JWKSURL()))
		err := h.r.Refresh(t.Context())
		require.ErrorContains(t, err, "refusing redirect")
		require.ErrorContains(t, err, "another origin")
		require.Zero(t, other.JWKSFetches())
	})
	t.Run("https to http not followed", func(t *testing.T) {
		plain := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		tls := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}, TLS: true})
		tls.SetJWKSHandler(audtest.Redirect(plain.JWKSURL()))
		r, err := jwks.NewRemote(jwks.RemoteConfig{JWKSURI: tls.JWKSURL(), Options: jwks.Options{
			HTTPClient: tls.Client(), AllowHTTPLoopback: true,
		}})
		require.NoError(t, err)
		defer r.Close()
		require.True(t, strings.HasPrefix(tls.JWKSURL(), "https://"))
		err = r.Refresh(t.Context())
		require.ErrorContains(t, err, "refusing redirect from https://")
		require.ErrorContains(t, err, "to another origin http://")
		require.Equal(t, 1, tls.JWKSFetches())
		require.Zero(t, plain.JWKSFetches())
		_, err = r.Key(t.Context(), plain.CurrentKeyID(), "ES256")
		require.ErrorIs(t, err, jwks.ErrUnavailable)
	})
	t.Run("same origin followed, caller's client untouched", func(t *testing.T) {
		iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		// Serve the JWKS from /jwks behind a redirect at another path of
		// the same origin.
		iss.SetDiscoveryHandler(audtest.Redirect(iss.JWKSURL()))
		var calls atomic.Int32
		check := func(*http.Request, []*http.Request) error { calls.Add(1); return nil }
		client := &http.Client{CheckRedirect: check}
		r, err := jwks.NewRemote(jwks.RemoteConfig{
			JWKSURI: iss.URL() + "/.well-known/openid-configuration",
			Options: jwks.Options{HTTPClient: client, AllowHTTPLoopback: true},
		})
		require.NoError(t, err)
		defer r.Close()
		defer client.CloseIdleConnections()
		_, err = r.Key(t.Context(), iss.CurrentKeyID(), "ES256")
		require.NoError(t, err)
		require.Equal(t, 1, iss.JWKSFetches())
		require.Equal(t, int32(1), calls.Load(), "the caller's CheckRedirect still runs for allowed redirects")
		require.Equal(t, reflect.ValueOf(check).Pointer(), reflect.ValueOf(client.CheckRedirect).Pointer(), "the caller's client is not modified")
	})
	t.Run("redirect loop bounded", func(t *testing.T) {
		h := newHarness(t, audtest.Options{}, nil)
		h.iss.SetJWKSHandler(audtest.Redirect(h.iss.JWKSURL()))
		err := h.r.Refresh(t.Context())
		require.ErrorContains(t, err, "more than 3 redirects")
		require.Equal(t, 4, h.iss.JWKSFetches())
	})
}

// Cache-Control max-age (and Expires) sets the lifetime, clamped to
// [MinTTL, MaxTTL]; the background refresh runs at 80% of it.
func TestRemoteCacheControlClamping(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
	clk := newClock()
	kid := iss.CurrentKeyID()
	tests := []struct {
		name    string
		headers map[string]string
		min     time.Duration
		max     time.Duration
		want    time.Duration
	}{
		{name: "max-age within bounds", headers: map[string]string{"Cache-Control": "max-age=600"}, want: 10 * time.Minute},
		{name: "max-age among other directives", headers: map[string]string{"Cache-Control": "public, max-age=3600, must-revalidate"}, want: time.Hour},
		{name: "one year clamped to MaxTTL", headers: map[string]string{"Cache-Control": "max-age=31536000"}, want: jwks.DefaultMaxTTL},
		{name: "overflowing max-age clamped", headers: map[string]string{"Cache-Control": "max-age=99999999999999999999"}, want: jwks.DefaultMaxTTL},
		{name: "one second clamped to MinTTL", headers: map[string]string{"Cache-Control": "max-age=1"}, want: jwks.DefaultMinTTL},
		{name: "max-age=0", headers: map[string]string{"Cache-Control": "max-age=0"}, want: jwks.DefaultMinTTL},
		{name: "no-store", headers: map[string]string{"Cache-Control": "no-store"}, want: jwks.DefaultMinTTL},
		{name: "no-cache wins over max-age", headers: map[string]string{"Cache-Control": "max-age=3600, no-cache"}, want: jwks.DefaultMinTTL},
		{name: "no header", headers: nil, want: jwks.DefaultTTL},
		{name: "malformed max-age", headers: map[string]string{"Cache-Control": "max-age=soon"}, want: jwks.DefaultTTL},
		{name: "negative max-age", headers: map[string]string{"Cache-Control": "max-age=-5"}, want: jwks.DefaultTTL},
		{name: "smallest of conflicting max-age", headers: map[string]string{"Cache-Control": "max-age=7200, max-age=1200"}, want: 20 * time.Minute},
		{name: "Age subtracted", headers: map[string]string{"Cache-Control": "max-age=1200", "Age": "200"}, want: 1000 * time.Second},
		{name: "Expires minus Date", headers: map[string]string{
			"Expires": clk.Now().Add(2 * time.Hour).Format(http.TimeFormat), "Date": clk.Now().Format(http.TimeFormat),
		}, want: 2 * time.Hour},
		{name: "max-age wins over Expires", headers: map[string]string{
			"Cache-Control": "max-age=900", "Expires": clk.Now().Add(2 * time.Hour).Format(http.TimeFormat), "Date": clk.Now().Format(http.TimeFormat),
		}, want: 15 * time.Minute},
		{name: "invalid Expires means expired", headers: map[string]string{"Expires": "0"}, want: jwks.DefaultMinTTL},
		{name: "custom bounds: low", headers: map[string]string{"Cache-Control": "max-age=10"}, min: time.Minute, max: time.Hour, want: time.Minute},
		{name: "custom bounds: high", headers: map[string]string{"Cache-Control": "max-age=86400"}, min: time.Minute, max: time.Hour, want: time.Hour},
		{name: "custom bounds: no header", headers: nil, min: 20 * time.Minute, max: time.Hour, want: 20 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				_, _ = w.Write(iss.JWKS())
			}))
			r, err := jwks.NewRemote(jwks.RemoteConfig{JWKSURI: iss.JWKSURL(), Options: jwks.Options{
				AllowHTTPLoopback: true, Now: clk.Now, MinTTL: tc.min, MaxTTL: tc.max,
			}})
			require.NoError(t, err)
			defer r.Close()
			_, err = r.Key(t.Context(), kid, "ES256")
			require.NoError(t, err)
			require.Equal(t, tc.want, jwks.TTLForTest(r))
			require.Equal(t, clk.Now().Add(tc.want/10*8), jwks.NextDueForTest(r), "refresh at 80%% of the lifetime")
		})
	}
}

// The background refresh runs ahead of expiry (at 80% of the lifetime),
// retries every cooldown after a failure, and never makes a request wait.
func TestRemoteScheduledRefresh(t *testing.T) {
	h := newHarness(t, audtest.Options{JWKSCacheControl: "max-age=600"}, nil)
	t0 := h.clock.Now()
	h.warm()
	require.Equal(t, t0.Add(8*time.Minute), jwks.NextDueForTest(h.r))

	h.clock.Advance(8 * time.Minute)
	jwks.PokeForTest(h.r)
	h.waitEvents(3)
	require.Equal(t, jwks.CauseScheduled, h.ev.last().Cause)
	require.NoError(t, h.ev.last().Err)
	require.Equal(t, t0.Add(16*time.Minute), jwks.NextDueForTest(h.r))

	// A failed scheduled refresh is retried one cooldown later.
	h.iss.SetJWKSHandler(audtest.Status(http.StatusBadGateway))
	h.scheduled()
	h.waitEvents(4)
	require.Error(t, h.ev.last().Err)
	require.Equal(t, h.clock.Now().Add(jwks.DefaultRefreshCooldown), jwks.NextDueForTest(h.r))
	h.iss.SetJWKSHandler(nil)
	h.scheduled()
	h.waitEvents(5)
	require.NoError(t, h.ev.last().Err)
	require.Equal(t, 4, h.iss.JWKSFetches())
}

// A kid removed from the JWKS is refused after the next refresh; a kid
// whose material changes gets a new *Key.
func TestRemoteKeyRemovalAndPointerStability(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	oldKID := h.iss.CurrentKeyID()
	oldKey := h.warm()
	newKID, err := h.iss.Rotate("ES256")
	require.NoError(t, err)
	newKey, err := h.r.Key(t.Context(), newKID, "ES256")
	require.NoError(t, err)
	h.waitIdle()

	require.NoError(t, h.iss.Unpublish(oldKID))
	k, err := h.r.Key(t.Context(), oldKID, "ES256")
	require.NoError(t, err, "still cached until the next refresh")
	require.Same(t, oldKey, k)
	h.scheduled()
	h.waitEvents(4)
	_, err = h.r.Key(t.Context(), oldKID, "ES256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	k, err = h.r.Key(t.Context(), newKID, "ES256")
	require.NoError(t, err)
	require.Same(t, newKey, k, "unchanged key keeps its pointer")

	// Same kid, new material: a new pointer with the new public key.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk := audtest.PublicJWK(priv.Public())
	jwk["kid"], jwk["alg"] = newKID, "ES256"
	doc, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	require.NoError(t, err)
	h.iss.SetJWKSHandler(audtest.Body("application/json", doc))
	require.NoError(t, h.r.Refresh(t.Context()))
	k, err = h.r.Key(t.Context(), newKID, "ES256")
	require.NoError(t, err)
	require.NotSame(t, newKey, k)
	require.True(t, priv.PublicKey.Equal(k.Public()))
}

// Known kid with another alg, or an ambiguous kid: refused without a
// refresh.
func TestRemoteKnownKIDWrongAlgNoRefresh(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	kid := h.iss.CurrentKeyID()
	h.warm()
	for range 10 {
		_, err := h.r.Key(t.Context(), kid, "ES384")
		require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	}
	require.Equal(t, 1, h.iss.JWKSFetches())
}

// Dropped keys are logged once per (kid, reason), not on every refresh.
func TestRemoteDroppedKeysLoggedOnce(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	good := h.iss.JWKS()
	var doc map[string][]map[string]any
	require.NoError(t, json.Unmarshal(good, &doc))
	doc["keys"] = append(doc["keys"],
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
		map[string]any{"kty": "EC", "kid": "enc-key", "use": "enc", "crv": "P-256", "x": doc["keys"][0]["x"], "y": doc["keys"][0]["y"]},
	)
	body, err := json.Marshal(doc)
	require.NoError(t, err)
	h.iss.SetJWKSHandler(audtest.Body("application/json", body))

	for range 3 {
		require.NoError(t, h.r.Refresh(t.Context()))
	}
	ev := h.ev.last()
	require.Equal(t, 1, ev.Keys)
	require.Equal(t, 2, ev.Dropped)
	require.Equal(t, 2, h.logs.Count("jwks: key dropped"))
	require.Equal(t, 1, h.logs.Count(`kid=hmac index=1 reason="symmetric (kty oct) key in a public key set"`))
	require.Equal(t, 1, h.logs.Count(`kid=enc-key index=2 reason="use is \"enc\", not sig"`))
	_, err = h.r.Key(t.Context(), "hmac", "ES256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
}

// Close stops the background loop and a fetch in flight, leaves no
// goroutine behind, and makes Key return ErrClosed.
func TestRemoteCloseStopsEverything(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	clk := newClock()
	r, err := jwks.NewRemote(jwks.RemoteConfig{Issuer: iss.URL(), Options: jwks.Options{AllowHTTPLoopback: true, Now: clk.Now}})
	require.NoError(t, err)
	kid := iss.CurrentKeyID()
	_, err = r.Key(t.Context(), kid, "ES256")
	require.NoError(t, err)
	require.True(t, jwks.LoopStartedForTest(r))

	// A refresh hangs (default 5s timeout); a caller waits on it.
	iss.SetJWKSHandler(audtest.Hang(10 * time.Second))
	waiter := make(chan error, 1)
	go func() { _, err := r.Key(context.Background(), "new-kid", "ES256"); waiter <- err }()
	require.Eventually(t, func() bool { return iss.JWKSFetches() == 2 }, 5*time.Second, time.Millisecond)

	start := time.Now()
	require.NoError(t, r.Close())
	require.Less(t, time.Since(start), time.Second, "Close cancels the fetch in flight")
	require.ErrorIs(t, <-waiter, jwks.ErrClosed)
	require.NoError(t, r.Close(), "Close is idempotent")

	_, err = r.Key(t.Context(), kid, "ES256")
	require.ErrorIs(t, err, jwks.ErrClosed)
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	require.ErrorIs(t, r.Refresh(t.Context()), jwks.ErrClosed)
	require.Equal(t, 2, iss.JWKSFetches())
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

// Close races with Key and Refresh without leaks or panics.
func TestRemoteCloseConcurrent(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	kid := h.iss.CurrentKeyID()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if i%10 == 0 {
				_ = h.r.Refresh(context.Background())
			}
			_, err := h.r.Key(context.Background(), kid, "ES256")
			if err != nil && !errors.Is(err, jwks.ErrClosed) {
				t.Errorf("Key: %v", err)
			}
		})
	}
	wg.Go(func() { _ = h.r.Close() })
	wg.Wait()
}

// BenchmarkRemoteKeyHit measures the lookup of a cached kid (the path every
// verification and every verified-token cache hit takes).
func BenchmarkRemoteKeyHit(b *testing.B) {
	iss := audtest.NewIssuer(b, audtest.Options{Algorithms: []string{"ES256"}})
	r, err := jwks.NewRemote(jwks.RemoteConfig{JWKSURI: iss.JWKSURL(), Options: jwks.Options{AllowHTTPLoopback: true}})
	require.NoError(b, err)
	defer r.Close()
	kid := iss.CurrentKeyID()
	ctx := context.Background()
	_, err = r.Key(ctx, kid, "ES256")
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Key(ctx, kid, "ES256"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
