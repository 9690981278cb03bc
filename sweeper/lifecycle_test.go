package sweeper_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

func TestNewRejects(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	valid := sweeper.Config{Interval: time.Minute}
	with := func(f func(*sweeper.Config)) sweeper.Config {
		c := valid
		f(&c)
		return c
	}
	tables := func(ts ...sweeper.Table) sweeper.Config {
		return with(func(c *sweeper.Config) { c.Tables = ts })
	}
	cases := []struct {
		name string
		cfg  sweeper.Config
	}{
		{"negative Interval", with(func(c *sweeper.Config) { c.Interval = -time.Second })},
		{"negative BatchSize", with(func(c *sweeper.Config) { c.BatchSize = -1 })},
		{"negative Timeout", with(func(c *sweeper.Config) { c.Timeout = -time.Second })},
		{"negative Jitter", with(func(c *sweeper.Config) { c.Jitter = -0.1 })},
		{"Jitter of a whole interval", with(func(c *sweeper.Config) { c.Jitter = 1 })},
		{"NaN Jitter", with(func(c *sweeper.Config) { c.Jitter = math.NaN() })},
		{"empty table name", tables(sweeper.Table{Name: "", Key: "id"})},
		{"empty key", tables(sweeper.Table{Name: "t", Key: ""})},
		{"empty schema", tables(sweeper.Table{Name: ".t", Key: "id"})},
		{"two dots", tables(sweeper.Table{Name: "db.s.t", Key: "id"})},
		{"qualified key", tables(sweeper.Table{Name: "t", Key: "t.id"})},
		{"double quote", tables(sweeper.Table{Name: `t"; DROP TABLE x; --`, Key: "id"})},
		{"backtick", tables(sweeper.Table{Name: "`t` ; DROP TABLE x; --", Key: "id"})},
		{"backtick in the key", tables(sweeper.Table{Name: "t", Key: "id`"})},
		{"NUL", tables(sweeper.Table{Name: "t\x00", Key: "id"})},
		{"invalid UTF-8", tables(sweeper.Table{Name: "t\xff", Key: "id"})},
		{"64-byte name", tables(sweeper.Table{Name: strings.Repeat("t", 64), Key: "id"})},
		{"listed twice", tables(sweeper.Table{Name: "t", Key: "id"}, sweeper.Table{Name: "t", Key: "other"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sweeper.New(db, &tc.cfg)
			if !errors.Is(err, sweeper.ErrInvalidConfig) || s != nil {
				t.Errorf("New = %v, %v; want nil, ErrInvalidConfig", s, err)
			}
		})
	}
	t.Run("nil db", func(t *testing.T) {
		s, err := sweeper.New(nil, &valid)
		if !errors.Is(err, sweeper.ErrNoDB) || s != nil {
			t.Errorf("New(nil) = %v, %v; want nil, ErrNoDB", s, err)
		}
	})
	t.Run("transaction", func(t *testing.T) {
		tx := db.Begin()
		defer tx.Rollback()
		s, err := sweeper.New(tx, &valid)
		if !errors.Is(err, sweeper.ErrInvalidConfig) || s != nil {
			t.Errorf("New(tx) = %v, %v; want nil, ErrInvalidConfig", s, err)
		}
	})
	t.Run("zero Sweeper", func(t *testing.T) {
		var s sweeper.Sweeper
		if _, err := s.SweepNow(context.Background()); !errors.Is(err, sweeper.ErrNoDB) {
			t.Errorf("SweepNow on a zero Sweeper = %v, want ErrNoDB", err)
		}
		if err := s.Start(context.Background()); !errors.Is(err, sweeper.ErrNoDB) {
			t.Errorf("Start on a zero Sweeper = %v, want ErrNoDB", err)
		}
	})
	t.Run("accepts", func(t *testing.T) {
		for _, cfg := range []sweeper.Config{
			valid,
			tables(sweeper.Table{Name: "public.t", Key: "id"}, sweeper.Table{Name: "Mixed Case", Key: "Key Column"}),
			with(func(c *sweeper.Config) { c.Jitter = 0.99; c.BatchSize = 1; c.Timeout = time.Nanosecond }),
		} {
			if _, err := sweeper.New(db, &cfg); err != nil {
				t.Errorf("New(%+v): %v", cfg, err)
			}
		}
	})
	t.Run("zero and nil Config", func(t *testing.T) {
		// Every field has a default, Interval included: the loop starts
		// and stops.
		for _, cfg := range []*sweeper.Config{nil, {}} {
			s, err := sweeper.New(db, cfg)
			if err != nil {
				t.Errorf("New(%v): %v", cfg, err)
				continue
			}
			if err := s.Start(context.Background()); err != nil {
				t.Errorf("Start with Config %v: %v", cfg, err)
			}
			if err := s.Stop(context.Background()); err != nil {
				t.Errorf("Stop with Config %v: %v", cfg, err)
			}
		}
	})
}

// goleak in TestMain proves that no loop outlives Stop: a second Start
// that started a second loop would leave one behind.
func TestStartAndStopLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)

	s := mustNew(t, db, sweeper.Config{Interval: 10 * time.Millisecond})
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := s.Start(ctx); !errors.Is(err, sweeper.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	for i := range 2 {
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop #%d = %v, want nil", i+1, err)
		}
	}
	if err := s.Start(ctx); !errors.Is(err, sweeper.ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}

	never := mustNew(t, db, sweeper.Config{})
	for i := range 2 {
		if err := never.Stop(ctx); err != nil {
			t.Errorf("Stop before Start #%d = %v, want nil", i+1, err)
		}
	}
	if err := never.Start(ctx); !errors.Is(err, sweeper.ErrStopped) {
		t.Errorf("Start after an early Stop = %v, want ErrStopped", err)
	}
}

