package repo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// A NearCache is a ClientIDMetadataCache like any other, on every
// database, and on PostgreSQL also while it listens.
func TestNearCacheConformance(t *testing.T) {
	t.Parallel()
	for _, d := range nearDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			repotest.RunClientIDMetadataCache(t, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
				db, _ := d.nodes(t)
				return newNear(t, gormCache(t, db, now), repo.NearCacheConfig{})
			}, nil)
		})
	}
	t.Run("PostgreSQLListening", func(t *testing.T) {
		t.Parallel()
		repotest.RunClientIDMetadataCache(t, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
			n := newNear(t, gormCache(t, testdb.New(t), now), repo.NearCacheConfig{
				Listen: (&listener{}).listen, Channel: nearChannel(t),
			})
			listening(t, n)
			return n
		}, nil)
	})
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		repotest.RunClientIDMetadataCache(t, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
			return newNear(t, repo.NewMemoryClientIDMetadataCache(&repo.Config{Now: now}), repo.NearCacheConfig{})
		}, nil)
	})
}

// After the read that fills it, an entry is served without a statement.
func TestNearCacheServesHitsWithoutStatements(t *testing.T) {
	t.Parallel()
	for _, d := range nearDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db, _ := d.nodes(t)
			rec := &testdb.Recorder{}
			clock := repotest.NewClock(repotest.Epoch)
			n := newNear(t, gormCache(t, rec.On(db), clock.Now), repo.NearCacheConfig{})
			mustDo(t, "Put", n.Put(context.Background(), nearURL, nearDoc(nearURL), clock.Now().Add(time.Hour)))
			before := len(rec.Statements())
			mustGet(t, "first Get", n, nearURL, nearDoc(nearURL))
			if got := selects(rec, before); got != 1 {
				t.Fatalf("the first Get ran %d SELECTs, want 1", got)
			}
			filled := len(rec.Statements())
			for range 100 {
				clock.Advance(40 * time.Millisecond) // 4 s in all: within the 5 s Lifetime
				mustGet(t, "Get", n, nearURL, nearDoc(nearURL))
			}
			if got := rec.Statements()[filled:]; len(got) != 0 {
				t.Fatalf("100 Gets of a kept entry ran %d statements, the first %q; want none", len(got), got[0].Query)
			}
			if st := n.Stats(); st.Hits != 100 || st.Misses != 1 {
				t.Fatalf("Stats = %+v, want 100 hits and 1 miss", st)
			}
		})
	}
}

// Concurrent misses for one URL make one read of the shared cache, whose
// document every caller gets, each a copy of its own.
func TestNearCacheSingleFlight(t *testing.T) {
	t.Parallel()
	const callers = 16
	for _, d := range nearDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db, _ := d.nodes(t)
			rec := &testdb.Recorder{}
			store := gormCache(t, rec.On(db), nil)
			mustDo(t, "Put", store.Put(context.Background(), nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)))
			inner := &gatedCache{ClientIDMetadataCache: store}
			n := newNear(t, inner, repo.NearCacheConfig{})
			before := len(rec.Statements())
			inner.close()
			docs := make([]map[string]any, callers)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					var found bool
					docs[i], found, errs[i] = n.Get(context.Background(), nearURL)
					if errs[i] == nil && !found {
						errs[i] = errors.New("miss")
					}
				})
			}
			// Hold the one read until every other caller waits for it.
			waitFor(t, "every caller waits for the one read", func() bool {
				return repo.NearCacheWaiters(n, nearURL) == callers-1
			})
			inner.open()
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("caller %d: %v", i, err)
				}
				if !repotest.JSONEqual(docs[i], nearDoc(nearURL)) {
					t.Fatalf("caller %d got %v", i, docs[i])
				}
			}
			if got := inner.gets.Load(); got != 1 {
				t.Fatalf("%d concurrent Gets made %d reads of the shared cache, want 1", callers, got)
			}
			if got := selects(rec, before); got != 1 {
				t.Fatalf("%d concurrent Gets ran %d SELECTs on the server, want 1", callers, got)
			}
			if st := n.Stats(); st.Misses != 1 || st.Shared != callers-1 {
				t.Fatalf("Stats = %+v, want 1 miss and %d shared", st, callers-1)
			}
			// Copies: one caller's change is nobody else's.
			docs[0]["redirect_uris"].([]any)[0] = "https://evil.example/cb"
			docs[0]["client_name"] = "changed"
			for i := 1; i < callers; i++ {
				if !repotest.JSONEqual(docs[i], nearDoc(nearURL)) {
					t.Fatalf("caller %d sees caller 0's change: %v", i, docs[i])
				}
			}
			mustGet(t, "Get of the kept entry", n, nearURL, nearDoc(nearURL))
		})
	}
}

