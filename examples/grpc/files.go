package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/audguard/audguard/middleware"
)

// The files.v1.Files service, registered by hand with the standard proto
// codec and well-known message types so that the example needs no
// generated code. A real service registers its generated descriptor the
// same way; the interceptors do not care.
const (
	methodRead = "/files.v1.Files/Read"
	methodList = "/files.v1.Files/List"
)

var filesDesc = grpc.ServiceDesc{
	ServiceName: "files.v1.Files",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Read", Handler: readHandler}},
	Streams:     []grpc.StreamDesc{{StreamName: "List", ServerStreams: true, Handler: listHandler}},
}

// read answers the content of a file for the caller.
func read(ctx context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	claims, ok := middleware.ClaimsFromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no claims")
	}
	return wrapperspb.String(fmt.Sprintf("contents of %s for %s", name.GetValue(), claims.Subject)), nil
}

// list streams the caller's file names.
func list(stream grpc.ServerStream) error {
	claims, ok := middleware.ClaimsFromContext(stream.Context())
	if !ok {
		return status.Error(codes.Internal, "no claims")
	}
	for _, name := range []string{"a.txt", "b.txt"} {
		if err := stream.SendMsg(wrapperspb.String(claims.Subject + "/" + name)); err != nil {
			return err
		}
	}
	return nil
}

func readHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	h := func(ctx context.Context, req any) (any, error) { return read(ctx, req.(*wrapperspb.StringValue)) }
	if interceptor == nil {
		return h(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: methodRead}, h)
}

func listHandler(_ any, stream grpc.ServerStream) error {
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		return err
	}
	return list(stream)
}
