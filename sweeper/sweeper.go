package sweeper

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
)

// Sweeper deletes expired rows, on demand (SweepNow) or every Interval
// (Start). Create it with New; it is safe for concurrent use.
type Sweeper struct {
	db *gorm.DB
	// kind selects the lock, the batch statement and how its times are
	// bound.
	kind dialect.Kind
	cfg  settings

	// busy is held by the pass in progress, so that this process never
	// runs two, whatever the dialect.
	busy sync.Mutex
	// leaseTableFound is set, under busy, once the lease table is known
	// to exist.
	leaseTableFound bool
	// routed is set when db routes statements with
	// gorm.io/plugin/dbresolver, which moves a statement outside a
	// transaction off the connection a pass pinned.
	routed bool

	mu      sync.Mutex
	stopped bool
	cancel  context.CancelFunc // non-nil once started
	done    chan struct{}      // closed when the loop has returned
	// abort cuts off the loop's statement in flight: Stop calls it when
	// its ctx ends before the loop has returned.
	abort context.CancelFunc
}

// New returns a Sweeper on db, which must be a connection pool, not a
// transaction: every batch commits on its own. db itself is not changed.
// A nil cfg takes every default. A nil db is ErrNoDB; an unusable cfg is
// ErrInvalidConfig.
func New(db *gorm.DB, cfg *Config) (*Sweeper, error) {
	if db == nil || db.Config == nil || db.Dialector == nil || db.Statement == nil {
		return nil, fmt.Errorf("sweeper: new: %w", ErrNoDB)
	}
	set, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("sweeper: new: %w", err)
	}
	if _, isTx := db.Statement.ConnPool.(gorm.TxCommitter); isTx {
		return nil, fmt.Errorf("sweeper: new: %w: db is a transaction, and batches must commit on their own", ErrInvalidConfig)
	}
	s := &Sweeper{db: session(db), cfg: set, kind: dialect.Of(db), routed: dialect.Routed(db)}
	if set.lease != nil && !leaseDialect(s.kind) {
		return nil, fmt.Errorf("sweeper: new: %w: Lease needs PostgreSQL, MariaDB/MySQL or SQLite, not %q", ErrInvalidConfig, db.Dialector.Name())
	}
	if set.lease == nil && hasLock(s.kind) {
		// A pass pins a connection of this pool: fail now, not at every
		// pass, when there is none.
		if _, err := db.DB(); err != nil {
			return nil, fmt.Errorf("sweeper: new: %w", err)
		}
	}
	return s, nil
}

// session derives the sweeper's own session from the caller's db, leaving
// db unchanged: NewDB drops the caller's pending clauses on the next chain
// call, which Scopes() is, and the final Session makes the clean statement
// safe to share between passes. Each batch is one statement, so GORM's
// default transaction would only add BEGIN and COMMIT round trips.
func session(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true}).
		Scopes().
		Session(&gorm.Session{})
}

// Start runs the loop until Stop or until ctx ends: a pass every Interval,
// jittered, the first one at a random point within the first Interval.
// ctx should live as long as the service, not a request; when it ends, the
// loop ends as it does on Stop, the batch in flight finishing within the
// pass's Timeout. A second Start is ErrStarted, a Start after Stop
// ErrStopped; neither starts a loop.
func (s *Sweeper) Start(ctx context.Context) error {
	if s == nil || s.db == nil {
		return fmt.Errorf("sweeper: start: %w", ErrNoDB)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return fmt.Errorf("sweeper: start: %w", ErrStopped)
	case s.cancel != nil:
		return fmt.Errorf("sweeper: start: %w", ErrStarted)
	}
	// The statements' context outlives the loop's, so that a pass can
	// finish the batch it is running when the loop is told to stop.
	abort, abortFn := context.WithCancel(context.WithoutCancel(ctx))
	ctx, s.cancel = context.WithCancel(ctx)
	s.abort = abortFn
	s.done = make(chan struct{})
	go s.loop(ctx, abort, s.done)
	return nil
}

// Stop ends the loop and waits for it to return. A pass in progress ends
// between batches: the batch statement in flight runs to its end (or to
// the pass's Timeout), so that a stopping process leaves no statement cut
// off on the server, and no batch starts after it. If ctx ends first, Stop
// cancels that statement and returns ctx's error without waiting further
// (on MariaDB/MySQL the driver cancels by closing the connection, and the
// server rolls the batch back when it notices; on SQLite, a statement
// waiting for the write lock ignores the cancellation and ends with the
// connection's busy_timeout).
// It may be called any number of times, also before Start (the Sweeper
// then never starts).
func (s *Sweeper) Stop(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	s.stopped = true
	cancel, abort, done := s.cancel, s.abort, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		abort()
		return nil
	case <-ctx.Done():
		abort()
		return fmt.Errorf("sweeper: stop: %w", context.Cause(ctx))
	}
}

