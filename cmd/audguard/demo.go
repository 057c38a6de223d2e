package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
)

const demoAbout = `Walks through audience binding end to end in one process, with no setup: an
embedded authorization server, two protected resources (audguard proxies in
front of a small app) and a scripted client, all on 127.0.0.1. Each step
prints the request and the answer. Exit status: 0 when every step behaved as
shown, 1 otherwise.`

// runDemo starts an issuer, two protected resources (each an audguard proxy
// in front of a small app) and a scripted client, all on loopback, and
// prints what happens at each step. It fails when any step does not behave
// as shown, so the demo doubles as a smoke test.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "audguard demo", demoAbout, stdout, stderr)
	if err := fs.parse(args, func(string) string { return "" }); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "audguard demo: takes no arguments\n")
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d, err := startDemo(ctx)
	if err != nil {
		return err
	}
	defer d.close()
	return d.script(ctx, stdout)
}

type demo struct {
	iss      *audtest.Issuer
	app      *http.Server
	servers  []*http.Server
	proxies  []*proxy
	mcp, api string // resource URIs
	client   *http.Client
}

const demoClientID, demoClientSecret = "demo-client", "demo-secret"

func startDemo(ctx context.Context) (*demo, error) {
	d := &demo{client: &http.Client{Timeout: 5 * time.Second}}
	listen := func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

	lnMCP, err := listen()
	if err != nil {
		return nil, err
	}
	lnAPI, err := listen()
	if err != nil {
		lnMCP.Close()
		return nil, err
	}
	d.mcp = "http://" + lnMCP.Addr().String() + "/mcp"
	d.api = "http://" + lnAPI.Addr().String() + "/api"

	d.iss, err = audtest.Start(audtest.Options{
		Resources: []string{d.mcp, d.api},
		Clients:   map[string]string{demoClientID: demoClientSecret},
	})
	if err != nil {
		lnMCP.Close()
		lnAPI.Close()
		return nil, err
	}

	lnApp, err := listen()
	if err != nil {
		d.close()
		return nil, err
	}
	d.app = &http.Server{Handler: http.HandlerFunc(demoApp), ReadHeaderTimeout: 5 * time.Second}
	go d.app.Serve(lnApp)
	appURL := "http://" + lnApp.Addr().String()

	quiet := slog.New(slog.DiscardHandler)
	for _, r := range []struct {
		ln       net.Listener
		resource string
		scope    string
	}{{lnMCP, d.mcp, "mcp:tools"}, {lnAPI, d.api, "api:read"}} {
		pf := &proxyFlags{upstream: appURL}
		pf.resource = r.resource
		pf.issuers.values = []string{d.iss.URL()}
		pf.scopes.values = []string{r.scope}
		pf.algs.values = middleware.DefaultAlgorithms()
		pf.typ = "compat"
		pf.leeway.d = middleware.DefaultLeeway
		pf.allowLoopback = true // everything runs on 127.0.0.1
		pf.cooldown.d, pf.fetchTimeout.d, pf.maxStale.d = jwks.DefaultRefreshCooldown, 2*time.Second, jwks.DefaultMaxStale
		p, err := newProxy(pf, quiet)
		if err != nil {
			r.ln.Close()
			d.close()
			return nil, err
		}
		srv := &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
		d.proxies = append(d.proxies, p)
		d.servers = append(d.servers, srv)
		go srv.Serve(r.ln)
	}
	return d, nil
}

func (d *demo) close() {
	for _, s := range d.servers {
		s.Close()
	}
	for _, p := range d.proxies {
		p.v.Close()
	}
	if d.app != nil {
		d.app.Close()
	}
	if d.iss != nil {
		d.iss.Close()
	}
}

// demoApp is the protected application: it reports what audguard told it.
func demoApp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"app":                     "hello from " + r.URL.Path,
		"subject":                 r.Header.Get("X-Audguard-Subject"),
		"client_id":               r.Header.Get("X-Audguard-Client-Id"),
		"scope":                   r.Header.Get("X-Audguard-Scope"),
		"authorization_forwarded": r.Header.Get("Authorization") != "",
	})
}

type step struct {
	out    io.Writer
	n      int
	failed []string
}

