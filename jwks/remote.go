package jwks

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of [Options].
const (
	DefaultRefreshCooldown = 30 * time.Second
	DefaultFetchTimeout    = 5 * time.Second
	DefaultMaxStale        = 24 * time.Hour
	DefaultMinTTL          = 5 * time.Minute
	DefaultMaxTTL          = 24 * time.Hour
	DefaultTTL             = 15 * time.Minute
	// MaxBodySize caps a JWKS or discovery response body.
	MaxBodySize = 1 << 20
)

// Options tune a [Remote]. Zero fields take the defaults above.
type Options struct {
	// HTTPClient performs the fetches. Default: a client whose timeout
	// is FetchTimeout. Whatever the client, redirects to another origin
	// or from https to http are never followed.
	HTTPClient *http.Client
	// AllowHTTPLoopback accepts http URLs whose host is loopback.
	AllowHTTPLoopback bool
	// RefreshCooldown is the minimum time between two refreshes caused by
	// unknown key IDs. Default 30s.
	RefreshCooldown time.Duration
	// FetchTimeout bounds one discovery or JWKS fetch. Default 5s.
	FetchTimeout time.Duration
	// MaxStale is how long the last good key set keeps being used, counted
	// from the last successful fetch, while fetches fail. Default 24h.
	MaxStale time.Duration
	// MinTTL and MaxTTL clamp the lifetime the server announces with
	// Cache-Control max-age or Expires. Defaults 5m and 24h.
	MinTTL, MaxTTL time.Duration
	// DefaultTTL applies when the server sends no caching headers.
	// Default 15m.
	DefaultTTL time.Duration
	// RSAAlgorithm is given to RSA keys without "alg"; see [ParseOptions].
	RSAAlgorithm string
	// Logger receives warnings: failed fetches, dropped keys (once per key
	// and reason). Default: discard.
	Logger *slog.Logger
	// OnFetch, when set, is called after every fetch attempt.
	OnFetch func(FetchEvent)
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// RemoteConfig configures a [Remote]: the issuer to discover, or the JWKS
// URI to fetch directly, plus [Options].
type RemoteConfig struct {
	// Issuer is the issuer identifier. When JWKSURI is empty the JWKS URI
	// is discovered from it: RFC 8414 authorization server metadata, then
	// OpenID Connect discovery. The document's "issuer" must equal Issuer
	// byte for byte.
	Issuer string
	// JWKSURI, when set, is fetched directly and Issuer is only used in
	// logs and events.
	JWKSURI string
	Options
}

// FetchEvent reports one fetch attempt of a [Remote].
type FetchEvent struct {
	Issuer   string
	URL      string        // the URL fetched (discovery document or JWKS)
	Cause    string        // "initial", "scheduled", "unknown-kid" or "manual"
	Err      error         // nil on success
	Keys     int           // usable keys after a successful fetch
	Dropped  int           // keys dropped by the hygiene rules
	Duration time.Duration // time the fetch took
}

// ErrClosed is returned by a [Remote] after Close.
var ErrClosed = errors.New("jwks: key source closed")

// Remote is a JWKS fetched over HTTPS and cached. See the package
// documentation for its refresh policy. It is safe for concurrent use.
type Remote struct {
	cfg RemoteConfig
}

// NewRemote validates cfg and returns a Remote. It performs no I/O and
// starts no goroutine: the first fetch happens on first use or on
// [Remote.Refresh].
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	return nil, errors.New("jwks: NewRemote not implemented yet")
}

// Key returns the key for kid and alg, fetching the JWKS when needed.
func (r *Remote) Key(ctx context.Context, kid, alg string) (*Key, error) {
	return nil, ErrUnavailable
}

// Refresh fetches the JWKS now (discovering it first if needed).
func (r *Remote) Refresh(ctx context.Context) error { return ErrUnavailable }

// Close stops background work. It is safe to call more than once.
func (r *Remote) Close() error { return nil }
