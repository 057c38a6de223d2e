package catalog

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
)

// Resource is the canonical resource of every case.
const Resource = "https://api.example.com/mcp"

// Now is the fixed clock of every case.
var Now = time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)

// Fixture is what the cases run against: a primary issuer with RS256
// (current), ES256 and EdDSA keys, and a second issuer.
type Fixture struct {
	Issuer *audtest.Issuer
	Other  *audtest.Issuer
	ES256  string // kid of the primary issuer's ES256 key
	EdDSA  string // kid of the primary issuer's EdDSA key
	RS256  string // kid of the primary issuer's RS256 key
}

// TB is the part of testing.TB the fixture needs.
type TB = audtest.TB

// NewFixture starts the issuers. They close when the test ends.
func NewFixture(t TB) *Fixture {
	t.Helper()
	clock := func() time.Time { return Now }
	f := &Fixture{
		Issuer: audtest.NewIssuer(t, audtest.Options{Now: clock, Algorithms: []string{"RS256", "ES256", "EdDSA"}}),
		Other:  audtest.NewIssuer(t, audtest.Options{Now: clock, Algorithms: []string{"RS256"}}),
	}
	f.RS256 = f.Issuer.CurrentKeyID()
	for _, k := range f.Issuer.KeySet().Keys() {
		switch k.Algorithm() {
		case "ES256":
			f.ES256 = k.ID()
		case "EdDSA":
			f.EdDSA = k.ID()
		}
	}
	return f
}

// Config returns the verifier configuration for c: both issuers with
// static keys, the fixed clock, then c.Config's changes.
func (f *Fixture) Config(c Case) middleware.Config {
	cfg := middleware.Config{
		Resource: Resource,
		Issuers: []middleware.Issuer{
			{URL: f.Issuer.URL(), Keys: f.Issuer.KeySet()},
			{URL: f.Other.URL(), Keys: f.Other.KeySet()},
		},
		Now: func() time.Time { return Now },
	}
	if c.Config != nil {
		c.Config(f, &cfg)
	}
	return cfg
}

// Want is the expected outcome of a case.
type Want struct {
	// Accept: the request reaches the handler.
	Accept bool
	// Status is the HTTP status of a rejection (400, 401, 403).
	Status int
	// Code is the RFC 6750 error code, "" for none.
	Code string
	// Err is the sentinel errors.Is must find in the error.
	Err error
	// Description, when set, is the exact error_description.
	Description string
}

// Case is one catalog row (or one variant of a row).
type Case struct {
	// ID starts with the catalog ID, e.g. "C4_hs256_with_rsa_public_key".
	ID string
	// Config adjusts the verifier configuration.
	Config func(f *Fixture, c *middleware.Config)
	// Authorization returns the Authorization header values to send.
	Authorization func(f *Fixture) []string
	// HTTP, when set, adds HTTP-only details (query, cookie, body); such
	// cases run only over HTTP.
	HTTP func(f *Fixture, r *http.Request)
	// Scopes are the route's required scopes.
	Scopes []string
	Want   Want
}

// TransportNeutral reports whether the case runs over any transport.
func (c Case) TransportNeutral() bool { return c.HTTP == nil }

var (
	accept          = Want{Accept: true}
	noToken         = Want{Status: 401, Err: middleware.ErrNoToken}
	badRequest      = Want{Status: 400, Code: "invalid_request", Err: middleware.ErrInvalidRequest}
	malformed       = invalid(middleware.ErrMalformed, "The access token is malformed")
	header          = invalid(middleware.ErrHeader, "The access token type or algorithm is not accepted")
	signature       = invalid(middleware.ErrSignature, "The access token signature could not be verified")
	issuer          = invalid(middleware.ErrIssuer, "The access token issuer is not trusted")
	audience        = invalid(middleware.ErrAudience, "The access token was not issued for this resource")
	expired         = invalid(middleware.ErrExpired, "The access token expired")
	notYet          = invalid(middleware.ErrNotYetValid, "The access token is not yet valid")
	claimsRefused   = invalid(middleware.ErrClaims, "The access token claims are not accepted")
	insufficientScp = Want{Status: 403, Code: "insufficient_scope", Err: middleware.ErrInsufficientScope, Description: "The access token lacks a scope this operation requires"}
)

