package bench

import (
	"context"
	"flag"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/sweeper"
)

var (
	sweepRows     = flag.Int("sweep.rows", 1_000_000, "expired rows BenchmarkSweep reclaims")
	sweepIdle     = flag.Duration("sweep.idle", 10*time.Second, "how long BenchmarkSweep measures Get latency before the sweep")
	sweepEvery    = flag.Duration("sweep.every", 2*time.Millisecond, "the pace of each BenchmarkSweep reader: one Get per interval")
	sweepPutEvery = flag.Duration("sweep.put-every", 20*time.Millisecond, "the pace of BenchmarkSweep's writer: one Put of an expired document per interval")
	sweepTry      = flag.String("sweep.try", "", "more sweeper batch sizes for BenchmarkSweep to run, separated by commas (250,500)")
)

const (
	// sweepReaders Get live documents while the expired rows go.
	sweepReaders = 2
	sweepLive    = 10_000
	// fillSweepSQL: $1 expired rows, expired over the last day, and
	// sweepLive live ones the readers Get.
	fillSweepExpiredSQL = `INSERT INTO attesto_client_id_metadata (url, metadata, expires_at, inserted_at)
SELECT 'https://expired-' || i || '.example/client', $2::jsonb,
       now() - interval '1 second' - (i % 86400) * interval '1 second', now() - interval '2 days'
FROM generate_series(0, $1::int - 1) i`
	fillSweepLiveSQL = `INSERT INTO attesto_client_id_metadata (url, metadata, expires_at, inserted_at)
SELECT 'https://live-' || i || '.example/client', $2::jsonb, now() + interval '1 day', now()
FROM generate_series(0, $1::int - 1) i`
	// unbatchedDeleteSQL is attesto_phoenix's sweep: Repo.delete_all of
	// every expired row, one statement.
	unbatchedDeleteSQL = `DELETE FROM attesto_client_id_metadata WHERE expires_at < ?`
)

// BenchmarkSweep reclaims -sweep.rows expired rows from the CIMD table,
// by the sweeper package (batches of sweeper.DefaultBatchSize, each its
// own statement, and batches of 1,000) and by one unbatched DELETE ... WHERE
// expires_at < now,
// while sweepReaders goroutines Get live documents from the same table at
// a steady pace (one Get per -sweep.every each), and one writer re-puts
// expired documents (one Put per -sweep.put-every: the re-fetch of a
// client whose document expired, which must wait for a delete holding its
// row). Each run starts from a freshly filled, vacuumed and checkpointed
// table; run it with -benchtime=1x. It reports the sweep's duration and
// rate, the readers' p50 and p99 before (idle) and during the sweep and
// the ratio of the two p99s, and the writer's p99 and slowest Put during
// the sweep.
func BenchmarkSweep(b *testing.B) {
	skipShort(b)
	type method struct {
		name  string
		batch int
	}
	methods := []method{
		{name: "sweeper"},
		{name: "sweeper-batch-1000", batch: 1000},
		{name: "unbatched-delete"},
	}
	if *sweepTry != "" {
		for _, n := range strings.Split(*sweepTry, ",") {
			batch, err := strconv.Atoi(n)
			if err != nil || batch <= 0 {
				b.Fatalf("-sweep.try: %q is not a batch size", n)
			}
			methods = append(methods, method{name: "sweeper-batch-" + n, batch: batch})
		}
	}
	for _, m := range methods {
		b.Run("method="+m.name, func(b *testing.B) {
			for range b.N {
				sweepOnce(b, m.name, m.batch)
			}
		})
	}
}

