package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
)

// verifyFlags are the flags proxy and check share.
type verifyFlags struct {
	resource      string
	issuers       listFlag
	jwksURI       string
	scopes        csvFlag
	audiences     listFlag
	algs          csvFlag
	typ           string
	leeway        durationFlag
	allowLoopback bool
	cooldown      durationFlag
	fetchTimeout  durationFlag
	maxStale      durationFlag
}

func (vf *verifyFlags) register(fs *flagSet, withJWKSPolicy bool) {
	fs.StringVar(&vf.resource, "resource", "", "canonical URI of the protected resource (required), e.g. https://mcp.example.com/mcp")
	fs.Var(&vf.issuers, "issuer", "trusted issuer `URL`, compared byte for byte (required; repeatable)")
	fs.StringVar(&vf.jwksURI, "jwks-uri", "", "JWKS `URL` of the issuer, skipping discovery (single issuer only)")
	vf.algs.values = middleware.DefaultAlgorithms()
	fs.Var(&vf.algs, "alg", "accepted signature `algorithms`, comma-separated; RSA keys published without alg are used with the only RSA algorithm listed, or RS256")
	fs.StringVar(&vf.typ, "typ", "compat", "typ header policy: compat (absent, JWT or at+jwt) or strict (at+jwt and RFC 9068 claims)")
	vf.leeway.d = middleware.DefaultLeeway
	fs.Var(&vf.leeway, "leeway", "clock skew tolerated on exp, nbf and iat (`duration`, at most 5m; 0s for none)")
	fs.BoolVar(&vf.allowLoopback, "allow-http-loopback", false, "accept http (not https) URLs whose host is loopback, for local development")
	fs.Var(&vf.scopes, "scopes", "`scopes` every request needs, comma-separated")
	fs.Var(&vf.audiences, "audience", "extra accepted aud `value`, compared byte for byte (repeatable)")
	if withJWKSPolicy {
		// Zero would silently mean the jwks default (24h for max-stale):
		// these three refuse it.
		vf.cooldown.d, vf.cooldown.positive = jwks.DefaultRefreshCooldown, true
		vf.fetchTimeout.positive, vf.maxStale.positive = true, true
		fs.Var(&vf.cooldown, "jwks-refresh-cooldown", "minimum `duration` between JWKS refreshes caused by unknown key IDs")
		vf.fetchTimeout.d = jwks.DefaultFetchTimeout
		fs.Var(&vf.fetchTimeout, "jwks-fetch-timeout", "time limit of one discovery or JWKS fetch (`duration`)")
		vf.maxStale.d = jwks.DefaultMaxStale
		fs.Var(&vf.maxStale, "jwks-max-stale", "how long the last good JWKS is used while fetches fail (`duration`)")
	}
}

// config turns the flags into a verifier configuration. Problems are
// returned as one error of plain sentences.
func (vf *verifyFlags) config(logger *slog.Logger) (middleware.Config, error) {
	var problems []string
	if vf.resource == "" {
		problems = append(problems, "-resource is required")
	}
	if len(vf.issuers.values) == 0 {
		problems = append(problems, "-issuer is required")
	}
	if vf.jwksURI != "" && len(vf.issuers.values) > 1 {
		problems = append(problems, "-jwks-uri can be used with a single -issuer only (several issuers are discovered)")
	}
	typ, err := middleware.ParseTypPolicy(vf.typ)
	if err != nil {
		problems = append(problems, "-typ: "+err.Error())
	}
	if len(vf.algs.values) == 0 {
		problems = append(problems, "-alg: at least one algorithm is required")
	}
	if len(problems) > 0 {
		return middleware.Config{}, errors.New(strings.Join(problems, "\n"))
	}
	cfg := middleware.Config{
		Resource:          vf.resource,
		Audiences:         vf.audiences.values,
		Algorithms:        vf.algs.values,
		Typ:               typ,
		Scopes:            vf.scopes.values,
		AllowHTTPLoopback: vf.allowLoopback,
		Logger:            logger,
		JWKS: jwks.Options{
			RefreshCooldown: vf.cooldown.d,
			FetchTimeout:    vf.fetchTimeout.d,
			MaxStale:        vf.maxStale.d,
		},
	}
	cfg.Leeway = vf.leeway.d
	if vf.leeway.d == 0 {
		cfg.Leeway = middleware.NoLeeway // an explicit 0s means no tolerance
	}
	for _, u := range vf.issuers.values {
		cfg.Issuers = append(cfg.Issuers, middleware.Issuer{URL: u, JWKSURI: vf.jwksURI})
	}
	return cfg, nil
}

