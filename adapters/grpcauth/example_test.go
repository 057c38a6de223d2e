package grpcauth_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/audguard/audguard/adapters/grpcauth"
	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

func Example() {
	iss, err := audtest.Start(audtest.Options{}) // an in-process issuer, for the example
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	v, err := middleware.New(middleware.Config{
		Resource: "https://files.example.com",
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
	})
	if err != nil {
		panic(err)
	}
	scopes := grpcauth.MethodScopes(map[string][]string{
		"/audguard.test.Files/Whoami": {"files:read"},
	})
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, scopes)),
		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, scopes)),
	)
	srv.RegisterService(&filesService, struct{}{}) // handlers use middleware.ClaimsFromContext

	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	call := func(token string) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
		var header metadata.MD
		out := new(wrapperspb.StringValue)
		err := conn.Invoke(ctx, "/audguard.test.Files/Whoami", new(emptypb.Empty), out, grpc.Header(&header))
		if err != nil {
			st := status.Convert(err)
			fmt.Println(st.Code(), st.Message())
			fmt.Println(header.Get(grpcauth.ChallengeHeader)[0])
			return
		}
		fmt.Println("OK", out.GetValue())
	}
	call(iss.AccessToken("https://files.example.com", "files:read"))
	call(iss.AccessToken("https://other.example.com", "files:read"))
	call(iss.AccessToken("https://files.example.com"))
	// Output:
	// OK user-1
	// Unauthenticated The access token was not issued for this resource
	// Bearer error="invalid_token", error_description="The access token was not issued for this resource", resource_metadata="https://files.example.com/.well-known/oauth-protected-resource", scope="files:read"
	// PermissionDenied The access token lacks a scope this operation requires
	// Bearer error="insufficient_scope", error_description="The access token lacks a scope this operation requires", resource_metadata="https://files.example.com/.well-known/oauth-protected-resource", scope="files:read"
}
