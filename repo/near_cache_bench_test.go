package repo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
)

// The near cache's measurements (BENCHMARKS.md and RELIABILITY.md, "Near
// cache"). They are benchmarks so that a plain go test never runs them:
// they measure, they do not pass or fail on a noisy machine.
//
//	go test -run '^$' -bench 'BenchmarkNearCache$' -benchmem ./repo/
//	go test -run '^$' -bench 'BenchmarkNearCacheCluster|BenchmarkNearCacheEviction' -benchtime 1x ./repo/

// BenchmarkNearCache compares a near-cache hit with the GORM cache's Get
// on PostgreSQL, and shows what a miss costs.
func BenchmarkNearCache(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	store := gormCache(b, db, nil)
	if err := store.Put(ctx, nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, c repo.ClientIDMetadataCache) {
		b.ReportAllocs()
		for b.Loop() {
			if _, found, err := c.Get(ctx, nearURL); err != nil || !found {
				b.Fatalf("Get: %v, found %v", err, found)
			}
		}
	}
	b.Run("GormGet", func(b *testing.B) { get(b, store) })
	b.Run("Hit", func(b *testing.B) {
		n := newNear(b, store, repo.NearCacheConfig{Lifetime: time.Hour})
		get(b, n)
		if st := n.Stats(); st.Misses != 1 {
			b.Fatalf("Stats = %+v, want every Get but the first a hit", st)
		}
	})
	b.Run("HitParallel", func(b *testing.B) {
		n := newNear(b, store, repo.NearCacheConfig{Lifetime: time.Hour})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, found, err := n.Get(ctx, nearURL); err != nil || !found {
					b.Errorf("Get: %v, found %v", err, found)
					return
				}
			}
		})
	})
	// A document too large to keep: every Get reads the shared cache
	// through the near cache's own statement.
	b.Run("Miss", func(b *testing.B) { get(b, newNear(b, store, repo.NearCacheConfig{MaxBytes: 1})) })
}

