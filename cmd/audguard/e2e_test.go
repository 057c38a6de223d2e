package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/internal/testlog"
	"github.com/stretchr/testify/require"
)

// binary is the audguard executable built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "audguard-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "audguard")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building audguard:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// upstream is a protected app that records what reached it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	last *http.Request
	sse  chan struct{} // closed to let the SSE handler send its second event
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{sse: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last = r.Clone(context.Background())
		u.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/mcp/events") {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-u.sse:
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, "data: second\n\n")
			return
		}
		w.Header().Set("X-Upstream-Path", r.URL.Path)
		fmt.Fprintf(w, "upstream saw %s?%s", r.URL.Path, r.URL.RawQuery)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastRequest() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// proc is a running audguard process.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *testlog.Buffer
	done   chan error
}

// startProxy runs audguard proxy with args and env and waits until it
// listens.
func startProxy(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"proxy", "-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p := &proc{cmd: cmd, stderr: &testlog.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	require.NoError(t, cmd.Start())
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "audguard proxy listening" {
				addr <- line["listen"].(string)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		p.addr = "http://" + a
	case err := <-p.done:
		t.Fatalf("audguard exited early (%v):\n%s", err, p.stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("audguard did not start:\n%s", p.stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return p
}

func get(t *testing.T, target string, hdr map[string][]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	require.NoError(t, err)
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func bearer(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

func TestProxyEndToEnd(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	up := newUpstream(t)
	const resource = "https://mcp.example.com/mcp"
	p := startProxy(t, nil,
		"-resource", resource,
		"-issuer", iss.URL(),
		"-upstream", up.URL+"/base",
		"-scopes", "mcp:tools,mcp:read",
		"-allow-http-loopback")
	md := "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

	t.Run("accept_and_forward", func(t *testing.T) {
		tok := iss.AccessToken(resource, "mcp:tools", "mcp:read")
		resp, body := get(t, p.addr+"/mcp/x?y=1", map[string][]string{
			"Authorization":        {"Bearer " + tok},
			"X-Audguard-Subject":   {"admin"},
			"x-audguard-issuer":    {"https://evil.example"},
			"X-Audguard-Whatever":  {"spoof"},
			"X_Audguard_Subject":   {"admin"},
			"x_audguard-client_id": {"admin-client"},
		})
		require.Equal(t, 200, resp.StatusCode, body)
		require.Equal(t, "upstream saw /base/mcp/x?y=1", body, "path and query joined like NewSingleHostReverseProxy")
		r := up.lastRequest()
		require.Empty(t, r.Header.Values("Authorization"), "no token passthrough")
		require.Equal(t, []string{"user-1"}, r.Header.Values("X-Audguard-Subject"), "spoofed header dropped, real one set")
		require.Equal(t, []string{"audtest-client"}, r.Header.Values("X-Audguard-Client-Id"))
		require.Equal(t, []string{"mcp:tools mcp:read"}, r.Header.Values("X-Audguard-Scope"), "scope as issued")
		require.Equal(t, []string{iss.URL()}, r.Header.Values("X-Audguard-Issuer"))
		require.Empty(t, r.Header.Values("X-Audguard-Whatever"))
		for k := range r.Header {
			require.False(t, strings.Contains(strings.ToLower(k), "audguard") && !strings.HasPrefix(k, "X-Audguard-"),
				"underscore variants of identity headers are dropped too: %s", k)
		}
	})
	t.Run("missing_token", func(t *testing.T) {
		resp, _ := get(t, p.addr+"/mcp", nil)
		require.Equal(t, 401, resp.StatusCode)
		require.Equal(t, `Bearer resource_metadata="`+md+`", scope="mcp:tools mcp:read"`, resp.Header.Get("WWW-Authenticate"))
	})
	t.Run("wrong_audience", func(t *testing.T) {
		resp, body := get(t, p.addr+"/mcp", bearer(iss.AccessToken("https://api.example.com", "mcp:tools", "mcp:read")))
		require.Equal(t, 401, resp.StatusCode)
		require.Equal(t, `Bearer error="invalid_token", error_description="The access token was not issued for this resource", resource_metadata="`+md+`", scope="mcp:tools mcp:read"`, resp.Header.Get("WWW-Authenticate"))
		require.NotContains(t, body, "api.example.com")
	})
	t.Run("missing_scope", func(t *testing.T) {
		resp, _ := get(t, p.addr+"/mcp", bearer(iss.AccessToken(resource, "mcp:tools")))
		require.Equal(t, 403, resp.StatusCode)
		require.Equal(t, `Bearer error="insufficient_scope", error_description="The access token lacks a scope this operation requires", resource_metadata="`+md+`", scope="mcp:tools mcp:read"`, resp.Header.Get("WWW-Authenticate"))
	})
	t.Run("two_authorization_headers", func(t *testing.T) {
		tok := iss.AccessToken(resource, "mcp:tools", "mcp:read")
		resp, _ := get(t, p.addr+"/mcp", map[string][]string{"Authorization": {"Bearer " + tok, "Bearer " + tok}})
		require.Equal(t, 400, resp.StatusCode)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_request"`)
	})
	t.Run("query_token_ignored", func(t *testing.T) {
		tok := iss.AccessToken(resource, "mcp:tools", "mcp:read")
		resp, _ := get(t, p.addr+"/mcp/query-token?access_token="+tok, nil)
		require.Equal(t, 401, resp.StatusCode)
		require.NotContains(t, resp.Header.Get("WWW-Authenticate"), "error=")
		// The log line travels through a pipe: wait for it before asserting
		// on what it (and everything logged before it) leaves out.
		require.Eventually(t, func() bool {
			return len(rejectedLines(p.stderr.String(), "/mcp/query-token", "no_token")) == 1
		}, 5*time.Second, 10*time.Millisecond, "a \"reason\":\"no_token\" line:\n%s", p.stderr.String())
		log := p.stderr.String()
		require.NotContains(t, log, tok[:20], "tokens and query strings are never logged")
		require.NotContains(t, log, "access_token", "tokens and query strings are never logged")
	})
	t.Run("control_character_in_sub", func(t *testing.T) {
		// A valid token whose sub cannot travel in a header is refused
		// rather than altered on the way to the upstream.
		tok := iss.MustSign(audtest.Token{Claims: withSub(iss.Claims(resource, "mcp:tools", "mcp:read"), "a\x01b")})
		resp, body := get(t, p.addr+"/mcp/control-sub", bearer(tok))
		require.Equal(t, 401, resp.StatusCode, body)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
		require.Eventually(t, func() bool {
			return len(rejectedLines(p.stderr.String(), "/mcp/control-sub", "claims")) == 1
		}, 5*time.Second, 10*time.Millisecond, "a \"reason\":\"claims\" line:\n%s", p.stderr.String())
		if r := up.lastRequest(); r != nil {
			require.NotEqual(t, "/base/mcp/control-sub", r.URL.Path, "the upstream never receives the request")
		}
	})
	t.Run("opaque_token", func(t *testing.T) {
		resp, _ := get(t, p.addr+"/mcp", bearer("2YotnFZFEjr1zCsicMWpAA"))
		require.Equal(t, 401, resp.StatusCode)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	})
	t.Run("metadata_needs_no_token", func(t *testing.T) {
		resp, body := get(t, p.addr+"/.well-known/oauth-protected-resource/mcp", nil)
		require.Equal(t, 200, resp.StatusCode)
		require.JSONEq(t, `{"resource":"`+resource+`","authorization_servers":["`+iss.URL()+`"],"bearer_methods_supported":["header"],"scopes_supported":["mcp:tools","mcp:read"]}`, body)
	})
	t.Run("routes_by_path_whatever_the_host", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, p.addr+"/.well-known/oauth-protected-resource/mcp", nil)
		req.Host = "other.example"
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		resp, _ = get(t, p.addr+"/.well-known/other", nil)
		require.Equal(t, 401, resp.StatusCode, "every other path is protected")
	})
	t.Run("sse_streams_unbuffered", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, p.addr+"/mcp/events", nil)
		req.Header.Set("Authorization", "Bearer "+iss.AccessToken(resource, "mcp:tools", "mcp:read"))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		rd := bufio.NewReader(resp.Body)
		first, err := rd.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "data: first\n", first, "the first event arrives while the upstream is still running")
		close(up.sse)
		rest, err := io.ReadAll(rd)
		require.NoError(t, err)
		require.Contains(t, string(rest), "data: second")
	})
	t.Run("one_log_line_per_rejection", func(t *testing.T) {
		type rejection struct {
			path, reason string
			hdr          map[string][]string
		}
		rejections := []rejection{
			{path: "/mcp/once-missing?access_token=x", reason: "no_token"},
			{path: "/mcp/once-audience", reason: "audience", hdr: bearer(iss.AccessToken("https://api.example.com", "mcp:tools", "mcp:read"))},
			{path: "/mcp/once-opaque", reason: "malformed", hdr: bearer("2YotnFZFEjr1zCsicMWpAA")},
			{path: "/mcp/once-scope", reason: "insufficient_scope", hdr: bearer(iss.AccessToken(resource, "mcp:tools"))},
		}
		for _, r := range rejections {
			resp, _ := get(t, p.addr+r.path, r.hdr)
			require.GreaterOrEqual(t, resp.StatusCode, 400, r.path)
		}
		// Lines arrive in order through the pipe and each is written before
		// its response: once the last request's line is there, every line
		// the earlier requests caused is there too.
		const last = "/mcp/once-last"
		resp, _ := get(t, p.addr+last, nil)
		require.Equal(t, 401, resp.StatusCode)
		require.Eventually(t, func() bool { return len(rejectedLines(p.stderr.String(), last, "")) > 0 }, 5*time.Second, 10*time.Millisecond)
		log := p.stderr.String()
		for _, r := range append(rejections, rejection{path: last}) {
			path, _, _ := strings.Cut(r.path, "?")
			require.Len(t, rejectedLines(log, path, ""), 1, "exactly one rejection line for %s:\n%s", path, log)
			if r.reason != "" {
				require.Len(t, rejectedLines(log, path, r.reason), 1, "reason %s for %s:\n%s", r.reason, path, log)
			}
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "request rejected") {
				require.NotContains(t, line, "access_token")
			}
		}
	})
}

