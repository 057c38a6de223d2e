package tokensource

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/audguard/audguard/internal/canonuri"
)

// Defaults and limits. Zero fields of [Config] take these values.
const (
	// DefaultMaxRefreshMargin caps the default refresh margin: a token is
	// replaced 10% of its lifetime before it expires, but never earlier
	// than this before expiry.
	DefaultMaxRefreshMargin = 30 * time.Second
	// DefaultLifetime is assumed for a token whose response has no
	// "expires_in" (RFC 6749 §5.1 only recommends it).
	DefaultLifetime = time.Minute
	// DefaultErrorBackoff is how long a refusal by the token endpoint (an
	// OAuth error code such as invalid_target) or an unusable token is
	// remembered for the same cache key before the endpoint is asked again.
	DefaultErrorBackoff = 30 * time.Second
	// DefaultMaxCacheEntries bounds the token cache.
	DefaultMaxCacheEntries = 1024
	// DefaultHTTPTimeout is the timeout of the HTTP client New creates for
	// token requests when Config.HTTPClient is nil.
	DefaultHTTPTimeout = 30 * time.Second
	// MaxScopes bounds the scopes of one request.
	MaxScopes = 64
)

// AuthMethod is how the client authenticates at the token endpoint
// (RFC 6749 §2.3, RFC 8414 token_endpoint_auth_methods_supported).
type AuthMethod int

const (
	// AuthClientSecretBasic, the default, sends the client ID and secret in
	// an HTTP Basic Authorization header ("client_secret_basic"), which
	// every authorization server must support (RFC 6749 §2.3.1).
	AuthClientSecretBasic AuthMethod = iota
	// AuthClientSecretPost sends them as client_id and client_secret form
	// parameters ("client_secret_post").
	AuthClientSecretPost
	// AuthNone is a public client: only client_id is sent ("none").
	// Config.ClientSecret must be empty.
	AuthNone
)

// String returns the RFC 8414 name of the method.
func (m AuthMethod) String() string {
	switch m {
	case AuthClientSecretBasic:
		return "client_secret_basic"
	case AuthClientSecretPost:
		return "client_secret_post"
	case AuthNone:
		return "none"
	}
	return fmt.Sprintf("AuthMethod(%d)", int(m))
}

// Resource is one resource server this client calls through [Transport].
type Resource struct {
	// URI is the resource identifier (RFC 8707 §2, RFC 9728 "resource"),
	// for example "https://mcp.example.com/mcp". It is sent as "resource"
	// in canonical form and selects the requests that get its tokens:
	// same scheme, host and port, and a path equal to URI's path or below
	// it on a segment boundary.
	URI string
	// Scopes are requested for this resource; at least one.
	Scopes []string
	// Audiences are extra "aud" values that name this resource, compared
	// byte for byte, for authorization servers that map the resource to
	// an abstract identifier (RFC 8707 §2). Use the same list as the
	// resource server's verifier (middleware.Config.Audiences).
	Audiences []string
}

