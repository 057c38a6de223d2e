//go:build !race

package middleware_test

// slowdown: see race_on_test.go.
const slowdown = 1
