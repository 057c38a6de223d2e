package canonuri

import (
	"strings"
	"testing"
)

// FuzzMatch holds the audience comparison to its documented rule.
// resource is the configured value (a fixed one when it is not a valid
// configuration), aud the token's entry. Invariants: Parse, NewMatcher and
// Match never panic; the resource matches itself and its normal form;
// normalization is idempotent; Match(aud) implies aud is the resource as
// configured or normalized, or aud, parsed with the same rules, has the
// resource's normal form (with the one-trailing-slash variant only when
// opted in), which a plain string comparison confirms; and the byte-exact
// match never allocates.
func FuzzMatch(f *testing.F) {
	const c = "https://api.example.com/mcp"
	for _, s := range [][2]string{
		{c, c}, {c, c + "/"}, {"https://api.example.com", "https://api.example.com/"}, {c, "HTTPS://API.EXAMPLE.COM/mcp"},
		{c, "https://API.example.com/mcp"}, {c, "https://api.example.com/MCP"}, {c, "https://api.example.com:443/mcp"},
		{c, "https://api.example.com:/mcp"}, {c, "https://api.example.com:8443/mcp"}, {"https://api.example.com:8443/mcp", c},
		{c, "http://api.example.com/mcp"}, {c, "http://api.example.com:443/mcp"}, {c, c + "#x"}, {c, c + "?tenant=a"},
		{c + "?tenant=a", c + "?tenant=b"}, {c, "https://api.example.com.evil.com/mcp"}, {c, c + "/other"}, {c, c + "x"},
		{c, "https://api.example.com"}, {c, "https://api.example.com@evil.com/mcp"}, {c, "https://user@api.example.com/mcp"},
		{c, "https://evil.com#@api.example.com/mcp"}, {c, `https://evil.com\@api.example.com/mcp`},
		{c, "https://api.example.com%2Eevil.com/mcp"}, {c, "https://api.example.com/%6Dcp"}, {c, "https://api.example.com/./mcp"},
		{c, "https://api.example.com/x/../mcp"}, {c, "https://\u0430pi.example.com/mcp"}, {c, "https://xn--pi-7ld.example.com/mcp"},
		{c, "https://api.example.com./mcp"}, {c, " " + c}, {c, c + "\n"}, {c, c + "\x00"}, {c, ""}, {c, "urn:example:mcp"},
		{"https://[2001:db8::1]:8443/mcp", "https://[2001:DB8::1]:8443/mcp"}, {"http://127.0.0.1:8080/mcp", "HTTP://127.0.0.1:8080/mcp"},
	} {
		f.Add(s[0], s[1], false, false)
		f.Add(s[0], s[1], true, true)
	}
	n := 0
	f.Fuzz(func(t *testing.T, resource, aud string, trailing, loopback bool) {
		opts := Options{AllowHTTPLoopback: loopback}
		u, err := Parse(resource, opts)
		if err != nil || u.EmptyPort {
			resource = c
			u, _ = Parse(resource, opts)
		}
		m := NewMatcher(resource, u, nil, trailing, opts)
		norm := u.String()
		if !m.Match(resource) || !m.Match(norm) {
			t.Fatalf("%q does not match itself or its normal form %q", resource, norm)
		}
		if u2, err := Parse(norm, opts); err != nil || u2.String() != norm {
			t.Fatalf("normal form %q does not parse to itself: %q, %v", norm, u2.String(), err)
		}
		if n++; n%64 == 1 {
			if a := testing.AllocsPerRun(1, func() { m.Match(resource) }); a != 0 {
				t.Fatalf("byte-exact Match allocated %v times", a)
			}
		}
		if !m.Match(aud) || aud == resource || aud == norm {
			return
		}
		a, err := Parse(aud, opts)
		if err != nil {
			t.Fatalf("Match(%q) for %q, but it does not parse: %v", aud, resource, err)
		}
		if a.String() != norm && !(trailing && a.Path != "" && trimSlash(a).String() == trimSlash(u).String()) {
			t.Fatalf("Match(%q) for %q: normal forms %q and %q differ", aud, resource, a.String(), norm)
		}
		if !sameByStrings(resource, aud, trailing) {
			t.Fatalf("Match(%q) for %q, which plain string comparison refuses", aud, resource)
		}
	})
}

// sameByStrings is the §2.2 equivalence spelled out with string
// operations: the scheme and host compared case-insensitively, the
// default or an empty port dropped, "" and "/" the same root path, path
// and query byte for byte (one trailing slash aside when allowed), and
// nothing that is not printable ASCII, userinfo, a fragment, a backslash
// or a dot segment in aud.
func sameByStrings(resource, aud string, trailing bool) bool {
	for i := 0; i < len(aud); i++ {
		if c := aud[i]; c <= 0x20 || c >= 0x7f || c == '#' || c == '\\' {
			return false
		}
	}
	split := func(s string) (scheme, host, port, path, query string, ok bool) {
		scheme, rest, ok := strings.Cut(s, "://")
		if !ok {
			return
		}
		scheme = strings.ToLower(scheme)
		end := strings.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		auth, tail := rest[:end], rest[end:]
		if strings.Contains(auth, "@") {
			return "", "", "", "", "", false
		}
		host, port = auth, ""
		if i := strings.LastIndexByte(auth, ':'); i >= 0 && !strings.HasSuffix(auth, "]") {
			host, port = auth[:i], auth[i+1:]
		}
		if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			port = ""
		}
		path, query, _ = strings.Cut(tail, "?")
		if strings.Contains(tail, "?") {
			query = "?" + query
		}
		if path == "/" {
			path = ""
		}
		for _, seg := range strings.Split(path, "/") {
			if seg == "." || seg == ".." {
				return "", "", "", "", "", false
			}
		}
		return scheme, strings.ToLower(host), port, path, query, true
	}
	s1, h1, p1, path1, q1, ok1 := split(resource)
	s2, h2, p2, path2, q2, ok2 := split(aud)
	if !ok1 || !ok2 || s1 != s2 || h1 != h2 || p1 != p2 || q1 != q2 {
		return false
	}
	if path1 == path2 {
		return true
	}
	return trailing && strings.TrimSuffix(path1, "/") == strings.TrimSuffix(path2, "/") && path1 != "" && path2 != ""
}