func invalid(err error, desc string) Want {
	return Want{Status: 401, Code: "invalid_token", Err: err, Description: desc}
}

// bearer wraps a token builder into an Authorization header builder.
func bearer(tok func(f *Fixture) string) func(f *Fixture) []string {
	return func(f *Fixture) []string { return []string{"Bearer " + tok(f)} }
}

func header1(v string) func(*Fixture) []string {
	return func(*Fixture) []string { return []string{v} }
}

// claims returns valid claims for the resource with changes applied (a nil
// value deletes the claim).
func (f *Fixture) claims(changes map[string]any) map[string]any {
	c := f.Issuer.Claims(Resource, "read")
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// Valid returns a valid token for the resource with scope "read".
func (f *Fixture) Valid() string { return f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil)}) }

// tok signs claims changes with the current key and optional token tweaks.
func tok(changes map[string]any, tweak ...func(*audtest.Token)) func(*Fixture) string {
	return func(f *Fixture) string {
		t := audtest.Token{Claims: f.claims(changes)}
		for _, fn := range tweak {
			fn(&t)
		}
		return f.Issuer.MustSign(t)
	}
}

func withHeader(h map[string]any) func(*audtest.Token) {
	return func(t *audtest.Token) { t.Header = h }
}

// rawToken builds a token from raw header and claims JSON and a signature
// segment, without signing.
func rawToken(hdr, claims, sig string) string {
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(hdr)) + "." + e.EncodeToString([]byte(claims)) + "." + sig
}

// signedRaw signs raw header and claims JSON with the current RS256 key.
func signedRaw(hdr func(f *Fixture) string, claims func(f *Fixture) string) func(*Fixture) string {
	return func(f *Fixture) string {
		t := audtest.Token{RawHeader: `{"alg":"RS256","kid":"` + f.RS256 + `","typ":"at+jwt"}`}
		if hdr != nil {
			t.RawHeader = hdr(f)
		}
		if claims != nil {
			t.RawClaims = claims(f)
		} else {
			b, _ := json.Marshal(f.claims(nil))
			t.RawClaims = string(b)
		}
		return f.Issuer.MustSign(t)
	}
}

// validClaimsJSON returns the valid claims without the named members,
// with raw members prepended.
func validClaimsJSON(f *Fixture, drop []string, members string) string {
	c := f.claims(nil)
	for _, d := range drop {
		delete(c, d)
	}
	b, _ := json.Marshal(c)
	if members == "" {
		return string(b)
	}
	return "{" + members + "," + string(b[1:])
}

func kidHeader(f *Fixture, extra string) string {
	return `{"alg":"RS256","kid":"` + f.RS256 + `","typ":"at+jwt"` + extra + `}`
}

// staticKeys replaces the primary issuer's keys with a JWKS document
// built from JWK member maps.
func staticKeys(build func(f *Fixture) []map[string]any) func(*Fixture, *middleware.Config) {
	return func(f *Fixture, c *middleware.Config) {
		doc, _ := json.Marshal(map[string]any{"keys": build(f)})
		set, _, err := jwks.Parse(doc, jwks.ParseOptions{})
		if err != nil {
			panic(err)
		}
		c.Issuers[0].Keys = set
	}
}