// benchDatabase creates a PostgreSQL database of the benchmark's own, so
// that pg_stat_database counts its statements alone, and returns its URL.
func benchDatabase(b *testing.B) string {
	b.Helper()
	admin := benchOpen(b, testdb.URL(), 1)
	var buf [6]byte
	if _, err := rand.Read(buf[:]); err != nil {
		b.Fatal(err)
	}
	name := "near_bench_" + hex.EncodeToString(buf[:])
	testdb.MustExec(b, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	b.Cleanup(func() { testdb.MustExec(b, admin, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") })
	u, err := url.Parse(testdb.URL())
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// benchOpen opens a pool of maxConns on dsn, closed when b ends.
func benchOpen(b *testing.B, dsn string, maxConns int) *gorm.DB {
	b.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		b.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	b.Cleanup(func() { sqlDB.Close() })
	return db
}

// transactions is the number of transactions the server counted on the
// database at dsn: one per statement outside a transaction.
func transactions(b *testing.B, admin *gorm.DB, dsn string) int64 {
	b.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := admin.Raw("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = ?", u.Path[1:]).Scan(&n).Error; err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkNearCacheCluster resolves 100 hot client_ids 10,000 times over
// 30 seconds on two nodes, each a cimd.Resolver over a NearCache over the
// GORM cache, and counts on the server the transactions run meanwhile
// (every statement outside a transaction is one, the listeners' pings
// included) and the reads of the CIMD table.
// Listening is the near cache with its listener (entries live
// NotifiedLifetime); LifetimeOnly without (entries live Lifetime), as on
// SQLite and MariaDB.
func BenchmarkNearCacheCluster(b *testing.B) {
	for _, listen := range []bool{true, false} {
		name := "LifetimeOnly"
		if listen {
			name = "Listening"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				clusterRun(b, listen)
			}
		})
	}
}

func clusterRun(b *testing.B, listen bool) {
	const (
		ids         = 100
		resolutions = 10000
		duration    = 30 * time.Second
		nodes       = 2
	)
	ctx := context.Background()
	dsn := benchDatabase(b)
	admin := benchOpen(b, testdb.URL(), 1)
	setup := benchOpen(b, dsn, 1)
	testdb.CreateTables(b, setup)
	clientID := func(i int) string { return fmt.Sprintf("https://client%03d.example.com/oauth/client.json", i) }

	var fetches atomic.Int64
	type node struct {
		pool     *gorm.DB
		near     *repo.NearCache
		resolver *cimd.Resolver
	}
	var ns [nodes]node
	for i := range ns {
		ns[i].pool = benchOpen(b, dsn, 4)
		cfg := repo.NearCacheConfig{Channel: "near_bench"}
		if listen {
			cfg.Listen = func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) }
		}
		ns[i].near = newNear(b, gormCache(b, ns[i].pool, nil), cfg)
		r, err := cimd.NewResolver(&cimd.Config{Cache: ns[i].near, Fetch: func(context.Context, cimd.FetchRequest) (*cimd.Response, error) {
			fetches.Add(1)
			return nil, errors.New("every client_id is cached: no fetch expected")
		}})
		if err != nil {
			b.Fatal(err)
		}
		ns[i].resolver = r
		if listen {
			listening(b, ns[i].near)
		}
	}
	// The documents, stored once as a resolver's fetch would.
	for i := range ids {
		if err := ns[0].near.Put(ctx, clientID(i), nearDoc(clientID(i)), time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	if listen {
		waitFor(b, "both nodes heard every Put", func() bool {
			return ns[0].near.Stats().Notifications >= ids && ns[1].near.Stats().Notifications >= ids
		})
	}
	// Warm up: each node resolves each client_id once.
	warm := transactionsSettled(b, admin, dsn)
	for i := range ns {
		for id := range ids {
			if _, err := ns[i].resolver.Resolve(ctx, clientID(id)); err != nil {
				b.Fatal(err)
			}
		}
	}
	base := transactionsSettled(b, admin, dsn)
	baseReads := tableReads(b, setup)
	var missesBefore uint64
	for i := range ns {
		missesBefore += ns[i].near.Stats().Misses
	}

	b.ResetTimer()
	var wg sync.WaitGroup
	var failed atomic.Int64
	per := resolutions / nodes
	interval := duration / time.Duration(per)
	start := time.Now()
	for i := range ns {
		wg.Go(func() {
			rng := mathrand.New(mathrand.NewPCG(uint64(i), 1))
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for range per {
				<-tick.C
				if _, err := ns[i].resolver.Resolve(ctx, clientID(rng.IntN(ids))); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var misses uint64
	for i := range ns {
		misses += ns[i].near.Stats().Misses
	}
	misses -= missesBefore
	// The listeners' connections and the pools end here, so the server
	// has counted all their statements when it is asked.
	for i := range ns {
		if err := ns[i].near.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		sqlDB, _ := ns[i].pool.DB()
		sqlDB.Close()
	}
	run := transactionsSettled(b, admin, dsn) - base
	reads := tableReads(b, setup) - baseReads
	served := 100 * (1 - float64(run)/resolutions)
	b.ReportMetric(float64(resolutions), "resolutions")
	b.ReportMetric(float64(run), "server_xacts")
	b.ReportMetric(float64(reads), "table_reads")
	b.ReportMetric(served, "%_without_statement")
	b.ReportMetric(float64(misses), "near_misses")
	b.ReportMetric(float64(base-warm), "warmup_xacts")
	b.ReportMetric(elapsed.Seconds(), "run_s")
	if failed.Load() != 0 || fetches.Load() != 0 {
		b.Fatalf("%d resolutions failed, %d fetches", failed.Load(), fetches.Load())
	}
}

// tableReads is the number of scans of the CIMD table the server counted
// on setup's database: one per Get that reached it.
func tableReads(b *testing.B, setup *gorm.DB) int64 {
	b.Helper()
	var n int64
	if err := setup.Raw("SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = ?", models.ClientIDMetadataTable).Scan(&n).Error; err != nil {
		b.Fatal(err)
	}
	return n
}

// transactionsSettled reads the transaction count once the server has
// counted every statement run so far: PostgreSQL 15 flushes an idle
// backend's statistics within 10 seconds, and an ending one's at once.
func transactionsSettled(b *testing.B, admin *gorm.DB, dsn string) int64 {
	b.Helper()
	time.Sleep(11 * time.Second)
	return transactions(b, admin, dsn)
}

// BenchmarkNearCacheEviction measures how long a Delete on node A takes to
// drop node B's entry on PostgreSQL, over 1,000 evictions: from the start
// of A's Delete (which commits the DELETE and the notification in one
// transaction), and from its return, to B's listener having dropped the
// entry.
func BenchmarkNearCacheEviction(b *testing.B) {
	for range b.N {
		evictionRun(b)
	}
}

func evictionRun(b *testing.B) {
	const evictions = 1000
	ctx := context.Background()
	db := testdb.New(b)
	schema := ""
	if err := db.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		b.Fatal(err)
	}
	dbB := testdb.Open(b, schema, 4)
	channel := nearChannel(b)
	a := newNear(b, gormCache(b, db, nil), repo.NearCacheConfig{Channel: channel})
	nb := newNear(b, gormCache(b, dbB, nil), repo.NearCacheConfig{Channel: channel, Listen: (&listener{}).listen})
	dropped := make(chan time.Time, evictions+1)
	var want atomic.Pointer[string]
	repo.SetNearCacheNotified(nb, func(payload string) {
		if w := want.Load(); w != nil && *w == payload {
			dropped <- time.Now()
		}
	})
	listening(b, nb)
	urlOf := func(i int) string { return fmt.Sprintf("https://client%04d.example.com/client.json", i) }
	for i := range evictions {
		if err := a.Put(ctx, urlOf(i), nearDoc(urlOf(i)), time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	for i := range evictions {
		mustGet(b, "B fills", nb, urlOf(i), nearDoc(urlOf(i)))
	}
	if st := nb.Stats(); st.Entries != evictions {
		b.Fatalf("B holds %d entries, want %d", st.Entries, evictions)
	}
	fromStart := make([]time.Duration, 0, evictions)
	fromReturn := make([]time.Duration, 0, evictions)
	b.ResetTimer()
	for i := range evictions {
		u := urlOf(i)
		want.Store(&u)
		t0 := time.Now()
		if err := a.Delete(ctx, u); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var at time.Time
		select {
		case at = <-dropped:
		case <-time.After(30 * time.Second):
			b.Fatalf("B never dropped %s", u)
		}
		fromStart = append(fromStart, at.Sub(t0))
		fromReturn = append(fromReturn, max(0, at.Sub(t1)))
	}
	b.StopTimer()
	for i := range evictions {
		mustGet(b, "B after the eviction", nb, urlOf(i), nil)
	}
	q := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(fromStart, 0.5), "p50_ms_from_call")
	b.ReportMetric(q(fromStart, 0.99), "p99_ms_from_call")
	b.ReportMetric(q(fromStart, 1), "max_ms_from_call")
	b.ReportMetric(q(fromReturn, 0.5), "p50_ms_from_return")
	b.ReportMetric(q(fromReturn, 0.99), "p99_ms_from_return")
	b.ReportMetric(q(fromReturn, 1), "max_ms_from_return")
}
