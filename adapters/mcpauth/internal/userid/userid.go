package userid

import (
	"fmt"
	"net/url"

	"github.com/audguard/audguard/middleware"
)

// ErrAnonymous refuses a token that names neither subject nor client: it
// cannot be told from another such token of its issuer, so no session can
// be bound to it. It wraps [middleware.ErrClaims], which
// [middleware.Verifier.ErrorResponse] maps to 401 invalid_token.
var ErrAnonymous = fmt.Errorf("%w: neither sub nor client_id, so sessions cannot be bound to it", middleware.ErrClaims)

// Anonymous reports whether c names neither subject nor client.
func Anonymous(c *middleware.Claims) bool {
	return c.Subject == "" && c.ClientID == ""
}

// Of returns the issuer-qualified identity of the token's subject: the
// form encoding of the issuer and the subject ("iss=...&sub=..."), or of
// the issuer and the client ID ("client_id=...&iss=...") for a token
// without "sub". Percent-encoding makes it unambiguous whatever characters
// the values hold.
//
// An [Anonymous] token gets "iss=...&sub=", the same for every such token
// of one issuer and never the empty string; callers refuse such tokens
// with [ErrAnonymous] rather than bind a session to it.
func Of(c *middleware.Claims) string {
	if c.Subject == "" && c.ClientID != "" {
		return url.Values{"iss": {c.Issuer}, "client_id": {c.ClientID}}.Encode()
	}
	return url.Values{"iss": {c.Issuer}, "sub": {c.Subject}}.Encode()
}
