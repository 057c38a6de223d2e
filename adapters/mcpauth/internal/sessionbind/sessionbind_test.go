package sessionbind_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/audguard/audguard/adapters/mcpauth/internal/sessionbind"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// op is one step of a scenario.
type op int

const (
	bind    op = iota // Bind(id, user), want err
	acquire           // Acquire(id, user), want result; an OK handle is kept under id
	release           // Release the handle kept under id
	end               // End the handle kept under id
	advance           // advance the clock by d
	length            // Len() == n
	userLen           // UserLen(user) == n
)

type step struct {
	op     op
	id     string
	user   string
	d      time.Duration
	err    error
	result sessionbind.Result
	n      int
}

func TestStore(t *testing.T) {
	const idle = time.Hour
	tests := []struct {
		name       string
		max        int
		maxPerUser int
		steps      []step
	}{
		{
			name: "bound to its user",
			max:  10,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: release, id: "s1"},
				{op: acquire, id: "s1", user: "bob", result: sessionbind.Mismatch},
				{op: acquire, id: "s2", user: "alice", result: sessionbind.Unknown},
				{op: acquire, id: "", user: "alice", result: sessionbind.Unknown},
				{op: length, n: 1},
			},
		},
		{
			name: "binding again",
			max:  10,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: bind, id: "s1", user: "alice"},
				{op: bind, id: "s1", user: "bob", err: sessionbind.ErrTaken},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: length, n: 1},
			},
		},
		{
			name: "idle sessions expire",
			max:  10,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: advance, d: idle},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: release, id: "s1"},
				{op: advance, d: idle},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: release, id: "s1"},
				{op: advance, d: idle + time.Nanosecond},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.Unknown},
				{op: length, n: 0},
			},
		},
		{
			name: "expired sessions are dropped when binding",
			max:  10,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: bind, id: "s2", user: "alice"},
				{op: advance, d: idle / 2},
				{op: bind, id: "s3", user: "alice"},
				{op: advance, d: idle/2 + time.Nanosecond},
				{op: bind, id: "s4", user: "alice"},
				{op: length, n: 2},
				{op: acquire, id: "s3", user: "alice", result: sessionbind.OK},
			},
		},
		{
			name: "a request in flight keeps its session",
			max:  10,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: advance, d: 10 * idle},
				{op: bind, id: "s2", user: "alice"},
				{op: length, n: 2},
				{op: release, id: "s1"},
				{op: advance, d: idle},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
			},
		},
		{
			name: "full: the least recently used idle session makes room",
			max:  2,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: bind, id: "s2", user: "bob"},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: release, id: "s1"},
				{op: bind, id: "s3", user: "carol"},
				{op: length, n: 2},
				{op: acquire, id: "s2", user: "bob", result: sessionbind.Unknown},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: acquire, id: "s3", user: "carol", result: sessionbind.OK},
			},
		},
		{
			name: "full: sessions in flight are kept",
			max:  2,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: bind, id: "s2", user: "bob"},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: bind, id: "s3", user: "carol"},
				{op: acquire, id: "s2", user: "bob", result: sessionbind.Unknown},
				{op: acquire, id: "s3", user: "carol", result: sessionbind.OK},
				{op: bind, id: "s4", user: "dave", err: sessionbind.ErrFull},
				{op: length, n: 2},
				{op: release, id: "s3"},
				{op: bind, id: "s4", user: "dave"},
				{op: acquire, id: "s3", user: "carol", result: sessionbind.Unknown},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
			},
		},
		{
			name: "end",
			max:  10,
			steps: []step{
				{op: bind, id: "s1", user: "alice"},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.OK},
				{op: end, id: "s1"},
				{op: end, id: "s1"},
				{op: acquire, id: "s1", user: "alice", result: sessionbind.Unknown},
				{op: length, n: 0},
				{op: bind, id: "s1", user: "bob"},
				{op: acquire, id: "s1", user: "bob", result: sessionbind.OK},
			},
		},
		{
			name:       "user at its maximum: its own least recently used idle session makes room",
			max:        10,
			maxPerUser: 2,
			steps: []step{
				{op: bind, id: "a1", user: "alice"},
				{op: bind, id: "b1", user: "bob"},
				{op: bind, id: "b2", user: "bob"},
				{op: acquire, id: "b1", user: "bob", result: sessionbind.OK},
				{op: release, id: "b1"},
				{op: bind, id: "b3", user: "bob"},
				{op: acquire, id: "b2", user: "bob", result: sessionbind.Unknown},
				{op: bind, id: "b4", user: "bob"},
				{op: acquire, id: "b1", user: "bob", result: sessionbind.Unknown},
				{op: userLen, user: "bob", n: 2},
				{op: acquire, id: "a1", user: "alice", result: sessionbind.OK},
				{op: acquire, id: "b3", user: "bob", result: sessionbind.OK},
				{op: acquire, id: "b4", user: "bob", result: sessionbind.OK},
				{op: length, n: 3},
			},
		},
		{
			name:       "user at its maximum with every session busy: only that user is refused",
			max:        10,
			maxPerUser: 2,
			steps: []step{
				{op: bind, id: "a1", user: "alice"},
				{op: bind, id: "b1", user: "bob"},
				{op: bind, id: "b2", user: "bob"},
				{op: acquire, id: "b1", user: "bob", result: sessionbind.OK},
				{op: acquire, id: "b2", user: "bob", result: sessionbind.OK},
				{op: bind, id: "b3", user: "bob", err: sessionbind.ErrUserFull},
				{op: bind, id: "a2", user: "alice"},
				{op: acquire, id: "a1", user: "alice", result: sessionbind.OK},
				{op: userLen, user: "bob", n: 2},
				{op: release, id: "b2"},
				{op: bind, id: "b3", user: "bob"},
				{op: acquire, id: "b2", user: "bob", result: sessionbind.Unknown},
				{op: acquire, id: "b1", user: "bob", result: sessionbind.OK},
			},
		},
		{
			name:       "user at its maximum in a full store: the user's own session makes room",
			max:        3,
			maxPerUser: 2,
			steps: []step{
				{op: bind, id: "a1", user: "alice"},
				{op: bind, id: "b1", user: "bob"},
				{op: bind, id: "b2", user: "bob"},
				{op: bind, id: "b3", user: "bob"},
				{op: acquire, id: "a1", user: "alice", result: sessionbind.OK},
				{op: acquire, id: "b1", user: "bob", result: sessionbind.Unknown},
				{op: length, n: 3},
			},
		},
		{
			name:       "ended, expired and forgotten sessions leave the user's count",
			max:        3,
			maxPerUser: 2,
			steps: []step{
				{op: bind, id: "b1", user: "bob"},
				{op: bind, id: "b2", user: "bob"},
				{op: acquire, id: "b1", user: "bob", result: sessionbind.OK},
				{op: end, id: "b1"},
				{op: userLen, user: "bob", n: 1},
				{op: advance, d: idle + time.Nanosecond},
				{op: acquire, id: "b2", user: "bob", result: sessionbind.Unknown},
				{op: userLen, user: "bob", n: 0},
				{op: bind, id: "b3", user: "bob"},
				{op: bind, id: "a1", user: "alice"},
				{op: bind, id: "c1", user: "carol"},
				{op: bind, id: "d1", user: "dave"},
				{op: userLen, user: "bob", n: 0},
				{op: bind, id: "b4", user: "bob"},
				{op: bind, id: "b5", user: "bob"},
				{op: userLen, user: "bob", n: 2},
				{op: length, n: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: time.Unix(1700000000, 0)}
			s := sessionbind.New(sessionbind.Config{MaxSessions: tt.max, MaxSessionsPerUser: tt.maxPerUser, IdleTimeout: idle, Now: c.Now})
			handles := map[string]*sessionbind.Handle{}
			for i, st := range tt.steps {
				msg := fmt.Sprintf("step %d", i)
				switch st.op {
				case bind:
					err := s.Bind(st.id, st.user)
					if st.err == nil {
						require.NoError(t, err, msg)
					} else {
						require.ErrorIs(t, err, st.err, msg)
					}
				case acquire:
					got, h := s.Acquire(st.id, st.user)
					require.Equal(t, st.result, got, msg)
					require.Equal(t, st.result == sessionbind.OK, h != nil, msg)
					if h != nil {
						handles[st.id] = h
					}
				case release:
					handles[st.id].Release()
				case end:
					handles[st.id].End()
				case advance:
					c.advance(st.d)
				case length:
					require.Equal(t, st.n, s.Len(), msg)
				case userLen:
					require.Equal(t, st.n, s.UserLen(st.user), msg)
				}
			}
		})
	}
}

