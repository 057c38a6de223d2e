package ginauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/audguard/audguard/adapters/ginauth"
	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/middleware"
)

func Example() {
	iss, err := audtest.Start(audtest.Options{}) // an in-process issuer, for the example
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	v, err := middleware.New(middleware.Config{
		Resource: "https://api.example.com/files",
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
	})
	if err != nil {
		panic(err)
	}

	r := gin.New()
	r.GET(v.MetadataPath(), gin.WrapH(v.MetadataHandler()))
	api := r.Group("/", ginauth.Middleware(v))
	api.GET("/files", ginauth.RequireScopes(v, "files:read"), func(c *gin.Context) {
		claims, _ := ginauth.Claims(c)
		c.String(http.StatusOK, "files of %s", claims.Subject)
	})

	get := func(token string) {
		req := httptest.NewRequest(http.MethodGet, "/files", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), strings.TrimSpace(rec.Body.String()))
	}
	get(iss.AccessToken("https://api.example.com/files", "files:read"))
	get(iss.AccessToken("https://other.example.com/", "files:read"))
	get(iss.AccessToken("https://api.example.com/files"))
	// Output:
	// 200  files of user-1
	// 401 Bearer error="invalid_token", error_description="The access token was not issued for this resource", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/files" {"error":"invalid_token","error_description":"The access token was not issued for this resource"}
	// 403 Bearer error="insufficient_scope", error_description="The access token lacks a scope this operation requires", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/files", scope="files:read" {"error":"insufficient_scope","error_description":"The access token lacks a scope this operation requires"}
}
