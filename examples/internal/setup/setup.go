// Package setup is what every example shares: flags, the verifier (for
// the in-process audtest issuer by default, for a real issuer with
// -issuer), the listener, and the "try this" lines printed at start.
package setup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

// Options describe one example.
type Options struct {
	// Name is the example's directory name, for messages.
	Name string
	// Listen is the default listen address.
	Listen string
	// Path is the path of the protected resource on this server ("" for
	// the root), used for the default resource URI.
	Path string
	// Scopes are required on every request (Config.Scopes).
	Scopes []string
	// Flags registers extra flags of the example.
	Flags func(*flag.FlagSet)
}

// Env is a running example's verifier and listener.
type Env struct {
	Verifier *middleware.Verifier
	Listener net.Listener
	// Resource is the canonical URI of the protected resource.
	Resource string
	// Issuer is the in-process issuer, nil with -issuer.
	Issuer *audtest.Issuer
	// Out receives the example's messages.
	Out io.Writer
}

// Start parses args, opens the listener and builds the verifier. With
// -issuer it also fetches the issuer's keys once, and only warns when that
// fails (the verifier fetches them again on first use). Close the Env when
// done.
func Start(ctx context.Context, args []string, out io.Writer, o Options) (*Env, error) {
	fs := flag.NewFlagSet(o.Name, flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", o.Listen, "listen address")
	issuer := fs.String("issuer", "", "issuer URL of a real authorization server (default: start an in-process test issuer)")
	resource := fs.String("resource", "", "canonical URI of this resource, the `aud` tokens must carry (default with the test issuer: derived from -listen)")
	jwksURI := fs.String("jwks-uri", "", "JWKS URL of -issuer (default: discovered from the issuer's metadata)")
	loopback := fs.Bool("allow-http-loopback", false, "accept http URIs on loopback hosts for -issuer, -resource and -jwks-uri (development only)")
	if o.Flags != nil {
		o.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *issuer == "" && *jwksURI != "" {
		return nil, errors.New("-jwks-uri needs -issuer")
	}
	if *issuer != "" && *resource == "" {
		return nil, errors.New("-resource is required with -issuer: the canonical URI your authorization server puts in aud")
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return nil, err
	}
	e := &Env{Listener: ln, Resource: *resource, Out: out}
	cfg := middleware.Config{Resource: *resource, Scopes: o.Scopes, AllowHTTPLoopback: *loopback}
	if *issuer == "" {
		e.Issuer, err = audtest.Start(audtest.Options{TokenLifetime: time.Hour})
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		if e.Resource == "" {
			e.Resource = "http://" + loopbackAddr(ln.Addr()) + o.Path
		}
		cfg.Resource = e.Resource
		cfg.AllowHTTPLoopback = true // the test issuer and the default resource are http on loopback
		cfg.Issuers = []middleware.Issuer{{URL: e.Issuer.URL(), Keys: e.Issuer.KeySet()}}
	} else {
		cfg.Issuers = []middleware.Issuer{{URL: *issuer, JWKSURI: *jwksURI}}
	}
	e.Verifier, err = middleware.New(cfg)
	if err != nil {
		e.Close()
		return nil, err
	}
	if p := e.Path("/"); !plainPath(p) {
		e.Close()
		return nil, fmt.Errorf("the path of -resource, %q, is served as is: use only letters, digits and / - . _ ~", p)
	}
	if e.Issuer == nil {
		refreshCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := e.Verifier.Refresh(refreshCtx); err != nil {
			fmt.Fprintf(out, "warning: the issuer's keys could not be fetched yet (retried on first request): %v\n", err)
		}
	}
	return e, nil
}

// Close releases the verifier, the issuer and the listener.
func (e *Env) Close() {
	if e.Verifier != nil {
		_ = e.Verifier.Close()
	}
	if e.Issuer != nil {
		e.Issuer.Close()
	}
	_ = e.Listener.Close()
}

// Addr returns the address clients on this machine reach the listener at,
// host:port (localhost when listening on every interface).
func (e *Env) Addr() string { return loopbackAddr(e.Listener.Addr()) }

func loopbackAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// Path returns the path this server serves the protected resource at:
// the path of Resource, or def when Resource is the server's origin (no
// path, or "/"). Start has checked that it is a plain path that every
// router of the examples takes literally.
func (e *Env) Path(def string) string {
	u, err := url.Parse(e.Resource)
	if err != nil || u.EscapedPath() == "" || u.EscapedPath() == "/" {
		return def
	}
	return u.EscapedPath()
}

// URL returns the URL a client on this machine reaches path at:
// http://Addr() followed by path.
func (e *Env) URL(path string) string { return "http://" + e.Addr() + path }

// LocalURL returns u (a URL of this resource, such as its metadata URL)
// with its scheme and host replaced by those clients on this machine
// reach the listener at: the resource's host may be a public name that
// does not lead here.
func (e *Env) LocalURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Scheme, p.Host = "http", e.Addr()
	return p.String()
}

// plainPath reports whether path is made only of characters no router of
// the examples treats specially (ServeMux and chi take "{" for a
// wildcard, gin ":" and "*").
func plainPath(path string) bool {
	for _, c := range path {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("/-._~", c):
		default:
			return false
		}
	}
	return true
}

