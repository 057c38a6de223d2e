package jwks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audguard/audguard/internal/canonuri"
)

// Defaults of [Options].
const (
	// DefaultRefreshCooldown is the default of Options.RefreshCooldown.
	DefaultRefreshCooldown = 30 * time.Second
	// DefaultFetchTimeout is the default of Options.FetchTimeout.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxStale is the default of Options.MaxStale.
	DefaultMaxStale = 24 * time.Hour
	// DefaultMinTTL is the default of Options.MinTTL.
	DefaultMinTTL = 5 * time.Minute
	// DefaultMaxTTL is the default of Options.MaxTTL.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultTTL is the default of Options.DefaultTTL.
	DefaultTTL = 15 * time.Minute
	// MaxBodySize caps a JWKS or discovery response body. A larger body
	// is refused; it is never read beyond MaxBodySize+1 bytes.
	MaxBodySize = 1 << 20
)

// Values of [FetchEvent].Cause.
const (
	// CauseInitial: the first fetch, or a fetch on demand while no usable
	// keys are held (never fetched, or the last good set is older than
	// MaxStale).
	CauseInitial = "initial"
	// CauseScheduled: the background refresh ahead of expiry, or its
	// retry after a failure.
	CauseScheduled = "scheduled"
	// CauseUnknownKID: a token named a key ID the cached set lacks.
	CauseUnknownKID = "unknown-kid"
	// CauseManual: [Remote.Refresh] was called.
	CauseManual = "manual"
)

// Options tune a [Remote]. Zero fields take the defaults above; negative
// durations are refused by [NewRemote].
type Options struct {
	// HTTPClient performs the fetches. Default: a client of its own (a
	// clone of http.DefaultTransport), whose idle connections Close
	// releases. Whatever the client, redirects to another origin (which
	// includes https to http) are never followed: the Remote uses a copy
	// of the client with its own CheckRedirect, which calls the client's
	// CheckRedirect, if any, for the redirects it allows. The client
	// itself is never modified.
	HTTPClient *http.Client
	// AllowHTTPLoopback accepts http URLs whose host is a loopback address
	// or "localhost" (issuer, JWKS URI, discovered jwks_uri). For tests
	// and local development only.
	AllowHTTPLoopback bool
	// RefreshCooldown is the minimum time between two refreshes caused by
	// unknown key IDs, between two on-demand fetches while no keys are
	// held, between two failed discoveries, and the retry interval of the
	// background refresh after a failure. Default 30s.
	RefreshCooldown time.Duration
	// FetchTimeout bounds each HTTP request (one discovery document or
	// the JWKS). Default 5s. A fetch that must discover the JWKS URI
	// makes up to three requests in a row (RFC 8414 document, OpenID
	// Connect document, JWKS), so it can take up to 3×FetchTimeout.
	FetchTimeout time.Duration
	// MaxStale is how long the last good key set keeps being used, counted
	// from the last successful fetch, while fetches fail. Past it the keys
	// are no longer used and [Remote.Key] returns [ErrUnavailable] until a
	// fetch succeeds. Default 24h.
	MaxStale time.Duration
	// MinTTL and MaxTTL clamp the lifetime the server announces with
	// Cache-Control max-age or Expires ("no-store" and "no-cache" count as
	// MinTTL). Defaults 5m and 24h. The lifetime is also never longer
	// than MaxStale.
	MinTTL, MaxTTL time.Duration
	// DefaultTTL applies when the server sends no usable caching header.
	// Default 15m (clamped to [MinTTL, MaxTTL]).
	DefaultTTL time.Duration
	// RSAAlgorithm is given to RSA keys without "alg"; see [ParseOptions].
	RSAAlgorithm string
	// Logger receives warnings: failed fetches, a failed discovery, a
	// jwks_uri on another host than the issuer, dropped keys (once per key
	// ID and reason while the key keeps being published). Default:
	// discard.
	Logger *slog.Logger
	// OnFetch, when set, is called after every HTTP request a Remote
	// makes (discovery documents and the JWKS), from the goroutine that
	// made it. It must be fast, must not panic and must not call Close.
	OnFetch func(FetchEvent)
	// Now returns the current time. Default time.Now. Tests inject a clock
	// here; the background refresh then runs when the injected clock says
	// it is due, checked whenever the Remote's own timer fires or a fetch
	// completes.
	Now func() time.Time
}