// TestEndWhileInFlight: a session ended (DELETE) while another of its
// requests is in flight (an event stream) stays ended when that request
// ends, and a second Release of a handle counts once.
func TestEndWhileInFlight(t *testing.T) {
	s := sessionbind.New(sessionbind.Config{MaxSessions: 10, IdleTimeout: time.Hour})
	require.NoError(t, s.Bind("s1", "alice"))
	res, stream := s.Acquire("s1", "alice")
	require.Equal(t, sessionbind.OK, res)
	res, del := s.Acquire("s1", "alice")
	require.Equal(t, sessionbind.OK, res)
	del.End()
	stream.Release()
	stream.Release()
	res, _ = s.Acquire("s1", "alice")
	require.Equal(t, sessionbind.Unknown, res)
	require.Zero(t, s.Len())

	require.NoError(t, s.Bind("s2", "alice"))
	_, h := s.Acquire("s2", "alice")
	h.Release()
	h.Release()
	h.End()
	_, h = s.Acquire("s2", "alice")
	require.NotNil(t, h, "a released handle cannot end its session")
}

// TestDefaults: zero values mean DefaultMaxSessions,
// DefaultMaxSessionsPerUser and DefaultIdleTimeout.
func TestDefaults(t *testing.T) {
	const perUser = sessionbind.DefaultMaxSessionsPerUser
	c := &clock{now: time.Unix(1700000000, 0)}
	s := sessionbind.New(sessionbind.Config{Now: c.Now})
	for i := range perUser + 1 {
		require.NoError(t, s.Bind(fmt.Sprint("alice-", i), "alice"))
	}
	require.Equal(t, perUser, s.UserLen("alice"))
	res, _ := s.Acquire("alice-0", "alice")
	require.Equal(t, sessionbind.Unknown, res, "the user's least recently used session made room")

	s = sessionbind.New(sessionbind.Config{Now: c.Now})
	user := func(i int) string { return fmt.Sprint("user-", i/perUser) }
	for i := range sessionbind.DefaultMaxSessions + 1 {
		require.NoError(t, s.Bind(fmt.Sprint(i), user(i)))
	}
	require.Equal(t, sessionbind.DefaultMaxSessions, s.Len())
	res, _ = s.Acquire("0", user(0))
	require.Equal(t, sessionbind.Unknown, res, "the least recently used session made room")

	c.advance(sessionbind.DefaultIdleTimeout)
	res, h := s.Acquire("1", user(1))
	require.Equal(t, sessionbind.OK, res)
	h.Release()
	c.advance(sessionbind.DefaultIdleTimeout + time.Nanosecond)
	res, _ = s.Acquire("2", user(2))
	require.Equal(t, sessionbind.Unknown, res)
}

