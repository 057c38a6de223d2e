// Package ginauth makes a gin engine accept only access tokens issued for
// it: it is thin glue over one [middleware.Verifier], so gin answers
// exactly as net/http, gRPC and MCP do (same status, same
// WWW-Authenticate challenge, same JSON body).
//
// Quick start:
//
//	v, err := middleware.New(middleware.Config{
//		Resource: "https://api.example.com/files",
//		Issuers:  []middleware.Issuer{{URL: "https://as.example.com"}},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	r := gin.New()
//	r.GET(v.MetadataPath(), gin.WrapH(v.MetadataHandler())) // RFC 9728, no token
//	api := r.Group("/", ginauth.Middleware(v))
//	api.GET("/files", ginauth.RequireScopes(v, "files:read"), func(c *gin.Context) {
//		claims, _ := ginauth.Claims(c)
//		c.String(http.StatusOK, "hello %s", claims.Subject)
//	})
//
// Handlers find the claims both with [Claims] and, through the request
// context, with [middleware.ClaimsFromContext](c.Request.Context()), so
// code shared with net/http handlers works unchanged.
package ginauth