// A caller whose own context ends while it reads for others fails alone:
// the others read again rather than get its cancellation.
func TestNearCacheWaitersReadAgainWhenTheReaderGivesUp(t *testing.T) {
	t.Parallel()
	inner := &gatedCache{ClientIDMetadataCache: repo.NewMemoryClientIDMetadataCache(nil)}
	mustDo(t, "Put", inner.Put(context.Background(), nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)))
	n := newNear(t, inner, repo.NearCacheConfig{})
	inner.close()
	ctx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, _, err := n.Get(ctx, nearURL)
		leaderErr <- err
	}()
	waitFor(t, "the first caller reads", func() bool { return repo.NearCacheWaiters(n, nearURL) == 0 })
	type result struct {
		doc   map[string]any
		found bool
		err   error
	}
	waiter := make(chan result, 1)
	go func() {
		doc, found, err := n.Get(context.Background(), nearURL)
		waiter <- result{doc, found, err}
	}()
	waitFor(t, "the second caller waits", func() bool { return repo.NearCacheWaiters(n, nearURL) == 1 })
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled caller's Get = %v, want context.Canceled", err)
	}
	// The waiter now reads for itself, and is held by the gate in turn.
	waitFor(t, "the waiter reads again", func() bool { return inner.gets.Load() == 2 })
	inner.open()
	r := <-waiter
	if r.err != nil || !r.found || !repotest.JSONEqual(r.doc, nearDoc(nearURL)) {
		t.Fatalf("the waiter's Get = %v, %v, %v; want the document", r.doc, r.found, r.err)
	}
}

// A failed read is an error for every caller that shared it, never a
// miss, and nothing of it is kept: the next Get reads again.
func TestNearCacheErrorsAreErrorsAndNotKept(t *testing.T) {
	t.Parallel()
	for _, d := range nearDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db, other := d.nodes(t)
			store := gormCache(t, db, nil)
			mustDo(t, "Put", store.Put(context.Background(), nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)))
			injected := errors.New("injected failure")
			inner := &gatedCache{ClientIDMetadataCache: store}
			n := newNear(t, inner, repo.NearCacheConfig{})

			inner.failWith(injected)
			inner.close()
			const callers = 4
			errs := make(chan error, callers)
			for range callers {
				go func() {
					doc, found, err := n.Get(context.Background(), nearURL)
					if err == nil {
						err = fmt.Errorf("no error (found %v, %v)", found, doc)
					}
					errs <- err
				}()
			}
			waitFor(t, "every caller shares the read", func() bool {
				return repo.NearCacheWaiters(n, nearURL) == callers-1
			})
			inner.open()
			for range callers {
				if err := <-errs; !errors.Is(err, injected) {
					t.Fatalf("Get = %v, want the shared cache's error", err)
				}
			}
			inner.failWith(nil)
			mustGet(t, "Get after the failure", n, nearURL, nearDoc(nearURL))
			if got := inner.gets.Load(); got != 2 {
				t.Fatalf("the shared cache was read %d times, want 2: the failure must not be kept", got)
			}

			// A real database failure, on a near cache of its own over a
			// closed pool, is an error too.
			broken := newNear(t, gormCache(t, other, nil), repo.NearCacheConfig{})
			sqlDB, err := other.DB()
			mustDo(t, "DB", err)
			mustDo(t, "close", sqlDB.Close())
			if doc, found, err := broken.Get(context.Background(), nearURL); err == nil || found || doc != nil {
				t.Fatalf("Get on a closed pool = %v, %v, %v; want an error", doc, found, err)
			}
			if st := broken.Stats(); st.Entries != 0 {
				t.Fatalf("a failed read left %d entries", st.Entries)
			}
		})
	}
}

