// Command client is the client side of audience binding, step by step: it
// calls a protected resource without a token, follows the 401 challenge to
// the resource's RFC 9728 metadata and the authorization server's RFC 8414
// metadata, obtains a client-credentials token with the RFC 8707 resource
// parameter through tokensource, and calls again. With a second resource
// it shows that the first resource's token is refused there and that
// tokensource obtains a separate token for it.
//
//	go run ./client     # in-process test issuer and two resources, no setup
//
//	AUDGUARD_CLIENT_SECRET=... go run ./client -client-id reports \
//	    -resource-a https://files.example.com/api -resource-b https://mcp.example.com/mcp
//
// The client secret is read from AUDGUARD_CLIENT_SECRET, never from a flag
// (command lines are visible to other users). Tokens are never printed:
// only a short SHA-256 fingerprint, to tell them apart.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/audguard/audguard/tokensource"
)

// secretEnv names the environment variable holding the client secret.
const secretEnv = "AUDGUARD_CLIENT_SECRET"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		stop()
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	resourceA, resourceB string
	clientID             string
	clientSecret         string
	scope                string
	loopback             bool
	timeout              time.Duration
}

func parseFlags(args []string, out io.Writer, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.resourceA, "resource-a", "", "URL of a protected resource to call (default: start an in-process issuer and two resources)")
	fs.StringVar(&o.resourceB, "resource-b", "", "URL of a second protected resource, for the partition demonstration (optional)")
	fs.StringVar(&o.clientID, "client-id", "", "client ID at the authorization server (required with -resource-a; the secret comes from "+secretEnv+")")
	fs.StringVar(&o.scope, "scope", "", "space-separated scopes to request (default: the scope of the resource's 401 challenge)")
	fs.BoolVar(&o.loopback, "allow-http-loopback", false, "accept http URLs on loopback hosts (development only)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "bound for the whole run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch {
	case o.resourceA == "" && (o.resourceB != "" || o.clientID != ""):
		return o, errors.New("-resource-b and -client-id need -resource-a")
	case o.resourceA != "" && o.clientID == "":
		return o, errors.New("-client-id is required with -resource-a")
	case o.timeout <= 0:
		return o, errors.New("-timeout must be positive")
	}
	if o.resourceA != "" {
		o.clientSecret = getenv(secretEnv)
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args, out, os.Getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	var iss *audtest.Issuer
	if o.resourceA == "" {
		d, err := startDemo()
		if err != nil {
			return err
		}
		defer d.Close()
		iss = d.iss
		o.resourceA, o.resourceB = d.a.resource, d.b.resource
		o.clientID, o.clientSecret = "audtest-client", "audtest-secret" // audtest's built-in client
		o.loopback = true
		fmt.Fprintf(out, "In-process test issuer %s and two resources protected by audguard:\n", iss.URL())
		fmt.Fprintf(out, "  A: %s\n  B: %s\n", o.resourceA, o.resourceB)
		fmt.Fprintf(out, "(run with -resource-a, -resource-b and -client-id to use real ones)\n\n")
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, r := range []string{o.resourceA, o.resourceB} {
		if err := checkURL(r, o.loopback); err != nil {
			return err
		}
	}
	w := &steps{out: out}
	return clientFlow(ctx, w, hc, o, iss)
}

// checkURL refuses, before anything is sent, a resource URL that is not
// https (http only on loopback with -allow-http-loopback).
func checkURL(raw string, loopback bool) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && loopback && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%s: a resource URL must be https (http only on a loopback host with -allow-http-loopback)", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientFlow is what a client does; iss is the in-process issuer (nil for
// a real one), used only to report how many token requests were made.
func clientFlow(ctx context.Context, w *steps, hc *http.Client, o options, iss *audtest.Issuer) error {
	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: hc, AllowHTTPLoopback: o.loopback})
	if err != nil {
		return err
	}

	infoA, err := discoverResource(ctx, w, hc, d, "A", o.resourceA)
	if err != nil {
		return err
	}
	asIssuer := infoA.AuthorizationServers[0]
	w.step("Fetch the authorization server's metadata (RFC 8414, issuer checked byte for byte)")
	md, err := d.DiscoverAuthorizationServer(ctx, asIssuer)
	if err != nil {
		return err
	}
	w.detail("issuer:          %s", md.Issuer)
	w.detail("metadata:        %s", md.MetadataURL)
	w.detail("token endpoint:  %s", md.TokenEndpoint)
	if len(md.GrantTypesSupported) > 0 {
		w.detail("grant types:     %s", strings.Join(md.GrantTypesSupported, " "))
	}

	resources := []tokensource.Resource{{URI: infoA.Resource, Scopes: scopesFor(o, infoA)}}
	var infoB *tokensource.ResourceInfo
	if o.resourceB != "" {
		if infoB, err = discoverResource(ctx, w, hc, d, "B", o.resourceB); err != nil {
			return err
		}
		if !slices.Contains(infoB.AuthorizationServers, asIssuer) {
			return fmt.Errorf("resource B is not protected by %s, the authorization server of A; this example uses one", asIssuer)
		}
		resources = append(resources, tokensource.Resource{URI: infoB.Resource, Scopes: scopesFor(o, infoB)})
	}
	for _, r := range resources {
		if len(r.Scopes) == 0 {
			return fmt.Errorf("%s announces no scope in its challenge; pass -scope", r.URI)
		}
	}

	client, err := tokensource.New(tokensource.Config{
		TokenURL:          md.TokenEndpoint,
		ClientID:          o.clientID,
		ClientSecret:      o.clientSecret,
		Resources:         resources,
		HTTPClient:        hc,
		AllowHTTPLoopback: o.loopback,
	})
	if err != nil {
		return err
	}
	defer client.Close()
	api := &http.Client{Transport: client.Transport(hc.Transport), Timeout: hc.Timeout}

	w.step("Call A through tokensource's Transport: it requests a token with resource=%s", infoA.Resource)
	if err := expectStatus(ctx, api, infoA.Resource, "", http.StatusOK, w); err != nil {
		return err
	}
	tokA, err := client.Token(ctx, tokensource.Request{Resource: infoA.Resource}) // cached: no new request
	if err != nil {
		return err
	}
	w.detail("token for A:     %s (fingerprint; tokens are never printed)", fingerprint(tokA.AccessToken))

	if infoB == nil {
		w.step("Done (pass -resource-b to see a token refused by another resource)")
		return nil
	}

	w.step("Present A's token to B by hand: B must refuse it (its aud names A)")
	if err := expectStatus(ctx, hc, infoB.Resource, tokA.AccessToken, http.StatusUnauthorized, w); err != nil {
		return fmt.Errorf("resource B accepted a token issued for A: %w", err)
	}

	w.step("Call B through the same Transport: tokensource obtains a separate token for B")
	if err := expectStatus(ctx, api, infoB.Resource, "", http.StatusOK, w); err != nil {
		return err
	}
	tokB, err := client.Token(ctx, tokensource.Request{Resource: infoB.Resource})
	if err != nil {
		return err
	}
	w.detail("token for B:     %s", fingerprint(tokB.AccessToken))
	if tokA.AccessToken == tokB.AccessToken {
		return errors.New("resources A and B got the same token")
	}
	w.detail("A and B hold different tokens: the cache is partitioned by resource")

	w.step("Call A and B again: both tokens come from the cache")
	for _, r := range []string{infoA.Resource, infoB.Resource} {
		if err := expectStatus(ctx, api, r, "", http.StatusOK, w); err != nil {
			return err
		}
	}
	if iss != nil {
		w.detail("token requests made to the issuer: %d (one per resource)", iss.TokenRequests())
	}
	w.step("Done")
	return nil
}

