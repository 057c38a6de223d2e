package middleware

import (
	"errors"
	"net/http"
	"strings"
)

// Errors returned by [Verifier.Verify] and [Verifier.Authenticate]. Every
// token failure wraps [ErrInvalidToken] and exactly one of the finer
// sentinels below it, so both errors.Is(err, ErrInvalidToken) and
// errors.Is(err, ErrAudience) work. The error text is for logs; responses
// use fixed texts (see [Verifier.ErrorResponse]).
var (
	// ErrNoToken: the request carries no bearer token (no Authorization
	// header, or another scheme such as Basic). Answered 401 with a
	// challenge that has no error code (RFC 6750 §3.1).
	ErrNoToken = errors.New("audguard: no bearer token")
	// ErrInvalidRequest: the request is malformed: several Authorization
	// headers, an empty token, a comma-separated list. Answered 400
	// invalid_request.
	ErrInvalidRequest = errors.New("audguard: malformed authorization request")
	// ErrInvalidToken is the umbrella for every token failure. Answered
	// 401 invalid_token.
	ErrInvalidToken = errors.New("audguard: invalid token")
	// ErrInsufficientScope: the token is valid but lacks a required scope.
	// Answered 403 insufficient_scope with every scope the route requires.
	ErrInsufficientScope = errors.New("audguard: insufficient scope")

	// ErrMalformed: not a compact JWS (charset, segments, base64url, JSON,
	// duplicate members, size limits) or a claim of the wrong JSON type.
	ErrMalformed = tokenError("malformed token")
	// ErrHeader: the JOSE header is refused: "alg" not allowed, "typ" not
	// accepted, or a parameter audguard never honours (crit, b64, zip,
	// enc, jwk, jku, x5u, x5c, cty JWT).
	ErrHeader = tokenError("unacceptable JOSE header")
	// ErrSignature: no key for the token's kid and alg, or the signature
	// does not verify. Both share one response text, so a client cannot
	// probe which key IDs exist.
	ErrSignature = tokenError("signature not verified")
	// ErrIssuer: "iss" is missing or not a configured issuer.
	ErrIssuer = tokenError("untrusted issuer")
	// ErrAudience: "aud" is missing, malformed, or does not contain this
	// resource.
	ErrAudience = tokenError("audience does not include this resource")
	// ErrExpired: "exp" is missing or in the past beyond the leeway.
	ErrExpired = tokenError("token expired")
	// ErrNotYetValid: "nbf" or "iat" is in the future beyond the leeway.
	ErrNotYetValid = tokenError("token not yet valid")
	// ErrClaims: another claim rule failed: a claim required by the strict
	// profile is missing, the token is bound to a key (cnf) it cannot
	// prove over Bearer, or its lifetime exceeds the configured maximum.
	ErrClaims = tokenError("claims refused")
	// ErrKeysUnavailable: the issuer's keys cannot be obtained (JWKS never
	// fetched, unreachable past the staleness limit). Answered 401
	// invalid_token, or 503 with Config.UnavailableStatus503.
	ErrKeysUnavailable = tokenError("signing keys unavailable")
)

// categoryError is a finer token sentinel that also matches ErrInvalidToken.
type categoryError struct{ msg string }

func tokenError(msg string) error { return &categoryError{msg: msg} }

func (e *categoryError) Error() string        { return "audguard: invalid token: " + e.msg }
func (e *categoryError) Is(target error) bool { return target == ErrInvalidToken }

// detailError adds a log-safe detail to a sentinel. The detail never holds
// token bytes or claim values.
type detailError struct {
	sentinel error
	detail   string
	cause    error
}

func (e *detailError) Error() string {
	s := e.sentinel.Error()
	if e.detail != "" {
		s += ": " + e.detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *detailError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.sentinel, e.cause}
	}
	return []error{e.sentinel}
}

func fail(sentinel error, detail string) error {
	return &detailError{sentinel: sentinel, detail: detail}
}

func failWith(sentinel error, detail string, cause error) error {
	return &detailError{sentinel: sentinel, detail: detail, cause: cause}
}

// ScopeError is the error for a valid token that lacks scopes. It matches
// [ErrInsufficientScope].
type ScopeError struct {
	// Required lists every scope the operation requires, in order.
	Required []string
	// Missing lists the required scopes the token does not cover.
	Missing []string
}

// Error lists the missing scopes, for logs.
func (e *ScopeError) Error() string {
	return "audguard: insufficient scope: missing " + strings.Join(e.Missing, " ")
}

// Is reports whether target is ErrInsufficientScope.
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }

// Reason returns a short, stable category name for err, for logs and
// metrics: "no_token", "invalid_request", "malformed", "header",
// "signature", "issuer", "audience", "expired", "not_yet_valid", "claims",
// "keys_unavailable", "insufficient_scope", or "invalid_token" for any
// other token error and "error" for anything else.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoToken):
		return "no_token"
	case errors.Is(err, ErrInvalidRequest):
		return "invalid_request"
	case errors.Is(err, ErrInsufficientScope):
		return "insufficient_scope"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrHeader):
		return "header"
	case errors.Is(err, ErrSignature):
		return "signature"
	case errors.Is(err, ErrIssuer):
		return "issuer"
	case errors.Is(err, ErrAudience):
		return "audience"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrNotYetValid):
		return "not_yet_valid"
	case errors.Is(err, ErrClaims):
		return "claims"
	case errors.Is(err, ErrKeysUnavailable):
		return "keys_unavailable"
	case errors.Is(err, ErrInvalidToken):
		return "invalid_token"
	}
	return "error"
}

