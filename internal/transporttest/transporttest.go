package transporttest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

// Resource is the canonical URI of the protected resource under test.
const Resource = "https://api.example.com/files"

// Scope is the scope the guarded operation requires.
const Scope = "files:read"

// Subject is the "sub" of the tokens Env mints.
const Subject = "user-1"

// Case is one request of the matrix and the answer every transport must
// give to it.
type Case struct {
	// Name names the subtest.
	Name string
	// Authorization holds the Authorization header (or "authorization"
	// metadata) values to send; nil sends none.
	Authorization []string
	// WantStatus is the HTTP status, or the HTTP status a gRPC code maps
	// back to (Unauthenticated 401, PermissionDenied 403, InvalidArgument
	// 400, Unavailable 503, OK 200).
	WantStatus int
	// WantCode is the RFC 6750 error code of the challenge: "",
	// "invalid_token", "insufficient_scope" or "invalid_request".
	WantCode string
	// WantDescription is the fixed error_description ("" without a code).
	WantDescription string
}

// Result is what a transport observed for one request.
type Result struct {
	// Status is the HTTP status (mapped back from the gRPC code for gRPC).
	Status int
	// Challenge is the WWW-Authenticate value (the "www-authenticate"
	// metadata for gRPC), empty on success.
	Challenge string
	// Subject is the "sub" the guarded operation found in its context,
	// set only on success.
	Subject string
}

// Env is an issuer and a verifier for [Resource] using the issuer's
// static keys (no network I/O for keys).
type Env struct {
	Issuer   *audtest.Issuer
	Verifier *middleware.Verifier
	// Stranger is a second issuer that the verifier does not trust.
	Stranger *audtest.Issuer
}

// New starts the issuers and builds the verifier. Everything is closed
// when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	iss := audtest.NewIssuer(t, audtest.Options{})
	stranger := audtest.NewIssuer(t, audtest.Options{})
	v, err := middleware.New(middleware.Config{
		Resource: Resource,
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return &Env{Issuer: iss, Verifier: v, Stranger: stranger}
}

// Cases returns the matrix. Tokens are minted fresh on every call.
func (e *Env) Cases() []Case {
	v := e.Verifier
	desc := func(err error) string { return v.ErrorResponse(err).Description }
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	expired := e.Issuer.Expired(Resource, time.Hour)
	expired["scope"] = Scope
	return []Case{
		{
			Name:          "valid",
			Authorization: bearer(e.Issuer.AccessToken(Resource, Scope)),
			WantStatus:    http.StatusOK,
		},
		{
			Name:          "valid with lower-case scheme and two spaces",
			Authorization: []string{"bearer  " + e.Issuer.AccessToken(Resource, Scope, "files:write")},
			WantStatus:    http.StatusOK,
		},
		{
			Name:            "wrong audience",
			Authorization:   bearer(e.Issuer.AccessToken("https://other.example.com/files", Scope)),
			WantStatus:      http.StatusUnauthorized,
			WantCode:        "invalid_token",
			WantDescription: desc(middleware.ErrAudience),
		},
		{
			Name:            "audience is a prefix of the resource",
			Authorization:   bearer(e.Issuer.AccessToken("https://api.example.com/file", Scope)),
			WantStatus:      http.StatusUnauthorized,
			WantCode:        "invalid_token",
			WantDescription: desc(middleware.ErrAudience),
		},
		{
			Name:            "expired",
			Authorization:   bearer(e.Issuer.MustSign(audtest.Token{Claims: expired})),
			WantStatus:      http.StatusUnauthorized,
			WantCode:        "invalid_token",
			WantDescription: desc(middleware.ErrExpired),
		},
		{
			Name:            "untrusted issuer",
			Authorization:   bearer(e.Stranger.AccessToken(Resource, Scope)),
			WantStatus:      http.StatusUnauthorized,
			WantCode:        "invalid_token",
			WantDescription: desc(middleware.ErrIssuer),
		},
		{
			Name:            "missing scope",
			Authorization:   bearer(e.Issuer.AccessToken(Resource, "files:write")),
			WantStatus:      http.StatusForbidden,
			WantCode:        "insufficient_scope",
			WantDescription: desc(middleware.ErrInsufficientScope),
		},
		{
			Name:       "no token",
			WantStatus: http.StatusUnauthorized,
		},
		{
			Name:          "another scheme",
			Authorization: []string{"Basic YXVkdGVzdC1jbGllbnQ6YXVkdGVzdC1zZWNyZXQ="},
			WantStatus:    http.StatusUnauthorized,
		},
		{
			Name:            "malformed token",
			Authorization:   bearer("not.a.jwt"),
			WantStatus:      http.StatusUnauthorized,
			WantCode:        "invalid_token",
			WantDescription: desc(middleware.ErrMalformed),
		},
		{
			Name:            "bearer without a token",
			Authorization:   []string{"Bearer"},
			WantStatus:      http.StatusBadRequest,
			WantCode:        "invalid_request",
			WantDescription: desc(middleware.ErrInvalidRequest),
		},
		{
			Name:            "comma-separated credentials",
			Authorization:   []string{"Bearer a.b.c, Bearer d.e.f"},
			WantStatus:      http.StatusBadRequest,
			WantCode:        "invalid_request",
			WantDescription: desc(middleware.ErrInvalidRequest),
		},
		{
			Name:            "two authorization values",
			Authorization:   append(bearer(e.Issuer.AccessToken(Resource, Scope)), bearer(e.Issuer.AccessToken(Resource, Scope))...),
			WantStatus:      http.StatusBadRequest,
			WantCode:        "invalid_request",
			WantDescription: desc(middleware.ErrInvalidRequest),
		},
	}
}

// Run runs every case of the matrix as a subtest: send performs the
// request with the given authorization values and reports what the
// transport answered. Run asserts the status, the challenge (error code,
// fixed description, resource_metadata and, for insufficient_scope, the
// required scope) and, on success, the subject seen by the operation.
func (e *Env) Run(t *testing.T, send func(t *testing.T, authorization []string) Result) {
	t.Helper()
	for _, tc := range e.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			got := send(t, tc.Authorization)
			require.Equal(t, tc.WantStatus, got.Status, "status")
			if tc.WantStatus == http.StatusOK {
				require.Empty(t, got.Challenge, "challenge on success")
				require.Equal(t, Subject, got.Subject, "subject seen by the operation")
				return
			}
			require.Empty(t, got.Subject, "the operation ran for a refused request")
			params, err := ParseChallenge(got.Challenge)
			require.NoError(t, err, "challenge %q", got.Challenge)
			require.Equal(t, tc.WantCode, params["error"], "error code in %q", got.Challenge)
			require.Equal(t, tc.WantDescription, params["error_description"], "error_description in %q", got.Challenge)
			require.Equal(t, e.Verifier.MetadataURL(), params["resource_metadata"], "resource_metadata in %q", got.Challenge)
			if tc.WantCode == "insufficient_scope" {
				require.Equal(t, Scope, params["scope"], "scope in %q", got.Challenge)
			}
			for _, a := range tc.Authorization {
				if _, tok, ok := strings.Cut(a, " "); ok && len(tok) > 8 {
					require.NotContains(t, got.Challenge, strings.TrimSpace(tok), "challenge echoes the token")
				}
			}
		})
	}
}

