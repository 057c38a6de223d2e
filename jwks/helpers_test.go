package jwks_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/internal/testlog"
	"github.com/audguard/audguard/jwks"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Every Remote a test creates is closed by its cleanup; nothing may be
	// left running when the package's tests end.
	goleak.VerifyTestMain(m)
}

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// events records FetchEvents.
type events struct {
	mu  sync.Mutex
	all []jwks.FetchEvent
}

func (e *events) add(ev jwks.FetchEvent) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) list() []jwks.FetchEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]jwks.FetchEvent(nil), e.all...)
}

func (e *events) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.all)
}

func (e *events) last() jwks.FetchEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.all[len(e.all)-1]
}

// harness is an audtest issuer, a Remote on it with an injected clock, and
// what the Remote reported.
type harness struct {
	t     *testing.T
	iss   *audtest.Issuer
	clock *clock
	logs  *testlog.Buffer
	ev    *events
	r     *jwks.Remote
	cfg   jwks.RemoteConfig
}

// newHarness starts an ES256 issuer (fast key generation) unless opts says
// otherwise, and a Remote that discovers its JWKS. mod adjusts the config.
func newHarness(t *testing.T, opts audtest.Options, mod func(*jwks.RemoteConfig)) *harness {
	t.Helper()
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = []string{"ES256"}
	}
	h := &harness{t: t, iss: audtest.NewIssuer(t, opts), clock: newClock(), logs: &testlog.Buffer{}, ev: &events{}}
	h.cfg = jwks.RemoteConfig{
		Issuer: h.iss.URL(),
		Options: jwks.Options{
			AllowHTTPLoopback: true,
			FetchTimeout:      2 * time.Second,
			Logger:            slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			OnFetch:           h.ev.add,
			Now:               h.clock.Now,
		},
	}
	if mod != nil {
		mod(&h.cfg)
	}
	r, err := jwks.NewRemote(h.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	h.r = r
	return h
}

// warm performs the first fetch and returns the current kid's key.
func (h *harness) warm() *jwks.Key {
	h.t.Helper()
	k, err := h.r.Key(h.t.Context(), h.iss.CurrentKeyID(), "ES256")
	require.NoError(h.t, err)
	h.waitIdle()
	return k
}

// waitIdle waits until no fetch is in flight.
func (h *harness) waitIdle() {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return jwks.IdleForTest(h.r) }, 10*time.Second, time.Millisecond)
}

// waitEvents waits until n fetch events were reported and the fetch that
// reported the last one has finished.
func (h *harness) waitEvents(n int) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.ev.len() >= n }, 10*time.Second, time.Millisecond)
	h.waitIdle()
	require.Equal(h.t, n, h.ev.len(), "fetch events")
}

// scheduled advances the clock to the background refresh and wakes the
// loop.
func (h *harness) scheduled() {
	h.t.Helper()
	due := jwks.NextDueForTest(h.r)
	if d := due.Sub(h.clock.Now()); d > 0 {
		h.clock.Advance(d)
	}
	jwks.PokeForTest(h.r)
}

// maxLatency calls Key n times for kid and returns the slowest call.
func maxLatency(t *testing.T, r *jwks.Remote, kid, alg string, want *jwks.Key, n int) time.Duration {
	t.Helper()
	var worst time.Duration
	for range n {
		start := time.Now()
		k, err := r.Key(t.Context(), kid, alg)
		d := time.Since(start)
		require.NoError(t, err)
		require.Same(t, want, k)
		worst = max(worst, d)
	}
	return worst
}