func TestStartContextEndsTheLoop(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	reports := newResults()
	s := mustNew(t, db, sweeper.Config{Interval: 5 * time.Millisecond, OnSweep: reports.onSweep})
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	reports.next(t, 5*time.Second) // running
	cancel()
	// A pass in flight may still report; after that, nothing more.
	time.Sleep(100 * time.Millisecond)
	passes := len(reports.list())
	time.Sleep(200 * time.Millisecond) // 40 intervals
	if n := len(reports.list()); n != passes {
		t.Errorf("%d passes after the loop's context ended, want none", n-passes)
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer stopCancel()
	if err := s.Stop(stopCtx); err != nil {
		t.Errorf("Stop after the loop's context ended = %v, want nil", err)
	}
}

func TestStopInTheMiddleOfALargeSweep(t *testing.T) {
	t.Parallel()
	const rows = 100_000
	db := testdb.New(t)
	seed(t, db, cimdTable(false), "https://expired.example/", rows, epoch.Add(-48*time.Hour), time.Second)
	reports := newResults()
	// 5,000 batches of 20: seconds of work, so Stop lands mid-pass.
	s := mustNew(t, db, sweeper.Config{Interval: 10 * time.Millisecond, BatchSize: 20, OnSweep: reports.onSweep})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Several batches in, so that the pass has counted some of them.
	deadline := time.Now().Add(20 * time.Second)
	for testdb.Count(t, db, cimd) > rows-100 {
		if time.Now().After(deadline) {
			s.Stop(context.Background())
			t.Fatal("the loop deleted nothing within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// This process already runs a pass: one at a time.
	if _, err := s.SweepNow(context.Background()); !errors.Is(err, sweeper.ErrLocked) {
		t.Errorf("SweepNow during the loop's pass = %v, want ErrLocked", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := s.Stop(ctx)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Stop = %v", err)
	}
	left := testdb.Count(t, db, cimd)
	if left == 0 {
		t.Fatal("the pass finished before Stop: the test did not stop a sweep in its middle")
	}
	var canceled *sweeper.Result
	for _, r := range reports.list() {
		if r.Outcome == sweeper.OutcomeCanceled {
			canceled = &r
		}
	}
	if canceled == nil {
		t.Fatalf("no canceled pass reported; got %+v", reports.list())
	}
	if !errors.Is(canceled.Err, context.Canceled) || canceled.Deleted()[cimd] == 0 {
		t.Errorf("canceled pass: err %v, deleted %v; want context.Canceled after some rows", canceled.Err, canceled.Deleted())
	}
	t.Logf("Stop took %v with %d of %d rows left", took, left, rows)
	// Stop waited for the batch in flight: nothing runs after it returns.
	time.Sleep(500 * time.Millisecond)
	if n := testdb.Count(t, db, cimd); n != left {
		t.Errorf("rows went from %d to %d after Stop returned", left, n)
	}
	if sum := canceled.Deleted()[cimd]; sum != rows-left {
		t.Errorf("the canceled pass reports %d rows deleted, the table lost %d", sum, rows-left)
	}
}

// A batch statement waiting on the server when Stop is called (here for a
// table lock the test holds) runs to its end: Stop returns once it has,
// and no batch starts after it. A Stop whose ctx ends first cancels the
// statement instead. Either way the pass's lock is freed.
func TestStopWaitsForTheBatchInFlight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// stopFor bounds Stop; the blocker lets go after releaseAfter.
		stopFor, releaseAfter time.Duration
		wantErr               bool
		wantDeleted           int64
	}{
		{"the batch finishes", 20 * time.Second, 300 * time.Millisecond, false, 10},
		{"Stop gives up and cancels it", 300 * time.Millisecond, 20 * time.Second, true, 0},
	}
	for _, b := range lockBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					const rows = 100
					// The second pool looks at the lock from a session of its
					// own: the one that holds it would be granted it again.
					pools := b.open(t, 2, 4)
					db := pools[0]
					b.seed(t, db, cimdTable(false), "https://expired.example/", rows, epoch.Add(-48*time.Hour), time.Second)
					key := rand.Int64()
					reports := newResults()
					s := mustNew(t, db, sweeper.Config{Interval: 10 * time.Millisecond, BatchSize: 10, LockKey: key, OnSweep: reports.onSweep})
					release := b.blockTable(t, db, cimd)
					if err := s.Start(context.Background()); err != nil {
						t.Fatal(err)
					}
					b.waitForBlockedDelete(t, db, cimd)

					stopped := make(chan error, 1)
					ctx, cancel := context.WithTimeout(context.Background(), tc.stopFor)
					defer cancel()
					start := time.Now()
					go func() { stopped <- s.Stop(ctx) }()
					var err error
					select {
					case err = <-stopped:
					case <-time.After(tc.releaseAfter):
						release()
						err = <-stopped
					}
					took := time.Since(start)
					release()
					if (err != nil) != tc.wantErr {
						t.Fatalf("Stop = %v after %v, want an error: %v", err, took, tc.wantErr)
					}
					if !tc.wantErr && took < tc.releaseAfter {
						t.Errorf("Stop returned after %v, before the blocked batch could finish (%v)", took, tc.releaseAfter)
					}
					// Stop returned: no statement of the sweeper's is left,
					// and no batch starts.
					time.Sleep(300 * time.Millisecond)
					if n := testdb.Count(t, db, cimd); n != rows-tc.wantDeleted {
						t.Errorf("%d rows left after Stop, want %d: the batch in flight and nothing after it", n, rows-tc.wantDeleted)
					}
					r := reports.next(t, time.Second)
					if r.Outcome != sweeper.OutcomeCanceled || r.Deleted()[cimd] != tc.wantDeleted {
						t.Errorf("pass reported %v with %v deleted, want canceled with %d", r.Outcome, r.Deleted(), tc.wantDeleted)
					}
					// A cancelled statement's connection is closed, and the
					// server frees its lock when it notices.
					probe := pinned(t, pools[1])
					deadline := time.Now().Add(5 * time.Second)
					for !b.tryLock(t, probe, key) {
						if time.Now().After(deadline) {
							t.Fatal("the lock is still held 5 s after Stop returned")
						}
						time.Sleep(10 * time.Millisecond)
					}
				})
			}
		})
	}
}

