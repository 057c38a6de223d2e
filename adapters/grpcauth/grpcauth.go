package grpcauth

import (
	"context"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/audguard/audguard/middleware"
)

// ChallengeHeader is the response header metadata key that carries the
// Bearer challenge of a refusal, the value an HTTP server would send as
// WWW-Authenticate (resource_metadata, error code, scope). gRPC has no
// standard for it; clients that implement RFC 9728 discovery can read it.
const ChallengeHeader = "www-authenticate"

// authorizationKey is the request metadata key of the credentials
// (HTTP/2 lower-cases header names).
const authorizationKey = "authorization"

// misconfiguredMessage answers a method whose scope requirement is invalid.
const misconfiguredMessage = "The authorization requirement of this method is misconfigured"

// An Option configures the interceptors and [AuthFunc].
type Option func(*options)

type options struct {
	methodScopes  map[string][]string
	invalid       map[string]bool
	exemptMethods map[string]bool
	exemptFuncs   []func(fullMethod string) bool
}

// MethodScopes requires scopes per method, in addition to Config.Scopes.
// Keys are full method names as gRPC reports them
// ("/package.Service/Method"); methods not listed require Config.Scopes
// only. The map is copied.
//
// A scope that is not a valid scope-token (see
// [middleware.Verifier.ValidateScopes]) makes every call of that method
// fail closed with codes.Internal; the problem is logged once on the
// verifier's logger.
func MethodScopes(scopes map[string][]string) Option {
	return func(o *options) {
		if o.methodScopes == nil {
			o.methodScopes = make(map[string][]string, len(scopes))
		}
		for method, s := range scopes {
			o.methodScopes[method] = append([]string(nil), s...)
		}
	}
}

// ExemptMethods exempts methods from authentication: calls of them pass
// through the interceptors and [AuthFunc] without their credentials being
// read, and their handlers find no claims in the context. Use it for
// health checks and reflection, which clients and load balancers call
// without a token:
//
//	grpcauth.ExemptMethods(
//		grpc_health_v1.Health_Check_FullMethodName,
//		grpc_health_v1.Health_List_FullMethodName,
//		grpc_health_v1.Health_Watch_FullMethodName,
//	)
//
// Names are full method names as gRPC reports them
// ("/package.Service/Method"), compared exactly. Every method not exempt
// stays protected, and a method listed in [MethodScopes] is never exempt:
// a contradictory configuration fails closed.
func ExemptMethods(fullMethods ...string) Option {
	return func(o *options) {
		if o.exemptMethods == nil {
			o.exemptMethods = make(map[string]bool, len(fullMethods))
		}
		for _, m := range fullMethods {
			o.exemptMethods[m] = true
		}
	}
}

// ExemptFunc exempts from authentication, as [ExemptMethods] does, every
// method whose full name exempt reports true for, such as all methods of
// a service:
//
//	grpcauth.ExemptFunc(func(fullMethod string) bool {
//		return strings.HasPrefix(fullMethod, "/grpc.reflection.v1.ServerReflection/")
//	})
//
// exempt must be safe for concurrent use. Methods listed in
// [MethodScopes], and calls whose method is unknown ([AuthFunc] outside a
// gRPC server), are never exempt.
func ExemptFunc(exempt func(fullMethod string) bool) Option {
	return func(o *options) {
		if exempt != nil {
			o.exemptFuncs = append(o.exemptFuncs, exempt)
		}
	}
}

// exempt reports whether calls of fullMethod skip authentication.
func (o *options) exempt(fullMethod string) bool {
	if fullMethod == "" {
		return false
	}
	if _, scoped := o.methodScopes[fullMethod]; scoped {
		return false
	}
	if o.exemptMethods[fullMethod] {
		return true
	}
	for _, f := range o.exemptFuncs {
		if f(fullMethod) {
			return true
		}
	}
	return false
}

// authenticator is the shared core of the interceptors and AuthFunc.
type authenticator struct {
	v    *middleware.Verifier
	opts options
}

func newAuthenticator(v *middleware.Verifier, opts []Option) *authenticator {
	a := &authenticator{v: v}
	for _, o := range opts {
		o(&a.opts)
	}
	for method, s := range a.opts.methodScopes {
		if err := v.ValidateScopes(s...); err != nil {
			if a.opts.invalid == nil {
				a.opts.invalid = map[string]bool{}
			}
			a.opts.invalid[method] = true
		}
	}
	return a
}

// authenticate verifies the credentials of the call to fullMethod carried
// by ctx's incoming metadata. setHeader sends the challenge of a refusal.
// It returns ctx with the claims, or a status error; for an exempt method,
// ctx as it is.
func (a *authenticator) authenticate(ctx context.Context, fullMethod string, setHeader func(metadata.MD) error) (context.Context, error) {
	if a.opts.invalid[fullMethod] {
		return nil, status.Error(codes.Internal, misconfiguredMessage)
	}
	if a.opts.exempt(fullMethod) {
		return ctx, nil
	}
	scopes := a.opts.methodScopes[fullMethod]
	md, _ := metadata.FromIncomingContext(ctx)
	claims, err := a.v.Authenticate(ctx, md.Get(authorizationKey), scopes...)
	if err != nil {
		resp := a.v.ErrorResponse(err, scopes...)
		// Best effort: the refusal stands whether or not the header
		// can still be sent.
		_ = setHeader(metadata.Pairs(ChallengeHeader, resp.Challenge))
		return nil, statusOf(resp).Err()
	}
	return middleware.ContextWithClaims(ctx, claims), nil
}

// statusOf maps the core response to a gRPC status with a fixed message.
func statusOf(resp middleware.ErrorResponse) *status.Status {
	msg := resp.Description // fixed per category, never err.Error()
	var code codes.Code
	switch resp.Status {
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusServiceUnavailable:
		code = codes.Unavailable
	default:
		code = codes.Unauthenticated
	}
	return status.New(code, msg)
}

// UnaryServerInterceptor returns an interceptor that admits only calls
// with a valid token for v's resource covering Config.Scopes and the
// method's [MethodScopes]. The handler's context carries the claims
// ([middleware.ClaimsFromContext]); a refused call never reaches the
// handler. Methods exempted with [ExemptMethods] or [ExemptFunc] pass
// without authentication; every other method is protected.
func UnaryServerInterceptor(v *middleware.Verifier, opts ...Option) grpc.UnaryServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.authenticate(ctx, info.FullMethod, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns the streaming counterpart of
// [UnaryServerInterceptor]: the stream handed to the handler returns a
// Context() that carries the claims.
func StreamServerInterceptor(v *middleware.Verifier, opts ...Option) grpc.StreamServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.authenticate(ss.Context(), info.FullMethod, ss.SetHeader)
		if err != nil {
			return err
		}
		return handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
	}
}

// serverStream is a grpc.ServerStream whose Context carries the claims.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context with the claims.
func (s *serverStream) Context() context.Context { return s.ctx }

// AuthFunc returns the check of [UnaryServerInterceptor] as a function
// assignable to go-grpc-middleware v2's auth.AuthFunc (its result type is
// unnamed, so this package does not import go-grpc-middleware). It reads
// the method name from ctx (grpc.Method) for [MethodScopes] and the
// exemptions, returns ctx with the claims (ctx as it is for an exempt
// method), or a status error and sends the challenge header.
func AuthFunc(v *middleware.Verifier, opts ...Option) func(ctx context.Context) (context.Context, error) {
	a := newAuthenticator(v, opts)
	return func(ctx context.Context) (context.Context, error) {
		method, _ := grpc.Method(ctx)
		return a.authenticate(ctx, method, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
	}
}
