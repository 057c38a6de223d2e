package ginauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/adapters/ginauth"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// subject is the guarded gin handler: it answers the subject it finds
// through both accessors, and 500 if they disagree or are empty.
func subject(c *gin.Context) {
	fromGin, ok1 := ginauth.Claims(c)
	fromCtx, ok2 := middleware.ClaimsFromContext(c.Request.Context())
	if !ok1 || !ok2 || fromGin != fromCtx {
		c.String(http.StatusInternalServerError, "claims not found by both accessors")
		return
	}
	c.String(http.StatusOK, fromGin.Subject)
}

func newEngine(v *middleware.Verifier) *gin.Engine {
	r := gin.New()
	r.GET(v.MetadataPath(), gin.WrapH(v.MetadataHandler()))
	api := r.Group("/", ginauth.Middleware(v))
	api.GET("/files", ginauth.RequireScopes(v, transporttest.Scope), subject)
	api.GET("/open", subject)
	r.GET("/alone", ginauth.RequireScopes(v, transporttest.Scope), subject)
	r.GET("/wrapped", gin.WrapF(func(http.ResponseWriter, *http.Request) {}), subject)
	return r
}

// TestTransportMatrix: a real gin engine over a real HTTP server gives
// the shared matrix's answers, behind Middleware+RequireScopes and with
// RequireScopes alone.
func TestTransportMatrix(t *testing.T) {
	env := transporttest.New(t)
	srv := httptest.NewServer(newEngine(env.Verifier))
	t.Cleanup(srv.Close)

	for _, path := range []string{"/files", "/alone"} {
		t.Run(path, func(t *testing.T) {
			env.Run(t, transporttest.HTTP(srv.URL+path))
		})
	}
}

// TestSameResponseAsCore compares gin's answers with the core net/http
// handlers wired the same way, byte for byte: status, every header
// audguard sets, and body.
func TestSameResponseAsCore(t *testing.T) {
	env := transporttest.New(t)
	v := env.Verifier
	engine := newEngine(v)
	routes := []struct {
		path string
		core http.Handler
	}{
		{path: "/files", core: v.Handler(v.RequireScopes(transporttest.Scope)(transporttest.SubjectHandler()))},
		{path: "/alone", core: v.RequireScopes(transporttest.Scope)(transporttest.SubjectHandler())},
	}
	for _, route := range routes {
		for _, tc := range env.Cases() {
			t.Run(route.path+"/"+tc.Name, func(t *testing.T) {
				newReq := func() *http.Request {
					req := httptest.NewRequest(http.MethodGet, route.path, nil)
					for _, a := range tc.Authorization {
						req.Header.Add("Authorization", a)
					}
					return req
				}
				want := httptest.NewRecorder()
				route.core.ServeHTTP(want, newReq())
				got := httptest.NewRecorder()
				engine.ServeHTTP(got, newReq())

				require.Equal(t, tc.WantStatus, got.Code)
				require.Equal(t, want.Code, got.Code)
				for _, h := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control", "X-Content-Type-Options"} {
					require.Equal(t, want.Header().Values(h), got.Header().Values(h), h)
				}
				require.Equal(t, want.Body.String(), got.Body.String())
			})
		}
	}
}

func TestRoutes(t *testing.T) {
	env := transporttest.New(t)
	engine := newEngine(env.Verifier)
	readOnly := "Bearer " + env.Issuer.AccessToken(transporttest.Resource, "files:write")

	tests := []struct {
		name       string
		path       string
		auth       string
		wantStatus int
		wantBody   string
	}{
		{name: "group route without scope admits any valid token", path: "/open", auth: readOnly, wantStatus: http.StatusOK, wantBody: transporttest.Subject},
		{name: "group route refuses no token", path: "/open", wantStatus: http.StatusUnauthorized},
		{name: "metadata needs no token", path: env.Verifier.MetadataPath(), wantStatus: http.StatusOK},
		{name: "unguarded route sees no claims", path: "/wrapped", wantStatus: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			engine.ServeHTTP(rec, req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantBody != "" {
				require.Equal(t, tt.wantBody, rec.Body.String())
			}
		})
	}
}

// TestNextHandlersDoNotRun: an abort stops the chain, so a later handler
// that would write cannot run.
func TestNextHandlersDoNotRun(t *testing.T) {
	env := transporttest.New(t)
	ran := false
	r := gin.New()
	r.GET("/x", ginauth.Middleware(env.Verifier), func(*gin.Context) { ran = true })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.False(t, ran)
}

func TestRequireScopesInvalidFailsClosed(t *testing.T) {
	env := transporttest.New(t)
	ran := false
	r := gin.New()
	r.GET("/x", ginauth.RequireScopes(env.Verifier, "files read"), func(*gin.Context) { ran = true })
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer "+env.Issuer.AccessToken(transporttest.Resource, "files", "read"))
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.False(t, ran)
	require.Empty(t, rec.Header().Get("WWW-Authenticate"))
}

// TestClaimsWithoutMiddleware: claims put in the request context by other
// means (the core handler, a test) are found by Claims too.
func TestClaimsWithoutMiddleware(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	_, ok := ginauth.Claims(c)
	require.False(t, ok)

	want := &middleware.Claims{Subject: "s"}
	c.Request = c.Request.WithContext(middleware.ContextWithClaims(c.Request.Context(), want))
	got, ok := ginauth.Claims(c)
	require.True(t, ok)
	require.Same(t, want, got)
}

// TestClaimsOfAnotherResource: behind another Verifier's Middleware (another
// resource in the same engine), RequireScopes verifies the request for its
// own resource instead of trusting the stored claims.
func TestClaimsOfAnotherResource(t *testing.T) {
	env := transporttest.New(t)
	other, err := middleware.New(middleware.Config{
		Resource: "https://other.example.com/api",
		Issuers:  []middleware.Issuer{{URL: env.Issuer.URL(), Keys: env.Issuer.KeySet()}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })

	r := gin.New()
	r.GET("/x", ginauth.Middleware(other), ginauth.RequireScopes(env.Verifier, transporttest.Scope), subject)
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer "+env.Issuer.AccessToken("https://other.example.com/api", transporttest.Scope))
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "a token for the other resource passed its Middleware only")
	require.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
}
