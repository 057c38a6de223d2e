package jose

import (
	"bytes"
	"errors"
	"hash/maphash"
	"math"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the JSON type of a Value.
type Kind uint8

// JSON kinds.
const (
	Invalid Kind = iota
	String
	Number
	Object
	Array
	True
	False
	Null
)

// Limits bound the work the scanner does for one document.
type Limits struct {
	MaxDepth   int // nesting of objects and arrays, the top-level object counts as 1
	MaxMembers int // members per object and elements per array
	MaxNumber  int // characters in one number literal
}

// DefaultLimits are used for JOSE headers and JWT claims sets.
var DefaultLimits = Limits{MaxDepth: 32, MaxMembers: 256, MaxNumber: 40}

// Errors of the JSON layer. They are deliberately coarse: the caller maps all
// of them to "malformed token".
var (
	ErrSyntax    = errors.New("jose: invalid JSON")
	ErrNotObject = errors.New("jose: JSON text is not an object")
	ErrDuplicate = errors.New("jose: duplicate member name")
	ErrCaseDup   = errors.New("jose: member names differ only in case")
	ErrDepth     = errors.New("jose: JSON nested too deeply")
	ErrTooMany   = errors.New("jose: too many members")
	ErrNumber    = errors.New("jose: number out of range")
	ErrUTF8      = errors.New("jose: invalid UTF-8")
	ErrType      = errors.New("jose: unexpected JSON type")
)

// Value is one JSON value inside a document that the scanner has validated.
type Value struct {
	Kind Kind
	// Raw is the value's JSON text (for strings, including the quotes).
	Raw []byte
	// Off is Raw's offset in the scanned document.
	Off     int
	escaped bool
}

// ForEachMember validates data as exactly one JSON object, surrounded by
// nothing but JSON whitespace, and calls fn for each top-level member in
// order. The name passed to fn is the decoded member name; it is only valid
// during the call.
//
// Rules beyond RFC 8259 syntax: data must be valid UTF-8; no object (at any
// depth) may repeat a member name or hold two names that collide under
// Unicode case folding (Go's encoding/json matches names
// case-insensitively, so decoding a nested object into a struct could
// otherwise pick either); strings must not hold lone surrogates; numbers are
// limited in length; nesting and member counts are bounded.
func ForEachMember(data []byte, lim Limits, fn func(name []byte, v Value) error) error {
	if !utf8.Valid(data) {
		return ErrUTF8
	}
	s := scanner{data: data, lim: lim}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return ErrNotObject
	}
	if err := s.object(1, fn); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return ErrSyntax
	}
	return nil
}

// ForEachElement calls fn for each element of an array Value.
func (v Value) ForEachElement(fn func(Value) error) error {
	if v.Kind != Array {
		return ErrType
	}
	// The value was validated during the first pass; limits only need to
	// be generous enough to re-walk it.
	s := scanner{data: v.Raw, lim: Limits{MaxDepth: math.MaxInt32, MaxMembers: math.MaxInt32, MaxNumber: math.MaxInt32}}
	s.pos = 1
	s.skipSpace()
	if s.peek() == ']' {
		return nil
	}
	for {
		s.skipSpace()
		ev, err := s.value(2)
		if err != nil {
			return err
		}
		ev.Off += v.Off
		if err := fn(ev); err != nil {
			return err
		}
		s.skipSpace()
		switch s.next() {
		case ',':
		case ']':
			return nil
		default:
			return ErrSyntax
		}
	}
}

// Text returns the string value. doc must be the scanned document as a
// string: when the string has no escapes, the result is a substring of doc
// and costs no allocation.
func (v Value) Text(doc string) (string, error) {
	if v.Kind != String {
		return "", ErrType
	}
	if !v.escaped {
		return doc[v.Off+1 : v.Off+len(v.Raw)-1], nil
	}
	b, err := unquote(v.Raw)
	return string(b), err
}

// Float returns a Number value as float64. It fails for values that do not
// fit (±Inf after rounding).
func (v Value) Float() (float64, error) {
	if v.Kind != Number {
		return 0, ErrType
	}
	// Fast path for what NumericDates almost always are: a short integer.
	// Up to 15 digits convert exactly; anything else (fractions,
	// exponents, "-0", longer literals) goes to ParseFloat.
	if raw := v.Raw; len(raw) > 0 && len(raw) <= 15 {
		var n int64
		neg := raw[0] == '-'
		if neg {
			raw = raw[1:]
		}
		ok := len(raw) > 0 && (raw[0] != '0' || len(raw) == 1) && !(neg && raw[0] == '0')
		for i := 0; ok && i < len(raw); i++ {
			c := raw[i]
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				n = -n
			}
			return float64(n), nil
		}
	}
	f, err := strconv.ParseFloat(string(v.Raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, ErrNumber
	}
	return f, nil
}

