package sweeper

import (
	"errors"

	"github.com/attesto/gormstore/internal/dialect"
)

// Every error the package returns names the operation it comes from
// (`sweeper: sweep "attesto_client_id_metadata": ...`) and wraps these
// sentinels with %w: test them with errors.Is.
var (
	// ErrNoDB is returned by New given a nil *gorm.DB: a sweeper that
	// cannot reach the database must not look as if it were working. It
	// is the same value as repo.ErrNoDB.
	ErrNoDB = dialect.ErrNoDB
	// ErrInvalidConfig is returned by New for a Config it cannot run:
	// a negative Interval, BatchSize or Timeout, Jitter
	// outside [0, 1), a Tables entry with an unusable name, or a Lease it
	// cannot use (a bad table name or holder, a TTL under a second, a
	// database without lease statements).
	ErrInvalidConfig = errors.New("invalid config")
	// ErrLocked is returned by SweepNow, and reported to OnSweep as
	// OutcomeSkipped, when another sweep holds the lock: another node's,
	// or this Sweeper's own pass still running. It is not a failure; the
	// rows are being swept by whoever holds it.
	ErrLocked = errors.New("another sweep holds the lock")
	// ErrLeaseLost ends a pass, as a failure, whose lease (Config.Lease)
	// another node took: the pass renewed it too late, after it expired.
	// The batches deleted before stay deleted; raise Lease.TTL if it
	// happens.
	ErrLeaseLost = errors.New("the sweep lease was lost")
	// ErrTimeout is the cause of a pass that ran longer than
	// Config.Timeout. The batches deleted before it stay deleted.
	ErrTimeout = errors.New("sweep timed out")
	// ErrStarted is returned by a second Start: one Sweeper runs at most
	// one loop.
	ErrStarted = errors.New("already started")
	// ErrStopped is returned by Start after Stop: a stopped Sweeper stays
	// stopped, so a late Start during shutdown cannot revive it.
	ErrStopped = errors.New("stopped")
)
