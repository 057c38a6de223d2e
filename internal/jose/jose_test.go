package jose

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{in: "a.b.c"},
		{in: "", want: ErrEmpty},
		{in: "a.b", want: ErrSegments},
		{in: "a.b.c.d", want: ErrSegments},
		{in: ".b.c", want: ErrSegments},
		{in: "a..c", want: ErrSegments},
		{in: "a.b.", want: ErrSegments},
		{in: "..", want: ErrSegments},
		{in: "a.b.c=", want: ErrCharset},
		{in: "a.b+.c", want: ErrCharset},
		{in: "a.b\n.c", want: ErrCharset},
		{in: "a.b.c ", want: ErrCharset},
		{in: strings.Repeat("a", 9000), want: ErrTooLarge},
	}
	for _, tc := range tests {
		p, err := Split(tc.in, 8192)
		if tc.want != nil {
			require.ErrorIs(t, err, tc.want, "%q", tc.in)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, Parts{Header: "a", Payload: "b", Signature: "c", SigningInput: "a.b"}, p)
	}
	dots := strings.Repeat(".", 8000)
	allocs := testing.AllocsPerRun(20, func() { _, _ = Split(dots, 8192) })
	require.Zero(t, allocs)
}

func TestDecodeStrict(t *testing.T) {
	b, err := Decode(nil, "eyI") // `{"`, unused bits zero
	require.NoError(t, err)
	require.Equal(t, `{"`, string(b))
	_, err = Decode(nil, "eyJ") // same bytes, unused bits set
	require.ErrorIs(t, err, ErrBase64)
	_, err = Decode(nil, "e") // impossible length
	require.ErrorIs(t, err, ErrBase64)
}

func TestForEachMember(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{in: `{}`},
		{in: ` {"a":1} `},
		{in: `{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00","d":true,"e":false,"f":-1.5e3}`},
		{in: `[]`, want: ErrNotObject},
		{in: `"x"`, want: ErrNotObject},
		{in: `null`, want: ErrNotObject},
		{in: `{"a":1}x`, want: ErrSyntax},
		{in: `{"a":1,}`, want: ErrSyntax},
		{in: `{"a" 1}`, want: ErrSyntax},
		{in: `{'a':1}`, want: ErrSyntax},
		{in: `{"a":01}`, want: ErrSyntax},
		{in: `{"a":1.}`, want: ErrSyntax},
		{in: `{"a":+1}`, want: ErrSyntax},
		{in: `{"a":NaN}`, want: ErrSyntax},
		{in: `{"a":tru}`, want: ErrSyntax},
		{in: "{\"a\":\"\x01\"}", want: ErrSyntax},
		{in: `{"a":"\x"}`, want: ErrSyntax},
		{in: `{"a":"\ud800"}`, want: ErrUTF8},
		{in: `{"a":"\udc00"}`, want: ErrUTF8},
		{in: `{"a":"\ud800\u0041"}`, want: ErrUTF8},
		{in: "{\"a\":\"\xff\"}", want: ErrUTF8},
		{in: `{"a":1,"a":2}`, want: ErrDuplicate},
		{in: `{"a":1,"\u0061":2}`, want: ErrDuplicate},
		{in: `{"x":{"a":1,"a":2}}`, want: ErrDuplicate},
		{in: `{"a":1,"A":2}`, want: ErrCaseDup},
		{in: `{"x":{"a":1,"A":2}}`, want: ErrCaseDup},
		{in: `{"k":1,"\u212a":2}`, want: ErrCaseDup},
		{in: `{"xk":1,"x\u212a":2}`, want: ErrCaseDup},
		{in: `{"abc":1,"aBc":2}`, want: ErrCaseDup},
		{in: `{"aud":1,"AUD":2}`, want: ErrCaseDup},
		{in: `{"abc":1,"axc":2,"abd":3,"xbc":4,"ab":5,"abcd":6}`},
		{in: `{"x":{"abc":1,"aBc":2}}`, want: ErrCaseDup},
		{in: `{"x":{"abc":1,"abc":2}}`, want: ErrDuplicate},
		{in: `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26,"Z":27}`, want: ErrCaseDup},
		{in: `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26,"z":27}`, want: ErrDuplicate},
		{in: `{"A":0,"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26}`, want: ErrCaseDup},
		{in: `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, want: ErrDepth},
		{in: `{"a":` + strings.Repeat("9", 41) + `}`, want: ErrNumber},
	}
	for _, tc := range tests {
		err := ForEachMember([]byte(tc.in), DefaultLimits, func([]byte, Value) error { return nil })
		if tc.want == nil {
			require.NoError(t, err, tc.in)
		} else {
			require.True(t, errors.Is(err, tc.want), "%s: got %v", tc.in, err)
		}
	}
	var many strings.Builder
	many.WriteString("{")
	for i := 0; i < 300; i++ {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k` + strings.Repeat("x", i) + `":0`)
	}
	many.WriteString("}")
	require.ErrorIs(t, ForEachMember([]byte(many.String()), DefaultLimits, func([]byte, Value) error { return nil }), ErrTooMany)
}

