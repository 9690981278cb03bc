package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/models"
)

// TestBenchJSON: a short run does every operation without an error, the
// sweeper deletes the seeded backlog, and --json prints one object and
// nothing else.
func TestBenchJSON(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, dsn string, db *gorm.DB) {
		inv := newInvocation(t)
		// --migrate: the bench creates the tables where --dsn names a
		// database without them.
		r := inv.mustRun(t, "bench", "--dsn", dsn, "--migrate", "--json", "--duration", "2s",
			"--concurrency", "4", "--clients", "200", "--expired", "100", "--sweep-every", "200ms")
		got := decodeBench(t, r.stdout)
		if r.stderr != "" {
			t.Errorf("stderr: %s", r.stderr)
		}
		checkBench(t, got, 4)
		// How much of the backlog (100 rows in each of two tables) a 2 s
		// run clears depends on the machine's load, so the report is held
		// to what the database lost: every seeded row gone was counted,
		// and at least one batch ran. The sweeper may also have counted
		// requests the workers abandoned, which expire within the run.
		gone := 200 - seededLeft(t, db)
		if gone < 1 || got.Sweeper.Deleted < gone {
			t.Errorf("the sweeper reported %d rows deleted; %d seeded rows are gone, want at least one, all counted", got.Sweeper.Deleted, gone)
		}
		if got.Interrupted || got.DurationSec < 2 || got.DurationSec > 30 {
			t.Errorf("ran %.3fs (interrupted %v), want 2s and a little", got.DurationSec, got.Interrupted)
		}
		if got.Seeded != 100 || got.Clients != 200 {
			t.Errorf("seeded %d and %d clients, want 100 and 200", got.Seeded, got.Clients)
		}
	})
}

// TestBenchOnAFreshMachine is the README's first command: no --dsn, no
// $DATABASE_URL, an empty directory. The bench creates gormstore.db and
// its tables, runs, and prints its table; the progress line goes to
// stderr.
func TestBenchOnAFreshMachine(t *testing.T) {
	t.Parallel()
	inv := newInvocation(t)
	args := []string{"bench", "--duration", "1s", "--concurrency", "2", "--clients", "50", "--expired", "20", "--sweep-every", "200ms", "--progress", "always"}
	r := inv.mustRun(t, args...)
	if !strings.HasPrefix(r.stdout, "created attesto_client_id_metadata, attesto_pushed_authorization_requests and dpop_replays in sqlite gormstore.db\n") {
		t.Errorf("does not say it created the tables:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(inv.dir, defaultSQLiteFile)); err != nil {
		t.Fatalf("no %s in the working directory: %v", defaultSQLiteFile, err)
	}
	header := tableLine(t, r.stdout, "op")
	if strings.Join(header, " ") != "op count ops/s p50 p95 p99 max errors" {
		t.Errorf("header %q", header)
	}
	for _, op := range opNames {
		f := tableLine(t, r.stdout, op)
		if len(f) != 8 || f[1] == "0" || f[7] != "0" {
			t.Errorf("%s: %q, want a count and no errors", op, f)
		}
	}
	if f := tableLine(t, r.stdout, "total"); f[len(f)-1] != "0" {
		t.Errorf("total: %q, want no errors", f)
	}
	if !strings.Contains(r.stdout, "cimd_get hit ratio ") || !strings.Contains(r.stdout, "sweeper every 200ms: ") {
		t.Errorf("no hit ratio or sweeper line:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "\rbench ") || !strings.Contains(r.stderr, " ops/s ") {
		t.Errorf("no progress line on stderr: %q", r.stderr)
	}

	// Again: the tables are there now, and --progress never is quiet.
	r = inv.mustRun(t, append(args, "--progress", "never")...)
	if strings.Contains(r.stdout, "created") || r.stderr != "" {
		t.Errorf("second run; %s", r)
	}
}

// TestBenchInterrupted: SIGINT ends the run early, and the report still
// comes, marked, with exit 0.
func TestBenchInterrupted(t *testing.T) {
	t.Parallel()
	inv := newInvocation(t)
	s := inv.start(t, "bench", "--duration", "10m", "--concurrency", "2", "--clients", "20", "--expired", "0", "--sweep-every", "100ms", "--json", "--progress", "always")
	// The progress line starts with the run, after the seeding.
	s.waitOutput(t, "\rbench ", true, time.Minute)
	time.Sleep(time.Second)
	r := s.signal(t, syscall.SIGINT, 15*time.Second)
	if r.code != 0 {
		t.Fatalf("want exit 0; %s", r)
	}
	got := decodeBench(t, r.stdout)
	if !got.Interrupted || got.DurationSec > 60 {
		t.Errorf("interrupted %v after %.3fs, want true and well before 10m", got.Interrupted, got.DurationSec)
	}
	checkBench(t, got, 2)
}

// TestBenchCountsFailures: operations that fail are counted per
// operation, reported with the first errors, and make the exit status 1.
// The bench's table of pushed requests is dropped under it.
func TestBenchCountsFailures(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, dsn string, db *gorm.DB) {
		inv := newInvocation(t)
		inv.mustRun(t, "migrate", "--dsn", dsn)
		s := inv.start(t, "bench", "--dsn", dsn, "--duration", "3s", "--concurrency", "2", "--clients", "20", "--expired", "0",
			"--sweep-every", "100ms", "--json", "--progress", "always")
		s.waitOutput(t, "\rbench ", true, time.Minute)
		if err := db.Exec("DROP TABLE attesto_pushed_authorization_requests").Error; err != nil {
			t.Fatalf("drop the table: %v", err)
		}
		r := s.wait(t, time.Minute)
		if r.code != 1 || !strings.Contains(r.stderr, "gormstore: bench: ") || !regexp.MustCompile(` failures; the first errors:\n  par_(push|fetch|take): `).MatchString(r.stderr) {
			t.Fatalf("want exit 1 and the failures on stderr; %s", r)
		}
		got := decodeBench(t, r.stdout)
		push := got.Ops[opIndex(t, "par_push")]
		if push.Errors == 0 || got.Errors < push.Errors || got.Total.Errors < push.Errors || len(got.ErrorSamples) == 0 || len(got.ErrorSamples) > maxErrorSamples {
			t.Errorf("par_push %+v, errors %d (total %d), samples %q: want the failures counted", push, got.Errors, got.Total.Errors, got.ErrorSamples)
		}
		if get := got.Ops[opIndex(t, "cimd_get")]; get.Count == 0 || get.Errors != 0 {
			t.Errorf("cimd_get %+v: the other table's operations should go on", get)
		}
	})
}

