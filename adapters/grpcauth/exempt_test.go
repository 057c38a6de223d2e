package grpcauth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/audguard/audguard/adapters/grpcauth"
	"github.com/audguard/audguard/internal/transporttest"
)

// registerHealth registers gRPC's standard health service.
func registerHealth(s *grpc.Server) {
	healthpb.RegisterHealthServer(s, health.NewServer())
}

var healthMethods = grpcauth.ExemptMethods(
	healthpb.Health_Check_FullMethodName,
	healthpb.Health_List_FullMethodName,
	healthpb.Health_Watch_FullMethodName,
)

// TestExemptHealth: with the health service's methods exempt, a client
// without a token gets health answers (unary and streaming) over
// bufconn, while every other method stays protected.
func TestExemptHealth(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	healthService := grpcauth.ExemptFunc(func(m string) bool { return strings.HasPrefix(m, "/grpc.health.v1.Health/") })
	servers := []struct {
		name string
		opts []grpc.ServerOption
	}{
		{name: "interceptors, ExemptMethods", opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, matrixScopes, healthMethods)),
			grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, matrixScopes, healthMethods)),
		}},
		{name: "interceptors, ExemptFunc", opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, matrixScopes, healthService)),
			grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, matrixScopes, healthService)),
		}},
		{name: "go-grpc-middleware AuthFunc", opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(grpcauth.AuthFunc(v, matrixScopes, healthMethods))),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(grpcauth.AuthFunc(v, matrixScopes, healthMethods))),
		}},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			conn := serveServices(t, registerHealth, s.opts...)
			hc := healthpb.NewHealthClient(conn)

			res, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			require.Equal(t, healthpb.HealthCheckResponse_SERVING, res.GetStatus())

			_, err = hc.List(t.Context(), &healthpb.HealthListRequest{})
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			update, err := stream.Recv()
			require.NoError(t, err)
			require.Equal(t, healthpb.HealthCheckResponse_SERVING, update.GetStatus())
			cancel()

			for _, method := range []string{methodWhoami, methodPublic} {
				_, _, err = callUnary(t.Context(), conn, method, nil)
				require.Equal(t, codes.Unauthenticated, status.Code(err), method)
			}
			_, _, err = callStream(t.Context(), conn, nil)
			require.Equal(t, codes.Unauthenticated, status.Code(err))

			sub, _, err := callUnary(t.Context(), conn, methodWhoami, []string{"Bearer " + env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope)})
			require.NoError(t, err)
			require.Equal(t, transporttest.Subject, sub)
		})
	}
}

// TestExemptFailsClosed: an exemption never lifts a method's
// MethodScopes, an exempt call's handler finds no claims, and AuthFunc
// outside a server (method unknown) exempts nothing.
func TestExemptFailsClosed(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	everything := grpcauth.ExemptFunc(func(string) bool { return true })
	tests := []struct {
		name     string
		opts     []grpcauth.Option
		method   string
		wantCode codes.Code
	}{
		{name: "listed and scoped", opts: []grpcauth.Option{grpcauth.ExemptMethods(methodWhoami), matrixScopes}, method: methodWhoami, wantCode: codes.Unauthenticated},
		{name: "scoped, then listed", opts: []grpcauth.Option{matrixScopes, grpcauth.ExemptMethods(methodWhoami)}, method: methodWhoami, wantCode: codes.Unauthenticated},
		{name: "predicate and scoped", opts: []grpcauth.Option{everything, matrixScopes}, method: methodWhoami, wantCode: codes.Unauthenticated},
		{name: "exempt: no claims in the handler", opts: []grpcauth.Option{everything, matrixScopes}, method: methodPublic, wantCode: codes.Internal},
		{name: "another method's exemption", opts: []grpcauth.Option{grpcauth.ExemptMethods(methodWhoami)}, method: methodPublic, wantCode: codes.Unauthenticated},
		{name: "names compare exactly", opts: []grpcauth.Option{grpcauth.ExemptMethods(strings.ToLower(methodPublic), methodPublic+"/")}, method: methodPublic, wantCode: codes.Unauthenticated},
		{name: "nil predicate", opts: []grpcauth.Option{grpcauth.ExemptFunc(nil)}, method: methodPublic, wantCode: codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := serve(t, grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, tt.opts...)))
			_, _, err := callUnary(t.Context(), conn, tt.method, nil)
			require.Equal(t, tt.wantCode, status.Code(err))
			if tt.wantCode == codes.Internal {
				require.ErrorIs(t, err, errNoClaims)
			}
		})
	}

	_, err := grpcauth.AuthFunc(v, everything)(context.Background())
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}
