package jose

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// object builds a JSON object of the given members, each with value 0.
func object(names ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:0", n)
	}
	b.WriteByte('}')
	return b.String()
}

func distinct(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%d", i)
	}
	return out
}

// TestManyMemberNames: repeated and case-colliding names are found
// wherever they are, also past the first 24 names of an object.
func TestManyMemberNames(t *testing.T) {
	with := func(at int, name string, base []string) []string {
		out := append([]string(nil), base...)
		return append(out[:at], append([]string{name}, out[at:]...)...)
	}
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{name: "100_distinct", doc: object(distinct(100)...)},
		{name: "duplicate_at_90", doc: object(with(90, "m3", distinct(100))...), want: ErrDuplicate},
		{name: "duplicate_at_25", doc: object(with(25, "m24", distinct(30))...), want: ErrDuplicate},
		{name: "duplicate_via_escape_at_60", doc: strings.Replace(object(with(60, "sub", with(0, "sub", distinct(80)))...), `"sub"`, `"s\u0075b"`, 1), want: ErrDuplicate},
		{name: "case_collision_at_60", doc: object(with(60, "SUB", with(0, "sub", distinct(80)))...), want: ErrCaseDup},
		{name: "long_s_collision_at_60", doc: object(with(60, "\u017fub", with(0, "sub", distinct(80)))...), want: ErrCaseDup},
		{name: "kelvin_collision_at_60", doc: object(with(60, "\u212aid", with(0, "kid", distinct(80)))...), want: ErrCaseDup},
		{name: "case_collision_in_nested_object", doc: `{"x":` + object(with(60, "SUB", with(0, "sub", distinct(80)))...) + `}`, want: ErrCaseDup},
		{name: "case_collision_in_array_object", doc: `{"x":[1,{"role":"user","ROLE":"admin"}]}`, want: ErrCaseDup},
		{name: "same_name_in_sibling_objects", doc: `{"x":{"role":1},"y":{"ROLE":2},"z":[{"a":1},{"A":2}]}`},
		{name: "duplicate_in_nested_object", doc: `{"x":` + object(with(60, "m7", distinct(80))...) + `}`, want: ErrDuplicate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ForEachMember([]byte(tc.doc), DefaultLimits, func([]byte, Value) error { return nil })
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestMemberNamesLinearTime: checking the names of an object costs time
// linear in their bytes. A megabyte of 4,000 names sharing a 240-byte
// prefix (what a discovery document under the body cap can hold) scans
// within a small factor of a megabyte held in one string; comparing every
// pair of names took seconds.
func TestMemberNamesLinearTime(t *testing.T) {
	lim := Limits{MaxDepth: 16, MaxMembers: 4096, MaxNumber: 64}
	names := make([]string, 4000)
	for i := range names {
		names[i] = fmt.Sprintf("%s%04d", strings.Repeat("p", 240), i)
	}
	many := []byte(object(names...))
	one := []byte(`{"pad":"` + strings.Repeat("p", len(many)-10) + `"}`)
	fastest := func(doc []byte) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			err := ForEachMember(doc, lim, func([]byte, Value) error { return nil })
			require.NoError(t, err)
			best = min(best, time.Since(start))
		}
		return best
	}
	tMany, tOne := fastest(many), fastest(one)
	t.Logf("%d bytes: %d names %v, one string %v", len(many), len(names), tMany, tOne)
	require.Less(t, tMany, 50*tOne+50*time.Millisecond)
}

// TestFoldHashIsEqualFold: two names hash alike under folding exactly when
// bytes.EqualFold holds, over strings of letters whose folding orbits have
// one, two and three members (ǅ ǆ Ǆ, K k K, s S ſ, σ ς Σ).
func TestFoldHashIsEqualFold(t *testing.T) {
	alphabet := []rune("aAkKKsSſxǅǆǄσςΣé1_")
	var words [][]byte
	for _, a := range alphabet {
		for _, b := range alphabet {
			words = append(words, []byte(string([]rune{a, b})))
		}
	}
	for _, a := range words {
		for _, b := range words {
			require.Equal(t, bytes.EqualFold(a, b), foldHash(a) == foldHash(b), "%q %q", a, b)
		}
	}
}

// TestNameSetScan: the fallback used when a hash matches another name
// finds exact and folded repeats among all recorded names.
func TestNameSetScan(t *testing.T) {
	var ns nameSet
	for _, n := range distinct(30) {
		require.NoError(t, ns.add([]byte(n)))
	}
	require.True(t, ns.scan([]byte("m3"), false))
	require.True(t, ns.scan([]byte("m29"), false))
	require.False(t, ns.scan([]byte("M29"), false))
	require.True(t, ns.scan([]byte("M29"), true))
	require.False(t, ns.scan([]byte("m30"), true))
	require.ErrorIs(t, ns.add([]byte("m27")), ErrDuplicate)
	require.ErrorIs(t, ns.add([]byte("M27")), ErrCaseDup)
	require.NoError(t, ns.add([]byte("m30")))
}
