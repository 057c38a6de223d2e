package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/examples/internal/smoke"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var callLine = regexp.MustCompile(`go run \./grpc call -addr (\S+)(?: -token (\S+))?\s+# expect (\w+)`)

// TestSmoke runs the grpc example with the in-process issuer and runs the
// example's client with every line it prints: both the unary and the
// streaming method must give the announced outcome, and the exempt health
// check answers whatever the token.
func TestSmoke(t *testing.T) {
	p := smoke.Start(t, run, "Fresh tokens")
	lines := callLine.FindAllStringSubmatch(p.Output(), -1)
	require.Len(t, lines, 4)
	for _, m := range lines {
		t.Run(m[3], func(t *testing.T) {
			var out strings.Builder
			args := []string{"call", "-addr", m[1]}
			if m[2] != "" {
				args = append(args, "-token", m[2])
			}
			require.NoError(t, run(t.Context(), args, &out))
			require.Contains(t, out.String(), "Health: OK: SERVING", "health needs no token")
			require.Contains(t, out.String(), "Read: "+m[3]+":")
			require.Contains(t, out.String(), "List: "+m[3]+":")
			if m[3] == "OK" {
				require.Contains(t, out.String(), "Read: OK: contents of notes.txt for user-1")
				require.Contains(t, out.String(), "List: OK: [user-1/a.txt user-1/b.txt]")
			} else {
				require.Contains(t, out.String(), "www-authenticate: Bearer ")
			}
		})
	}
}
