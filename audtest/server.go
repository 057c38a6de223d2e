package audtest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (i *Issuer) routes(mux *http.ServeMux) {
	p := i.opts.Path
	mux.HandleFunc("GET /.well-known/oauth-authorization-server"+p, i.serveDiscovery)
	mux.HandleFunc("GET "+p+"/.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET "+p+"/jwks", i.serveJWKS)
	mux.HandleFunc("POST "+p+"/token", i.serveToken)
	mux.HandleFunc("GET "+p+"/authorize", i.serveAuthorize)
	mux.HandleFunc("POST "+p+"/register", i.serveRegister)
}

// Metadata returns the RFC 8414 document the issuer serves.
func (i *Issuer) Metadata() map[string]any {
	i.mu.Lock()
	iss := i.issuer
	if i.discIss != nil {
		iss = *i.discIss
	}
	i.mu.Unlock()
	return map[string]any{
		"issuer":                                         iss,
		"jwks_uri":                                       i.JWKSURL(),
		"token_endpoint":                                 i.TokenURL(),
		"authorization_endpoint":                         i.issuer + "/authorize",
		"registration_endpoint":                          i.issuer + "/register",
		"grant_types_supported":                          []string{"authorization_code", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"response_types_supported":                       []string{"code"},
		"code_challenge_methods_supported":               []string{"S256"},
		"authorization_response_iss_parameter_supported": true,
		"id_token_signing_alg_values_supported":          []string{"RS256"},
		"subject_types_supported":                        []string{"public"},
	}
}

// SetDiscoveryIssuer makes the discovery documents announce iss instead of
// the real issuer identifier (an "issuer mismatch" fault). An empty string
// restores the real value.
func (i *Issuer) SetDiscoveryIssuer(iss string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if iss == "" {
		i.discIss = nil
	} else {
		i.discIss = &iss
	}
}

// SetJWKSHandler replaces the JWKS endpoint with h (nil restores it) to
// inject faults: see [Status], [Hang], [Body] and [Redirect]. Requests
// are still counted by [Issuer.JWKSFetches].
func (i *Issuer) SetJWKSHandler(h http.Handler) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksFault = h
}

// SetDiscoveryHandler replaces both discovery endpoints with h (nil
// restores them).
func (i *Issuer) SetDiscoveryHandler(h http.Handler) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.discFault = h
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.discoveryFetches.Add(1)
	i.mu.Lock()
	fault := i.discFault
	i.mu.Unlock()
	if fault != nil {
		fault.ServeHTTP(w, r)
		return
	}
	writeJSON(w, http.StatusOK, i.Metadata())
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksFetches.Add(1)
	i.mu.Lock()
	fault := i.jwksFault
	i.mu.Unlock()
	if fault != nil {
		fault.ServeHTTP(w, r)
		return
	}
	if cc := i.opts.JWKSCacheControl; cc != "-" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(i.JWKS())
}

// Status is a fault handler answering with status code and a short body.
func Status(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, http.StatusText(code), code)
	})
}

// Hang is a fault handler that answers only after d, or when the client
// gives up, whichever comes first.
func Hang(d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			http.Error(w, "late", http.StatusGatewayTimeout)
		case <-r.Context().Done():
		}
	})
}

// Body is a fault handler answering 200 with contentType and body.
func Body(contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

// Redirect is a fault handler answering 302 to location.
func Redirect(location string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, location, http.StatusFound)
	})
}

