package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/audguard/audguard/internal/catalog"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// TestCatalog runs every applicable row of standards-and-attacks §3 groups
// A, B, C, D, F and H through the net/http Handler (status, challenge,
// body) and through Authenticate (error category).
func TestCatalog(t *testing.T) {
	f := catalog.NewFixture(t)
	seen := map[string]bool{}
	for _, c := range catalog.Cases() {
		require.False(t, seen[c.ID], "duplicate case ID %s", c.ID)
		seen[c.ID] = true
		t.Run(c.ID, func(t *testing.T) {
			// H2: every decision is logged at Debug and observed; neither
			// may carry token bytes.
			var logs bytes.Buffer
			var obsMu sync.Mutex
			var observed []string
			cfg := f.Config(c)
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg.Observer = func(e middleware.Event) {
				obsMu.Lock()
				defer obsMu.Unlock()
				if e.Err != nil {
					observed = append(observed, e.Err.Error())
				}
			}
			v, err := middleware.New(cfg)
			require.NoError(t, err)
			authz := c.Authorization(f)
			defer func() {
				obsMu.Lock()
				defer obsMu.Unlock()
				requireNoTokenIn(t, "log", logs.String(), authz)
				requireNoTokenIn(t, "observer error", strings.Join(observed, "\n"), authz)
				if c.Want.Accept {
					return
				}
				require.Contains(t, logs.String(), "reason="+middleware.Reason(c.Want.Err), "the rejection is logged with its category")
			}()

			var got *middleware.Claims
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = middleware.ClaimsFromContext(r.Context())
				w.WriteHeader(http.StatusNoContent)
			})
			h := v.Handler(next)
			if len(c.Scopes) > 0 {
				h = v.RequireScopes(c.Scopes...)(next)
			}
			req := httptest.NewRequest(http.MethodGet, catalog.Resource, nil)
			for _, a := range authz {
				req.Header.Add("Authorization", a)
			}
			if c.HTTP != nil {
				c.HTTP(f, req)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			claims, aerr := v.Authenticate(context.Background(), authz, c.Scopes...)
			if c.Want.Accept {
				require.Equal(t, http.StatusNoContent, rec.Code, "challenge: %s", rec.Header().Get("WWW-Authenticate"))
				require.NotNil(t, got, "claims in the request context")
				require.Equal(t, catalog.Resource, resourceIn(got.Audience), "audience")
				require.NoError(t, catalog.CheckClaims(authz, got), "the claims in the context are the token's")
				if c.HTTP == nil {
					require.NoError(t, aerr)
					require.Equal(t, got, claims)
				}
				return
			}
			require.Nil(t, got, "next must not run")
			require.Equal(t, c.Want.Status, rec.Code)
			ch := rec.Header().Get("WWW-Authenticate")
			require.True(t, strings.HasPrefix(ch, "Bearer "), ch)
			md, ok := challengeParam(ch, "resource_metadata")
			require.True(t, ok, "every challenge carries resource_metadata: %s", ch)
			require.Equal(t, v.MetadataURL(), md)
			code, hasCode := challengeParam(ch, "error")
			if c.Want.Code == "" {
				require.False(t, hasCode, "no error code without credentials: %s", ch)
			} else {
				require.Equal(t, c.Want.Code, code)
			}
			if c.Want.Description != "" {
				desc, _ := challengeParam(ch, "error_description")
				require.Equal(t, c.Want.Description, desc)
			}
			if c.Want.Status == http.StatusForbidden {
				scope, _ := challengeParam(ch, "scope")
				require.Equal(t, strings.Join(required(f.Config(c).Scopes, c.Scopes), " "), scope, "403 lists every required scope at once")
			}
			require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			requireNoLeak(t, rec, authz)
			if len(c.Scopes) == 0 && len(f.Config(c).Scopes) == 0 {
				// Byte-identical to the golden response of its category.
				golden(t, middleware.Reason(aerr), render(rec))
			}

			require.Error(t, aerr)
			require.Nil(t, claims)
			require.ErrorIs(t, aerr, c.Want.Err)
			if c.Want.Code == "invalid_token" {
				require.ErrorIs(t, aerr, middleware.ErrInvalidToken)
			}
			require.Equal(t, c.Want.Status, v.ErrorResponse(aerr, c.Scopes...).Status)
		})
	}
	t.Logf("catalog: %d cases (row coverage: internal/catalog TestCoverage)", len(seen))
}

// requireNoTokenIn asserts that out holds no token segment of 12 or more
// characters and none of the claim texts the leak-check case plants.
func requireNoTokenIn(t *testing.T, what, out string, authz []string) {
	t.Helper()
	for _, a := range authz {
		for _, seg := range strings.FieldsFunc(a, func(r rune) bool { return r == '.' || r == ' ' || r == ',' }) {
			if len(seg) >= 12 {
				require.False(t, strings.Contains(out, seg), "%s leaks part of the token", what)
			}
		}
	}
	for _, s := range []string{"leak-check", "evil"} {
		require.False(t, strings.Contains(out, s), "%s leaks claim text %q", what, s)
	}
}

func resourceIn(aud []string) string {
	for _, a := range aud {
		if a == catalog.Resource {
			return a
		}
	}
	return strings.Join(aud, " ")
}

func required(cfg, route []string) []string {
	out := append([]string(nil), cfg...)
	for _, s := range route {
		found := false
		for _, o := range out {
			found = found || o == s
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}

// requireNoLeak asserts the response holds no part of the presented
// credentials: no token segment and no claim text.
func requireNoLeak(t *testing.T, rec *httptest.ResponseRecorder, authz []string) {
	t.Helper()
	out := rec.Body.String()
	for k, vs := range rec.Header() {
		out += k + ": " + strings.Join(vs, ",") + "\n"
	}
	for _, a := range authz {
		for _, seg := range strings.FieldsFunc(a, func(r rune) bool { return r == '.' || r == ' ' || r == ',' }) {
			if len(seg) >= 12 {
				require.NotContains(t, out, seg, "response leaks part of the token")
			}
		}
	}
	for _, s := range []string{"evil", "Set-Cookie", "\r"} {
		require.NotContains(t, rec.Body.String()+rec.Header().Get("WWW-Authenticate"), s)
	}
}

// TestExplainAgreesWithVerify: for every catalog case that carries one
// bearer token, Explain (the audguard check command's engine) reaches the
// same decision, with the same category, as Authenticate.
func TestExplainAgreesWithVerify(t *testing.T) {
	f := catalog.NewFixture(t)
	n := 0
	for _, c := range catalog.Cases() {
		if !c.TransportNeutral() {
			continue
		}
		authz := c.Authorization(f)
		v, err := middleware.New(f.Config(c))
		require.NoError(t, err)
		_, aerr := v.Authenticate(context.Background(), authz, c.Scopes...)
		if errors.Is(aerr, middleware.ErrNoToken) || errors.Is(aerr, middleware.ErrInvalidRequest) {
			continue // not a token: nothing for Explain to look at
		}
		n++
		tok := strings.TrimLeft(authz[0][len("bearer"):], " ")
		checks, eerr := v.Explain(context.Background(), tok, c.Scopes...)
		require.Equal(t, middleware.Reason(aerr), middleware.Reason(eerr), "%s: Explain and Authenticate disagree", c.ID)
		require.NotEmpty(t, checks, c.ID)
	}
	require.Greater(t, n, 180)
}
