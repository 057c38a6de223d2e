// Package grpcauth makes a gRPC server accept only access tokens issued
// for it. It is thin glue over one [middleware.Verifier]: the token comes
// from the "authorization" request metadata with the same rules as the
// HTTP Authorization header (exactly one value; scheme Bearer,
// case-insensitive; one or more spaces; a token68), and refusals carry the
// same decision as over HTTP, mapped to gRPC codes:
//
//	HTTP 401 (no token, invalid token)  codes.Unauthenticated
//	HTTP 403 (insufficient scope)       codes.PermissionDenied
//	HTTP 400 (malformed request)        codes.InvalidArgument
//	HTTP 503 (keys unavailable, opt-in) codes.Unavailable
//
// The status message is the fixed error_description of the refusal, never
// the error text, the token or claim values, and the complete Bearer
// challenge is sent in the "www-authenticate" response header metadata
// ([ChallengeHeader]).
//
// Quick start:
//
//	v, err := middleware.New(middleware.Config{
//		Resource: "https://files.example.com",
//		Issuers:  []middleware.Issuer{{URL: "https://as.example.com"}},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	scopes := grpcauth.MethodScopes(map[string][]string{
//		"/files.v1.Files/Read": {"files:read"},
//	})
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, scopes)),
//		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, scopes)),
//	)
//
// Handlers read the claims with [middleware.ClaimsFromContext], from the
// handler's context for unary calls and from the stream's Context() for
// streaming calls.
//
// Every method is protected unless exempted: [ExemptMethods] (full method
// names) and [ExemptFunc] (a predicate) let calls such as health checks
// and reflection through without a token and without claims. A method
// with [MethodScopes] is never exempt.
//
//	public := grpcauth.ExemptMethods(
//		grpc_health_v1.Health_Check_FullMethodName,
//		grpc_health_v1.Health_List_FullMethodName,
//		grpc_health_v1.Health_Watch_FullMethodName,
//	)
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, scopes, public)),
//		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, scopes, public)),
//	)
//
// With grpc-ecosystem/go-grpc-middleware, pass [AuthFunc] to its auth
// interceptors (it honours the same options, exemptions included); this
// package does not depend on it:
//
//	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(grpcauth.AuthFunc(v, scopes))))
package grpcauth