// An entry is never served at or after the shared entry's expires_at,
// however long its Lifetime: the step clock walks across the expiry with
// entries kept all along.
func TestNearCacheNeverServesPastExpiresAt(t *testing.T) {
	t.Parallel()
	type cacheCase struct {
		name  string
		inner func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache
		// foreign: the near cache needs the clock given, which it takes
		// from the caches of this package by default.
		foreign bool
	}
	cases := []cacheCase{
		{"Memory", func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
			return repo.NewMemoryClientIDMetadataCache(&repo.Config{Now: now})
		}, false},
		{"ExpiringCache", func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
			return &expiringCache{ClientIDMetadataCache: repo.NewMemoryClientIDMetadataCache(&repo.Config{Now: now})}
		}, true},
	}
	for _, d := range nearDialects {
		cases = append(cases, cacheCase{d.name, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
			db, _ := d.nodes(t)
			return gormCache(t, db, now)
		}, false})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := repotest.NewClock(repotest.Epoch)
			// A Lifetime past the expiry; on the GORM caches, a tenth of it
			// (the shorter of the two terms an entry may be kept for) is
			// within it.
			cfg := repo.NearCacheConfig{Lifetime: 10 * time.Second}
			if tc.foreign {
				cfg.Now = clock.Now
			}
			n := newNear(t, tc.inner(t, clock.Now), cfg)
			expiry := clock.Now().Add(3 * time.Second)
			mustDo(t, "Put", n.Put(context.Background(), nearURL, nearDoc(nearURL), expiry))
			for step := time.Duration(0); step <= 5*time.Second; step += 100 * time.Millisecond {
				clock.Set(repotest.Epoch.Add(step))
				want := nearDoc(nearURL)
				if !clock.Now().Before(expiry) {
					want = nil
				}
				mustGet(t, fmt.Sprintf("Get at +%v", step), n, nearURL, want)
			}
			// Served from memory for most of its life, so the walk above
			// did test the entries.
			if st := n.Stats(); st.Hits < 10 {
				t.Fatalf("Stats = %+v: too few hits for the test to mean anything", st)
			}
		})
	}
}

// expiringCache is a cache of another kind that says when its entries
// expire.
type expiringCache struct {
	repo.ClientIDMetadataCache

	mu      sync.Mutex
	expires map[string]time.Time
}

func (c *expiringCache) Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error {
	if err := c.ClientIDMetadataCache.Put(ctx, url, doc, expiresAt); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expires == nil {
		c.expires = map[string]time.Time{}
	}
	c.expires[url] = expiresAt
	return nil
}

func (c *expiringCache) GetWithExpiry(ctx context.Context, url string) (map[string]any, time.Time, bool, error) {
	doc, found, err := c.Get(ctx, url)
	c.mu.Lock()
	defer c.mu.Unlock()
	return doc, c.expires[url], found, err
}

// Without a listener (always on SQLite and MariaDB), a node serves what
// another node replaced or deleted for Lifetime at most, and serves it
// from memory until then.
func TestNearCacheLifetimeBoundsStaleness(t *testing.T) {
	t.Parallel()
	for _, d := range nearDialects {
		for _, lifetime := range []time.Duration{0, 2 * time.Second} {
			bound := lifetime
			if bound == 0 {
				bound = repo.DefaultNearCacheLifetime
			}
			t.Run(fmt.Sprintf("%s/Lifetime=%v", d.name, lifetime), func(t *testing.T) {
				t.Parallel()
				dbA, dbB := d.nodes(t)
				clock := repotest.NewClock(repotest.Epoch)
				cfg := repo.NearCacheConfig{Lifetime: lifetime}
				a := newNear(t, gormCache(t, dbA, clock.Now), cfg)
				b := newNear(t, gormCache(t, dbB, clock.Now), cfg)
				ctx := context.Background()
				old, replaced := nearDoc(nearURL), nearDoc(nearURL)
				replaced["client_name"] = "Replaced"

				for _, write := range []struct {
					name string
					do   func() error
					want map[string]any
				}{
					{"Put", func() error { return a.Put(ctx, nearURL, replaced, clock.Now().Add(time.Hour)) }, replaced},
					{"Delete", func() error { return a.Delete(ctx, nearURL) }, nil},
					{"DeleteAll", func() error { return a.DeleteAll(ctx) }, nil},
				} {
					mustDo(t, "Put", a.Put(ctx, nearURL, old, clock.Now().Add(time.Hour)))
					mustGet(t, write.name+": B fills its entry", b, nearURL, old)
					filled := clock.Now()
					mustDo(t, write.name+" on A", write.do())
					hits := b.Stats().Hits
					clock.Set(filled.Add(bound - time.Millisecond))
					mustGet(t, write.name+": B within Lifetime serves its entry", b, nearURL, old)
					if b.Stats().Hits != hits+1 {
						t.Fatalf("%s: B's last Get was not served from memory", write.name)
					}
					clock.Set(filled.Add(bound))
					mustGet(t, write.name+": B at Lifetime reads the shared cache", b, nearURL, write.want)
					mustDo(t, "reset", b.DeleteAll(ctx))
				}
			})
		}
	}
}

