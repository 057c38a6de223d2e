package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

const resource = "https://api.example.com/mcp"

// clock is the fixed "now" of every test that does not say otherwise.
var clock = time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

// env is a verifier plus the issuer that mints its tokens.
type env struct {
	t   *testing.T
	iss *audtest.Issuer
	v   *middleware.Verifier
}

// shared is an issuer for tests that neither rotate nor break its keys:
// generating an RSA key per test would dominate the run time.
var shared *audtest.Issuer

func TestMain(m *testing.M) {
	var err error
	shared, err = audtest.Start(audtest.Options{Now: fixedNow, Algorithms: []string{"RS256"}})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// newEnv returns a verifier for resource trusting the shared issuer (fixed
// clock, static keys). mod may adjust the config.
func newEnv(t *testing.T, mod func(*middleware.Config)) *env {
	t.Helper()
	return newEnvWith(t, shared, mod)
}

func newEnvWith(t *testing.T, iss *audtest.Issuer, mod func(*middleware.Config)) *env {
	t.Helper()
	cfg := middleware.Config{
		Resource: resource,
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Now:      fixedNow,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := middleware.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return &env{t: t, iss: iss, v: v}
}

// claims returns valid claims for resource, then applies changes (nil value
// deletes a claim).
func (e *env) claims(changes map[string]any) map[string]any {
	c := e.iss.Claims(resource)
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// token signs claims with the issuer's current key.
func (e *env) token(changes map[string]any) string {
	return e.iss.MustSign(audtest.Token{Claims: e.claims(changes)})
}

func (e *env) verify(tok string) (*middleware.Claims, error) {
	return e.v.Verify(context.Background(), tok)
}

// serve sends a request with the given Authorization header values
// through v.Handler and returns the recorder and whether next ran.
func serve(v *middleware.Verifier, h http.Handler, authz ...string) (*httptest.ResponseRecorder, bool) {
	called := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		w.WriteHeader(http.StatusNoContent)
	})
	if h == nil {
		h = v.Handler(next)
	}
	req := httptest.NewRequest(http.MethodGet, "https://api.example.com/mcp", nil)
	for _, a := range authz {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, called
}

// challengeParam extracts one auth-param of a Bearer challenge.
func challengeParam(ch, name string) (string, bool) {
	ch = strings.TrimPrefix(ch, "Bearer ")
	for _, p := range strings.Split(ch, ", ") {
		k, v, ok := strings.Cut(p, "=")
		if ok && k == name {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}