// TokenResponse is the token endpoint's success answer (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	i.tokenRequests.Add(1)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	grant := r.PostForm.Get("grant_type")
	i.mu.Lock()
	_, public := i.public[clientID]
	i.mu.Unlock()
	switch want, known := i.opts.Clients[clientID]; {
	case public && (grant == "authorization_code" || grant == "refresh_token"):
		// A registered public client proves nothing but PKCE.
	case !known || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1:
		w.Header().Set("WWW-Authenticate", `Basic realm="audtest"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	resources := r.PostForm["resource"]
	for _, res := range resources {
		if !i.resourceAllowed(res) {
			oauthError(w, http.StatusBadRequest, "invalid_target", "unknown resource")
			return
		}
	}
	scope := r.PostForm.Get("scope")
	if len(i.opts.Scopes) > 0 && !subsetScopes(scope, strings.Join(i.opts.Scopes, " ")) {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "unknown scope")
		return
	}
	sub := clientID
	switch grant {
	case "client_credentials":
	case "authorization_code":
		g, err := i.redeemCode(r.PostForm, clientID)
		if err != "" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", err)
			return
		}
		if len(resources) == 0 {
			resources = g.resources
		} else if !subsetScopes(strings.Join(resources, " "), strings.Join(g.resources, " ")) && len(g.resources) > 0 {
			oauthError(w, http.StatusBadRequest, "invalid_target", "resource not authorized for this code")
			return
		}
		if scope == "" {
			scope = g.scope
		} else if !subsetScopes(scope, g.scope) {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "scope exceeds the authorization request")
			return
		}
		sub = "user-1"
	case "refresh_token":
		i.mu.Lock()
		g, ok := i.refresh[r.PostForm.Get("refresh_token")]
		i.mu.Unlock()
		if !ok || g.clientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
		if scope == "" {
			scope = g.scope
		} else if !subsetScopes(scope, g.scope) {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "scope exceeds the original grant")
			return
		}
		if g.sub != "" {
			sub = g.sub
		}
	case "urn:ietf:params:oauth:grant-type:token-exchange":
		subject := r.PostForm.Get("subject_token")
		if subject == "" || r.PostForm.Get("subject_token_type") == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "subject_token and subject_token_type are required")
			return
		}
		sub = "exchanged:" + clientID
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	if len(resources) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_target", "a resource indicator (RFC 8707) is required")
		return
	}
	claims := i.Claims("")
	claims["client_id"] = clientID
	claims["sub"] = sub
	if len(resources) == 1 {
		claims["aud"] = resources[0]
	} else {
		claims["aud"] = resources
	}
	if scope != "" {
		claims["scope"] = scope
	}
	tok, err := i.Sign(Token{Claims: claims})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	resp := TokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(i.opts.TokenLifetime / time.Second),
		Scope:       scope,
	}
	if grant == "urn:ietf:params:oauth:grant-type:token-exchange" {
		resp.IssuedTokenType = "urn:ietf:params:oauth:token-type:access_token"
	} else {
		rt := make([]byte, 18)
		_, _ = rand.Read(rt)
		resp.RefreshToken = base64.RawURLEncoding.EncodeToString(rt)
		i.mu.Lock()
		i.refresh[resp.RefreshToken] = refreshGrant{clientID: clientID, scope: scope, sub: sub}
		i.mu.Unlock()
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (i *Issuer) resourceAllowed(res string) bool {
	if len(i.opts.Resources) > 0 {
		return slices.Contains(i.opts.Resources, res)
	}
	u, err := url.Parse(res)
	return err == nil && u.IsAbs() && u.Fragment == "" && u.Host != ""
}

func subsetScopes(sub, of string) bool {
	have := strings.Fields(of)
	for _, s := range strings.Fields(sub) {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveRegister is RFC 7591 dynamic registration for public clients: it
// records the redirect URIs and returns a new client_id.
func (i *Issuer) serveRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RedirectURIs []string `json:"redirect_uris"`
		ClientName   string   `json:"client_name"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || len(req.RedirectURIs) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "redirect_uris are required")
		return
	}
	for _, u := range req.RedirectURIs {
		if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Fragment != "" {
			oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", "redirect URIs must be absolute without fragment")
			return
		}
	}
	id := "public-" + randomID()
	i.mu.Lock()
	i.public[id] = req.RedirectURIs
	i.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"client_id":                  id,
		"client_id_issued_at":        i.opts.Now().Unix(),
		"redirect_uris":              req.RedirectURIs,
		"client_name":                req.ClientName,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
}

// serveAuthorize approves every valid authorization request at once, as
// user "user-1", and redirects back with a code (RFC 6749 §4.1, PKCE S256
// required, RFC 8707 "resource", RFC 9207 "iss"). Only clients registered
// at /register are served, and only for a redirect_uri they registered;
// confidential clients of Options.Clients have no redirect URIs and are
// refused without a redirect.
func (i *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	i.mu.Lock()
	uris, public := i.public[clientID]
	i.mu.Unlock()
	_, confidential := i.opts.Clients[clientID]
	switch {
	case !public && !confidential:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case !public:
		// A confidential client (Options.Clients) has no registered
		// redirect URIs, so no redirect_uri can be checked: refuse rather
		// than redirect anywhere (RFC 6749 §4.1.2.1: never redirect to an
		// unverified URI).
		http.Error(w, "invalid_request: client has no registered redirect_uri; register a public client", http.StatusBadRequest)
		return
	case !slices.Contains(uris, redirectURI):
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(redirectURI)
	if err != nil || !back.IsAbs() {
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	}
	// redirect sends the user agent back to the client with name=value,
	// the request's state and the RFC 9207 iss.
	redirect := func(name, value string) {
		v := back.Query()
		v.Set(name, value)
		v.Set("state", q.Get("state"))
		v.Set("iss", i.issuer)
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	fail := func(code string) { redirect("error", code) }
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type")
		return
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		fail("invalid_request")
		return
	}
	for _, res := range q["resource"] {
		if !i.resourceAllowed(res) {
			fail("invalid_target")
			return
		}
	}
	if scope := q.Get("scope"); len(i.opts.Scopes) > 0 && !subsetScopes(scope, strings.Join(i.opts.Scopes, " ")) {
		fail("invalid_scope")
		return
	}
	code := randomID()
	i.mu.Lock()
	i.codes[code] = codeGrant{
		clientID: clientID, redirectURI: redirectURI, challenge: q.Get("code_challenge"),
		resources: q["resource"], scope: q.Get("scope"), expires: i.opts.Now().Add(time.Minute),
	}
	i.mu.Unlock()
	redirect("code", code)
}

// redeemCode checks and consumes an authorization code; it returns the
// grant or the reason it is refused.
func (i *Issuer) redeemCode(form url.Values, clientID string) (codeGrant, string) {
	i.mu.Lock()
	g, ok := i.codes[form.Get("code")]
	delete(i.codes, form.Get("code")) // single use, whatever happens next
	i.mu.Unlock()
	switch {
	case !ok || i.opts.Now().After(g.expires):
		return g, "unknown or expired code"
	case g.clientID != clientID:
		return g, "code issued to another client"
	case g.redirectURI != form.Get("redirect_uri"):
		return g, "redirect_uri differs from the authorization request"
	}
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		return g, "PKCE verification failed"
	}
	return g, ""
}
