package tokensource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/audguard/audguard/internal/canonuri"
	"github.com/audguard/audguard/internal/jose"
)

// Discovery defaults and limits.
const (
	// DefaultDiscoveryTimeout bounds one metadata fetch.
	DefaultDiscoveryTimeout = 10 * time.Second
	// MaxMetadataSize bounds the metadata document (1 MiB).
	MaxMetadataSize = 1 << 20
	// maxRedirects bounds same-origin redirects of a metadata fetch.
	maxRedirects = 5
)

// metadataLimits bound the JSON work for a metadata document.
var metadataLimits = jose.Limits{MaxDepth: 16, MaxMembers: 1024, MaxNumber: 40}

// DiscoveryConfig configures a [Discoverer]. Every zero field takes the
// documented default.
type DiscoveryConfig struct {
	// HTTPClient fetches metadata documents. Default: a client with
	// Timeout. Whatever its CheckRedirect, redirects are followed only
	// within the same origin, at most 5 times.
	HTTPClient *http.Client
	// Timeout bounds one fetch. Default [DefaultDiscoveryTimeout].
	Timeout time.Duration
	// AllowHTTPLoopback accepts http (not https) for resource URLs,
	// metadata URLs and authorization servers on a loopback host. For
	// local development and tests only.
	AllowHTTPLoopback bool
}

// Discoverer finds what a client needs to obtain a token for a resource
// server: its RFC 9728 protected resource metadata, located from a 401
// challenge or from the resource URL, the way an MCP client does (MCP
// 2026-07-28 authorization discovery). It is safe for concurrent use.
type Discoverer struct {
	hc      *http.Client
	timeout time.Duration
	uopts   canonuri.Options
}

// NewDiscoverer validates cfg and returns a Discoverer. It performs no I/O.
func NewDiscoverer(cfg DiscoveryConfig) (*Discoverer, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("tokensource: invalid discovery configuration: Timeout %v is negative", cfg.Timeout)
	}
	d := &Discoverer{timeout: cfg.Timeout, uopts: canonuri.Options{AllowHTTPLoopback: cfg.AllowHTTPLoopback}}
	if d.timeout == 0 {
		d.timeout = DefaultDiscoveryTimeout
	}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		d.hc = &hc
	} else {
		d.hc = &http.Client{Timeout: d.timeout}
	}
	d.hc.CheckRedirect = sameOriginRedirects
	return d, nil
}

func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrMetadata, maxRedirects)
	}
	if !strings.EqualFold(req.URL.Scheme, via[0].URL.Scheme) || !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
		return fmt.Errorf("%w: redirect to another origin refused", ErrMetadata)
	}
	return nil
}

// ResourceInfo is the outcome of discovery.
type ResourceInfo struct {
	// Resource is the metadata's "resource", identical to the URL
	// discovery started from. Request tokens for it.
	Resource string
	// MetadataURL is where the document was fetched.
	MetadataURL string
	// AuthorizationServers are the issuer identifiers of the
	// authorization servers (at least one). Fetch their RFC 8414 metadata
	// with [Discoverer.DiscoverAuthorizationServer] to find the token
	// endpoint.
	AuthorizationServers []string
	// ScopesSupported is the metadata's "scopes_supported".
	ScopesSupported []string
	// BearerMethodsSupported is the metadata's "bearer_methods_supported".
	BearerMethodsSupported []string
	// ResourceName is the metadata's "resource_name".
	ResourceName string

	// Scope lists the scopes of the challenge's "scope" parameter: what
	// the operation that was refused requires (MCP 2026-07-28 §11.1.1).
	Scope []string
	// Error and ErrorDescription are the challenge's "error" and
	// "error_description" ("" for a request without a token).
	Error, ErrorDescription string
}

// Discover fetches and checks the protected resource metadata of the
// resource at resourceURL, the URL the client used for its request.
// wwwAuthenticate are the WWW-Authenticate values of the 401 (or 403)
// response, if any.
//
// When the Bearer challenge carries resource_metadata, that URL is
// fetched (https only, http on loopback with AllowHTTPLoopback);
// otherwise the RFC 9728 §3.1 well-known URL built from resourceURL (path
// insertion). The document's "resource" must be identical to resourceURL
// (RFC 9728 §3.3, compared character by character), or the document is
// refused with [ErrResourceMismatch]. The fallback to a root well-known
// document that MCP clients may try is not made: its "resource" is the
// origin, which RFC 9728 §3.3 does not let a client use for a resource
// with a path.
func (d *Discoverer) Discover(ctx context.Context, resourceURL string, wwwAuthenticate []string) (*ResourceInfo, error) {
	u, _, err := parseResource(resourceURL, d.uopts)
	if err != nil {
		return nil, fmt.Errorf("tokensource: discovery: %w", err)
	}
	challenges, err := ParseChallenges(wwwAuthenticate)
	if err != nil {
		return nil, err
	}
	var bearer *Challenge
	for i := range challenges {
		if challenges[i].Is("Bearer") {
			if bearer != nil {
				return nil, fmt.Errorf("%w: more than one Bearer challenge", ErrChallenge)
			}
			bearer = &challenges[i]
		}
	}
	info := &ResourceInfo{}
	metadataURL, _, _ := u.WellKnown("oauth-protected-resource")
	if bearer != nil {
		if rm, ok := bearer.Params["resource_metadata"]; ok {
			mu, err := canonuri.Parse(rm, d.uopts)
			if err != nil || mu.EmptyPort {
				return nil, fmt.Errorf("%w: resource_metadata %q is not an acceptable URL", ErrChallenge, sanitize(rm, 300))
			}
			metadataURL = rm
		}
		info.Scope = strings.Fields(bearer.Params["scope"])
		info.Error = bearer.Params["error"]
		info.ErrorDescription = bearer.Params["error_description"]
	}
	info.MetadataURL = metadataURL
	doc, err := d.fetch(ctx, metadataURL)
	if err != nil {
		return nil, err
	}
	if err := d.parseMetadata(doc, info); err != nil {
		return nil, err
	}
	if info.Resource != resourceURL {
		return nil, fmt.Errorf("%w: the document at %s describes %q, the request went to %q", ErrResourceMismatch, metadataURL, sanitize(info.Resource, 300), resourceURL)
	}
	return info, nil
}

