package bench

import (
	"context"
	"flag"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	mixDuration = flag.Duration("mix.duration", 4*time.Second, "how long BenchmarkMix runs each concurrency level, split between the contenders")
	mixEpoch    = flag.Duration("mix.epoch", 200*time.Millisecond, "how long BenchmarkMix runs one contender before handing over to the next")
)

// mixConcurrency are the numbers of goroutines BenchmarkMix runs.
var mixConcurrency = []int{1, 8, 32, 64}

// mixClients is how many client_ids the CIMD cache holds live; a Get asks
// for one of them 95% of the time, and for a client never seen before
// otherwise (a miss, followed by a Put).
const mixClients = 1000

// mixContender is one implementation of the whole workload.
type mixContender struct {
	name string
	cimd cimdStore
	par  parStore
}

// mixStats are what one contender's goroutines recorded.
type mixStats struct {
	mu      sync.Mutex
	flows   int64
	elapsed time.Duration
	cpu     time.Duration // this process's CPU time, user and system
	calls   []time.Duration
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMix is an authorization server's load on the stores: each flow
// is one authorization request, a CIMD Get of its client (95% hits; a miss
// is followed by the Put a fetch would make), then a pushed request: PAR
// Put, Fetch, Take. It runs at 1, 8, 32 and 64 goroutines on pools of
// poolSize connections, for -mix.duration per level whatever b.N is (run
// it with -benchtime=1x), with the contenders taking turns every
// -mix.epoch so that all see the same machine. The contenders are the
// stores, the same statements by hand over pgxpool, and over GORM's own
// database/sql pool. It reports each contender's flows per second, the
// CPU time this process (the client) spent per flow, and p50/p95/p99 of a
// single call, and the throughput ratios to pgx.
func BenchmarkMix(b *testing.B) {
	skipShort(b)
	e := sharedEnv(b)
	d := docs(b)
	id := runID()
	hot := seed(b, e, cimdTable, "https://mix-"+id+".example/client/", d.cimdJSON, "1 hour", mixClients)
	analyze(b, e)
	contenders := []mixContender{
		{"gormstore", e.cache, e.par},
		{"pgx", pgxCIMD{e.pgx}, pgxPAR{e.pgx}},
		{"database-sql", sqlCIMD{e.sql}, sqlPAR{e.sql}},
	}
	for _, g := range mixConcurrency {
		b.Run("goroutines="+itoa(g), func(b *testing.B) {
			stats := make([]*mixStats, len(contenders))
			for k := range stats {
				stats[k] = &mixStats{}
			}
			var seq atomic.Int64
			deadline := time.Now().Add(*mixDuration)
			for epoch := 0; time.Now().Before(deadline); epoch++ {
				k := epoch % len(contenders)
				runMix(b, g, contenders[k], stats[k], hot, d, id, &seq, *mixEpoch)
			}
			flows := map[string]float64{}
			for k, c := range contenders {
				s := stats[k]
				slices.Sort(s.calls)
				flows[c.name] = float64(s.flows) / s.elapsed.Seconds()
				b.ReportMetric(flows[c.name], c.name+"-flows/s")
				b.ReportMetric(float64(s.cpu)/float64(s.flows), c.name+"-client-cpu-ns/flow")
				for _, p := range []int{50, 95, 99} {
					b.ReportMetric(float64(percentile(s.calls, p)), c.name+"-p"+itoa(p)+"-ns")
				}
			}
			b.ReportMetric(flows["gormstore"]/flows["pgx"], "gormstore/pgx-throughput")
			b.ReportMetric(flows["database-sql"]/flows["pgx"], "database-sql/pgx-throughput")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// runMix runs g goroutines of flows on c for d, adding to s.
func runMix(b *testing.B, g int, c mixContender, s *mixStats, hot []string, d documents, id string, seq *atomic.Int64, dur time.Duration) {
	ctx := context.Background()
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	var failed atomic.Value
	start, cpu := time.Now(), processCPU()
	for w := range g {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(seq.Add(1)), uint64(w)))
			var calls []time.Duration
			flows := int64(0)
			timed := func(f func() error) {
				t := time.Now()
				err := f()
				calls = append(calls, time.Since(t))
				if err != nil {
					failed.CompareAndSwap(nil, err)
				}
			}
			for time.Now().Before(stop) && failed.Load() == nil {
				n := seq.Add(1)
				client := hot[r.IntN(len(hot))]
				if r.IntN(100) < 5 {
					client = "https://new-" + id + "-" + itoa(int(n)) + ".example/client"
				}
				var hit bool
				timed(func() (err error) {
					_, hit, err = c.cimd.Get(ctx, client)
					return err
				})
				if !hit {
					timed(func() error { return c.cimd.Put(ctx, client, d.cimd, time.Now().Add(time.Hour)) })
				}
				uri := "urn:ietf:params:oauth:request_uri:mix-" + id + "-" + itoa(int(n))
				timed(func() error { return c.par.Put(ctx, uri, d.par, time.Minute) })
				timed(func() error {
					_, ok, err := c.par.Fetch(ctx, uri)
					if err == nil && !ok {
						return errUnexpected(uri, false)
					}
					return err
				})
				timed(func() error {
					_, ok, err := c.par.Take(ctx, uri)
					if err == nil && !ok {
						return errUnexpected(uri, false)
					}
					return err
				})
				flows++
			}
			s.mu.Lock()
			s.flows += flows
			s.calls = append(s.calls, calls...)
			s.mu.Unlock()
		})
	}
	wg.Wait()
	s.mu.Lock()
	s.elapsed += time.Since(start)
	s.cpu += processCPU() - cpu
	s.mu.Unlock()
	if err := failed.Load(); err != nil {
		b.Fatalf("%s: %v", c.name, err)
	}
}
