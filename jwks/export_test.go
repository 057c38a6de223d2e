package jwks

import "time"

// Hooks for the external tests (package jwks_test cannot be internal: it
// uses audtest, which imports jwks).

// PokeForTest wakes the background loop so it re-reads the (injected) clock.
func PokeForTest(r *Remote) { r.poke() }

// TTLForTest returns the lifetime of the current key set (0 when none).
func TTLForTest(r *Remote) time.Duration {
	if s := r.snap.Load(); s != nil {
		return s.ttl
	}
	return 0
}

// NextDueForTest returns when the background loop will refresh next.
func NextDueForTest(r *Remote) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nextDueLocked()
}

// LoopStartedForTest reports whether the background loop was started.
func LoopStartedForTest(r *Remote) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loopStarted
}

// IdleForTest reports whether no fetch is in flight and the background
// loop, if started, sleeps (so it will not read the clock until poked).
func IdleForTest(r *Remote) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inflight == nil && (!r.loopStarted || r.waiting)
}