// discoverResource calls the resource without a token and follows the 401
// challenge to its protected resource metadata.
func discoverResource(ctx context.Context, w *steps, hc *http.Client, d *tokensource.Discoverer, name, resource string) (*tokensource.ResourceInfo, error) {
	w.step("Call %s without a token: %s", name, resource)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, resource, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return nil, fmt.Errorf("%s answered %s without a token; expected 401", resource, resp.Status)
	}
	w.detail("%s, WWW-Authenticate: %s", resp.Status, strings.Join(resp.Header.Values("WWW-Authenticate"), ", "))

	w.step("Fetch %s's protected resource metadata (RFC 9728, resource checked against the URL called)", name)
	info, err := d.DiscoverFromResponse(ctx, resp)
	if err != nil {
		return nil, err
	}
	w.detail("resource:        %s", info.Resource)
	w.detail("metadata:        %s", info.MetadataURL)
	w.detail("auth servers:    %s", strings.Join(info.AuthorizationServers, " "))
	w.detail("scope required:  %s", strings.Join(info.Scope, " "))
	return info, nil
}

// scopesFor returns -scope, else the scopes of the resource's challenge.
func scopesFor(o options, info *tokensource.ResourceInfo) []string {
	if o.scope != "" {
		return strings.Fields(o.scope)
	}
	return info.Scope
}

