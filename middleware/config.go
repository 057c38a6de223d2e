package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/audguard/audguard/internal/canonuri"
	"github.com/audguard/audguard/jwks"
)

// Defaults and limits. Zero fields of [Config] take these values.
const (
	// DefaultLeeway is the clock-skew tolerance for exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest leeway New accepts.
	MaxLeeway = 5 * time.Minute
	// NoLeeway, as Config.Leeway, compares times with no tolerance at all.
	NoLeeway time.Duration = -1
	// DefaultMaxTokenSize bounds the Authorization header value and the
	// token (RFC 9110 leaves it to the server; 8 KiB covers every real AS).
	DefaultMaxTokenSize = 8 << 10
	// DefaultCacheSize is the number of verified tokens remembered.
	DefaultCacheSize = 10000
	// NoCache, as Config.CacheSize, disables the verified-token cache.
	NoCache = -1
	// MaxAudiences bounds the entries of an "aud" array
	// (standards-and-attacks §2.2).
	MaxAudiences = 32
)

// DefaultAlgorithms is the algorithm allow-list used when Config.Algorithms
// is empty. RS256 is always supportable (RFC 9068 §2.1).
func DefaultAlgorithms() []string { return []string{"RS256", "PS256", "ES256", "EdDSA"} }

// KeySource supplies the verification key for one issuer. It is consulted
// only after the token's "iss" selected that issuer, so a key source never
// sees tokens of another issuer. [jwks.Set] (static keys) and [jwks.Remote]
// (a fetched, cached JWKS) implement it.
//
// Key returns the key with key ID kid (possibly empty) bound to algorithm
// alg, [jwks.ErrKeyNotFound] when there is none, or [jwks.ErrUnavailable]
// when the source has no usable keys at all. Implementations must be safe
// for concurrent use and should return the same *jwks.Key for the same key
// material, so that cached verifications stay valid across refreshes.
type KeySource interface {
	Key(ctx context.Context, kid, alg string) (*jwks.Key, error)
}

// Issuer is one trusted authorization server.
type Issuer struct {
	// URL is the issuer identifier. A token's "iss" must equal it byte for
	// byte: no case folding, no trailing-slash or default-port tolerance.
	URL string
	// Keys, when set, supplies the issuer's keys (for example a
	// [jwks.Set]). When nil, New creates a [jwks.Remote] that discovers
	// the JWKS from URL (RFC 8414, then OpenID Connect discovery) or
	// fetches JWKSURI directly.
	Keys KeySource
	// JWKSURI skips discovery when Keys is nil. It must be https (http
	// only on loopback with Config.AllowHTTPLoopback).
	JWKSURI string
}

// TypPolicy says which JOSE "typ" header values are accepted.
type TypPolicy int

const (
	// TypCompat, the default, accepts no "typ", "JWT" and "at+jwt" (and
	// their "application/" forms, case-insensitively). Many authorization
	// servers do not follow RFC 9068 yet. The audience check keeps tokens
	// for other resources out; ID tokens, which carry the client's ID as
	// "aud", are also refused when they carry "nonce", "at_hash" or
	// "c_hash" without "typ": "at+jwt" (RFC 8725 §3.12), so that an alias
	// in Config.Audiences equal to a client ID does not let them in.
	TypCompat TypPolicy = iota
	// TypStrict is the RFC 9068 profile: "typ" must be "at+jwt" (or
	// "application/at+jwt"), and "sub", "client_id", "iat" and "jti" are
	// required.
	TypStrict
)

// String returns "compat" or "strict".
func (p TypPolicy) String() string {
	switch p {
	case TypCompat:
		return "compat"
	case TypStrict:
		return "strict"
	}
	return fmt.Sprintf("TypPolicy(%d)", int(p))
}

// ParseTypPolicy parses "compat" or "strict".
func ParseTypPolicy(s string) (TypPolicy, error) {
	switch s {
	case "compat":
		return TypCompat, nil
	case "strict":
		return TypStrict, nil
	}
	return 0, fmt.Errorf("unknown typ policy %q (want compat or strict)", s)
}

