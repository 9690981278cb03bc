package sweeper

import (
	"context"
	"log/slog"
)

// report logs r and hands it to OnSweep. Failures are logged at Error, one
// record per failing table so that each names its table; a pass that
// deleted rows at Info; skips, empty passes and an unlock broken by
// cancellation at Debug, since a cluster produces them every interval.
func (s *Sweeper) report(ctx context.Context, r Result) {
	log := s.cfg.logger
	switch r.Outcome {
	case OutcomeSwept:
		level := slog.LevelDebug
		for _, t := range r.Tables {
			if t.Deleted > 0 {
				level = slog.LevelInfo
			}
		}
		log.Log(ctx, level, "sweeper: swept expired rows", deleted(r), "cutoff", r.Now, "duration", r.Duration)
	case OutcomeSkipped:
		log.DebugContext(ctx, "sweeper: skipped the pass: another sweep holds the lock", "err", r.Err)
	case OutcomeCanceled:
		log.InfoContext(ctx, "sweeper: pass canceled", deleted(r), "duration", r.Duration, "err", r.Err)
	case OutcomeFailed:
		logged := false
		for _, t := range r.Tables {
			if t.Err != nil {
				log.ErrorContext(ctx, "sweeper: sweep failed", "table", t.Table, "deleted", t.Deleted, "err", t.Err)
				logged = true
			}
		}
		if !logged { // the pass failed before any table: connection or lock
			log.ErrorContext(ctx, "sweeper: sweep failed", "err", r.Err)
		}
	}
	if s.cfg.onSweep != nil {
		s.cfg.onSweep(r)
	}
}

// deleted is the per-table counts as one group: deleted.<table>=n.
func deleted(r Result) slog.Attr {
	attrs := make([]any, 0, 2*len(r.Tables))
	for _, t := range r.Tables {
		attrs = append(attrs, slog.Int64(t.Table, t.Deleted))
	}
	return slog.Group("deleted", attrs...)
}