// RemoteConfig configures a [Remote]: the issuer to discover, or the JWKS
// URI to fetch directly, plus [Options].
type RemoteConfig struct {
	// Issuer is the issuer identifier. When JWKSURI is empty the JWKS URI
	// is discovered from it: RFC 8414 authorization server metadata, then
	// OpenID Connect discovery. The document's "issuer" must equal Issuer
	// byte for byte.
	Issuer string
	// JWKSURI, when set, is fetched directly and Issuer is only used in
	// logs and events.
	JWKSURI string
	Options
}

// FetchEvent reports one HTTP request of a [Remote].
type FetchEvent struct {
	// Issuer is RemoteConfig.Issuer.
	Issuer string
	// URL is the URL fetched (discovery document or JWKS).
	URL string
	// Discovery reports that URL is a discovery document, not the JWKS.
	Discovery bool
	// Cause is one of CauseInitial, CauseScheduled, CauseUnknownKID and
	// CauseManual.
	Cause string
	// Err is nil on success.
	Err error
	// Keys is the number of usable keys after a successful JWKS fetch.
	Keys int
	// Dropped is the number of keys the hygiene rules dropped (see
	// [Parse]).
	Dropped int
	// Duration is the time the request took.
	Duration time.Duration
}

// Errors of a [Remote], in addition to [ErrKeyNotFound] and
// [ErrUnavailable].
var (
	// ErrClosed is returned by a [Remote] after Close. The error Key
	// returns then also matches [ErrUnavailable].
	ErrClosed = errors.New("jwks: key source closed")
	// ErrIssuerMismatch reports a discovery document whose "issuer" is not
	// byte for byte the configured issuer (RFC 8414 §3.3); its contents
	// are not used.
	ErrIssuerMismatch = errors.New("jwks: discovery document names another issuer")
	// ErrDiscovery wraps every failure to discover the JWKS URI from the
	// issuer (no usable metadata document at either well-known location).
	ErrDiscovery = errors.New("jwks: discovery failed")
	// ErrTooLarge reports a response body over [MaxBodySize].
	ErrTooLarge = errors.New("jwks: response body too large")
)

// errClosedKey is what Key returns after Close: a closed source has no keys.
var errClosedKey = fmt.Errorf("%w (%w)", ErrClosed, ErrUnavailable)

// Remote is a JWKS fetched over HTTPS and cached. See the package
// documentation for its refresh policy. It is safe for concurrent use.
type Remote struct {
	issuer  string
	issURI  canonuri.URI // parsed Issuer; valid when jwksURI is empty
	jwksURI string       // configured JWKS URI, or "" to discover
	opts    Options      // defaulted
	client  *http.Client // a copy with our CheckRedirect
	own     *http.Transport
	log     *slog.Logger
	now     func() time.Time

	// snap is the current key set; nil until the first successful fetch.
	// Readers load it without a lock; only the one in-flight fetch
	// stores it.
	snap   atomic.Pointer[snapshot]
	closed atomic.Bool

	ctx    context.Context // parent of every fetch; cancelled by Close
	cancel context.CancelFunc
	stop   chan struct{} // closed by Close: ends the background loop
	kick   chan struct{} // wakes the background loop to re-plan
	wg     sync.WaitGroup
	once   sync.Once

	mu           sync.Mutex
	isClosed     bool
	inflight     *fetchCall
	lastFail     time.Time // end of the last failed fetch; zero after a success
	lastErr      error
	kidRefreshAt time.Time // start of the last refresh caused by an unknown kid
	loopStarted  bool
	waiting      bool      // the loop sleeps until waitDue (by the clock)
	waitDue      time.Time // what the sleeping loop planned for

	// Owned by the in-flight fetch (at most one runs at a time, and the
	// hand-over between two fetches goes through mu).
	disc        discoveryState
	logged      map[dropKey]struct{} // dropped keys already logged
	staleWarned bool
}

