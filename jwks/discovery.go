package jwks

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/audguard/audguard/internal/canonuri"
	"github.com/audguard/audguard/internal/jose"
)

// metadataLimits bound the JSON scan of a discovery document, which is
// larger and flatter than a JOSE header.
var metadataLimits = jose.Limits{MaxDepth: 16, MaxMembers: 4096, MaxNumber: 64}

// discoveryState caches the discovered JWKS URI and the last failure.
type discoveryState struct {
	uri    string    // discovered jwks_uri; "" until discovery succeeds
	at     time.Time // when uri was discovered
	failAt time.Time // when discovery last failed
	err    error     // the last failure; nil after a success
}

// resolveJWKSURI returns the configured JWKS URI, or the discovered one. A
// discovered URI is reused for MaxTTL, then discovered again (the previous
// one stays in use if that fails). A failed discovery is not retried
// within RefreshCooldown.
func (r *Remote) resolveJWKSURI(cause string) (string, error) {
	if r.jwksURI != "" {
		return r.jwksURI, nil
	}
	d := &r.disc
	now := r.now()
	if d.uri != "" && now.Sub(d.at) < r.opts.MaxTTL {
		return d.uri, nil
	}
	if d.err != nil && now.Sub(d.failAt) < r.opts.RefreshCooldown {
		if d.uri != "" {
			return d.uri, nil
		}
		return "", d.err
	}
	uri, err := r.discover(cause)
	if err != nil {
		d.err, d.failAt = err, r.now()
		if d.uri != "" {
			r.log.Warn("jwks: discovery failed; keeping the previously discovered jwks_uri",
				"issuer", r.issuer, "jwks_uri", d.uri, "err", err)
			return d.uri, nil
		}
		r.log.Warn("jwks: discovery failed", "issuer", r.issuer, "err", err)
		return "", err
	}
	d.uri, d.at, d.err = uri, r.now(), nil
	return uri, nil
}

// discover tries RFC 8414 authorization server metadata (well-known suffix
// inserted before the issuer's path), then OpenID Connect discovery
// (suffix appended), and returns the jwks_uri of the first document that
// names the configured issuer.
func (r *Remote) discover(cause string) (string, error) {
	var errs []error
	for _, u := range r.discoveryURLs() {
		uri, err := r.discoverFrom(u, cause)
		if err == nil {
			return uri, nil
		}
		errs = append(errs, err)
		if r.ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("%w for issuer %q: %w", ErrDiscovery, clip(r.issuer), errors.Join(errs...))
}

// discoveryURLs returns the RFC 8414 §3.1 and OpenID Connect Discovery §4
// locations for the issuer. Both remove a terminating "/" from the path.
//
//	https://as              -> https://as/.well-known/oauth-authorization-server
//	                           https://as/.well-known/openid-configuration
//	https://as/tenant       -> https://as/.well-known/oauth-authorization-server/tenant
//	                           https://as/tenant/.well-known/openid-configuration
func (r *Remote) discoveryURLs() []string {
	path := strings.TrimSuffix(r.issURI.RawPath, "/")
	return []string{
		r.issURI.Origin() + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(r.issuer, "/") + "/.well-known/openid-configuration",
	}
}

// discoverFrom fetches one metadata document and returns its jwks_uri.
func (r *Remote) discoverFrom(docURL, cause string) (string, error) {
	start := time.Now()
	body, _, err := r.get(docURL)
	var uri string
	if err == nil {
		uri, err = r.parseMetadata(docURL, body)
	}
	r.report(FetchEvent{Issuer: r.issuer, URL: docURL, Discovery: true, Cause: cause, Err: err, Duration: time.Since(start)})
	return uri, err
}

// parseMetadata checks a metadata document: a JSON object whose "issuer" is
// byte for byte the configured issuer (RFC 8414 §3.3; otherwise nothing in
// it is used) and whose "jwks_uri" is https (http on loopback by option).
func (r *Remote) parseMetadata(docURL string, body []byte) (string, error) {
	var (
		iss, jwksURI       string
		hasIss, hasJWKSURI bool
	)
	doc := string(body)
	err := jose.ForEachMember(body, metadataLimits, func(name []byte, v jose.Value) error {
		var err error
		switch string(name) {
		case "issuer":
			hasIss = true
			if iss, err = v.Text(doc); err != nil {
				return errors.New(`"issuer" is not a string`)
			}
		case "jwks_uri":
			hasJWKSURI = true
			if jwksURI, err = v.Text(doc); err != nil {
				return errors.New(`"jwks_uri" is not a string`)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("jwks: %s: not a usable metadata document: %w", docURL, err)
	case !hasIss:
		return "", fmt.Errorf("jwks: %s: metadata has no \"issuer\"", docURL)
	case iss != r.issuer:
		return "", fmt.Errorf("%w: %s names %q, configured %q", ErrIssuerMismatch, docURL, clip(iss), clip(r.issuer))
	case !hasJWKSURI || jwksURI == "":
		return "", fmt.Errorf("jwks: %s: metadata has no \"jwks_uri\"", docURL)
	}
	u, err := canonuri.Parse(jwksURI, canonuri.Options{AllowHTTPLoopback: r.opts.AllowHTTPLoopback})
	if err != nil {
		return "", fmt.Errorf("jwks: %s: jwks_uri %q: %w", docURL, clip(jwksURI), err)
	}
	if u.Host != r.issURI.Host {
		// Allowed (RFC 8414 puts no constraint on it) but worth knowing:
		// the keys come from a host other than the issuer's
		// (standards-and-attacks E12).
		r.log.Warn("jwks: jwks_uri is on another host than the issuer",
			"issuer", r.issuer, "jwks_uri", jwksURI)
	}
	return jwksURI, nil
}
