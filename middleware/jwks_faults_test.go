package middleware_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/internal/testlog"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// faultEnv is an issuer known to the verifier by its URL only (discovery,
// then a jwks.Remote), with JWKS options short enough for tests.
type faultEnv struct {
	iss  *audtest.Issuer
	v    *middleware.Verifier
	logs *testlog.Buffer
}

func newFaultEnv(t *testing.T, opts audtest.Options, mod func(*middleware.Config)) *faultEnv {
	t.Helper()
	if opts.Algorithms == nil {
		opts.Algorithms = []string{"ES256"}
	}
	e := &faultEnv{iss: audtest.NewIssuer(t, opts), logs: &testlog.Buffer{}}
	e.v = newRemoteVerifier(t, e.iss, func(c *middleware.Config) {
		c.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.JWKS.FetchTimeout = 2 * time.Second
		c.JWKS.RefreshCooldown = time.Hour // refreshes happen only when a test asks
		if mod != nil {
			mod(c)
		}
	})
	return e
}

// warm fetches the keys once and checks that the current key works.
func (e *faultEnv) warm(t *testing.T) string {
	t.Helper()
	tok := e.iss.AccessToken(remoteResource)
	e.requireAccepted(t, tok)
	return tok
}

// request sends tok through the Handler.
func (e *faultEnv) request(tok string) *httptest.ResponseRecorder {
	h := e.v.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	req := httptest.NewRequest(http.MethodGet, remoteResource, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func (e *faultEnv) requireAccepted(t *testing.T, tok string) {
	t.Helper()
	rec := e.request(tok)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Header().Get("WWW-Authenticate"))
}

// requireRefused checks the HTTP answer and the category of Verify's
// error.
func (e *faultEnv) requireRefused(t *testing.T, tok string, status int, want error) error {
	t.Helper()
	rec := e.request(tok)
	require.Equal(t, status, rec.Code)
	code, _ := challengeParam(rec.Header().Get("WWW-Authenticate"), "error")
	require.Equal(t, "invalid_token", code)
	_, err := e.v.Verify(t.Context(), tok)
	require.ErrorIs(t, err, want)
	require.ErrorIs(t, err, middleware.ErrInvalidToken)
	return err
}

// unknownKIDToken is signed by a new key the issuer publishes (or not).
func (e *faultEnv) rotatedToken(t *testing.T) string {
	t.Helper()
	_, err := e.iss.Rotate("ES256")
	require.NoError(t, err)
	return e.iss.AccessToken(remoteResource)
}

// TestJWKSFaults: standards-and-attacks §3 group E end to end, through the
// Handler and Verify of a Verifier that discovers the issuer's JWKS.
func TestJWKSFaults(t *testing.T) {
	t.Run("E1_slow_jwks_bounded_by_fetch_timeout", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, func(c *middleware.Config) { c.JWKS.FetchTimeout = 300 * time.Millisecond })
		known := e.warm(t)
		e.iss.SetJWKSHandler(audtest.Hang(time.Minute))
		rotated := e.rotatedToken(t)
		done := make(chan time.Duration, 1)
		go func() {
			start := time.Now()
			_, _ = e.v.Verify(t.Context(), rotated)
			done <- time.Since(start)
		}()
		// While the refresh hangs, a token whose key is cached is answered
		// without waiting for it.
		require.Eventually(t, func() bool { return e.iss.JWKSFetches() == 2 }, 5*time.Second, time.Millisecond)
		e.requireAccepted(t, known)
		select {
		case <-done:
			t.Fatal("the unknown-kid request returned before the hanging fetch timed out")
		default:
		}
		waited := <-done
		require.GreaterOrEqual(t, waited, 250*time.Millisecond)
		require.Less(t, waited, 5*time.Second, "bounded by the fetch timeout")
		e.requireRefused(t, rotated, http.StatusUnauthorized, middleware.ErrSignature)

		// With no keys at all, a hanging JWKS fails closed after the timeout.
		cold := newFaultEnv(t, audtest.Options{}, func(c *middleware.Config) { c.JWKS.FetchTimeout = 300 * time.Millisecond })
		cold.iss.SetJWKSHandler(audtest.Hang(time.Minute))
		start := time.Now()
		err := cold.requireRefused(t, cold.iss.AccessToken(remoteResource), http.StatusUnauthorized, middleware.ErrKeysUnavailable)
		require.Less(t, time.Since(start), 5*time.Second)
		require.ErrorIs(t, err, jwks.ErrUnavailable)
	})

	t.Run("E2_jwks_500_keeps_last_good_keys", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		known := e.warm(t)
		e.iss.SetJWKSHandler(audtest.Status(http.StatusInternalServerError))
		require.Error(t, e.v.Refresh(t.Context()))
		e.requireAccepted(t, known)
		e.requireRefused(t, e.iss.MustSign(audtest.Token{Claims: e.iss.Claims(remoteResource), TamperSignature: true}), http.StatusUnauthorized, middleware.ErrSignature)

		for _, status503 := range []bool{false, true} {
			cold := newFaultEnv(t, audtest.Options{}, func(c *middleware.Config) { c.UnavailableStatus503 = status503 })
			cold.iss.SetJWKSHandler(audtest.Status(http.StatusServiceUnavailable))
			want := http.StatusUnauthorized
			if status503 {
				want = http.StatusServiceUnavailable
			}
			cold.requireRefused(t, cold.iss.AccessToken(remoteResource), want, middleware.ErrKeysUnavailable)
		}
	})

	t.Run("E3_garbage_keeps_last_good_keys", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		known := e.warm(t)
		for _, body := range []struct{ ct, b string }{
			{"text/html", "<html><body>Sign in</body></html>"},
			{"application/json", `["not","an","object"]`},
			{"application/json", `{"keys":"none"}`},
			{"application/json", `{"keys":[{"kty":"EC"`},
			{"application/octet-stream", "\x00\x01\x02garbage"},
		} {
			e.iss.SetJWKSHandler(audtest.Body(body.ct, []byte(body.b)))
			err := e.v.Refresh(t.Context())
			require.ErrorIs(t, err, jwks.ErrInvalidSet, "%q", body.b)
			e.requireAccepted(t, known)
		}
	})

	t.Run("E4_huge_body_refused", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		known := e.warm(t)
		e.iss.SetJWKSHandler(audtest.Body("application/json", []byte(`{"keys":[],"pad":"`+strings.Repeat("x", 2<<20)+`"}`)))
		require.ErrorIs(t, e.v.Refresh(t.Context()), jwks.ErrTooLarge)
		e.requireAccepted(t, known)
		// An endless body without a length is cut at the cap.
		e.iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}))
		require.ErrorIs(t, e.v.Refresh(t.Context()), jwks.ErrTooLarge)
		e.requireAccepted(t, known)
	})

	t.Run("E5_ten_thousand_keys_refused", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		known := e.warm(t)
		for _, n := range []int{10000, 101} {
			doc := `{"keys":[` + strings.TrimSuffix(strings.Repeat(`{"kty":"EC"},`, n), ",") + `]}`
			e.iss.SetJWKSHandler(audtest.Body("application/json", []byte(doc)))
			err := e.v.Refresh(t.Context())
			require.ErrorIs(t, err, jwks.ErrInvalidSet, "%d keys", n)
			e.requireAccepted(t, known)
		}
	})

	t.Run("E6_cross_origin_redirect_not_followed", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		known := e.warm(t)
		other := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		e.iss.SetJWKSHandler(audtest.Redirect(other.JWKSURL()))
		require.Error(t, e.v.Refresh(t.Context()))
		require.Zero(t, other.JWKSFetches(), "the redirect is not followed")
		e.requireAccepted(t, known)
		// A token of this issuer signed with the other server's key stays
		// refused: its keys were never loaded.
		forged := other.MustSign(audtest.Token{Claims: e.iss.Claims(remoteResource)})
		e.requireRefused(t, forged, http.StatusUnauthorized, middleware.ErrSignature)
	})

	t.Run("E7_http_jwks_uri_refused", func(t *testing.T) {
		for _, is := range []middleware.Issuer{
			{URL: "https://as.example.com", JWKSURI: "http://as.example.com/jwks"},
			{URL: "http://as.example.com"},
			{URL: "https://as.example.com", JWKSURI: "http://127.0.0.1:9/jwks"}, // loopback, but no AllowHTTPLoopback
		} {
			_, err := middleware.New(middleware.Config{Resource: remoteResource, Issuers: []middleware.Issuer{is}})
			require.ErrorContains(t, err, "http is allowed only", "%+v", is)
		}
	})

	t.Run("E8_invalid_tls_certificate", func(t *testing.T) {
		iss := audtest.NewIssuer(t, audtest.Options{TLS: true, Algorithms: []string{"ES256"}})
		tok := iss.AccessToken(remoteResource)
		v, err := middleware.New(middleware.Config{Resource: remoteResource, Issuers: []middleware.Issuer{{URL: iss.URL()}}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = v.Close() })
		_, err = v.Verify(t.Context(), tok)
		require.ErrorIs(t, err, middleware.ErrKeysUnavailable)
		var certErr *tls.CertificateVerificationError
		require.True(t, errors.As(err, &certErr), "refused for its certificate: %v", err)
		require.Zero(t, iss.JWKSFetches())
		// The same issuer with a client that trusts its certificate works.
		trusted, err := middleware.New(middleware.Config{Resource: remoteResource, Issuers: []middleware.Issuer{{URL: iss.URL()}}, HTTPClient: iss.Client()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = trusted.Close() })
		_, err = trusted.Verify(t.Context(), tok)
		require.NoError(t, err)
	})

	t.Run("E9_rotation_first_request_accepted", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		e.warm(t)
		e.requireAccepted(t, e.rotatedToken(t))
		require.Equal(t, 2, e.iss.JWKSFetches(), "one refresh for the new kid")
	})

	t.Run("E10_revoked_key_refused_after_refresh", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		old := e.warm(t)
		oldKID := e.iss.CurrentKeyID()
		e.requireAccepted(t, e.rotatedToken(t))
		require.NoError(t, e.iss.Unpublish(oldKID))
		e.requireAccepted(t, old) // until the set is refreshed
		require.NoError(t, e.v.Refresh(t.Context()))
		e.requireRefused(t, old, http.StatusUnauthorized, middleware.ErrSignature)
	})

	t.Run("E11_discovery_issuer_mismatch", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		e.iss.SetDiscoveryIssuer("https://evil.example")
		err := e.requireRefused(t, e.iss.AccessToken(remoteResource), http.StatusUnauthorized, middleware.ErrKeysUnavailable)
		require.ErrorIs(t, err, jwks.ErrIssuerMismatch)
		require.Zero(t, e.iss.JWKSFetches(), "the mismatching document's jwks_uri is never fetched")
	})

	t.Run("E12_jwks_uri_on_another_host_warned", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		other := strings.Replace(e.iss.JWKSURL(), "127.0.0.1", "localhost", 1)
		e.iss.SetDiscoveryHandler(audtest.Body("application/json", []byte(`{"issuer":"`+e.iss.URL()+`","jwks_uri":"`+other+`"}`)))
		e.warm(t)
		require.Contains(t, e.logs.String(), "jwks_uri is on another host than the issuer")
	})

	t.Run("E13_thundering_herd_one_fetch", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{}, nil)
		e.warm(t)
		rotated := e.rotatedToken(t)
		var wg sync.WaitGroup
		codes := make([]int, 1000)
		start := make(chan struct{})
		for i := range codes {
			wg.Go(func() {
				<-start
				codes[i] = e.request(rotated).Code
			})
		}
		close(start)
		wg.Wait()
		for _, c := range codes {
			require.Equal(t, http.StatusNoContent, c)
		}
		require.Equal(t, 2, e.iss.JWKSFetches(), "1000 concurrent requests with a new kid: one fetch")

		// A flood of random kids: one refresh for the first, none for the
		// rest of the cooldown.
		f := newFaultEnv(t, audtest.Options{}, nil)
		f.warm(t)
		for i := range 1000 {
			tok := f.iss.MustSign(audtest.Token{Claims: f.iss.Claims(remoteResource), Header: map[string]any{"kid": fmt.Sprintf("random-%d", i)}})
			require.Equal(t, http.StatusUnauthorized, f.request(tok).Code)
		}
		require.Equal(t, 2, f.iss.JWKSFetches(), "1000 random kids within the cooldown: one refresh")
	})

	t.Run("E14_max_age_clamped", func(t *testing.T) {
		e := newFaultEnv(t, audtest.Options{JWKSCacheControl: "max-age=31536000"}, func(c *middleware.Config) {
			c.JWKS.MinTTL = 100 * time.Millisecond
			c.JWKS.MaxTTL = 200 * time.Millisecond
		})
		e.warm(t)
		// A year announced, MaxTTL 200ms: refreshed ahead of expiry.
		require.Eventually(t, func() bool { return e.iss.JWKSFetches() >= 3 }, 10*time.Second, 10*time.Millisecond)
	})

	t.Run("E15_issuers_do_not_share_kids", func(t *testing.T) {
		a := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		b := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		require.Equal(t, a.CurrentKeyID(), b.CurrentKeyID(), "both issuers publish the same kid")
		v, err := middleware.New(middleware.Config{
			Resource:          remoteResource,
			Issuers:           []middleware.Issuer{{URL: a.URL()}, {URL: b.URL()}},
			AllowHTTPLoopback: true,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = v.Close() })
		_, err = v.Verify(t.Context(), a.AccessToken(remoteResource))
		require.NoError(t, err)
		_, err = v.Verify(t.Context(), b.AccessToken(remoteResource))
		require.NoError(t, err)
		// iss A, signed by B's key under the shared kid: checked with A's
		// key only, refused.
		forged := b.MustSign(audtest.Token{Claims: a.Claims(remoteResource)})
		_, err = v.Verify(t.Context(), forged)
		require.ErrorIs(t, err, middleware.ErrSignature)
		require.Equal(t, 1, b.JWKSFetches(), "B's keys are never fetched for A's tokens")
	})
}
