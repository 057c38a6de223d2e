package audtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audguard/audguard/jwks"
)

// Options configure an [Issuer]. The zero value is a working issuer with
// one RS256 key that issues tokens for any resource.
type Options struct {
	// Resources, when set, are the only resource indicators the token
	// endpoint issues tokens for (RFC 8707); others get invalid_target.
	// When empty, any absolute URI is accepted.
	Resources []string
	// Scopes, when set, are the only scopes the token endpoint grants; a
	// request for any other scope gets invalid_scope (RFC 6749 §5.2).
	// When empty, any scope is granted.
	Scopes []string
	// Clients maps client_id to client_secret for the token endpoint.
	// Default: {"audtest-client": "audtest-secret"}. These confidential
	// clients have no redirect URIs: the authorization endpoint refuses
	// them (register a public client for the code flow).
	Clients map[string]string
	// Algorithms lists the keys created at start, one per algorithm, the
	// first being current. Default ["RS256"]. Supported: RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA.
	Algorithms []string
	// TokenLifetime is the lifetime of issued tokens. Default 5 minutes.
	TokenLifetime time.Duration
	// Path, when set (e.g. "/tenant-a"), is appended to the server URL to
	// form the issuer identifier, exercising RFC 8414 path insertion.
	Path string
	// TLS serves https with a test certificate; use [Issuer.Client].
	TLS bool
	// JWKSCacheControl is sent as Cache-Control with the JWKS. Default
	// "max-age=300"; set "-" to send none.
	JWKSCacheControl string
	// Now returns the current time for minted tokens. Default time.Now.
	Now func() time.Time
}

// Issuer is an in-process OAuth 2.0 authorization server on loopback, for
// tests and demos. It serves RFC 8414 and OpenID Connect discovery, a JWKS,
// dynamic client registration (RFC 7591, public clients), an authorization
// endpoint that approves every valid request at once (authorization code
// with PKCE S256, so MCP clients can run their usual flow unattended), and
// a token endpoint (authorization_code, client_credentials, refresh_token
// and RFC 8693 token exchange) that honours RFC 8707 "resource". It mints valid and
// deliberately broken tokens, rotates keys and injects JWKS faults. All
// methods are safe for concurrent use.
type Issuer struct {
	srv    *httptest.Server
	issuer string
	opts   Options

	mu        sync.Mutex
	keys      []*signingKey // every key the issuer can sign with
	current   *signingKey
	jwksFault http.Handler
	discFault http.Handler
	discIss   *string
	refresh   map[string]refreshGrant
	codes     map[string]codeGrant
	public    map[string][]string // client_id of registered public clients → redirect URIs

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
	tokenRequests    atomic.Int64
}

type signingKey struct {
	kid       string
	alg       string
	priv      crypto.Signer
	published bool
}

// codeGrant is an authorization code waiting to be redeemed.
type codeGrant struct {
	clientID    string
	redirectURI string
	challenge   string
	resources   []string
	scope       string
	expires     time.Time
}

type refreshGrant struct {
	clientID string
	scope    string
	sub      string
}

// TB is the part of testing.TB that [NewIssuer] uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// NewIssuer starts an Issuer for a test and closes it when the test ends.
func NewIssuer(t TB, opts Options) *Issuer {
	t.Helper()
	i, err := Start(opts)
	if err != nil {
		t.Fatalf("audtest: %v", err)
	}
	t.Cleanup(i.Close)
	return i
}

// Start starts an Issuer on a loopback port. Close it when done.
func Start(opts Options) (*Issuer, error) {
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = []string{"RS256"}
	}
	if opts.Clients == nil {
		opts.Clients = map[string]string{"audtest-client": "audtest-secret"}
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 5 * time.Minute
	}
	if opts.JWKSCacheControl == "" {
		opts.JWKSCacheControl = "max-age=300"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Path != "" && (!strings.HasPrefix(opts.Path, "/") || strings.HasSuffix(opts.Path, "/")) {
		return nil, fmt.Errorf("audtest: Options.Path %q must start with '/' and not end with '/'", opts.Path)
	}
	i := &Issuer{opts: opts, refresh: map[string]refreshGrant{}, codes: map[string]codeGrant{}, public: map[string][]string{}}
	for n, alg := range opts.Algorithms {
		k, err := newSigningKey(alg, fmt.Sprintf("key-%d-%s", n+1, strings.ToLower(alg)))
		if err != nil {
			return nil, err
		}
		k.published = true
		i.keys = append(i.keys, k)
	}
	i.current = i.keys[0]

	mux := http.NewServeMux()
	i.routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The identifier is fixed before the server starts: handlers read it,
	// and requests may come from other processes (no happens-before edge
	// the race detector could see).
	scheme := "http://"
	if opts.TLS {
		scheme = "https://"
	}
	i.issuer = scheme + ln.Addr().String() + opts.Path
	i.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	if opts.TLS {
		i.srv.StartTLS()
	} else {
		i.srv.Start()
	}
	return i, nil
}

// Close shuts the server down.
func (i *Issuer) Close() { i.srv.Close() }