// Config configures a [Client]. TokenURL and ClientID are required; every
// other zero field takes the documented default.
type Config struct {
	// TokenURL is the authorization server's token endpoint. It must be
	// https (http only on a loopback host with AllowHTTPLoopback).
	TokenURL string
	// ClientID identifies this client at the authorization server.
	ClientID string
	// ClientSecret authenticates the client (empty with AuthNone).
	ClientSecret string
	// AuthMethod selects client authentication. Default
	// [AuthClientSecretBasic]. The method is fixed: a refused request is
	// never retried with another method.
	AuthMethod AuthMethod

	// Resources are the resource servers that [Client.Transport] attaches
	// tokens for, with the scopes to request. [Client.Token] and
	// [Client.TokenSource] also accept resources that are not listed.
	Resources []Resource

	// RefreshMargin is how long before expiry a cached token is replaced.
	// Default: 10% of the token's lifetime, at most
	// [DefaultMaxRefreshMargin]. A margin is never more than half the
	// lifetime, so a short-lived token is still reused.
	RefreshMargin time.Duration
	// DefaultLifetime is assumed when a token response has no
	// "expires_in". Default [DefaultLifetime].
	DefaultLifetime time.Duration
	// ErrorBackoff is how long an OAuth error response (invalid_target,
	// invalid_scope, invalid_grant, ...) or an unusable token (wrong
	// audience or type) is remembered per cache key; calls in that window
	// get the same error without a request. Default [DefaultErrorBackoff].
	// Network errors and responses without an error code are not
	// remembered, except that a failed background refresh is not retried
	// in the background within ErrorBackoff (the cached token is served
	// until it expires; then callers ask the endpoint themselves).
	ErrorBackoff time.Duration
	// MaxCacheEntries bounds the number of cached tokens. Default
	// [DefaultMaxCacheEntries]. When full, expired entries are dropped
	// first, then arbitrary ones.
	MaxCacheEntries int

	// SkipAudienceCheck turns off the check of issued JWTs: by default a
	// token that is a JWT must name the requested resource in "aud" (the
	// rule of middleware.Verifier), or it is refused with
	// [ErrAudienceMismatch]. Opaque tokens are never checked.
	SkipAudienceCheck bool

	// HTTPClient sends token requests. Default: a client with
	// [DefaultHTTPTimeout]. Redirects from the token endpoint are never
	// followed, whatever the client's CheckRedirect says. Its Timeout
	// also bounds a background refresh ([Client.Token]); with no Timeout,
	// a background refresh is bounded by [DefaultHTTPTimeout] and a
	// request a caller waits for only by the caller's context.
	HTTPClient *http.Client
	// AllowHTTPLoopback accepts http (not https) for TokenURL and resource
	// URIs whose host is a loopback address or "localhost". For local
	// development and tests only.
	AllowHTTPLoopback bool
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// config is the validated, defaulted form of Config.
type config struct {
	tokenURL     string
	clientID     string
	clientSecret string
	auth         AuthMethod
	routes       []route
	byResource   map[string]*route // canonical resource -> configured entry
	margin       time.Duration     // 0: default rule
	defLifetime  time.Duration
	backoff      time.Duration
	maxEntries   int
	checkAud     bool
	httpClient   *http.Client
	bgTimeout    time.Duration // bounds a background refresh
	uopts        canonuri.Options
	now          func() time.Time
}

// route is a configured resource, ready for matching.
type route struct {
	uri       canonuri.URI
	canonical string
	scopes    []string // sorted, de-duplicated
	audiences []string
}

func (c Config) validate() (config, []error) {
	var (
		out  config
		errs []error
	)
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	out.uopts = canonuri.Options{AllowHTTPLoopback: c.AllowHTTPLoopback}

	switch {
	case c.TokenURL == "":
		bad("TokenURL is required: the authorization server's token endpoint")
	default:
		if u, err := canonuri.Parse(c.TokenURL, out.uopts); err != nil {
			bad("TokenURL %q: %v", c.TokenURL, err)
		} else if u.EmptyPort {
			bad("TokenURL %q: %v", c.TokenURL, canonuri.ErrEmptyPort)
		}
	}
	out.tokenURL = c.TokenURL
	if c.ClientID == "" {
		bad("ClientID is required")
	}
	out.clientID, out.clientSecret = c.ClientID, c.ClientSecret
	switch c.AuthMethod {
	case AuthClientSecretBasic, AuthClientSecretPost:
		if c.ClientSecret == "" {
			bad("ClientSecret is required with %v (use AuthNone for a public client)", c.AuthMethod)
		}
	case AuthNone:
		if c.ClientSecret != "" {
			bad("ClientSecret must be empty with AuthNone")
		}
	default:
		bad("AuthMethod: unknown method %d", int(c.AuthMethod))
	}
	out.auth = c.AuthMethod

	out.byResource = map[string]*route{}
	for i, r := range c.Resources {
		u, canonical, err := parseResource(r.URI, out.uopts)
		if err != nil {
			bad("Resources[%d]: %v", i, err)
			continue
		}
		scopes, err := normalizeScopes(r.Scopes)
		if err != nil {
			bad("Resources[%d] %q: %v", i, r.URI, err)
			continue
		}
		for _, a := range r.Audiences {
			if a == "" || len(a) > canonuri.MaxLen || !printableASCII(a) {
				bad("Resources[%d] %q: Audiences %q must be printable ASCII of 1 to %d bytes", i, r.URI, a, canonuri.MaxLen)
			}
		}
		if _, dup := out.byResource[canonical]; dup {
			bad("Resources[%d]: %q is listed twice", i, r.URI)
			continue
		}
		out.routes = append(out.routes, route{uri: u, canonical: canonical, scopes: scopes, audiences: append([]string(nil), r.Audiences...)})
		out.byResource[canonical] = nil // placeholder, filled below
	}
	// Most specific first: longest path, then a resource with a query
	// before the same path without one.
	sort.SliceStable(out.routes, func(i, j int) bool {
		a, b := out.routes[i].uri, out.routes[j].uri
		if len(a.Path) != len(b.Path) {
			return len(a.Path) > len(b.Path)
		}
		return a.HasQuery && !b.HasQuery
	})
	for i := range out.routes {
		out.byResource[out.routes[i].canonical] = &out.routes[i]
	}

	switch {
	case c.RefreshMargin < 0:
		bad("RefreshMargin: %v is negative", c.RefreshMargin)
	default:
		out.margin = c.RefreshMargin
	}
	switch {
	case c.DefaultLifetime < 0:
		bad("DefaultLifetime: %v is negative", c.DefaultLifetime)
	case c.DefaultLifetime == 0:
		out.defLifetime = DefaultLifetime
	default:
		out.defLifetime = c.DefaultLifetime
	}
	switch {
	case c.ErrorBackoff < 0:
		bad("ErrorBackoff: %v is negative", c.ErrorBackoff)
	case c.ErrorBackoff == 0:
		out.backoff = DefaultErrorBackoff
	default:
		out.backoff = c.ErrorBackoff
	}
	switch {
	case c.MaxCacheEntries < 0:
		bad("MaxCacheEntries: %d is negative", c.MaxCacheEntries)
	case c.MaxCacheEntries == 0:
		out.maxEntries = DefaultMaxCacheEntries
	default:
		out.maxEntries = c.MaxCacheEntries
	}
	out.checkAud = !c.SkipAudienceCheck

	// Token requests never follow redirects: a 307/308 would replay the
	// client credentials and the grant to wherever it points.
	if c.HTTPClient != nil {
		hc := *c.HTTPClient
		out.httpClient = &hc
	} else {
		out.httpClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	out.httpClient.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("tokensource: the token endpoint answered with a redirect, which is not followed")
	}
	out.bgTimeout = out.httpClient.Timeout
	if out.bgTimeout <= 0 {
		out.bgTimeout = DefaultHTTPTimeout
	}
	out.now = c.Now
	if out.now == nil {
		out.now = time.Now
	}
	return out, errs
}

// parseResource validates a resource identifier (RFC 8707 §2: absolute,
// no fragment; audguard's canonuri rules) and returns its canonical form.
func parseResource(raw string, opts canonuri.Options) (canonuri.URI, string, error) {
	if raw == "" {
		return canonuri.URI{}, "", errors.New("resource URI is required")
	}
	u, err := canonuri.Parse(raw, opts)
	if err != nil {
		return u, "", fmt.Errorf("resource %q: %w", raw, err)
	}
	if u.EmptyPort {
		return u, "", fmt.Errorf("resource %q: %w", raw, canonuri.ErrEmptyPort)
	}
	return u, u.String(), nil
}

// normalizeScopes validates scope tokens (RFC 6749 §3.3: 1*NQCHAR) and
// returns them sorted and de-duplicated. At least one scope is required:
// a request without "scope" gets the authorization server's default
// scopes, which are typically broader than the caller needs.
func normalizeScopes(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, errors.New("at least one scope is required (a request without scope gets the authorization server's defaults)")
	}
	if len(in) > MaxScopes {
		return nil, fmt.Errorf("more than %d scopes", MaxScopes)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "" {
			return nil, errors.New("empty scope")
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
				return nil, fmt.Errorf("scope %q: character %q is not allowed (RFC 6749 §3.3)", s, c)
			}
		}
		out = append(out, s)
	}
	sort.Strings(out)
	n := 0
	for i, s := range out {
		if i == 0 || s != out[n-1] {
			out[n] = s
			n++
		}
	}
	return out[:n], nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// joinIndented renders several configuration errors one per line.
func joinIndented(errs []error) error {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return errors.New(strings.Join(parts, "\n  "))
}
