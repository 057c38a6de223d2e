package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

func TestClaimsInContext(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(map[string]any{"scope": "read write", "tenant": "acme", "roles": []string{"admin"}})
	var got *middleware.Claims
	h := e.v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = middleware.ClaimsFromContext(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.NotNil(t, got)
	require.Equal(t, e.iss.URL(), got.Issuer)
	require.Equal(t, "user-1", got.Subject, "H9: the verified subject is available for state-handle binding")
	require.Equal(t, "audtest-client", got.ClientID)
	require.Equal(t, []string{resource}, got.Audience)
	require.Equal(t, []string{"read", "write"}, got.Scopes)
	require.Equal(t, "read write", got.Scope)
	require.True(t, got.HasScope("write"))
	require.False(t, got.HasScope("Write"))
	require.Equal(t, "RS256", got.Algorithm)
	require.Equal(t, clock.Add(5*60e9), got.Expiry)
	require.Equal(t, clock, got.IssuedAt)
	require.NotEmpty(t, got.ID)

	var custom struct {
		Tenant string   `json:"tenant"`
		Roles  []string `json:"roles"`
	}
	require.NoError(t, got.Decode(&custom))
	require.Equal(t, "acme", custom.Tenant)
	require.Equal(t, []string{"admin"}, custom.Roles)
	raw := got.RawJSON()
	raw[0] = 'X'
	require.Equal(t, byte('{'), got.RawJSON()[0], "RawJSON returns a copy")

	_, ok := middleware.ClaimsFromContext(context.Background())
	require.False(t, ok)
	ctx := middleware.ContextWithClaims(context.Background(), got)
	back, ok := middleware.ClaimsFromContext(ctx)
	require.True(t, ok)
	require.Same(t, got, back)
	_, ok = middleware.ClaimsFromContext(middleware.ContextWithClaims(context.Background(), nil))
	require.False(t, ok)
}

func TestRequireScopes(t *testing.T) {
	e := newEnv(t, func(c *middleware.Config) { c.Scopes = []string{"read"} })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

	t.Run("behind_handler", func(t *testing.T) {
		h := e.v.Handler(e.v.RequireScopes("write", "admin")(next))
		rec, _ := serve(e.v, h, "Bearer "+e.token(map[string]any{"scope": "read write"}))
		require.Equal(t, http.StatusForbidden, rec.Code)
		scope, _ := challengeParam(rec.Header().Get("WWW-Authenticate"), "scope")
		require.Equal(t, "read write admin", scope, "every scope the route requires, in one challenge")
		rec, _ = serve(e.v, h, "Bearer "+e.token(map[string]any{"scope": "admin read write"}))
		require.Equal(t, http.StatusNoContent, rec.Code)
	})
	t.Run("standalone_verifies_itself", func(t *testing.T) {
		h := e.v.RequireScopes("write")(next)
		rec, _ := serve(e.v, h)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		scope, _ := challengeParam(rec.Header().Get("WWW-Authenticate"), "scope")
		require.Equal(t, "read write", scope)
		rec, _ = serve(e.v, h, "Bearer "+e.token(map[string]any{"scope": "read write"}))
		require.Equal(t, http.StatusNoContent, rec.Code)
		rec, _ = serve(e.v, h, "Bearer "+e.token(map[string]any{"scope": "write", "aud": "https://x.example"}))
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	})
	t.Run("invalid_scope_fails_closed", func(t *testing.T) {
		for _, bad := range []string{"offline_access", "a b", ""} {
			h := e.v.Handler(e.v.RequireScopes(bad)(next))
			rec, _ := serve(e.v, h, "Bearer "+e.token(map[string]any{"scope": "read offline_access"}))
			require.Equal(t, http.StatusInternalServerError, rec.Code, bad)
		}
	})
	t.Run("check_scopes", func(t *testing.T) {
		c, err := e.v.Verify(context.Background(), e.token(map[string]any{"scope": "read"}))
		require.NoError(t, err)
		err = e.v.CheckScopes(c, "write")
		var se *middleware.ScopeError
		require.ErrorAs(t, err, &se)
		require.Equal(t, []string{"read", "write"}, se.Required)
		require.Equal(t, []string{"write"}, se.Missing)
		require.ErrorIs(t, err, middleware.ErrInsufficientScope)
		require.NoError(t, e.v.CheckScopes(c))
	})
}

func TestHierarchicalScopes(t *testing.T) {
	covers := middleware.HierarchicalScopes(":")
	tests := []struct {
		granted, required string
		want              bool
	}{
		{"files", "files:read", true},
		{"files", "files:read:own", true},
		{"files:*", "files:read", true},
		{"files:*", "files", false},
		{"files:read", "files", false},
		{"files", "filesystem", false},
		{"files", "files", false}, // equality is handled by the caller
		{"Files", "files:read", false},
		{"", "files:read", false},
		{"*", "files", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, covers(tc.granted, tc.required), "%q covers %q", tc.granted, tc.required)
	}
	require.False(t, middleware.HierarchicalScopes("")("files", "files:read"))
}

// TestClaimsOfAnotherResource: two Verifiers (two resources) in one
// application. Claims one of them accepted never satisfy the other's scope
// requirement: RequireScopes verifies again, CheckScopes refuses them.
func TestClaimsOfAnotherResource(t *testing.T) {
	a := newEnv(t, nil)
	b := newEnv(t, func(c *middleware.Config) { c.Resource = "https://b.example.com/api" })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tokA := a.token(map[string]any{"scope": "x"})

	h := a.v.Handler(b.v.RequireScopes("x")(next))
	rec, _ := serve(a.v, h, "Bearer "+tokA)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "A's token passed A, not B")
	require.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`)

	// B's own chain accepts B's token.
	tokB := b.iss.MustSign(audtest.Token{Claims: func() map[string]any {
		c := b.iss.Claims("https://b.example.com/api")
		c["scope"] = "x"
		return c
	}()})
	rec, _ = serve(b.v, b.v.Handler(b.v.RequireScopes("x")(next)), "Bearer "+tokB)
	require.Equal(t, http.StatusNoContent, rec.Code, "B's own claims satisfy B")

	ca, err := a.verify(tokA)
	require.NoError(t, err)
	require.True(t, ca.VerifiedBy(a.v))
	require.False(t, ca.VerifiedBy(b.v))
	require.NoError(t, a.v.CheckScopes(ca, "x"))
	require.ErrorIs(t, b.v.CheckScopes(ca, "x"), middleware.ErrAudience)
	hand := &middleware.Claims{Subject: "s", Scopes: []string{"x"}, Audience: []string{resource}}
	require.False(t, hand.VerifiedBy(a.v))
	require.ErrorIs(t, a.v.CheckScopes(hand, "x"), middleware.ErrAudience, "hand-built claims are never trusted")
	var none *middleware.Claims
	require.False(t, none.VerifiedBy(a.v))

	// From the verified-token cache too.
	again, err := a.verify(tokA)
	require.NoError(t, err)
	require.True(t, again.VerifiedBy(a.v))
}

// TestChallengeNeverAdvertisesBadScopes: whatever a direct caller passes,
// the challenge's scope parameter names only valid scope-tokens and never
// offline_access (MCP 2026-07-28 §10).
func TestChallengeNeverAdvertisesBadScopes(t *testing.T) {
	e := newEnv(t, func(c *middleware.Config) { c.Scopes = []string{"read"} })
	for _, err := range []error{middleware.ErrNoToken, middleware.ErrAudience,
		&middleware.ScopeError{Required: []string{"read", "offline_access", `a"b`, "write"}, Missing: []string{"write"}}} {
		r := e.v.ErrorResponse(err, "offline_access", `a"b`, "", "x y", "write")
		require.Equal(t, "read write", r.Scope, "%v", err)
		scope, _ := challengeParam(r.Challenge, "scope")
		require.Equal(t, "read write", scope)
		require.NotContains(t, r.Challenge, "offline_access")
	}
	r := e.v.ErrorResponse(middleware.ErrNoToken, "write")
	require.Equal(t, "read write", r.Scope)
}

