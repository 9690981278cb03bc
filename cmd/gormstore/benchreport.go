package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// benchReport is the bench's result, as --json prints it.
type benchReport struct {
	Dialect     string  `json:"dialect"`
	Database    string  `json:"database"`
	DurationSec float64 `json:"duration_s"` // measured: the run, workers winding down included
	Concurrency int     `json:"concurrency"`
	Clients     int     `json:"clients"`
	Seeded      int     `json:"expired_seeded"` // per table
	Interrupted bool    `json:"interrupted"`

	Ops   []opReport  `json:"ops"`
	Total totalReport `json:"total"`
	// CIMDHitRatio is the share of cimd_get that found the document.
	CIMDHitRatio float64     `json:"cimd_hit_ratio"`
	Sweeper      sweepReport `json:"sweeper"`

	// Errors counts the failed operations and sweeper passes;
	// ErrorSamples holds the first few distinct messages.
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// opReport is one operation's line. Latencies are of the operations that
// succeeded, in milliseconds.
type opReport struct {
	Op        string  `json:"op"`
	Count     int64   `json:"count"`
	OpsPerSec float64 `json:"ops_per_s"`
	P50ms     float64 `json:"p50_ms"`
	P95ms     float64 `json:"p95_ms"`
	P99ms     float64 `json:"p99_ms"`
	Maxms     float64 `json:"max_ms"`
	Errors    int64   `json:"errors"`
}

// totalReport adds up the operations; their latencies do not add up.
type totalReport struct {
	Count     int64   `json:"count"`
	OpsPerSec float64 `json:"ops_per_s"`
	Errors    int64   `json:"errors"`
}

type sweepReport struct {
	IntervalSec float64 `json:"interval_s"`
	Passes      int     `json:"passes"`
	Skipped     int     `json:"skipped"`
	Failed      int     `json:"failed"`
	Deleted     int64   `json:"deleted"`
	P50ms       float64 `json:"p50_ms"`
	Maxms       float64 `json:"max_ms"`
}

func newBenchReport(t target, cfg benchConfig, elapsed time.Duration, stats []workerStats, sweeps *sweepTally, samples []string) benchReport {
	r := benchReport{
		Dialect:     dialectName(t.kind),
		Database:    t.display,
		DurationSec: round3(elapsed.Seconds()),
		Concurrency: cfg.concurrency,
		Clients:     cfg.clients,
		Seeded:      cfg.expired,
	}
	var hits, misses int64
	for _, st := range stats {
		hits += st.hits
		misses += st.misses
	}
	if hits+misses > 0 {
		r.CIMDHitRatio = round3(float64(hits) / float64(hits+misses))
	}
	for o := range numOps {
		var h histogram
		rep := opReport{Op: opNames[o]}
		for i := range stats {
			h.merge(&stats[i].latency[o])
			rep.Errors += stats[i].errors[o]
		}
		rep.Count = int64(h.n)
		rep.OpsPerSec = round3(float64(h.n) / elapsed.Seconds())
		rep.P50ms, rep.P95ms, rep.P99ms = ms(h.quantile(0.50)), ms(h.quantile(0.95)), ms(h.quantile(0.99))
		rep.Maxms = ms(h.max)
		r.Ops = append(r.Ops, rep)
		r.Total.Count += rep.Count
		r.Total.Errors += rep.Errors
	}
	r.Total.OpsPerSec = round3(float64(r.Total.Count) / elapsed.Seconds())

	sweeps.mu.Lock()
	r.Sweeper = sweepReport{
		IntervalSec: cfg.sweepEvery.Seconds(),
		Passes:      sweeps.passes,
		Skipped:     sweeps.skipped,
		Failed:      sweeps.failed,
		Deleted:     sweeps.deleted,
		P50ms:       ms(sweeps.duration.quantile(0.50)),
		Maxms:       ms(sweeps.duration.max),
	}
	for _, msg := range sweeps.errs.list() {
		if len(samples) < maxErrorSamples && !slices.Contains(samples, msg) {
			samples = append(samples, msg)
		}
	}
	sweeps.mu.Unlock()

	r.Errors = r.Total.Errors + int64(r.Sweeper.Failed)
	r.ErrorSamples = samples
	return r
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func (r benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// A DSN's '&' as it is, not \u0026.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func (r benchReport) print(w io.Writer) {
	ran := fmt.Sprintf("%.1fs", r.DurationSec)
	if r.Interrupted {
		ran += " (interrupted)"
	}
	fmt.Fprintf(w, "%s: %s at concurrency %d, %d warm clients, %d expired rows per table seeded\n\n",
		databaseLabel(r.Dialect, r.Database), ran, r.Concurrency, r.Clients, r.Seeded)
	rows := [][]string{{"op", "count", "ops/s", "p50", "p95", "p99", "max", "errors"}}
	for _, o := range r.Ops {
		rows = append(rows, []string{o.Op, fmt.Sprint(o.Count), fmt.Sprintf("%.1f", o.OpsPerSec),
			latencyText(o.P50ms), latencyText(o.P95ms), latencyText(o.P99ms), latencyText(o.Maxms), fmt.Sprint(o.Errors)})
	}
	rows = append(rows, []string{"total", fmt.Sprint(r.Total.Count), fmt.Sprintf("%.1f", r.Total.OpsPerSec), "", "", "", "", fmt.Sprint(r.Total.Errors)})
	writeTable(w, rows)
	s := r.Sweeper
	fmt.Fprintf(w, "\ncimd_get hit ratio %.1f%%\n", 100*r.CIMDHitRatio)
	fmt.Fprintf(w, "sweeper every %s: %d passes (%d skipped, %d failed), %d rows deleted, pass p50 %s, max %s\n",
		time.Duration(s.IntervalSec*float64(time.Second)), s.Passes, s.Skipped, s.Failed, s.Deleted,
		latencyText(s.P50ms), latencyText(s.Maxms))
}

// latencyText shows milliseconds with three significant digits or so.
func latencyText(ms float64) string {
	switch {
	case ms == 0:
		return "-"
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}
