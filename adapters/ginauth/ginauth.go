package ginauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/audguard/audguard/middleware"
)

// claimsKey is the gin context key of the claims.
type claimsKey struct{}

// Middleware returns a gin.HandlerFunc that admits only requests with a
// valid token for v's resource covering Config.Scopes. It stores the claims
// in the gin context ([Claims]) and in c.Request's context
// ([middleware.ClaimsFromContext]) and calls the next handler; otherwise it
// aborts with v's response for the failure (status, WWW-Authenticate,
// Cache-Control: no-store, JSON body), exactly as [middleware.Verifier.Handler]
// would.
func Middleware(v *middleware.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		authenticate(c, v, nil)
	}
}

// RequireScopes returns a gin.HandlerFunc that requires scopes, in
// addition to Config.Scopes, for the routes it guards. Behind [Middleware]
// with the same Verifier it checks the claims already stored; on its own,
// or behind another Verifier's middleware, it verifies the request itself. A missing scope is answered 403 insufficient_scope with every
// scope the route requires in one challenge.
//
// A scope that is not a valid scope-token (see
// [middleware.Verifier.ValidateScopes]) makes the handler refuse every
// request with 500, fail closed; the problem is logged once on v's logger
// and attached to each request with c.Error.
func RequireScopes(v *middleware.Verifier, scopes ...string) gin.HandlerFunc {
	if err := v.ValidateScopes(scopes...); err != nil {
		return func(c *gin.Context) {
			_ = c.Error(err)
			c.AbortWithStatus(http.StatusInternalServerError)
		}
	}
	scopes = append([]string(nil), scopes...)
	return func(c *gin.Context) {
		claims, ok := Claims(c)
		if !ok || !claims.VerifiedBy(v) {
			// No claims, or claims another Verifier (another resource)
			// accepted: verify the request for this one.
			authenticate(c, v, scopes)
			return
		}
		if err := v.CheckScopes(claims, scopes...); err != nil {
			abort(c, v.ErrorResponse(err, scopes...))
			return
		}
		c.Next()
	}
}

// Claims returns the verified claims stored by [Middleware] or
// [RequireScopes] (or by [middleware.Verifier.Handler] run through
// gin.WrapH before), and whether there were any.
func Claims(c *gin.Context) (*middleware.Claims, bool) {
	if val, ok := c.Get(claimsKey{}); ok {
		if claims, ok := val.(*middleware.Claims); ok && claims != nil {
			return claims, true
		}
	}
	if c.Request == nil {
		return nil, false
	}
	return middleware.ClaimsFromContext(c.Request.Context())
}

func authenticate(c *gin.Context, v *middleware.Verifier, scopes []string) {
	ctx := c.Request.Context()
	claims, err := v.Authenticate(ctx, c.Request.Header.Values("Authorization"), scopes...)
	if err != nil {
		abort(c, v.ErrorResponse(err, scopes...))
		return
	}
	c.Request = c.Request.WithContext(middleware.ContextWithClaims(ctx, claims))
	c.Set(claimsKey{}, claims)
	c.Next()
}

// abort writes the core response and stops the handler chain.
func abort(c *gin.Context, resp middleware.ErrorResponse) {
	resp.Write(c.Writer)
	c.Abort()
}
