package grpcauth_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/audguard/audguard/middleware"
)

// A hand-registered service with the standard proto codec and well-known
// message types, so the tests need no generated code: Whoami (unary)
// answers the subject of the claims in its context, Watch (server
// streaming) sends it twice from the stream's context.
const (
	serviceName   = "audguard.test.Files"
	methodWhoami  = "/" + serviceName + "/Whoami"
	methodWatch   = "/" + serviceName + "/Watch"
	methodPublic  = "/" + serviceName + "/Public"
	watchMessages = 2
)

var errNoClaims = status.Error(codes.Internal, "no claims in the context")

var filesService = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Whoami", Handler: unaryHandler(methodWhoami)},
		{MethodName: "Public", Handler: unaryHandler(methodPublic)},
	},
	Streams: []grpc.StreamDesc{{StreamName: "Watch", ServerStreams: true, Handler: watch}},
}

func unaryHandler(fullMethod string) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := new(emptypb.Empty)
		if err := dec(in); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, _ any) (any, error) {
			c, ok := middleware.ClaimsFromContext(ctx)
			if !ok {
				return nil, errNoClaims
			}
			return wrapperspb.String(c.Subject), nil
		}
		if interceptor == nil {
			return h(ctx, in)
		}
		return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}, h)
	}
}

func watch(_ any, stream grpc.ServerStream) error {
	if err := stream.RecvMsg(new(emptypb.Empty)); err != nil {
		return err
	}
	c, ok := middleware.ClaimsFromContext(stream.Context())
	if !ok {
		return errNoClaims
	}
	for range watchMessages {
		if err := stream.SendMsg(wrapperspb.String(c.Subject)); err != nil {
			return err
		}
	}
	return nil
}

// serve starts a server with opts over bufconn and returns a client
// connection; both are stopped when t ends.
func serve(t *testing.T, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	return serveServices(t, nil, opts...)
}

// serveServices is serve with register called to register more services
// than the test service.
func serveServices(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	srv.RegisterService(&filesService, struct{}{})
	if register != nil {
		register(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		require.NoError(t, <-done)
	})
	return conn
}

// outgoing returns ctx carrying one "authorization" metadata value per
// element of authorization (none when empty).
func outgoing(ctx context.Context, authorization []string) context.Context {
	if len(authorization) == 0 {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, metadata.MD{"authorization": authorization})
}

// callUnary calls method and returns the answered subject, the response
// header metadata and the error.
func callUnary(ctx context.Context, conn *grpc.ClientConn, method string, authorization []string) (string, metadata.MD, error) {
	var header metadata.MD
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(outgoing(ctx, authorization), method, new(emptypb.Empty), out, grpc.Header(&header))
	return out.GetValue(), header, err
}

// callStream calls Watch and returns the subject (when every message
// carried the same one), the response header metadata and the error.
func callStream(ctx context.Context, conn *grpc.ClientConn, authorization []string) (string, metadata.MD, error) {
	var header metadata.MD
	cs, err := conn.NewStream(outgoing(ctx, authorization), &filesService.Streams[0], methodWatch, grpc.Header(&header))
	if err != nil {
		return "", nil, err
	}
	if err := cs.SendMsg(new(emptypb.Empty)); err != nil && !errors.Is(err, io.EOF) {
		return "", nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return "", nil, err
	}
	var subjects []string
	for {
		out := new(wrapperspb.StringValue)
		err := cs.RecvMsg(out)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", header, err
		}
		subjects = append(subjects, out.GetValue())
	}
	if len(subjects) != watchMessages || subjects[0] != subjects[1] {
		return "", header, errors.New("unexpected stream messages")
	}
	return subjects[0], header, nil
}