// SweepNow runs one pass now, with the loop's lock, timeout, logging and
// OnSweep, and returns the rows deleted per table name: every table it
// reached, also when it then failed. Another sweep holding the lock is
// ErrLocked; a pass over Timeout wraps ErrTimeout.
func (s *Sweeper) SweepNow(ctx context.Context) (map[string]int64, error) {
	if s == nil || s.db == nil {
		return nil, fmt.Errorf("sweeper: sweep: %w", ErrNoDB)
	}
	r := s.run(ctx, nil)
	return r.Deleted(), r.Err
}

// loop runs the passes; abort is the context their statements run in.
func (s *Sweeper) loop(ctx, abort context.Context, done chan<- struct{}) {
	defer close(done)
	timer := time.NewTimer(firstWait(s.cfg.interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		// A timer that fired together with Stop must not start a pass.
		if ctx.Err() != nil {
			return
		}
		// The outcome is logged and reported by run; a failed pass is
		// retried at the next interval like any other.
		s.run(ctx, abort)
		timer.Reset(nextWait(s.cfg.interval, s.cfg.jitter))
	}
}

// run is one pass, reported. With a nil abort (SweepNow), the end of ctx
// cancels the statement in flight; otherwise (the loop) the statements
// run in abort, and the end of ctx only keeps the next batch from
// starting.
func (s *Sweeper) run(ctx, abort context.Context) Result {
	start := time.Now()
	r := Result{Now: s.cfg.now().UTC()}
	r.Tables, r.Err = s.sweep(ctx, abort, r.Now)
	r.Duration = time.Since(start)
	switch {
	case r.Err == nil:
		r.Outcome = OutcomeSwept
	case errors.Is(r.Err, ErrLocked):
		r.Outcome = OutcomeSkipped
	case ctx.Err() != nil:
		// The caller's context, not the pass's Timeout: Stop or shutdown.
		r.Outcome = OutcomeCanceled
	default:
		r.Outcome = OutcomeFailed
	}
	s.report(ctx, r)
	return r
}

// sweep deletes what expired before now in every table, under the lock
// where the database has one.
func (s *Sweeper) sweep(ctx, abort context.Context, now time.Time) ([]TableResult, error) {
	if !s.busy.TryLock() {
		return nil, fmt.Errorf("sweeper: sweep: %w: this sweeper's previous pass is still running", ErrLocked)
	}
	defer s.busy.Unlock()
	ctx, cancel := context.WithTimeoutCause(ctx, s.cfg.timeout, ErrTimeout)
	defer cancel()
	// stmt is the statements' context: ctx itself, or, in the loop, one
	// with the pass's deadline that only abort cancels.
	stmt := ctx
	if abort != nil {
		deadline, _ := ctx.Deadline()
		var cancelStmt context.CancelFunc
		stmt, cancelStmt = context.WithDeadlineCause(context.WithoutCancel(ctx), deadline, ErrTimeout)
		defer cancelStmt()
		defer context.AfterFunc(abort, cancelStmt)()
	}

	if s.cfg.lease != nil {
		lease, err := s.takeLease(ctx)
		if err != nil {
			return nil, err
		}
		defer s.releaseLease(ctx, lease)
		return s.sweepTables(ctx, stmt, s.db, now, false, lease)
	}
	if !hasLock(s.kind) {
		return s.sweepTables(ctx, stmt, s.db, now, false, nil)
	}
	// The pass pins one connection for the lock and its batches: the
	// lock belongs to the session, and one connection is all a pass
	// needs.
	var (
		results []TableResult
		passErr error
		pinned  bool
	)
	err := s.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		pinned = true
		lock, err := s.lock(ctx, conn)
		if err != nil {
			return err
		}
		defer s.unlock(ctx, conn, lock)
		results, passErr = s.sweepTables(ctx, stmt, conn, now, true, nil)
		return nil
	})
	if err != nil && !pinned {
		err = lockError(ctx, err)
	}
	if err != nil {
		return nil, err
	}
	return results, passErr
}

// sweepTables sweeps every table on db, in order: on pinned, the
// connection the pass pinned for its lock; under lease, if not nil, a
// lease it renews between batches. A table that fails does not keep the
// others from being swept; only the end of ctx or stmt, or a lease that
// could not be renewed, stops the pass.
func (s *Sweeper) sweepTables(ctx, stmt context.Context, db *gorm.DB, now time.Time, pinned bool, lease *heldLease) ([]TableResult, error) {
	results := make([]TableResult, 0, len(s.cfg.tables))
	var errs []error
	for _, t := range s.cfg.tables {
		r, renewErr := s.sweepTable(ctx, stmt, db, t, now, pinned, lease)
		results = append(results, r)
		if r.Err != nil {
			errs = append(errs, r.Err)
			if ctx.Err() != nil || stmt.Err() != nil || renewErr {
				break
			}
		}
	}
	return results, errors.Join(errs...)
}
