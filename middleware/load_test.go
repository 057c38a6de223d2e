package middleware_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Load-test parameters. The JWKS policy is shortened so that a few
// seconds hold many refresh windows.
const (
	loadRequests = 10000
	loadWorkers  = 64
	loadCooldown = 200 * time.Millisecond
	loadTTL      = 100 * time.Millisecond // MinTTL = MaxTTL: the issuer announces 300s
	loadTimeout  = 250 * time.Millisecond // FetchTimeout; the hang fault outlasts it
)

// jwksCapture is the verifier's HTTP transport: it remembers the last JWKS
// body the verifier read to the end, so that a successful fetch reported
// by OnFetch (fetches never overlap) tells exactly which keys the verifier
// then held.
type jwksCapture struct {
	base *http.Transport
	mu   sync.Mutex
	last []byte
}

func (c *jwksCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/jwks") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	resp.Body = &captureBody{ReadCloser: resp.Body, c: c}
	return resp, nil
}

type captureBody struct {
	io.ReadCloser
	c   *jwksCapture
	buf bytes.Buffer
}

func (b *captureBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.buf.Write(p[:n])
	if err == io.EOF {
		b.c.mu.Lock()
		b.c.last = append([]byte(nil), b.buf.Bytes()...)
		b.c.mu.Unlock()
	}
	return n, err
}

// loadKeys tracks the issuer's keys from the test's point of view.
type loadKeys struct {
	iss       *audtest.Issuer
	mu        sync.RWMutex
	published []string            // kids ever published, in order
	tokens    map[string][]string // valid tokens per kid
	fetched   map[string]bool     // kid seen by the verifier in a successfully fetched JWKS
	revoked   map[string]bool     // kid unpublished at some point
}

func (k *loadKeys) add(kid string, toks []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.published = append(k.published, kid)
	k.tokens[kid] = toks
}

// pick returns a token of a random published key (from the pool, which
// the verified-token cache soon knows, or freshly minted, which it cannot)
// and its class at this moment: "valid" when the verifier already fetched
// the key and it was never unpublished, "revoked", or "pending"
// (published, not yet fetched).
func (k *loadKeys) pick(r *rand.Rand, fresh bool) (tok, class string) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	kid := k.published[r.IntN(len(k.published))]
	if fresh {
		c := k.iss.Claims(remoteResource, "read")
		c["sub"] = fmt.Sprintf("fresh-%d", r.IntN(1<<30))
		tok = k.iss.MustSign(audtest.Token{Claims: c, KeyID: kid})
	} else {
		toks := k.tokens[kid]
		tok = toks[r.IntN(len(toks))]
	}
	switch {
	case k.revoked[kid]:
		return tok, "revoked"
	case k.fetched[kid]:
		return tok, "valid"
	}
	return tok, "pending"
}

