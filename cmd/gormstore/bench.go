package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/migrate"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/sweeper"
)

// benchConfig is the bench's flags, checked.
type benchConfig struct {
	duration    time.Duration
	concurrency int
	clients     int
	expired     int
	sweepEvery  time.Duration
	json        bool
	progress    bool
}

// progressTick is how often the progress line is redrawn.
const progressTick = 250 * time.Millisecond

func (c *cli) bench(ctx context.Context, args []string) error {
	flags := newFlagSet("bench", "[--dsn DSN] [--duration D] [--concurrency N] [--json]",
		`Runs a realistic mixed workload against the stores for --duration and prints
the throughput and the p50/p95/p99 latency of each operation.

Each worker repeats, at even odds, a CIMD lookup (cimd_get of a client; 95% of
them hit the warm set, the rest miss and cimd_put the fetched document) or a
pushed request's life (par_push, par_fetch, par_take; 10% are abandoned after
the fetch and expire). The sweeper runs throughout, on the expired rows seeded
before the run (--expired per table) and on those the run leaves. Every row
the bench writes expires within a minute of the run's planned end.

Any failed operation, or a pushed request not found moment later, is counted
and reported, and makes the exit status 1. SIGINT or SIGTERM ends the run early
and reports it; a second signal cancels the statements in flight.

On the default SQLite file the bench creates the tables itself; elsewhere it
wants them there (run 'gormstore migrate', or pass --migrate).
`)
	duration := flags.Duration("duration", 10*time.Second, "how long the workload runs")
	concurrency := flags.Int("concurrency", 8, "workers running the workload at once")
	asJSON := flags.Bool("json", false, "print one JSON object instead of the table")
	clients := flags.Int("clients", 1000, "clients in the warm set, whose metadata the cache holds")
	expired := flags.Int("expired", 1000, "expired rows seeded per table for the sweeper")
	sweepEvery := flags.Duration("sweep-every", time.Second, "the sweeper's interval during the run")
	migrateFirst := flags.Bool("migrate", false, "create the tables first where they are missing")
	progressMode := flags.String("progress", "auto", "the live progress line on stderr: auto (when stderr is a terminal), always or never")
	if err := flags.parse(c.stdout, args); err != nil {
		return err
	}
	cfg := benchConfig{duration: *duration, concurrency: *concurrency, clients: *clients, expired: *expired, sweepEvery: *sweepEvery, json: *asJSON}
	switch {
	case cfg.duration <= 0:
		return flags.usagef("--duration %v is not positive", cfg.duration)
	case cfg.concurrency < 1 || cfg.concurrency > 1024:
		return flags.usagef("--concurrency %d is not between 1 and 1024", cfg.concurrency)
	case cfg.clients < 1:
		return flags.usagef("--clients %d is not positive", cfg.clients)
	case cfg.expired < 0:
		return flags.usagef("--expired %d is negative", cfg.expired)
	case cfg.sweepEvery <= 0:
		return flags.usagef("--sweep-every %v is not positive", cfg.sweepEvery)
	}
	switch *progressMode {
	case "auto":
		cfg.progress = c.stderrTerminal
	case "always":
		cfg.progress = true
	case "never":
	default:
		return flags.usagef("--progress %q is not auto, always or never", *progressMode)
	}
	t, err := c.target(*flags.dsn)
	if err != nil {
		return err
	}

	setupCtx, stop := c.interruptible(ctx)
	defer stop()
	// The default file is the README's first command on a fresh machine:
	// nothing to set up. Elsewhere, creating tables is the operator's call.
	mode := mustExist
	if t.defaulted || *migrateFirst {
		mode = mayCreate
	}
	// A connection per worker, and the sweeper's.
	db, err := open(setupCtx, t, mode, cfg.concurrency+2)
	if err != nil {
		return err
	}
	defer closeDB(db)
	if err := c.benchTables(setupCtx, db, t, mode, cfg); err != nil {
		return err
	}
	w, err := newWorkload(db, cfg)
	if err != nil {
		return err
	}
	if err := w.seed(setupCtx, db, cfg.expired); err != nil {
		return err
	}
	stop()

	r := c.runBench(ctx, db, t, w, cfg)
	if cfg.json {
		if err := r.writeJSON(c.stdout); err != nil {
			return err
		}
	} else {
		r.print(c.stdout)
	}
	if r.Errors > 0 {
		fmt.Fprintf(c.stderr, "gormstore: bench: %d failures; the first errors:\n  %s\n", r.Errors, strings.Join(r.ErrorSamples, "\n  "))
		return errReported
	}
	return nil
}

