package jose

import (
	"strings"
	"testing"
)

func BenchmarkSplit(b *testing.B) {
	tok := strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 20) + "." + strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 20) + "." + strings.Repeat("c2ln", 85)
	b.Run("new", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = Split(tok, 8192)
		}
	})
	b.Run("reference", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = splitReference(tok, 8192)
		}
	})
}
