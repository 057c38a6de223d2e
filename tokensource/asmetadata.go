package tokensource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/audguard/audguard/internal/canonuri"
	"github.com/audguard/audguard/internal/jose"
)

// AuthorizationServerMetadata is what a client needs from an authorization
// server's metadata (RFC 8414 §2; OpenID Connect Discovery 1.0 §3 uses the
// same member names). Fields the document does not have are empty.
type AuthorizationServerMetadata struct {
	// Issuer is the document's "issuer", byte for byte the issuer
	// identifier discovery was asked for.
	Issuer string
	// MetadataURL is where the document was fetched.
	MetadataURL string
	// TokenEndpoint is "token_endpoint" (always present): use it as
	// [Config].TokenURL.
	TokenEndpoint string
	// AuthorizationEndpoint is "authorization_endpoint".
	AuthorizationEndpoint string
	// RegistrationEndpoint is "registration_endpoint" (RFC 7591 dynamic
	// client registration).
	RegistrationEndpoint string
	// ScopesSupported is "scopes_supported".
	ScopesSupported []string
	// ResponseTypesSupported is "response_types_supported".
	ResponseTypesSupported []string
	// GrantTypesSupported is "grant_types_supported".
	GrantTypesSupported []string
	// TokenEndpointAuthMethodsSupported is
	// "token_endpoint_auth_methods_supported" (see [AuthMethod.String]).
	TokenEndpointAuthMethodsSupported []string
	// CodeChallengeMethodsSupported is "code_challenge_methods_supported"
	// (PKCE; MCP clients must refuse a server that does not list S256).
	CodeChallengeMethodsSupported []string
	// AuthorizationResponseIssParameterSupported is
	// "authorization_response_iss_parameter_supported" (RFC 9207).
	AuthorizationResponseIssParameterSupported bool
}

// DiscoverAuthorizationServer fetches the metadata of the authorization
// server whose issuer identifier is issuer, for example one of
// [ResourceInfo].AuthorizationServers, the way an MCP client does (MCP
// 2026-07-28 authorization server metadata discovery). It tries, in order:
//
//	https://as/tenant -> https://as/.well-known/oauth-authorization-server/tenant  (RFC 8414, path insertion)
//	                     https://as/.well-known/openid-configuration/tenant        (OIDC, path insertion)
//	                     https://as/tenant/.well-known/openid-configuration        (OIDC Discovery, path appending)
//	https://as        -> https://as/.well-known/oauth-authorization-server
//	                     https://as/.well-known/openid-configuration
//
// (a terminating "/" of the issuer is removed first). issuer must be
// https (http only on a loopback host with AllowHTTPLoopback), without
// query or fragment.
//
// A location that yields no document (network error or timeout, status
// other than 200, a content type other than application/json, more than
// [MaxMetadataSize] bytes, a redirect to another origin) moves on to the
// next; redirects within the origin are followed as for [Discoverer.Discover].
// The first document served decides: its "issuer" must be identical,
// byte for byte, to issuer (RFC 8414 §3.3), or [ErrIssuerMismatch] is
// returned and discovery stops, so that a server announcing another
// issuer is never used (mix-up defence) and no other location is asked
// to disagree with it. A document that is not strict JSON (duplicate or
// case-colliding member names), has members of the wrong type, no
// "token_endpoint", or an endpoint that is not https (loopback http by
// option) is refused with [ErrMetadata]. Each fetch is bounded by
// DiscoveryConfig.Timeout.
func (d *Discoverer) DiscoverAuthorizationServer(ctx context.Context, issuer string) (*AuthorizationServerMetadata, error) {
	u, err := canonuri.Parse(issuer, d.uopts)
	switch {
	case err != nil:
		return nil, fmt.Errorf("tokensource: authorization server discovery: issuer %q: %w", sanitize(issuer, 300), err)
	case u.HasQuery || u.EmptyPort:
		return nil, fmt.Errorf("tokensource: authorization server discovery: issuer %q must have no query and no empty port (RFC 8414 §2)", sanitize(issuer, 300))
	}
	var errs []error
	for _, loc := range asMetadataURLs(u) {
		body, err := d.fetch(ctx, loc)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		md, err := d.parseASMetadata(body, issuer, loc)
		if err != nil {
			return nil, err
		}
		return md, nil
	}
	return nil, fmt.Errorf("%w: no authorization server metadata found for issuer %q: %w", ErrMetadata, sanitize(issuer, 300), errors.Join(errs...))
}