// Token mints a token from the in-process issuer ("" with -issuer).
func (e *Env) Token(aud string, scopes ...string) string {
	if e.Issuer == nil {
		return ""
	}
	return e.Issuer.AccessToken(aud, scopes...)
}

// OtherResource is a resource URI that is not this one, for the
// wrong-audience demonstration.
func (e *Env) OtherResource() string {
	u, err := url.Parse(e.Resource)
	if err != nil {
		return "https://other.example.com/"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "-other"
	return u.String()
}

// Banner prints what runs and where.
func (e *Env) Banner(name string) {
	fmt.Fprintf(e.Out, "audguard example %s\n", name)
	fmt.Fprintf(e.Out, "  listening: %s\n", e.Addr())
	fmt.Fprintf(e.Out, "  resource:  %s\n", e.Resource)
	if e.Issuer != nil {
		fmt.Fprintf(e.Out, "  issuer:    %s (in-process test issuer; run with -issuer and -resource for a real one)\n", e.Issuer.URL())
	} else {
		fmt.Fprintf(e.Out, "  issuer:    %s\n", strings.Join(e.Verifier.Metadata().AuthorizationServers, " "))
	}
}

// TokenEndpointHint prints how to get a fresh token from the in-process
// issuer with an RFC 8707 resource indicator.
func (e *Env) TokenEndpointHint(scope string) {
	if e.Issuer == nil {
		return
	}
	fmt.Fprintf(e.Out, "Fresh tokens (client_credentials with an RFC 8707 resource indicator):\n")
	fmt.Fprintf(e.Out, "  curl -s -u audtest-client:audtest-secret -d grant_type=client_credentials -d scope=%s --data-urlencode resource=%s %s\n",
		scope, e.Resource, e.Issuer.TokenURL())
}

// ServeHTTP serves h on the listener until ctx is done, then shuts the
// server down gracefully (bounded).
func (e *Env) ServeHTTP(ctx context.Context, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(e.Listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// TryHTTP prints ready-to-run curl lines for a GET API at url requiring
// scope, each with the status it should get: with the in-process issuer a
// token for this resource with scope (200), without it (403), a token for
// another resource (401), no token (401), and the metadata document (200).
// With -issuer it prints the line to use with a token of that issuer.
func (e *Env) TryHTTP(url, scope string) {
	fmt.Fprintln(e.Out, "Try:")
	if e.Issuer == nil {
		fmt.Fprintf(e.Out, "  curl -i -H \"Authorization: Bearer $TOKEN\" %s\n", url)
		return
	}
	e.Curl(url, e.Token(e.Resource, scope), http.StatusOK, "token for this resource with "+scope)
	e.Curl(url, e.Token(e.Resource), http.StatusForbidden, "token without "+scope)
	e.Curl(url, e.Token(e.OtherResource(), scope), http.StatusUnauthorized, "token for another resource")
	e.Curl(url, "", http.StatusUnauthorized, "no token")
	e.Curl(e.LocalURL(e.Verifier.MetadataURL()), "", http.StatusOK, "RFC 9728 metadata, no token needed")
	e.TokenEndpointHint(scope)
}

// Curl prints a ready-to-run curl line for url, with token unless it is
// empty, and the status it should get.
func (e *Env) Curl(url, token string, expect int, note string) {
	auth := ""
	if token != "" {
		auth = "-H 'Authorization: Bearer " + token + "' "
	}
	fmt.Fprintf(e.Out, "  curl -i %s%s   # expect %d: %s\n", auth, url, expect, note)
}
