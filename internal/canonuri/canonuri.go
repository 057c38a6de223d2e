package canonuri

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxLen bounds the length of a URI this package looks at; anything longer is
// rejected without being parsed.
const MaxLen = 2048

// URI is a parsed absolute http(s) URI.
type URI struct {
	Scheme string // lower case
	Host   string // lower case; IPv6 literals keep their brackets
	Port   string // "" when absent, empty or the scheme's default
	Path   string // as written; "" when the path is "/" or empty
	Query  string // without '?'; HasQuery tells an empty query from none
	// HasQuery reports whether the URI has a '?' at all.
	HasQuery bool
	// RawPath is the path exactly as written ("" or starting with '/').
	RawPath string
	// EmptyPort reports a ':' after the host with no digits.
	EmptyPort bool
}

// Options tunes Parse.
type Options struct {
	// AllowHTTPLoopback accepts the http scheme when the host is a loopback
	// address or "localhost".
	AllowHTTPLoopback bool
}

// Errors returned by Parse. They describe configuration problems in plain
// words; Parse wraps them with the offending detail.
var (
	ErrNotAbsolute = errors.New("must be an absolute URI with a scheme and a host")
	ErrScheme      = errors.New("scheme must be https")
	ErrHTTP        = errors.New("http is allowed only for a loopback host with the loopback option")
	ErrFragment    = errors.New("must not contain a fragment")
	ErrUserinfo    = errors.New("must not contain userinfo")
	ErrHost        = errors.New("host must be an ASCII DNS name or IP literal (IDNs as A-labels)")
	ErrPort        = errors.New("port must be decimal digits")
	ErrDotSegment  = errors.New("path must not contain dot segments")
	ErrCharacters  = errors.New("must not contain whitespace, control, quote or backslash characters")
	ErrNonASCII    = errors.New("must be ASCII (write an internationalized host as its A-label, e.g. xn--bcher-kva.example)")
	ErrEmptyPort   = errors.New("must not have an empty port (a ':' with no digits)")
	ErrTooLong     = errors.New("is too long")
)

// Parse parses s as an absolute https URI (http only on loopback with
// opts.AllowHTTPLoopback) and applies the rules every audguard URI obeys:
// no fragment, no userinfo, ASCII host, no dot segments, no characters that
// could not appear literally in an HTTP header quoted-string.
func Parse(s string, opts Options) (URI, error) {
	var u URI
	if len(s) > MaxLen {
		return u, ErrTooLong
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return u, ErrNonASCII
		}
		if c <= 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '`' || c == '{' || c == '}' || c == '|' || c == '^' {
			return u, ErrCharacters
		}
	}
	if strings.IndexByte(s, '#') >= 0 {
		return u, ErrFragment
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || !strings.HasPrefix(s[colon:], "://") {
		return u, ErrNotAbsolute
	}
	scheme := strings.ToLower(s[:colon])
	switch scheme {
	case "https":
	case "http":
		// decided once the host is known
	default:
		if !validScheme(scheme) {
			return u, ErrNotAbsolute
		}
		return u, fmt.Errorf("%w (got %q)", ErrScheme, scheme)
	}
	rest := s[colon+3:]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	tail := rest[end:]
	if strings.IndexByte(authority, '@') >= 0 {
		return u, ErrUserinfo
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return u, err
	}
	if host == "" {
		return u, ErrNotAbsolute
	}
	if scheme == "http" {
		if !opts.AllowHTTPLoopback || !IsLoopbackHost(host) {
			return u, ErrHTTP
		}
	}
	emptyPort := port == "" && strings.HasSuffix(authority, ":")
	if port == defaultPort(scheme) {
		port = ""
	}
	rawPath, query, hasQuery := tail, "", false
	if q := strings.IndexByte(tail, '?'); q >= 0 {
		rawPath, query, hasQuery = tail[:q], tail[q+1:], true
	}
	if hasDotSegment(rawPath) {
		return u, ErrDotSegment
	}
	path := rawPath
	if path == "/" {
		path = ""
	}
	u = URI{
		Scheme:    scheme,
		Host:      strings.ToLower(host),
		Port:      port,
		Path:      path,
		Query:     query,
		HasQuery:  hasQuery,
		RawPath:   rawPath,
		EmptyPort: emptyPort,
	}
	return u, nil
}

// String returns the normalized form: lower-case scheme and host, no default
// or empty port, an empty path for "/". Path and query are kept byte for byte.
func (u URI) String() string {
	var b strings.Builder
	b.Grow(len(u.Scheme) + 3 + len(u.Host) + len(u.Port) + 1 + len(u.Path) + len(u.Query) + 1)
	b.WriteString(u.Scheme)
	b.WriteString("://")
	b.WriteString(u.Host)
	if u.Port != "" {
		b.WriteByte(':')
		b.WriteString(u.Port)
	}
	b.WriteString(u.Path)
	if u.HasQuery {
		b.WriteByte('?')
		b.WriteString(u.Query)
	}
	return b.String()
}

// Origin returns scheme://host[:port] in normalized form.
func (u URI) Origin() string {
	if u.Port != "" {
		return u.Scheme + "://" + u.Host + ":" + u.Port
	}
	return u.Scheme + "://" + u.Host
}

