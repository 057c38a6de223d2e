package middleware_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// TestLogsNeverHoldTheToken drives every kind of rejection with a Debug
// logger and asserts one line per rejection, with its reason category and
// no token bytes (H2).
func TestLogsNeverHoldTheToken(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	var events []middleware.Event
	e := newEnv(t, func(c *middleware.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Observer = func(ev middleware.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	})
	toks := []string{
		e.token(map[string]any{"aud": "https://other.example"}),
		e.token(map[string]any{"exp": 1}),
		e.iss.MustSign(audtest.Token{Claims: e.claims(nil), TamperSignature: true}),
		"not-a-jwt",
	}
	for _, tok := range toks {
		rec, _ := serve(e.v, nil, "Bearer "+tok)
		require.Equal(t, 401, rec.Code)
	}
	good := e.token(nil)
	rec, called := serve(e.v, nil, "Bearer "+good)
	require.True(t, called, rec.Body.String())

	out := buf.String()
	require.Equal(t, len(toks), strings.Count(out, "\n"), "one line per rejection:\n%s", out)
	for _, r := range []string{`"reason":"audience"`, `"reason":"expired"`, `"reason":"signature"`, `"reason":"malformed"`} {
		require.Contains(t, out, r)
	}
	for _, tok := range append(toks, good) {
		for _, seg := range strings.Split(tok, ".") {
			if len(seg) > 8 {
				require.NotContains(t, out, seg)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, len(toks)+1)
	for i, ev := range events[:len(toks)] {
		require.Equal(t, middleware.EventReject, ev.Kind, i)
		require.NotEmpty(t, ev.Reason)
		require.Empty(t, ev.Issuer, "an unverified iss is never reported")
	}
	last := events[len(toks)]
	require.Equal(t, middleware.EventAccept, last.Kind)
	require.Equal(t, e.iss.URL(), last.Issuer)
	require.Equal(t, "accept", last.Kind.String())
}

func TestReason(t *testing.T) {
	tests := map[error]string{
		nil:                             "",
		middleware.ErrNoToken:           "no_token",
		middleware.ErrInvalidRequest:    "invalid_request",
		middleware.ErrInsufficientScope: "insufficient_scope",
		middleware.ErrMalformed:         "malformed",
		middleware.ErrHeader:            "header",
		middleware.ErrSignature:         "signature",
		middleware.ErrIssuer:            "issuer",
		middleware.ErrAudience:          "audience",
		middleware.ErrExpired:           "expired",
		middleware.ErrNotYetValid:       "not_yet_valid",
		middleware.ErrClaims:            "claims",
		middleware.ErrKeysUnavailable:   "keys_unavailable",
		middleware.ErrInvalidToken:      "invalid_token",
		context.Canceled:                "error",
	}
	for err, want := range tests {
		require.Equal(t, want, middleware.Reason(err), "%v", err)
	}
	for _, err := range []error{middleware.ErrMalformed, middleware.ErrAudience, middleware.ErrKeysUnavailable} {
		require.ErrorIs(t, err, middleware.ErrInvalidToken)
	}
	require.NotErrorIs(t, middleware.ErrNoToken, middleware.ErrInvalidToken)
	require.NotErrorIs(t, middleware.ErrAudience, middleware.ErrExpired)
}
