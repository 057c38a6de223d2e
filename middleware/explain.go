package middleware

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audguard/audguard/internal/jose"
	"github.com/audguard/audguard/jwks"
)

// Check is one step reported by [Verifier.Explain].
type Check struct {
	// Name names the step: "format", "header", "algorithm",
	// "header parameters", "typ", "claims", "issuer", "key", "signature",
	// "claim types", "audience", "expiry", "not before", "issued at",
	// "profile", "scopes".
	Name string
	// OK reports that the step passed. A skipped step is not OK.
	OK bool
	// Skipped reports that the step could not run because an earlier one
	// failed.
	Skipped bool
	// Detail explains the outcome in plain words. It may quote claim
	// values: it is meant for operators, never for clients. It never
	// contains the signature.
	Detail string
}

// Explain runs every check of the pipeline on token and reports each one,
// continuing past a failure wherever later checks still say something
// useful (claims are checked even when the signature fails, and say so).
// The returned error is what [Verifier.Verify] followed by a check of
// Config.Scopes and scopes would return: nil only when the token is
// accepted. Explain neither uses nor fills the verified-token cache, and it
// reports nothing to the Logger or Observer.
//
// Use it for diagnostics (the audguard check command). Its output can hold
// claim values and must not be sent to clients.
func (v *Verifier) Explain(ctx context.Context, raw string, scopes ...string) ([]Check, error) {
	var (
		checks []Check
		first  error
	)
	add := func(name string, err error, okDetail string) bool {
		c := Check{Name: name, OK: err == nil, Detail: okDetail}
		if err != nil {
			c.Detail = explainError(err)
			if first == nil {
				first = err
			}
		}
		checks = append(checks, c)
		return err == nil
	}
	skip := func(names ...string) {
		for _, n := range names {
			checks = append(checks, Check{Name: n, Skipped: true, Detail: "skipped: an earlier check failed"})
		}
	}
	now := v.cfg.now()
	var t parsedToken

	if err := t.split(raw, v.cfg.maxToken); err != nil {
		add("format", err, "")
		checks[len(checks)-1].Detail = formatDetail(raw, checks[len(checks)-1].Detail)
		skip("header", "algorithm", "header parameters", "typ", "claims", "issuer", "key", "signature", "claim types", "audience", "expiry", "not before", "issued at", "profile", "scopes")
		return checks, first
	}
	if !add("format", nil, fmt.Sprintf("compact JWS, three segments, %d bytes", len(raw))) {
		skip("header", "algorithm", "header parameters", "typ", "claims", "issuer", "key", "signature", "claim types", "audience", "expiry", "not before", "issued at", "profile", "scopes")
		return checks, first
	}
	if !add("header", t.scanHeader(), headerSummary(&t)) {
		skip("algorithm", "header parameters", "typ", "claims", "issuer", "key", "signature", "claim types", "audience", "expiry", "not before", "issued at", "profile", "scopes")
		return checks, first
	}
	algs := make([]string, 0, len(v.cfg.algs))
	for a := range v.cfg.algs {
		algs = append(algs, a)
	}
	slices.Sort(algs)
	var algErr error
	if !v.cfg.algs[t.alg] {
		algErr = fmt.Errorf("%w: alg %s is not in the allow-list %v", ErrHeader, show(t.alg), algs)
	}
	add("algorithm", algErr, fmt.Sprintf("alg %s is in the allow-list %v", t.alg, algs))
	var refErr error
	if t.refused != "" {
		refErr = fmt.Errorf("%w: header parameter %s", ErrHeader, t.refused)
	}
	add("header parameters", refErr, "no crit, b64, zip, enc, jwk, jku, x5u, x5c or nested-JWT parameter")
	var typErr error
	if !v.typAccepted(&t) {
		typErr = fmt.Errorf("%w: typ %s is not accepted by the %s policy", ErrHeader, showTyp(&t), v.cfg.typ)
	}
	add("typ", typErr, fmt.Sprintf("typ %s is accepted by the %s policy", showTyp(&t), v.cfg.typ))

	if !add("claims", t.scanPayload(), "the claims set is a JSON object without duplicate members") {
		skip("issuer", "key", "signature", "claim types", "audience", "expiry", "not before", "issued at", "profile", "scopes")
		return checks, first
	}

	// Issuer, key and signature.
	var (
		is      *issuerState
		key     *jwks.Key
		sigOK   bool
		configd = make([]string, 0, len(v.issuers))
	)
	for u := range v.issuers {
		configd = append(configd, u)
	}
	slices.Sort(configd)
	var issErr error
	switch {
	case !t.hasIss:
		issErr = fmt.Errorf(`%w: "iss" is missing or not a string`, ErrIssuer)
	default:
		var ok bool
		if is, ok = v.issuers[t.iss]; !ok {
			issErr = fmt.Errorf("%w: iss %s is not one of the configured issuers %v (compared byte for byte)", ErrIssuer, show(t.iss), configd)
		}
	}
	if add("issuer", issErr, fmt.Sprintf("iss %s is a configured issuer", show(t.iss))) && algErr == nil {
		k, err := is.keys.Key(ctx, t.kid, t.alg)
		var keyErr error
		switch {
		case errors.Is(err, jwks.ErrUnavailable):
			keyErr = fmt.Errorf("%w: the issuer's keys are unavailable: %v", ErrKeysUnavailable, err)
		case err != nil:
			keyErr = fmt.Errorf("%w: no usable key with kid %s for alg %s in the issuer's key set", ErrSignature, showKID(&t), t.alg)
		case k == nil || k.Algorithm() != t.alg:
			keyErr = fmt.Errorf("%w: the key is not bound to alg %s", ErrSignature, t.alg)
		}
		if add("key", keyErr, fmt.Sprintf("kid %s found, bound to %s", showKID(&t), t.alg)) {
			key = k
			sigOK = add("signature", verifySignature(key, &t), "the signature verifies with that key")
		} else {
			skip("signature")
		}
	} else {
		skip("key", "signature")
	}
	// Claims, evaluated even without a verified signature; every claim
	// check then says that its values are only what the token claims.
	addClaim := add
	if !sigOK {
		addClaim = func(name string, err error, okDetail string) bool {
			ok := add(name, err, okDetail)
			checks[len(checks)-1].Detail += " (unverified: the signature was not checked or did not verify)"
			return ok
		}
	}
	addClaim("claim types", t.claimErr, "registered claims have their JSON types")
	audErr := v.checkAudience(&t)
	var de *detailError
	if errors.As(audErr, &de) && de.detail == detailAudNoMatch {
		// Operators get the values; clients never see this text.
		audErr = fmt.Errorf("%w: aud %s does not contain %s", ErrAudience, showAud(&t), v.cfg.resource)
	}
	addClaim("audience", audErr, fmt.Sprintf("aud %s contains %s", showAud(&t), v.cfg.resource))
	v.explainTimes(&t, now, addClaim)
	addClaim("profile", v.checkProfile(&t, now), profileSummary(v, &t))

	required := v.requiredScopes(scopes)
	if first == nil {
		c := t.claims(is.url, v.cfg.scp)
		add("scopes", v.checkScopes(c, required), fmt.Sprintf("scope %s covers %v", show(t.scope), required))
	} else if len(required) > 0 {
		skip("scopes")
	}
	return checks, first
}