// configField matches the start of a middleware.New or jwks.NewRemote
// problem that names a Go field (Issuers[0], Leeway, ...), optionally
// after the "jwks: " prefix.
var configField = regexp.MustCompile(`^(?:jwks: )?(Issuers\[\d+\] JWKSURI|Issuers\[\d+\]|issuer|Issuer|JWKSURI|ScopesSupported|Scopes|Audiences|Algorithms|Resource|Typ|Leeway)(?:[ :]|$)`)

// fieldFlags names the flag that sets each field.
var fieldFlags = map[string]string{
	"Issuers": "-issuer", "issuer": "-issuer", "Issuer": "-issuer", "JWKSURI": "-jwks-uri",
	"ScopesSupported": "-scopes", "Scopes": "-scopes", "Audiences": "-audience",
	"Algorithms": "-alg", "Resource": "-resource", "Typ": "-typ", "Leeway": "-leeway",
}

// configProblems turns an error of middleware.New into one line per
// problem, in terms of the flags rather than the Go fields, without
// repeating a line (-scopes feeds both Scopes and ScopesSupported).
func configProblems(err error) []string {
	msg := strings.TrimPrefix(err.Error(), "audguard: invalid configuration:")
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		for line != "" { // "issuer "x": jwks: Issuer "x": ..." names the flag twice
			m := configField.FindStringSubmatchIndex(line)
			if m == nil {
				break
			}
			field := line[m[2]:m[3]]
			key, _, _ := strings.Cut(field, "[")
			if strings.HasSuffix(field, "JWKSURI") {
				key = "JWKSURI"
			}
			rest := line[m[3]:] // starts with ' ', ':' or is empty
			if next := strings.Index(rest, ": jwks: "); next >= 0 {
				line = rest[next+2:] // keep the inner, more precise problem
				continue
			}
			line = fieldFlags[key] + rest
			break
		}
		if line != "" && !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// proxyFlags are the flags of audguard proxy.
type proxyFlags struct {
	verifyFlags
	listen   string
	upstream string
	tlsCert  string
	tlsKey   string
	grace    durationFlag
}

const proxyAbout = `Guards an upstream HTTP server (an MCP server in any language, an API): every
request except the RFC 9728 metadata document needs a bearer token issued for
-resource. Verified requests are forwarded with Authorization removed and
X-Audguard-Subject, X-Audguard-Client-Id, X-Audguard-Scope and X-Audguard-Issuer
set; client-sent X-Audguard-* headers are dropped. Responses, including
server-sent events, stream through unbuffered.`

// defaultShutdownGrace is how long in-flight requests may take to finish
// after SIGINT or SIGTERM before the remaining connections are closed.
const defaultShutdownGrace = 10 * time.Second

func parseProxyFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (*proxyFlags, error) {
	pf := &proxyFlags{}
	fs := newFlagSet("proxy", "audguard proxy -resource URI -issuer URL -upstream URL [flags]", proxyAbout, stdout, stderr)
	fs.StringVar(&pf.listen, "listen", ":8080", "`address` to serve plain HTTP on (TLS terminates in front, or use -tls-cert)")
	fs.StringVar(&pf.upstream, "upstream", "", "`URL` of the protected server (required), e.g. http://127.0.0.1:3000")
	fs.StringVar(&pf.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `file` (with -tls-key)")
	fs.StringVar(&pf.tlsKey, "tls-key", "", "private key `file` for -tls-cert")
	pf.grace.d = defaultShutdownGrace
	fs.Var(&pf.grace, "shutdown-grace", "on SIGINT or SIGTERM, how long in-flight requests may take to finish before open connections (streams) are closed (`duration`)")
	pf.register(fs, true)
	if err := fs.parse(args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "audguard proxy: unexpected argument %q\n", fs.Arg(0))
		return nil, errUsage
	}
	return pf, nil
}

// proxy is the guarding reverse proxy.
type proxy struct {
	v      *middleware.Verifier
	rp     *httputil.ReverseProxy
	meta   http.Handler
	log    *slog.Logger
	mdPath string // escaped as in the resource_metadata URL, then normalized (normalizeEscapes)
	mdQry  string
	hasQry bool
	// inflight counts proxied requests still being answered (metadata and
	// rejected requests are answered at once), for the shutdown log.
	inflight atomic.Int64
}

// newProxy validates everything and builds the handler. It performs no
// network I/O.
func newProxy(pf *proxyFlags, logger *slog.Logger) (*proxy, error) {
	var problems []string
	cfg, err := pf.config(logger)
	if err != nil {
		problems = append(problems, err.Error())
	}
	up, err := parseUpstream(pf.upstream)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	v, err := middleware.New(cfg)
	if err != nil {
		return nil, errors.New(strings.Join(configProblems(err), "\n"))
	}
	p := &proxy{v: v, meta: v.MetadataHandler(), log: logger, mdPath: normalizeEscapes(v.MetadataPath())}
	if u, err := url.Parse(v.MetadataURL()); err == nil {
		p.mdQry, p.hasQry = u.RawQuery, u.ForceQuery || u.RawQuery != ""
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:       p.rewrite(up),
		FlushInterval: -1, // stream every write: server-sent events, chunked bodies
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			logger.Warn("upstream request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
			http.Error(w, "Bad Gateway", http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

func parseUpstream(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("-upstream is required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-upstream %q: must be an absolute http or https URL", s)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("-upstream %q: must not contain userinfo or a fragment", s)
	}
	return u, nil
}

// identityHeaders are set on every forwarded request; any client-sent
// header with this prefix is removed first.
const identityPrefix = "X-Audguard-"

func (p *proxy) rewrite(up *url.URL) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(up) // path joined as NewSingleHostReverseProxy does
		// ReverseProxy drops query parameters it cannot parse (a=1;b=2,
		// %zz) before Rewrite runs; the contract is to forward the query
		// unchanged, joined to the upstream's as NewSingleHostReverseProxy
		// does. audguard never reads the query, so there is nothing for a
		// parser disagreement to smuggle past.
		pr.Out.URL.RawQuery = joinQuery(up.RawQuery, pr.In.URL.RawQuery)
		pr.SetXForwarded()
		h := pr.Out.Header
		h.Del("Authorization") // no token passthrough (MCP security best practices)
		for k := range h {
			if isIdentityHeader(k) {
				delete(h, k)
			}
		}
		c, ok := middleware.ClaimsFromContext(pr.In.Context())
		if !ok {
			return // unreachable: ServeHTTP only proxies verified requests
		}
		set := func(name, v string) {
			if v != "" {
				h.Set(name, v)
			}
		}
		set("X-Audguard-Subject", c.Subject)
		set("X-Audguard-Client-Id", c.ClientID)
		set("X-Audguard-Scope", c.Scope)
		set("X-Audguard-Issuer", c.Issuer)
	}
}

// joinQuery joins the upstream URL's query and the request's exactly as
// httputil.NewSingleHostReverseProxy's director does.
func joinQuery(target, req string) string {
	if target == "" || req == "" {
		return target + req
	}
	return target + "&" + req
}

// isIdentityHeader reports whether a client-sent header could be taken
// for one of audguard's identity headers: any case, and with '_' for '-'
// (CGI, WSGI and PHP map both to the same variable, so X_Audguard_Subject
// would otherwise spoof X-Audguard-Subject).
func isIdentityHeader(name string) bool {
	if len(name) < len(identityPrefix) {
		return false
	}
	for i := 0; i < len(identityPrefix); i++ {
		c, want := name[i], identityPrefix[i]
		if c == '_' {
			c = '-'
		}
		if c != want && c|0x20 != want|0x20 {
			return false
		}
	}
	return true
}

// isMetadata compares escaped paths: the metadata path is the resource's
// path as written, so a resource with %20 or %2F in its path has its
// document at that escaped path, and /a/b is not /a%2Fb. EscapedPath keeps
// the client's own escaping whenever it is valid; both sides are then
// normalized as RFC 3986 §6.2.2 allows (hex digits in upper case,
// unreserved characters decoded), so /%6Dcp is /mcp.
func (p *proxy) isMetadata(r *http.Request) bool {
	ep := r.URL.EscapedPath()
	if strings.IndexByte(ep, '%') >= 0 {
		ep = normalizeEscapes(ep)
	}
	if ep != p.mdPath {
		return false
	}
	return !p.hasQry || r.URL.RawQuery == p.mdQry
}

// normalizeEscapes applies RFC 3986 §6.2.2.1 and §6.2.2.2 to an escaped
// path: percent-encodings of unreserved characters are decoded, the others
// get upper-case hex digits. Encoded reserved characters (%2F) stay
// encoded, so they never become delimiters.
func normalizeEscapes(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(s[i])
			continue
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(s[i+1 : i+3]))
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// isUnreserved is RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// ServeHTTP routes by path only, whatever the Host: the metadata document
// is public, everything else is verified and proxied.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.isMetadata(r) {
		p.meta.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	c, err := p.v.Authenticate(ctx, r.Header.Values("Authorization"))
	if err == nil && (hasControl(c.Subject) || hasControl(c.ClientID)) {
		// Such values cannot travel in a header; refuse rather than alter
		// the identity the upstream sees.
		err = fmt.Errorf("%w: sub or client_id holds control characters", middleware.ErrClaims)
	}
	if err != nil {
		resp := p.v.ErrorResponse(err)
		p.log.LogAttrs(ctx, slog.LevelInfo, "request rejected",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path), // never the query: it may carry tokens
			slog.Int("status", resp.Status),
			slog.String("reason", middleware.Reason(err)),
			slog.String("remote", r.RemoteAddr))
		resp.Write(w)
		return
	}
	onlyWebSocketUpgrade(r.Header)
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	p.rp.ServeHTTP(w, r.WithContext(middleware.ContextWithClaims(ctx, c)))
}

