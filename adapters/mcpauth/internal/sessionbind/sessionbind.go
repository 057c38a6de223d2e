package sessionbind

import (
	"container/list"
	"errors"
	"sync"
	"time"
)

// Defaults of [New].
const (
	// DefaultMaxSessions bounds the sessions a Store remembers.
	DefaultMaxSessions = 10000
	// DefaultIdleTimeout is how long a Store remembers a session with no
	// request in flight.
	DefaultIdleTimeout = 24 * time.Hour
)

// Errors of [Store.Bind].
var (
	// ErrFull: the store holds its maximum of sessions and each of them
	// has a request in flight, so none can be forgotten for a new one.
	ErrFull = errors.New("sessionbind: every session is in use")
	// ErrTaken: the session ID is bound to another user.
	ErrTaken = errors.New("sessionbind: session bound to another user")
)

// Result is the outcome of [Store.Acquire].
type Result int

// Results of [Store.Acquire].
const (
	// Unknown: the store does not know the session: never bound, ended,
	// idle too long or forgotten to make room.
	Unknown Result = iota
	// Mismatch: the session is bound to another user.
	Mismatch
	// OK: the session is bound to the user; the request is in flight
	// until [Store.Release] or [Store.End].
	OK
)

// Store binds session IDs to users. It holds at most max entries and
// forgets a session that has had no request in flight for longer than
// idle; when full, binding a new session forgets the least recently used
// session that has no request in flight. A session with a request in
// flight (such as an open event stream) is never forgotten. Safe for
// concurrent use.
type Store struct {
	max  int
	idle time.Duration
	now  func() time.Time

	mu       sync.Mutex
	sessions map[string]*entry
	idleLRU  list.List // of *entry with no request in flight, least recently used first
}

// entry is one bound session.
type entry struct {
	id, user string
	inFlight int           // requests being served
	used     time.Time     // end of the last request, or the binding
	elem     *list.Element // in idleLRU when inFlight == 0
	gone     bool          // removed from the store
}

// New returns a Store holding at most max sessions (DefaultMaxSessions
// when max <= 0) and forgetting sessions idle for longer than idle
// (DefaultIdleTimeout when idle <= 0), reading the time from now
// (time.Now when nil).
func New(max int, idle time.Duration, now func() time.Time) *Store {
	if max <= 0 {
		max = DefaultMaxSessions
	}
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if now == nil {
		now = time.Now
	}
	return &Store{max: max, idle: idle, now: now, sessions: make(map[string]*entry)}
}

// Bind binds the new session id to user. Binding an id again to the same
// user does nothing; it returns [ErrTaken] when id is bound to another
// user and [ErrFull] when no room can be made.
func (s *Store) Bind(id, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	if e, ok := s.sessions[id]; ok {
		if e.user != user {
			return ErrTaken
		}
		return nil
	}
	if len(s.sessions) >= s.max {
		front := s.idleLRU.Front()
		if front == nil {
			return ErrFull
		}
		s.remove(front.Value.(*entry))
	}
	e := &entry{id: id, user: user, used: now}
	e.elem = s.idleLRU.PushBack(e)
	s.sessions[id] = e
	return nil
}

// Acquire checks that session id is bound to user. On [OK] the request is
// in flight, and the caller must end it with [Store.Release] or
// [Store.End] on the returned handle.
func (s *Store) Acquire(id, user string) (Result, *Handle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sessions[id]
	if ok && e.inFlight == 0 && s.expired(e, s.now()) {
		s.remove(e)
		ok = false
	}
	switch {
	case !ok:
		return Unknown, nil
	case e.user != user:
		return Mismatch, nil
	}
	if e.inFlight == 0 {
		s.idleLRU.Remove(e.elem)
		e.elem = nil
	}
	e.inFlight++
	return OK, &Handle{s: s, e: e}
}

// Handle is a request in flight on a bound session.
type Handle struct {
	s    *Store
	e    *entry
	once sync.Once
}

// Release ends the request; the session stays bound. Only the first call
// of Release or End on h counts.
func (h *Handle) Release() {
	h.once.Do(func() { h.s.release(h.e, false) })
}

// End ends the request and the session: the session ID is unknown from
// now on. Only the first call of Release or End on h counts.
func (h *Handle) End() {
	h.once.Do(func() { h.s.release(h.e, true) })
}

func (s *Store) release(e *entry, end bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.inFlight--
	switch {
	case e.gone:
	case end:
		s.remove(e)
	case e.inFlight == 0:
		e.used = s.now()
		e.elem = s.idleLRU.PushBack(e)
	}
}

// Len returns the number of sessions the store holds.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// expire forgets the sessions idle for too long, least recently used
// first.
func (s *Store) expire(now time.Time) {
	for front := s.idleLRU.Front(); front != nil; front = s.idleLRU.Front() {
		e := front.Value.(*entry)
		if !s.expired(e, now) {
			return
		}
		s.remove(e)
	}
}

// expired reports whether e, with no request in flight, has been idle for
// longer than the idle timeout.
func (s *Store) expired(e *entry, now time.Time) bool {
	return now.Sub(e.used) > s.idle
}

// remove forgets e.
func (s *Store) remove(e *entry) {
	if e.elem != nil {
		s.idleLRU.Remove(e.elem)
		e.elem = nil
	}
	delete(s.sessions, e.id)
	e.gone = true
}