type scanner struct {
	data []byte
	pos  int
	lim  Limits
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) next() byte {
	if s.pos < len(s.data) {
		c := s.data[s.pos]
		s.pos++
		return c
	}
	return 0
}

func (s *scanner) skipSpace() {
	// Most calls find no whitespace at all (compact JSON); return at
	// once then.
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return
	}
	pos := s.pos
	for pos < len(s.data) {
		switch s.data[pos] {
		case ' ', '\t', '\n', '\r':
			pos++
			continue
		}
		break
	}
	s.pos = pos
}

// nameSet records member names of one object for duplicate detection. The
// first names live in a fixed array and are compared one by one, so that
// small objects cost nothing; past that, every name is indexed by a keyed
// hash of its bytes and of its fold key, so that the
// work stays linear in the number of names whatever they look like:
// comparing every pair would let a document of many long names sharing a
// prefix cost quadratic time.
type nameSet struct {
	small  [24][]byte
	n      int
	names  [][]byte         // every name, once past small
	exact  map[uint64]int32 // hash of a name -> index of the first name with it
	folded map[uint64]int32 // hash of a fold key -> index of the first name with it
}

// nameSeed keys the name hashes, so that no input can be built to collide.
var nameSeed = maphash.MakeSeed()

func (ns *nameSet) add(name []byte) error {
	if ns.n < len(ns.small) {
		for _, prev := range ns.small[:ns.n] {
			if bytes.Equal(prev, name) {
				return ErrDuplicate
			}
			if bytes.EqualFold(prev, name) {
				return ErrCaseDup
			}
		}
		ns.small[ns.n] = name
		ns.n++
		return nil
	}
	if ns.exact == nil {
		ns.names = append(make([][]byte, 0, 4*len(ns.small)), ns.small[:]...)
		ns.exact = make(map[uint64]int32, 4*len(ns.small))
		ns.folded = make(map[uint64]int32, 4*len(ns.small))
		for i, prev := range ns.small {
			ns.index(int32(i), prev)
		}
	}
	he := maphash.Bytes(nameSeed, name)
	if i, ok := ns.exact[he]; ok && (bytes.Equal(ns.names[i], name) || ns.scan(name, false)) {
		return ErrDuplicate
	}
	if i, ok := ns.folded[foldHash(name)]; ok && (bytes.EqualFold(ns.names[i], name) || ns.scan(name, true)) {
		return ErrCaseDup
	}
	ns.names = append(ns.names, name)
	ns.index(int32(len(ns.names)-1), name)
	ns.n++
	return nil
}

// index records name (at position i) under its hashes, keeping the first
// name of each hash.
func (ns *nameSet) index(i int32, name []byte) {
	if he := maphash.Bytes(nameSeed, name); !hasKey(ns.exact, he) {
		ns.exact[he] = i
	}
	if hf := foldHash(name); !hasKey(ns.folded, hf) {
		ns.folded[hf] = i
	}
}

func hasKey(m map[uint64]int32, k uint64) bool {
	_, ok := m[k]
	return ok
}

// scan compares name with every recorded name; it runs only when a hash
// matched a different name, which a keyed 64-bit hash makes vanishingly
// rare.
func (ns *nameSet) scan(name []byte, fold bool) bool {
	for _, prev := range ns.names {
		if bytes.Equal(prev, name) || (fold && bytes.EqualFold(prev, name)) {
			return true
		}
	}
	return false
}

// foldHash hashes the fold key of a valid UTF-8 name: every rune replaced
// by the smallest rune of its simple case-folding orbit (so "k", "K" and
// the Kelvin sign all hash alike). Two names have the same fold key
// exactly when bytes.EqualFold holds for them.
func foldHash(name []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(nameSeed)
	var buf [utf8.UTFMax]byte
	for len(name) > 0 {
		if c := name[0]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			_ = h.WriteByte(c)
			name = name[1:]
			continue
		}
		r, size := utf8.DecodeRune(name)
		name = name[size:]
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		_, _ = h.Write(buf[:utf8.EncodeRune(buf[:], m)])
	}
	return h.Sum64()
}

// object parses an object starting at '{'. fn, when not nil, receives the
// members of this object (the top level; nested objects get nil).
func (s *scanner) object(depth int, fn func(name []byte, v Value) error) error {
	if depth > s.lim.MaxDepth {
		return ErrDepth
	}
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	var names nameSet
	for count := 0; ; count++ {
		if count >= s.lim.MaxMembers {
			return ErrTooMany
		}
		s.skipSpace()
		if s.peek() != '"' {
			return ErrSyntax
		}
		start := s.pos
		escaped, err := s.string()
		if err != nil {
			return err
		}
		name := s.data[start+1 : s.pos-1]
		if escaped {
			if name, err = unquote(s.data[start:s.pos]); err != nil {
				return err
			}
		}
		if err := names.add(name); err != nil {
			return err
		}
		s.skipSpace()
		if s.next() != ':' {
			return ErrSyntax
		}
		s.skipSpace()
		v, err := s.value(depth + 1)
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(name, v); err != nil {
				return err
			}
		}
		s.skipSpace()
		switch s.next() {
		case ',':
		case '}':
			return nil
		default:
			return ErrSyntax
		}
	}
}