func TestTimeoutEndsThePassAndKeepsItsBatches(t *testing.T) {
	t.Parallel()
	for _, b := range lockBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			const rows = 50_000
			ctx := context.Background()
			db := b.open(t, 1, 4)[0]
			b.seed(t, db, cimdTable(false), "https://expired.example/", rows, epoch.Add(-48*time.Hour), time.Second)
			logs := &testdb.Buffer{}
			reports := newResults()
			// 10,000 batches of 5 take seconds; a second is enough for a
			// few batches, also on a loaded machine, and never for all of
			// them.
			s := mustNew(t, db, sweeper.Config{BatchSize: 5, Timeout: time.Second,
				Logger: slogTo(logs), OnSweep: reports.onSweep})

			got, err := s.SweepNow(ctx)
			if !errors.Is(err, sweeper.ErrTimeout) {
				t.Fatalf("SweepNow = %v, %v; want ErrTimeout", got, err)
			}
			if got[cimd] == 0 || got[cimd] >= rows {
				t.Errorf("timed-out pass deleted %d of %d; want some, not all", got[cimd], rows)
			}
			if left := testdb.Count(t, db, cimd); left > rows-got[cimd] {
				t.Errorf("%d rows left after deleting %d of %d: batches were rolled back", left, got[cimd], rows)
			}
			if r := reports.next(t, time.Second); r.Outcome != sweeper.OutcomeFailed {
				t.Errorf("timed-out pass reported as %v, want failed", r.Outcome)
			}
			if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "timed out") {
				t.Errorf("timeout not logged as an error:\n%s", l)
			}

			// The timed-out pass's connection was closed on the client;
			// the server frees its lock when it notices, a moment later.
			next := mustNew(t, db, sweeper.Config{})
			rest, err := next.SweepNow(ctx)
			for deadline := time.Now().Add(5 * time.Second); errors.Is(err, sweeper.ErrLocked) && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				rest, err = next.SweepNow(ctx)
			}
			if err != nil || rest[cimd] == 0 || testdb.Count(t, db, cimd) != 0 {
				t.Errorf("next pass = %v, %v; want the rest deleted", rest, err)
			}
		})
	}
}

