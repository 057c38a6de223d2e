package jose

import (
	"encoding/base64"
	"errors"
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
// payload and signature. It stops at the first character outside the
// alphabet or the third '.', so its cost is bounded by max whatever the input.
func Split(token string, max int) (Parts, error) {
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
	p.Header = token[:dot1]
	p.Payload = token[dot1+1 : dot2]
	p.Signature = token[dot2+1:]
	p.SigningInput = token[:dot2]
	return p, nil
}

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
