// Package route serves an MCP endpoint at the path of its canonical
// resource URI and the RFC 9728 metadata document next to it.
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
