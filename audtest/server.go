package audtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

func (i *Issuer) routes(mux *http.ServeMux) {
	p := i.opts.Path
	mux.HandleFunc("GET /.well-known/oauth-authorization-server"+p, i.serveDiscovery)
	mux.HandleFunc("GET "+p+"/.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET "+p+"/jwks", i.serveJWKS)
	mux.HandleFunc("POST "+p+"/token", i.serveToken)
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
		"issuer":                                iss,
		"jwks_uri":                              i.JWKSURL(),
		"token_endpoint":                        i.TokenURL(),
		"grant_types_supported":                 []string{"client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":              []string{"token"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"subject_types_supported":               []string{"public"},
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
	want, known := i.opts.Clients[clientID]
	if !known || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
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
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
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
	if r.PostForm.Get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange" {
		resp.IssuedTokenType = "urn:ietf:params:oauth:token-type:access_token"
	} else {
		rt := make([]byte, 18)
		_, _ = rand.Read(rt)
		resp.RefreshToken = base64.RawURLEncoding.EncodeToString(rt)
		i.mu.Lock()
		i.refresh[resp.RefreshToken] = refreshGrant{clientID: clientID, scope: scope}
		i.mu.Unlock()
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (i *Issuer) resourceAllowed(res string) bool {
	if len(i.opts.Resources) > 0 {
		for _, r := range i.opts.Resources {
			if r == res {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(res)
	return err == nil && u.IsAbs() && u.Fragment == "" && u.Host != ""
}

func subsetScopes(sub, of string) bool {
	have := strings.Fields(of)
	for _, s := range strings.Fields(sub) {
		found := false
		for _, h := range have {
			if h == s {
				found = true
				break
			}
		}
		if !found {
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