// Memory is bounded by entry count and by bytes; the least recently used
// entry goes first, and a document larger than the whole budget is served
// but not kept.
func TestNearCacheLRU(t *testing.T) {
	t.Parallel()
	for _, d := range nearDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, _ := d.nodes(t)
			store := gormCache(t, db, nil)
			url := func(i int) string { return fmt.Sprintf("https://app%d.example.com/client.json", i) }
			for i := range 6 {
				mustDo(t, "Put", store.Put(ctx, url(i), nearDoc(url(i)), time.Now().Add(time.Hour)))
			}
			// kept reports whether a Get of url is served from memory.
			kept := func(t *testing.T, n *repo.NearCache, url string) bool {
				t.Helper()
				misses := n.Stats().Misses
				mustGet(t, "Get", n, url, nearDoc(url))
				return n.Stats().Misses == misses
			}

			t.Run("ByCount", func(t *testing.T) {
				n := newNear(t, store, repo.NearCacheConfig{MaxEntries: 3})
				for i := range 3 {
					kept(t, n, url(i))
				}
				if !kept(t, n, url(0)) { // 0 is now the most recently used
					t.Fatal("entry 0 was not kept")
				}
				kept(t, n, url(3)) // evicts 1, the least recently used
				if st := n.Stats(); st.Entries != 3 || st.Evictions != 1 {
					t.Fatalf("Stats = %+v, want 3 entries and 1 eviction", st)
				}
				for _, i := range []int{0, 2, 3} {
					if !kept(t, n, url(i)) {
						t.Fatalf("entry %d was evicted", i)
					}
				}
				if kept(t, n, url(1)) {
					t.Fatal("entry 1, the least recently used, was kept")
				}
			})

			t.Run("ByBytes", func(t *testing.T) {
				size := repo.NearCacheEntrySize(url(0), nearDoc(url(0)))
				for i := range 4 {
					if s := repo.NearCacheEntrySize(url(i), nearDoc(url(i))); s != size {
						t.Fatalf("entries %d and 0 differ in size: %d, %d", i, s, size)
					}
				}
				n := newNear(t, store, repo.NearCacheConfig{MaxBytes: 3*size - 1})
				kept(t, n, url(0))
				kept(t, n, url(1))
				if !kept(t, n, url(0)) {
					t.Fatal("entry 0 was not kept")
				}
				kept(t, n, url(2)) // three do not fit: evicts 1
				if st := n.Stats(); st.Entries != 2 || st.Bytes != 2*size || st.Evictions != 1 {
					t.Fatalf("Stats = %+v, want 2 entries of %d bytes and 1 eviction", st, size)
				}
				if !kept(t, n, url(0)) || !kept(t, n, url(2)) {
					t.Fatal("a recently used entry was evicted")
				}
				if kept(t, n, url(1)) {
					t.Fatal("entry 1, the least recently used, was kept")
				}

				big := newNear(t, store, repo.NearCacheConfig{MaxBytes: size - 1})
				if kept(t, big, url(0)) || kept(t, big, url(0)) {
					t.Fatal("a document larger than MaxBytes was kept")
				}
				if st := big.Stats(); st.Entries != 0 || st.Bytes != 0 {
					t.Fatalf("Stats = %+v, want nothing kept", st)
				}
			})
		})
	}
}

