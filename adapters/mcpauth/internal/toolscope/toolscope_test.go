package toolscope_test

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	segjson "github.com/segmentio/encoding/json"
	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/adapters/mcpauth/internal/toolscope"
	"github.com/audguard/audguard/internal/transporttest"
	"github.com/audguard/audguard/middleware"
)

func TestTools(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{name: "call", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write","arguments":{}}}`, want: []string{"write"}},
		{name: "params before method", body: `{"params":{"name":"write"},"method":"tools/call","id":1,"jsonrpc":"2.0"}`, want: []string{"write"}},
		{name: "not a call", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"write"}}`},
		{name: "method case differs", body: `{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{"name":"write"}}`},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b"}},{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"a"}}]`, want: []string{"a", "b"}},
		{name: "batch with a scalar", body: `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},1,{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]`, want: []string{"a"}},
		{name: "case-variant members", body: `{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","Params":{"NAME":"write"}}`, want: []string{"write"}},
		{name: "case-variant name after the real one", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write","NAME":"read"}}`, want: []string{"read", "write"}},
		{name: "repeated name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write","name":"read"}}`, want: []string{"read", "write"}},
		{name: "repeated params", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"},"params":{"name":"read"}}`, want: []string{"read", "write"}},
		{name: "repeated method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"write"}}`, want: []string{"write"}},
		{name: "escaped member names", body: `{"jsonrpc":"2.0","id":1,"m\u0065thod":"tools\/call","params":{"n\u0061me":"wr\u0069te"}}`, want: []string{"write"}},
		{name: "method spelled in escapes only", body: `{"jsonrpc":"2.0","id":1,"method":"\u0074\u006f\u006f\u006c\u0073\u002f\u0063\u0061\u006c\u006c","params":{"name":"write"}}`, want: []string{"write"}},
		{name: "no call and no escape", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"tools/cal"}}`},
		{name: "long s folds like encoding/json", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"write"}}`, want: []string{"write"}},
		{name: "name in arguments does not count", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"name":"write"}}}`, want: []string{"read"}},
		{name: "name not a string", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}`},
		{name: "params an array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[{"name":"write"}]}`},
		{name: "trailing data after the message", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}} garbage`, want: []string{"write"}},
		{name: "syntax error after the name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write",}}`, want: []string{"write"}},
		{name: "not JSON", body: `tools/call write`},
		{name: "empty", body: ``},
		{name: "scalar", body: `"tools/call"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, toolscope.Tools([]byte(tt.body)))
		})
	}
}

// sdkTools returns the tools the MCP Go SDK would call for body: its
// readBatch (a batch through its JSON library, else one message) and
// jsonrpc.DecodeMessage, then CallToolParams decoded with that library's
// case-sensitive matching, as the SDK's internal/json does.
func sdkTools(body []byte) []string {
	strict := func(data []byte, v any) error {
		dec := segjson.NewDecoder(bytes.NewReader(data))
		dec.DontMatchCaseInsensitiveStructFields()
		return dec.Decode(v)
	}
	var raws []segjson.RawMessage
	if err := strict(body, &raws); err != nil {
		raws = []segjson.RawMessage{body}
	}
	var names []string
	for _, raw := range raws {
		msg, err := jsonrpc.DecodeMessage(raw)
		if err != nil {
			return nil // the SDK refuses the whole body
		}
		req, ok := msg.(*jsonrpc.Request)
		if !ok || req.Method != "tools/call" {
			continue
		}
		var p struct {
			Name string `json:"name"`
		}
		if strict(req.Params, &p) == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

// mcpgoTools returns the tool mark3labs/mcp-go would call for body: it
// reads one message with encoding/json.
func mcpgoTools(body []byte) []string {
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if stdjson.Unmarshal(body, &msg) != nil || msg.Method != "tools/call" {
		return nil
	}
	return []string{msg.Params.Name}
}

// FuzzToolsCoversSDKs: whatever tool the MCP Go SDK or mcp-go would call
// for a body, Tools reports it, so its scopes are checked.
func FuzzToolsCoversSDKs(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"\u0074ools\/call","params":{"name":"write"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}}]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write","NAME":"read"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write","name":"read"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"write"}}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"wr\xffite\"}}",
		"\ufeff{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"write\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"wr\tite\"}}",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}} {"x":1}`,
		`{"jsonrpc":"2.0","id":01,"method":"tools/call","params":{"name":"write"}}`,
		`{"jsonrpc":"2.0","id":1e999,"method":"tools/call","params":{"name":"write"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write",}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"},}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}},]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := toolscope.Tools(body)
		for _, name := range append(sdkTools(body), mcpgoTools(body)...) {
			if name != "" { // no tool has the empty name
				require.Contains(t, got, name, "body %q", body)
			}
		}
	})
}

func TestGuard(t *testing.T) {
	env := transporttest.New(t)
	g, err := toolscope.New(env.Verifier, map[string][]string{"write": {"files:write"}, "admin": {"files:write", "files:admin"}}, 1024)
	require.NoError(t, err)
	call := func(name string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + name + `"}}`
	}
	claims := func(scopes ...string) *middleware.Claims {
		c, err := env.Verifier.Verify(t.Context(), env.Issuer.AccessToken(transporttest.Resource, scopes...))
		require.NoError(t, err)
		return c
	}
	tests := []struct {
		name      string
		method    string
		body      string
		claims    *middleware.Claims
		endpoint  []string
		want      int // 0: admitted
		wantScope string
	}{
		{name: "tool without requirement", method: http.MethodPost, body: call("read"), claims: claims()},
		{name: "tool scope granted", method: http.MethodPost, body: call("write"), claims: claims("files:write")},
		{name: "tool scope missing", method: http.MethodPost, body: call("write"), claims: claims(transporttest.Scope), endpoint: []string{transporttest.Scope}, want: http.StatusForbidden, wantScope: transporttest.Scope + " files:write"},
		{name: "every scope of the call listed", method: http.MethodPost, body: call("admin"), claims: claims("files:write"), want: http.StatusForbidden, wantScope: "files:write files:admin"},
		{name: "batch needs every tool's scopes", method: http.MethodPost, body: "[" + call("write") + "," + call("admin") + "]", claims: claims("files:write"), want: http.StatusForbidden, wantScope: "files:write files:admin"},
		{name: "other method", method: http.MethodPost, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, claims: claims()},
		{name: "malformed body left to the server", method: http.MethodPost, body: `{"method":`, claims: claims()},
		{name: "GET is not read", method: http.MethodGet, body: call("write"), claims: claims()},
		{name: "body over the bound", method: http.MethodPost, body: call("read") + strings.Repeat(" ", 1024), claims: claims("files:write", "files:admin"), want: http.StatusRequestEntityTooLarge},
		{name: "body at the bound", method: http.MethodPost, body: call("read") + strings.Repeat(" ", 1024-len(call("read"))), claims: claims()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(tt.method, transporttest.Resource, strings.NewReader(tt.body))
			r2, ok := g.Check(rec, r, tt.claims, tt.endpoint)
			if tt.want == 0 {
				require.True(t, ok)
				body, err := io.ReadAll(r2.Body)
				require.NoError(t, err)
				require.Equal(t, tt.body, string(body), "the body reads as sent")
				return
			}
			require.False(t, ok)
			require.Equal(t, tt.want, rec.Code)
			if tt.want == http.StatusForbidden {
				want := env.Verifier.ErrorResponse(&middleware.ScopeError{Required: strings.Fields(tt.wantScope)}, strings.Fields(tt.wantScope)...)
				require.Equal(t, want.Challenge, rec.Header().Get("WWW-Authenticate"))
				params, err := transporttest.ParseChallenge(rec.Header().Get("WWW-Authenticate"))
				require.NoError(t, err)
				require.Equal(t, "insufficient_scope", params["error"])
				require.Equal(t, tt.wantScope, params["scope"])
			}
		})
	}
}

