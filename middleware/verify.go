package middleware

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/audguard/audguard/internal/jose"
	"github.com/audguard/audguard/jwks"
)

// Verifier verifies access tokens for one resource. It is safe for
// concurrent use. Create it with [New]; call [Verifier.Close] when done if
// any issuer uses a remote JWKS.
type Verifier struct {
	cfg     config
	issuers map[string]*issuerState
	remotes []*jwks.Remote
	cache   *tokenCache
}

type issuerState struct {
	url  string
	keys KeySource
}

// New validates cfg and returns a Verifier. All configuration problems are
// reported together, joined in one error. New performs no network I/O and
// starts no goroutine: remote key sets are fetched on first use.
func New(cfg Config) (*Verifier, error) {
	c, errs := cfg.validate()
	if len(errs) > 0 {
		return nil, fmt.Errorf("audguard: invalid configuration:\n  %w", joinIndented(errs))
	}
	v := &Verifier{cfg: c, issuers: make(map[string]*issuerState, len(cfg.Issuers))}
	for _, is := range cfg.Issuers {
		keys := is.Keys
		if keys == nil {
			r, err := jwks.NewRemote(v.remoteConfig(cfg, is))
			if err != nil {
				v.Close()
				return nil, fmt.Errorf("audguard: invalid configuration: issuer %q: %w", is.URL, err)
			}
			v.remotes = append(v.remotes, r)
			keys = r
		}
		v.issuers[is.URL] = &issuerState{url: is.URL, keys: keys}
	}
	if c.cacheSize > 0 {
		v.cache = newTokenCache(c.cacheSize)
	}
	return v, nil
}

func (v *Verifier) remoteConfig(cfg Config, is Issuer) jwks.RemoteConfig {
	o := cfg.JWKS
	if o.HTTPClient == nil {
		o.HTTPClient = cfg.HTTPClient
	}
	if o.Logger == nil {
		o.Logger = v.cfg.logger
	}
	if o.Now == nil {
		o.Now = cfg.Now
	}
	if cfg.AllowHTTPLoopback {
		o.AllowHTTPLoopback = true
	}
	if o.RSAAlgorithm == "" {
		o.RSAAlgorithm = v.soleRSAAlgorithm()
	}
	if obs := cfg.Observer; obs != nil {
		prev := o.OnFetch
		o.OnFetch = func(e jwks.FetchEvent) {
			if prev != nil {
				prev(e)
			}
			fe := e
			obs(Event{Kind: EventKeyFetch, Issuer: is.URL, Err: e.Err, Fetch: &fe})
		}
	}
	return jwks.RemoteConfig{Issuer: is.URL, JWKSURI: is.JWKSURI, Options: o}
}

// soleRSAAlgorithm returns the allow-list's RSA algorithm when it holds
// exactly one (an issuer that signs PS256 with keys published without
// "alg", and Algorithms: ["PS256"]), and "" otherwise, leaving the jwks
// default (RS256). An RSA key without "alg" is still bound to exactly one
// algorithm (standards-and-attacks §3 C7).
func (v *Verifier) soleRSAAlgorithm() string {
	sole := ""
	for a := range v.cfg.algs {
		if _, _, isRSA := rsaAlg(a); isRSA {
			if sole != "" {
				return ""
			}
			sole = a
		}
	}
	return sole
}

