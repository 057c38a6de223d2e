package tokensource

import (
	"errors"
	"fmt"

	"github.com/audguard/audguard/internal/canonuri"
	"github.com/audguard/audguard/internal/jose"
)

// maxAudiences bounds the entries of an "aud" array, as the verifier does.
const maxAudiences = 32

// maxCheckedToken bounds the size of a token whose claims are read; the
// token response itself is limited to 1 MiB by x/oauth2.
const maxCheckedToken = 1 << 20

// claimLimits bound the JSON work for a claims set.
var claimLimits = jose.Limits{MaxDepth: 32, MaxMembers: 256, MaxNumber: 40}

// checkAudience applies the verifier's audience rule to an issued token.
// A token that is not a JWT (not three base64url segments whose header and
// payload are JSON objects) is opaque to the client and passes. A JWT must
// have an "aud" (a string or a non-empty array of at most 32 strings) of
// which at least one entry m matches. Signatures are not checked: the
// client is not the token's audience and has no business trusting claims
// beyond refusing a token that is visibly for someone else.
func checkAudience(token string, m *canonuri.Matcher) error {
	parts, err := jose.Split(token, maxCheckedToken)
	if err != nil {
		return nil // not a compact JWS: opaque
	}
	header, err := jose.Decode(nil, parts.Header)
	if err != nil || !isJSONObject(header) {
		return nil
	}
	payload, err := jose.Decode(nil, parts.Payload)
	if err != nil || !isJSONObject(payload) {
		return nil // e.g. a JWS with a non-JSON payload: not a JWT
	}
	doc := string(payload)
	var (
		aud    jose.Value
		hasAud bool
	)
	err = jose.ForEachMember(payload, claimLimits, func(name []byte, v jose.Value) error {
		if string(name) == "aud" {
			aud, hasAud = v, v.Kind != jose.Null
		}
		return nil
	})
	if err != nil {
		// Duplicate or case-colliding members, invalid UTF-8, ...: which
		// "aud" a resource server would read is ambiguous.
		return fmt.Errorf("%w: the token's claims are not valid JSON for a JWT", ErrAudienceMismatch)
	}
	if !hasAud {
		return fmt.Errorf("%w: the token has no \"aud\"", ErrAudienceMismatch)
	}
	switch aud.Kind {
	case jose.String:
		s, _ := aud.Text(doc)
		if len(s) <= canonuri.MaxLen && m.Match(s) {
			return nil
		}
	case jose.Array:
		n, matched := 0, false
		err := aud.ForEachElement(func(e jose.Value) error {
			n++
			if n > maxAudiences {
				return errors.New(`"aud" has too many entries`)
			}
			s, err := e.Text(doc)
			if err != nil {
				return errors.New(`"aud" has a non-string entry`)
			}
			if !matched && len(s) <= canonuri.MaxLen && m.Match(s) {
				matched = true
			}
			return nil
		})
		switch {
		case err != nil:
			return fmt.Errorf("%w: %v", ErrAudienceMismatch, err)
		case matched:
			return nil
		}
	default:
		return fmt.Errorf("%w: \"aud\" is neither a string nor an array of strings", ErrAudienceMismatch)
	}
	return fmt.Errorf("%w: \"aud\" does not name the requested resource", ErrAudienceMismatch)
}

// isJSONObject reports whether b starts, after JSON whitespace, with '{'.
func isJSONObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}