func TestFailedPassIsLoudAndTheLoopGoesOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	seed(t, db, cimdTable(false), "https://expired.example/", 3, epoch.Add(-time.Hour), time.Second)
	logs := &testdb.Buffer{}
	reports := newResults()
	tables := append(sweeper.DefaultTables(), sweeper.Table{Name: "no_such_table", Key: "id"})
	clock := fixedClock()
	s := mustNew(t, db, sweeper.Config{Interval: 20 * time.Millisecond, Now: clock,
		Tables: tables, Logger: slogTo(logs), OnSweep: reports.onSweep})

	got, err := s.SweepNow(ctx)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" || !strings.Contains(err.Error(), `"no_such_table"`) {
		t.Fatalf("SweepNow error = %v; want the missing table named, with SQLSTATE 42P01", err)
	}
	// The tables before the missing one were still swept.
	if got[cimd] != 3 || got[par] != 0 {
		t.Errorf("SweepNow deleted %v; want the 3 expired rows of %s", got, cimd)
	}
	r := reports.next(t, time.Second)
	if n := len(tables); r.Outcome != sweeper.OutcomeFailed || r.Err == nil || len(r.Tables) != n || r.Tables[n-1].Err == nil {
		t.Errorf("OnSweep got %v, %v, tables %+v; want failed, with the last table's error", r.Outcome, r.Err, r.Tables)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "table=no_such_table") {
		t.Errorf("the failure was not logged at ERROR with its table:\n%s", l)
	}

	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	if r := reports.next(t, 5*time.Second); r.Outcome != sweeper.OutcomeFailed {
		t.Errorf("loop pass = %v, want failed again", r.Outcome)
	}
	// A row that expires now is swept by a later pass of the same loop.
	seed(t, db, cimdTable(false), "https://later.example/", 1, epoch.Add(-time.Second), 0)
	deadline := time.After(10 * time.Second)
	for swept := false; !swept; {
		select {
		case r := <-reports.ch:
			swept = r.Deleted()[cimd] == 1
		case <-deadline:
			t.Fatal("the loop did not sweep again after failed passes")
		}
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n < 3 {
		t.Errorf("%d failures logged, want one per failed pass (at least 3)", n)
	}
}

func slogTo(b *testdb.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
