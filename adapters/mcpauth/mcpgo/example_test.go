package mcpgo_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/audguard/audguard/adapters/mcpauth/mcpgo"
	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

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

	s := server.NewMCPServer("files", "v1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		claims, _ := middleware.ClaimsFromContext(ctx)
		return mcp.NewToolResultText("hello " + claims.Subject), nil
	})
	h := server.NewStreamableHTTPServer(s, server.WithHTTPContextFunc(mcpgo.ContextFunc))
	srv := httptest.NewServer(mcpgo.Handler(v, h))
	defer srv.Close()

	for _, aud := range []string{resource, "https://other.example.com/mcp"} {
		c, err := client.NewStreamableHttpClient(srv.URL+"/mcp", transport.WithHTTPHeaders(map[string]string{
			"Authorization": "Bearer " + iss.AccessToken(aud, "mcp:tools"),
		}))
		if err != nil {
			panic(err)
		}
		ctx := context.Background()
		if err := c.Start(ctx); err != nil {
			panic(err)
		}
		if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
			fmt.Println("refused for", aud)
			c.Close()
			continue
		}
		res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "whoami"}})
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Content[0].(mcp.TextContent).Text)
		c.Close()
	}
	// Output:
	// hello user-1
	// refused for https://other.example.com/mcp
}
