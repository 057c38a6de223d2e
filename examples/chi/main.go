// Command chi guards a chi router with audguard. chi takes net/http
// middleware as it is, so there is no adapter: r.Use(v.Handler) for a
// group, r.With(v.RequireScopes(...)) for a route.
//
//	go run ./chi                                   # in-process test issuer, prints curl lines
//	go run ./chi -issuer https://as.example.com -resource https://api.example.com/files -listen :8080
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"

	"github.com/audguard/audguard/examples/internal/setup"
	"github.com/audguard/audguard/middleware"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// newRouter is the whole integration: the RFC 9728 document, public, and
// a group of routes behind the verifier, the API at path ("/files", or the
// path of -resource).
func newRouter(v *middleware.Verifier, path string) http.Handler {
	r := chi.NewRouter()
	r.Handle(v.MetadataPath(), v.MetadataHandler())
	r.Group(func(r chi.Router) {
		r.Use(v.Handler) // every route of the group needs a valid token
		r.With(v.RequireScopes("files:read")).Get(path, listFiles)
	})
	return r
}

func listFiles(w http.ResponseWriter, r *http.Request) {
	claims, _ := middleware.ClaimsFromContext(r.Context())
	fmt.Fprintf(w, "files of %s\n", claims.Subject)
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	env, err := setup.Start(ctx, args, stdout, setup.Options{Name: "chi", Listen: "127.0.0.1:8080", Path: "/files"})
	if err != nil {
		return err
	}
	defer env.Close()

	path := env.Path("/files")
	env.Banner("chi")
	env.TryHTTP(env.URL(path), "files:read")
	return env.ServeHTTP(ctx, newRouter(env.Verifier, path))
}
