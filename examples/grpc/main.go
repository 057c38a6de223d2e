// Command grpc guards a gRPC service with audguard's grpcauth
// interceptors: the "authorization" metadata must carry a token issued for
// this resource, and each method requires its scopes.
//
//	go run ./grpc                                  # in-process test issuer, prints client lines
//	go run ./grpc call -addr 127.0.0.1:50051 -token TOKEN
//	go run ./grpc -issuer https://as.example.com -resource https://files.example.com -listen :50051
//
// Refusals carry the Bearer challenge in the "www-authenticate" response
// header; its resource_metadata URL is where your HTTPS front end should
// serve v.MetadataHandler().
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/audguard/audguard/adapters/grpcauth"
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

// newServer is the whole integration: interceptors for unary and
// streaming calls with per-method scopes, and the standard health service
// exempt from authentication (load balancers call it without a token).
func newServer(v *middleware.Verifier) *grpc.Server {
	scopes := grpcauth.MethodScopes(map[string][]string{
		"/files.v1.Files/Read": {"files:read"},
		"/files.v1.Files/List": {"files:read"},
	})
	public := grpcauth.ExemptMethods(
		healthpb.Health_Check_FullMethodName,
		healthpb.Health_List_FullMethodName,
		healthpb.Health_Watch_FullMethodName,
	)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, scopes, public)),
		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, scopes, public)),
	)
	srv.RegisterService(&filesDesc, struct{}{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	return srv
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "call" {
		return call(ctx, args[1:], stdout)
	}
	env, err := setup.Start(ctx, args, stdout, setup.Options{Name: "grpc", Listen: "127.0.0.1:50051"})
	if err != nil {
		return err
	}
	defer env.Close()

	env.Banner("grpc")
	fmt.Fprintln(stdout, "Try:")
	if env.Issuer == nil {
		fmt.Fprintf(stdout, "  go run ./grpc call -addr %s -token \"$TOKEN\"\n", env.Addr())
	} else {
		try := func(token, expect string) {
			if token != "" {
				token = " -token " + token
			}
			fmt.Fprintf(stdout, "  go run ./grpc call -addr %s%s   # expect %s\n", env.Addr(), token, expect)
		}
		try(env.Token(env.Resource, "files:read"), "OK")
		try(env.Token(env.Resource), "PermissionDenied")
		try(env.Token(env.OtherResource(), "files:read"), "Unauthenticated")
		try("", "Unauthenticated")
		env.TokenEndpointHint("files:read")
	}

	srv := newServer(env.Verifier)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(env.Listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		srv.GracefulStop()
		if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return err
		}
		return nil
	}
}

// call is a small client: it checks the server's health (no token
// needed), calls Read and List with the token and prints the outcome of
// each, with the challenge of a refusal.
func call(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("grpc call", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:50051", "server address")
	token := fs.String("token", "", "access token (none when empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if *token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+*token)
	}

	report := func(method string, header metadata.MD, err error, ok string) {
		if err != nil {
			st := status.Convert(err)
			fmt.Fprintf(stdout, "%s: %s: %s\n", method, st.Code(), st.Message())
			for _, ch := range header.Get(grpcauth.ChallengeHeader) {
				fmt.Fprintf(stdout, "  %s: %s\n", grpcauth.ChallengeHeader, ch)
			}
			return
		}
		fmt.Fprintf(stdout, "%s: OK: %s\n", method, ok)
	}

	hres, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	report("Health", nil, err, hres.GetStatus().String())

	var header metadata.MD
	out := new(wrapperspb.StringValue)
	err = conn.Invoke(ctx, methodRead, wrapperspb.String("notes.txt"), out, grpc.Header(&header))
	report("Read", header, err, out.GetValue())

	var names []string
	header = nil
	stream, err := conn.NewStream(ctx, &filesDesc.Streams[0], methodList, grpc.Header(&header))
	if err == nil {
		err = stream.SendMsg(wrapperspb.String(""))
	}
	if err == nil {
		err = stream.CloseSend()
	}
	for err == nil {
		msg := new(wrapperspb.StringValue)
		if err = stream.RecvMsg(msg); err == nil {
			names = append(names, msg.GetValue())
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	report("List", header, err, fmt.Sprint(names))
	return nil
}