func TestValueText(t *testing.T) {
	doc := `{"a":"plain","b":"esc\"aped\u00e9","c":["x","y"],"n":1.5}`
	got := map[string]string{}
	var arr []string
	var num float64
	err := ForEachMember([]byte(doc), DefaultLimits, func(name []byte, v Value) error {
		switch string(name) {
		case "c":
			return v.ForEachElement(func(e Value) error {
				s, err := e.Text(doc)
				arr = append(arr, s)
				return err
			})
		case "n":
			var err error
			num, err = v.Float()
			return err
		}
		s, err := v.Text(doc)
		got[string(name)] = s
		return err
	})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "plain", "b": "esc\"apedé"}, got)
	require.Equal(t, []string{"x", "y"}, arr)
	require.Equal(t, 1.5, num)
}

// splitReference is the byte-at-a-time shape check Split must agree with:
// same result, same error, for every input.
func splitReference(token string, max int) (Parts, error) {
	var p Parts
	if token == "" {
		return p, ErrEmpty
	}
	if len(token) > max {
		return p, ErrTooLarge
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			switch {
			case dot1 < 0:
				dot1 = i
			case dot2 < 0:
				dot2 = i
			default:
				return p, ErrSegments
			}
		default:
			return p, ErrCharset
		}
	}
	if dot2 < 0 || dot1 == 0 || dot2 == dot1+1 || dot2 == len(token)-1 {
		return p, ErrSegments
	}
	return Parts{Header: token[:dot1], Payload: token[dot1+1 : dot2], Signature: token[dot2+1:], SigningInput: token[:dot2]}, nil
}

func TestSplitAgreesWithReference(t *testing.T) {
	alphabet := "aZ09-_.=+/ \n\x00\xff"
	// Every string of up to 5 bytes over a small alphabet, then longer
	// ones with the odd byte at every position of an 8-byte step.
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		p1, e1 := Split(prefix, 64)
		p2, e2 := splitReference(prefix, 64)
		require.Equal(t, e2, e1, "%q", prefix)
		require.Equal(t, p2, p1, "%q", prefix)
		if n == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			gen(prefix+alphabet[i:i+1], n-1)
		}
	}
	gen("", 5)
	base := strings.Repeat("abcdefgh", 4) + "." + strings.Repeat("ABCDEFGH", 4) + "." + strings.Repeat("01234567", 4)
	for i := 0; i < len(base); i++ {
		for _, c := range []byte{'.', '=', '\n', 0x80, '-'} {
			s := base[:i] + string([]byte{c}) + base[i+1:]
			p1, e1 := Split(s, 8192)
			p2, e2 := splitReference(s, 8192)
			require.Equal(t, e2, e1, "%q", s)
			require.Equal(t, p2, p1, "%q", s)
		}
	}
}

func TestSplitCompactAgreesWithSplit(t *testing.T) {
	for _, s := range []string{"", "a", "a.b", "a.b.c", ".b.c", "a..c", "a.b.", "a.b.c.d", "abc.def.ghi", strings.Repeat("a", 9000)} {
		p1, e1 := Split(s, 8192)
		p2, e2 := SplitCompact(s, 8192)
		require.Equal(t, e1, e2, "%q", s)
		require.Equal(t, p1, p2, "%q", s)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	f.Fuzz(func(t *testing.T, s string) {
		p1, e1 := Split(s, 8192)
		p2, e2 := splitReference(s, 8192)
		if e1 != e2 || p1 != p2 {
			t.Fatalf("%q: Split = %v, %v; reference = %v, %v", s, p1, e1, p2, e2)
		}
		if CompactAlphabet(s) {
			if p3, e3 := SplitCompact(s, 8192); e3 != e1 || p3 != p1 {
				t.Fatalf("%q: SplitCompact = %v, %v; Split = %v, %v", s, p3, e3, p1, e1)
			}
		}
	})
}

func TestFloatAgreesWithParseFloat(t *testing.T) {
	for _, lit := range []string{"0", "-0", "1", "-1", "7", "1764100000", "-1764100000", "999999999999999",
		"9999999999999999", "-999999999999999", "1.5", "1e3", "1E+3", "0.0", "-0.5", "253402300799",
		"123456789012345", "1234567890123456789012345678901234567890"} {
		doc := []byte(`{"n":` + lit + `}`)
		var got float64
		var gotErr error
		err := ForEachMember(doc, DefaultLimits, func(_ []byte, v Value) error {
			got, gotErr = v.Float()
			return nil
		})
		require.NoError(t, err, lit)
		want, werr := strconv.ParseFloat(lit, 64)
		require.NoError(t, werr)
		require.NoError(t, gotErr, lit)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), lit)
	}
}

func TestStringScanAgreesWithEncodingJSON(t *testing.T) {
	pieces := []string{"a", "é", "\\\"", "\\\\", "\\n", "\\u0041", "\"", "\\", "\x01", "\x1f", " ", "\x7f", "\\x", "\\ud83d\\ude00", "€", "0123456"}
	var gen func(s string, depth int)
	gen = func(s string, depth int) {
		doc := []byte(`{"k":"` + s + `"}`)
		err := ForEachMember(doc, DefaultLimits, func([]byte, Value) error { return nil })
		var v map[string]any
		jerr := json.Unmarshal(doc, &v)
		// encoding/json accepts lone surrogates that the scanner refuses;
		// everything else must agree.
		if !errors.Is(err, ErrUTF8) && (err == nil) != (jerr == nil) {
			t.Fatalf("%q: scanner %v, encoding/json %v", doc, err, jerr)
		}
		if depth == 0 {
			return
		}
		for _, p := range pieces {
			gen(s+p, depth-1)
		}
	}
	gen("", 3)
	gen("abcdefghijklmnop", 2)
}
