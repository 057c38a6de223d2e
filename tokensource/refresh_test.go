package tokensource_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/tokensource"
)

// failingTransport holds every request until release is closed, then
// fails it with err.
type failingTransport struct {
	requests atomic.Int32
	release  chan struct{}
	err      error
}

func (f *failingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.requests.Add(1)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	<-f.release
	return nil, f.err
}

// A failed token request is shared by every caller that waited for it,
// also when the failure matches context.DeadlineExceeded (what
// http.Client reports when its Timeout fires): only the caller's own
// context ending makes the others ask again.
func TestCoalescedFailureIsShared(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{name: "timeout-like error", err: errors.Join(errors.New("simulated client timeout"), context.DeadlineExceeded)},
		{name: "connection refused", err: errors.New("connection refused")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &failingTransport{release: make(chan struct{}), err: tt.err}
			c, err := tokensource.New(tokensource.Config{
				TokenURL: "https://as.example.com/token", ClientID: "c", ClientSecret: "secret-value",
				HTTPClient: &http.Client{Transport: ft},
			})
			require.NoError(t, err)
			req := tokensource.Request{Resource: resA, Scopes: []string{"x"}}

			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = c.Token(context.Background(), req)
				}()
			}
			require.Eventually(t, func() bool { return c.Waiters(req) == n-1 }, 10*time.Second, time.Millisecond)
			close(ft.release)
			wg.Wait()
			for _, err := range errs {
				require.Error(t, err)
				require.ErrorIs(t, err, tt.err, "wrapped, unchanged in kind")
				require.ErrorContains(t, err, "tokensource: token request for "+resA)
				require.NotContains(t, err.Error(), "secret-value")
			}
			require.Equal(t, int32(1), ft.requests.Load(), "one request for %d callers", n)
		})
	}
}

// The auditor's case: a hanging token endpoint and http.Client's Timeout.
// N concurrent callers make one request and all fail after about one
// timeout (before the fix: N requests, the k-th caller after k timeouts).
func TestHangingTokenEndpointOneRequest(t *testing.T) {
	var requests atomic.Int32
	as := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// The server notices the client going away only once the body
		// has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done() // hang until the client gives up
	}))
	t.Cleanup(as.Close)
	const timeout = 300 * time.Millisecond
	c, err := tokensource.New(tokensource.Config{
		TokenURL: as.URL + "/token", ClientID: "c", ClientSecret: "s", AllowHTTPLoopback: true,
		HTTPClient: &http.Client{Timeout: timeout},
	})
	require.NoError(t, err)
	req := tokensource.Request{Resource: resA, Scopes: []string{"x"}}

	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Token(context.Background(), req)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.Equal(t, int32(1), requests.Load())
	// Generous for slow CI, far below the n timeouts of the defect.
	require.Less(t, elapsed, 4*timeout)
}

// When the caller that made the request gives up, a waiter whose context
// is live asks again itself.
func TestWaiterRetriesWhenLeaderGivesUp(t *testing.T) {
	e := newEnv(t, audtest.Options{})
	hold := e.rec.setHold()
	c := e.client(t, nil)
	req := tokensource.Request{Resource: resA, Scopes: []string{"files:read"}}

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		_, err := c.Token(leaderCtx, req)
		leader <- err
	}()
	require.Eventually(t, func() bool { return len(e.rec.Forms()) == 1 }, 10*time.Second, time.Millisecond)
	waiter := make(chan error, 1)
	go func() {
		_, err := c.Token(context.Background(), req)
		waiter <- err
	}()
	require.Eventually(t, func() bool { return c.Waiters(req) == 1 }, 10*time.Second, time.Millisecond)

	cancelLeader()
	err := <-leader
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "tokensource:")
	require.Eventually(t, func() bool { return len(e.rec.Forms()) == 2 }, 10*time.Second, time.Millisecond, "the waiter asks again")
	close(hold)
	require.NoError(t, <-waiter)
	require.Equal(t, 1, e.iss.TokenRequests(), "the first request never reached the issuer")
}

// marginEnv obtains a first token (5 minutes, default 30s margin) and
// moves the clock into the refresh margin, where the token is still valid
// for 10s.
func marginEnv(t *testing.T, mutate func(*tokensource.Config)) (*env, *tokensource.Client, tokensource.Request, string) {
	t.Helper()
	e := newEnv(t, audtest.Options{TokenLifetime: 5 * time.Minute})
	c := e.client(t, mutate)
	req := tokensource.Request{Resource: resA, Scopes: []string{"files:read"}}
	first, err := c.Token(context.Background(), req)
	require.NoError(t, err)
	e.clk.Add(5*time.Minute - 10*time.Second)
	return e, c, req, first.AccessToken
}