func (s *scanner) array(depth int) error {
	if depth > s.lim.MaxDepth {
		return ErrDepth
	}
	s.pos++ // '['
	s.skipSpace()
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for count := 0; ; count++ {
		if count >= s.lim.MaxMembers {
			return ErrTooMany
		}
		s.skipSpace()
		if _, err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		switch s.next() {
		case ',':
		case ']':
			return nil
		default:
			return ErrSyntax
		}
	}
}

// value parses one value at s.pos. depth is the depth the value would have
// if it is a container.
func (s *scanner) value(depth int) (Value, error) {
	start := s.pos
	var v Value
	switch c := s.peek(); {
	case c == '"':
		escaped, err := s.string()
		if err != nil {
			return v, err
		}
		v.Kind, v.escaped = String, escaped
	case c == '{':
		if err := s.object(depth, nil); err != nil {
			return v, err
		}
		v.Kind = Object
	case c == '[':
		if err := s.array(depth); err != nil {
			return v, err
		}
		v.Kind = Array
	case c == '-' || (c >= '0' && c <= '9'):
		if err := s.number(); err != nil {
			return v, err
		}
		v.Kind = Number
	case c == 't':
		if err := s.literal("true"); err != nil {
			return v, err
		}
		v.Kind = True
	case c == 'f':
		if err := s.literal("false"); err != nil {
			return v, err
		}
		v.Kind = False
	case c == 'n':
		if err := s.literal("null"); err != nil {
			return v, err
		}
		v.Kind = Null
	default:
		return v, ErrSyntax
	}
	v.Raw = s.data[start:s.pos]
	v.Off = start
	return v, nil
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return ErrSyntax
	}
	s.pos += len(lit)
	return nil
}

// number validates an RFC 8259 number and bounds its length.
func (s *scanner) number() error {
	start := s.pos
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case c >= '1' && c <= '9':
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.pos++
		}
	default:
		return ErrSyntax
	}
	if s.peek() == '.' {
		s.pos++
		if c := s.peek(); c < '0' || c > '9' {
			return ErrSyntax
		}
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.pos++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if c := s.peek(); c < '0' || c > '9' {
			return ErrSyntax
		}
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.pos++
		}
	}
	if s.pos-start > s.lim.MaxNumber {
		return ErrNumber
	}
	return nil
}

// string validates a string starting at '"' and reports whether it holds
// escapes. Control characters must be escaped; escapes must be valid; a
// \u escape must not leave a lone surrogate.
func (s *scanner) string() (escaped bool, err error) {
	s.pos++ // opening quote
	for s.pos < len(s.data) {
		// Skip the run of bytes that need no attention (the common case:
		// the whole string) with one table lookup per byte, on locals so
		// that the loop stays in registers.
		data, pos := s.data, s.pos
		for pos < len(data) && plainStringByte[data[pos]] {
			pos++
		}
		s.pos = pos
		if s.pos >= len(s.data) {
			break
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return escaped, nil
		case c < 0x20:
			return false, ErrSyntax
		case c == '\\':
			escaped = true
			s.pos++
			switch s.next() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return false, ErrSyntax
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || s.next() != '\\' || s.next() != 'u' {
						return false, ErrUTF8
					}
					r2, ok := s.hex4()
					if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						return false, ErrUTF8
					}
				}
			default:
				return false, ErrSyntax
			}
		default:
			s.pos++
		}
	}
	return false, ErrSyntax
}

// plainStringByte marks the bytes a JSON string may hold as they are: not a
// control character, not '"', not '\\'. (UTF-8 validity is checked over the
// whole document before scanning.)
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) hex4() (rune, bool) {
	if len(s.data)-s.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	s.pos += 4
	return r, true
}

// unquote decodes a validated JSON string literal (with its quotes).
func unquote(lit []byte) ([]byte, error) {
	body := lit[1 : len(lit)-1]
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		i++
		if i >= len(body) {
			return nil, ErrSyntax
		}
		e := body[i]
		i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			s := scanner{data: body, pos: i}
			r, ok := s.hex4()
			if !ok {
				return nil, ErrSyntax
			}
			i = s.pos
			if utf16.IsSurrogate(r) {
				if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
					return nil, ErrUTF8
				}
				s.pos = i + 2
				r2, ok := s.hex4()
				if !ok {
					return nil, ErrSyntax
				}
				i = s.pos
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return nil, ErrUTF8
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, ErrSyntax
		}
	}
	return out, nil
}
