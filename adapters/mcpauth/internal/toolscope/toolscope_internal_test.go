package toolscope

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMayCallTool(t *testing.T) {
	tests := []struct {
		name string
		body string
		want bool
	}{
		{name: "literal call", body: `{"method":"tools/call","params":{"name":"write"}}`, want: true},
		{name: "escaped slash", body: `{"method":"tools\/call","params":{"name":"write"}}`, want: true},
		{name: "any backslash", body: `{"method":"tools/list","params":{"name":"a\"b"}}`, want: true},
		{name: "other method", body: `{"method":"tools/list","params":{"name":"write"}}`},
		{name: "method case differs", body: `{"method":"Tools/Call","params":{"name":"write"}}`},
		{name: "empty", body: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, mayCallTool([]byte(tt.body)))
		})
	}
}

// FuzzMayCallTool: the prefilter skips only bodies in which the full
// decode finds no tool. (FuzzToolsCoversSDKs checks that the full decode
// covers the SDKs.)
func FuzzMayCallTool(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"write"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"\u0074ools/call","params":{"name":"write"}}`,
		`[{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","Params":{"NAME":"write"}}]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"write"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !mayCallTool(body) {
			require.Empty(t, tools(body), "body %q", body)
		}
	})
}