// snapshot is one immutable fetched key set.
type snapshot struct {
	set     *Set
	fetched time.Time     // when it was fetched (the last successful fetch)
	ttl     time.Duration // clamped lifetime from the caching headers
}

// fetchCall is one shared fetch that callers wait on.
type fetchCall struct {
	done chan struct{}
	err  error // set before done is closed
}

type dropKey struct{ kid, reason string }

// NewRemote validates cfg and returns a Remote. It performs no I/O and
// starts no goroutine: the first fetch happens on first use or on
// [Remote.Refresh]. Call [Remote.Close] when done.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	o := cfg.Options
	var errs []error
	dur := func(name string, v *time.Duration, def time.Duration) {
		switch {
		case *v < 0:
			errs = append(errs, fmt.Errorf("jwks: %s %v is negative", name, *v))
		case *v == 0:
			*v = def
		}
	}
	dur("RefreshCooldown", &o.RefreshCooldown, DefaultRefreshCooldown)
	dur("FetchTimeout", &o.FetchTimeout, DefaultFetchTimeout)
	dur("MaxStale", &o.MaxStale, DefaultMaxStale)
	dur("MinTTL", &o.MinTTL, DefaultMinTTL)
	dur("MaxTTL", &o.MaxTTL, DefaultMaxTTL)
	dur("DefaultTTL", &o.DefaultTTL, DefaultTTL)
	if o.MinTTL > o.MaxTTL {
		errs = append(errs, fmt.Errorf("jwks: MinTTL %v exceeds MaxTTL %v", o.MinTTL, o.MaxTTL))
	}
	if o.RSAAlgorithm != "" {
		if f, ok := algFamilies[o.RSAAlgorithm]; !ok || f.family != "RSA" {
			errs = append(errs, fmt.Errorf("jwks: RSAAlgorithm %q is not an RSA signature algorithm", o.RSAAlgorithm))
		}
	}
	r := &Remote{issuer: cfg.Issuer, jwksURI: cfg.JWKSURI}
	uopts := canonuri.Options{AllowHTTPLoopback: o.AllowHTTPLoopback}
	switch {
	case cfg.JWKSURI != "":
		if _, err := canonuri.Parse(cfg.JWKSURI, uopts); err != nil {
			errs = append(errs, fmt.Errorf("jwks: JWKSURI %q: %w", clip(cfg.JWKSURI), err))
		}
	case cfg.Issuer == "":
		errs = append(errs, errors.New("jwks: Issuer or JWKSURI is required"))
	default:
		u, err := canonuri.Parse(cfg.Issuer, uopts)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("jwks: Issuer %q: %w", clip(cfg.Issuer), err))
		case u.HasQuery:
			errs = append(errs, fmt.Errorf("jwks: Issuer %q: an issuer identifier has no query (RFC 8414 §2)", clip(cfg.Issuer)))
		}
		r.issURI = u
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	r.opts = o
	r.log = o.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.now = o.Now
	if r.now == nil {
		r.now = time.Now
	}
	var c http.Client
	if o.HTTPClient != nil {
		c = *o.HTTPClient
	} else {
		r.own = newTransport()
		c.Transport = r.own
	}
	c.CheckRedirect = sameOriginRedirects(c.CheckRedirect)
	r.client = &c
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.stop = make(chan struct{})
	r.kick = make(chan struct{}, 1)
	return r, nil
}