// expectStatus GETs url, with token as a bearer token when it is not
// empty, and requires status.
func expectStatus(ctx context.Context, hc *http.Client, url, token string, status int, w *steps) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	line := resp.Status
	if resp.StatusCode == http.StatusOK {
		line += ": " + strings.TrimSpace(string(body))
	} else if desc := challengeDescription(resp); desc != "" {
		line += ": " + desc
	}
	w.detail("%s", line)
	if resp.StatusCode != status {
		return fmt.Errorf("%s answered %s, expected %d", url, resp.Status, status)
	}
	return nil
}

// challengeDescription returns the error and error_description of the
// response's Bearer challenge.
func challengeDescription(resp *http.Response) string {
	cs, err := tokensource.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return ""
	}
	for _, c := range cs {
		if c.Is("Bearer") && c.Param("error") != "" {
			return c.Param("error") + " (" + c.Param("error_description") + ")"
		}
	}
	return ""
}

// fingerprint identifies a token without revealing it.
func fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// steps prints numbered steps and their details.
type steps struct {
	out io.Writer
	n   int
}

func (s *steps) step(format string, args ...any) {
	s.n++
	fmt.Fprintf(s.out, "%d. %s\n", s.n, fmt.Sprintf(format, args...))
}

func (s *steps) detail(format string, args ...any) {
	fmt.Fprintf(s.out, "   %s\n", fmt.Sprintf(format, args...))
}

// demo is the in-process issuer and two resources.
type demo struct {
	iss  *audtest.Issuer
	a, b *resourceServer
}

// resourceServer is an HTTP server with one audguard-protected resource
// at /api and its RFC 9728 document.
type resourceServer struct {
	srv      *httptest.Server
	v        *middleware.Verifier
	resource string
}

func startDemo() (*demo, error) {
	iss, err := audtest.Start(audtest.Options{})
	if err != nil {
		return nil, err
	}
	d := &demo{iss: iss}
	if d.a, err = startResource(iss, "A"); err == nil {
		d.b, err = startResource(iss, "B")
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *demo) Close() {
	for _, r := range []*resourceServer{d.a, d.b} {
		if r != nil {
			r.srv.Close()
			_ = r.v.Close()
		}
	}
	d.iss.Close()
}

// startResource starts a resource server on loopback that accepts only
// tokens of iss whose aud names it and that carry the scope api:read. Both
// resources require the same scope: only the audience tells their tokens
// apart.
func startResource(iss *audtest.Issuer, name string) (*resourceServer, error) {
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	r := &resourceServer{srv: srv, resource: "http://" + srv.Listener.Addr().String() + "/api"}
	v, err := middleware.New(middleware.Config{
		Resource:          r.resource,
		Issuers:           []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Scopes:            []string{"api:read"},
		ScopesSupported:   []string{"api:read"},
		ResourceName:      "resource " + name,
		AllowHTTPLoopback: true, // the demo serves plain http on 127.0.0.1
	})
	if err != nil {
		srv.Close()
		return nil, err
	}
	r.v = v
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET /api", v.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		claims, _ := middleware.ClaimsFromContext(req.Context())
		fmt.Fprintf(w, "hello from resource %s, client %s\n", name, claims.Subject)
	})))
	srv.Start()
	return r, nil
}
