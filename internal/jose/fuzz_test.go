package jose

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzForEachMember holds the strict JSON scanner against encoding/json.
// Soundness: whatever it accepts is valid UTF-8 JSON, one object whose
// members (names, strings, numbers) are exactly what encoding/json reads,
// with no repeated or case-folding-colliding name at any depth, within the
// limits. Completeness: a document encoding/json
// reads, without \u escapes, within the limits and free of those
// collisions, is accepted. And it never panics.
func FuzzForEachMember(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"alg":"RS256","kid":"k","typ":"at+jwt"}`, `{"a":[1,2,{"b":null}],"c":true,"d":-1.5e3}`,
		`{"aud":["x","y"],"exp":1e999999}`, `{"a":"\u00e9\ud83d\ude00"}`, `{"a":1,"a":2}`, `{"A":1,"a":2}`,
		`[1]`, `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	} {
		f.Add([]byte(s))
	}
	// Objects past the 24 names compared pairwise, where names are
	// indexed by hash: distinct, a repeat, a case collision, nested.
	many := func(extra string) []byte {
		var b strings.Builder
		b.WriteString(`{"sub":0`)
		for i := range 40 {
			b.WriteString(`,"n` + strconv.Itoa(i) + `":0`)
		}
		return []byte(b.String() + extra + `}`)
	}
	f.Add(many(``))
	f.Add(many(`,"n7":1`))
	f.Add(many(`,"SUB":1`))
	f.Add(many(`,"\u017fub":1`))
	f.Add([]byte(`{"x":` + string(many(`,"SUB":1`)) + `}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := string(data)
		type member struct {
			name string
			v    Value
		}
		var members []member
		err := ForEachMember(data, DefaultLimits, func(name []byte, v Value) error {
			members = append(members, member{string(name), v})
			// Every accessor must be safe on every value.
			_, _ = v.Text(doc)
			_, _ = v.Float()
			_ = v.ForEachElement(func(e Value) error { _, _ = e.Text(doc); _, _ = e.Float(); return nil })
			return nil
		})
		shape, oerr := oracleShape(data)
		if err != nil {
			if oerr == nil && !strings.Contains(doc, `\u`) {
				t.Fatalf("refused a document encoding/json reads within the limits: %v", err)
			}
			return
		}
		if oerr != nil {
			t.Fatalf("accepted a document the oracle refuses: %v", oerr)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted, encoding/json refuses: %v", err)
		}
		if len(m) != len(members) || shape.topMembers != len(members) {
			t.Fatalf("%d members, encoding/json sees %d", len(members), len(m))
		}
		for _, mb := range members {
			raw, ok := m[mb.name]
			if !ok {
				t.Fatalf("member %q unknown to encoding/json", mb.name)
			}
			switch mb.v.Kind {
			case String:
				var want string
				_ = json.Unmarshal(raw, &want)
				got, err := mb.v.Text(doc)
				if err != nil || got != want {
					t.Fatalf("member %q: text %q, encoding/json %q (%v)", mb.name, got, want, err)
				}
			case Number:
				var want float64
				jerr := json.Unmarshal(raw, &want)
				got, err := mb.v.Float()
				if err == nil && (jerr != nil || got != want) {
					t.Fatalf("member %q: number %v, encoding/json %v (%v)", mb.name, got, want, jerr)
				}
			}
		}
	})
}

type jsonShape struct{ topMembers int }

// oracleShape checks data with encoding/json's tokenizer: valid UTF-8,
// one object, no repeated or case-folding-colliding name in any object, depth, member counts and number lengths within
// DefaultLimits.
func oracleShape(data []byte) (jsonShape, error) {
	var sh jsonShape
	if !utf8.Valid(data) || !json.Valid(data) {
		return sh, errors.New("invalid")
	}
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	var walk func(depth int, top bool) error
	walk = func(depth int, top bool) error {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			if depth > DefaultLimits.MaxDepth {
				return errors.New("depth")
			}
			var names []string
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				name := k.(string)
				for _, n := range names {
					if n == name || strings.EqualFold(n, name) {
						return errors.New("duplicate")
					}
				}
				names = append(names, name)
				if len(names) > DefaultLimits.MaxMembers {
					return errors.New("members")
				}
				if err := walk(depth+1, false); err != nil {
					return err
				}
			}
			if top {
				sh.topMembers = len(names)
			}
			_, err = d.Token()
			return err
		case json.Delim('['):
			if top {
				return errors.New("not an object")
			}
			if depth > DefaultLimits.MaxDepth {
				return errors.New("depth")
			}
			n := 0
			for d.More() {
				if n++; n > DefaultLimits.MaxMembers {
					return errors.New("members")
				}
				if err := walk(depth+1, false); err != nil {
					return err
				}
			}
			_, err = d.Token()
			return err
		}
		if top {
			return errors.New("not an object")
		}
		if n, ok := tok.(json.Number); ok && len(n) > DefaultLimits.MaxNumber {
			return errors.New("number")
		}
		return nil
	}
	return sh, walk(1, true)
}

// FuzzSplitDecode: the compact shape check and strict base64url. Split
// never panics and never allocates; what it accepts is three non-empty
// segments of the compact alphabet that join back to the input; a segment
// Decode accepts re-encodes to itself (one canonical encoding, RFC 7515
// §2), and Decode agrees with the standard library's strict decoder.
func FuzzSplitDecode(f *testing.F) {
	for _, s := range []string{"a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.AA", "..", "a.b.c.d", "AB.AA.A", "a=.b.c", "a.b\n.c"} {
		f.Add(s)
	}
	n := 0
	f.Fuzz(func(t *testing.T, token string) {
		if n++; n%64 == 1 {
			if a := testing.AllocsPerRun(1, func() { _, _ = Split(token, 8192) }); a != 0 {
				t.Fatalf("Split allocated %v times", a)
			}
		}
		p, err := Split(token, 8192)
		if err != nil {
			return
		}
		if p.Header+"."+p.Payload+"."+p.Signature != token || p.SigningInput != p.Header+"."+p.Payload {
			t.Fatalf("parts do not join back: %+v", p)
		}
		for _, seg := range []string{p.Header, p.Payload, p.Signature} {
			if seg == "" || strings.ContainsAny(seg, ".=+/ \r\n") {
				t.Fatalf("bad segment %q", seg)
			}
			b, err := Decode(nil, seg)
			want, werr := base64.RawURLEncoding.Strict().DecodeString(seg)
			if (err == nil) != (werr == nil) || (err == nil && string(b) != string(want)) {
				t.Fatalf("Decode(%q) = %x, %v; strict stdlib %x, %v", seg, b, err, want, werr)
			}
			if err == nil && base64.RawURLEncoding.EncodeToString(b) != seg {
				t.Fatalf("segment %q is not the canonical encoding of its bytes", seg)
			}
			if err == nil && DecodedLen(len(seg)) < len(b) {
				t.Fatalf("DecodedLen(%d) = %d < %d", len(seg), DecodedLen(len(seg)), len(b))
			}
		}
	})
}
