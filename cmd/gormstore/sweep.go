package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/sweeper"
)

// defaultStopTimeout is how long a stopping `sweep --every` lets the
// batch in flight finish before it cancels it.
const defaultStopTimeout = 30 * time.Second

// passTime is how the pass lines show a pass's cut-off.
const passTime = "2006-01-02T15:04:05.000Z07:00"

func (c *cli) sweep(ctx context.Context, args []string) error {
	flags := newFlagSet("sweep", "[--dsn DSN] [--every INTERVAL] [--batch-size N]",
		`Deletes the rows that expired, in batches, and prints what it deleted per table.

With --every it keeps sweeping, one pass per interval (±10%, the first one at a
random point within the first interval, so that sweepers started together
spread out), and prints a line per pass. SIGINT or SIGTERM stops it between
batches: the batch in flight finishes (for up to --stop-timeout; a second
signal cancels it), then it prints the totals and exits 0. On PostgreSQL and
MySQL/MariaDB, concurrent sweepers of the same tables take turns through a lock
(an advisory lock, GET_LOCK): a pass that finds it taken is skipped.
`)
	every := flags.Duration("every", 0, "sweep every `interval` until interrupted, instead of once")
	batchSize := flags.Int("batch-size", sweeper.DefaultBatchSize, "the most rows one DELETE removes")
	timeout := flags.Duration("timeout", sweeper.DefaultTimeout, "bound on one pass; what it deleted before stays deleted")
	stopTimeout := flags.Duration("stop-timeout", defaultStopTimeout, "with --every: how long a signal waits for the batch in flight")
	if err := flags.parse(c.stdout, args); err != nil {
		return err
	}
	switch {
	case *every < 0:
		return flags.usagef("--every %v is negative", *every)
	case *batchSize < 1:
		return flags.usagef("--batch-size %d is not positive", *batchSize)
	case *timeout <= 0:
		return flags.usagef("--timeout %v is not positive", *timeout)
	case *stopTimeout <= 0:
		return flags.usagef("--stop-timeout %v is not positive", *stopTimeout)
	}
	t, err := c.target(*flags.dsn)
	if err != nil {
		return err
	}

	// Opening and checking is one-shot work in either mode.
	openCtx, stop := c.interruptible(ctx)
	db, err := open(openCtx, t, mustExist, 2)
	if err == nil {
		if err = requireTables(openCtx, db, t); err != nil {
			closeDB(db)
		}
	}
	stop()
	if err != nil {
		return err
	}
	defer closeDB(db)

	tally := &passLog{stdout: c.stdout, stderr: c.stderr, totals: map[string]*tableTotal{}}
	cfg := sweeper.Config{
		// A one-shot sweep never reaches the interval.
		Interval:  time.Hour,
		BatchSize: *batchSize,
		Timeout:   *timeout,
		Logger:    sweeperLogger(c.stderr),
		OnSweep:   tally.record,
	}
	if *every == 0 {
		return c.sweepOnce(ctx, db, t, cfg, tally)
	}
	cfg.Interval = *every
	tally.printPasses = true
	return c.sweepEvery(ctx, db, t, cfg, tally, *stopTimeout)
}

// sweepOnce runs one pass; a signal cancels it, statement and all.
func (c *cli) sweepOnce(ctx context.Context, db *gorm.DB, t target, cfg sweeper.Config, tally *passLog) error {
	s, err := sweeper.New(db, &cfg)
	if err != nil {
		return err
	}
	ctx, stop := c.interruptible(ctx)
	defer stop()
	start := time.Now()
	_, err = s.SweepNow(ctx)
	if errors.Is(err, sweeper.ErrLocked) {
		fmt.Fprintln(c.stdout, "skipped: another sweep holds the lock and is deleting these rows")
		return nil
	}
	fmt.Fprintf(c.stdout, "swept %s in %s\n", t, roundDuration(time.Since(start)))
	tally.printTotals()
	if err != nil {
		return fmt.Errorf("%w (the rows deleted before stay deleted)", err)
	}
	return nil
}

