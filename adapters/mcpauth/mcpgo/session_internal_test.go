package mcpgo

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audguard/audguard/adapters/mcpauth/internal/sessionbind"
	"github.com/audguard/audguard/middleware"
)

func TestSessionEnded(t *testing.T) {
	tests := []struct {
		name   string
		method string
		status int
		want   bool
	}{
		{name: "delete accepted", method: http.MethodDelete, status: http.StatusOK, want: true},
		{name: "delete accepted without content", method: http.MethodDelete, status: http.StatusNoContent, want: true},
		{name: "delete of a session mcp-go forgot", method: http.MethodDelete, status: http.StatusNotFound, want: true},
		{name: "delete not allowed", method: http.MethodDelete, status: http.StatusMethodNotAllowed},
		{name: "delete failed", method: http.MethodDelete, status: http.StatusInternalServerError},
		{name: "post of a session mcp-go forgot", method: http.MethodPost, status: http.StatusNotFound, want: true},
		{name: "stream of a session mcp-go forgot", method: http.MethodGet, status: http.StatusNotFound, want: true},
		{name: "post served", method: http.MethodPost, status: http.StatusOK},
		{name: "post refused", method: http.MethodPost, status: http.StatusBadRequest},
		{name: "post interrupted before the header", method: http.MethodPost},
		{name: "unsupported method", method: http.MethodPut, status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, sessionEnded(tt.method, tt.status))
		})
	}
}

// plainWriter is an http.ResponseWriter that cannot flush.
type plainWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *plainWriter) Header() http.Header { return w.header }
func (w *plainWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *plainWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// TestServeSession covers the ways a handler can answer: the session ID
// it hands out is bound whether the header is written explicitly, by the
// first Write or by the first Flush; flushing is offered exactly when the
// underlying writer flushes; an ID that cannot be bound never leaves.
func TestServeSession(t *testing.T) {
	claims := &middleware.Claims{Subject: "alice"}
	// withClaims hands h the request, after checking that serveSession
	// passed on the claims it was given.
	withClaims := func(t *testing.T, h http.Handler) func(http.ResponseWriter, *http.Request, *middleware.Claims) {
		return func(w http.ResponseWriter, r *http.Request, c *middleware.Claims) {
			require.Same(t, claims, c, "the claims reach next")
			h.ServeHTTP(w, r)
		}
	}
	mint := func(id string, write func(http.ResponseWriter)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set(headerSessionID, id)
			write(w)
		})
	}
	tests := []struct {
		name       string
		writer     func() http.ResponseWriter
		prebound   string // bound to "bob" beforehand
		busy       int    // sessions of "alice" with a request in flight beforehand
		next       http.Handler
		wantStatus int
		wantBody   string
		wantHeader string
		wantBound  string // bound to "alice" afterwards
	}{
		{
			name:       "explicit header",
			writer:     func() http.ResponseWriter { return httptest.NewRecorder() },
			next:       mint("s1", func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }),
			wantStatus: http.StatusOK, wantHeader: "s1", wantBound: "s1",
		},
		{
			name:   "first write",
			writer: func() http.ResponseWriter { return httptest.NewRecorder() },
			next: mint("s1", func(w http.ResponseWriter) {
				_, _ = io.WriteString(w, "ok")
				w.WriteHeader(http.StatusTeapot) // superfluous, ignored
			}),
			wantStatus: http.StatusOK, wantBody: "ok", wantHeader: "s1", wantBound: "s1",
		},
		{
			name:   "first flush",
			writer: func() http.ResponseWriter { return httptest.NewRecorder() },
			next: mint("s1", func(w http.ResponseWriter) {
				f, ok := w.(http.Flusher)
				if !ok {
					http.Error(w, "no flusher", http.StatusInternalServerError)
					return
				}
				f.Flush()
				require.NoError(t, http.NewResponseController(w).Flush())
			}),
			wantStatus: http.StatusOK, wantHeader: "s1", wantBound: "s1",
		},
		{
			name:   "writer that cannot flush",
			writer: func() http.ResponseWriter { return &plainWriter{header: http.Header{}} },
			next: mint("s1", func(w http.ResponseWriter) {
				if _, ok := w.(http.Flusher); ok {
					http.Error(w, "flusher", http.StatusInternalServerError)
					return
				}
				require.Error(t, http.NewResponseController(w).Flush())
				_, _ = io.WriteString(w, "ok")
			}),
			wantStatus: http.StatusOK, wantBody: "ok", wantHeader: "s1", wantBound: "s1",
		},
		{
			name:     "ID of another user's session",
			writer:   func() http.ResponseWriter { return httptest.NewRecorder() },
			prebound: "s1",
			next: mint("s1", func(w http.ResponseWriter) {
				_, _ = io.WriteString(w, `{"result":"secret"}`)
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}),
			wantStatus: http.StatusInternalServerError, wantBody: "Internal Server Error\n",
		},
		{
			name:   "every session of the user busy",
			writer: func() http.ResponseWriter { return httptest.NewRecorder() },
			busy:   2,
			next: mint("s1", func(w http.ResponseWriter) {
				_, _ = io.WriteString(w, `{"result":"secret"}`)
			}),
			wantStatus: http.StatusTooManyRequests, wantBody: "too many sessions for this user\n",
		},
		{
			name:       "no session",
			writer:     func() http.ResponseWriter { return httptest.NewRecorder() },
			next:       http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
			wantStatus: http.StatusOK, wantBody: "ok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := sessionbind.New(sessionbind.Config{MaxSessions: 10, MaxSessionsPerUser: 2, IdleTimeout: time.Hour})
			if tt.prebound != "" {
				require.NoError(t, store.Bind(tt.prebound, "bob"))
			}
			for i := range tt.busy {
				id := fmt.Sprint("busy-", i)
				require.NoError(t, store.Bind(id, "alice"))
				res, h := store.Acquire(id, "alice")
				require.Equal(t, sessionbind.OK, res)
				t.Cleanup(h.Release)
			}
			w := tt.writer()
			serveSession(store, w, httptest.NewRequest(http.MethodPost, "/", nil), "alice", claims, withClaims(t, tt.next))
			var (
				status int
				body   string
			)
			switch w := w.(type) {
			case *httptest.ResponseRecorder:
				status, body = w.Code, w.Body.String()
			case *plainWriter:
				status, body = w.status, string(w.body)
			}
			require.Equal(t, tt.wantStatus, status)
			require.Equal(t, tt.wantBody, body)
			require.Equal(t, tt.wantHeader, w.Header().Get(headerSessionID))
			if tt.wantBound != "" {
				res, h := store.Acquire(tt.wantBound, "alice")
				require.Equal(t, sessionbind.OK, res)
				h.Release()
			}
			if tt.prebound != "" {
				res, _ := store.Acquire(tt.prebound, "alice")
				require.Equal(t, sessionbind.Mismatch, res, "still bob's")
			}
		})
	}
}

// TestServeSessionHeaderRepeated: a request with two session IDs is
// refused; which one a server would read is not for the guard to guess.
func TestServeSessionHeaderRepeated(t *testing.T) {
	store := sessionbind.New(sessionbind.Config{MaxSessions: 10, IdleTimeout: time.Hour})
	require.NoError(t, store.Bind("s1", "alice"))
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Add(headerSessionID, "s1")
	r.Header.Add(headerSessionID, "s2")
	w := httptest.NewRecorder()
	serveSession(store, w, r, "alice", &middleware.Claims{Subject: "alice"}, func(http.ResponseWriter, *http.Request, *middleware.Claims) {
		t.Error("handler reached")
	})
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Equal(t, "invalid session ID\n", w.Body.String())
}
