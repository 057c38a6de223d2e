package tokensource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
	"github.com/audguard/audguard/tokensource"
)

// One client, the same scopes, two resources: two tokens, each accepted
// only by its own resource server.
func Example() {
	iss, err := audtest.Start(audtest.Options{})
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	client, err := tokensource.New(tokensource.Config{
		TokenURL:          iss.TokenURL(),
		ClientID:          "audtest-client",
		ClientSecret:      "audtest-secret",
		AllowHTTPLoopback: true, // audtest serves plain http on 127.0.0.1
		HTTPClient:        iss.Client(),
	})
	if err != nil {
		panic(err)
	}
	files, err := client.TokenSource("https://files.example.com/api", "read").Token()
	if err != nil {
		panic(err)
	}
	mail, err := client.TokenSource("https://mail.example.com/api", "read").Token()
	if err != nil {
		panic(err)
	}
	fmt.Println("distinct tokens:", files.AccessToken != mail.AccessToken)

	filesServer, err := middleware.New(middleware.Config{
		Resource: "https://files.example.com/api",
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
	})
	if err != nil {
		panic(err)
	}
	_, err = filesServer.Verify(context.Background(), files.AccessToken)
	fmt.Println("files token at files:", err == nil)
	_, err = filesServer.Verify(context.Background(), mail.AccessToken)
	fmt.Println("mail token at files refused:", errors.Is(err, middleware.ErrAudience))

	_, _ = client.TokenSource("https://files.example.com/api", "read").Token() // cached
	fmt.Println("token requests:", iss.TokenRequests())
	// Output:
	// distinct tokens: true
	// files token at files: true
	// mail token at files refused: true
	// token requests: 2
}

// The Transport picks the token by the request's target and refuses
// targets that are not configured.
func ExampleClient_Transport() {
	iss, err := audtest.Start(audtest.Options{})
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	api := httptest.NewUnstartedServer(nil)
	api.StartTLS()
	defer api.Close()
	resource := api.URL + "/api"
	v, err := middleware.New(middleware.Config{
		Resource: resource,
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
	})
	if err != nil {
		panic(err)
	}
	api.Config.Handler = v.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello, audience-bound caller")
	}))

	client, err := tokensource.New(tokensource.Config{
		TokenURL:          iss.TokenURL(),
		ClientID:          "audtest-client",
		ClientSecret:      "audtest-secret",
		AllowHTTPLoopback: true,
		HTTPClient:        iss.Client(),
		Resources:         []tokensource.Resource{{URI: resource, Scopes: []string{"api:read"}}},
	})
	if err != nil {
		panic(err)
	}
	hc := &http.Client{Transport: client.Transport(api.Client().Transport)}

	resp, err := hc.Get(resource + "/items")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	if resp, err = hc.Get(api.URL + "/admin"); err == nil {
		resp.Body.Close()
	}
	fmt.Println("unconfigured target refused:", errors.Is(err, tokensource.ErrNoResource))
	// Output:
	// 200 hello, audience-bound caller
	// unconfigured target refused: true
}

// An authorization server that does not know the resource answers
// invalid_target; the error is typed and not retried in a loop.
func ExampleError() {
	iss, err := audtest.Start(audtest.Options{Resources: []string{"https://files.example.com/api"}})
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	client, err := tokensource.New(tokensource.Config{
		TokenURL: iss.TokenURL(), ClientID: "audtest-client", ClientSecret: "audtest-secret",
		AllowHTTPLoopback: true, HTTPClient: iss.Client(),
	})
	if err != nil {
		panic(err)
	}
	for range 3 {
		_, err = client.TokenSource("https://unknown.example.com", "read").Token()
	}
	var oe *tokensource.Error
	if errors.As(err, &oe) {
		fmt.Println(oe.Code, oe.StatusCode, errors.Is(err, tokensource.ErrInvalidTarget))
	}
	fmt.Println("token requests:", iss.TokenRequests())
	// Output:
	// invalid_target 400 true
	// token requests: 1
}

// From a 401 to the authorization server and scopes, as an MCP client
// does it.
func ExampleDiscoverer_DiscoverFromResponse() {
	iss, err := audtest.Start(audtest.Options{TLS: true})
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	defer srv.Close()
	v, err := middleware.New(middleware.Config{
		Resource: srv.URL + "/mcp",
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Scopes:   []string{"mcp:tools"},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", v.Handler(http.NotFoundHandler()))
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	srv.Config.Handler = mux

	resp, err := srv.Client().Get(srv.URL + "/mcp") // no token: 401
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	d, err := tokensource.NewDiscoverer(tokensource.DiscoveryConfig{HTTPClient: srv.Client()})
	if err != nil {
		panic(err)
	}
	info, err := d.DiscoverFromResponse(context.Background(), resp)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode)
	fmt.Println("resource is the URL used:", info.Resource == srv.URL+"/mcp")
	fmt.Println("authorization server:", info.AuthorizationServers[0] == iss.URL())
	fmt.Println("scope to request:", info.Scope)
	// Output:
	// 401
	// resource is the URL used: true
	// authorization server: true
	// scope to request: [mcp:tools]
}