func (v *Verifier) explainTimes(t *parsedToken, now time.Time, add func(string, error, string) bool) {
	lw := v.cfg.leeway
	rel := func(at time.Time) string {
		d := at.Sub(now).Round(time.Second)
		if d >= 0 {
			return fmt.Sprintf("%s (in %s)", at.Format(time.RFC3339), d)
		}
		return fmt.Sprintf("%s (%s ago)", at.Format(time.RFC3339), -d)
	}
	var err error
	switch {
	case !t.hasExp:
		err = fmt.Errorf(`%w: "exp" is missing`, ErrExpired)
	case t.datesOutOfRange():
		err = fmt.Errorf("%w: a NumericDate (exp, nbf or iat) is out of range", ErrMalformed)
	case !now.Before(toTime(t.exp).Add(lw)):
		err = fmt.Errorf("%w: exp %s is past, leeway %s", ErrExpired, rel(toTime(t.exp)), lw)
	}
	okExp := ""
	if t.hasExp {
		okExp = "exp " + rel(toTime(t.exp))
	}
	add("expiry", err, okExp)
	err = nil
	okNbf := "no nbf"
	if t.hasNbf {
		okNbf = "nbf " + rel(toTime(t.nbf))
		switch {
		case outOfRange(t.nbf):
			err = fmt.Errorf("%w: nbf is out of range", ErrMalformed)
		case now.Add(lw).Before(toTime(t.nbf)):
			err = fmt.Errorf("%w: nbf %s is in the future, leeway %s", ErrNotYetValid, rel(toTime(t.nbf)), lw)
		}
	}
	add("not before", err, okNbf)
	err = nil
	okIat := "no iat"
	if t.hasIat {
		okIat = "iat " + rel(toTime(t.iat))
		switch {
		case outOfRange(t.iat):
			err = fmt.Errorf("%w: iat is out of range", ErrMalformed)
		case now.Add(lw).Before(toTime(t.iat)):
			err = fmt.Errorf("%w: iat %s is in the future, leeway %s", ErrNotYetValid, rel(toTime(t.iat)), lw)
		}
	}
	add("issued at", err, okIat)
}