// TestCheckScopesReports: a refusal by CheckScopes reaches the Observer
// like one by Handler, so adapters that call it count scope refusals.
func TestCheckScopesReports(t *testing.T) {
	var events []middleware.Event
	e := newEnv(t, func(c *middleware.Config) {
		c.Observer = func(ev middleware.Event) { events = append(events, ev) }
	})
	c, err := e.verify(e.token(map[string]any{"scope": "read"}))
	require.NoError(t, err)
	events = nil
	require.NoError(t, e.v.CheckScopes(c, "read"))
	require.Empty(t, events, "a success reports nothing: Verify already reported the accept")
	require.Error(t, e.v.CheckScopes(c, "write"))
	require.Error(t, e.v.CheckScopes(&middleware.Claims{Scopes: []string{"read"}}, "read"))
	require.Len(t, events, 2)
	require.Equal(t, middleware.EventReject, events[0].Kind)
	require.Equal(t, "insufficient_scope", events[0].Reason)
	require.Equal(t, middleware.EventReject, events[1].Kind)
	require.Equal(t, middleware.Reason(middleware.ErrAudience), events[1].Reason)
}

// TestInvalidScopeRequirementNeverMet: a scope passed straight to
// Authenticate or CheckScopes that is not a valid scope-token, or is
// offline_access, is never met, even by a token that carries it; the
// challenge does not advertise it.
func TestInvalidScopeRequirementNeverMet(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(map[string]any{"scope": "read offline_access"})
	_, err := e.v.Authenticate(context.Background(), []string{"Bearer " + tok}, "offline_access")
	var se *middleware.ScopeError
	require.ErrorAs(t, err, &se)
	require.Equal(t, []string{"offline_access"}, se.Missing)
	r := e.v.ErrorResponse(err)
	require.Equal(t, http.StatusForbidden, r.Status)
	require.NotContains(t, r.Challenge, "offline_access")

	c, err := e.v.Authenticate(context.Background(), []string{"Bearer " + tok}, "read")
	require.NoError(t, err)
	require.ErrorAs(t, e.v.CheckScopes(c, "offline_access"), &se)
	require.ErrorIs(t, e.v.CheckScopes(c, "read", "a b"), middleware.ErrInsufficientScope)
	require.NoError(t, e.v.CheckScopes(c, "read"))
}