// URL returns the issuer identifier (the "iss" of its tokens).
func (i *Issuer) URL() string { return i.issuer }

// ServerURL returns the server's base URL (scheme, host and port).
func (i *Issuer) ServerURL() string { return i.srv.URL }

// JWKSURL returns the JWKS URL.
func (i *Issuer) JWKSURL() string { return i.issuer + "/jwks" }

// TokenURL returns the token endpoint URL.
func (i *Issuer) TokenURL() string { return i.issuer + "/token" }

// Client returns an HTTP client for the issuer (trusting its test
// certificate when TLS is on).
func (i *Issuer) Client() *http.Client { return i.srv.Client() }

// JWKSFetches returns how many times the JWKS was requested.
func (i *Issuer) JWKSFetches() int { return int(i.jwksFetches.Load()) }

// DiscoveryFetches returns how many times a discovery document was requested.
func (i *Issuer) DiscoveryFetches() int { return int(i.discoveryFetches.Load()) }

// TokenRequests returns how many token endpoint requests were received.
func (i *Issuer) TokenRequests() int { return int(i.tokenRequests.Load()) }

// KeySet returns the currently published keys as a static [jwks.Set], for
// a verifier configured with Issuer.Keys instead of discovery.
func (i *Issuer) KeySet() *jwks.Set {
	set, _, err := jwks.Parse(i.JWKS(), jwks.ParseOptions{})
	if err != nil {
		panic("audtest: own JWKS does not parse: " + err.Error())
	}
	return set
}

// JWKS returns the JWK Set document currently published.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	var keys []map[string]any
	for _, k := range i.keys {
		if k.published {
			keys = append(keys, publicJWK(k))
		}
	}
	if keys == nil {
		keys = []map[string]any{}
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// CurrentKeyID returns the kid of the key that signs new tokens.
func (i *Issuer) CurrentKeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.current.kid
}

// Rotate creates a key for alg, publishes it and makes it current. Earlier
// keys stay published until [Issuer.Unpublish]. It returns the new kid.
func (i *Issuer) Rotate(alg string) (string, error) {
	return i.addKey(alg, true, true)
}

// AddUnpublishedKey creates a key the issuer can sign with (Token.KeyID)
// but does not publish, as an attacker's or a not-yet-published key.
func (i *Issuer) AddUnpublishedKey(alg string) (string, error) {
	return i.addKey(alg, false, false)
}

// Publish publishes a key created by [Issuer.AddUnpublishedKey].
func (i *Issuer) Publish(kid string) error { return i.setPublished(kid, true) }

// Unpublish removes a key from the JWKS (revocation). The issuer can still
// sign with it, which is what a test of key removal needs.
func (i *Issuer) Unpublish(kid string) error { return i.setPublished(kid, false) }

func (i *Issuer) setPublished(kid string, on bool) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.kid == kid {
			k.published = on
			return nil
		}
	}
	return fmt.Errorf("audtest: unknown kid %q", kid)
}

func (i *Issuer) addKey(alg string, publish, makeCurrent bool) (string, error) {
	i.mu.Lock()
	n := len(i.keys) + 1
	i.mu.Unlock()
	k, err := newSigningKey(alg, fmt.Sprintf("key-%d-%s", n, strings.ToLower(alg)))
	if err != nil {
		return "", err
	}
	k.published = publish
	i.mu.Lock()
	defer i.mu.Unlock()
	for i.hasKID(k.kid) {
		k.kid += "x"
	}
	i.keys = append(i.keys, k)
	if makeCurrent {
		i.current = k
	}
	return k.kid, nil
}

func (i *Issuer) hasKID(kid string) bool {
	for _, k := range i.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

func (i *Issuer) key(kid string) (*signingKey, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if kid == "" {
		return i.current, nil
	}
	for _, k := range i.keys {
		if k.kid == kid {
			return k, nil
		}
	}
	return nil, fmt.Errorf("audtest: unknown kid %q", kid)
}

// PublicKey returns the public key of kid (the current key when empty).
func (i *Issuer) PublicKey(kid string) (crypto.PublicKey, error) {
	k, err := i.key(kid)
	if err != nil {
		return nil, err
	}
	return k.priv.Public(), nil
}

func newSigningKey(alg, kid string) (*signingKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("audtest: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: kid, alg: alg, priv: priv}, nil
}

// publicJWK renders the public half of k as a JWK.
func publicJWK(k *signingKey) map[string]any {
	m := map[string]any{"kid": k.kid, "alg": k.alg, "use": "sig"}
	for key, val := range PublicJWK(k.priv.Public()) {
		m[key] = val
	}
	return m
}

// PublicJWK renders an RSA, ECDSA or Ed25519 public key as JWK members
// (kty and key material, no kid/alg/use). Tests use it to build JWKS
// documents by hand.
func PublicJWK(pub crypto.PublicKey) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		x := make([]byte, size)
		y := make([]byte, size)
		p.X.FillBytes(x)
		p.Y.FillBytes(y)
		return map[string]any{"kty": "EC", "crv": p.Curve.Params().Name, "x": b64(x), "y": b64(y)}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(p)}
	}
	return nil
}