// Key returns the key for kid and alg, fetching the JWKS when needed.
//
// A known kid is answered from the cached set without locking or waiting,
// even while a refresh is running or failing. An unknown kid (or an
// absent kid that no single key fits) waits for a refresh, shared with
// every concurrent caller and started at most once per RefreshCooldown;
// within the cooldown it is refused at once with [ErrKeyNotFound].
//
// The wait ends when ctx does, or when the refresh ends. Each HTTP request
// of a refresh is bounded by FetchTimeout, and a refresh makes one
// request when the JWKS URI is configured or already discovered, but up
// to three in a row when it must be discovered first (RFC 8414 document,
// OpenID Connect document, JWKS): a cold start with discovery can wait up
// to 3×FetchTimeout. Pass a ctx with a deadline to bound the wait itself.
//
// With no usable keys (never fetched, or older than MaxStale) Key fetches
// on demand, at most once per RefreshCooldown after a failure, and
// returns [ErrUnavailable] if that fails. After Close it returns
// [ErrClosed].
func (r *Remote) Key(ctx context.Context, kid, alg string) (*Key, error) {
	if r.closed.Load() {
		return nil, errClosedKey
	}
	if s := r.usable(r.now()); s != nil {
		k, err := s.set.lookup(kid, alg)
		if err == nil {
			return k, nil
		}
		if kid != "" && s.set.has(kid) {
			// Known but bound to another alg, or ambiguous: a
			// refresh would not change the answer.
			return nil, err
		}
	}
	return r.keySlow(ctx, kid, alg)
}

// keySlow handles a miss: it joins or starts a refresh, within the limits.
func (r *Remote) keySlow(ctx context.Context, kid, alg string) (*Key, error) {
	r.mu.Lock()
	if r.isClosed {
		r.mu.Unlock()
		return nil, errClosedKey
	}
	now := r.now()
	s := r.usable(now)
	if s != nil {
		// A refresh may have completed since the caller looked.
		if k, err := s.set.lookup(kid, alg); err == nil {
			r.mu.Unlock()
			return k, nil
		}
	}
	c := r.inflight
	if c == nil {
		switch {
		case s != nil:
			if !r.kidRefreshAt.IsZero() && now.Sub(r.kidRefreshAt) < r.opts.RefreshCooldown {
				// The last refresh for an unknown kid is recent:
				// its negative answer stands for the cooldown.
				r.mu.Unlock()
				return nil, notFound(s)
			}
			r.kidRefreshAt = now
			c = r.startLocked(CauseUnknownKID)
		default:
			if !r.lastFail.IsZero() && now.Sub(r.lastFail) < r.opts.RefreshCooldown {
				err := r.lastErr
				r.mu.Unlock()
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			c = r.startLocked(CauseInitial)
		}
	}
	r.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		if s != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyNotFound, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	if r.closed.Load() {
		return nil, errClosedKey
	}
	s = r.usable(r.now())
	if s == nil {
		if c.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, c.err)
		}
		return nil, ErrUnavailable
	}
	k, err := s.set.lookup(kid, alg)
	if err != nil {
		if c.err != nil {
			// The refresh failed; say why in the logs.
			return nil, fmt.Errorf("%w (refresh failed: %w)", notFound(s), c.err)
		}
		return nil, notFound(s)
	}
	return k, nil
}

// notFound is the answer for a key the usable set s does not hold.
func notFound(s *snapshot) error {
	if s.set.Len() == 0 {
		return ErrUnavailable
	}
	return ErrKeyNotFound
}

// usable returns the current snapshot unless there is none or it is older
// than MaxStale.
func (r *Remote) usable(now time.Time) *snapshot {
	s := r.snap.Load()
	if s == nil || now.Sub(s.fetched) > r.opts.MaxStale {
		return nil
	}
	return s
}