// Put, Delete and DeleteAll reach the shared cache and drop the local
// entry, so this node never serves what it just replaced.
func TestNearCacheWritesThrough(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		inner func(t *testing.T) repo.ClientIDMetadataCache
	}{
		{"Memory", func(t *testing.T) repo.ClientIDMetadataCache { return repo.NewMemoryClientIDMetadataCache(nil) }},
	}
	for _, d := range nearDialects {
		cases = append(cases, struct {
			name  string
			inner func(t *testing.T) repo.ClientIDMetadataCache
		}{d.name, func(t *testing.T) repo.ClientIDMetadataCache {
			db, _ := d.nodes(t)
			return gormCache(t, db, nil)
		}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			inner := tc.inner(t)
			n := newNear(t, inner, repo.NearCacheConfig{Lifetime: time.Hour})
			other := nearURL + "?v=2"
			replaced := nearDoc(nearURL)
			replaced["client_name"] = "Replaced"
			exp := time.Now().Add(time.Hour)

			mustDo(t, "Put", n.Put(ctx, nearURL, nearDoc(nearURL), exp))
			mustDo(t, "Put other", n.Put(ctx, other, nearDoc(other), exp))
			mustGet(t, "Get", n, nearURL, nearDoc(nearURL))
			mustGet(t, "Get other", n, other, nearDoc(other))

			mustDo(t, "Put again", n.Put(ctx, nearURL, replaced, exp))
			mustGet(t, "shared cache after Put", inner, nearURL, replaced)
			mustGet(t, "Get after Put", n, nearURL, replaced)

			mustDo(t, "Delete", n.Delete(ctx, nearURL))
			mustGet(t, "shared cache after Delete", inner, nearURL, nil)
			mustGet(t, "Get after Delete", n, nearURL, nil)
			mustGet(t, "Get of another URL", n, other, nearDoc(other))

			mustDo(t, "Put back", n.Put(ctx, nearURL, nearDoc(nearURL), exp))
			mustGet(t, "Get", n, nearURL, nearDoc(nearURL))
			mustDo(t, "DeleteAll", n.DeleteAll(ctx))
			mustGet(t, "shared cache after DeleteAll", inner, other, nil)
			mustGet(t, "Get after DeleteAll", n, nearURL, nil)
			mustGet(t, "Get of the other after DeleteAll", n, other, nil)
			if st := n.Stats(); st.Entries != 0 {
				t.Fatalf("Stats = %+v, want nothing kept", st)
			}

			// A refused write writes nothing and leaves the entry.
			mustDo(t, "Put", n.Put(ctx, nearURL, nearDoc(nearURL), exp))
			mustGet(t, "Get", n, nearURL, nearDoc(nearURL))
			if err := n.Put(ctx, nearURL, replaced, time.Time{}); err == nil {
				t.Fatal("Put without expires_at succeeded")
			}
			mustGet(t, "Get after a refused Put", n, nearURL, nearDoc(nearURL))
		})
	}
}

// A read under way when the URL is written keeps nothing: it may still
// answer its callers (they asked before the write), but a Get after the
// write reads the shared cache again rather than join it or find what it
// read.
func TestNearCacheReadUnderWayKeepsNothingAfterAWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, write := range []struct {
		name string
		do   func(n *repo.NearCache) error
	}{
		{"Put", func(n *repo.NearCache) error { return n.Put(ctx, nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)) }},
		{"Delete", func(n *repo.NearCache) error { return n.Delete(ctx, nearURL) }},
		{"DeleteAll", func(n *repo.NearCache) error { return n.DeleteAll(ctx) }},
	} {
		t.Run(write.name, func(t *testing.T) {
			t.Parallel()
			inner := &gatedCache{ClientIDMetadataCache: repo.NewMemoryClientIDMetadataCache(nil)}
			old := nearDoc(nearURL)
			old["client_name"] = "Old"
			mustDo(t, "Put", inner.Put(ctx, nearURL, old, time.Now().Add(time.Hour)))
			n := newNear(t, inner, repo.NearCacheConfig{Lifetime: time.Hour})
			inner.close()
			first := make(chan error, 1)
			go func() {
				_, _, err := n.Get(ctx, nearURL)
				first <- err
			}()
			waitFor(t, "the read is under way", func() bool { return repo.NearCacheWaiters(n, nearURL) == 0 })
			mustDo(t, write.name, write.do(n))
			second := make(chan error, 1)
			go func() {
				_, _, err := n.Get(ctx, nearURL)
				second <- err
			}()
			waitFor(t, "a Get after the write reads again", func() bool { return inner.gets.Load() == 2 })
			inner.open()
			mustDo(t, "first Get", <-first)
			mustDo(t, "second Get", <-second)
			var want map[string]any
			entries := 0
			if write.name == "Put" {
				want, entries = nearDoc(nearURL), 1
			}
			if st := n.Stats(); st.Entries != entries || st.Misses != 2 || st.Shared != 0 {
				t.Fatalf("Stats = %+v, want %d entries, from the second read only", st, entries)
			}
			mustGet(t, "Get", n, nearURL, want)
		})
	}
}

