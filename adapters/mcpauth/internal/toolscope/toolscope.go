package toolscope

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/audguard/audguard/middleware"
)

// DefaultMaxBodyBytes bounds the request body a [Guard] reads when no
// other bound is configured: 4 MiB, the default of the MCP Go SDK's
// streamable HTTP handler (mcp.DefaultMaxRequestBodyBytes).
const DefaultMaxBodyBytes = 4 << 20

// methodCallTool is the JSON-RPC method of a tool call.
const methodCallTool = "tools/call"

// Guard checks the scopes of the tools a request calls.
type Guard struct {
	v       *middleware.Verifier
	tools   map[string][]string
	maxBody int64
}

// New returns a Guard requiring tools[name] of every call of the tool
// name, reading at most maxBody bytes of a request body
// ([DefaultMaxBodyBytes] when maxBody <= 0). tools is copied. It returns
// nil and no error when tools is empty, and nil and v.ValidateScopes'
// error (which v also logs) when a requirement is invalid: the caller
// must then refuse every request, fail closed.
func New(v *middleware.Verifier, tools map[string][]string, maxBody int64) (*Guard, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	g := &Guard{v: v, tools: make(map[string][]string, len(tools)), maxBody: maxBody}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	var all []string
	for _, name := range slices.Sorted(maps.Keys(tools)) {
		g.tools[name] = slices.Clone(tools[name])
		all = append(all, tools[name]...)
	}
	if err := v.ValidateScopes(all...); err != nil {
		return nil, err
	}
	return g, nil
}

// Check admits r, made with the token whose claims are c, to an endpoint
// that requires endpoint (beyond Config.Scopes) of every request. For a
// POST it reads the body, at most the Guard's bound, and requires of the
// token the scopes of every tool the body calls ([Tools]). It returns the
// request to hand on, whose body reads as the original did, and true; or
// it writes the refusal and returns false: 413 for a body over the bound,
// 400 when the body cannot be read, and v's 403 insufficient_scope
// response listing every scope the call requires (Config.Scopes, endpoint
// and the tools' scopes) when the token lacks one.
//
// A body that is not a JSON-RPC message or batch is handed on unchecked:
// it calls no tool, and the MCP server answers it.
func (g *Guard) Check(w http.ResponseWriter, r *http.Request, c *middleware.Claims, endpoint []string) (*http.Request, bool) {
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
		return r, true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.maxBody+1))
	if err != nil {
		http.Error(w, "failed to read body", http.StatusBadRequest)
		return nil, false
	}
	if int64(len(body)) > g.maxBody {
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = io.NopCloser(bytes.NewReader(body))

	// required aliases endpoint, the caller's, until a called tool adds
	// a scope: only then is it copied, so a request that calls no such
	// tool costs no allocation.
	required := endpoint
	extra := false
	for _, name := range Tools(body) {
		for _, s := range g.tools[name] {
			if !slices.Contains(required, s) {
				if !extra {
					required = slices.Clone(endpoint)
					extra = true
				}
				required = append(required, s)
			}
		}
	}
	if !extra {
		return r2, true
	}
	if err := g.v.CheckScopes(c, required...); err != nil {
		g.v.ErrorResponse(err, required...).Write(w)
		return nil, false
	}
	return r2, true
}

// Tools returns the names of the tools body calls, sorted and without
// repeats: the "params"."name" of every "tools/call" request in a JSON-RPC
// message or batch. Only the first JSON value of body counts, as in the
// MCP Go SDK; a body that is not JSON calls no tool.
//
// MCP SDKs read messages differently (the Go SDK matches member names
// case-sensitively, mark3labs/mcp-go and encoding/json case-insensitively;
// with repeated members one takes the first, another the last). Tools
// therefore reports every name any of them could see: it matches
// "method", "params" and "name" case-insensitively (encoding/json's
// folding) and collects every value of a repeated member, so a request
// never calls a tool whose scopes were not checked.
func Tools(body []byte) []string {
	if !mayCallTool(body) {
		return nil
	}
	return tools(body)
}

// mayCallTool reports whether body could call a tool at all: whether it
// holds the bytes "tools/call" or a backslash. A message calls a tool
// only if its "method" value decodes to exactly "tools/call" (every SDK,
// and [Tools], compares the decoded string byte for byte, after matching
// the member name however loosely), and a JSON string decodes to those
// bytes only by spelling them literally or through escapes ("\/",
// "\u0074"), each of which begins with a backslash. A body without
// either is skipped after two scans at memchr speed (a fraction of a
// millisecond for 4 MiB), where the decode token by token of 4 MiB of
// small values takes most of a second. A body that holds either is
// decoded in full: the prefilter spares the traffic that calls no tool,
// it does not bound the cost of a body built to be expensive, which
// only has to contain "tools/call".
func mayCallTool(body []byte) bool {
	return bytes.IndexByte(body, '\\') >= 0 || bytes.Contains(body, []byte(methodCallTool))
}

// tools is [Tools] without the [mayCallTool] prefilter.
func tools(body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	var names []string
	switch tok {
	case json.Delim('['):
		for dec.More() {
			n, err := message(dec)
			names = append(names, n...)
			if err != nil {
				break
			}
		}
	case json.Delim('{'):
		names, _ = objectMessage(dec)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// errNotObject reports a batch element that is not an object.
var errNotObject = errors.New("not an object")

// message reads one value of dec: the tool names of a tools/call
// request, or none.
func message(dec *json.Decoder) ([]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errNotObject
	}
	return objectMessage(dec)
}

// objectMessage reads the members of an object whose '{' dec has
// consumed, and its '}'. It returns the tool names when some "method"
// member is "tools/call", whatever the errors after it: a name seen
// before a syntax error is still reported.
func objectMessage(dec *json.Decoder) ([]string, error) {
	var names []string
	isCall := false
	err := members(dec, func(key string) error {
		switch {
		case strings.EqualFold(key, "method"):
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			var m string
			if json.Unmarshal(raw, &m) == nil && m == methodCallTool {
				isCall = true
			}
		case strings.EqualFold(key, "params"):
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			if tok != json.Delim('{') {
				if d, ok := tok.(json.Delim); ok && d == '[' {
					return skipRest(dec)
				}
				return nil
			}
			return members(dec, func(key string) error {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return err
				}
				var name string
				if strings.EqualFold(key, "name") && json.Unmarshal(raw, &name) == nil {
					names = append(names, name)
				}
				return nil
			})
		default:
			var raw json.RawMessage
			return dec.Decode(&raw)
		}
		return nil
	})
	if !isCall {
		return nil, err
	}
	return names, err
}

// members calls member with the key of every member of the object whose
// '{' dec has consumed; member must read the value. It consumes the '}'.
func members(dec *json.Decoder, member func(key string) error) error {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errNotObject
		}
		if err := member(key); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// skipRest reads the rest of an array or object whose opening delimiter
// dec has consumed.
func skipRest(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return nil
}
