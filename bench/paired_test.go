package bench

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// A contender is one implementation of an operation; op runs its i-th
// call.
type contender struct {
	name string
	op   func(ctx context.Context, i int) error
	// after, if set, runs untimed after each call: the scale benchmark
	// puts back what a Take removed, to keep the table's size.
	after func(ctx context.Context, i int) error
}

// percentile returns the p-th percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

// race runs every contender once per iteration, in a random order, and
// times each call. On a shared
// machine the load changes from one second to the next; contenders that
// take turns call by call see the same load, so the ratios between them
// hold even when absolute times drift. It reports, per contender, the
// mean time per call (<name>-ns/op) and the median (<name>-p50-ns), and
// the ratio of each contender's median to every baseline's
// (<name>/<baseline>). Medians, because on a shared machine a few calls
// stall for milliseconds behind other processes, and those stalls, not the
// contenders, would decide a ratio of means.
func race(b *testing.B, baselines []string, cs ...contender) {
	raceP(b, false, baselines, cs...)
}

// raceP is race that also reports the 95th and 99th percentiles
// (<name>-p95-ns, <name>-p99-ns) when percentiles is set.
func raceP(b *testing.B, percentiles bool, baselines []string, cs ...contender) {
	b.Helper()
	ctx := context.Background()
	samples := make([][]time.Duration, len(cs))
	for j := range samples {
		samples[j] = make([]time.Duration, 0, b.N)
	}
	// A new random order every iteration: a call may leave work behind it
	// (its server process finishing up, its garbage), and in a fixed or
	// rotating order each contender would always follow the same one.
	r := rand.New(rand.NewPCG(1, 2))
	order := make([]int, len(cs))
	for j := range order {
		order[j] = j
	}
	b.ResetTimer()
	for i := range b.N {
		r.Shuffle(len(order), func(a, c int) { order[a], order[c] = order[c], order[a] })
		for _, j := range order {
			start := time.Now()
			err := cs[j].op(ctx, i)
			samples[j] = append(samples[j], time.Since(start))
			if err != nil {
				b.Fatalf("%s, call %d: %v", cs[j].name, i, err)
			}
			if cs[j].after != nil {
				b.StopTimer()
				if err := cs[j].after(ctx, i); err != nil {
					b.Fatalf("%s, after call %d: %v", cs[j].name, i, err)
				}
				b.StartTimer()
			}
		}
	}
	b.StopTimer()
	means, medians := map[string]float64{}, map[string]float64{}
	for j, c := range cs {
		var sum time.Duration
		for _, d := range samples[j] {
			sum += d
		}
		means[c.name] = float64(sum) / float64(len(samples[j]))
		slices.Sort(samples[j])
		b.ReportMetric(means[c.name], c.name+"-ns/op")
		medians[c.name] = float64(percentile(samples[j], 50))
		b.ReportMetric(medians[c.name], c.name+"-p50-ns")
		if percentiles {
			b.ReportMetric(float64(percentile(samples[j], 95)), c.name+"-p95-ns")
			b.ReportMetric(float64(percentile(samples[j], 99)), c.name+"-p99-ns")
		}
	}
	for _, base := range baselines {
		for _, c := range cs {
			if c.name != base {
				b.ReportMetric(medians[c.name]/medians[base], c.name+"/"+base)
			}
		}
	}
	// The framework's own ns/op is the sum over all contenders.
	b.ReportMetric(0, "ns/op")
}

// lookupOp is a contender's read of keys, round robin, that must answer
// want.
func lookupOp(name string, keys []string, want bool, get func(context.Context, string) (bool, error)) contender {
	return contender{name: name, op: func(ctx context.Context, i int) error {
		found, err := get(ctx, keys[i%len(keys)])
		if err == nil && found != want {
			return errUnexpected(keys[i%len(keys)], found)
		}
		return err
	}}
}

