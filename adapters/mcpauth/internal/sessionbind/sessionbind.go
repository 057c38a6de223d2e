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
	// DefaultMaxSessionsPerUser bounds the sessions a Store remembers for
	// one user.
	DefaultMaxSessionsPerUser = 100
	// DefaultIdleTimeout is how long a Store remembers a session with no
	// request in flight.
	DefaultIdleTimeout = 24 * time.Hour
)

// Errors of [Store.Bind].
var (
	// ErrFull: the store holds its maximum of sessions and each of them
	// has a request in flight, so none can be forgotten for a new one.
	ErrFull = errors.New("sessionbind: every session is in use")
	// ErrUserFull: the store holds the user's maximum of sessions and
	// each of them has a request in flight. Other users' sessions are
	// never forgotten to make room over a user's own maximum.
	ErrUserFull = errors.New("sessionbind: every session of the user is in use")
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

// Config configures [New]. Zero values mean the defaults.
type Config struct {
	// MaxSessions bounds the sessions the Store holds
	// (DefaultMaxSessions when <= 0).
	MaxSessions int
	// MaxSessionsPerUser bounds the sessions the Store holds for one user
	// (DefaultMaxSessionsPerUser when <= 0).
	MaxSessionsPerUser int
	// IdleTimeout is how long the Store holds a session with no request
	// in flight (DefaultIdleTimeout when <= 0).
	IdleTimeout time.Duration
	// Now reads the time (time.Now when nil).
	Now func() time.Time
}

// Store binds session IDs to users. It holds at most MaxSessions entries,
// at most MaxSessionsPerUser of them for one user, and forgets a session
// that has had no request in flight for longer than IdleTimeout. Binding
// a new session for a user who has the maximum forgets that user's least
// recently used session with no request in flight, never another user's;
// binding one when the store is full forgets the store's least recently
// used session with no request in flight, whoever's. A session with a
// request in flight (such as an open event stream) is never forgotten.
// Safe for concurrent use.
type Store struct {
	max, maxPerUser int
	idle            time.Duration
	now             func() time.Time

	mu       sync.Mutex
	sessions map[string]*entry
	idleLRU  list.List // of *entry with no request in flight, least recently used first
	users    map[string]*userSessions
}

// userSessions are the sessions of one user.
type userSessions struct {
	n       int       // sessions held
	idleLRU list.List // of *entry with no request in flight, least recently used first
}

// entry is one bound session.
type entry struct {
	id, user string
	inFlight int           // requests being served
	used     time.Time     // end of the last request, or the binding
	elem     *list.Element // in Store.idleLRU when inFlight == 0
	userElem *list.Element // in its userSessions.idleLRU when inFlight == 0
	gone     bool          // removed from the store
}

// New returns a Store configured by c.
func New(c Config) *Store {
	s := &Store{max: c.MaxSessions, maxPerUser: c.MaxSessionsPerUser, idle: c.IdleTimeout, now: c.Now,
		sessions: make(map[string]*entry), users: make(map[string]*userSessions)}
	if s.max <= 0 {
		s.max = DefaultMaxSessions
	}
	if s.maxPerUser <= 0 {
		s.maxPerUser = DefaultMaxSessionsPerUser
	}
	if s.idle <= 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Bind binds the new session id to user. Binding an id again to the same
// user does nothing; it returns [ErrTaken] when id is bound to another
// user, [ErrUserFull] when no room can be made among user's sessions and
// [ErrFull] when none can be made in the store.
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
	if u := s.users[user]; u != nil && u.n >= s.maxPerUser {
		front := u.idleLRU.Front()
		if front == nil {
			return ErrUserFull
		}
		s.remove(front.Value.(*entry))
	}
	if len(s.sessions) >= s.max {
		front := s.idleLRU.Front()
		if front == nil {
			return ErrFull
		}
		s.remove(front.Value.(*entry))
	}
	u := s.users[user]
	if u == nil {
		u = new(userSessions)
		s.users[user] = u
	}
	u.n++
	e := &entry{id: id, user: user, used: now}
	s.sessions[id] = e
	s.pushIdle(e)
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
		s.removeIdle(e)
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
		s.pushIdle(e)
	}
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

// pushIdle makes e, which has no request in flight, the most recently
// used idle session of the store and of its user.
func (s *Store) pushIdle(e *entry) {
	e.elem = s.idleLRU.PushBack(e)
	e.userElem = s.users[e.user].idleLRU.PushBack(e)
}

// removeIdle takes e out of the idle lists, if it is in them.
func (s *Store) removeIdle(e *entry) {
	if e.elem != nil {
		s.idleLRU.Remove(e.elem)
		e.elem = nil
	}
	if e.userElem != nil {
		s.users[e.user].idleLRU.Remove(e.userElem)
		e.userElem = nil
	}
}

// remove forgets e.
func (s *Store) remove(e *entry) {
	s.removeIdle(e)
	delete(s.sessions, e.id)
	e.gone = true
	u := s.users[e.user]
	if u.n--; u.n == 0 {
		delete(s.users, e.user)
	}
}
