package tokensource

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package that has one of
// these causes matches it with errors.Is.
var (
	// ErrInvalidTarget: the authorization server refused the requested
	// resource (RFC 8707 §2 "invalid_target"). The resource is unknown to
	// it or the client may not obtain tokens for it. Not retried.
	ErrInvalidTarget = errors.New("tokensource: invalid_target")
	// ErrInvalidScope: the authorization server refused the requested
	// scopes (RFC 6749 §5.2 "invalid_scope"). Not retried.
	ErrInvalidScope = errors.New("tokensource: invalid_scope")
	// ErrInvalidGrant: the refresh token or subject token was refused
	// (RFC 6749 §5.2 "invalid_grant").
	ErrInvalidGrant = errors.New("tokensource: invalid_grant")
	// ErrInvalidClient: client authentication failed (RFC 6749 §5.2
	// "invalid_client").
	ErrInvalidClient = errors.New("tokensource: invalid_client")
	// ErrAudienceMismatch: the token endpoint returned a JWT whose "aud"
	// does not name the requested resource (or that has no usable "aud").
	// The token is discarded, never used.
	ErrAudienceMismatch = errors.New("tokensource: issued token's audience does not name the requested resource")
	// ErrTokenType: the token endpoint returned a token type other than
	// Bearer (for example DPoP or N_A), which this package cannot send.
	ErrTokenType = errors.New("tokensource: issued token is not a bearer token")
	// ErrNoResource: a request passed to [Transport] targets a URL that
	// matches no configured resource, or that cannot be matched safely. No
	// token is attached and the request is not sent.
	ErrNoResource = errors.New("tokensource: request URL matches no configured resource")
	// ErrChallenge: a WWW-Authenticate header could not be parsed.
	ErrChallenge = errors.New("tokensource: malformed WWW-Authenticate challenge")
	// ErrMetadata: a protected resource metadata document (RFC 9728) or
	// an authorization server metadata document (RFC 8414) could not be
	// fetched or is invalid.
	ErrMetadata = errors.New("tokensource: metadata unusable")
	// ErrIssuerMismatch: an authorization server metadata document names
	// another "issuer" than the one discovery was for (RFC 8414 §3.3).
	// Nothing in it may be used: a client that did would send its
	// credentials or a user's authorization code to whatever server the
	// document names (mix-up attack).
	ErrIssuerMismatch = errors.New("tokensource: authorization server metadata names another issuer")
	// ErrResourceMismatch: the metadata document's "resource" is not
	// identical to the URL it was discovered for (RFC 9728 §3.3). Its
	// contents must not be used.
	ErrResourceMismatch = errors.New("tokensource: metadata resource does not match the URL used")
)

// Error is an OAuth error response from the token endpoint (RFC 6749 §5.2).
// It matches [ErrInvalidTarget], [ErrInvalidScope], [ErrInvalidGrant] or
// [ErrInvalidClient] by its Code. Its text never contains tokens, secrets
// or the raw response body.
type Error struct {
	// Code is the "error" member, e.g. "invalid_target".
	Code string
	// Description is the "error_description" member, reduced to the
	// characters RFC 6749 allows and at most 256 bytes.
	Description string
	// StatusCode is the HTTP status of the response.
	StatusCode int
}

// Error returns "tokensource: token endpoint refused the request: <code>:
// <description>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("tokensource: token endpoint refused the request")
	if e.StatusCode != 0 {
		b.WriteString(" (HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteString(")")
	}
	b.WriteString(": ")
	if e.Code == "" {
		b.WriteString("no error code")
	} else {
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Is matches the sentinel that corresponds to Code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case "invalid_target":
		return target == ErrInvalidTarget
	case "invalid_scope":
		return target == ErrInvalidScope
	case "invalid_grant":
		return target == ErrInvalidGrant
	case "invalid_client":
		return target == ErrInvalidClient
	}
	return false
}

// maxDescription bounds the error_description kept from a response.
const maxDescription = 256

// sanitize keeps the characters RFC 6749 §5.2 allows in "error" and
// "error_description" (%x20-21 / %x23-5B / %x5D-7E) and at most max bytes,
// so that a hostile endpoint cannot inject control characters into logs.
func sanitize(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
