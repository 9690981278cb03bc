package sweeper

import "time"

// Outcome is how a pass ended.
type Outcome int

const (
	// OutcomeSwept: every table was swept without error. Rows that a
	// writer held locked during their batch may be left for the next pass.
	OutcomeSwept Outcome = iota + 1
	// OutcomeSkipped: another sweep held the lock (ErrLocked); nothing was
	// deleted, and nothing went wrong.
	OutcomeSkipped
	// OutcomeFailed: at least one table could not be swept, or the pass
	// timed out (ErrTimeout); Result.Err says why.
	OutcomeFailed
	// OutcomeCanceled: Stop, or the caller's context, ended the pass
	// between or during batches; what was deleted stays deleted.
	OutcomeCanceled
)

func (o Outcome) String() string {
	switch o {
	case OutcomeSwept:
		return "swept"
	case OutcomeSkipped:
		return "skipped"
	case OutcomeFailed:
		return "failed"
	case OutcomeCanceled:
		return "canceled"
	}
	return "unknown"
}

// Result reports one pass to Config.OnSweep.
type Result struct {
	Outcome Outcome
	// Now is the pass's cut-off: rows with expires_at before it were
	// deleted, in every table.
	Now time.Time
	// Duration is the pass's wall-clock time, lock included.
	Duration time.Duration
	// Tables holds the tables the pass reached, in Config order; none
	// when it was skipped or could not take the lock.
	Tables []TableResult
	// Err is nil for OutcomeSwept and the error SweepNow returns
	// otherwise.
	Err error
}

// TableResult is one table's share of a pass.
type TableResult struct {
	Table string
	// Deleted counts the rows deleted, also when the table then failed.
	Deleted int64
	// Batches counts the DELETE statements that completed.
	Batches  int
	Duration time.Duration
	Err      error
}

// Deleted returns the rows deleted per table name, as SweepNow does.
func (r Result) Deleted() map[string]int64 {
	m := make(map[string]int64, len(r.Tables))
	for _, t := range r.Tables {
		m[t.Table] = t.Deleted
	}
	return m
}
