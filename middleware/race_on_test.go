//go:build race

package middleware_test

// slowdown is how much more a timing bound allows when the race detector
// instruments every memory access: it slows byte-by-byte loops (hashing
// many names) far more than bulk copies (one long string).
const slowdown = 3