// Close stops the background refresh of the remote key sets New created.
// Keys passed in Config are not closed. Close is safe to call more than once.
func (v *Verifier) Close() error {
	var errs []error
	for _, r := range v.remotes {
		if err := r.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Refresh fetches the key sets of every issuer that uses a remote JWKS. It
// is optional (keys are fetched on first use); call it at start-up to warm
// the cache or to fail fast on a misconfigured issuer.
func (v *Verifier) Refresh(ctx context.Context) error {
	var errs []error
	for _, r := range v.remotes {
		if err := r.Refresh(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Resource returns the canonical resource URI, as configured.
func (v *Verifier) Resource() string { return v.cfg.resource }

// Verify checks a compact JWS access token and returns its claims. It runs
// the whole pipeline except scopes: shape, JOSE header rules, issuer
// selection by exact "iss", key lookup within that issuer, signature,
// audience, lifetime, claim types and profile. Scope requirements are
// checked by [Verifier.Authenticate], [Verifier.Handler] and
// [Verifier.CheckScopes].
//
// Every failure wraps [ErrInvalidToken] and one finer sentinel.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token, false)
	v.report(ctx, c, err)
	return c, err
}

// verify is Verify without reporting. compact says the caller already
// found every byte of token in the compact-JWS alphabet (bearerToken does),
// so that the shape check need not scan it again.
func (v *Verifier) verify(ctx context.Context, token string, compact bool) (*Claims, error) {
	if len(token) > v.cfg.maxToken {
		// Refused before the cache hashes it: an oversized token must
		// cost nothing proportional to its size.
		return nil, failWith(ErrMalformed, "shape", jose.ErrTooLarge)
	}
	now := v.cfg.now()
	var h1, h2 uint64
	if v.cache != nil {
		h1, h2 = v.cache.hash(token)
		if c, ok := v.cache.get(ctx, h1, h2, now, v.cfg.leeway); ok {
			return c, nil
		}
	}
	t := parsedToken{compact: compact}
	if err := v.parse(token, &t); err != nil {
		return nil, err
	}
	is, key, err := v.selectKey(ctx, &t)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(key, &t); err != nil {
		return nil, err
	}
	if err := v.checkClaims(&t, now); err != nil {
		return nil, err
	}
	c := t.claims(is.url, v.cfg.scp)
	c.by = v
	if v.cache == nil {
		return c, nil
	}
	// The cache keeps c; the caller gets its own copy.
	v.cache.put(h1, h2, c, key, is.keys)
	return c.clone(), nil
}

// parsedToken is one token under verification. Its strings point into the
// decoded header and payload, which are each held by a single allocation.
type parsedToken struct {
	parts   jose.Parts
	compact bool // the token is known to hold only compact-JWS bytes

	alg, kid, typ string
	hasAlg        bool
	hasKID        bool
	hasTyp        bool
	refused       string // first refused header parameter, with the reason

	payload string // decoded claims set

	iss, sub, clientID, jti, scope string
	hasIss                         bool
	aud                            jose.Value // String or Array, validated
	hasAud                         bool
	// The "aud" entries, collected by checkAudience: the first ones in
	// audBuf, the rest in audMore. (No slice of audBuf is kept in the
	// struct: a pointer into itself would move every parsedToken to the
	// heap.)
	audN                   int
	audBuf                 [4]string
	audMore                []string
	exp, nbf, iat          float64
	hasExp, hasNbf, hasIat bool
	scp                    jose.Value
	hasScp                 bool
	hasCnf                 bool
	idTokenClaim           string // "nonce", "at_hash" or "c_hash" when present
	// claimErr is the first claim-type problem found while scanning. It
	// is reported after the signature check (pipeline step 7), so an
	// unsigned token learns nothing from it.
	claimErr error
}

// refusedHeaders are JOSE header parameters audguard never honours
// (standards-and-attacks §3 B2, B18-B21, D1-D4). JWE-only parameters mark a
// JWE presented as a JWS.
var refusedHeaders = map[string]string{
	"crit": "crit (no extension is understood)",
	"b64":  "b64 (unencoded payloads are not JWTs)",
	"zip":  "zip (compression is JWE-only)",
	"enc":  "enc (JWE is not accepted)",
	"epk":  "epk (JWE is not accepted)",
	"apu":  "apu (JWE is not accepted)",
	"apv":  "apv (JWE is not accepted)",
	"iv":   "iv (JWE is not accepted)",
	"tag":  "tag (JWE is not accepted)",
	"p2s":  "p2s (JWE is not accepted)",
	"p2c":  "p2c (JWE is not accepted)",
	"jwk":  "jwk (embedded keys are never trusted)",
	"jku":  "jku (key URLs are never dereferenced)",
	"x5u":  "x5u (certificate URLs are never dereferenced)",
	"x5c":  "x5c (no X.509 trust path)",
}

const maxKIDLen = 256

// parse runs pipeline steps 2 and 3 (shape and header) and scans the
// claims set.
func (v *Verifier) parse(raw string, t *parsedToken) error {
	if err := t.split(raw, v.cfg.maxToken); err != nil {
		return err
	}
	if err := t.scanHeader(); err != nil {
		return err
	}
	if err := v.checkHeader(t); err != nil {
		return err
	}
	return t.scanPayload()
}

func (t *parsedToken) split(raw string, max int) error {
	var parts jose.Parts
	var err error
	if t.compact {
		parts, err = jose.SplitCompact(raw, max)
	} else {
		parts, err = jose.Split(raw, max)
	}
	if err != nil {
		return failWith(ErrMalformed, "shape", err)
	}
	t.parts = parts
	return nil
}

// scanHeader decodes the JOSE header and records alg, kid, typ and the
// first refused parameter.
func (t *parsedToken) scanHeader() error {
	hdoc, hdr, err := jose.DecodeString(t.parts.Header)
	if err != nil {
		return failWith(ErrMalformed, "header", err)
	}
	err = jose.ForEachMember(hdr, jose.DefaultLimits, func(name []byte, val jose.Value) error {
		switch string(name) {
		case "alg":
			s, err := val.Text(hdoc)
			if err != nil {
				return errors.New(`"alg" is not a string`)
			}
			t.alg, t.hasAlg = s, true
		case "kid":
			s, err := val.Text(hdoc)
			if err != nil {
				return errors.New(`"kid" is not a string`)
			}
			if s == "" || len(s) > maxKIDLen || !printableUTF8(s) {
				return errors.New(`"kid" is empty, too long or has control characters`)
			}
			t.kid, t.hasKID = s, true
		case "typ":
			s, err := val.Text(hdoc)
			if err != nil {
				return errors.New(`"typ" is not a string`)
			}
			t.typ, t.hasTyp = s, true
		case "cty":
			s, err := val.Text(hdoc)
			if err != nil {
				return errors.New(`"cty" is not a string`)
			}
			if mediaTypeIs(s, "jwt") && t.refused == "" {
				t.refused = "cty JWT (nested tokens are not accepted)"
			}
		default:
			if why, ok := refusedHeaders[string(name)]; ok && t.refused == "" {
				t.refused = why
			}
		}
		return nil
	})
	if err != nil {
		return failWith(ErrMalformed, "header", err)
	}
	if !t.hasAlg {
		return fail(ErrMalformed, `header has no "alg"`)
	}
	return nil
}

// checkHeader applies the header rules: algorithm allow-list (exact,
// case-sensitive), refused parameters, typ policy.
func (v *Verifier) checkHeader(t *parsedToken) error {
	if !v.cfg.algs[t.alg] {
		return fail(ErrHeader, "alg is not in the allow-list")
	}
	if t.refused != "" {
		return fail(ErrHeader, "header parameter "+t.refused)
	}
	if !v.typAccepted(t) {
		return fail(ErrHeader, "typ is not accepted by the "+v.cfg.typ.String()+" policy")
	}
	return nil
}

// scanPayload decodes the claims set and records the registered claims.
func (t *parsedToken) scanPayload() error {
	payload, pl, err := jose.DecodeString(t.parts.Payload)
	if err != nil {
		return failWith(ErrMalformed, "payload", err)
	}
	t.payload = payload
	if err := jose.ForEachMember(pl, jose.DefaultLimits, t.scanClaim); err != nil {
		return failWith(ErrMalformed, "claims set", err)
	}
	return nil
}

func (v *Verifier) typAccepted(t *parsedToken) bool {
	if v.cfg.typ == TypStrict {
		return t.typIsATJWT()
	}
	return !t.hasTyp || mediaTypeIs(t.typ, "jwt") || t.typIsATJWT()
}

// typIsATJWT reports an explicit RFC 9068 "typ": "at+jwt".
func (t *parsedToken) typIsATJWT() bool { return t.hasTyp && mediaTypeIs(t.typ, "at+jwt") }

// mediaTypeIs compares a "typ"/"cty" value with a media subtype, case
// insensitively, with or without the "application/" prefix (RFC 7515
// §4.1.9).
func mediaTypeIs(v, subtype string) bool {
	if len(v) > len("application/") && strings.EqualFold(v[:len("application/")], "application/") {
		v = v[len("application/"):]
	}
	return strings.EqualFold(v, subtype)
}

// scanClaim records one claim. Type problems are kept in claimErr and
// reported after the signature check.
func (t *parsedToken) scanClaim(name []byte, val jose.Value) error {
	typeErr := func(what string) {
		if t.claimErr == nil {
			t.claimErr = fail(ErrMalformed, what)
		}
	}
	str := func(dst *string, claim string) bool {
		s, err := val.Text(t.payload)
		if err != nil {
			typeErr(`"` + claim + `" is not a string`)
			return false
		}
		*dst = s
		return true
	}
	date := func(dst *float64, has *bool, claim string) {
		f, err := val.Float()
		if err != nil {
			typeErr(`"` + claim + `" is not a NumericDate`)
			return
		}
		*dst, *has = f, true
	}
	switch string(name) {
	case "iss":
		t.hasIss = str(&t.iss, "iss")
	case "sub":
		str(&t.sub, "sub")
	case "client_id":
		str(&t.clientID, "client_id")
	case "jti":
		str(&t.jti, "jti")
	case "scope":
		if str(&t.scope, "scope") && !validScopeClaim(t.scope) {
			typeErr(`"scope" has characters outside RFC 6749 §3.3`)
		}
	case "scp":
		t.scp, t.hasScp = val, true
	case "aud":
		t.aud, t.hasAud = val, val.Kind != jose.Null
	case "exp":
		date(&t.exp, &t.hasExp, "exp")
	case "nbf":
		date(&t.nbf, &t.hasNbf, "nbf")
	case "iat":
		date(&t.iat, &t.hasIat, "iat")
	case "cnf":
		t.hasCnf = true
	case "nonce":
		t.markIDToken("nonce")
	case "at_hash":
		t.markIDToken("at_hash")
	case "c_hash":
		t.markIDToken("c_hash")
	}
	return nil
}

// markIDToken records the first ID-token claim seen (a constant, so that
// recording it does not allocate).
func (t *parsedToken) markIDToken(claim string) {
	if t.idTokenClaim == "" {
		t.idTokenClaim = claim
	}
}

// validScopeClaim accepts scope-tokens (NQCHAR) separated by spaces.
func validScopeClaim(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && !scopeChar(c) {
			return false
		}
	}
	return true
}

// selectKey runs pipeline steps 4 and 5: the unverified "iss" selects the
// issuer, and only that issuer's key source is asked for the key.
func (v *Verifier) selectKey(ctx context.Context, t *parsedToken) (*issuerState, *jwks.Key, error) {
	if !t.hasIss {
		if t.claimErr != nil {
			return nil, nil, fail(ErrIssuer, `"iss" is missing or not a string`)
		}
		return nil, nil, fail(ErrIssuer, `"iss" is missing`)
	}
	is, ok := v.issuers[t.iss]
	if !ok {
		return nil, nil, fail(ErrIssuer, "iss is not a configured issuer")
	}
	key, err := keyFor(ctx, is.keys, t)
	if err != nil {
		return nil, nil, err
	}
	return is, key, nil
}

// keyFor asks one issuer's key source for the token's key (pipeline step
// 5) and checks that the key is bound to the token's alg.
func keyFor(ctx context.Context, keys KeySource, t *parsedToken) (*jwks.Key, error) {
	key, err := keys.Key(ctx, t.kid, t.alg)
	switch {
	case err == nil:
	case errors.Is(err, jwks.ErrUnavailable):
		return nil, failWith(ErrKeysUnavailable, "issuer key source", err)
	default:
		return nil, failWith(ErrSignature, "key lookup", err)
	}
	if key == nil || key.Algorithm() != t.alg {
		// A key source must bind each key to one algorithm; refuse a
		// source that returns a key for another one.
		return nil, fail(ErrSignature, "key is not bound to the token's alg")
	}
	return key, nil
}

// verifySignature is pipeline step 6, with the key converted to its crypto
// type when the key set was loaded.
func verifySignature(key *jwks.Key, t *parsedToken) error {
	var sigBuf [1024]byte
	if jose.DecodedLen(len(t.parts.Signature)) > len(sigBuf) {
		return fail(ErrSignature, "signature too long")
	}
	sig, err := jose.Decode(sigBuf[:0], t.parts.Signature)
	if err != nil {
		return failWith(ErrMalformed, "signature", err)
	}
	input := unsafe.Slice(unsafe.StringData(t.parts.SigningInput), len(t.parts.SigningInput))
	if err := verifyWith(key.Public(), t.alg, input, sig); err != nil {
		return fail(ErrSignature, "signature does not verify")
	}
	return nil
}

// maxNumericDate is 9999-12-31T23:59:59Z; larger dates are refused before
// any float-to-integer conversion (standards-and-attacks §3 F6).
const maxNumericDate = 253402300799

// outOfRange reports a NumericDate that toTime cannot convert faithfully.
func outOfRange(f float64) bool { return f > maxNumericDate || f < -maxNumericDate }

// datesOutOfRange reports whether exp, nbf or iat, where present, is out
// of range. Verify and Explain both check it before any date comparison.
func (t *parsedToken) datesOutOfRange() bool {
	return t.hasExp && outOfRange(t.exp) || t.hasNbf && outOfRange(t.nbf) || t.hasIat && outOfRange(t.iat)
}

func toTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// checkClaims is pipeline step 7.
func (v *Verifier) checkClaims(t *parsedToken, now time.Time) error {
	if t.claimErr != nil {
		return t.claimErr
	}
	if err := v.checkAudience(t); err != nil {
		return err
	}
	if err := v.checkTimes(t, now); err != nil {
		return err
	}
	return v.checkProfile(t, now)
}

const detailAudNoMatch = `"aud" does not name this resource`

var (
	errTooManyAud   = errors.New(`"aud" has too many entries`)
	errNonStringAud = errors.New(`"aud" has a non-string entry`)
	errLongAud      = errors.New(`"aud" has an entry that is too long`)
)

func (v *Verifier) checkAudience(t *parsedToken) error {
	if !t.hasAud {
		return fail(ErrAudience, `"aud" is missing`)
	}
	switch t.aud.Kind {
	case jose.String:
		s, _ := t.aud.Text(t.payload)
		if len(s) > 2048 {
			return fail(ErrAudience, `"aud" is too long`)
		}
		if !v.cfg.matcher.Match(s) {
			return fail(ErrAudience, detailAudNoMatch)
		}
		t.addAud(s)
		return nil
	case jose.Array:
		n, matched, foreign := 0, false, false
		err := t.aud.ForEachElement(func(e jose.Value) error {
			n++
			if n > MaxAudiences {
				return errTooManyAud
			}
			s, err := e.Text(t.payload)
			if err != nil {
				return errNonStringAud
			}
			if len(s) > 2048 {
				return errLongAud
			}
			if !matched || v.cfg.multiAud {
				if v.cfg.matcher.Match(s) {
					matched = true
				} else if v.cfg.multiAud {
					foreign = true
				}
			}
			t.addAud(s)
			return nil
		})
		switch {
		case err != nil:
			return failWith(ErrAudience, "", err)
		case n == 0:
			return fail(ErrAudience, `"aud" is an empty array`)
		case !matched:
			return fail(ErrAudience, detailAudNoMatch)
		case foreign:
			return fail(ErrAudience, `"aud" also names another audience`)
		}
		return nil
	}
	return fail(ErrAudience, `"aud" is neither a string nor an array of strings`)
}

func (t *parsedToken) addAud(s string) {
	if t.audN < len(t.audBuf) {
		t.audBuf[t.audN] = s
	} else {
		t.audMore = append(t.audMore, s)
	}
	t.audN++
}

func (v *Verifier) checkTimes(t *parsedToken, now time.Time) error {
	lw := v.cfg.leeway
	if !t.hasExp {
		return fail(ErrExpired, `"exp" is missing`)
	}
	if t.datesOutOfRange() {
		return fail(ErrMalformed, "a NumericDate is out of range")
	}
	if !now.Before(toTime(t.exp).Add(lw)) {
		return fail(ErrExpired, "exp is in the past")
	}
	if t.hasNbf && now.Add(lw).Before(toTime(t.nbf)) {
		return fail(ErrNotYetValid, "nbf is in the future")
	}
	if t.hasIat && now.Add(lw).Before(toTime(t.iat)) {
		return fail(ErrNotYetValid, "iat is in the future")
	}
	return nil
}

func (v *Verifier) checkProfile(t *parsedToken, now time.Time) error {
	if t.hasCnf {
		return fail(ErrClaims, `"cnf" binds the token to a key that Bearer cannot prove (RFC 9449 §7, RFC 8705 §3)`)
	}
	if t.idTokenClaim != "" && !t.typIsATJWT() {
		// An OpenID Connect ID token looks like an access token but for
		// its typ and these claims; with a relaxed typ, refuse them
		// (RFC 8725 §3.12, RFC 9068 §5).
		return fail(ErrClaims, `"`+t.idTokenClaim+`" marks an OpenID Connect ID token, not an access token`)
	}
	if v.cfg.typ == TypStrict {
		switch {
		case t.sub == "":
			return fail(ErrClaims, `"sub" is required by the strict profile`)
		case t.clientID == "":
			return fail(ErrClaims, `"client_id" is required by the strict profile`)
		case !t.hasIat:
			return fail(ErrClaims, `"iat" is required by the strict profile`)
		case t.jti == "":
			return fail(ErrClaims, `"jti" is required by the strict profile`)
		}
	}
	if v.cfg.scp && t.hasScp {
		if err := forEachSCP(t, func(string) {}); err != nil {
			return err
		}
	}
	if max := v.cfg.maxLifetime; max > 0 {
		start := now
		if t.hasIat {
			start = toTime(t.iat)
		}
		if toTime(t.exp).Sub(start) > max {
			return fail(ErrClaims, "token lifetime exceeds MaxTokenLifetime")
		}
	}
	return nil
}

// forEachSCP walks an "scp" claim: a string of space-separated scopes or an
// array of scope strings.
func forEachSCP(t *parsedToken, fn func(string)) error {
	bad := fail(ErrMalformed, `"scp" is not a string or an array of scope strings`)
	switch t.scp.Kind {
	case jose.String:
		s, _ := t.scp.Text(t.payload)
		if !validScopeClaim(s) {
			return bad
		}
		for _, f := range strings.Fields(s) {
			fn(f)
		}
		return nil
	case jose.Array:
		err := t.scp.ForEachElement(func(e jose.Value) error {
			s, err := e.Text(t.payload)
			if err != nil || s == "" || strings.IndexByte(s, ' ') >= 0 || !validScopeClaim(s) {
				return bad
			}
			fn(s)
			return nil
		})
		if err != nil {
			return bad
		}
		return nil
	}
	return bad
}

// claimsBlock holds a Claims and room for its usual slices, so that the
// Claims of a typical token costs one allocation.
type claimsBlock struct {
	c      Claims
	aud    [2]string
	scopes [6]string
}

// claims builds the Claims of a token that passed every check
// (checkAudience collected the "aud" entries).
func (t *parsedToken) claims(issuer string, scp bool) *Claims {
	b := &claimsBlock{}
	c := &b.c
	*c = Claims{
		Issuer:    issuer,
		Subject:   t.sub,
		ClientID:  t.clientID,
		Scope:     t.scope,
		ID:        t.jti,
		Expiry:    toTime(t.exp),
		KeyID:     t.kid,
		Algorithm: t.alg,
		raw:       t.payload,
	}
	if t.hasNbf {
		c.NotBefore = toTime(t.nbf)
	}
	if t.hasIat {
		c.IssuedAt = toTime(t.iat)
	}
	if t.audN <= len(b.aud) {
		c.Audience = b.aud[:t.audN:t.audN]
	} else {
		c.Audience = make([]string, t.audN)
	}
	n := copy(c.Audience, t.audBuf[:min(t.audN, len(t.audBuf))])
	copy(c.Audience[n:], t.audMore)
	c.Scopes = splitScopes(t.scope, b.scopes[:0])
	if scp && t.hasScp {
		_ = forEachSCP(t, func(s string) {
			if !contains(c.Scopes, s) {
				c.Scopes = append(c.Scopes, s)
			}
		})
	}
	// No spare capacity: a caller appending to its Scopes must not write
	// into the block, which the cache shares with every copy it hands out.
	c.Scopes = c.Scopes[:len(c.Scopes):len(c.Scopes)]
	return c
}

// splitScopes splits a validated "scope" claim on spaces, appending to
// buf when the scopes fit in it and allocating once otherwise. It returns
// nil when there is no scope.
func splitScopes(s string, buf []string) []string {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && (i == 0 || s[i-1] == ' ') {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := buf[:0]
	if cap(out) < n {
		out = make([]string, 0, n)
	}
	for len(s) > 0 {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		s = s[i+1:]
	}
	return out
}

func joinIndented(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}
