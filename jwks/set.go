package jwks

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Errors a key source returns. Both are reported to clients as an invalid
// token; they differ in logs and metrics.
var (
	// ErrKeyNotFound means no usable key matches the token's "kid" and
	// "alg": the kid is unknown, ambiguous (duplicated in the set), bound
	// to another algorithm, or absent while several keys could apply.
	ErrKeyNotFound = errors.New("jwks: no usable key for this kid and alg")
	// ErrUnavailable means the key source has no usable keys at all, for
	// example because the JWKS endpoint has never answered or its last
	// good answer is older than the allowed staleness.
	ErrUnavailable = errors.New("jwks: signing keys unavailable")
)

// Set is an immutable set of verification keys, indexed by key ID. It is
// safe for concurrent use and serves as a static key source for tests and
// air-gapped deployments.
type Set struct {
	byKID     map[string]*Key
	ambiguous map[string]struct{}
	noKID     []*Key
	all       []*Key
}

// NewSet builds a Set from keys. Keys sharing a non-empty kid make that kid
// unusable (RFC 7517 §4.5 requires distinct kids within a set).
func NewSet(keys ...*Key) *Set {
	s, _ := newSet(keys)
	return s
}

func newSet(keys []*Key) (*Set, []string) {
	s := &Set{byKID: make(map[string]*Key, len(keys))}
	var dups []string
	for _, k := range keys {
		if k == nil {
			continue
		}
		if k.id == "" {
			s.noKID = append(s.noKID, k)
			s.all = append(s.all, k)
			continue
		}
		if _, amb := s.ambiguous[k.id]; amb {
			continue
		}
		if prev, ok := s.byKID[k.id]; ok {
			delete(s.byKID, k.id)
			if s.ambiguous == nil {
				s.ambiguous = make(map[string]struct{})
			}
			s.ambiguous[k.id] = struct{}{}
			s.all = removeKey(s.all, prev)
			dups = append(dups, k.id)
			continue
		}
		s.byKID[k.id] = k
		s.all = append(s.all, k)
	}
	return s, dups
}

func removeKey(list []*Key, k *Key) []*Key {
	out := list[:0]
	for _, v := range list {
		if v != k {
			out = append(out, v)
		}
	}
	return out
}

// ParseFile reads a JWK Set from a file; see [Parse].
func ParseFile(path string, opts ParseOptions) (*Set, []Dropped, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	return Parse(data, opts)
}

// Len returns the number of usable keys.
func (s *Set) Len() int { return len(s.all) }

// Keys returns the usable keys in document order.
func (s *Set) Keys() []*Key { return append([]*Key(nil), s.all...) }

// Key returns the key for a token signed with alg under kid.
//
// With a kid, the key must have that kid and be bound to alg. Without a kid,
// a key is chosen only when exactly one key in the set is bound to alg;
// otherwise the token is refused rather than tried against several keys
// (standards-and-attacks §3 D8).
func (s *Set) Key(_ context.Context, kid, alg string) (*Key, error) {
	if s == nil || len(s.all) == 0 {
		return nil, ErrUnavailable
	}
	return s.lookup(kid, alg)
}

func (s *Set) lookup(kid, alg string) (*Key, error) {
	if kid != "" {
		k, ok := s.byKID[kid]
		if !ok || k.alg != alg {
			return nil, ErrKeyNotFound
		}
		return k, nil
	}
	var found *Key
	for _, k := range s.all {
		if k.alg == alg {
			if found != nil {
				return nil, ErrKeyNotFound
			}
			found = k
		}
	}
	if found == nil {
		return nil, ErrKeyNotFound
	}
	return found, nil
}

// has reports whether the set knows kid at all (usable or ambiguous).
func (s *Set) has(kid string) bool {
	if s == nil {
		return false
	}
	if _, ok := s.byKID[kid]; ok {
		return true
	}
	_, ok := s.ambiguous[kid]
	return ok
}

// reusing returns s with every key that old holds with the same kid,
// algorithm and key material replaced by old's *Key, so that callers that
// compare key pointers (the verifier's token cache) see an unchanged key as
// unchanged across a refresh. A changed or new key keeps its new pointer;
// a removed key is simply absent.
func (s *Set) reusing(old *Set) *Set {
	if old == nil || len(old.all) == 0 {
		return s
	}
	same := func(k *Key) *Key {
		if k.id != "" {
			if o, ok := old.byKID[k.id]; ok && o.alg == k.alg && o.fingerprint == k.fingerprint {
				return o
			}
			return k
		}
		for _, o := range old.noKID {
			if o.alg == k.alg && o.fingerprint == k.fingerprint {
				return o
			}
		}
		return k
	}
	out := &Set{byKID: make(map[string]*Key, len(s.byKID)), ambiguous: s.ambiguous}
	for _, k := range s.all {
		nk := same(k)
		out.all = append(out.all, nk)
		if k.id == "" {
			out.noKID = append(out.noKID, nk)
		} else {
			out.byKID[k.id] = nk
		}
	}
	return out
}