// issuerJWK returns the primary issuer's public JWK for kid with changes.
func issuerJWK(f *Fixture, kid string, changes map[string]any) map[string]any {
	pub, err := f.Issuer.PublicKey(kid)
	if err != nil {
		panic(err)
	}
	m := audtest.PublicJWK(pub)
	m["kid"] = kid
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// unrelatedJWK is a valid RS256 key that verifies nothing, so that a set
// whose interesting key was dropped is not empty.
func unrelatedJWK() map[string]any {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	m := audtest.PublicJWK(&k.PublicKey)
	m["kid"], m["alg"] = "unrelated", "ES256"
	return m
}

// esSignature signs the token's signing input with the fixture's ES256 key
// through audtest and lets fn rewrite the raw R||S signature.
func esSignature(fn func(sig []byte) []byte) func(*Fixture) string {
	return func(f *Fixture) string {
		t := f.Issuer.MustSign(audtest.Token{Claims: f.claims(nil), KeyID: f.ES256})
		i := strings.LastIndexByte(t, '.')
		sig, err := base64.RawURLEncoding.DecodeString(t[i+1:])
		if err != nil {
			panic(err)
		}
		return t[:i+1] + base64.RawURLEncoding.EncodeToString(fn(sig))
	}
}

// pssAutoSalt signs with PS256 but a maximal salt length, which a strict
// verifier (salt length = hash length, RFC 7518 §3.5) refuses.
func pssAutoSalt(f *Fixture, priv *rsa.PrivateKey) string {
	in := rawToken(`{"alg":"PS256","kid":"pss","typ":"at+jwt"}`, validClaimsJSON(f, nil, ""), "")
	in = strings.TrimSuffix(in, ".")
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	if err != nil {
		panic(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// highS returns the ECDSA signature with s replaced by n - s (still valid;
// JOSE does not require low-S).
func highS(sig []byte) []byte {
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := append([]byte(nil), sig[:32]...)
	return append(out, s.FillBytes(make([]byte, 32))...)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// CheckClaims compares the claims a transport handed to its handler with
// the token the request carried, decoded here independently with
// encoding/json: every registered claim, the header's alg and kid, and the
// raw claims set. It returns nil when they agree.
func CheckClaims(authorization []string, c *middleware.Claims) error {
	if len(authorization) != 1 {
		return fmt.Errorf("accepted with %d Authorization values", len(authorization))
	}
	a := authorization[0]
	if len(a) < 7 || !strings.EqualFold(a[:6], "bearer") {
		return fmt.Errorf("accepted a non-Bearer credential")
	}
	tok := strings.TrimLeft(a[6:], " ")
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		return fmt.Errorf("accepted a token with %d segments", len(p))
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(p[0], &hdr); err != nil {
		return err
	}
	var cl map[string]any
	if err := decodeSegment(p[1], &cl); err != nil {
		return err
	}
	raw, _ := base64.RawURLEncoding.DecodeString(p[1])
	str := func(name string) string { s, _ := cl[name].(string); return s }
	date := func(name string) time.Time {
		n, ok := cl[name].(json.Number)
		if !ok {
			return time.Time{}
		}
		f, _ := n.Float64()
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	var aud []string
	switch v := cl["aud"].(type) {
	case string:
		aud = []string{v}
	case []any:
		for _, e := range v {
			s, _ := e.(string)
			aud = append(aud, s)
		}
	}
	var scp []string
	if arr, ok := cl["scp"].([]any); ok {
		for _, e := range arr {
			s, _ := e.(string)
			scp = append(scp, s)
		}
	}
	scopes := strings.Fields(str("scope"))
	var diffs []string
	check := func(name string, got, want any) {
		if !reflect.DeepEqual(got, want) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, token says %v", name, got, want))
		}
	}
	check("Issuer", c.Issuer, str("iss"))
	check("Subject", c.Subject, str("sub"))
	check("ClientID", c.ClientID, str("client_id"))
	check("Audience", c.Audience, aud)
	check("Scope", c.Scope, str("scope"))
	check("ID", c.ID, str("jti"))
	check("Expiry", c.Expiry, date("exp"))
	check("NotBefore", c.NotBefore, date("nbf"))
	check("IssuedAt", c.IssuedAt, date("iat"))
	check("Algorithm", c.Algorithm, hdr.Alg)
	check("KeyID", c.KeyID, hdr.Kid)
	check("RawJSON", string(c.RawJSON()), string(raw))
	if len(c.Scopes) < len(scopes) || !slices.Equal(c.Scopes[:len(scopes)], scopes) {
		diffs = append(diffs, fmt.Sprintf("Scopes: got %v, scope claim %v", c.Scopes, scopes))
	} else {
		for _, s := range c.Scopes[len(scopes):] {
			if !slices.Contains(scp, s) {
				diffs = append(diffs, fmt.Sprintf("Scopes: %q is in neither scope nor scp", s))
			}
		}
	}
	if len(diffs) > 0 {
		return errors.New(strings.Join(diffs, "; "))
	}
	return nil
}

func decodeSegment(seg string, dst any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("accepted a segment that is not base64url: %w", err)
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(dst); err != nil {
		return fmt.Errorf("accepted a segment that is not JSON: %w", err)
	}
	return nil
}
