// Command mcp-server is an MCP server (modelcontextprotocol/go-sdk,
// streamable HTTP) that accepts only access tokens issued for it, with the
// challenges MCP clients need to discover its authorization server (RFC
// 9728) and to step up scopes: its admin_status tool needs mcp:admin on
// top of mcp:tools, and a call without it is answered 403
// insufficient_scope naming both (MCP 2026-07-28 §11.1.1), which a client
// such as the Go SDK's (through its OAuthHandler) answers by getting a
// token with them and retrying.
//
// The endpoint is the path of -resource (/mcp by default).
//
//	go run ./mcp-server                            # in-process test issuer, prints curl lines
//	go run ./mcp-server -issuer https://as.example.com -resource https://mcp.example.com/mcp -listen :8080
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

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/audguard/audguard/adapters/mcpauth"
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

type whoamiResult struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer"`
	Scopes  []string `json:"scopes"`
}

// whoami reports the claims of the request's token. Tools read them from
// req.Extra.TokenInfo, which the SDK fills for every request; the tool's
// context is the session's and would hold its first request's.
func whoami(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiResult, error) {
	claims, _ := mcpauth.Claims(req.Extra.TokenInfo) // verified by audguard
	return nil, whoamiResult{Subject: claims.Subject, Issuer: claims.Issuer, Scopes: claims.Scopes}, nil
}

type statusResult struct {
	Status string `json:"status"`
	Admin  string `json:"admin"`
}

// adminStatus runs only for tokens with mcp:admin (Options.ToolScopes).
func adminStatus(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, statusResult, error) {
	claims, _ := mcpauth.Claims(req.Extra.TokenInfo)
	return nil, statusResult{Status: "ok", Admin: claims.Subject}, nil
}

// newHandler is the whole integration: the SDK's streamable HTTP handler
// at the resource's path behind audguard, admin_status requiring
// mcp:admin, the RFC 9728 document next to it, and cross-origin browser
// requests refused before authentication.
func newHandler(v *middleware.Verifier) http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "audguard-example", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who the access token says you are"}, whoami)
	mcp.AddTool(server, &mcp.Tool{Name: "admin_status", Description: "Server status, for tokens with mcp:admin"}, adminStatus)
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	return http.NewCrossOriginProtection().Handler(mcpauth.HandlerWithOptions(v, mcpHandler, mcpauth.Options{
		ToolScopes: map[string][]string{"admin_status": {"mcp:admin"}},
	}))
}

// initialize is the first JSON-RPC request of an MCP session.
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}`

// callAdminStatus calls the tool that needs mcp:admin.
const callAdminStatus = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_status","arguments":{}}}`

func run(ctx context.Context, args []string, stdout io.Writer) error {
	env, err := setup.Start(ctx, args, stdout, setup.Options{
		Name:   "mcp-server",
		Listen: "127.0.0.1:8080",
		Path:   "/mcp",
		Scopes: []string{"mcp:tools"},
	})
	if err != nil {
		return err
	}
	defer env.Close()

	// mcpauth serves the MCP endpoint at the path of the resource URI.
	endpoint := env.URL(env.Path("/"))
	env.Banner("mcp-server")
	fmt.Fprintf(stdout, "  endpoint:  %s\n", endpoint)
	fmt.Fprintln(stdout, "Try:")
	post := func(token, body string, expect int, note string) {
		auth := ""
		if token != "" {
			auth = "-H 'Authorization: Bearer " + token + "' "
		}
		fmt.Fprintf(stdout, "  curl -i -X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' %s-d '%s' %s   # expect %d: %s\n",
			auth, body, endpoint, expect, note)
	}
	if env.Issuer == nil {
		fmt.Fprintf(stdout, "  curl -i -X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H \"Authorization: Bearer $TOKEN\" -d '%s' %s\n", initialize, endpoint)
	} else {
		post(env.Token(env.Resource, "mcp:tools"), initialize, http.StatusOK, "token for this server")
		post(env.Token(env.OtherResource(), "mcp:tools"), initialize, http.StatusUnauthorized, "token for another resource")
		post(env.Token(env.Resource), initialize, http.StatusForbidden, "token without mcp:tools")
		post("", initialize, http.StatusUnauthorized, "no token: the challenge points at the metadata")
		post(env.Token(env.Resource, "mcp:tools"), callAdminStatus, http.StatusForbidden, "admin_status needs mcp:admin: the challenge asks for mcp:tools mcp:admin")
		env.Curl(env.LocalURL(env.Verifier.MetadataURL()), "", http.StatusOK, "RFC 9728 metadata, no token needed")
		env.TokenEndpointHint("mcp:tools")
	}
	return env.ServeHTTP(ctx, newHandler(env.Verifier))
}