// rejectedLines returns the "request rejected" log lines for path, with
// the given reason unless reason is empty.
func rejectedLines(log, path, reason string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(log, "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) != nil || line["msg"] != "request rejected" || line["path"] != path {
			continue
		}
		if reason == "" || line["reason"] == reason {
			out = append(out, line)
		}
	}
	return out
}

// withSub returns c with sub replaced.
func withSub(c map[string]any, sub string) map[string]any {
	c["sub"] = sub
	return c
}

func TestProxyMetadataPercentEncodedPath(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	up := newUpstream(t)
	const wk = "/.well-known/oauth-protected-resource"
	tests := []struct {
		name     string
		resource string
		metadata string   // path of the document, as in the challenge
		also     []string // equivalent spellings (RFC 3986 §6.2.2)
		other    []string // paths that are not the document
	}{
		{name: "space", resource: "https://mcp.example.com/tenant%20a/mcp", metadata: wk + "/tenant%20a/mcp", other: []string{wk + "/tenant%2520a/mcp", wk + "/tenant+a/mcp"}},
		{name: "encoded_slash", resource: "https://mcp.example.com/a%2Fb", metadata: wk + "/a%2Fb", also: []string{wk + "/a%2fb"}, other: []string{wk + "/a/b"}},
		{name: "encoded_unreserved", resource: "https://mcp.example.com/%6Dcp", metadata: wk + "/%6Dcp", also: []string{wk + "/mcp", wk + "/%6dcp"}, other: []string{wk + "/%2Fcp"}},
		{name: "plain_path", resource: "https://mcp.example.com/mcp", metadata: wk + "/mcp", also: []string{wk + "/%6Dcp"}, other: []string{wk + "/mcp/", wk + "%2Fmcp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, nil, "-resource", tc.resource, "-issuer", iss.URL(), "-upstream", up.URL, "-allow-http-loopback")
			resp, _ := get(t, p.addr+"/x", nil)
			require.Equal(t, 401, resp.StatusCode)
			require.Equal(t, `Bearer resource_metadata="https://mcp.example.com`+tc.metadata+`"`, resp.Header.Get("WWW-Authenticate"))

			resp, body := get(t, p.addr+tc.metadata, nil)
			require.Equal(t, 200, resp.StatusCode, "the challenge's resource_metadata URL serves the document")
			require.JSONEq(t, `{"resource":"`+tc.resource+`","authorization_servers":["`+iss.URL()+`"],"bearer_methods_supported":["header"]}`, body)

			for _, path := range tc.also {
				resp, _ := get(t, p.addr+path, nil)
				require.Equal(t, 200, resp.StatusCode, path)
			}
			for _, path := range tc.other {
				resp, _ := get(t, p.addr+path, nil)
				require.Equal(t, 401, resp.StatusCode, "%s is not the document", path)
			}
		})
	}
}

