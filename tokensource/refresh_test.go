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
