package repo_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
	"github.com/attesto/gormstore/sweeper"
)

// 1,000 live request_uris, 16 concurrent Takes of each, half on each of
// two nodes: exactly one Take per request_uri gets it, the other 15 miss,
// nothing fails, and the table is empty afterwards.
func TestReliabilityTakeAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := testdb.Schema(t)
	dbs := [2]*repoDB{{db: testdb.Open(t, schema, 8)}, {db: testdb.Open(t, schema, 8)}}
	testdb.CreateTables(t, dbs[0].db)
	for _, n := range dbs {
		_, n.par = stores(t, n.db, nil)
	}
	const uris, takersPerNode, wave = 1000, 8, 4
	keys := make([]string, uris)
	for i := range keys {
		keys[i] = repo.NewRequestURI()
		if err := dbs[i%2].par.Put(ctx, keys[i], map[string]any{"client_id": "c", "i": i, "request_uri": keys[i]}, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := rawCount(t, dbs[0].db, parTable); n != uris {
		t.Fatalf("%d rows after %d Puts", n, uris)
	}

	var wins [uris]atomic.Int32
	var nodeWins [2]atomic.Int32
	var takes, misses, failures atomic.Int64
	var bad violations
	// Waves of 4 request_uris: their 64 Takes start together on the 16
	// connections of the two pools, so each request_uri's 16 Takes contend.
	for from := 0; from < uris; from += wave {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := from; i < min(from+wave, uris); i++ {
			for n := range dbs {
				for range takersPerNode {
					wg.Go(func() {
						<-start
						got, found, err := dbs[n].par.Take(ctx, keys[i])
						takes.Add(1)
						switch {
						case err != nil:
							failures.Add(1)
							bad.add("Take(%d) on node %d: %v", i, n, err)
						case !found:
							misses.Add(1)
						case !sameJSON(got, map[string]any{"client_id": "c", "i": i, "request_uri": keys[i]}):
							bad.add("Take(%d) returned %v", i, got)
						default:
							wins[i].Add(1)
							nodeWins[n].Add(1)
						}
					})
				}
			}
		}
		close(start)
		wg.Wait()
	}
	successes := 0
	for i := range wins {
		n := int(wins[i].Load())
		successes += n
		if n != 1 {
			bad.add("request_uri %d taken %d times, want exactly once", i, n)
		}
	}
	if successes != uris || misses.Load() != uris*(2*takersPerNode-1) || failures.Load() != 0 {
		t.Errorf("%d Takes: %d successes, %d misses, %d errors; want %d, %d, 0",
			takes.Load(), successes, misses.Load(), failures.Load(), uris, uris*(2*takersPerNode-1))
	}
	// Both nodes took part: neither pool may be idle or broken.
	if nodeWins[0].Load() == 0 || nodeWins[1].Load() == 0 {
		t.Errorf("wins per node %d and %d; want both nodes to win some", nodeWins[0].Load(), nodeWins[1].Load())
	}
	if n := rawCount(t, dbs[0].db, parTable); n != 0 {
		t.Errorf("%d rows left in %s after every request_uri was taken, want 0", n, parTable)
	}
	t.Logf("%d request_uris, %d Takes over 2 nodes: %d successes (node A %d, node B %d), %d misses, %d errors, %d rows left",
		uris, takes.Load(), successes, nodeWins[0].Load(), nodeWins[1].Load(), misses.Load(), failures.Load(), rawCount(t, dbs[0].db, parTable))
	bad.report(t, "Take across nodes")
}

type repoDB struct {
	db    *gorm.DB
	cache *repo.GormClientIDMetadataCache
	par   *repo.GormPARStore
}

// Take, Fetch and two sweepers (one per node) race on the same 2,000
// request_uris while the shared clock moves past three quarters of their
// expiries; a quarter of the requests are never taken, so that live rows
// stay for the sweeper to leave alone. Every row ends up in exactly one place: taken once, swept
// once, or still in the table; no live row is swept, no expired row is
// served, no request is served after its Take returned, and nothing fails.
func TestReliabilityTakeRacesFetchAndSweeper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := testdb.Schema(t)
	clock := repotest.NewClock(repotest.Epoch)
	cfg := &repo.Config{Now: clock.Now}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes [2]*repoDB
	var sweepers [2]*sweeper.Sweeper
	for i := range nodes {
		nodes[i] = &repoDB{db: testdb.Open(t, schema, 8)}
		if i == 0 {
			testdb.CreateTables(t, nodes[i].db)
		}
		_, nodes[i].par = stores(t, nodes[i].db, cfg)
		sw, err := sweeper.New(nodes[i].db, &sweeper.Config{Interval: time.Hour, BatchSize: 25, Now: clock.Now, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		sweepers[i] = sw
	}

	// Request i expires (i+1) ms after the epoch; the clock stops at 1,500 ms.
	const n, stopAt = 2000, 1500 * time.Millisecond
	keys := make([]string, n)
	expiry := func(i int) time.Time { return repotest.Epoch.Add(time.Duration(i+1) * time.Millisecond) }
	doc := func(i int) map[string]any { return map[string]any{"client_id": "c", "i": i} }
	for i := range keys {
		keys[i] = repo.NewRequestURI()
		if err := nodes[i%2].par.Put(ctx, keys[i], doc(i), time.Duration(i+1)*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}

	var bad violations
	var taken [n]atomic.Bool
	var takeCalls, fetchCalls, fetchHits, passes, skipped, swept atomic.Int64
	var clockDone atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for step := time.Duration(0); step < stopAt; step += time.Millisecond {
			clock.Advance(time.Millisecond)
			time.Sleep(500 * time.Microsecond)
		}
		clockDone.Store(true)
	})
	// lookups runs passes over the keys in random order until the clock
	// has stopped, and at least one whole pass.
	lookups := func(node *repoDB, take bool) {
		for pass := 0; pass == 0 || !clockDone.Load(); pass++ {
			for _, i := range rand.Perm(n) {
				if take && i%4 == 3 {
					continue // left for the fetchers and the sweeper
				}
				before := clock.Now()
				wasTaken := taken[i].Load()
				var got map[string]any
				var found bool
				var err error
				if take {
					takeCalls.Add(1)
					got, found, err = node.par.Take(ctx, keys[i])
				} else {
					fetchCalls.Add(1)
					got, found, err = node.par.Fetch(ctx, keys[i])
				}
				switch {
				case err != nil:
					bad.add("take=%v %d: %v", take, i, err)
				case !found:
				case !sameJSON(got, doc(i)):
					bad.add("take=%v %d returned %v", take, i, got)
				case !expiry(i).After(before):
					bad.add("take=%v %d served a request that expired at %v, before the call began at %v", take, i, expiry(i), before)
				case wasTaken:
					bad.add("take=%v %d served a request whose Take had already returned", take, i)
				case take:
					if taken[i].Swap(true) {
						bad.add("request %d taken twice", i)
					}
				default:
					fetchHits.Add(1)
				}
			}
		}
	}
	for _, node := range nodes {
		for range 3 {
			wg.Go(func() { lookups(node, true) })
		}
		for range 2 {
			wg.Go(func() { lookups(node, false) })
		}
	}
	sweep := func(sw *sweeper.Sweeper) {
		deleted, err := sw.SweepNow(ctx)
		passes.Add(1)
		switch {
		case errors.Is(err, sweeper.ErrLocked):
			skipped.Add(1)
		case err != nil:
			bad.add("sweep: %v", err)
		}
		swept.Add(deleted[parTable])
	}
	for _, sw := range sweepers {
		wg.Go(func() {
			for !clockDone.Load() {
				sweep(sw)
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	// A last pass at the final time, with nothing else running.
	sweep(sweepers[0])

	final := clock.Now()
	remaining := rawKeys(t, nodes[0].db, parTable)
	takenCount := 0
	for i := range keys {
		if taken[i].Load() {
			takenCount++
			if remaining[keys[i]] {
				bad.add("request %d was taken and is still in the table", i)
			}
		}
		switch {
		case expiry(i).After(final) && !taken[i].Load() && !remaining[keys[i]]:
			bad.add("request %d, live until %v, is gone but was never taken: swept while live", i, expiry(i))
		case expiry(i).Before(final) && remaining[keys[i]]:
			bad.add("request %d expired at %v and is still in the table after the final sweep at %v", i, expiry(i), final)
		}
	}
	if got := int64(takenCount) + swept.Load() + int64(len(remaining)); got != n {
		t.Errorf("%d taken + %d swept + %d left = %d, want the %d stored: a row was lost or used twice", takenCount, swept.Load(), len(remaining), got, n)
	}
	if takenCount == 0 || swept.Load() == 0 || fetchHits.Load() == 0 {
		t.Errorf("taken %d, swept %d, fetched %d: the race must exercise all three", takenCount, swept.Load(), fetchHits.Load())
	}
	t.Logf("%d requests; %d Takes, %d Fetches, %d sweep passes (%d skipped: the other node held the lock) over 2 nodes; "+
		"%d taken, %d swept, %d left live, %d fetched; errors and double uses: %d",
		n, takeCalls.Load(), fetchCalls.Load(), passes.Load(), skipped.Load(), takenCount, swept.Load(), len(remaining), fetchHits.Load(), bad.count())
	bad.report(t, "Take racing Fetch and the sweeper")
}

// 100 concurrent CIMD Puts of one URL with different documents, 50 on
// each of two nodes, five rounds: no error, one row, and that row is one
// writer's document with that same writer's expiry (no mixed upsert).
func TestReliabilityConcurrentCIMDPutsOfOneURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := testdb.Schema(t)
	clock := repotest.NewClock(repotest.Epoch)
	cfg := &repo.Config{Now: clock.Now}
	var nodes [2]*repoDB
	for i := range nodes {
		nodes[i] = &repoDB{db: testdb.Open(t, schema, 8)}
		if i == 0 {
			testdb.CreateTables(t, nodes[i].db)
		}
		nodes[i].cache, _ = stores(t, nodes[i].db, cfg)
	}
	const url, writers, rounds = "https://app.example.com/oauth/client-metadata.json", 100, 5
	doc := func(round, w int) map[string]any {
		return map[string]any{"client_id": url, "round": round, "writer": w, "pad": strings.Repeat("x", w*37)}
	}
	expires := func(round, w int) time.Time {
		return repotest.Epoch.Add(time.Hour + time.Duration(round*writers+w)*time.Second)
	}
	var bad violations
	puts := 0
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				if err := nodes[w%2].cache.Put(ctx, url, doc(round, w), expires(round, w)); err != nil {
					bad.add("round %d writer %d: %v", round, w, err)
				}
			})
		}
		close(start)
		wg.Wait()
		puts += writers
		if n := rawCount(t, nodes[0].db, cimdTable); n != 1 {
			t.Fatalf("round %d: %d rows after %d Puts of one URL, want 1", round, n, writers)
		}
		stored, exp, found := rawDocument(t, nodes[0].db, cimdTable, url)
		if !found {
			t.Fatalf("round %d: no row for %s", round, url)
		}
		winner := -1
		for w := range writers {
			if sameJSON(stored, doc(round, w)) {
				winner = w
			}
		}
		switch {
		case winner < 0:
			bad.add("round %d: the stored document %v is none of the written ones", round, stored)
		case !exp.Equal(expires(round, winner)):
			bad.add("round %d: the row holds writer %d's document with expires_at %v, but that writer wrote %v", round, winner, exp, expires(round, winner))
		}
		for i, node := range nodes {
			got, found, err := node.cache.Get(ctx, url)
			if err != nil || !found || !sameJSON(got, stored) {
				bad.add("round %d: Get on node %d = %v, %v, %v; want the stored row", round, i, found, err, got)
			}
		}
	}
	t.Logf("%d Puts of one URL in %d rounds over 2 nodes: errors and mismatches %d, rows after each round 1", puts, rounds, bad.count())
	bad.report(t, "concurrent CIMD Puts")
}