func writeOp(name string, keys []string, put func(context.Context, string) error) contender {
	return contender{name: name, op: func(ctx context.Context, i int) error {
		return put(ctx, keys[i%len(keys)])
	}}
}

type unexpectedError struct {
	key   string
	found bool
}

func (e unexpectedError) Error() string {
	if e.found {
		return "found " + e.key + ", want a miss"
	}
	return "missed " + e.key + ", want a hit"
}

func errUnexpected(key string, found bool) error { return unexpectedError{key, found} }

// BenchmarkRatio races the contenders of each operation call by call; its
// ratios are the ones BENCHMARKS.md holds against the targets.
func BenchmarkRatio(b *testing.B) {
	skipShort(b)
	e := sharedEnv(b)
	d := docs(b)
	id := runID()
	// Every contender reads and upserts rows of its own, so that none finds
	// a row another has just brought into the server's caches.
	impls := []string{"gormstore", "pgx", "pgx-raw", "gorm-chain", "database-sql", "internal-path"}
	live, misses, requests := map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, impl := range impls {
		live[impl] = seed(b, e, cimdTable, "https://ratio-"+impl+"-"+id+".example/client/", d.cimdJSON, "1 hour", hotKeys)
		// Half of the misses are absent keys, half expired rows.
		misses[impl] = append(keys("https://absent-"+impl+"-"+id+".example/client/", hotKeys/2),
			seed(b, e, cimdTable, "https://expired-"+impl+"-"+id+".example/client/", d.cimdJSON, "-1 hour", hotKeys/2)...)
		requests[impl] = seed(b, e, parTable, "urn:ietf:params:oauth:request_uri:ratio-"+impl+"-"+id+"-", d.parJSON, "1 hour", hotKeys)
	}
	liveSessions := seed(b, e, sessionsTable, "ratio-"+id+"-", d.cimdJSON, "1 hour", hotKeys)
	missSessions := append(keys("absent-ratio-"+id+"-", hotKeys/2),
		seed(b, e, sessionsTable, "expired-ratio-"+id+"-", d.cimdJSON, "-1 hour", hotKeys/2)...)
	analyze(b, e)

	raw := pgxRaw{e.pgx}
	chainC, chainP := newChainCIMD(e.gorm), newChainPAR(e.gorm)
	pgxC, pgxP := pgxCIMD{e.pgx}, pgxPAR{e.pgx}
	sqlC, sqlP := sqlCIMD{e.sql}, sqlPAR{e.sql}
	intC, intP := newInternalCIMD(e.gorm), newInternalPAR(e.gorm)
	scsFind := func(_ context.Context, token string) (bool, error) {
		_, ok, err := e.scs.Find(token)
		return ok, err
	}
	expiresAt := time.Now().Add(time.Hour)
	scsCommit := func(_ context.Context, token string) error { return e.scs.Commit(token, d.cimdJSON, expiresAt) }
	bases := []string{"pgx", "scs"}

	b.Run("op=cimd-get-hit", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", live["gormstore"], true, found(e.cache.Get)),
			lookupOp("pgx", live["pgx"], true, found(pgxC.Get)),
			lookupOp("pgx-raw", live["pgx-raw"], true, func(ctx context.Context, k string) (bool, error) { return raw.read(ctx, cimdGetSQL, k) }),
			lookupOp("scs", liveSessions, true, scsFind),
			lookupOp("gorm-chain", live["gorm-chain"], true, found(chainC.Get)),
			lookupOp("database-sql", live["database-sql"], true, found(sqlC.Get)),
			lookupOp("internal-path", live["internal-path"], true, found(intC.Get)))
	})
	b.Run("op=cimd-get-miss", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", misses["gormstore"], false, found(e.cache.Get)),
			lookupOp("pgx", misses["pgx"], false, found(pgxC.Get)),
			lookupOp("scs", missSessions, false, scsFind),
			lookupOp("gorm-chain", misses["gorm-chain"], false, found(chainC.Get)),
			lookupOp("database-sql", misses["database-sql"], false, found(sqlC.Get)),
			lookupOp("internal-path", misses["internal-path"], false, found(intC.Get)))
	})
	b.Run("op=cimd-put-insert", func(b *testing.B) {
		race(b, bases,
			writeOp("gormstore", freshURLs(b, "gormstore"), d.cimdPut(e.cache, expiresAt)),
			writeOp("pgx", freshURLs(b, "pgx"), d.cimdPut(pgxC, expiresAt)),
			writeOp("scs", freshURLs(b, "scs"), scsCommit),
			writeOp("gorm-chain", freshURLs(b, "chain"), d.cimdPut(chainC, expiresAt)),
			writeOp("database-sql", freshURLs(b, "sql"), d.cimdPut(sqlC, expiresAt)),
			writeOp("internal-path", freshURLs(b, "internal"), d.cimdPut(intC, expiresAt)))
	})
	b.Run("op=cimd-put-upsert", func(b *testing.B) {
		race(b, bases,
			writeOp("gormstore", live["gormstore"], d.cimdPut(e.cache, expiresAt)),
			writeOp("pgx", live["pgx"], d.cimdPut(pgxC, expiresAt)),
			writeOp("scs", liveSessions, scsCommit),
			writeOp("gorm-chain", live["gorm-chain"], d.cimdPut(chainC, expiresAt)),
			writeOp("database-sql", live["database-sql"], d.cimdPut(sqlC, expiresAt)),
			writeOp("internal-path", live["internal-path"], d.cimdPut(intC, expiresAt)))
	})
	bases = []string{"pgx"}
	b.Run("op=par-put", func(b *testing.B) {
		race(b, bases,
			writeOp("gormstore", freshURIs(b, "gormstore"), d.parPut(e.par)),
			writeOp("pgx", freshURIs(b, "pgx"), d.parPut(pgxP)),
			writeOp("gorm-chain", freshURIs(b, "chain"), d.parPut(chainP)),
			writeOp("database-sql", freshURIs(b, "sql"), d.parPut(sqlP)),
			writeOp("internal-path", freshURIs(b, "internal"), d.parPut(intP)))
	})
	b.Run("op=par-fetch", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", requests["gormstore"], true, found(e.par.Fetch)),
			lookupOp("pgx", requests["pgx"], true, found(pgxP.Fetch)),
			lookupOp("pgx-raw", requests["pgx-raw"], true, func(ctx context.Context, k string) (bool, error) { return raw.read(ctx, parGetSQL, k) }),
			lookupOp("gorm-chain", requests["gorm-chain"], true, found(chainP.Fetch)),
			lookupOp("database-sql", requests["database-sql"], true, found(sqlP.Fetch)),
			lookupOp("internal-path", requests["internal-path"], true, found(intP.Fetch)))
	})
	b.Run("op=par-take", func(b *testing.B) {
		// One live row per contender and call, each taken once.
		takeable := func(impl string) []string {
			return seed(b, e, parTable, "urn:ietf:params:oauth:request_uri:take-"+impl+"-"+runID()+"-", d.parJSON, "1 hour", b.N)
		}
		gs, px, rw, ch, sq, in := takeable("gormstore"), takeable("pgx"), takeable("raw"), takeable("chain"), takeable("sql"), takeable("internal")
		race(b, bases,
			lookupOp("gormstore", gs, true, found(e.par.Take)),
			lookupOp("pgx", px, true, found(pgxP.Take)),
			lookupOp("pgx-raw", rw, true, func(ctx context.Context, k string) (bool, error) { return raw.read(ctx, parTakeSQL, k) }),
			lookupOp("gorm-chain", ch, true, found(chainP.Take)),
			lookupOp("database-sql", sq, true, found(sqlP.Take)),
			lookupOp("internal-path", in, true, found(intP.Take)))
	})
}
