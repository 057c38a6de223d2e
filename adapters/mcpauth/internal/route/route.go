package route

import (
	"net/http"
	"net/url"

	"github.com/audguard/audguard/middleware"
)

// Handler returns a handler that serves v's RFC 9728 metadata at
// v.MetadataPath() without a token, guarded at the path of v.Resource()
// ("/" when the resource has no path), and 404 for every other path.
// Paths are compared in their escaped form, exactly.
func Handler(v *middleware.Verifier, guarded http.Handler) http.Handler {
	endpoint := "/"
	if u, err := url.Parse(v.Resource()); err == nil && u.EscapedPath() != "" {
		endpoint = u.EscapedPath()
	}
	metadataPath := v.MetadataPath()
	metadata := v.MetadataHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.EscapedPath() {
		case metadataPath:
			metadata.ServeHTTP(w, r)
		case endpoint:
			guarded.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// Placeholder replaces the bearer token in requests handed to an MCP
// server, so that no tool can read the caller's token and pass it on
// (MCP security best practices, "Token Passthrough").
const Placeholder = "audguard-verified"

// Redact returns a shallow copy of r whose Authorization header carries
// [Placeholder] instead of the verified token.
func Redact(r *http.Request) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	r2.Header = r.Header.Clone()
	r2.Header.Set("Authorization", "Bearer "+Placeholder)
	return r2
}