// DiscoverFromResponse is [Discoverer.Discover] for a response the
// resource server sent: the URL used is resp.Request.URL and the
// challenges are resp's WWW-Authenticate values.
//
// A response that http.Client obtained by following a redirect is refused
// with [ErrResourceMismatch], whatever the origins: its challenge comes
// from the redirect's target, not from the URL the client called. Checking
// the metadata against the last URL would hand out the target's
// authorization servers for a request meant for the first (good → 307 →
// evil returns evil's metadata); checking it against the first URL would
// let the target publish a document that claims the first URL. Neither
// is safe, so the caller decides: call [Discoverer.Discover] with the
// URL it means to use, or make the request without following redirects.
func (d *Discoverer) DiscoverFromResponse(ctx context.Context, resp *http.Response) (*ResourceInfo, error) {
	if resp == nil || resp.Request == nil || resp.Request.URL == nil {
		return nil, errors.New("tokensource: discovery: the response has no request URL")
	}
	if first := originalRequest(resp.Request); first != resp.Request {
		from := "(unknown)"
		if first.URL != nil {
			from = sanitize(first.URL.Redacted(), 300)
		}
		return nil, fmt.Errorf("%w: the response comes from %s after a redirect from %s; its challenge does not describe the URL the client called",
			ErrResourceMismatch, sanitize(resp.Request.URL.Redacted(), 300), from)
	}
	return d.Discover(ctx, resp.Request.URL.String(), resp.Header.Values("WWW-Authenticate"))
}

// originalRequest returns the first request of the redirect chain req is
// part of (req itself when http.Client followed no redirect). The chain is
// bounded: http.Client stops after 10 redirects by default, and a custom
// CheckRedirect cannot make it infinite, but the walk is capped anyway.
func originalRequest(req *http.Request) *http.Request {
	for range 1000 {
		if req.Response == nil || req.Response.Request == nil {
			break
		}
		req = req.Response.Request
	}
	return req
}

func (d *Discoverer) fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching %s: %w", ErrMetadata, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrMetadata, url, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, fmt.Errorf("%w: %s is not application/json", ErrMetadata, url)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrMetadata, url, err)
	}
	if len(body) > MaxMetadataSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMetadata, url, MaxMetadataSize)
	}
	return body, nil
}

// parseMetadata reads the RFC 9728 §2 members audguard needs, strictly:
// duplicate or case-colliding member names and wrong types are refused.
func (d *Discoverer) parseMetadata(body []byte, info *ResourceInfo) error {
	doc := string(body)
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrMetadata, what) }
	var hasResource bool
	err := jose.ForEachMember(body, metadataLimits, func(name []byte, v jose.Value) error {
		var err error
		switch string(name) {
		case "resource":
			info.Resource, err = v.Text(doc)
			hasResource = err == nil
		case "authorization_servers":
			info.AuthorizationServers, err = stringArray(v, doc)
		case "scopes_supported":
			info.ScopesSupported, err = stringArray(v, doc)
		case "bearer_methods_supported":
			info.BearerMethodsSupported, err = stringArray(v, doc)
		case "resource_name":
			info.ResourceName, err = v.Text(doc)
		}
		if err != nil {
			return fmt.Errorf("member %q has the wrong type", name)
		}
		return nil
	})
	if err != nil {
		return bad("the document is not a valid JSON object: " + err.Error())
	}
	if !hasResource || info.Resource == "" {
		return bad(`"resource" is missing`)
	}
	if len(info.AuthorizationServers) == 0 {
		return bad(`"authorization_servers" is missing or empty (MCP requires at least one)`)
	}
	for _, as := range info.AuthorizationServers {
		u, err := canonuri.Parse(as, d.uopts)
		if err != nil || u.HasQuery || u.EmptyPort {
			return bad(fmt.Sprintf("authorization server %q is not an https issuer identifier", sanitize(as, 300)))
		}
	}
	return nil
}

func stringArray(v jose.Value, doc string) ([]string, error) {
	var out []string
	err := v.ForEachElement(func(e jose.Value) error {
		s, err := e.Text(doc)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}
