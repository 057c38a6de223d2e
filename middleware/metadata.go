package middleware

import (
	"encoding/json"
	"net/http"
)

// Metadata is the RFC 9728 protected resource metadata document audguard
// serves.
type Metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Metadata returns the RFC 9728 document for this resource: "resource" is
// Config.Resource exactly as configured (RFC 9728 §3.3), the issuers are
// the authorization servers, and the only bearer method is the header.
func (v *Verifier) Metadata() Metadata {
	return Metadata{
		Resource:               v.cfg.resource,
		AuthorizationServers:   append([]string(nil), v.cfg.authServers...),
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        append([]string(nil), v.cfg.scopesSupp...),
		ResourceName:           v.cfg.name,
	}
}

// MetadataURL returns the URL of the RFC 9728 document, which challenges
// advertise as resource_metadata: the resource with
// "/.well-known/oauth-protected-resource" inserted between host and path
// (RFC 9728 §3.1), e.g. https://mcp.example.com/mcp →
// https://mcp.example.com/.well-known/oauth-protected-resource/mcp.
func (v *Verifier) MetadataURL() string { return v.cfg.metadataURL }

// MetadataPath returns the path part of [Verifier.MetadataURL], for
// registering [Verifier.MetadataHandler] on a router. When the resource
// has a query, the handler also requires that query.
func (v *Verifier) MetadataPath() string { return v.cfg.metadataPath }

// MetadataHandler serves the RFC 9728 document. It needs no token. It
// answers GET and HEAD with 200 application/json, Cache-Control
// max-age=3600 and Access-Control-Allow-Origin * (browser-based MCP
// clients fetch it cross-origin), OPTIONS with a CORS preflight answer, and
// other methods with 405. When the resource URI has a query, a request
// whose query differs gets 404.
func (v *Verifier) MetadataHandler() http.Handler {
	doc, err := json.Marshal(v.Metadata())
	if err != nil { // cannot happen: plain strings and slices
		doc = []byte("{}")
	}
	doc = append(doc, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if v.cfg.resourceURI.HasQuery && r.URL.RawQuery != v.cfg.metadataQry {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "*")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(doc)
		}
	})
}
