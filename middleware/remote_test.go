package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

const remoteResource = "https://mcp.example.com/mcp"

// newRemoteVerifier builds a Verifier that knows the issuer only by its URL:
// New creates a jwks.Remote that discovers the JWKS on first use.
func newRemoteVerifier(t *testing.T, iss *audtest.Issuer, mod func(*middleware.Config)) *middleware.Verifier {
	t.Helper()
	cfg := middleware.Config{
		Resource:          remoteResource,
		Issuers:           []middleware.Issuer{{URL: iss.URL()}},
		AllowHTTPLoopback: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := middleware.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func TestRemoteIssuerByURLOnly(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	var fetches atomic.Int32
	v := newRemoteVerifier(t, iss, func(c *middleware.Config) {
		c.Observer = func(e middleware.Event) {
			if e.Kind == middleware.EventKeyFetch {
				// Runs on the fetch goroutine: no FailNow here.
				fetches.Add(1)
				if e.Fetch == nil || e.Issuer != iss.URL() || e.Fetch.Err != nil {
					t.Errorf("key fetch event %+v", e)
				}
			}
		}
	})
	require.Zero(t, iss.DiscoveryFetches(), "New does no I/O")

	c, err := v.Verify(t.Context(), iss.AccessToken(remoteResource, "mcp:tools"))
	require.NoError(t, err)
	require.Equal(t, iss.URL(), c.Issuer)
	require.Equal(t, 1, iss.DiscoveryFetches())
	require.Equal(t, 1, iss.JWKSFetches())
	require.Equal(t, int32(2), fetches.Load(), "discovery and JWKS reported to the observer")

	// A token for another resource is still refused: the keys are not
	// the only check.
	_, err = v.Verify(t.Context(), iss.AccessToken("https://other.example.com/mcp"))
	require.ErrorIs(t, err, middleware.ErrAudience)
	// A token signed by a key the issuer never published: one refresh,
	// then refused with the signature category.
	unpublished, err := iss.AddUnpublishedKey("RS256")
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), iss.MustSign(audtest.Token{KeyID: unpublished, Claims: iss.Claims(remoteResource)}))
	require.ErrorIs(t, err, middleware.ErrSignature)
	require.Equal(t, 2, iss.JWKSFetches())
}

// The first token signed after a rotation is accepted (one refresh), also
// when 100 requests carry it at once.
func TestRemoteIssuerRotation(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	v := newRemoteVerifier(t, iss, nil)
	old := iss.AccessToken(remoteResource)
	_, err := v.Verify(t.Context(), old)
	require.NoError(t, err)

	_, err = iss.Rotate("ES256")
	require.NoError(t, err)
	tok := iss.AccessToken(remoteResource)
	var (
		wg   sync.WaitGroup
		errs = make([]error, 100)
	)
	start := make(chan struct{})
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = v.Verify(t.Context(), tok)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 2, iss.JWKSFetches(), "warm-up and exactly one refresh")
	_, err = v.Verify(t.Context(), old)
	require.NoError(t, err, "the old key is still published")
}

// A key removed from the JWKS: once the set is refreshed, tokens signed
// with it are refused, including ones the verified-token cache remembers.
func TestRemoteIssuerKeyRemoval(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	v := newRemoteVerifier(t, iss, nil)
	oldKID := iss.CurrentKeyID()
	old := iss.AccessToken(remoteResource)
	_, err := v.Verify(t.Context(), old)
	require.NoError(t, err)
	_, err = iss.Rotate("ES256")
	require.NoError(t, err)
	require.NoError(t, iss.Unpublish(oldKID))

	_, err = v.Verify(t.Context(), old)
	require.NoError(t, err, "cached keys stay in use until a refresh")
	require.NoError(t, v.Refresh(t.Context()))
	_, err = v.Verify(t.Context(), old)
	require.ErrorIs(t, err, middleware.ErrSignature)
	_, err = v.Verify(t.Context(), iss.AccessToken(remoteResource))
	require.NoError(t, err)
}

// JWKS down and no keys cached: fail closed with the keys-unavailable
// category, 401 invalid_token (503 by option), and no fetch storm.
func TestRemoteIssuerJWKSDownNoCachedKeys(t *testing.T) {
	for _, status503 := range []bool{false, true} {
		iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		iss.SetJWKSHandler(audtest.Status(http.StatusInternalServerError))
		v := newRemoteVerifier(t, iss, func(c *middleware.Config) { c.UnavailableStatus503 = status503 })
		tok := iss.AccessToken(remoteResource)

		_, err := v.Verify(t.Context(), tok)
		require.ErrorIs(t, err, middleware.ErrKeysUnavailable)
		require.ErrorIs(t, err, middleware.ErrInvalidToken)
		require.ErrorIs(t, err, jwks.ErrUnavailable)
		require.Equal(t, "keys_unavailable", middleware.Reason(err))

		h := v.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			t.Error("handler reached without usable keys")
		}))
		for range 10 {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, remoteResource, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			h.ServeHTTP(rec, req)
			want := http.StatusUnauthorized
			if status503 {
				want = http.StatusServiceUnavailable
			}
			require.Equal(t, want, rec.Code)
			challenge := rec.Header().Get("WWW-Authenticate")
			require.True(t, strings.HasPrefix(challenge, "Bearer "), challenge)
			require.Contains(t, challenge, `error="invalid_token"`)
			require.NotContains(t, rec.Body.String(), tok)
		}
		require.Equal(t, 1, iss.JWKSFetches(), "one attempt per cooldown, however many requests")
	}
}

// An issuer whose discovery document names another issuer is never
// trusted.
func TestRemoteIssuerDiscoveryMismatch(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
	iss.SetDiscoveryIssuer(iss.URL() + "/")
	v := newRemoteVerifier(t, iss, nil)
	_, err := v.Verify(t.Context(), iss.AccessToken(remoteResource))
	require.ErrorIs(t, err, middleware.ErrKeysUnavailable)
	require.ErrorIs(t, err, jwks.ErrIssuerMismatch)
	require.Zero(t, iss.JWKSFetches())
}

// TestRemoteRSAKeysWithoutAlg: an issuer that signs PS256 and publishes its
// RSA key without "alg" (common outside the big providers) is verified when
// the allow-list names PS256 as its only RSA algorithm; with the default
// allow-list such a key stays bound to RS256 alone and PS256 tokens are
// refused (standards-and-attacks §3 C7: never "try all algorithms").
func TestRemoteRSAKeysWithoutAlg(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"PS256"}})
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		require.NoError(t, json.Unmarshal(iss.JWKS(), &set))
		for _, k := range set.Keys {
			delete(k, "alg")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	tok := iss.AccessToken(remoteResource)

	for _, tc := range []struct {
		name    string
		algs    []string
		wantErr error
	}{
		{name: "only_PS256", algs: []string{"PS256", "ES256"}},
		{name: "default_list_binds_RS256", wantErr: middleware.ErrSignature},
		{name: "RS256_and_PS256", algs: []string{"RS256", "PS256"}, wantErr: middleware.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newRemoteVerifier(t, iss, func(c *middleware.Config) { c.Algorithms = tc.algs })
			_, err := v.Verify(t.Context(), tok)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
	// An explicit JWKS.RSAAlgorithm wins.
	v := newRemoteVerifier(t, iss, func(c *middleware.Config) { c.JWKS.RSAAlgorithm = "PS256" })
	_, err := v.Verify(t.Context(), tok)
	require.NoError(t, err)
}