// Refresh fetches the JWKS now (discovering it first if needed) and
// returns the fetch's error. If a fetch is already in flight, Refresh waits
// for that one instead of starting another. It is not limited by the
// unknown-kid cooldown, but a failed discovery is retried at most once per
// RefreshCooldown. On failure the cached keys stay in use (up to
// MaxStale).
func (r *Remote) Refresh(ctx context.Context) error {
	r.mu.Lock()
	if r.isClosed {
		r.mu.Unlock()
		return ErrClosed
	}
	c := r.inflight
	if c == nil {
		c = r.startLocked(CauseManual)
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops background work: it cancels a fetch in flight, ends the
// background refresh, waits for both, and releases the idle connections of
// the Remote's own HTTP client. Key then returns [ErrClosed]. Close is safe
// to call more than once and always returns nil.
func (r *Remote) Close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		r.mu.Lock()
		r.isClosed = true
		r.mu.Unlock()
		r.cancel()
		close(r.stop)
		r.wg.Wait()
		if r.own != nil {
			r.own.CloseIdleConnections()
		}
	})
	return nil
}

// startLocked starts the one shared fetch. r.mu must be held, no fetch may
// be in flight and the Remote must not be closed.
func (r *Remote) startLocked(cause string) *fetchCall {
	c := &fetchCall{done: make(chan struct{})}
	r.inflight = c
	r.wg.Add(1)
	go r.run(c, cause)
	return c
}

// run performs one fetch on its own goroutine, detached from the callers
// that wait for it, and publishes the outcome.
func (r *Remote) run(c *fetchCall, cause string) {
	defer r.wg.Done()
	err := r.fetch(cause)
	now := r.now()
	r.mu.Lock()
	r.inflight = nil
	if err != nil {
		r.lastFail, r.lastErr = now, err
		if s := r.snap.Load(); s != nil && now.Sub(s.fetched) > r.opts.MaxStale && !r.staleWarned {
			r.staleWarned = true
			r.log.Warn("jwks: cached keys are older than MaxStale and no longer used; tokens are refused until a fetch succeeds",
				"issuer", r.issuer, "last_success", s.fetched, "max_stale", r.opts.MaxStale)
		}
	} else {
		r.lastFail, r.lastErr = time.Time{}, nil
		r.staleWarned = false
		switch {
		case !r.loopStarted && !r.isClosed:
			r.loopStarted = true
			r.wg.Add(1)
			go r.loop()
		case r.waiting && r.nextDueLocked().Before(r.waitDue):
			// The new set has a shorter lifetime than the loop
			// planned for: let it re-plan.
			r.poke()
		}
	}
	r.mu.Unlock()
	c.err = err
	close(c.done)
}

// poke wakes the background loop so it re-plans its next refresh.
func (r *Remote) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// loop refreshes the set ahead of expiry (at 80% of its lifetime) and,
// after a failure, retries every RefreshCooldown. It is started after the
// first successful fetch and ends when Close is called. It reads the clock
// only when it wakes: when its timer fires, when a fetch gave a set with a
// shorter lifetime than planned, or after its own refresh.
func (r *Remote) loop() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if r.isClosed {
			r.mu.Unlock()
			return
		}
		due := r.nextDueLocked()
		d := due.Sub(r.now())
		var c *fetchCall
		if d <= 0 {
			if c = r.inflight; c == nil {
				c = r.startLocked(CauseScheduled)
			}
		} else {
			r.waiting, r.waitDue = true, due
		}
		r.mu.Unlock()
		if c != nil {
			select {
			case <-c.done:
			case <-r.stop:
				return
			}
			continue
		}
		timer.Reset(d)
		select {
		case <-r.stop:
			return
		case <-timer.C:
		case <-r.kick:
		}
		r.mu.Lock()
		r.waiting = false
		r.mu.Unlock()
	}
}

// nextDueLocked is when the background loop should refresh next: at 80% of
// the current set's lifetime, or, after a failure, one cooldown after it
// (whichever is later). r.mu must be held and a set must have been fetched.
func (r *Remote) nextDueLocked() time.Time {
	s := r.snap.Load()
	due := s.fetched.Add(s.ttl / 10 * 8)
	if !r.lastFail.IsZero() && r.lastFail.After(s.fetched) {
		if retry := r.lastFail.Add(r.opts.RefreshCooldown); retry.After(due) {
			due = retry
		}
	}
	return due
}

// clip shortens a string from configuration or a response for an error
// message.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