// benchTables makes sure the tables are there: created where mode allows
// it, required otherwise.
func (c *cli) benchTables(ctx context.Context, db *gorm.DB, t target, mode openMode, cfg benchConfig) error {
	missing, err := missingTables(ctx, db)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	if mode == mustExist {
		err := requireTables(ctx, db, t)
		return fmt.Errorf("%w, or pass --migrate", err)
	}
	if err := migrate.Run(ctx, db); err != nil {
		return fmt.Errorf("create the tables in %s: %w", t, err)
	}
	if !cfg.json {
		fmt.Fprintf(c.stdout, "created %s in %s\n", listOf(missing), t)
	}
	return nil
}

func newWorkload(db *gorm.DB, cfg benchConfig) (*workload, error) {
	var id [4]byte
	_, _ = rand.Read(id[:])
	w := &workload{
		run: hex.EncodeToString(id[:]),
		// Long enough for the run and its report, short enough that the
		// warm set leaves the table soon after.
		expiry: time.Now().Add(cfg.duration + time.Minute),
	}
	var err error
	if w.cache, err = repo.NewGormClientIDMetadataCache(db, nil); err != nil {
		return nil, err
	}
	if w.pars, err = repo.NewGormPARStore(db, nil); err != nil {
		return nil, err
	}
	w.warm = make([]client, cfg.clients)
	for i := range w.warm {
		w.warm[i] = newClient(w.run, "warm", i)
	}
	return w, nil
}

// runBench runs the workers and the sweeper for cfg.duration, or until a
// signal, and tallies what they did.
func (c *cli) runBench(ctx context.Context, db *gorm.DB, t target, w *workload, cfg benchConfig) benchReport {
	sweeps := &sweepTally{}
	s, sweepErr := sweeper.New(db, &sweeper.Config{
		Interval: cfg.sweepEvery,
		Logger:   sweeperLogger(c.stderr),
		OnSweep:  sweeps.record,
	})
	if sweepErr == nil {
		sweepErr = s.Start(ctx)
	}

	// The statements' context: a first signal stops the workers between
	// flows; only a second one cuts the statements off.
	opCtx, cancelOps := context.WithCancelCause(ctx)
	defer cancelOps(nil)
	stats := make([]workerStats, cfg.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range stats {
		rng := mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
		wg.Go(func() { w.work(opCtx, &stats[i], rng) })
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	var tick <-chan time.Time
	prog := &progress{w: c.stderr}
	if cfg.progress {
		ticker := time.NewTicker(progressTick)
		defer ticker.Stop()
		tick = ticker.C
	}
	lastOps, lastTick := int64(0), start
	redraw := func(now time.Time) {
		ops := w.ops.Load()
		rate := float64(ops-lastOps) / now.Sub(lastTick).Seconds()
		lastOps, lastTick = ops, now
		prog.update("bench %s/%s  %d ops  %.0f ops/s  %d errors",
			now.Sub(start).Truncate(100*time.Millisecond), cfg.duration, ops, rate, w.errs.Load())
	}
	timer := time.NewTimer(cfg.duration)
	defer timer.Stop()
	interrupted := false
run:
	for {
		select {
		case <-timer.C:
			break run
		case <-c.signals:
			interrupted = true
			break run
		case now := <-tick:
			redraw(now)
		}
	}
	w.stopping.Store(true)
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case sig := <-c.signals:
			cancelOps(fmt.Errorf("a second %v", sig))
		case now := <-tick:
			redraw(now)
		}
	}
	elapsed := time.Since(start)
	prog.clear()

	if sweepErr == nil {
		// The sweeper finishes its batch in flight; a further signal
		// cancels it, as it cancels the workers' statements above.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultStopTimeout)
		go func() {
			select {
			case <-c.signals:
				cancel()
			case <-stopCtx.Done():
			}
		}()
		sweepErr = s.Stop(stopCtx)
		cancel()
	}
	if sweepErr != nil {
		w.samples.add(fmt.Errorf("sweeper: %w", sweepErr))
	}
	r := newBenchReport(t, cfg, elapsed, stats, sweeps, w.samples.list())
	r.Interrupted = interrupted
	if sweepErr != nil {
		r.Errors++
	}
	return r
}

// sweepTally adds up the sweeper's passes during the run.
type sweepTally struct {
	mu                      sync.Mutex
	passes, skipped, failed int
	deleted                 int64
	duration                histogram
	errs                    errorSamples
}

func (s *sweepTally) record(r sweeper.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passes++
	for _, t := range r.Tables {
		s.deleted += t.Deleted
	}
	switch r.Outcome {
	case sweeper.OutcomeSkipped:
		s.skipped++
	case sweeper.OutcomeFailed:
		s.failed++
		s.errs.add(fmt.Errorf("sweeper: %w", r.Err))
	}
	s.duration.record(r.Duration)
}
