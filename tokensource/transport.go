package tokensource

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/audguard/audguard/internal/canonuri"
)

// Transport is an [http.RoundTripper] that attaches to each request a
// bearer token for the configured resource ([Config].Resources) the
// request's URL belongs to, and refuses every other request.
//
// A request belongs to a resource when its scheme, host and port equal the
// resource URI's (after lower-casing scheme and host and dropping a default
// port) and its path equals the resource's path or continues it after a
// '/'; when several resources match, the longest path wins. A resource URI
// with a query only matches requests with exactly that query.
//
// RoundTrip fails closed with [ErrNoResource], without sending anything,
// when the request matches no resource, has userinfo, a Host header for
// another authority, dot segments or encoded '/', '\' or dot segments in
// its path, already carries an Authorization header, or is a redirect
// (http.Client following a 3xx) to a different resource than the request
// that was redirected. A token is never attached to a request for another
// resource than the one it was issued for.
//
// The grant is the one carried by the request's context
// ([ContextWithGrant]), or [ClientCredentials].
type Transport struct {
	client *Client
	base   http.RoundTripper
}

// Transport returns a [Transport] sending requests through base
// (http.DefaultTransport when nil).
func (c *Client) Transport(base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{client: c, base: base}
}

type grantKey struct{}

// ContextWithGrant returns a context that makes [Transport] obtain tokens
// with g, for example the [TokenExchange] of the token an MCP server
// received, so that downstream calls act for that user.
func ContextWithGrant(ctx context.Context, g Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// GrantFromContext returns the grant stored by [ContextWithGrant].
func GrantFromContext(ctx context.Context) (Grant, bool) {
	g, ok := ctx.Value(grantKey{}).(Grant)
	return g, ok && g != nil
}

// RoundTrip implements [http.RoundTripper]. It does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	fail := func(err error) (*http.Response, error) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	rt, err := t.client.match(req)
	if err != nil {
		return fail(err)
	}
	if req.Response != nil && req.Response.Request != nil {
		prev, perr := t.client.match(req.Response.Request)
		if perr != nil || prev != rt {
			return fail(fmt.Errorf("%w: a redirect leads from one resource to another (%s)", ErrNoResource, rt.canonical))
		}
	}
	if len(req.Header.Values("Authorization")) > 0 {
		return fail(fmt.Errorf("%w: the request already has an Authorization header", ErrNoResource))
	}
	ctx := req.Context()
	g, ok := GrantFromContext(ctx)
	if !ok {
		g = ClientCredentials()
	}
	tok, err := t.client.Token(ctx, Request{Resource: rt.canonical, Scopes: rt.scopes, Grant: g})
	if err != nil {
		return fail(err)
	}
	r2 := req.Clone(ctx)
	r2.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return t.base.RoundTrip(r2)
}

// match returns the configured resource req belongs to.
func (c *Client) match(req *http.Request) (*route, error) {
	u := req.URL
	if u == nil {
		return nil, fmt.Errorf("%w: the request has no URL", ErrNoResource)
	}
	origin := strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
	refuse := func(why string) (*route, error) {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNoResource, why, sanitize(origin, 300))
	}
	if u.Opaque != "" || u.User != nil {
		return refuse("the URL is opaque or has userinfo")
	}
	path := u.EscapedPath()
	if unsafePath(path) {
		return refuse("the path has a dot segment or an encoded '/', '\\' or dot segment")
	}
	p, err := canonuri.Parse(u.Scheme+"://"+u.Host, c.cfg.uopts)
	if err != nil || p.EmptyPort {
		return refuse("the URL is not an acceptable resource URL")
	}
	if req.Host != "" && req.Host != u.Host {
		h, err := canonuri.Parse(u.Scheme+"://"+req.Host, c.cfg.uopts)
		if err != nil || h.Origin() != p.Origin() {
			return refuse("the Host header names another authority than the URL")
		}
	}
	if path == "/" {
		path = ""
	}
	hasQuery := u.ForceQuery || u.RawQuery != ""
	for i := range c.cfg.routes {
		r := &c.cfg.routes[i]
		if r.uri.Origin() != p.Origin() || !underPath(r.uri.Path, path) {
			continue
		}
		if r.uri.HasQuery && (!hasQuery || u.RawQuery != r.uri.Query) {
			continue
		}
		return r, nil
	}
	return refuse("no configured resource matches")
}

// underPath reports whether path is base or below base on a segment
// boundary. An empty base (the origin) covers every path.
func underPath(base, path string) bool {
	if base == "" || path == base {
		return true
	}
	if !strings.HasPrefix(path, base) {
		return false
	}
	return strings.HasSuffix(base, "/") || path[len(base)] == '/'
}

// unsafePath reports dot segments, backslashes, and percent-encoded '/',
// '\' and segments that decode to "." or "..": a server that normalizes
// or decodes before routing could move such a request out of the
// resource's path.
func unsafePath(path string) bool {
	l := strings.ToLower(path)
	if strings.Contains(l, "%2f") || strings.Contains(l, "%5c") || strings.Contains(path, "\\") {
		return true
	}
	for _, seg := range strings.Split(strings.ReplaceAll(l, "%2e", "."), "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