// asMetadataURLs returns the metadata locations for issuer u, in the order
// MCP clients try them.
func asMetadataURLs(u canonuri.URI) []string {
	origin := u.Origin()
	path := strings.TrimSuffix(u.RawPath, "/")
	if path == "" {
		return []string{
			origin + "/.well-known/oauth-authorization-server",
			origin + "/.well-known/openid-configuration",
		}
	}
	return []string{
		origin + "/.well-known/oauth-authorization-server" + path,
		origin + "/.well-known/openid-configuration" + path,
		origin + path + "/.well-known/openid-configuration",
	}
}

// parseASMetadata reads an authorization server metadata document
// strictly and checks its issuer and endpoints.
func (d *Discoverer) parseASMetadata(body []byte, issuer, loc string) (*AuthorizationServerMetadata, error) {
	md := &AuthorizationServerMetadata{MetadataURL: loc}
	doc := string(body)
	var hasIssuer bool
	err := jose.ForEachMember(body, metadataLimits, func(name []byte, v jose.Value) error {
		var err error
		switch string(name) {
		case "issuer":
			md.Issuer, err = v.Text(doc)
			hasIssuer = err == nil
		case "token_endpoint":
			md.TokenEndpoint, err = v.Text(doc)
		case "authorization_endpoint":
			md.AuthorizationEndpoint, err = v.Text(doc)
		case "registration_endpoint":
			md.RegistrationEndpoint, err = v.Text(doc)
		case "scopes_supported":
			md.ScopesSupported, err = stringArray(v, doc)
		case "response_types_supported":
			md.ResponseTypesSupported, err = stringArray(v, doc)
		case "grant_types_supported":
			md.GrantTypesSupported, err = stringArray(v, doc)
		case "token_endpoint_auth_methods_supported":
			md.TokenEndpointAuthMethodsSupported, err = stringArray(v, doc)
		case "code_challenge_methods_supported":
			md.CodeChallengeMethodsSupported, err = stringArray(v, doc)
		case "authorization_response_iss_parameter_supported":
			switch v.Kind {
			case jose.True:
				md.AuthorizationResponseIssParameterSupported = true
			case jose.False:
			default:
				err = jose.ErrType
			}
		}
		if err != nil {
			return fmt.Errorf("member %q has the wrong type", name)
		}
		return nil
	})
	bad := func(what string) error { return fmt.Errorf("%w: %s: %s", ErrMetadata, loc, what) }
	switch {
	case err != nil:
		return nil, bad("the document is not a valid JSON object: " + err.Error())
	case !hasIssuer:
		return nil, bad(`"issuer" is missing`)
	case md.Issuer != issuer:
		return nil, fmt.Errorf("%w: %s names %q, discovery was for %q", ErrIssuerMismatch, loc, sanitize(md.Issuer, 300), sanitize(issuer, 300))
	case md.TokenEndpoint == "":
		return nil, bad(`"token_endpoint" is missing`)
	}
	for _, ep := range []struct{ name, url string }{
		{name: "token_endpoint", url: md.TokenEndpoint},
		{name: "authorization_endpoint", url: md.AuthorizationEndpoint},
		{name: "registration_endpoint", url: md.RegistrationEndpoint},
	} {
		if ep.url == "" {
			continue
		}
		if u, err := canonuri.Parse(ep.url, d.uopts); err != nil || u.EmptyPort {
			return nil, bad(fmt.Sprintf("%s %q is not an acceptable https URL", ep.name, sanitize(ep.url, 300)))
		}
	}
	return md, nil
}