func TestGuardUnreadableBody(t *testing.T) {
	env := transporttest.New(t)
	g, err := toolscope.New(env.Verifier, map[string][]string{"write": {"files:write"}}, 1024)
	require.NoError(t, err)
	c, err := env.Verifier.Verify(t.Context(), env.Issuer.AccessToken(transporttest.Resource, "files:write"))
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, transporttest.Resource, iotest.ErrReader(errors.New("boom-secret")))
	r2, ok := g.Check(rec, r, c, nil)
	require.False(t, ok)
	require.Nil(t, r2)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, "failed to read body\n", rec.Body.String())
	require.NotContains(t, rec.Body.String(), "boom-secret")
	for name, values := range rec.Header() {
		for _, v := range values {
			require.NotContains(t, v, "boom-secret", "header %s", name)
		}
	}
}

// TestGuardEndpointUntouched: Check never writes to the caller's endpoint
// slice, even through its spare capacity.
func TestGuardEndpointUntouched(t *testing.T) {
	env := transporttest.New(t)
	g, err := toolscope.New(env.Verifier, map[string][]string{"write": {"files:write"}}, 1024)
	require.NoError(t, err)
	c, err := env.Verifier.Verify(t.Context(), env.Issuer.AccessToken(transporttest.Resource, transporttest.Scope))
	require.NoError(t, err)
	endpoint := make([]string, 1, 4)
	endpoint[0] = transporttest.Scope
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, transporttest.Resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}}`))
	_, ok := g.Check(rec, r, c, endpoint)
	require.False(t, ok)
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Equal(t, []string{transporttest.Scope, "", "", ""}, endpoint[:cap(endpoint)])
}

func TestNew(t *testing.T) {
	env := transporttest.New(t)
	g, err := toolscope.New(env.Verifier, nil, 0)
	require.NoError(t, err)
	require.Nil(t, g)

	tools := map[string][]string{"write": {"files:write"}}
	g, err = toolscope.New(env.Verifier, tools, 0)
	require.NoError(t, err)
	tools["write"][0] = "files:admin" // New copied the map
	rec := httptest.NewRecorder()
	c, err := env.Verifier.Verify(t.Context(), env.Issuer.AccessToken(transporttest.Resource, "files:write"))
	require.NoError(t, err)
	_, ok := g.Check(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"method":"tools/call","params":{"name":"write"}}`)), c, nil)
	require.True(t, ok)

	for _, bad := range [][]string{{"offline_access"}, {"a b"}, {""}, {`x"y`}} {
		g, err = toolscope.New(env.Verifier, map[string][]string{"ok": {"files:write"}, "bad": bad}, 0)
		require.Error(t, err, "%q", bad)
		require.Nil(t, g)
	}
}

