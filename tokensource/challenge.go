package tokensource

import (
	"fmt"
	"strings"
)

// Limits of ParseChallenges.
const (
	// MaxChallengeHeader bounds one WWW-Authenticate field value.
	MaxChallengeHeader = 16 << 10
	// MaxChallenges bounds the challenges of one response.
	MaxChallenges = 32
	// MaxChallengeParams bounds the auth-params of one challenge.
	MaxChallengeParams = 32
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1), for example Bearer with resource_metadata, scope and error
// (RFC 6750 §3, RFC 9728 §5.1).
type Challenge struct {
	// Scheme is the auth-scheme as sent; compare it case-insensitively
	// (or use [Challenge.Is]).
	Scheme string
	// Token68 is the token68 form of credentials-like data, when the
	// challenge uses it instead of auth-params.
	Token68 string
	// Params maps lower-cased auth-param names to their values, with
	// quoted-strings unquoted and quoted-pairs unescaped.
	Params map[string]string
}

// Is reports whether the challenge's scheme is scheme, ignoring case.
func (c Challenge) Is(scheme string) bool { return strings.EqualFold(c.Scheme, scheme) }

// Param returns the value of the auth-param name (case-insensitive).
func (c Challenge) Param(name string) string { return c.Params[strings.ToLower(name)] }

// ParseChallenges parses WWW-Authenticate field values (pass
// resp.Header.Values("WWW-Authenticate")): several challenges per value
// and several values, auth-params as tokens or quoted-strings with
// escapes, optional whitespace around '=', empty list elements, and
// case-insensitive scheme and parameter names. It returns [ErrChallenge]
// for anything else, including a parameter that appears twice in one
// challenge (RFC 6750 §3 forbids it; which one a client would use is
// ambiguous).
func ParseChallenges(values []string) ([]Challenge, error) {
	var out []Challenge
	for _, v := range values {
		if len(v) > MaxChallengeHeader {
			return nil, fmt.Errorf("%w: field value longer than %d bytes", ErrChallenge, MaxChallengeHeader)
		}
		p := challengeParser{s: v}
		cs, err := p.parse()
		if err != nil {
			return nil, fmt.Errorf("%w: %s at byte %d", ErrChallenge, err, p.pos)
		}
		out = append(out, cs...)
		if len(out) > MaxChallenges {
			return nil, fmt.Errorf("%w: more than %d challenges", ErrChallenge, MaxChallenges)
		}
	}
	return out, nil
}

type challengeParser struct {
	s   string
	pos int
}

type parseError string

func (e parseError) Error() string { return string(e) }

func (p *challengeParser) parse() ([]Challenge, error) {
	var out []Challenge
	for {
		p.skipListSeparators()
		if p.eof() {
			return out, nil
		}
		scheme := p.token()
		if scheme == "" {
			return nil, parseError("expected an auth-scheme")
		}
		ch := Challenge{Scheme: scheme, Params: map[string]string{}}
		spaces := p.skipOWS()
		if p.eof() || p.s[p.pos] == ',' {
			out = append(out, ch)
			continue
		}
		if spaces == 0 {
			return nil, parseError("expected a space after the auth-scheme")
		}
		// token68, when it is followed by the end of the element.
		save := p.pos
		if t := p.token68(); t != "" {
			p.skipOWS()
			if p.eof() || p.s[p.pos] == ',' {
				ch.Token68 = t
				out = append(out, ch)
				continue
			}
		}
		p.pos = save
		more, err := p.params(&ch)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
		if !more {
			return out, nil
		}
	}
}

// params parses #auth-param into ch. It returns true when another challenge
// follows (the position is then at its scheme).
func (p *challengeParser) params(ch *Challenge) (bool, error) {
	for {
		name := p.token()
		if name == "" {
			return false, parseError("expected an auth-param name")
		}
		p.skipOWS()
		if p.eof() || p.s[p.pos] != '=' {
			return false, parseError("expected '=' after an auth-param name")
		}
		p.pos++
		p.skipOWS()
		var value string
		if !p.eof() && p.s[p.pos] == '"' {
			v, err := p.quoted()
			if err != nil {
				return false, err
			}
			value = v
		} else if value = p.token(); value == "" {
			return false, parseError("expected a token or quoted-string value")
		}
		lname := strings.ToLower(name)
		if _, dup := ch.Params[lname]; dup {
			return false, parseError("auth-param " + lname + " appears twice")
		}
		if len(ch.Params) >= MaxChallengeParams {
			return false, parseError("too many auth-params")
		}
		ch.Params[lname] = value
		p.skipOWS()
		if p.eof() {
			return false, nil
		}
		if p.s[p.pos] != ',' {
			return false, parseError("expected ',' between auth-params")
		}
		p.skipListSeparators()
		if p.eof() {
			return false, nil
		}
		// A token followed by '=' is another auth-param; anything else
		// starts the next challenge.
		save := p.pos
		t := p.token()
		p.skipOWS()
		isParam := t != "" && !p.eof() && p.s[p.pos] == '='
		p.pos = save
		if !isParam {
			return true, nil
		}
	}
}

func (p *challengeParser) eof() bool { return p.pos >= len(p.s) }

func (p *challengeParser) skipOWS() int {
	n := 0
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
		n++
	}
	return n
}

func (p *challengeParser) skipListSeparators() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == ',') {
		p.pos++
	}
}

func (p *challengeParser) token() string {
	start := p.pos
	for !p.eof() && isTchar(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
func (p *challengeParser) token68() string {
	start := p.pos
	for !p.eof() {
		c := p.s[p.pos]
		if isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			p.pos++
			continue
		}
		break
	}
	if p.pos == start {
		return ""
	}
	for !p.eof() && p.s[p.pos] == '=' {
		p.pos++
	}
	return p.s[start:p.pos]
}

// quoted parses a quoted-string (RFC 9110 §5.6.4) starting at '"'.
func (p *challengeParser) quoted() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\':
			if p.eof() {
				return "", parseError("unterminated quoted-pair")
			}
			e := p.s[p.pos]
			if !(e == '\t' || e == ' ' || (e >= 0x21 && e != 0x7f)) {
				return "", parseError("invalid quoted-pair")
			}
			b.WriteByte(e)
			p.pos++
		case c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f):
			b.WriteByte(c)
		default:
			return "", parseError("control character in quoted-string")
		}
	}
	return "", parseError("unterminated quoted-string")
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isTchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
