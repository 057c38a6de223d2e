// Command gin guards a gin engine with audguard's ginauth adapter.
//
//	go run ./gin                                   # in-process test issuer, prints curl lines
//	go run ./gin -issuer https://as.example.com -resource https://api.example.com/files -listen :8080
package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/audguard/audguard/adapters/ginauth"
	"github.com/audguard/audguard/examples/internal/setup"
	"github.com/audguard/audguard/middleware"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode)
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// newEngine is the whole integration: the RFC 9728 document, public, and
// a group of routes behind the verifier, the API at path ("/files", or the
// path of -resource).
func newEngine(v *middleware.Verifier, path string) *gin.Engine {
	r := gin.New()
	r.GET(v.MetadataPath(), gin.WrapH(v.MetadataHandler()))
	api := r.Group("/", ginauth.Middleware(v)) // every route of the group needs a valid token
	api.GET(path, ginauth.RequireScopes(v, "files:read"), func(c *gin.Context) {
		claims, _ := ginauth.Claims(c)
		c.String(http.StatusOK, "files of %s\n", claims.Subject)
	})
	return r
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	env, err := setup.Start(ctx, args, stdout, setup.Options{Name: "gin", Listen: "127.0.0.1:8080", Path: "/files"})
	if err != nil {
		return err
	}
	defer env.Close()

	path := env.Path("/files")
	env.Banner("gin")
	env.TryHTTP(env.URL(path), "files:read")
	return env.ServeHTTP(ctx, newEngine(env.Verifier, path))
}