// TestLoadWithJWKSFaults: 10,000 requests from 64 goroutines through the
// Handler of a Verifier that discovers its issuer, while the issuer
// rotates and revokes keys and its JWKS endpoint answers 500, hangs past
// the fetch timeout, serves garbage and redirects to another origin, in
// phases: the requests are cut into equal segments, and the requests of
// segment p are sent only once fault phase p is in place and the verifier
// has met it (a failed fetch for a fault, a successful one otherwise).
//
// A token is "valid" when the key that signed it was published in a JWKS
// the verifier had already fetched when the request started (seen through
// the verifier's own transport and OnFetch) and was never unpublished.
// Forgeries: signatures by keys never published (under a published kid,
// their own kid, or random kids), tokens for another audience, expired,
// tampered, alg none, and HS256 keyed with the public key. Required:
// every forgery refused, every valid token accepted, the JWKS fetched no
// more often than the refresh policy allows for the elapsed time, and no
// goroutine left after Close.
func TestLoadWithJWKSFaults(t *testing.T) {
	leaks := goleak.IgnoreCurrent()

	iss, err := audtest.Start(audtest.Options{Algorithms: []string{"ES256"}, TokenLifetime: time.Hour})
	require.NoError(t, err)
	elsewhere, err := audtest.Start(audtest.Options{Algorithms: []string{"ES256"}})
	require.NoError(t, err)

	keys := &loadKeys{iss: iss, tokens: map[string][]string{}, fetched: map[string]bool{}, revoked: map[string]bool{}}
	mintFor := func(kid string) []string {
		toks := make([]string, 16)
		for i := range toks {
			c := iss.Claims(remoteResource, "read")
			c["sub"] = fmt.Sprintf("user-%d", i)
			toks[i] = iss.MustSign(audtest.Token{Claims: c, KeyID: kid})
		}
		return toks
	}
	keys.add(iss.CurrentKeyID(), mintFor(iss.CurrentKeyID()))

	// The JWKS endpoint, switched between faults by the chaos goroutine.
	var fault atomic.Value // http.Handler, nil for the real JWKS
	good := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(iss.JWKS())
	})
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, _ := fault.Load().(http.Handler); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		good.ServeHTTP(w, r)
	}))
	setFault := func(h http.Handler) {
		if h == nil {
			h = good
		}
		fault.Store(h)
	}

	capture := &jwksCapture{base: http.DefaultTransport.(*http.Transport).Clone()}
	var okFetches, failedFetches atomic.Int64
	var causesMu sync.Mutex
	causes := map[string]int{}
	fetched := make(chan bool, 1024) // every JWKS fetch outcome, for the chaos goroutine
	v, err := middleware.New(middleware.Config{
		Resource:          remoteResource,
		Issuers:           []middleware.Issuer{{URL: iss.URL()}},
		AllowHTTPLoopback: true,
		HTTPClient:        &http.Client{Transport: capture},
		JWKS: jwks.Options{
			RefreshCooldown: loadCooldown,
			FetchTimeout:    loadTimeout,
			MinTTL:          loadTTL,
			MaxTTL:          loadTTL,
			OnFetch: func(ev jwks.FetchEvent) {
				if ev.Discovery {
					return
				}
				causesMu.Lock()
				causes[ev.Cause]++
				causesMu.Unlock()
				defer func() {
					select {
					case fetched <- ev.Err == nil:
					default:
					}
				}()
				if ev.Err != nil {
					failedFetches.Add(1)
					return
				}
				okFetches.Add(1)
				capture.mu.Lock()
				doc := capture.last
				capture.mu.Unlock()
				var set struct {
					Keys []struct {
						Kid string `json:"kid"`
					} `json:"keys"`
				}
				if err := json.Unmarshal(doc, &set); err != nil {
					t.Errorf("the fetched JWKS does not decode: %v", err)
					return
				}
				keys.mu.Lock()
				for _, k := range set.Keys {
					keys.fetched[k.Kid] = true
				}
				keys.mu.Unlock()
			},
		},
	})
	require.NoError(t, err)
	start := time.Now()
	var done atomic.Int64 // completed requests

	// Forgeries, minted up front.
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	require.NoError(t, err)
	unpublished, err := iss.AddUnpublishedKey("ES256")
	require.NoError(t, err)
	pub, err := iss.PublicKey(iss.CurrentKeyID())
	require.NoError(t, err)
	pubJWK, err := json.Marshal(audtest.PublicJWK(pub))
	require.NoError(t, err)
	forgeries := map[string][]string{}
	for i := range 40 {
		c := iss.Claims(remoteResource, "read")
		forgeries["attacker_key_published_kid"] = append(forgeries["attacker_key_published_kid"],
			iss.MustSign(audtest.Token{Claims: c, Signer: attacker, Header: map[string]any{"kid": iss.CurrentKeyID()}}))
		forgeries["unpublished_key"] = append(forgeries["unpublished_key"], iss.MustSign(audtest.Token{Claims: c, KeyID: unpublished}))
		forgeries["random_kid"] = append(forgeries["random_kid"],
			iss.MustSign(audtest.Token{Claims: c, Signer: attacker, Header: map[string]any{"kid": fmt.Sprintf("random-%d", i)}}))
		forgeries["other_audience"] = append(forgeries["other_audience"], iss.AccessToken("https://other.example.com/mcp", "read"))
		forgeries["expired"] = append(forgeries["expired"], iss.MustSign(audtest.Token{Claims: iss.Expired(remoteResource, time.Hour)}))
		forgeries["tampered"] = append(forgeries["tampered"], iss.MustSign(audtest.Token{Claims: c, TamperSignature: true}))
		forgeries["alg_none"] = append(forgeries["alg_none"], iss.MustSign(audtest.Token{Claims: c, Alg: "none"}))
		forgeries["hs256_public_key"] = append(forgeries["hs256_public_key"], iss.MustSign(audtest.Token{Claims: c, HMACSecret: pubJWK}))
	}
	forgeryKinds := make([]string, 0, len(forgeries))
	for k := range forgeries {
		forgeryKinds = append(forgeryKinds, k)
	}

	// The fault schedule: phase p covers requests p*step+1 .. (p+1)*step.
	rotate := func() {
		kid, err := iss.Rotate("ES256")
		if err != nil {
			t.Errorf("rotate: %v", err)
			return
		}
		keys.add(kid, mintFor(kid))
	}
	revokeOldest := func() {
		keys.mu.Lock()
		kid := keys.published[0]
		keys.revoked[kid] = true // before it leaves the JWKS
		keys.mu.Unlock()
		if err := iss.Unpublish(kid); err != nil {
			t.Errorf("unpublish: %v", err)
		}
	}
	// Each fault step waits until the verifier has met the fault (a failed
	// fetch) and each "good" step until it has fetched the JWKS again, so
	// that every phase is really exercised however fast the requests run.
	const (
		waitNone = iota
		waitFailure
		waitSuccess
	)
	schedule := []struct {
		name  string
		apply func()
		wait  int
	}{
		{"rotate", rotate, waitSuccess},
		{"500", func() { setFault(audtest.Status(http.StatusInternalServerError)) }, waitFailure},
		{"rotate during 500", rotate, waitFailure},
		{"hang", func() { setFault(audtest.Hang(time.Minute)) }, waitFailure},
		{"good", func() { setFault(nil) }, waitSuccess},
		{"garbage html", func() { setFault(audtest.Body("text/html", []byte("<html>maintenance</html>"))) }, waitFailure},
		{"rotate during garbage", rotate, waitFailure},
		{"garbage json", func() { setFault(audtest.Body("application/json", []byte(`{"keys":"none"}`))) }, waitFailure},
		{"cross-origin redirect", func() { setFault(audtest.Redirect(elsewhere.JWKSURL())) }, waitFailure},
		{"good", func() { setFault(nil) }, waitSuccess},
		{"revoke oldest, rotate", func() { revokeOldest(); rotate() }, waitSuccess},
		{"500", func() { setFault(audtest.Status(http.StatusServiceUnavailable)) }, waitFailure},
		{"good", func() { setFault(nil) }, waitSuccess},
		{"hang", func() { setFault(audtest.Hang(time.Minute)) }, waitFailure},
		{"good", func() { setFault(nil) }, waitSuccess},
	}
	step := int64(loadRequests / (len(schedule) + 1))
	startPhase := make(chan int, len(schedule))
	phaseReady := make([]chan struct{}, len(schedule)+1)
	for i := range phaseReady {
		phaseReady[i] = make(chan struct{})
	}
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		for p := range startPhase {
			ph := schedule[p-1]
			for len(fetched) > 0 { // forget outcomes from before this phase
				<-fetched
			}
			ph.apply()
			// No traffic of this phase runs yet; the background refresh
			// (every 0.8 TTL, every cooldown after a failure) meets the
			// fault at the latest. The timeout only guards a hang.
			deadline := time.NewTimer(30 * time.Second)
			for met := ph.wait == waitNone; !met; {
				select {
				case ok := <-fetched:
					met = (ok && ph.wait == waitSuccess) || (!ok && ph.wait == waitFailure)
				case <-deadline.C:
					t.Errorf("phase %q: the verifier never met it", ph.name)
					met = true
				}
			}
			deadline.Stop()
			close(phaseReady[p])
		}
	}()
	// phaseOf returns the phase of request i (1-based) and, for the first
	// request of a phase, starts it.
	phaseOf := func(i int64) int {
		p := int((i - 1) / step)
		if p < 1 || p > len(schedule) {
			return 0
		}
		if (i-1)%step == 0 {
			startPhase <- p
		}
		return p
	}

	h := v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := middleware.ClaimsFromContext(r.Context())
		w.Header().Set("X-Subject", c.Subject)
		w.WriteHeader(http.StatusNoContent)
	}))
	var (
		next     atomic.Int64
		mu       sync.Mutex
		outcomes = map[string]int{}
		problems []string
	)
	var wg sync.WaitGroup
	for w := range loadWorkers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for i := next.Add(1); i <= loadRequests; i = next.Add(1) {
				if p := phaseOf(i); p > 0 {
					<-phaseReady[p]
				}
				var tok, class string
				if kind := r.IntN(10); kind < 6 {
					tok, class = keys.pick(r, kind%2 == 0)
				} else {
					f := forgeryKinds[r.IntN(len(forgeryKinds))]
					tok, class = forgeries[f][r.IntN(len(forgeries[f]))], "forgery "+f
				}
				req := httptest.NewRequest(http.MethodGet, remoteResource, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				accepted := rec.Code == http.StatusNoContent
				if !accepted && rec.Code != http.StatusUnauthorized {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("%s: status %d", class, rec.Code))
					mu.Unlock()
				}
				mu.Lock()
				outcomes[fmt.Sprintf("%s accepted=%v", class, accepted)]++
				if strings.HasPrefix(class, "forgery") && accepted {
					problems = append(problems, "accepted "+class)
				}
				if class == "valid" && !accepted {
					problems = append(problems, "refused a valid token: "+rec.Header().Get("WWW-Authenticate"))
				}
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(startPhase)
	<-chaosDone

	require.NoError(t, v.Close())
	capture.base.CloseIdleConnections()
	iss.Close()
	elsewhere.Close()

	t.Logf("%d requests in %v: %v", done.Load(), elapsed.Round(time.Millisecond), outcomes)
	require.Empty(t, problems)
	require.Equal(t, int64(loadRequests), done.Load())
	for p := 1; p <= len(schedule); p++ {
		select {
		case <-phaseReady[p]:
		default:
			t.Fatalf("phase %d (%s) never ran", p, schedule[p-1].name)
		}
	}

	var valid, forged, forgedAccepted, validRefused int
	for k, n := range outcomes {
		switch {
		case strings.HasPrefix(k, "valid "):
			valid += n
			if strings.HasSuffix(k, "accepted=false") {
				validRefused += n
			}
		case strings.HasPrefix(k, "forgery "):
			forged += n
			if strings.HasSuffix(k, "accepted=true") {
				forgedAccepted += n
			}
		}
	}
	require.Zero(t, forgedAccepted, "forgeries accepted")
	require.Zero(t, validRefused, "valid tokens whose key was fetched, refused")
	require.Greater(t, valid, loadRequests/3, "the valid class is exercised")
	require.Greater(t, forged, loadRequests/5, "the forgery class is exercised")

	// The refresh policy bounds the fetches for the elapsed time: one
	// on-demand first fetch, unknown-kid refreshes at most one per
	// cooldown, the background refresh at most one per 0.8 TTL when
	// fetches succeed and one per cooldown while they fail (plus one of
	// each for the partial windows at both ends).
	windows := func(d time.Duration) int { return int(elapsed / d) }
	bound := 1 + (1 + windows(loadCooldown)) + (1 + windows(loadTTL*8/10)) + (1 + windows(loadCooldown))
	t.Logf("JWKS fetches: %d (%d ok, %d failed; bound %d); discovery fetches: %d; redirect target fetched %d times",
		iss.JWKSFetches(), okFetches.Load(), failedFetches.Load(), bound, iss.DiscoveryFetches(), elsewhere.JWKSFetches())
	require.LessOrEqual(t, iss.JWKSFetches(), bound)
	t.Logf("JWKS fetches by cause: %v", causes)
	// Each cause within its own share of the policy. (The moment a
	// refresh is decided is not observable from outside, only when its
	// request arrives, which under load can lag by tens of milliseconds,
	// so the spacing of single refreshes is not asserted.)
	require.LessOrEqual(t, causes[jwks.CauseUnknownKID], 1+windows(loadCooldown))
	require.LessOrEqual(t, causes[jwks.CauseInitial], 1+windows(loadCooldown))
	require.LessOrEqual(t, causes[jwks.CauseScheduled], 2+windows(loadTTL*8/10)+windows(loadCooldown))
	require.Zero(t, causes[jwks.CauseManual])
	require.LessOrEqual(t, iss.DiscoveryFetches(), 2+windows(loadTTL))
	require.Zero(t, elsewhere.JWKSFetches(), "cross-origin redirects are not followed")
	require.Positive(t, failedFetches.Load(), "the faults were hit")

	goleak.VerifyNone(t, leaks)
}
