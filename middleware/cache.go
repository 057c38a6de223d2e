package middleware

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
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
	perShard     int64
}

const cacheShards = 16

// cacheShard is one part of the cache. Lookups are lock-free (sync.Map
// reads neither lock nor write shared memory), so hits scale across cores
// even when every request presents the same token; n bounds the size.
type cacheShard struct {
	m sync.Map // uint64 (first hash) -> *cacheEntry
	n atomic.Int64
	_ [64]byte // keep shards' counters on separate cache lines
}

type cacheEntry struct {
	check  uint64 // second hash; a mismatch is a miss
	claims *Claims
	key    *jwks.Key
	keys   KeySource
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	c.perShard = int64((size + cacheShards - 1) / cacheShards)
	return c
}

func (c *tokenCache) hash(token string) (uint64, uint64) {
	return maphash.String(c.seed1, token), maphash.String(c.seed2, token)
}

// get returns a private copy of the cached claims if the entry is still
// valid at now: exp, nbf and iat hold with the leeway, and the issuer's key
// source still returns the very key that verified the token for its kid
// and alg. An entry that fails is dropped.
func (c *tokenCache) get(ctx context.Context, h1, h2 uint64, now time.Time, leeway time.Duration) (*Claims, bool) {
	sh := &c.shards[h1%cacheShards]
	v, ok := sh.m.Load(h1)
	if !ok {
		return nil, false
	}
	e := v.(*cacheEntry)
	if e.check != h2 {
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
		if sh.m.CompareAndDelete(h1, v) {
			sh.n.Add(-1)
		}
		return nil, false
	}
	return cl.clone(), true
}

func (c *tokenCache) put(h1, h2 uint64, cl *Claims, key *jwks.Key, keys KeySource) {
	sh := &c.shards[h1%cacheShards]
	if _, replaced := sh.m.Swap(h1, &cacheEntry{check: h2, claims: cl, key: key, keys: keys}); replaced {
		return
	}
	// Over the bound: evict other entries (the first the map yields;
	// the keys are keyed hashes, so this is an arbitrary entry) until
	// the shard fits again.
	for sh.n.Add(1) > c.perShard {
		evicted := false
		sh.m.Range(func(k, v any) bool {
			if k.(uint64) == h1 {
				return true
			}
			if sh.m.CompareAndDelete(k, v) {
				evicted = true
				return false
			}
			return true
		})
		if !evicted {
			break
		}
		sh.n.Add(-2) // the entry evicted, and this loop's own Add(1)
	}
}

// len returns the number of cached entries (tests).
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].m.Range(func(any, any) bool { n++; return true })
	}
	return n
}