// TestConcurrent: under -race, concurrent binds, checks and releases by
// users sharing goroutines, each holding some requests in flight, keep
// both bounds and never let one user into another's session.
func TestConcurrent(t *testing.T) {
	const (
		max        = 16
		maxPerUser = 3
		users      = 4
	)
	s := sessionbind.New(sessionbind.Config{MaxSessions: max, MaxSessionsPerUser: maxPerUser, IdleTimeout: time.Hour})
	// work runs one goroutine's share and reports the first violation.
	work := func(g int) error {
		user := fmt.Sprint("user-", g%users)
		var held []*sessionbind.Handle // requests in flight, released in turn
		defer func() {
			for _, h := range held {
				h.Release()
			}
		}()
		for i := range 200 {
			id := fmt.Sprintf("%d-%d", g, i)
			if err := s.Bind(id, user); err != nil {
				if !errors.Is(err, sessionbind.ErrFull) && !errors.Is(err, sessionbind.ErrUserFull) {
					return err
				}
				continue
			}
			res, h := s.Acquire(id, user)
			switch res {
			case sessionbind.OK:
				if other, _ := s.Acquire(id, "someone else"); other != sessionbind.Mismatch {
					return fmt.Errorf("%s: another user got %v", id, other)
				}
				switch i % 3 {
				case 0:
					h.End()
				case 1:
					h.Release()
				default:
					held = append(held, h)
					if len(held) > 1 {
						held[0].Release()
						held = held[1:]
					}
				}
			case sessionbind.Unknown: // forgotten to make room
			default:
				return fmt.Errorf("%s: its own user got %v", id, res)
			}
			if n := s.Len(); n > max {
				return fmt.Errorf("%d sessions held", n)
			}
			if n := s.UserLen(user); n > maxPerUser {
				return fmt.Errorf("%d sessions held for %s", n, user)
			}
		}
		return nil
	}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for g := range errs {
		wg.Go(func() { errs[g] = work(g) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	sum := 0
	for u := range users {
		n := s.UserLen(fmt.Sprint("user-", u))
		require.LessOrEqual(t, n, maxPerUser)
		sum += n
	}
	require.Equal(t, s.Len(), sum, "the users' counts add up to the store's")
}