func (s *step) title(format string, args ...any) {
	s.n++
	fmt.Fprintf(s.out, "\n%d. %s\n", s.n, fmt.Sprintf(format, args...))
}

func (s *step) line(format string, args ...any) {
	fmt.Fprintf(s.out, "   %s\n", fmt.Sprintf(format, args...))
}

func (s *step) expect(ok bool, good, bad string) {
	if ok {
		s.line("✓ %s", good)
		return
	}
	s.line("✗ UNEXPECTED: %s", bad)
	s.failed = append(s.failed, fmt.Sprintf("step %d: %s", s.n, bad))
}

func (d *demo) call(ctx context.Context, s *step, method, target, token string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		s.line("→ %s %s   Authorization: Bearer %s…", method, target, token[:min(12, len(token))])
	} else {
		s.line("→ %s %s   (no Authorization header)", method, target)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	s.line("← %s", resp.Status)
	if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
		s.line("  WWW-Authenticate: %s", ch)
	}
	return resp, strings.TrimSpace(string(body)), nil
}

func (d *demo) script(ctx context.Context, out io.Writer) error {
	s := &step{out: out}
	fmt.Fprintf(out, "audguard demo: audience-bound access tokens, end to end (everything on 127.0.0.1)\n\n")
	fmt.Fprintf(out, "  authorization server  %s   (RFC 8414 discovery, JWKS, token endpoint honouring RFC 8707)\n", d.iss.URL())
	fmt.Fprintf(out, "  resource A (MCP)      %s   requires scope mcp:tools\n", d.mcp)
	fmt.Fprintf(out, "  resource B (API)      %s   requires scope api:read\n", d.api)
	fmt.Fprintf(out, "  Both resources are audguard proxies in front of the same small app; both trust the same issuer.\n")

	// 1. No token.
	s.title("Call resource A without a token")
	resp, _, err := d.call(ctx, s, http.MethodGet, d.mcp, "")
	if err != nil {
		return err
	}
	ch := resp.Header.Get("WWW-Authenticate")
	mdURL := param(ch, "resource_metadata")
	s.expect(resp.StatusCode == 401 && mdURL != "" && param(ch, "error") == "",
		"401 pointing to the resource metadata; no error code, since no token was sent",
		"wanted 401 with resource_metadata and no error code")

	// 2. Discovery.
	s.title("Fetch the protected resource metadata (RFC 9728) named in the challenge")
	var md middleware.Metadata
	if mdURL != "" {
		resp, body, err := d.call(ctx, s, http.MethodGet, mdURL, "")
		if err != nil {
			return err
		}
		s.line("  %s", body)
		_ = json.Unmarshal([]byte(body), &md)
		s.expect(resp.StatusCode == 200 && md.Resource == d.mcp && len(md.AuthorizationServers) == 1 && md.AuthorizationServers[0] == d.iss.URL(),
			"\"resource\" is exactly the URL called, and it names the authorization server to ask",
			"wanted 200 with resource == "+d.mcp)
	} else {
		s.expect(false, "", "no resource_metadata to fetch")
	}

	// 3. Token for A.
	s.title("Ask the authorization server for a token for resource A (RFC 8707 \"resource\" parameter)")
	tokA, claimsA, err := d.token(ctx, s, d.mcp, "mcp:tools")
	if err != nil {
		return err
	}
	s.expect(tokA != "" && strings.Contains(claimsA, `"aud":"`+d.mcp+`"`),
		"the token's aud is resource A", "wanted a token with aud "+d.mcp)

	// 4. Accepted at A.
	s.title("Call resource A with that token")
	resp, body, err := d.call(ctx, s, http.MethodGet, d.mcp, tokA)
	if err != nil {
		return err
	}
	s.line("  %s", body)
	var app map[string]any
	_ = json.Unmarshal([]byte(body), &app)
	s.expect(resp.StatusCode == 200 && app["authorization_forwarded"] == false && app["subject"] == demoClientID,
		"accepted; the app received X-Audguard-* identity headers and no Authorization header (no token passthrough)",
		"wanted 200 with identity headers and without the token")

	// 5. Replay at B.
	s.title("Replay the same token at resource B: the confused deputy")
	resp, _, err = d.call(ctx, s, http.MethodGet, d.api, tokA)
	if err != nil {
		return err
	}
	ch = resp.Header.Get("WWW-Authenticate")
	s.expect(resp.StatusCode == 401 && param(ch, "error") == "invalid_token" && strings.Contains(param(ch, "error_description"), "not issued for this resource"),
		"refused: the signature and issuer are fine, but aud names resource A, not B",
		"wanted 401 invalid_token for the wrong audience")

	// 6. Missing scope at B.
	s.title("Get a token for resource B without the scope it requires, and call B")
	tokB, _, err := d.token(ctx, s, d.api, "")
	if err != nil {
		return err
	}
	resp, _, err = d.call(ctx, s, http.MethodGet, d.api, tokB)
	if err != nil {
		return err
	}
	ch = resp.Header.Get("WWW-Authenticate")
	s.expect(resp.StatusCode == 403 && param(ch, "error") == "insufficient_scope" && param(ch, "scope") == "api:read",
		"403 insufficient_scope, naming every scope the operation requires",
		"wanted 403 insufficient_scope with scope=\"api:read\"")

	// 7. Expired.
	s.title("Call resource A with a token for A that expired an hour ago (signed by the real issuer key)")
	expired := d.iss.MustSign(audtest.Token{Claims: withScope(d.iss.Expired(d.mcp, time.Hour), "mcp:tools")})
	resp, _, err = d.call(ctx, s, http.MethodGet, d.mcp, expired)
	if err != nil {
		return err
	}
	ch = resp.Header.Get("WWW-Authenticate")
	s.expect(resp.StatusCode == 401 && param(ch, "error_description") == "The access token expired",
		"refused as expired", "wanted 401 \"The access token expired\"")

	// 8. alg none.
	s.title("Call resource A with an unsigned token (\"alg\": \"none\")")
	none := d.iss.MustSign(audtest.Token{Claims: withScope(d.iss.Claims(d.mcp), "mcp:tools"), Alg: "none"})
	resp, _, err = d.call(ctx, s, http.MethodGet, d.mcp, none)
	if err != nil {
		return err
	}
	ch = resp.Header.Get("WWW-Authenticate")
	s.expect(resp.StatusCode == 401 && param(ch, "error") == "invalid_token",
		"refused before any key is looked up", "wanted 401 invalid_token")

	fmt.Fprintln(out)
	if len(s.failed) > 0 {
		fmt.Fprintf(out, "Result: %d of %d steps did not behave as expected.\n", len(s.failed), s.n)
		return errors.New(strings.Join(s.failed, "; "))
	}
	fmt.Fprintf(out, "Result: all %d steps behaved as expected.\n", s.n)
	fmt.Fprintf(out, "Next: guard your own server with  audguard proxy -resource URI -issuer URL -upstream URL  (audguard proxy -h)\n")
	return nil
}

