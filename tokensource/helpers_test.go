package tokensource_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/audguard/audguard/tokensource"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	resA = "https://a.example.com/api"
	resB = "https://b.example.com/api"
)

// clock is a manually advanced clock shared by issuer, client and verifiers.
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

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an issuer, a clock and a client configured for it.
type env struct {
	iss *audtest.Issuer
	clk *clock
	rec *recorder
}

func newEnv(t *testing.T, opts audtest.Options) *env {
	t.Helper()
	clk := newClock()
	opts.Now = clk.Now
	iss := audtest.NewIssuer(t, opts)
	return &env{iss: iss, clk: clk, rec: &recorder{base: iss.Client().Transport}}
}

// config returns a valid client Config for the env's issuer.
func (e *env) config() tokensource.Config {
	return tokensource.Config{
		TokenURL:          e.iss.TokenURL(),
		ClientID:          "audtest-client",
		ClientSecret:      "audtest-secret",
		AllowHTTPLoopback: true,
		HTTPClient:        &http.Client{Transport: e.rec},
		Now:               e.clk.Now,
	}
}

func (e *env) client(t *testing.T, mutate func(*tokensource.Config)) *tokensource.Client {
	t.Helper()
	cfg := e.config()
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := tokensource.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// verifier is the resource server's verifier for resource, trusting the
// env's issuer.
func (e *env) verifier(t *testing.T, resource string) *middleware.Verifier {
	t.Helper()
	v, err := middleware.New(middleware.Config{
		Resource: resource,
		Issuers:  []middleware.Issuer{{URL: e.iss.URL(), Keys: e.iss.KeySet()}},
		Now:      e.clk.Now,
	})
	require.NoError(t, err)
	return v
}

// recorder records the form of every token request it forwards.
type recorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	forms []url.Values
	hold  chan struct{} // when set, requests wait for it to close (or their context to end)
}

// setHold makes the following requests wait until the returned channel
// is closed or their context ends.
func (r *recorder) setHold() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold = make(chan struct{})
	return r.hold
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		form, _ := url.ParseQuery(string(b))
		r.mu.Lock()
		r.forms = append(r.forms, form)
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return r.base.RoundTrip(req)
}

func (r *recorder) Forms() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.forms...)
}

func decodeJSON(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
