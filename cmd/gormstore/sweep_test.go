package main

import (
	"context"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
)

// TestSweep: one pass deletes every expired row, batch by batch, reports
// it per table, and leaves the live rows; the next pass finds nothing.
func TestSweep(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, dsn string, db *gorm.DB) {
		inv := newInvocation(t)
		inv.mustRun(t, "migrate", "--dsn", dsn)
		seed(t, db, rowCounts{liveCIMD: 5, expiredCIMD: 250, livePAR: 6, expiredPAR: 30, liveReplay: 4, expiredReplay: 100})

		r := inv.mustRun(t, "sweep", "--dsn", dsn, "--batch-size", "100")
		wantSwept(t, r.stdout, map[string][2]string{
			// 250 rows: batches of 100, 100 and 50.
			models.ClientIDMetadataTable: {"250", "3"},
			// 30 rows: one short batch.
			models.PushedAuthorizationRequestTable: {"30", "1"},
			// 100 rows: a full batch, and an empty one that finds the end.
			models.ReplayTable: {"100", "2"},
			"total":            {"380", "6"},
		})
		if !strings.HasPrefix(r.stdout, "swept ") || r.stderr != "" {
			t.Errorf("want a summary and no stderr; %s", r)
		}
		wantRows(t, db, 5, 6, 4)

		r = inv.mustRun(t, "sweep", "--dsn", dsn)
		wantSwept(t, r.stdout, map[string][2]string{"total": {"0", "3"}})
		wantRows(t, db, 5, 6, 4)
	})
}

