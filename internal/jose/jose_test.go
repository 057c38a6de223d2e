package jose

import (
	"errors"
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
		{in: `{"x":{"a":1,"A":2}}`},
		{in: `{"k":1,"\u212a":2}`, want: ErrCaseDup},
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