// Fixed error_description texts, one per category. They are plain ASCII
// without '"' or '\' (RFC 6750 §3) and never contain request data.
var descriptions = map[string]string{
	"no_token":         "A bearer access token is required",
	"invalid_request":  "The request has a malformed Authorization header",
	"malformed":        "The access token is malformed",
	"header":           "The access token type or algorithm is not accepted",
	"signature":        "The access token signature could not be verified",
	"issuer":           "The access token issuer is not trusted",
	"audience":         "The access token was not issued for this resource",
	"expired":          "The access token expired",
	"not_yet_valid":    "The access token is not yet valid",
	"claims":           "The access token claims are not accepted",
	"keys_unavailable": "The signing keys of the access token issuer are unavailable",
	"invalid_token":    "The access token is invalid",
	"scope":            "The access token lacks a scope this operation requires",
}

// ErrorResponse is the transport-neutral answer to a rejected request:
// every adapter derives its response from it, so HTTP, gin, gRPC and MCP
// answer identically.
type ErrorResponse struct {
	// Status is the HTTP status: 400, 401, 403 or 503.
	Status int
	// Code is the RFC 6750 error code ("invalid_request", "invalid_token",
	// "insufficient_scope"), or "" when no credentials were presented.
	Code string
	// Description is the fixed text of the category. It is sent as
	// error_description only with a Code: a request without credentials
	// gets no error parameters in its challenge (RFC 6750 §3.1), and its
	// Description ("A bearer access token is required") serves transports
	// that need a message, such as gRPC.
	Description string
	// Scope lists, space-separated, the scopes the operation requires.
	Scope string
	// Challenge is the complete WWW-Authenticate header value.
	Challenge string
}

// ErrorResponse maps err to the response for an operation requiring scopes
// (in addition to Config.Scopes). It never includes err.Error(), token
// bytes or claim values, and its scope parameter never names
// offline_access or a string that is not a valid scope-token. Errors that are not audguard errors map to 401
// invalid_token (fail closed).
func (v *Verifier) ErrorResponse(err error, scopes ...string) ErrorResponse {
	required := v.requiredScopes(scopes)
	var r ErrorResponse
	reason := Reason(err)
	switch reason {
	case "no_token":
		r.Status = http.StatusUnauthorized
		r.Description = descriptions[reason]
	case "invalid_request":
		r.Status, r.Code = http.StatusBadRequest, "invalid_request"
		r.Description = descriptions[reason]
	case "insufficient_scope":
		r.Status, r.Code = http.StatusForbidden, "insufficient_scope"
		r.Description = descriptions["scope"]
		var se *ScopeError
		if errors.As(err, &se) && len(se.Required) > 0 {
			required = se.Required
		}
	case "keys_unavailable":
		r.Status, r.Code = http.StatusUnauthorized, "invalid_token"
		if v.cfg.status503 {
			r.Status = http.StatusServiceUnavailable
		}
		r.Description = descriptions[reason]
	default:
		r.Status, r.Code = http.StatusUnauthorized, "invalid_token"
		d, ok := descriptions[reason]
		if !ok {
			d = descriptions["invalid_token"]
		}
		r.Description = d
	}
	r.Scope = strings.Join(advertisable(required), " ")
	r.Challenge = v.challenge(r.Code, r.Description, r.Scope)
	return r
}

// advertisable drops from scopes what a challenge must never carry:
// offline_access (MCP 2026-07-28 §10) and anything that is not an RFC 6749
// scope-token. Configured scopes were validated by New, route scopes by
// RequireScopes or ValidateScopes, and Authenticate and CheckScopes never
// let such a requirement be met; this keeps a direct caller of
// ErrorResponse from advertising one. It allocates only when it drops
// something.
func advertisable(scopes []string) []string {
	for i, s := range scopes {
		if checkScopeToken(s) == nil {
			continue
		}
		out := append([]string(nil), scopes[:i]...)
		for _, s := range scopes[i+1:] {
			if checkScopeToken(s) == nil {
				out = append(out, s)
			}
		}
		return out
	}
	return scopes
}

// challenge renders a Bearer challenge. Every value is either a fixed
// text, the validated resource metadata URL or validated scope tokens, so
// none needs escaping; quoting is still applied defensively.
func (v *Verifier) challenge(code, desc, scope string) string {
	var b strings.Builder
	b.Grow(96 + len(v.cfg.metadataURL) + len(scope) + len(desc))
	b.WriteString("Bearer ")
	sep := false
	param := func(name, value string) {
		if sep {
			b.WriteString(", ")
		}
		sep = true
		b.WriteString(name)
		b.WriteString(`="`)
		for i := 0; i < len(value); i++ {
			if c := value[i]; c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	if code != "" {
		param("error", code)
		if desc != "" {
			param("error_description", desc)
		}
	}
	param("resource_metadata", v.cfg.metadataURL)
	if scope != "" {
		param("scope", scope)
	}
	return b.String()
}

// WriteError writes the response for err: the status, the
// WWW-Authenticate challenge, Cache-Control: no-store and a small JSON
// body with the error code and fixed description.
func (v *Verifier) WriteError(w http.ResponseWriter, err error, scopes ...string) {
	v.ErrorResponse(err, scopes...).Write(w)
}

// Write writes r to w.
func (r ErrorResponse) Write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("WWW-Authenticate", r.Challenge)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.body())
}

func (r ErrorResponse) body() []byte {
	if r.Code == "" {
		return []byte(`{"error_description":"` + r.Description + `"}` + "\n")
	}
	// Code and Description are fixed ASCII texts without quotes or
	// backslashes, so they are valid JSON string contents as they are.
	return []byte(`{"error":"` + r.Code + `","error_description":"` + r.Description + `"}` + "\n")
}
