// Command nethttp guards a net/http API with audguard: only tokens issued
// for this resource (aud) with the scope files:read reach the handler.
//
//	go run ./nethttp                                   # in-process test issuer, prints curl lines
//	go run ./nethttp -issuer https://as.example.com -resource https://api.example.com/files -listen :8080
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

// newHandler is the whole integration: the RFC 9728 document, public, and
// the API behind the verifier at path ("/files", or the path of -resource).
func newHandler(v *middleware.Verifier, path string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET "+path, v.RequireScopes("files:read")(http.HandlerFunc(listFiles)))
	return mux
}

func listFiles(w http.ResponseWriter, r *http.Request) {
	claims, _ := middleware.ClaimsFromContext(r.Context())
	fmt.Fprintf(w, "files of %s\n", claims.Subject)
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	env, err := setup.Start(ctx, args, stdout, setup.Options{Name: "nethttp", Listen: "127.0.0.1:8080", Path: "/files"})
	if err != nil {
		return err
	}
	defer env.Close()

	path := env.Path("/files")
	env.Banner("nethttp")
	env.TryHTTP(env.URL(path), "files:read")
	return env.ServeHTTP(ctx, newHandler(env.Verifier, path))
}