func withScope(c map[string]any, scope string) map[string]any {
	c["scope"] = scope
	return c
}

// token asks the issuer for a client-credentials token for resource.
func (d *demo) token(ctx context.Context, s *step, resource, scope string) (tok, claims string, err error) {
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	if scope != "" {
		form.Set("scope", scope)
	}
	s.line("→ POST %s   grant_type=client_credentials resource=%s scope=%q", d.iss.TokenURL(), resource, scope)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.iss.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demoClientID, demoClientSecret)
	resp, err := d.client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var tr audtest.TokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&tr); err != nil || resp.StatusCode != 200 {
		return "", "", fmt.Errorf("token endpoint answered %s", resp.Status)
	}
	parts := strings.Split(tr.AccessToken, ".")
	if len(parts) == 3 {
		if b, err := decodeSegment(parts[1]); err == nil {
			claims = string(b)
		}
	}
	s.line("← %s; token claims: %s", resp.Status, claims)
	return tr.AccessToken, claims, nil
}

// param extracts an auth-param value from a Bearer challenge rendered by
// audguard (quoted values without escapes).
func param(challenge, name string) string {
	for _, p := range strings.Split(strings.TrimPrefix(challenge, "Bearer "), ", ") {
		if k, v, ok := strings.Cut(p, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}
