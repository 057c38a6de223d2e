package jwks

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxRedirects bounds the same-origin redirects followed for one request.
const maxRedirects = 3

// fetch fetches the JWKS (discovering its URI first if needed), and on
// success publishes the new snapshot. Only one fetch runs at a time.
func (r *Remote) fetch(cause string) error {
	uri, err := r.resolveJWKSURI(cause)
	if err != nil {
		return err
	}
	start := time.Now()
	body, hdr, err := r.get(uri)
	var (
		set     *Set
		dropped []Dropped
	)
	if err == nil {
		set, dropped, err = Parse(body, ParseOptions{RSAAlgorithm: r.opts.RSAAlgorithm})
		if err != nil {
			err = fmt.Errorf("jwks: %s: %w", uri, err)
		}
	}
	ev := FetchEvent{Issuer: r.issuer, URL: uri, Cause: cause, Err: err, Duration: time.Since(start)}
	if err != nil {
		r.report(ev)
		return err
	}
	if old := r.snap.Load(); old != nil {
		set = set.reusing(old.set)
	}
	now := r.now()
	r.snap.Store(&snapshot{set: set, fetched: now, ttl: r.ttl(hdr, now)})
	r.logDropped(dropped)
	if set.Len() == 0 {
		r.log.Warn("jwks: the JWKS holds no usable key; tokens of this issuer are refused",
			"issuer", r.issuer, "url", uri, "dropped", len(dropped))
	}
	ev.Keys, ev.Dropped = set.Len(), len(dropped)
	r.report(ev)
	return nil
}

// report hands ev to OnFetch and logs a failed JWKS fetch.
func (r *Remote) report(ev FetchEvent) {
	if r.opts.OnFetch != nil {
		r.opts.OnFetch(ev)
	}
	if ev.Err != nil && !ev.Discovery {
		cached := 0
		if s := r.usable(r.now()); s != nil {
			cached = s.set.Len()
		}
		r.log.Warn("jwks: fetch failed", "issuer", r.issuer, "url", ev.URL, "cause", ev.Cause,
			"cached_keys_in_use", cached, "err", ev.Err)
	}
}

// logDropped logs each dropped key once per (kid, reason) for as long as
// the JWKS keeps publishing it.
func (r *Remote) logDropped(dropped []Dropped) {
	seen := make(map[dropKey]struct{}, len(dropped))
	for _, d := range dropped {
		k := dropKey{kid: d.KeyID, reason: d.Reason}
		seen[k] = struct{}{}
		if _, ok := r.logged[k]; !ok {
			r.log.Warn("jwks: key dropped", "issuer", r.issuer, "kid", d.KeyID, "index", d.Index, "reason", d.Reason)
		}
	}
	r.logged = seen
}

// get performs one GET bounded by FetchTimeout and returns a 200 response's
// body, read through a limit of MaxBodySize.
func (r *Remote) get(uri string) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json;q=0.9")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("jwks: GET %s: status %d", uri, resp.StatusCode)
	}
	if resp.ContentLength > MaxBodySize {
		return nil, nil, fmt.Errorf("%w: GET %s: Content-Length %d exceeds %d", ErrTooLarge, uri, resp.ContentLength, MaxBodySize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: GET %s: reading body: %w", uri, err)
	}
	if len(body) > MaxBodySize {
		return nil, nil, fmt.Errorf("%w: GET %s: more than %d bytes", ErrTooLarge, uri, MaxBodySize)
	}
	return body, resp.Header, nil
}

// ttl is the clamped lifetime announced by h, or DefaultTTL.
func (r *Remote) ttl(h http.Header, now time.Time) time.Duration {
	d, ok := cacheLifetime(h, now)
	if !ok {
		d = r.opts.DefaultTTL
	}
	d = max(d, r.opts.MinTTL)
	d = min(d, r.opts.MaxTTL, r.opts.MaxStale)
	return d
}

// cacheLifetime reads the freshness lifetime of a response (RFC 9111
// §4.2.1): "no-store" and "no-cache" give 0, then "max-age" (minus Age),
// then Expires - Date. ok is false when none of them is usable.
func cacheLifetime(h http.Header, now time.Time) (d time.Duration, ok bool) {
	maxAge := time.Duration(-1)
	for _, v := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				if s, ok := parseSeconds(strings.Trim(strings.TrimSpace(val), `"`)); ok {
					// Conflicting values: the smallest wins.
					if maxAge < 0 || s < maxAge {
						maxAge = s
					}
				}
			}
		}
	}
	if maxAge >= 0 {
		if age, ok := parseSeconds(strings.TrimSpace(h.Get("Age"))); ok {
			maxAge = max(maxAge-age, 0)
		}
		return maxAge, true
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			// An invalid Expires (such as "0") means already expired.
			return 0, true
		}
		date := now
		if dt, err := http.ParseTime(h.Get("Date")); err == nil {
			date = dt
		}
		return max(t.Sub(date), 0), true
	}
	return 0, false
}

// parseSeconds parses delta-seconds (RFC 9111 §1.2.2), saturating.
func parseSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > int64(math.MaxInt64/time.Second) {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(n) * time.Second, true
}

// sameOriginRedirects returns a CheckRedirect that refuses a redirect to
// another origin (scheme, host or port; so also https to http) and more
// than maxRedirects hops, then defers to next.
func sameOriginRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("jwks: more than %d redirects", maxRedirects)
		}
		from := via[0].URL
		if !sameOrigin(from, req.URL) {
			return fmt.Errorf("jwks: refusing redirect from %s to another origin %s", origin(from), origin(req.URL))
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + u.Host
}

// newTransport is the Remote's own transport when no client is given: the
// standard one, so proxies from the environment are honoured.
func newTransport() *http.Transport {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
