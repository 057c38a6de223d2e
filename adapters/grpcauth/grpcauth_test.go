package grpcauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/audguard/audguard/adapters/grpcauth"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var matrixScopes = grpcauth.MethodScopes(map[string][]string{
	methodWhoami: {transporttest.Scope},
	methodWatch:  {transporttest.Scope},
})

// httpStatus maps a gRPC code back to the HTTP status of the same
// decision.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return 0
}

// result turns one call's outcome into a matrix result, checking what
// only gRPC has: exactly one challenge header value and a status message
// that is the fixed description (or the fixed no-token text).
func result(t *testing.T, authorization []string, subject string, header metadata.MD, err error) transporttest.Result {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "not a status error: %v", err)
	r := transporttest.Result{Status: httpStatus(st.Code()), Subject: subject}
	require.NotZero(t, r.Status, "unexpected code %v", st.Code())
	challenges := header.Get(grpcauth.ChallengeHeader)
	if err == nil {
		require.Empty(t, challenges)
		return r
	}
	require.Len(t, challenges, 1, "www-authenticate values")
	r.Challenge = challenges[0]
	params, perr := transporttest.ParseChallenge(r.Challenge)
	require.NoError(t, perr)
	want := params["error_description"]
	if want == "" {
		want = "A bearer access token is required"
	}
	require.Equal(t, want, st.Message(), "status message")
	for _, a := range authorization {
		if _, tok, ok := strings.Cut(a, " "); ok && len(tok) > 8 {
			require.NotContains(t, st.Message(), strings.TrimSpace(tok))
		}
	}
	return r
}

// TestTransportMatrix: unary and server-streaming calls over bufconn,
// through this package's interceptors and through go-grpc-middleware's
// auth interceptors with AuthFunc, give the shared matrix's answers.
func TestTransportMatrix(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	servers := []struct {
		name string
		opts []grpc.ServerOption
	}{
		{name: "interceptors", opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, matrixScopes)),
			grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, matrixScopes)),
		}},
		{name: "go-grpc-middleware AuthFunc", opts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(grpcauth.AuthFunc(v, matrixScopes))),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(grpcauth.AuthFunc(v, matrixScopes))),
		}},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			conn := serve(t, s.opts...)
			t.Run("unary", func(t *testing.T) {
				env.Run(t, func(t *testing.T, authorization []string) transporttest.Result {
					sub, header, err := callUnary(t.Context(), conn, methodWhoami, authorization)
					return result(t, authorization, sub, header, err)
				})
			})
			t.Run("stream", func(t *testing.T) {
				env.Run(t, func(t *testing.T, authorization []string) transporttest.Result {
					sub, header, err := callStream(t.Context(), conn, authorization)
					return result(t, authorization, sub, header, err)
				})
			})
		})
	}
}

// TestAuthFuncAssignable: AuthFunc's result is assignable to
// go-grpc-middleware's auth.AuthFunc (a compile-time property; the matrix
// also runs it inside that package's interceptors).
func TestAuthFuncAssignable(t *testing.T) {
	env := transporttest.New(t)
	var f auth.AuthFunc = grpcauth.AuthFunc(env.Verifier)
	_, err := f(context.Background())
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}

// TestMethodScopes: a method without a listed requirement needs only
// Config.Scopes; a listed one needs its scopes.
func TestMethodScopes(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	conn := serve(t,
		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, matrixScopes)),
	)
	writeOnly := []string{"Bearer " + env.Issuer.AccessToken(transporttest.Resource, "files:write")}

	tests := []struct {
		name     string
		method   string
		wantCode codes.Code
	}{
		{name: "unlisted method", method: methodPublic, wantCode: codes.OK},
		{name: "listed method", method: methodWhoami, wantCode: codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, header, err := callUnary(t.Context(), conn, tt.method, writeOnly)
			require.Equal(t, tt.wantCode, status.Code(err))
			if tt.wantCode == codes.PermissionDenied {
				params, perr := transporttest.ParseChallenge(header.Get(grpcauth.ChallengeHeader)[0])
				require.NoError(t, perr)
				require.Equal(t, transporttest.Scope, params["scope"])
			}
		})
	}
}

