package main

import (
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/examples/internal/smoke"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// TestSmoke runs the gin example with the in-process issuer and performs
// every curl line it prints.
func TestSmoke(t *testing.T) {
	p := smoke.Start(t, run, "Fresh tokens")
	require.Equal(t, 5, smoke.CheckCurlLines(t, p.Output()))
}

// TestResourcePath: the API is served, and the printed lines point, at
// the path of -resource, or at /files when the resource is the origin.
func TestResourcePath(t *testing.T) {
	smoke.CheckResourcePaths(t, run, "/files")
}