// TestSweepEveryStopsOnSignal: the loop sweeps until SIGINT or SIGTERM,
// then stops between batches, prints its totals and exits 0.
func TestSweepEveryStopsOnSignal(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, dsn string, db *gorm.DB) {
				inv := newInvocation(t)
				inv.mustRun(t, "migrate", "--dsn", dsn)
				seed(t, db, rowCounts{liveCIMD: 3, expiredCIMD: 120, livePAR: 2, expiredPAR: 40, liveReplay: 1, expiredReplay: 7})

				s := inv.start(t, "sweep", "--dsn", dsn, "--every", "200ms", "--batch-size", "50")
				s.waitOutput(t, "every 200ms, the first pass within 200ms; stop with SIGINT", false, time.Minute)
				// The first pass, which deletes the backlog, and one more:
				// the signal then finds the loop running.
				s.waitOutput(t, " pass 2: ", false, time.Minute)
				r := s.signal(t, sig, 15*time.Second)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("want exit 0 and no stderr after %v; %s", sig, r)
				}
				if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\S+ pass 1: swept attesto_client_id_metadata=120 attesto_pushed_authorization_requests=40 dpop_replays=7 in `).MatchString(r.stdout) {
					t.Errorf("no first pass line deleting the backlog:\n%s", r.stdout)
				}
				if !strings.Contains(r.stdout, sig.String()+": stopping after the batch in flight") {
					t.Errorf("the stop is not reported:\n%s", r.stdout)
				}
				if !regexp.MustCompile(`(?m)^stopped after \d+ passes \(0 skipped, 0 failed\) in `).MatchString(r.stdout) {
					t.Errorf("no stop summary:\n%s", r.stdout)
				}
				total := tableLine(t, r.stdout, "total")
				if total[1] != "167" {
					t.Errorf("total deleted %s, want 167:\n%s", total[1], r.stdout)
				}
				wantRows(t, db, 3, 2, 1)
			})
		})
	}
}

// TestSweepEveryBatchInFlight: a stopping loop waits for the batch in
// flight only so long: --stop-timeout, or a second signal, cancels it and
// the exit status is 1. The test holds a write lock on the table, so that
// the first pass's DELETE waits for it.
func TestSweepEveryBatchInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		stopTimeout string
		second      bool
		want        string
	}{
		{"stop timeout", "1s", false, "canceled the batch in flight: sweeper: stop: it outlasted --stop-timeout 1s"},
		{"second signal", "1m", true, "canceled the batch in flight: sweeper: stop: a second interrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, dsn string, db *gorm.DB) {
				inv := newInvocation(t)
				inv.mustRun(t, "migrate", "--dsn", dsn)
				seed(t, db, rowCounts{expiredCIMD: 10})
				kind := kindOf(t, dsn)
				holdWriteLock(t, db, kind)

				s := inv.start(t, "sweep", "--dsn", dsn, "--every", "100ms", "--stop-timeout", tt.stopTimeout)
				s.waitOutput(t, "stop with SIGINT", false, time.Minute)
				// The first pass starts within 100ms and waits for the lock.
				waitForBlockedPass(t, db, kind)
				if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
				s.waitOutput(t, "interrupt: stopping after the batch in flight", false, 10*time.Second)
				var r result
				if tt.second {
					time.Sleep(200 * time.Millisecond)
					r = s.signal(t, syscall.SIGINT, 10*time.Second)
				} else {
					r = s.wait(t, 10*time.Second)
				}
				if r.code != 1 || !strings.Contains(r.stderr, "gormstore: sweep: "+tt.want) {
					t.Fatalf("want exit 1 and %q; %s", tt.want, r)
				}
				if !strings.Contains(r.stdout, "stopped after ") {
					t.Errorf("no summary:\n%s", r.stdout)
				}
			})
		})
	}
}

// waitForBlockedPass waits until the sweeper's first pass waits for the
// test's lock. PostgreSQL and MariaDB show the waiting statement; SQLite
// shows nothing, and the pass, due within 100ms of the start, gets half a
// second.
func waitForBlockedPass(t *testing.T, db *gorm.DB, kind dialect.Kind) {
	t.Helper()
	switch kind {
	case dialect.Postgres:
		testdb.WaitForLockWait(t, db, models.ClientIDMetadataTable, 20*time.Second)
	case dialect.MySQL:
		waitForMySQLLockWait(t, db, 20*time.Second)
	default:
		time.Sleep(500 * time.Millisecond)
	}
}

// waitForMySQLLockWait waits until a session of db's database waits for a
// table lock.
func waitForMySQLLockWait(t *testing.T, db *gorm.DB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var n int64
		err := db.Raw("SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() AND state LIKE 'Waiting for table%lock'").Scan(&n).Error
		if err != nil {
			t.Fatalf("look for lock waits: %v", err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement waited for a table lock within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdWriteLock keeps the other writers of attesto_client_id_metadata
// waiting until the test ends.
func holdWriteLock(t *testing.T, db *gorm.DB, kind dialect.Kind) {
	t.Helper()
	ctx := context.Background()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stmts, release := []string{"BEGIN IMMEDIATE"}, "ROLLBACK"
	switch kind {
	case dialect.Postgres:
		stmts = []string{"BEGIN", "LOCK TABLE attesto_client_id_metadata IN ACCESS EXCLUSIVE MODE"}
	case dialect.MySQL:
		stmts, release = []string{"LOCK TABLES attesto_client_id_metadata WRITE"}, "UNLOCK TABLES"
	}
	for _, stmt := range stmts {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			conn.Close()
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		if _, err := conn.ExecContext(ctx, release); err != nil {
			t.Errorf("release the lock: %v", err)
		}
		conn.Close()
	})
}

// wantSwept checks the deleted and batches columns of a sweep summary.
func wantSwept(t *testing.T, out string, want map[string][2]string) {
	t.Helper()
	for name, w := range want {
		f := tableLine(t, out, name)
		if f[1] != w[0] || f[2] != w[1] {
			t.Errorf("%s: deleted %s in %s batches, want %s in %s\n%s", name, f[1], f[2], w[0], w[1], out)
		}
	}
}

// wantRows checks what is left in the tables.
func wantRows(t *testing.T, db *gorm.DB, cimd, par, replays int64) {
	t.Helper()
	ctx := context.Background()
	var n int64
	if err := db.WithContext(ctx).Model(&models.ClientIDMetadata{}).Count(&n).Error; err != nil || n != cimd {
		t.Errorf("%d documents left (%v), want %d", n, err, cimd)
	}
	if err := db.WithContext(ctx).Model(&models.PushedAuthorizationRequest{}).Count(&n).Error; err != nil || n != par {
		t.Errorf("%d requests left (%v), want %d", n, err, par)
	}
	if err := db.WithContext(ctx).Model(&models.Replay{}).Count(&n).Error; err != nil || n != replays {
		t.Errorf("%d replays left (%v), want %d", n, err, replays)
	}
}