func TestProxyForwardsQueryUnchanged(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	up := newUpstream(t)
	const resource = "https://api.example.com"
	plain := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL+"/base", "-allow-http-loopback")
	withQuery := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL+"/base?k=v", "-allow-http-loopback")
	tests := []struct {
		name  string
		p     *proc
		query string // as sent, without '?'
		want  string // the upstream's RawQuery
	}{
		{name: "semicolon", p: plain, query: "a=1;b=2", want: "a=1;b=2"},
		{name: "bad_escape", p: plain, query: "q=%zz&r=1", want: "q=%zz&r=1"},
		{name: "mixed", p: plain, query: "a=1&b;c=2&d=3", want: "a=1&b;c=2&d=3"},
		{name: "ordinary", p: plain, query: "y=1&y=2&z=%20", want: "y=1&y=2&z=%20"},
		{name: "none", p: plain, query: "", want: ""},
		{name: "upstream_query_semicolon", p: withQuery, query: "a=1;b=2", want: "k=v&a=1;b=2"},
		{name: "upstream_query_bad_escape", p: withQuery, query: "q=%zz&r=1", want: "k=v&q=%zz&r=1"},
		{name: "upstream_query_only", p: withQuery, query: "", want: "k=v"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.p.addr + "/x"
			if tc.query != "" {
				target += "?" + tc.query
			}
			resp, body := get(t, target, bearer(iss.AccessToken(resource)))
			require.Equal(t, 200, resp.StatusCode, body)
			require.Equal(t, "upstream saw /base/x?"+tc.want, body)
		})
	}
}