// WellKnown returns the RFC 9728 §3.1 metadata URL for the resource u was
// parsed from, and its path and query alone (for routing). The well-known
// suffix is inserted between the host and the path; a terminating slash
// right after the host is removed first.
//
//	https://h          -> https://h/.well-known/oauth-protected-resource
//	https://h/         -> https://h/.well-known/oauth-protected-resource
//	https://h/mcp      -> https://h/.well-known/oauth-protected-resource/mcp
//	https://h/mcp/     -> https://h/.well-known/oauth-protected-resource/mcp/
//	https://h/mcp?t=a  -> https://h/.well-known/oauth-protected-resource/mcp?t=a
func (u URI) WellKnown(suffix string) (url, path, query string) {
	path = "/.well-known/" + suffix
	if u.RawPath != "/" {
		path += u.RawPath
	}
	url = u.Origin() + path
	if u.HasQuery {
		url += "?" + u.Query
		query = u.Query
	}
	return url, path, query
}

// Matcher decides whether an "aud" entry names the configured resource.
// It is immutable and safe for concurrent use.
type Matcher struct {
	exact         []string // byte-exact accepted values: the resource as configured, its normal form, aliases
	norm          string   // normalized canonical resource
	normTrim      string   // norm without one trailing slash on a non-root path (trailing-slash option)
	trailingSlash bool
	opts          Options
}

// NewMatcher builds a Matcher for the resource as configured (raw), its
// parsed form, and byte-exact aliases.
func NewMatcher(raw string, u URI, aliases []string, allowTrailingSlash bool, opts Options) *Matcher {
	m := &Matcher{norm: u.String(), trailingSlash: allowTrailingSlash, opts: opts}
	m.exact = append(m.exact, raw)
	if m.norm != raw {
		m.exact = append(m.exact, m.norm)
	}
	for _, a := range aliases {
		if a != raw && a != m.norm {
			m.exact = append(m.exact, a)
		}
	}
	if allowTrailingSlash {
		m.normTrim = trimSlash(u).String()
	}
	return m
}

// Match reports whether aud names the resource. The byte-exact hit does not
// allocate; the normalized comparison parses aud with the same rules as the
// configuration (scheme and host case, default or empty port, empty path).
func (m *Matcher) Match(aud string) bool {
	for _, e := range m.exact {
		if aud == e {
			return true
		}
	}
	if !looksLikeURI(aud) {
		return false
	}
	u, err := Parse(aud, m.opts)
	if err != nil {
		return false
	}
	if equalURI(u, m.norm) {
		return true
	}
	if m.trailingSlash && u.Path != "" {
		return equalURI(trimSlash(u), m.normTrim)
	}
	return false
}

// equalURI compares u's normalized form with a normalized string without
// building the string.
func equalURI(u URI, norm string) bool {
	s := norm
	take := func(p string) bool {
		if !strings.HasPrefix(s, p) {
			return false
		}
		s = s[len(p):]
		return true
	}
	if !take(u.Scheme) || !take("://") || !take(u.Host) {
		return false
	}
	if u.Port != "" && (!take(":") || !take(u.Port)) {
		return false
	}
	if !take(u.Path) {
		return false
	}
	if u.HasQuery && (!take("?") || !take(u.Query)) {
		return false
	}
	return s == ""
}

func trimSlash(u URI) URI {
	if len(u.Path) > 1 && strings.HasSuffix(u.Path, "/") {
		u.Path = u.Path[:len(u.Path)-1]
	}
	return u
}

// looksLikeURI is a cheap filter so that abstract identifiers ("api://x",
// client-ID GUIDs) are not parsed on every request.
func looksLikeURI(s string) bool {
	return len(s) > 8 && (s[0] == 'h' || s[0] == 'H')
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// splitHostPort splits an authority (without userinfo). IPv6 literals must be
// bracketed. The port, if any, must be decimal digits.
func splitHostPort(a string) (host, port string, err error) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", ErrHost
		}
		host = a[:end+1]
		inner := a[1:end]
		addr, perr := netip.ParseAddr(inner)
		if perr != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", ErrHost
		}
		rest := a[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", ErrHost
			}
			port = rest[1:]
		}
	} else {
		host = a
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i+1:]
		}
		if !validRegName(host) {
			return "", "", ErrHost
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", "", ErrPort
		}
	}
	if len(port) > 5 {
		return "", "", ErrPort
	}
	return host, port, nil
}

// validRegName accepts ASCII letters, digits, '-' and '.', which covers DNS
// names, A-labels and dotted IPv4. Percent-encoded or non-ASCII hosts are
// refused: hosts are never decoded or IDNA-mapped.
func validRegName(h string) bool {
	if h == "" {
		return true // reported as ErrNotAbsolute by the caller
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

func hasDotSegment(path string) bool {
	for path != "" {
		path = strings.TrimPrefix(path, "/")
		seg := path
		if i := strings.IndexByte(path, '/'); i >= 0 {
			seg, path = path[:i], path[i:]
		} else {
			path = ""
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// IsLoopbackHost reports whether host (as in a URI, IPv6 in brackets) is
// "localhost" or a loopback IP address.
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(host)
	if h == "localhost" {
		return true
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	addr, err := netip.ParseAddr(h)
	return err == nil && addr.IsLoopback()
}