// Inside the refresh margin a hanging token endpoint delays nobody: the
// cached token, still valid, is returned at once and one background
// refresh is made, which Close stops.
func TestMarginHangingEndpointServesCachedToken(t *testing.T) {
	e, c, req, first := marginEnv(t, nil)
	e.rec.setHold() // never released: the endpoint hangs

	for range 20 {
		tok, err := c.Token(context.Background(), req)
		require.NoError(t, err)
		require.Equal(t, first, tok.AccessToken)
	}
	require.Eventually(t, func() bool { return len(e.rec.Forms()) == 2 }, 10*time.Second, time.Millisecond)
	require.Len(t, e.rec.Forms(), 2, "one background refresh for twenty calls")

	require.NoError(t, c.Close()) // stops the hanging refresh and waits for it
	require.NoError(t, c.Close(), "idempotent")
	tok, err := c.Token(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, first, tok.AccessToken, "after Close: the valid token, no background refresh")
	require.Len(t, e.rec.Forms(), 2)
	require.Equal(t, 1, e.iss.TokenRequests())
}

// A background refresh is bounded by the HTTP client's timeout. After it
// failed, the cached token is served until expiry without another
// background attempt; after expiry the caller asks itself.
func TestMarginBackgroundRefreshFails(t *testing.T) {
	e, c, req, first := marginEnv(t, func(cfg *tokensource.Config) {
		cfg.HTTPClient.Timeout = 200 * time.Millisecond
	})
	hold := e.rec.setHold()

	tok, err := c.Token(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, first, tok.AccessToken)
	c.WaitBackground() // ends by the client's timeout
	require.Len(t, e.rec.Forms(), 2)

	e.clk.Add(5 * time.Second) // still valid, still inside the backoff
	tok, err = c.Token(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, first, tok.AccessToken)
	c.WaitBackground()
	require.Len(t, e.rec.Forms(), 2, "no new background refresh within ErrorBackoff")

	e.clk.Add(5 * time.Second) // expired
	_, err = c.Token(context.Background(), req)
	require.ErrorIs(t, err, context.DeadlineExceeded, "an expired token is never returned")
	require.Len(t, e.rec.Forms(), 3)

	close(hold)
	tok, err = c.Token(context.Background(), req)
	require.NoError(t, err)
	require.NotEqual(t, first, tok.AccessToken)
}

// A caller that finds the token expired while a background refresh is in
// flight waits for that refresh instead of making another.
func TestExpiredJoinsBackgroundRefresh(t *testing.T) {
	e, c, req, first := marginEnv(t, nil)
	hold := e.rec.setHold()

	tok, err := c.Token(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, first, tok.AccessToken)
	require.Eventually(t, func() bool { return len(e.rec.Forms()) == 2 }, 10*time.Second, time.Millisecond)

	e.clk.Add(10 * time.Second) // expired
	got := make(chan string, 1)
	go func() {
		tok, err := c.Token(context.Background(), req)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- tok.AccessToken
	}()
	require.Eventually(t, func() bool { return c.Waiters(req) == 1 }, 10*time.Second, time.Millisecond)
	close(hold)
	second := <-got
	require.NotEqual(t, first, second)
	require.Len(t, e.rec.Forms(), 2)
	require.Equal(t, 2, e.iss.TokenRequests())
}

// Close stops a background refresh that an expired-token caller waits
// for; that caller then asks the endpoint itself.
func TestCloseWhileWaiterJoinsBackgroundRefresh(t *testing.T) {
	e, c, req, first := marginEnv(t, nil)
	hold := e.rec.setHold()

	_, err := c.Token(context.Background(), req)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(e.rec.Forms()) == 2 }, 10*time.Second, time.Millisecond)
	e.clk.Add(10 * time.Second) // expired
	got := make(chan error, 1)
	go func() {
		tok, err := c.Token(context.Background(), req)
		if err == nil && tok.AccessToken == first {
			err = errors.New("the expired token was returned")
		}
		got <- err
	}()
	require.Eventually(t, func() bool { return c.Waiters(req) == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return len(e.rec.Forms()) == 3 }, 10*time.Second, time.Millisecond, "the waiter asks itself")
	close(hold)
	require.NoError(t, <-got)
}
