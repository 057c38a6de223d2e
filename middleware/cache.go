package middleware

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/audguard/audguard/jwks"
)

// tokenCache remembers verified tokens so that a token presented again is
// answered without a second signature check. It stores neither the token
// nor anything derived from it that could be replayed: entries are keyed by
// two independent keyed hashes (random per process), and each hit re-checks
// exp, nbf and iat with the leeway and asks the issuer's key source whether
// the signing key is still the same key, so a token whose key was removed
// or rotated away is verified again (and refused) on its next use.
type tokenCache struct {
	seed1, seed2 maphash.Seed
	shards       [cacheShards]cacheShard
	perShard     int
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*cacheEntry
}

type cacheEntry struct {
	check  uint64 // second hash; a mismatch is a miss
	claims *Claims
	key    *jwks.Key
	keys   KeySource
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	c.perShard = (size + cacheShards - 1) / cacheShards
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
	}
	return c
}

func (c *tokenCache) hash(token string) (uint64, uint64) {
	return maphash.String(c.seed1, token), maphash.String(c.seed2, token)
}

// get returns a private copy of the cached claims if the entry is still
// valid at now.
func (c *tokenCache) get(ctx context.Context, h1, h2 uint64, now time.Time, leeway time.Duration) (*Claims, bool) {
	sh := &c.shards[h1%cacheShards]
	sh.mu.RLock()
	e := sh.m[h1]
	sh.mu.RUnlock()
	if e == nil || e.check != h2 {
		return nil, false
	}
	cl := e.claims
	valid := now.Before(cl.Expiry.Add(leeway)) &&
		(cl.NotBefore.IsZero() || !now.Add(leeway).Before(cl.NotBefore)) &&
		(cl.IssuedAt.IsZero() || !now.Add(leeway).Before(cl.IssuedAt))
	if valid {
		k, err := e.keys.Key(ctx, cl.KeyID, cl.Algorithm)
		valid = err == nil && k == e.key
	}
	if !valid {
		sh.mu.Lock()
		if sh.m[h1] == e {
			delete(sh.m, h1)
		}
		sh.mu.Unlock()
		return nil, false
	}
	return cl.clone(), true
}

func (c *tokenCache) put(h1, h2 uint64, cl *Claims, key *jwks.Key, keys KeySource) {
	sh := &c.shards[h1%cacheShards]
	e := &cacheEntry{check: h2, claims: cl, key: key, keys: keys}
	sh.mu.Lock()
	if _, ok := sh.m[h1]; !ok && len(sh.m) >= c.perShard {
		// Evict one arbitrary entry: map iteration order is random, so
		// this is random eviction in O(1).
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[h1] = e
	sh.mu.Unlock()
}

// len returns the number of cached entries (tests).
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