func decodeBench(t *testing.T, stdout string) benchReport {
	t.Helper()
	var got benchReport
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || dec.More() {
		t.Fatalf("stdout is not one bench object (%v):\n%s", err, stdout)
	}
	return got
}

// checkBench checks what every successful run's report holds.
func checkBench(t *testing.T, got benchReport, concurrency int) {
	t.Helper()
	if got.Concurrency != concurrency || got.Errors != 0 || len(got.ErrorSamples) > 0 {
		t.Errorf("concurrency %d, %d errors %q; want %d and none", got.Concurrency, got.Errors, got.ErrorSamples, concurrency)
	}
	if len(got.Ops) != int(numOps) {
		t.Fatalf("%d ops, want %d: %+v", len(got.Ops), numOps, got.Ops)
	}
	var total int64
	for i, o := range got.Ops {
		if o.Op != opNames[i] {
			t.Errorf("op %d is %q, want %q", i, o.Op, opNames[i])
		}
		if o.Count <= 0 || o.OpsPerSec <= 0 || o.Errors != 0 {
			t.Errorf("%s: %d ops, %.1f/s, %d errors; want some and no errors", o.Op, o.Count, o.OpsPerSec, o.Errors)
		}
		if !(0 < o.P50ms && o.P50ms <= o.P95ms && o.P95ms <= o.P99ms && o.P99ms <= o.Maxms) {
			t.Errorf("%s: p50 %v, p95 %v, p99 %v, max %v: not increasing", o.Op, o.P50ms, o.P95ms, o.P99ms, o.Maxms)
		}
		total += o.Count
	}
	ops := func(name string) int64 { return got.Ops[opIndex(t, name)].Count }
	// Every push is fetched; a tenth are abandoned before the take.
	if ops("par_fetch") != ops("par_push") || ops("par_take") >= ops("par_push") {
		t.Errorf("push %d, fetch %d, take %d: want fetch = push > take", ops("par_push"), ops("par_fetch"), ops("par_take"))
	}
	if got.Total.Count != total || got.Total.Errors != 0 {
		t.Errorf("total %+v, want %d ops and no errors", got.Total, total)
	}
	if got.CIMDHitRatio < 0.85 || got.CIMDHitRatio > 0.995 {
		t.Errorf("cimd_get hit ratio %v, want about 0.95", got.CIMDHitRatio)
	}
	if got.Sweeper.Passes < 1 || got.Sweeper.Failed != 0 {
		t.Errorf("sweeper %+v: want a pass and no failures", got.Sweeper)
	}
}

func opIndex(t *testing.T, name string) int {
	t.Helper()
	for i, n := range opNames {
		if n == name {
			return i
		}
	}
	t.Fatalf("no op %q", name)
	return -1
}

// seededLeft counts the bench's seeded backlog still in the tables: the
// documents and requests that expired an hour before the run, older than
// anything the workers write.
func seededLeft(t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	cutoff := dialect.Of(db).Time(time.Now().Add(-30 * time.Minute))
	var left int64
	for _, m := range []any{&models.ClientIDMetadata{}, &models.PushedAuthorizationRequest{}} {
		var n int64
		if err := db.Model(m).Where("expires_at < ?", cutoff).Count(&n).Error; err != nil {
			t.Fatalf("count the seeded rows left: %v", err)
		}
		left += n
	}
	return left
}