// sweepOnce runs one sweep by method; batchSize is the sweeper's, 0 its
// default.
func sweepOnce(b *testing.B, method string, batchSize int) {
	b.StopTimer()
	ctx := context.Background()
	d := docs(b)
	e, closeEnv := openEnv(b, "sweep")
	defer closeEnv()
	for _, step := range []struct {
		sql  string
		args []any
	}{
		{fillSweepExpiredSQL, []any{*sweepRows, d.cimdJSON}},
		{fillSweepLiveSQL, []any{sweepLive, d.cimdJSON}},
		{vacuumSQL, nil},
		{checkpointSQL, nil},
	} {
		if _, err := e.pgx.Exec(ctx, step.sql, step.args...); err != nil {
			b.Fatalf("sweep fill: %v", err)
		}
	}
	sw, err := sweeper.New(e.gorm, &sweeper.Config{
		Interval:  time.Hour,
		Timeout:   time.Hour,
		BatchSize: batchSize,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}

	// The readers record each Get's latency in the phase it started in.
	var phase atomic.Int32 // 0 idle, 1 sweeping, 2 done
	lat := [2][]time.Duration{}
	var mu sync.Mutex
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := range sweepReaders {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var mine [2][]time.Duration
			next := time.Now()
			for {
				p := phase.Load()
				if p == 2 {
					break
				}
				key := "https://live-" + itoa(r.IntN(sweepLive)) + ".example/client"
				start := time.Now()
				_, ok, err := e.cache.Get(ctx, key)
				mine[p] = append(mine[p], time.Since(start))
				if err == nil && !ok {
					err = errUnexpected(key, false)
				}
				if err != nil {
					failed.CompareAndSwap(nil, err)
					break
				}
				// A steady pace: skip the slots a slow Get overran.
				next = next.Add(*sweepEvery)
				if now := time.Now(); next.Before(now) {
					next = now
				}
				time.Sleep(time.Until(next))
			}
			mu.Lock()
			lat[0] = append(lat[0], mine[0]...)
			lat[1] = append(lat[1], mine[1]...)
			mu.Unlock()
		})
	}

	// The writer refreshes expired rows, each once, in a random order.
	var puts atomic.Int64
	putLat := [2][]time.Duration{}
	wg.Go(func() {
		r := rand.New(rand.NewPCG(99, 7))
		for {
			p := phase.Load()
			if p == 2 {
				return
			}
			key := "https://expired-" + itoa(r.IntN(*sweepRows)) + ".example/client"
			start := time.Now()
			err := e.cache.Put(ctx, key, d.cimd, time.Now().Add(time.Hour))
			putLat[p] = append(putLat[p], time.Since(start))
			if err != nil {
				failed.CompareAndSwap(nil, err)
				return
			}
			puts.Add(1)
			time.Sleep(*sweepPutEvery)
		}
	})

	time.Sleep(*sweepIdle)
	phase.Store(1)
	b.StartTimer()
	start := time.Now()
	var deleted int64
	switch method {
	default:
		var counts map[string]int64
		counts, err = sw.SweepNow(ctx)
		for _, n := range counts {
			deleted += n
		}
	case "unbatched-delete":
		res := e.gorm.WithContext(ctx).Exec(unbatchedDeleteSQL, time.Now().UTC())
		deleted, err = res.RowsAffected, res.Error
	}
	took := time.Since(start)
	b.StopTimer()
	phase.Store(2)
	wg.Wait()
	if err != nil {
		b.Fatalf("%s: %v", method, err)
	}
	if ferr := failed.Load(); ferr != nil {
		b.Fatalf("reader: %v", ferr)
	}
	// A refreshed row is live again and stays; a row the writer put back
	// after the sweep deleted it is a new live row.
	if deleted > int64(*sweepRows) || deleted < int64(*sweepRows)-puts.Load() {
		b.Fatalf("%s deleted %d rows, want %d less at most the %d refreshed", method, deleted, *sweepRows, puts.Load())
	}
	for p := range lat {
		slices.Sort(lat[p])
		slices.Sort(putLat[p])
		if len(lat[p]) == 0 || len(putLat[p]) == 0 {
			b.Fatalf("no Get or no Put in phase %d", p)
		}
	}
	b.ReportMetric(took.Seconds(), "sweep-s")
	b.ReportMetric(float64(deleted)/took.Seconds(), "rows/s")
	b.ReportMetric(float64(percentile(lat[0], 50)), "idle-get-p50-ns")
	b.ReportMetric(float64(percentile(lat[0], 99)), "idle-get-p99-ns")
	b.ReportMetric(float64(percentile(lat[1], 50)), "sweep-get-p50-ns")
	b.ReportMetric(float64(percentile(lat[1], 99)), "sweep-get-p99-ns")
	b.ReportMetric(float64(percentile(lat[1], 99))/float64(percentile(lat[0], 99)), "p99-sweep/idle")
	b.ReportMetric(float64(len(lat[1])), "gets-during-sweep")
	b.ReportMetric(float64(percentile(putLat[0], 99)), "idle-put-p99-ns")
	b.ReportMetric(float64(percentile(putLat[1], 99)), "sweep-put-p99-ns")
	b.ReportMetric(float64(putLat[1][len(putLat[1])-1]), "sweep-put-max-ns")
}
