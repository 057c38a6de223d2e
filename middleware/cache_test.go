package middleware_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/audguard/audguard/middleware"
	"github.com/stretchr/testify/require"
)

// countingKeys wraps a key source and counts lookups, so a test can tell a
// cache hit (no signature check, one identity lookup) from a full
// verification.
type countingKeys struct {
	mu   sync.Mutex
	src  middleware.KeySource
	hits atomic.Int64
}

func (c *countingKeys) set(src middleware.KeySource) {
	c.mu.Lock()
	c.src = src
	c.mu.Unlock()
}

func (c *countingKeys) Key(ctx context.Context, kid, alg string) (*jwks.Key, error) {
	c.hits.Add(1)
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	return src.Key(ctx, kid, alg)
}

type clockVar struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clockVar) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clockVar) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestVerifiedTokenCache(t *testing.T) {
	clk := &clockVar{now: clock}
	iss := audtest.NewIssuer(t, audtest.Options{Now: clk.Now})
	keys := &countingKeys{src: iss.KeySet()}
	v, err := middleware.New(middleware.Config{
		Resource: resource,
		Issuers:  []middleware.Issuer{{URL: iss.URL(), Keys: keys}},
		Now:      clk.Now,
	})
	require.NoError(t, err)
	ctx := context.Background()
	tok := iss.AccessToken(resource, "read")

	c1, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, 1, middleware.CacheLen(v))
	c2, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, c1, c2)
	require.NotSame(t, c1, c2, "each caller gets its own copy")
	c2.Subject = "mutated"
	c3, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, "user-1", c3.Subject, "a caller's change does not reach the cache")

	t.Run("expired_cached_token_is_refused", func(t *testing.T) {
		clk.Add(5*time.Minute + 31*time.Second) // lifetime 5m, leeway 30s
		_, err := v.Verify(ctx, tok)
		require.ErrorIs(t, err, middleware.ErrExpired)
	})

	t.Run("removed_key_token_is_refused", func(t *testing.T) {
		tok := iss.AccessToken(resource)
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		require.NoError(t, iss.Unpublish(iss.CurrentKeyID()))
		keys.set(iss.KeySet())
		_, err = v.Verify(ctx, tok)
		require.Error(t, err)
		require.ErrorIs(t, err, middleware.ErrInvalidToken)
	})

	t.Run("rotated_key_material_is_reverified", func(t *testing.T) {
		kid, err := iss.Rotate("ES256")
		require.NoError(t, err)
		keys.set(iss.KeySet())
		tok := iss.AccessToken(resource)
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err)
		// Same kid, different key material: the cached entry must not be
		// reused.
		other, err := audtest.Start(audtest.Options{Now: clk.Now, Algorithms: []string{"ES256"}})
		require.NoError(t, err)
		defer other.Close()
		pub, err := other.PublicKey("")
		require.NoError(t, err)
		k, err := jwks.NewKey(kid, "ES256", pub)
		require.NoError(t, err)
		keys.set(jwks.NewSet(k))
		_, err = v.Verify(ctx, tok)
		require.ErrorIs(t, err, middleware.ErrSignature)
	})
}

func TestCacheDisabled(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Now: fixedNow})
	keys := &countingKeys{src: iss.KeySet()}
	v, err := middleware.New(middleware.Config{
		Resource:  resource,
		Issuers:   []middleware.Issuer{{URL: iss.URL(), Keys: keys}},
		Now:       fixedNow,
		CacheSize: middleware.NoCache,
	})
	require.NoError(t, err)
	tok := iss.AccessToken(resource)
	for i := 0; i < 3; i++ {
		_, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
	}
	require.Zero(t, middleware.CacheLen(v))
}

func TestCacheBoundedAndConcurrent(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Now: fixedNow})
	v, err := middleware.New(middleware.Config{
		Resource:  resource,
		Issuers:   []middleware.Issuer{{URL: iss.URL(), Keys: iss.KeySet()}},
		Now:       fixedNow,
		CacheSize: 64,
	})
	require.NoError(t, err)
	toks := make([]string, 200)
	for i := range toks {
		toks[i] = iss.AccessToken(resource)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				_, err := v.Verify(context.Background(), toks[(i*7+g)%len(toks)])
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	require.LessOrEqual(t, middleware.CacheLen(v), 64)
}

// TestCacheWithRemoteKeys drives the cache through a real jwks.Remote:
// after the issuer stops publishing a key and the key set is refreshed, a
// token the cache verified with that key is refused, and a cached token
// past its exp (plus leeway) is refused too.
func TestCacheWithRemoteKeys(t *testing.T) {
	clk := &clockVar{now: time.Now()}
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"EdDSA", "ES256"}, Now: clk.Now})
	v := newRemoteVerifier(t, iss, func(c *middleware.Config) { c.Now = clk.Now })
	ctx := context.Background()

	tok := iss.AccessToken(remoteResource)
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, 1, middleware.CacheLen(v))
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err, "cache hit")

	kid := iss.CurrentKeyID()
	_, err = iss.Rotate("ES256")
	require.NoError(t, err)
	require.NoError(t, iss.Unpublish(kid))
	require.NoError(t, v.Refresh(ctx))
	_, err = v.Verify(ctx, tok)
	require.ErrorIs(t, err, middleware.ErrSignature, "the key left the set: the cached verification no longer counts")
	require.Zero(t, middleware.CacheLen(v), "the stale entry was dropped")

	tok2 := iss.AccessToken(remoteResource)
	_, err = v.Verify(ctx, tok2)
	require.NoError(t, err)
	clk.Add(5*time.Minute + middleware.DefaultLeeway) // exactly exp + leeway
	_, err = v.Verify(ctx, tok2)
	require.ErrorIs(t, err, middleware.ErrExpired)
}

// TestCacheHitAllocations holds the hit path to its budget (DESIGN:
// at most 5 allocations at Verify).
func TestCacheHitAllocations(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"EdDSA"}, Now: fixedNow})
	v := newEnvWith(t, iss, nil).v
	tok := iss.AccessToken(resource, "a", "b")
	ctx := context.Background()
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	})
	require.LessOrEqual(t, allocs, 1.0, "the caller's private copy of the Claims, nothing else (DESIGN allows 5)")
}

func TestCacheEvictionKeepsTheBound(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"EdDSA"}, Now: fixedNow})
	v := newEnvWith(t, iss, func(c *middleware.Config) { c.CacheSize = 32 }).v
	for i := 0; i < 500; i++ {
		_, err := v.Verify(context.Background(), iss.AccessToken(resource))
		require.NoError(t, err)
		require.LessOrEqual(t, middleware.CacheLen(v), 32)
	}
	require.Greater(t, middleware.CacheLen(v), 16, "evicting one entry per insert keeps the cache nearly full")
}

// TestCachedClaimsSlicesAreNotWritableThroughAppend: copies handed out by
// the cache share the Audience and Scopes backing arrays (documented as
// read-only), so appending to them must reallocate rather than write into
// memory the cache and other callers share.
func TestCachedClaimsSlicesAreNotWritableThroughAppend(t *testing.T) {
	iss := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"EdDSA"}, Now: fixedNow})
	v := newEnvWith(t, iss, nil).v
	tok := iss.AccessToken(resource, "a", "b")
	c1, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, len(c1.Scopes), cap(c1.Scopes))
	require.Equal(t, len(c1.Audience), cap(c1.Audience))
	c1.Scopes = append(c1.Scopes, "injected")
	c2, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, c2.Scopes)
}