// ParseChallenge parses a Bearer challenge as audguard writes it
// (Bearer name="value", name="value", ...; values without escapes) into its
// parameters. It fails on another scheme, a repeated parameter or a
// malformed list.
func ParseChallenge(ch string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(ch, "Bearer ")
	if !ok {
		return nil, fmt.Errorf("not a Bearer challenge")
	}
	params := map[string]string{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok || name == "" || strings.ContainsAny(name, ` ,"`) {
			return nil, fmt.Errorf("malformed parameter at %q", rest)
		}
		value, after, ok := strings.Cut(after, `"`)
		if !ok {
			return nil, fmt.Errorf("unterminated value for %s", name)
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("parameter %s repeated", name)
		}
		params[name] = value
		if after == "" {
			break
		}
		rest, ok = strings.CutPrefix(after, ", ")
		if !ok {
			return nil, fmt.Errorf("malformed separator at %q", after)
		}
	}
	return params, nil
}

// SubjectHandler is the guarded operation for HTTP transports: it writes
// the "sub" of the claims in the request context, or answers 500 when the
// context has none.
func SubjectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := middleware.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims in the context", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, c.Subject)
	})
}

// HTTP returns a send function for [Env.Run] that sends GET url with one
// Authorization header line per value and reads the subject from the body
// of a 200 answer (as written by [SubjectHandler]). It requires at most
// one WWW-Authenticate header line.
func HTTP(url string) func(t *testing.T, authorization []string) Result {
	return func(t *testing.T, authorization []string) Result {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		require.NoError(t, err)
		for _, a := range authorization {
			req.Header.Add("Authorization", a)
		}
		return Do(t, http.DefaultClient, req)
	}
}

// Do sends req and returns the status, the challenge and, for a 200
// answer, the body as the subject.
func Do(t *testing.T, client *http.Client, req *http.Request) Result {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	challenges := resp.Header.Values("WWW-Authenticate")
	require.LessOrEqual(t, len(challenges), 1, "WWW-Authenticate header lines")
	r := Result{Status: resp.StatusCode}
	if len(challenges) == 1 {
		r.Challenge = challenges[0]
	}
	if resp.StatusCode == http.StatusOK {
		r.Subject = string(body)
	} else {
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "Cache-Control of a refusal")
	}
	return r
}
