package mcpauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/audguard/audguard/adapters/mcpauth"
	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

// tokenTransport adds a bearer token to every request of an MCP client.
type tokenTransport struct{ token string }

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return http.DefaultTransport.RoundTrip(r)
}

func Example() {
	iss, err := audtest.Start(audtest.Options{}) // an in-process issuer, for the example
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	const resource = "https://mcp.example.com/mcp"
	v, err := middleware.New(middleware.Config{
		Resource: resource,
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Scopes:   []string{"mcp:tools"},
	})
	if err != nil {
		panic(err)
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "files", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		claims, _ := mcpauth.Claims(req.Extra.TokenInfo)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hello " + claims.Subject}}}, nil, nil
	})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	srv := httptest.NewServer(mcpauth.Handler(v, mcpHandler))
	defer srv.Close()

	// The SDK's own client with a token issued for this resource.
	client := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v1"}, nil)
	session, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   srv.URL + "/mcp",
		HTTPClient: &http.Client{Transport: tokenTransport{iss.AccessToken(resource, "mcp:tools")}},
	}, nil)
	if err != nil {
		panic(err)
	}
	defer session.Close()
	res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)

	// A token issued for another resource is refused before the SDK sees it.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+iss.AccessToken("https://other.example.com/mcp", "mcp:tools"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	// Output:
	// hello user-1
	// 401 Bearer error="invalid_token", error_description="The access token was not issued for this resource", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"
}

// A tool that needs more than the endpoint's scopes: a call without them
// is answered 403 insufficient_scope with every scope the call requires,
// so that the client can get a token with them and retry.
func ExampleHandlerWithOptions() {
	iss, err := audtest.Start(audtest.Options{}) // an in-process issuer, for the example
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	const resource = "https://mcp.example.com/mcp"
	v, err := middleware.New(middleware.Config{
		Resource: resource,
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Scopes:   []string{"mcp:tools"},
	})
	if err != nil {
		panic(err)
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "files", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "delete_file"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		claims, _ := mcpauth.Claims(req.Extra.TokenInfo)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "deleted for " + claims.Subject}}}, nil, nil
	})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	srv := httptest.NewServer(mcpauth.HandlerWithOptions(v, mcpHandler, mcpauth.Options{
		ToolScopes: map[string][]string{"delete_file": {"files:delete"}},
	}))
	defer srv.Close()

	for _, scopes := range [][]string{{"mcp:tools"}, {"mcp:tools", "files:delete"}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+iss.AccessToken(resource, scopes...))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// Output:
	// 403 Bearer error="insufficient_scope", error_description="The access token lacks a scope this operation requires", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools files:delete"
	// 200
}