func explainError(err error) string {
	var se *ScopeError
	if errors.As(err, &se) {
		return fmt.Sprintf("missing %v of the required %v", se.Missing, se.Required)
	}
	var de *detailError
	if errors.As(err, &de) && de.detail != "" {
		if de.cause != nil {
			return de.detail + ": " + de.cause.Error()
		}
		return de.detail
	}
	msg := err.Error()
	for _, s := range []error{ErrMalformed, ErrHeader, ErrSignature, ErrIssuer, ErrAudience, ErrExpired, ErrNotYetValid, ErrClaims, ErrKeysUnavailable} {
		if p := s.Error() + ": "; strings.HasPrefix(msg, p) {
			return msg[len(p):]
		}
	}
	return strings.TrimPrefix(msg, "audguard: ")
}

// formatDetail says in plain words why raw is not a compact JWS
// (header.payload.signature); detail is the scanner's own reason, used
// when nothing plainer applies. It never quotes a segment.
func formatDetail(raw, detail string) string {
	segs := strings.Split(raw, ".")
	switch {
	case raw == "":
		return "the token is empty"
	case len(segs) == 3 && segs[0] != "" && segs[1] != "" && segs[2] == "":
		if alg, ok := headerAlg(segs[0]); ok && strings.EqualFold(alg, "none") {
			return `unsigned token (alg "none", empty signature): unsigned tokens are never accepted`
		}
		return "unsigned token: the signature (third segment) is empty; unsigned tokens are never accepted"
	case len(segs) == 5:
		return "five segments: an encrypted token (JWE) rather than a signed one (JWS); a resource server accepts signed access tokens only"
	case len(segs) != 3:
		return fmt.Sprintf("not a signed JWT: a JWT has three dot-separated segments (header.payload.signature), this token has %d", len(segs))
	case segs[0] == "" || segs[1] == "":
		return "the header or the payload segment is empty"
	}
	detail = strings.TrimPrefix(detail, "shape: ")
	return strings.TrimPrefix(detail, "jose: ")
}

// headerAlg reads "alg" from a base64url JOSE header, for wording only.
func headerAlg(seg string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return "", false
	}
	return h.Alg, true
}

func headerSummary(t *parsedToken) string {
	return fmt.Sprintf("alg %s, kid %s, typ %s", show(t.alg), showKID(t), showTyp(t))
}

func profileSummary(v *Verifier, t *parsedToken) string {
	s := "no cnf"
	if v.cfg.typ == TypStrict {
		s += "; sub, client_id, iat and jti present (strict profile)"
	}
	if v.cfg.maxLifetime > 0 {
		s += fmt.Sprintf("; lifetime within %s", v.cfg.maxLifetime)
	}
	return s
}

func showKID(t *parsedToken) string {
	if !t.hasKID {
		return "(none)"
	}
	return show(t.kid)
}

func showTyp(t *parsedToken) string {
	if !t.hasTyp {
		return "(none)"
	}
	return show(t.typ)
}

// showAud renders the aud claim for operators, e.g. [https://a https://b].
func showAud(t *parsedToken) string {
	if !t.hasAud {
		return "(missing)"
	}
	switch t.aud.Kind {
	case jose.String:
		s, _ := t.aud.Text(t.payload)
		return "[" + show(s) + "]"
	case jose.Array:
		var parts []string
		_ = t.aud.ForEachElement(func(e jose.Value) error {
			if len(parts) == 8 {
				parts = append(parts, "…")
				return errors.New("enough")
			}
			if s, err := e.Text(t.payload); err == nil {
				parts = append(parts, show(s))
			} else {
				parts = append(parts, string(e.Raw))
			}
			return nil
		})
		return "[" + strings.Join(parts, " ") + "]"
	}
	return string(t.aud.Raw)
}

// show returns s as is when it is short printable ASCII, else quoted.
func show(s string) string {
	if len(s) > 200 {
		return strconv.Quote(s[:200]) + "…"
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