// A document served from the near cache is still checked by the
// resolver, and one that fails the checks is evicted from both caches.
func TestNearCacheHitsAreCheckedByTheResolver(t *testing.T) {
	t.Parallel()
	for _, d := range nearDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, _ := d.nodes(t)
			store := gormCache(t, db, nil)
			n := newNear(t, store, repo.NearCacheConfig{Lifetime: time.Hour})
			url := "https://app.example.com/client.json"
			doc := nearDoc(url)
			mustDo(t, "Put", n.Put(ctx, url, doc, time.Now().Add(time.Hour)))
			mustGet(t, "fill", n, url, doc)
			strict, err := cimd.NewResolver(&cimd.Config{
				Cache: n,
				Fetch: func(context.Context, cimd.FetchRequest) (*cimd.Response, error) {
					return nil, errors.New("no fetch in this test")
				},
				Rules: []cimd.Rule{func(clientID string, doc map[string]any) error {
					if doc["client_name"] == "Example App" {
						return errors.New("this node refuses Example App")
					}
					return nil
				}},
			})
			mustDo(t, "NewResolver", err)
			hits := n.Stats().Hits
			if _, err := strict.Resolve(ctx, url); err == nil {
				t.Fatal("Resolve served a cached document its Rule refuses")
			}
			if n.Stats().Hits != hits+1 {
				t.Fatal("the refused document did not come from the near cache")
			}
			mustGet(t, "near cache after the refusal", n, url, nil)
			mustGet(t, "shared cache after the refusal", store, url, nil)
		})
	}
}

// Bad configurations are refused at construction.
func TestNearCacheConfig(t *testing.T) {
	t.Parallel()
	mem := repo.NewMemoryClientIDMetadataCache(nil)
	if _, err := repo.NewNearCache(nil, nil); !errors.Is(err, repo.ErrNoDB) {
		t.Fatalf("NewNearCache(nil) = %v, want ErrNoDB", err)
	}
	if _, err := repo.NewNearCache(mem, nil); err != nil {
		t.Fatalf("NewNearCache with a nil config: %v", err)
	}
	var zero repo.NearCache
	ctx := context.Background()
	if _, _, err := zero.Get(ctx, nearURL); !errors.Is(err, repo.ErrNoDB) {
		t.Errorf("Get on a zero NearCache = %v, want ErrNoDB", err)
	}
	for name, err := range map[string]error{
		"Put":       zero.Put(ctx, nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)),
		"Delete":    zero.Delete(ctx, nearURL),
		"DeleteAll": zero.DeleteAll(ctx),
		"Start":     zero.Start(ctx),
	} {
		if !errors.Is(err, repo.ErrNoDB) {
			t.Errorf("%s on a zero NearCache = %v, want ErrNoDB", name, err)
		}
	}
	if err := zero.Stop(ctx); err != nil {
		t.Errorf("Stop on a zero NearCache = %v", err)
	}
	listen := (&listener{}).listen
	for name, cfg := range map[string]repo.NearCacheConfig{
		"negative Lifetime":         {Lifetime: -time.Second},
		"negative NotifiedLifetime": {NotifiedLifetime: -time.Second},
		"negative MaxEntries":       {MaxEntries: -1},
		"negative MaxBytes":         {MaxBytes: -1},
		"negative CheckInterval":    {CheckInterval: -time.Second},
		"channel too long":          {Channel: string(make([]byte, 64))},
		"Listen over memory":        {Listen: listen},
	} {
		if _, err := repo.NewNearCache(mem, &cfg); err == nil {
			t.Errorf("%s: NewNearCache succeeded", name)
		}
	}
	for _, d := range nearDialects {
		if d.name == "PostgreSQL" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			db, _ := d.nodes(t)
			if _, err := repo.NewNearCache(gormCache(t, db, nil), &repo.NearCacheConfig{Listen: listen}); err == nil {
				t.Fatalf("Listen over %s was accepted: there is no channel there", d.name)
			}
		})
	}
}