// Config configures a [Verifier]. Only Resource and Issuers are required;
// every other zero field takes the documented default.
type Config struct {
	// Resource is this server's canonical URI (RFC 8707 §2, MCP
	// 2026-07-28 §8.1), for example "https://mcp.example.com/mcp". It must
	// be an absolute https URI without fragment or userinfo, with an ASCII
	// host (write IDNs as A-labels) and no dot segments. It is advertised
	// as "resource" in the RFC 9728 metadata exactly as written (clients
	// compare it with the URL they called, RFC 9728 §3.3), so write it in
	// canonical form: lower-case scheme and host, no default port (MCP
	// 2026-07-28 §8.1). A token's "aud" must contain it (see the audience
	// rule in the package documentation).
	Resource string
	// Audiences are extra values accepted in "aud", compared byte for byte
	// (for authorization servers that map the resource to an abstract
	// identifier, RFC 8707 §2).
	Audiences []string
	// AllowTrailingSlashVariant also accepts an "aud" that differs from the
	// resource only by one trailing slash on a non-root path (the MCP Go
	// SDK's tolerance). Off by default: "/mcp/" and "/mcp" are different
	// URIs (RFC 3986 §6.2.4).
	AllowTrailingSlashVariant bool
	// RejectMultipleAudiences refuses tokens whose "aud" also names
	// another audience (RFC 8707 §3): every entry must name this resource
	// or one of Audiences, so ["<resource>", "<resource>"] passes and
	// ["<resource>", "https://other.example"] does not.
	RejectMultipleAudiences bool

	// Issuers lists the trusted authorization servers; at least one.
	Issuers []Issuer
	// Algorithms is the "alg" allow-list. Default [DefaultAlgorithms].
	// "none" and HMAC algorithms are refused by New. In the key sets New
	// fetches (issuers without Keys), an RSA key published without "alg"
	// is bound to one algorithm: JWKS.RSAAlgorithm if set, else the
	// allow-list's RSA algorithm when it holds exactly one (so ["PS256"]
	// verifies PS256 tokens with such keys), else RS256. A static Keys set
	// keeps the binding it was parsed with (jwks.ParseOptions).
	Algorithms []string
	// Typ selects the "typ" header policy. Default [TypCompat].
	Typ TypPolicy
	// Leeway tolerates clock skew on exp, nbf and iat. Zero means
	// [DefaultLeeway]; [NoLeeway] means none; at most [MaxLeeway].
	Leeway time.Duration
	// MaxTokenLifetime, when positive, refuses tokens whose exp - iat (or
	// exp - now when iat is absent) exceeds it.
	MaxTokenLifetime time.Duration

	// Scopes are required by [Verifier.Handler] and [Verifier.Authenticate]
	// on every request, and advertised in challenges.
	Scopes []string
	// ScopesSupported is advertised as "scopes_supported" in the RFC 9728
	// metadata. Default: Scopes.
	ScopesSupported []string
	// ScopeCovers, when set, decides whether a granted scope satisfies a
	// required one beyond equality (MCP 2026-07-28 §11.1.2 scope
	// hierarchies), for example [HierarchicalScopes](":").
	ScopeCovers func(granted, required string) bool
	// AcceptSCPClaim also reads granted scopes from an "scp" array of
	// strings (Entra ID, Okta). Off by default: only "scope" counts.
	AcceptSCPClaim bool

	// ResourceName is advertised as "resource_name" in the metadata.
	ResourceName string
	// AllowHTTPLoopback accepts http (not https) for a Resource, issuer or
	// JWKS URI whose host is a loopback address or "localhost". For local
	// development and tests only.
	AllowHTTPLoopback bool
	// UnavailableStatus503 answers 503 Service Unavailable instead of 401
	// when no signing keys can be obtained for the token's issuer.
	UnavailableStatus503 bool
	// MaxTokenSize bounds the Authorization header. Default
	// [DefaultMaxTokenSize].
	MaxTokenSize int
	// CacheSize is the number of verified tokens remembered (keyed by a
	// keyed hash, never the token itself). Default [DefaultCacheSize];
	// [NoCache] disables the cache.
	CacheSize int

	// JWKS tunes the remote key sets New creates for issuers without Keys.
	// HTTPClient, Logger, Now and AllowHTTPLoopback are taken from this
	// Config when left zero there.
	JWKS jwks.Options
	// HTTPClient fetches discovery documents and JWKS. Default: a client
	// with the JWKS fetch timeout and no redirects to other origins.
	HTTPClient *http.Client

	// Logger receives one Debug line per rejected request (the reason
	// category, never the token) and JWKS warnings. Default: discard.
	Logger *slog.Logger
	// Observer, when set, is called for every decision and JWKS fetch; wire
	// it to metrics. It must be fast and safe for concurrent use.
	Observer func(Event)
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// config is the validated, defaulted form of Config.
type config struct {
	resource     string
	resourceURI  canonuri.URI
	matcher      *canonuri.Matcher
	metadataURL  string
	metadataPath string
	metadataQry  string
	algs         map[string]bool
	typ          TypPolicy
	leeway       time.Duration
	maxLifetime  time.Duration
	scopes       []string
	scopesSupp   []string
	covers       func(granted, required string) bool
	scp          bool
	multiAud     bool
	name         string
	loopback     bool
	status503    bool
	maxToken     int
	cacheSize    int
	logger       *slog.Logger
	observer     func(Event)
	now          func() time.Time
	authServers  []string
}

func (c Config) validate() (config, []error) {
	var (
		out  config
		errs []error
	)
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	uopts := canonuri.Options{AllowHTTPLoopback: c.AllowHTTPLoopback}

	// Resource.
	out.resource = c.Resource
	if c.Resource == "" {
		bad("Resource is required: the canonical https URI of this server, e.g. https://mcp.example.com/mcp")
	} else if u, err := canonuri.Parse(c.Resource, uopts); err != nil {
		bad("Resource %q: %v", c.Resource, err)
	} else if u.EmptyPort {
		bad("Resource %q: %v", c.Resource, canonuri.ErrEmptyPort)
	} else {
		out.resourceURI = u
		out.metadataURL, out.metadataPath, out.metadataQry = u.WellKnown("oauth-protected-resource")
		out.matcher = canonuri.NewMatcher(c.Resource, u, c.Audiences, c.AllowTrailingSlashVariant, uopts)
	}
	for _, a := range c.Audiences {
		if a == "" {
			bad("Audiences: empty value")
		} else if len(a) > canonuri.MaxLen || !printableASCII(a) {
			bad("Audiences %q: must be printable ASCII of at most %d bytes", a, canonuri.MaxLen)
		}
	}

	// Issuers.
	if len(c.Issuers) == 0 {
		bad("Issuers: at least one trusted issuer is required")
	}
	seen := map[string]bool{}
	for i, is := range c.Issuers {
		switch {
		case is.URL == "":
			bad("Issuers[%d]: URL is required", i)
			continue
		case seen[is.URL]:
			bad("Issuers[%d]: %q is listed twice", i, is.URL)
		}
		seen[is.URL] = true
		if is.Keys == nil || is.JWKSURI != "" {
			// The URL is fetched (discovery) or at least advertised:
			// hold it to the same rules as the resource.
			if _, err := canonuri.Parse(is.URL, uopts); err != nil {
				bad("Issuers[%d] %q: %v", i, is.URL, err)
			}
		} else if !printableASCII(is.URL) {
			bad("Issuers[%d] %q: must be printable ASCII", i, is.URL)
		}
		if is.JWKSURI != "" {
			if is.Keys != nil {
				bad("Issuers[%d]: set Keys or JWKSURI, not both", i)
			}
			if _, err := canonuri.Parse(is.JWKSURI, uopts); err != nil {
				bad("Issuers[%d] JWKSURI %q: %v", i, is.JWKSURI, err)
			}
		}
		out.authServers = append(out.authServers, is.URL)
	}

	// Algorithms.
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms()
	}
	out.algs = map[string]bool{}
	for _, a := range algs {
		switch {
		case strings.EqualFold(a, "none"):
			bad("Algorithms: %q is never accepted (RFC 9068 §2.1)", a)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			bad("Algorithms: %q is a shared-secret algorithm; a resource server verifying with public keys must not accept it (RFC 8725 §3.1)", a)
		case !jwks.SupportedAlgorithm(a):
			bad("Algorithms: %q is not supported (supported: RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519)", a)
		default:
			out.algs[a] = true
		}
	}

	// Typ.
	switch c.Typ {
	case TypCompat, TypStrict:
		out.typ = c.Typ
	default:
		bad("Typ: unknown policy %d", int(c.Typ))
	}

	// Time.
	switch {
	case c.Leeway == 0:
		out.leeway = DefaultLeeway
	case c.Leeway == NoLeeway:
		out.leeway = 0
	case c.Leeway < 0:
		bad("Leeway: %v is negative (use NoLeeway for none)", c.Leeway)
	case c.Leeway > MaxLeeway:
		bad("Leeway: %v exceeds the maximum of %v", c.Leeway, MaxLeeway)
	default:
		out.leeway = c.Leeway
	}
	if c.MaxTokenLifetime < 0 {
		bad("MaxTokenLifetime: %v is negative", c.MaxTokenLifetime)
	}
	out.maxLifetime = c.MaxTokenLifetime

	// Scopes.
	for _, s := range c.Scopes {
		if err := checkScopeToken(s); err != nil {
			bad("Scopes %q: %v", s, err)
		}
	}
	out.scopes = dedupe(c.Scopes)
	supp := c.ScopesSupported
	if supp == nil {
		supp = c.Scopes
	}
	for _, s := range supp {
		if err := checkScopeToken(s); err != nil {
			bad("ScopesSupported %q: %v", s, err)
		}
	}
	out.scopesSupp = dedupe(supp)
	out.covers = c.ScopeCovers
	out.scp = c.AcceptSCPClaim
	out.multiAud = c.RejectMultipleAudiences

	if c.ResourceName != "" && !printableUTF8(c.ResourceName) {
		bad("ResourceName: must not contain control characters")
	}
	out.name = c.ResourceName
	out.loopback = c.AllowHTTPLoopback
	out.status503 = c.UnavailableStatus503

	switch {
	case c.MaxTokenSize == 0:
		out.maxToken = DefaultMaxTokenSize
	case c.MaxTokenSize < 256 || c.MaxTokenSize > 1<<20:
		bad("MaxTokenSize: %d is outside [256, 1048576]", c.MaxTokenSize)
	default:
		out.maxToken = c.MaxTokenSize
	}
	switch {
	case c.CacheSize == 0:
		out.cacheSize = DefaultCacheSize
	case c.CacheSize == NoCache:
		out.cacheSize = 0
	case c.CacheSize < 0:
		bad("CacheSize: %d is negative (use NoCache to disable)", c.CacheSize)
	default:
		out.cacheSize = c.CacheSize
	}

	out.logger = c.Logger
	if out.logger == nil {
		out.logger = slog.New(slog.DiscardHandler)
	}
	out.observer = c.Observer
	out.now = c.Now
	if out.now == nil {
		out.now = time.Now
	}
	return out, errs
}

// checkScopeToken applies RFC 6749 §3.3 (scope-token = 1*NQCHAR) and the
// MCP rule that offline_access is never advertised by a resource.
func checkScopeToken(s string) error {
	if s == "" {
		return errors.New("empty scope")
	}
	if s == "offline_access" {
		return errors.New("offline_access is a refresh-token scope and must not be required or advertised by a resource server (MCP 2026-07-28 §10)")
	}
	for i := 0; i < len(s); i++ {
		if !scopeChar(s[i]) {
			return fmt.Errorf("character %q is not allowed in a scope (RFC 6749 §3.3)", s[i])
		}
	}
	return nil
}

// scopeChar is NQCHAR: %x21 / %x23-5B / %x5D-7E.
func scopeChar(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func printableUTF8(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xFFFD {
			return false
		}
	}
	return true
}

func dedupe(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