// sweepEvery runs the sweeper's loop until a signal, then stops it
// between batches.
func (c *cli) sweepEvery(ctx context.Context, db *gorm.DB, t target, cfg sweeper.Config, tally *passLog, stopTimeout time.Duration) error {
	s, err := sweeper.New(db, &cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := s.Start(ctx); err != nil {
		return err
	}
	tally.printf("sweeping %s every %s, the first pass within %[2]s; stop with SIGINT (Ctrl-C) or SIGTERM\n", t, cfg.Interval)
	sig := <-c.signals
	tally.printf("%v: stopping after the batch in flight (up to %s; signal again to cancel it)\n", sig, stopTimeout)

	interrupted, interrupt := context.WithCancelCause(ctx)
	defer interrupt(nil)
	stopCtx, cancel := context.WithTimeoutCause(interrupted, stopTimeout, fmt.Errorf("it outlasted --stop-timeout %s", stopTimeout))
	defer cancel()
	go func() {
		select {
		case sig := <-c.signals:
			interrupt(fmt.Errorf("a second %v", sig))
		case <-stopCtx.Done():
		}
	}()
	stopErr := s.Stop(stopCtx)

	tally.mu.Lock()
	passes, skipped, failed := tally.passes, tally.skipped, tally.failed
	tally.mu.Unlock()
	tally.printf("stopped after %d passes (%d skipped, %d failed) in %s\n", passes, skipped, failed, roundDuration(time.Since(start)))
	tally.printTotals()
	if stopErr != nil {
		return fmt.Errorf("canceled the batch in flight: %w", stopErr)
	}
	return nil
}

// tableTotal is what the passes did to one table.
type tableTotal struct {
	deleted  int64
	batches  int
	duration time.Duration
}

// passLog prints the passes as OnSweep reports them, on the sweeper's
// goroutine, and adds them up for the summary.
type passLog struct {
	stdout, stderr io.Writer
	printPasses    bool

	mu                      sync.Mutex
	passes, skipped, failed int
	order                   []string
	totals                  map[string]*tableTotal
}

func (l *passLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.stdout, format, args...)
}

func (l *passLog) record(r sweeper.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.passes++
	for _, tr := range r.Tables {
		tot, ok := l.totals[tr.Table]
		if !ok {
			tot = &tableTotal{}
			l.totals[tr.Table] = tot
			l.order = append(l.order, tr.Table)
		}
		tot.deleted += tr.Deleted
		tot.batches += tr.Batches
		tot.duration += tr.Duration
	}
	switch r.Outcome {
	case sweeper.OutcomeSkipped:
		l.skipped++
	case sweeper.OutcomeFailed:
		l.failed++
	}
	if !l.printPasses {
		return
	}
	line := fmt.Sprintf("%s pass %d: %s", r.Now.Format(passTime), l.passes, r.Outcome)
	for _, tr := range r.Tables {
		line += fmt.Sprintf(" %s=%d", tr.Table, tr.Deleted)
	}
	fmt.Fprintf(l.stdout, "%s in %s\n", line, roundDuration(r.Duration))
	if r.Outcome == sweeper.OutcomeFailed {
		fmt.Fprintf(l.stderr, "gormstore: sweep: pass %d: %v\n", l.passes, r.Err)
	}
}

// printTotals writes the deleted rows and batches per table.
func (l *passLog) printTotals() {
	l.mu.Lock()
	defer l.mu.Unlock()
	rows := [][]string{{"table", "deleted", "batches", "time"}}
	var all tableTotal
	for _, name := range l.order {
		tot := l.totals[name]
		rows = append(rows, []string{name, fmt.Sprint(tot.deleted), fmt.Sprint(tot.batches), roundDuration(tot.duration).String()})
		all.deleted += tot.deleted
		all.batches += tot.batches
		all.duration += tot.duration
	}
	rows = append(rows, []string{"total", fmt.Sprint(all.deleted), fmt.Sprint(all.batches), roundDuration(all.duration).String()})
	writeTable(l.stdout, rows)
}

// roundDuration keeps three significant digits or so: 4.21ms, 1.5s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
