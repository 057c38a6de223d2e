package jose

import (
	"encoding/base64"
	"errors"
	"strings"
	"unsafe"
)

// Errors of the shape check.
var (
	ErrEmpty    = errors.New("jose: empty token")
	ErrTooLarge = errors.New("jose: token too large")
	ErrCharset  = errors.New("jose: character outside the compact JWS alphabet")
	ErrSegments = errors.New("jose: compact JWS must have exactly three segments")
	ErrBase64   = errors.New("jose: segment is not strict unpadded base64url")
)

// strictB64 rejects padding, the standard alphabet and non-zero trailing
// bits; the charset check in Split already excluded CR and LF, which the
// decoder would otherwise skip.
var strictB64 = base64.RawURLEncoding.Strict()

// Parts are the three segments of a compact JWS, still encoded. They are
// substrings of the token.
type Parts struct {
	Header       string
	Payload      string
	Signature    string
	SigningInput string // Header + "." + Payload
}

// Split checks the shape of a compact JWS without allocating: length at most
// max bytes, only [A-Za-z0-9_-] and exactly two '.', a non-empty header,
// payload and signature. It reports the first problem in token order (a
// character outside the alphabet or a third '.'), and its cost is bounded
// by max whatever the input.
func Split(token string, max int) (Parts, error) {
	var p Parts
	if token == "" {
		return p, ErrEmpty
	}
	if len(token) > max {
		return p, ErrTooLarge
	}
	return split(token, firstNotCompact(token))
}

// SplitCompact is Split for a token that [CompactAlphabet] already
// accepted (the bearer-header parser checks it): it skips the alphabet
// scan and gives the same result as Split.
func SplitCompact(token string, max int) (Parts, error) {
	if token == "" {
		return Parts{}, ErrEmpty
	}
	if len(token) > max {
		return Parts{}, ErrTooLarge
	}
	return split(token, -1)
}

// split finishes Split given bad, the index of the first byte that is
// neither in the alphabet nor a '.' (-1 for none): only the dots before it
// count.
func split(token string, bad int) (Parts, error) {
	var p Parts
	valid := token
	if bad >= 0 {
		valid = token[:bad]
	}
	dot1 := strings.IndexByte(valid, '.')
	dot2 := -1
	if dot1 >= 0 {
		if i := strings.IndexByte(valid[dot1+1:], '.'); i >= 0 {
			dot2 = dot1 + 1 + i
			if strings.IndexByte(valid[dot2+1:], '.') >= 0 {
				return p, ErrSegments
			}
		}
	}
	if bad >= 0 {
		return p, ErrCharset
	}
	if dot2 < 0 || dot1 == 0 || dot2 == dot1+1 || dot2 == len(token)-1 {
		return p, ErrSegments
	}
	p.Header = token[:dot1]
	p.Payload = token[dot1+1 : dot2]
	p.Signature = token[dot2+1:]
	p.SigningInput = token[:dot2]
	return p, nil
}

// CompactAlphabet reports whether every byte of s is in the base64url
// alphabet or a '.', at the speed of Split's own check.
func CompactAlphabet(s string) bool { return firstNotCompact(s) < 0 }

// firstNotCompact returns the index of the first byte of s outside the
// base64url alphabet and '.', or -1. It tests eight bytes per step with
// table lookups combined by AND, and looks at single bytes only in the
// step that holds the culprit.
func firstNotCompact(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		c := s[i : i+8]
		if compactByte[c[0]]&compactByte[c[1]]&compactByte[c[2]]&compactByte[c[3]]&
			compactByte[c[4]]&compactByte[c[5]]&compactByte[c[6]]&compactByte[c[7]] == 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if compactByte[s[i]] == 0 {
			return i
		}
	}
	return -1
}

// compactByte is 1 for the bytes of a compact JWS: the base64url alphabet
// [A-Za-z0-9_-] and '.'.
var compactByte = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	t['-'], t['_'], t['.'] = 1, 1, 1
	return t
}()

// DecodedLen is the decoded size of a segment of n characters.
func DecodedLen(n int) int { return strictB64.DecodedLen(n) }

// Decode appends the strict base64url decoding of seg to dst[:0] and
// returns it. dst is reused when it has room.
func Decode(dst []byte, seg string) ([]byte, error) {
	n := strictB64.DecodedLen(len(seg))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	// The decoder only reads src, so viewing the string's bytes without a
	// copy is safe and saves an allocation per segment on the hot path.
	src := unsafe.Slice(unsafe.StringData(seg), len(seg))
	m, err := strictB64.Decode(dst, src)
	if err != nil {
		return nil, ErrBase64
	}
	return dst[:m], nil
}

// DecodeString decodes seg into a new buffer and returns it both as a
// string and as bytes sharing that one allocation. The caller must not
// modify the bytes.
func DecodeString(seg string) (string, []byte, error) {
	b, err := Decode(nil, seg)
	if err != nil || len(b) == 0 {
		return "", b, err
	}
	return unsafe.String(&b[0], len(b)), b, nil
}