// TestInvalidMethodScopesFailClosed: a method whose requirement is not a
// valid scope-token refuses every call with Internal and a fixed message;
// other methods are unaffected.
func TestInvalidMethodScopesFailClosed(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	opt := grpcauth.MethodScopes(map[string][]string{methodWhoami: {"files read"}})
	conn := serve(t,
		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, opt)),
		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, opt)),
	)
	token := []string{"Bearer " + env.Issuer.AccessToken(transporttest.Resource, "files", "read")}

	_, _, err := callUnary(t.Context(), conn, methodWhoami, token)
	require.Equal(t, codes.Internal, status.Code(err))
	require.Equal(t, "The authorization requirement of this method is misconfigured", status.Convert(err).Message())

	sub, _, err := callUnary(t.Context(), conn, methodPublic, token)
	require.NoError(t, err)
	require.Equal(t, transporttest.Subject, sub)
}

// unavailableKeys is a key source whose keys can never be obtained.
type unavailableKeys struct{}

func (unavailableKeys) Key(context.Context, string, string) (*jwks.Key, error) {
	return nil, jwks.ErrUnavailable
}

// TestUnavailable: codes.Unavailable only when the core maps the failure
// to 503 (Config.UnavailableStatus503); Unauthenticated otherwise.
func TestUnavailable(t *testing.T) {
	env := transporttest.New(t)
	tests := []struct {
		name     string
		opt503   bool
		wantCode codes.Code
	}{
		{name: "default", wantCode: codes.Unauthenticated},
		{name: "503 by option", opt503: true, wantCode: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := middleware.New(middleware.Config{
				Resource:             transporttest.Resource,
				Issuers:              []middleware.Issuer{{URL: env.Issuer.URL(), Keys: unavailableKeys{}}},
				UnavailableStatus503: tt.opt503,
			})
			require.NoError(t, err)
			conn := serve(t, grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v)))
			_, header, err := callUnary(t.Context(), conn, methodPublic, []string{"Bearer " + env.Issuer.AccessToken(transporttest.Resource)})
			require.Equal(t, tt.wantCode, status.Code(err))
			require.Equal(t, v.ErrorResponse(middleware.ErrKeysUnavailable).Description, status.Convert(err).Message())
			require.Len(t, header.Get(grpcauth.ChallengeHeader), 1)
		})
	}
}

// TestAuthFuncOutsideServer: called with a context that is not a gRPC
// server's (no method, no stream), AuthFunc still decides and does not
// panic; only the challenge header cannot be sent.
func TestAuthFuncOutsideServer(t *testing.T) {
	env := transporttest.New(t)
	f := grpcauth.AuthFunc(env.Verifier, matrixScopes)

	_, err := f(context.Background())
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	md := metadata.Pairs("authorization", "Bearer "+env.Issuer.AccessToken(transporttest.Resource))
	ctx, err := f(metadata.NewIncomingContext(context.Background(), md))
	require.NoError(t, err)
	c, ok := middleware.ClaimsFromContext(ctx)
	require.True(t, ok)
	require.Equal(t, transporttest.Subject, c.Subject)
}

// TestHandlerNotCalledOnRefusal: a refused call never reaches the handler.
func TestHandlerNotCalledOnRefusal(t *testing.T) {
	env := transporttest.New(t)
	called := false
	icpt := grpcauth.UnaryServerInterceptor(env.Verifier)
	_, err := icpt(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: methodWhoami}, func(context.Context, any) (any, error) {
		called = true
		return nil, nil
	})
	require.Error(t, err)
	require.False(t, called)
	require.False(t, errors.Is(err, middleware.ErrNoToken), "the status error must not wrap the core error")
}