// adversarialBodies are the review's costly bodies of the default bound
// (4 MiB): many cheap values for a streaming decoder to visit one by one.
func adversarialBodies() map[string][]byte {
	const max = toolscope.DefaultMaxBodyBytes
	var distinct strings.Builder
	for i := 0; distinct.Len() < max-100; i++ {
		distinct.WriteString(`"name":"` + strings.Repeat("x", i%50) + `",`)
	}
	return map[string][]byte{
		"batch of empty objects":     []byte("[" + strings.Repeat("{},", max/3) + "{}]"),
		"batch of calls":             []byte("[" + strings.Repeat(`{"method":"tools/call","params":{"name":"a"}},`, max/46) + "{}]"),
		"repeated names":             []byte(`{"method":"tools/call","params":{` + strings.Repeat(`"name":"x",`, max/11) + `"a":1}}`),
		"distinct names":             []byte(`{"method":"tools/call","params":{` + distinct.String() + `"a":1}}`),
		"many members, then a call":  []byte(`{` + strings.Repeat(`"a":1,`, max/6) + `"method":"tools/call"}`),
		"many members, not a call":   []byte(`{` + strings.Repeat(`"a":1,`, max/6) + `"method":"tools/list"}`),
		"many members, escaped call": []byte(`{` + strings.Repeat(`"a":1,`, max/6) + `"method":"tools\/call"}`),
	}
}

// BenchmarkToolsAdversarial: go test -run '^$' -bench ToolsAdversarial
// -benchtime 3x. Only bodies that could name tools/call (literally or
// with an escape) are parsed.
func BenchmarkToolsAdversarial(b *testing.B) {
	for name, body := range adversarialBodies() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				toolscope.Tools(body)
			}
		})
	}
}