// onlyWebSocketUpgrade removes an Upgrade request header that asks for
// anything but a WebSocket. httputil.ReverseProxy tunnels every protocol
// switch the upstream accepts; after an h2c upgrade the upstream would
// take further HTTP/2 requests on that connection that never pass through
// the proxy: no token check, and the client's own X-Audguard-* headers.
// Without the header the request goes upstream as plain HTTP/1.1 (a server
// may always ignore Upgrade, RFC 9110 §7.8). A WebSocket keeps working:
// its frames are not HTTP requests, and the upgrade request itself was
// verified.
func onlyWebSocketUpgrade(h http.Header) {
	up := h.Values("Upgrade")
	if len(up) == 0 || len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
		return
	}
	h.Del("Upgrade")
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// serveSettings checks the flags that only matter when serving (not in
// the demo): the listen address and the TLS key pair, which is loaded now
// so that a bad file is a start-up error rather than a failure of every
// handshake.
func serveSettings(pf *proxyFlags) (*tls.Config, []string) {
	var problems []string
	if host, port, err := net.SplitHostPort(pf.listen); err != nil {
		problems = append(problems, fmt.Sprintf("-listen %q: not an address; use host:port or :port, e.g. :8080 or 127.0.0.1:8080", pf.listen))
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		problems = append(problems, fmt.Sprintf("-listen %q: port %q must be a number from 0 to 65535", pf.listen, port))
	} else if strings.ContainsAny(host, " /") {
		problems = append(problems, fmt.Sprintf("-listen %q: host %q is not a host name or IP address", pf.listen, host))
	}
	switch {
	case pf.tlsCert == "" && pf.tlsKey == "":
		return nil, problems
	case pf.tlsCert == "" || pf.tlsKey == "":
		return nil, append(problems, "-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(pf.tlsCert, pf.tlsKey)
	if err != nil {
		return nil, append(problems, fmt.Sprintf("-tls-cert %q and -tls-key %q: cannot load the key pair: %v", pf.tlsCert, pf.tlsKey, err))
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, problems
}

// runProxy serves until ctx ends or SIGINT/SIGTERM, then shuts down
// gracefully: it stops accepting, lets in-flight requests finish within
// -shutdown-grace, then closes what is still open (long-lived streams).
func runProxy(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(net.Addr)) error {
	pf, err := parseProxyFlags(args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(stderr)
	tlsConfig, problems := serveSettings(pf)
	p, err := newProxy(pf, logger)
	if err != nil {
		problems = append(strings.Split(err.Error(), "\n"), problems...)
	}
	if len(problems) > 0 {
		if p != nil {
			p.v.Close()
		}
		fmt.Fprintf(stderr, "audguard proxy: invalid configuration:\n  %s\n", strings.Join(problems, "\n  "))
		return errUsage
	}
	defer p.v.Close()

	ln, err := net.Listen("tcp", pf.listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is already in use (is another server running there?)", pf.listen)
		}
		return fmt.Errorf("cannot listen on %s: %w", pf.listen, err)
	}
	// Every request's context derives from base, so that at the end of
	// the grace period proxied requests (streams, upgraded connections,
	// which the server does not track) are ended too.
	base, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
		TLSConfig:         tlsConfig,
		// No ReadTimeout/WriteTimeout: uploads and server-sent event
		// streams may legitimately last long.
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Warm the key cache while already serving, so that an unreachable
	// issuer does not delay start-up; requests arriving meanwhile share
	// the same fetch. Failure is reported, not fatal: requests are refused
	// (fail closed) until keys arrive.
	warm, cancelWarm := context.WithTimeout(ctx, pf.fetchTimeout.d+time.Second)
	warmed := make(chan struct{})
	defer func() { cancelWarm(); <-warmed }()
	go func() {
		defer close(warmed)
		if err := p.v.Refresh(warm); err != nil && ctx.Err() == nil {
			logger.Warn("signing keys not available at start-up; every request is refused until they are",
				slog.String("error", err.Error()))
		}
	}()

	logger.Info("audguard proxy listening",
		slog.String("listen", ln.Addr().String()),
		slog.String("resource", pf.resource),
		slog.String("upstream", pf.upstream),
		slog.String("metadata", p.v.MetadataURL()))
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the key pair loaded above; HTTP/2 enabled
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal now terminates at once
	logger.Info("shutting down: no new connections; waiting for in-flight requests",
		slog.Int64("in_flight", p.inflight.Load()),
		slog.String("grace", formatDuration(pf.grace.d)))
	sctx, scancel := context.WithTimeout(context.Background(), pf.grace.d)
	err = srv.Shutdown(sctx)
	scancel()
	if err != nil {
		// The grace period is over: end what is still open.
		open := p.inflight.Load()
		endRequests()
		_ = srv.Close()
		logger.Warn("shutdown: grace period over; closed the connections still open",
			slog.Int64("closed_requests", open),
			slog.String("grace", formatDuration(pf.grace.d)))
	} else {
		logger.Info("shutdown complete: every in-flight request finished")
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newLogger logs JSON when stderr is not a terminal, text otherwise.
func newLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, nil))
		}
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}
