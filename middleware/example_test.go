package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
)

// The whole net/http setup: a protected endpoint and its RFC 9728
// metadata. The audtest issuer stands in for a real authorization server;
// with one, Issuers is just []middleware.Issuer{{URL: "https://as.example.com"}}.
func Example() {
	as, err := audtest.Start(audtest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer as.Close()

	v, err := middleware.New(middleware.Config{
		Resource: "https://mcp.example.com/mcp",
		Issuers:  []middleware.Issuer{{URL: as.URL(), Keys: as.KeySet()}},
		Scopes:   []string{"mcp:tools"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	mux := http.NewServeMux()
	mux.Handle("/mcp", v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Subject)
	})))
	mux.Handle(v.MetadataPath(), v.MetadataHandler())

	call := func(token string) {
		req := httptest.NewRequest(http.MethodPost, "https://mcp.example.com/mcp", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code, string(body))
			return
		}
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	call("") // no token: where to get one
	call(as.AccessToken("https://mcp.example.com/mcp", "mcp:tools"))
	call(as.AccessToken("https://api.example.com", "mcp:tools")) // a sibling's token
	call(as.AccessToken("https://mcp.example.com/mcp"))          // no scope
	// Output:
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"
	// 200 hello user-1
	// 401 Bearer error="invalid_token", error_description="The access token was not issued for this resource", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"
	// 403 Bearer error="insufficient_scope", error_description="The access token lacks a scope this operation requires", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"
}

// Verify works for any transport: pass the token, get claims or a
// categorized error.
func ExampleVerifier_Verify() {
	as, err := audtest.Start(audtest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer as.Close()
	v, err := middleware.New(middleware.Config{
		Resource: "https://api.example.com",
		Issuers:  []middleware.Issuer{{URL: as.URL(), Keys: as.KeySet()}},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	claims, err := v.Verify(ctx, as.AccessToken("https://api.example.com/", "read write"))
	fmt.Println(err, claims.Subject, claims.Scopes)

	_, err = v.Verify(ctx, as.AccessToken("https://other.example.com"))
	fmt.Println(errors.Is(err, middleware.ErrInvalidToken), errors.Is(err, middleware.ErrAudience), middleware.Reason(err))
	// Output:
	// <nil> user-1 [read write]
	// true true audience
}

// Handlers read the verified claims from the request context.
func ExampleClaimsFromContext() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := middleware.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		fmt.Println(claims.Subject, claims.HasScope("files:read"))
	})
	// In a test, put claims into the context yourself (handlers that read
	// them see them; audguard's own scope checks do not trust them).
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(middleware.ContextWithClaims(req.Context(), &middleware.Claims{
		Subject: "alice", Scopes: []string{"files:read"},
	}))
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// alice true
}

// The RFC 9728 document lives at a path derived from the resource.
func ExampleVerifier_MetadataHandler() {
	v, err := middleware.New(middleware.Config{
		Resource: "https://mcp.example.com/mcp",
		Issuers:  []middleware.Issuer{{URL: "https://as.example.com", Keys: jwks.NewSet()}},
		Scopes:   []string{"mcp:tools"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	fmt.Println(v.MetadataPath())
	rec := httptest.NewRecorder()
	v.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, v.MetadataPath(), nil))
	fmt.Print(rec.Body.String())
	// Output:
	// /.well-known/oauth-protected-resource/mcp
	// {"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com"],"bearer_methods_supported":["header"],"scopes_supported":["mcp:tools"]}
}

// Explain tells an operator why a token is refused, check by check.
func ExampleVerifier_Explain() {
	now := time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)
	as, err := audtest.Start(audtest.Options{Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	defer as.Close()
	v, err := middleware.New(middleware.Config{
		Resource: "https://mcp.example.com/mcp",
		Issuers:  []middleware.Issuer{{URL: as.URL(), Keys: as.KeySet()}},
		Now:      func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	checks, err := v.Explain(context.Background(), as.AccessToken("https://api.example.com"))
	for _, c := range checks {
		if c.Name == "audience" || !c.OK {
			fmt.Printf("%s ok=%v: %s\n", c.Name, c.OK, c.Detail)
		}
	}
	fmt.Println(middleware.Reason(err))
	// Output:
	// audience ok=false: aud [https://api.example.com] does not contain https://mcp.example.com/mcp
	// audience
}