func TestProxyUpstreamUnreachable(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	const resource = "https://api.example.com"
	p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", "http://127.0.0.1:1", "-allow-http-loopback")
	tok := iss.AccessToken(resource)
	resp, body := get(t, p.addr+"/x?access_token=SECRETQ", bearer(tok))
	require.Equal(t, http.StatusBadGateway, resp.StatusCode, body)
	require.Equal(t, "Bad Gateway\n", body, "no upstream error details to the client")
	var failed string
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if strings.Contains(line, "upstream request failed") {
				failed = line
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "an \"upstream request failed\" line:\n%s", p.stderr.String())
	require.Contains(t, failed, `"path":"/x"`)
	for _, secret := range []string{"SECRETQ", tok[:20]} {
		require.NotContains(t, failed, secret, "neither the query nor the token is logged")
		require.NotContains(t, p.stderr.String(), secret, "neither the query nor the token is logged")
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	up := newUpstream(t)
	const resource = "https://api.example.com"
	p := startProxy(t, []string{
		"AUDGUARD_RESOURCE=" + resource,
		"AUDGUARD_ISSUER=" + iss.URL(),
		"AUDGUARD_UPSTREAM=" + up.URL,
		"AUDGUARD_SCOPES=read",
		"AUDGUARD_ALLOW_HTTP_LOOPBACK=true",
		"AUDGUARD_LEEWAY=0s",
		"AUDGUARD_TYP=strict",
	}, "-scopes", "write") // the flag wins over AUDGUARD_SCOPES
	resp, _ := get(t, p.addr+"/x", bearer(iss.AccessToken(resource, "write")))
	require.Equal(t, 200, resp.StatusCode)
	resp, _ = get(t, p.addr+"/x", bearer(iss.AccessToken(resource, "read")))
	require.Equal(t, 403, resp.StatusCode)
	// typ strict came from the environment: a JWT-typed token is refused.
	tok := iss.MustSign(audtest.Token{Claims: withScope(iss.Claims(resource), "write"), Header: map[string]any{"typ": "JWT"}})
	resp, _ = get(t, p.addr+"/x", bearer(tok))
	require.Equal(t, 401, resp.StatusCode)
}

func TestProxyStartupRefusals(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	base := map[string]string{"-resource": "https://api.example.com/mcp", "-issuer": iss.URL(), "-upstream": "http://127.0.0.1:1", "-allow-http-loopback": ""}
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not a PEM file\n"), 0o600))
	tests := []struct {
		name string
		set  map[string]string // flag -> value ("" for a bool); "-x": "\x00" deletes
		env  []string
		want string
	}{
		{name: "missing_resource", set: map[string]string{"-resource": "\x00"}, want: "-resource is required"},
		{name: "missing_issuer", set: map[string]string{"-issuer": "\x00"}, want: "-issuer is required"},
		{name: "missing_upstream", set: map[string]string{"-upstream": "\x00"}, want: "-upstream is required"},
		{name: "http_resource_without_loopback_flag", set: map[string]string{"-allow-http-loopback": "\x00", "-resource": "http://127.0.0.1:9/mcp"}, want: "http is allowed only"},
		{name: "http_resource_non_loopback", set: map[string]string{"-resource": "http://api.example.com/mcp"}, want: "http is allowed only"},
		{name: "http_issuer_without_loopback_flag", set: map[string]string{"-allow-http-loopback": "\x00"}, want: "http is allowed only"},
		{name: "http_issuer_non_loopback", set: map[string]string{"-issuer": "http://as.example.com"}, want: "http is allowed only"},
		{name: "resource_fragment", set: map[string]string{"-resource": "https://api.example.com/mcp#x"}, want: "fragment"},
		{name: "resource_userinfo", set: map[string]string{"-resource": "https://u:p@api.example.com/mcp"}, want: "userinfo"},
		{name: "resource_idn_u_label", set: map[string]string{"-resource": "https://bücher.example/mcp"}, want: "A-label"},
		{name: "resource_relative", set: map[string]string{"-resource": "mcp.example.com"}, want: "absolute URI"},
		{name: "unknown_typ", set: map[string]string{"-typ": "loose"}, want: "unknown typ policy"},
		{name: "bad_leeway", set: map[string]string{"-leeway": "soon"}, want: "not a duration"},
		{name: "negative_leeway", set: map[string]string{"-leeway": "-5s"}, want: "negative"},
		{name: "leeway_too_large", set: map[string]string{"-leeway": "10m"}, want: "exceeds the maximum"},
		{name: "bad_max_stale", set: map[string]string{"-jwks-max-stale": "1 day"}, want: "not a duration"},
		{name: "bad_cooldown", set: map[string]string{"-jwks-refresh-cooldown": "x"}, want: "not a duration"},
		{name: "bad_fetch_timeout", set: map[string]string{"-jwks-fetch-timeout": "5"}, want: "not a duration"},
		{name: "alg_none", set: map[string]string{"-alg": "none"}, want: "never accepted"},
		{name: "alg_hs256", set: map[string]string{"-alg": "RS256,HS256"}, want: "shared-secret"},
		{name: "scope_offline_access", set: map[string]string{"-scopes": "offline_access"}, want: "offline_access"},
		{name: "jwks_uri_with_two_issuers", set: map[string]string{"-jwks-uri": "https://as.example.com/jwks", "-issuer": "\x00"}, env: []string{"AUDGUARD_ISSUER=https://a.example,https://b.example"}, want: "single -issuer"},
		{name: "upstream_not_url", set: map[string]string{"-upstream": "localhost:3000"}, want: "-upstream"},
		{name: "unknown_flag", set: map[string]string{"-frobnicate": "1"}, want: "flag provided but not defined"},
		{name: "bad_env_duration", env: []string{"AUDGUARD_LEEWAY=forever"}, want: "AUDGUARD_LEEWAY"},
		{name: "tls_cert_without_key", set: map[string]string{"-tls-cert": "cert.pem"}, want: "-tls-key"},
		{name: "tls_key_without_cert", set: map[string]string{"-tls-key": "key.pem"}, want: "-tls-cert and -tls-key go together"},
		{name: "tls_files_missing", set: map[string]string{"-tls-cert": filepath.Join(dir, "missing-cert.pem"), "-tls-key": filepath.Join(dir, "missing-key.pem")}, want: "cannot load the key pair"},
		{name: "tls_files_not_pem", set: map[string]string{"-tls-cert": junk, "-tls-key": junk}, want: "cannot load the key pair"},
		{name: "listen_not_an_address", set: map[string]string{"-listen": "bogus"}, want: `-listen "bogus"`},
		{name: "listen_port_out_of_range", set: map[string]string{"-listen": "127.0.0.1:99999"}, want: "must be a number from 0 to 65535"},
		{name: "listen_port_not_a_number", set: map[string]string{"-listen": "127.0.0.1:eighty"}, want: "must be a number from 0 to 65535"},
		{name: "zero_max_stale", set: map[string]string{"-jwks-max-stale": "0s"}, want: `invalid value "0s" for flag -jwks-max-stale: must be more than zero`},
		{name: "zero_cooldown", set: map[string]string{"-jwks-refresh-cooldown": "0"}, want: `invalid value "0" for flag -jwks-refresh-cooldown: must be more than zero`},
		{name: "zero_fetch_timeout", set: map[string]string{"-jwks-fetch-timeout": "0ms"}, want: `invalid value "0ms" for flag -jwks-fetch-timeout: must be more than zero`},
		{name: "negative_max_stale", set: map[string]string{"-jwks-max-stale": "-1h"}, want: "-jwks-max-stale: must not be negative"},
		{name: "zero_max_stale_env", env: []string{"AUDGUARD_JWKS_MAX_STALE=0s"}, want: `invalid value "0s" for AUDGUARD_JWKS_MAX_STALE: must be more than zero`},
		{name: "zero_fetch_timeout_env", env: []string{"AUDGUARD_JWKS_FETCH_TIMEOUT=0s"}, want: "AUDGUARD_JWKS_FETCH_TIMEOUT: must be more than zero"},
		{name: "negative_shutdown_grace", set: map[string]string{"-shutdown-grace": "-1s"}, want: "-shutdown-grace: must not be negative"},
		{name: "issuer_named_as_flag", set: map[string]string{"-issuer": "http://as.example.com"}, want: `-issuer "http://as.example.com": http is allowed only`},
		{name: "leeway_named_as_flag", set: map[string]string{"-leeway": "10m"}, want: "-leeway: 10m0s exceeds the maximum"},
		{name: "alg_named_as_flag", set: map[string]string{"-alg": "HS256"}, want: `-alg: "HS256" is a shared-secret algorithm`},
		{name: "scope_named_as_flag", set: map[string]string{"-scopes": "a b"}, want: `-scopes "a b": character ' ' is not allowed`},
		{name: "audience_named_as_flag", set: map[string]string{"-audience": "a b"}, want: `-audience "a b": must be printable ASCII`},
		{name: "resource_named_as_flag", set: map[string]string{"-resource": "https://api.example.com/mcp#x"}, want: `-resource "https://api.example.com/mcp#x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flags := map[string]string{}
			for k, v := range base {
				flags[k] = v
			}
			for k, v := range tc.set {
				if v == "\x00" {
					delete(flags, k)
				} else {
					flags[k] = v
				}
			}
			args := []string{"proxy", "-listen", "127.0.0.1:0"}
			for k, v := range flags {
				if v == "" {
					args = append(args, k)
				} else {
					args = append(args, k, v)
				}
			}
			cmd := exec.Command(binary, args...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			require.NoError(t, cmd.Start())
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee, stderr.String())
				require.Equal(t, 2, ee.ExitCode(), stderr.String())
				require.Contains(t, stderr.String(), tc.want)
				_, problems, _ := strings.Cut(stderr.String(), "invalid configuration:\n")
				lines := map[string]bool{}
				for _, line := range strings.Split(strings.TrimSpace(problems), "\n") {
					require.False(t, lines[line], "each problem is reported once: %q\n%s", line, stderr.String())
					lines[line] = true
				}
				for _, field := range []string{"Issuers[", "Issuers:", "Leeway:", "Algorithms:", "Scopes ", "ScopesSupported", "Audiences ", "Resource ", "JWKSURI"} {
					require.NotContains(t, stderr.String(), field, "problems are told in terms of the flags")
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("audguard started instead of refusing:\n%s", stderr.String())
			}
		})
	}
}

// TestProxyServesWhileIssuerHangs: an issuer that does not answer does not
// delay start-up; the metadata document is served at once and tokens are
// refused (fail closed) until keys arrive.
func TestProxyServesWhileIssuerHangs(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	iss.SetDiscoveryHandler(audtest.Hang(30 * time.Second))
	up := newUpstream(t)
	const resource = "https://api.example.com"
	start := time.Now()
	p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL,
		"-allow-http-loopback", "-jwks-fetch-timeout", "2s")
	require.Less(t, time.Since(start), 2*time.Second, "listening before the key fetch times out")
	resp, _ := get(t, p.addr+"/.well-known/oauth-protected-resource", nil)
	require.Equal(t, 200, resp.StatusCode)
	resp, _ = get(t, p.addr+"/x", bearer(iss.AccessToken(resource)))
	require.Equal(t, 401, resp.StatusCode)
	require.Nil(t, up.lastRequest())
}

func TestProxyStartsWithoutKeysAndFailsClosed(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	iss.SetDiscoveryHandler(audtest.Status(http.StatusServiceUnavailable))
	iss.SetJWKSHandler(audtest.Status(http.StatusServiceUnavailable))
	up := newUpstream(t)
	const resource = "https://api.example.com"
	p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL,
		"-allow-http-loopback", "-jwks-fetch-timeout", "1s", "-jwks-refresh-cooldown", "1s")
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "signing keys not available at start-up") }, 5*time.Second, 10*time.Millisecond)
	resp, _ := get(t, p.addr+"/x", bearer(iss.AccessToken(resource)))
	require.Equal(t, 401, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	require.Nil(t, up.lastRequest())

	// Keys arrive: requests are accepted once the cooldown allows a retry.
	iss.SetDiscoveryHandler(nil)
	iss.SetJWKSHandler(nil)
	require.Eventually(t, func() bool {
		resp, _ := get(t, p.addr+"/x", bearer(iss.AccessToken(resource)))
		return resp.StatusCode == 200
	}, 10*time.Second, 200*time.Millisecond)
}

func TestProxyGracefulShutdown(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	up := newUpstream(t)
	p := startProxy(t, nil, "-resource", "https://api.example.com", "-issuer", iss.URL(), "-upstream", up.URL, "-allow-http-loopback")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, p.stderr.String())
		p.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	require.Contains(t, p.stderr.String(), "shutting down")
}

func TestProxyAddressInUse(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	cmd := exec.Command(binary, "proxy", "-listen", busy.Addr().String(), "-resource", "https://api.example.com",
		"-issuer", iss.URL(), "-upstream", "http://127.0.0.1:1", "-allow-http-loopback")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var ee *exec.ExitError
	require.ErrorAs(t, cmd.Run(), &ee)
	require.Equal(t, 1, ee.ExitCode(), "a busy address is a runtime failure, not a usage error")
	require.Contains(t, stderr.String(), "cannot listen on "+busy.Addr().String()+": the address is already in use")
}

func TestProxyServesTLS(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	up := newUpstream(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)

	const resource = "https://api.example.com"
	p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL,
		"-allow-http-loopback", "-tls-cert", certFile, "-tls-key", keyFile)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	req, err := http.NewRequest(http.MethodGet, "https://"+strings.TrimPrefix(p.addr, "http://")+"/x", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+iss.AccessToken(resource))
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 2, resp.ProtoMajor, "HTTP/2 is offered over TLS")
}

// waitExit waits for a signalled proxy to exit and returns its exit code.
func waitExit(t *testing.T, p *proc) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err == nil {
			return 0
		}
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, p.stderr.String())
		return ee.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatalf("no shutdown:\n%s", p.stderr.String())
		return -1
	}
}

func TestProxyShutdownWithOpenStream(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	up := newUpstream(t) // its SSE handler never sends a second event
	const resource = "https://api.example.com"
	p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL,
		"-allow-http-loopback", "-shutdown-grace", "200ms")
	req, err := http.NewRequest(http.MethodGet, p.addr+"/mcp/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+iss.AccessToken(resource))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "data: first\n", first)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, rd); close(ended) }()
	require.Equal(t, 0, waitExit(t, p), "a signal-initiated shutdown succeeds:\n%s", p.stderr.String())
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stayed open after the proxy exited")
	}
	log := p.stderr.String()
	require.Contains(t, log, "shutting down")
	require.Contains(t, log, "grace period over; closed the connections still open")
	require.Contains(t, log, `"closed_requests":1`)
	require.NotContains(t, log, "context deadline exceeded")
}

func TestProxyShutdownLetsInFlightRequestsFinish(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		fmt.Fprint(w, "finished")
	}))
	t.Cleanup(slow.Close)
	const resource = "https://api.example.com"
	p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", slow.URL, "-allow-http-loopback")

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, p.addr+"/slow", nil)
		req.Header.Set("Authorization", "Bearer "+iss.AccessToken(resource))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	<-arrived
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "shutting down") }, 5*time.Second, 10*time.Millisecond)
	close(release)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, 200, r.status)
	require.Equal(t, "finished", r.body)
	require.Equal(t, 0, waitExit(t, p), p.stderr.String())
	require.Contains(t, p.stderr.String(), "shutdown complete: every in-flight request finished")
}

func TestCheckCommand(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	const resource = "https://mcp.example.com/mcp"
	run := func(stdin string, args ...string) (int, string, string) {
		cmd := exec.Command(binary, append([]string{"check"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, out.String(), errb.String()
	}
	common := []string{"-resource", resource, "-issuer", iss.URL(), "-allow-http-loopback"}

	good := iss.AccessToken(resource)
	code, out, _ := run("", append(common, good)...)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "VALID")
	require.NotContains(t, out, good[strings.LastIndexByte(good, '.')+1:][:20], "never the signature")

	wrong := iss.AccessToken("https://api.example.com")
	code, out, _ = run("", append(common, wrong)...)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "FAIL  audience")
	require.Contains(t, out, "aud [https://api.example.com] does not contain https://mcp.example.com/mcp")
	require.Contains(t, out, "INVALID (audience)")

	code, out, _ = run(good+"\n", append(common, "-")...)
	require.Equal(t, 0, code, out)

	code, _, errOut := run("", "-resource", resource, good)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "-issuer is required")
	code, _, _ = run("", common...)
	require.Equal(t, 2, code, "no token")

	code, _, errOut = run("", append(common, "-jwks-max-stale", "0s", good)...)
	require.Equal(t, 2, code, "a zero JWKS policy duration is refused, not taken for the default")
	require.Contains(t, errOut, "-jwks-max-stale: must be more than zero")
	code, _, errOut = run("", append(common, "-alg", "HS256", good)...)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `-alg: "HS256" is a shared-secret algorithm`)
	require.NotContains(t, errOut, "Algorithms")

	t.Run("unsigned_token", func(t *testing.T) {
		tok := iss.MustSign(audtest.Token{Claims: iss.Claims(resource), Alg: "none"})
		require.True(t, strings.HasSuffix(tok, "."), "h.p. with an empty signature")
		code, out, _ := run("", append(common, tok)...)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, `FAIL  format             unsigned token (alg "none", empty signature): unsigned tokens are never accepted`)
		require.NotContains(t, out, "jose:")
		require.NotContains(t, out, "segments")
	})
	t.Run("shape_in_plain_words", func(t *testing.T) {
		tests := []struct {
			name  string
			token string
			want  string
		}{
			{name: "two_segments", token: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0", want: "this token has 2"},
			{name: "encrypted", token: "a.b.c.d.e", want: "encrypted token (JWE)"},
			{name: "empty_payload", token: "eyJhbGciOiJub25lIn0..c2ln", want: "the header or the payload segment is empty"},
			{name: "empty_signature_not_none", token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.", want: "unsigned token: the signature (third segment) is empty"},
			{name: "bad_character", token: "a.b.c!", want: "character outside the compact JWS alphabet"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, out, _ := run("", append(common, tc.token)...)
				require.Equal(t, 1, code, out)
				require.Contains(t, out, "FAIL  format")
				require.Contains(t, out, tc.want)
				require.NotContains(t, out, "jose:")
			})
		}
	})
	t.Run("unverified_claims_are_marked", func(t *testing.T) {
		tok := iss.MustSign(audtest.Token{Claims: iss.Claims(resource), TamperSignature: true})
		code, out, _ := run("", append(common, tok)...)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "FAIL  signature")
		for _, name := range []string{"claim types", "audience", "expiry", "not before", "issued at", "profile"} {
			require.Regexp(t, `(?m)^PASS  `+name+` +.*\(unverified: the signature was not checked or did not verify\)$`, out, name)
		}
		code, out, _ = run("", append(common, good)...)
		require.Equal(t, 0, code, out)
		require.NotContains(t, out, "unverified", "a verified token's claims are not marked")
	})
}

func TestVersionAndHelp(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(out), "audguard "))

	help := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		require.NoError(t, cmd.Run(), "asked-for help exits 0")
		require.Empty(t, errb.String(), "asked-for help goes to stdout")
		return out.String()
	}
	proxyHelp := help("proxy", "-h")
	for _, f := range []string{"listen", "resource", "issuer", "jwks-uri", "upstream", "scopes", "audience", "alg", "typ", "leeway", "allow-http-loopback", "jwks-refresh-cooldown", "jwks-fetch-timeout", "jwks-max-stale", "tls-cert", "tls-key", "shutdown-grace"} {
		require.Regexp(t, `(?m)^  -`+f+`( |$)`, proxyHelp, f)
		require.Contains(t, proxyHelp, "env "+envName(f), f)
	}
	for _, def := range []string{
		"(default 30s; env AUDGUARD_LEEWAY)",
		"(default 24h; env AUDGUARD_JWKS_MAX_STALE)",
		"(default 30s; env AUDGUARD_JWKS_REFRESH_COOLDOWN)",
		"(default 5s; env AUDGUARD_JWKS_FETCH_TIMEOUT)",
		"(default 10s; env AUDGUARD_SHUTDOWN_GRACE)",
	} {
		require.Contains(t, proxyHelp, def)
	}
	require.Equal(t, proxyHelp, help("proxy", "-help"))
	require.Contains(t, help("check", "-h"), "Usage: audguard check")
	require.Contains(t, help("demo", "-h"), "Usage: audguard demo")
	require.Contains(t, help("-h"), "audguard proxy [flags]")

	// Usage after a mistake goes to stderr with exit status 2.
	cmd := exec.Command(binary, "demo", "extra")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var ee *exec.ExitError
	require.ErrorAs(t, cmd.Run(), &ee)
	require.Equal(t, 2, ee.ExitCode())
	require.Empty(t, stdout.String())
	require.Contains(t, stderr.String(), "takes no arguments")

	code := exec.Command(binary, "frobnicate").Run()
	require.ErrorAs(t, code, &ee)
	require.Equal(t, 2, ee.ExitCode())
}

func TestDemo(t *testing.T) {
	start := time.Now()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo"}, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	require.Equal(t, 0, code, "%s\n%s", out.String(), errb.String())
	require.Less(t, time.Since(start), 10*time.Second)
	require.Contains(t, out.String(), "Result: all 8 steps behaved as expected.")
	require.NotContains(t, out.String(), "UNEXPECTED")
}

func TestProxyJWKSURIAndIssuers(t *testing.T) {
	t.Run("jwks_uri_skips_discovery", func(t *testing.T) {
		iss := audtest.NewIssuer(t, audtest.Options{})
		iss.SetDiscoveryHandler(audtest.Status(http.StatusNotFound))
		up := newUpstream(t)
		const resource = "https://api.example.com"
		p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-jwks-uri", iss.JWKSURL(), "-upstream", up.URL, "-allow-http-loopback")
		resp, _ := get(t, p.addr+"/x", bearer(iss.AccessToken(resource)))
		require.Equal(t, 200, resp.StatusCode)
		require.Zero(t, iss.DiscoveryFetches())
	})
	t.Run("two_issuers_each_with_its_own_keys", func(t *testing.T) {
		a := audtest.NewIssuer(t, audtest.Options{})
		b := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
		up := newUpstream(t)
		const resource = "https://api.example.com"
		p := startProxy(t, nil, "-resource", resource, "-issuer", a.URL(), "-issuer", b.URL(), "-upstream", up.URL, "-allow-http-loopback")
		for _, iss := range []*audtest.Issuer{a, b} {
			resp, _ := get(t, p.addr+"/x", bearer(iss.AccessToken(resource)))
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, iss.URL(), up.lastRequest().Header.Get("X-Audguard-Issuer"))
		}
		// A token claiming issuer A but signed with B's key is refused.
		forged := b.MustSign(audtest.Token{Claims: a.Claims(resource)})
		resp, _ := get(t, p.addr+"/x", bearer(forged))
		require.Equal(t, 401, resp.StatusCode)
	})
	t.Run("explicit_zero_leeway", func(t *testing.T) {
		iss := audtest.NewIssuer(t, audtest.Options{})
		up := newUpstream(t)
		const resource = "https://api.example.com"
		p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL, "-allow-http-loopback", "-leeway", "0s")
		c := iss.Claims(resource)
		c["exp"] = time.Now().Add(-2 * time.Second).Unix() // within the default 30s, not within 0s
		resp, _ := get(t, p.addr+"/x", bearer(iss.MustSign(audtest.Token{Claims: c})))
		require.Equal(t, 401, resp.StatusCode)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "expired")
	})
}

// TestProxyUpgrades: only WebSocket upgrades are tunnelled. An h2c upgrade
// would hand the upstream an HTTP/2 connection whose later requests never
// pass through the proxy (no token check, the client's own X-Audguard-*
// headers); the proxy drops the Upgrade header and the request is served
// as plain HTTP/1.1.
func TestProxyUpgrades(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{})
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Upgrade"))
		mu.Unlock()
		if r.Header.Get("Upgrade") == "" {
			fmt.Fprint(w, "plain")
			return
		}
		// Accept whatever protocol is asked for, as a permissive upstream
		// (hypercorn takes h2c on the Upgrade header alone) would.
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", r.Header.Get("Upgrade"))
		_ = brw.Flush()
	}))
	t.Cleanup(up.Close)
	const resource = "https://api.example.com"
	p := startProxy(t, nil, "-resource", resource, "-issuer", iss.URL(), "-upstream", up.URL, "-allow-http-loopback")
	tok := iss.AccessToken(resource)

	statusLine := func(t *testing.T, upgrade string) string {
		t.Helper()
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.addr, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: %s\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", tok, upgrade)
		line, err := bufio.NewReader(conn).ReadString('\n')
		require.NoError(t, err)
		return strings.TrimSpace(line)
	}
	for _, tc := range []struct {
		name, upgrade, wantStatus, wantUpstream string
	}{
		{name: "h2c", upgrade: "h2c", wantStatus: "HTTP/1.1 200 OK"},
		{name: "h2c_uppercase", upgrade: "H2C", wantStatus: "HTTP/1.1 200 OK"},
		{name: "websocket_or_h2c", upgrade: "websocket, h2c", wantStatus: "HTTP/1.1 200 OK"},
		{name: "websocket", upgrade: "websocket", wantStatus: "HTTP/1.1 101 Switching Protocols", wantUpstream: "websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			require.Equal(t, tc.wantStatus, statusLine(t, tc.upgrade))
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{tc.wantUpstream}, seen, "the Upgrade header the upstream saw")
		})
	}
}
