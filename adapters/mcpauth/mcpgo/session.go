package mcpgo

import (
	"errors"
	"net/http"

	"github.com/audguard/audguard/adapters/mcpauth/internal/sessionbind"
	"github.com/audguard/audguard/middleware"
)

// headerSessionID is the header carrying the MCP session ID
// (server.HeaderKeySessionID in mcp-go).
const headerSessionID = "Mcp-Session-Id"

// Fixed bodies of the refusals of the session binding. They never echo
// the session ID or anything of the token.
const (
	bodySessionNotFound = "session not found"
	bodySessionMismatch = "session user mismatch"
	bodyTooManySessions = "too many sessions"
	bodyTooManyOfUser   = "too many sessions for this user"
	bodySessionInvalid  = "invalid session ID"
	bodyStreamNoSession = "no event stream without a session"
	bodyDeleteNoSession = "missing session ID"
)

// allowWithoutSession is the Allow header of the 405 answering a GET
// without a session ID: the endpoint takes POST, and DELETE for a session.
const allowWithoutSession = "POST, DELETE"

// serveSession hands r, made by user with the token whose claims are c,
// to next (with c) if it carries no session ID or the ID of a session
// bound to user, and binds to user the session
// whose ID next's response carries. It refuses a session bound to another
// user with 403, and an unknown (never bound, ended, idle or forgotten)
// one with 404, so that the client starts a new session.
//
// A GET without a session ID (a standalone event stream outside any
// session) is refused with 405, which the streamable HTTP transport
// allows a server that offers no such stream. mcp-go would key its
// session under the ID its SessionIdManager generates, and in stateless
// mode that is "" for everyone: every later request without a session
// ID, whoever made it, would run on that stream's session and send its
// notifications down the stream. In the other modes the stream got a
// fresh ID that no client ever learns, so nothing is lost there.
//
// A DELETE without a session ID has no session to end and is refused with
// 400 (as by the go-sdk). mcp-go would clean up the session "", which in
// stateless mode is every user's: with an event store that cut off every
// request stream in flight.
func serveSession(store *sessionbind.Store, w http.ResponseWriter, r *http.Request, user string, c *middleware.Claims, next func(http.ResponseWriter, *http.Request, *middleware.Claims)) {
	var id string
	switch ids := r.Header.Values(headerSessionID); len(ids) {
	case 0:
	case 1:
		id = ids[0]
	default: // which one a server reads is anyone's guess
		http.Error(w, bodySessionInvalid, http.StatusBadRequest)
		return
	}
	if id == "" {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Allow", allowWithoutSession)
			http.Error(w, bodyStreamNoSession, http.StatusMethodNotAllowed)
			return
		case http.MethodDelete:
			http.Error(w, bodyDeleteNoSession, http.StatusBadRequest)
			return
		}
	}
	var held *sessionbind.Handle
	if id != "" {
		var res sessionbind.Result
		res, held = store.Acquire(id, user)
		switch res {
		case sessionbind.OK:
		case sessionbind.Mismatch:
			http.Error(w, bodySessionMismatch, http.StatusForbidden)
			return
		default:
			http.Error(w, bodySessionNotFound, http.StatusNotFound)
			return
		}
	}
	sw := &sessionWriter{ResponseWriter: w, store: store, user: user, requested: id}
	if held != nil {
		defer func() {
			if sessionEnded(r.Method, sw.status) {
				held.End()
			} else {
				held.Release()
			}
		}()
	}
	if _, ok := w.(http.Flusher); ok {
		next(flushWriter{sw}, r, c)
		return
	}
	next(sw, r, c)
}

// sessionEnded reports whether mcp-go's answer status to a request with
// method on a bound session means the session is over: a successful
// DELETE terminated it, and 404 says mcp-go no longer knows it (its idle
// sweeper, a terminated session, a restart).
func sessionEnded(method string, status int) bool {
	switch method {
	case http.MethodDelete:
		return status == http.StatusNotFound || status >= 200 && status < 300
	case http.MethodGet, http.MethodPost:
		return status == http.StatusNotFound
	}
	return false
}

// sessionWriter binds the session whose ID a response carries to the user
// of the request before the response (and so the ID) leaves, so the
// client's next request finds the binding.
type sessionWriter struct {
	http.ResponseWriter
	store     *sessionbind.Store
	user      string
	requested string // the session ID of the request, "" for none

	status  int  // status written, 0 before
	refused bool // the response was replaced with a refusal; drop the rest
}

// WriteHeader binds the session ID in the response header, if new, and
// writes the header; when the session cannot be bound it writes a refusal
// instead (429 when the user's sessions are all busy, 503 when every
// session is, 500 when the ID is bound to another user, which a server
// minting fresh IDs never does).
func (sw *sessionWriter) WriteHeader(code int) {
	if sw.status != 0 {
		sw.ResponseWriter.WriteHeader(code) // net/http logs the superfluous call
		return
	}
	sw.status = code
	id := sw.Header().Get(headerSessionID)
	if id == "" || id == sw.requested {
		sw.ResponseWriter.WriteHeader(code)
		return
	}
	err := sw.store.Bind(id, sw.user)
	if err == nil {
		sw.ResponseWriter.WriteHeader(code)
		return
	}
	sw.refused = true
	sw.Header().Del(headerSessionID)
	var body string
	switch {
	case errors.Is(err, sessionbind.ErrUserFull):
		sw.status, body = http.StatusTooManyRequests, bodyTooManyOfUser
	case errors.Is(err, sessionbind.ErrFull):
		sw.status, body = http.StatusServiceUnavailable, bodyTooManySessions
	default:
		sw.status, body = http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError)
	}
	http.Error(sw.ResponseWriter, body, sw.status)
}

// Write writes the header first if needed; after a refusal it discards p.
func (sw *sessionWriter) Write(p []byte) (int, error) {
	if sw.status == 0 {
		sw.WriteHeader(http.StatusOK)
	}
	if sw.refused {
		return len(p), nil
	}
	return sw.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (mcp-go sets
// write deadlines on event streams).
func (sw *sessionWriter) Unwrap() http.ResponseWriter {
	return sw.ResponseWriter
}

// flushWriter is a sessionWriter over an http.Flusher; mcp-go streams
// events only to writers that flush.
type flushWriter struct {
	*sessionWriter
}

// Flush writes the header first if needed and flushes, unless the
// response was replaced with a refusal.
func (fw flushWriter) Flush() {
	if fw.status == 0 {
		fw.WriteHeader(http.StatusOK)
	}
	if !fw.refused {
		fw.ResponseWriter.(http.Flusher).Flush()
	}
}
