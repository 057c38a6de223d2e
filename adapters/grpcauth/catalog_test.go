package grpcauth_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/audguard/audguard/adapters/grpcauth"
	"github.com/audguard/audguard/internal/catalog"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

// The catalog service has one unary method that records the claims it
// finds in its context.
const methodCheck = "/audguard.test.Catalog/Check"

type catalogServer struct {
	mu  sync.Mutex
	got *middleware.Claims
}

var catalogService = grpc.ServiceDesc{
	ServiceName: "audguard.test.Catalog",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Check", Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		if err := dec(new(emptypb.Empty)); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, _ any) (any, error) { return srv.(*catalogServer).record(ctx) }
		return icpt(ctx, new(emptypb.Empty), &grpc.UnaryServerInfo{Server: srv, FullMethod: methodCheck}, h)
	}}},
}

func (s *catalogServer) record(ctx context.Context) (any, error) {
	c, ok := middleware.ClaimsFromContext(ctx)
	if !ok {
		return nil, errNoClaims
	}
	s.mu.Lock()
	s.got = c
	s.mu.Unlock()
	return new(emptypb.Empty), nil
}

func (s *catalogServer) claims() *middleware.Claims {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// grpcCode is the gRPC code of an HTTP status in the core's mapping.
var grpcCode = map[int]codes.Code{
	400: codes.InvalidArgument,
	401: codes.Unauthenticated,
	403: codes.PermissionDenied,
	503: codes.Unavailable,
}

// wireSafe reports whether gRPC can carry every value as metadata:
// printable ASCII only (grpc-go refuses anything else on the client).
func wireSafe(values []string) bool {
	for _, v := range values {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return false
			}
		}
	}
	return true
}

// TestCatalogOverGRPC runs every transport-neutral case of the attack
// catalog (the net/http runner is middleware's TestCatalog) through the
// unary interceptor over bufconn: the same decision, the status mapped to
// a code (401 Unauthenticated, 403 PermissionDenied, 400 InvalidArgument),
// the fixed description as the message, the challenge as the
// www-authenticate header and, when accepted, the token's claims in the
// handler's context. Values gRPC cannot carry as metadata (control and
// non-ASCII characters) are given to the interceptor directly, as the
// server would after decoding them.
func TestCatalogOverGRPC(t *testing.T) {
	f := catalog.NewFixture(t)
	ran, direct := 0, 0
	for _, c := range catalog.Cases() {
		if !c.TransportNeutral() {
			continue
		}
		ran++
		authz := c.Authorization(f)
		if !wireSafe(authz) {
			direct++
		}
		t.Run(c.ID, func(t *testing.T) {
			v, err := middleware.New(f.Config(c))
			require.NoError(t, err)
			icpt := grpcauth.UnaryServerInterceptor(v, grpcauth.MethodScopes(map[string][]string{methodCheck: c.Scopes}))
			srv := &catalogServer{}

			var header metadata.MD
			if wireSafe(authz) {
				conn := serveCatalog(t, srv, icpt)
				err = conn.Invoke(outgoing(t.Context(), authz), methodCheck, new(emptypb.Empty), new(emptypb.Empty), grpc.Header(&header))
			} else {
				ctx := metadata.NewIncomingContext(t.Context(), metadata.MD{"authorization": authz})
				_, err = icpt(ctx, new(emptypb.Empty), &grpc.UnaryServerInfo{Server: srv, FullMethod: methodCheck},
					func(ctx context.Context, _ any) (any, error) { return srv.record(ctx) })
			}

			if c.Want.Accept {
				require.NoError(t, err)
				got := srv.claims()
				require.NotNil(t, got, "claims in the handler's context")
				require.NoError(t, catalog.CheckClaims(authz, got), "the claims in the context are the token's")
				return
			}
			require.Nil(t, srv.claims(), "the handler must not run")
			st, ok := status.FromError(err)
			require.True(t, ok, "not a status error: %v", err)
			require.Equal(t, grpcCode[c.Want.Status], st.Code(), "HTTP %d", c.Want.Status)
			want := v.ErrorResponse(c.Want.Err, c.Scopes...)
			require.Equal(t, want.Description, st.Message(), "fixed description, never the error text")
			for _, a := range authz {
				for _, seg := range strings.FieldsFunc(a, func(r rune) bool { return r == '.' || r == ' ' }) {
					if len(seg) >= 12 {
						require.False(t, strings.Contains(st.Message(), seg), "the message leaks part of the token")
					}
				}
			}
			if header == nil {
				return // given directly: no stream to send the header on
			}
			challenges := header.Get(grpcauth.ChallengeHeader)
			require.Len(t, challenges, 1)
			params, perr := transporttest.ParseChallenge(challenges[0])
			require.NoError(t, perr)
			require.Equal(t, v.MetadataURL(), params["resource_metadata"])
			require.Equal(t, c.Want.Code, params["error"])
			if c.Want.Description != "" {
				require.Equal(t, c.Want.Description, params["error_description"])
			}
			if c.Want.Status == 403 {
				require.Equal(t, want.Scope, params["scope"], "every required scope at once")
			}
		})
	}
	t.Logf("catalog over gRPC: %d transport-neutral cases (%d given to the interceptor directly)", ran, direct)
}

// serveCatalog serves the catalog service through icpt over bufconn.
func serveCatalog(t *testing.T, srv *catalogServer, icpt grpc.UnaryServerInterceptor) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(icpt))
	s.RegisterService(&catalogService, srv)
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = conn.Close()
		s.Stop()
		require.NoError(t, <-done)
	})
	return conn
}
