package sweeper_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

// The batch statement as MariaDB receives it (GORM's logger writes the
// bound values in; the server gets placeholders and the values apart).
func TestBatchStatementOnMariaDB(t *testing.T) {
	t.Parallel()
	db := testdb.NewMySQL(t)
	seedMySQL(t, db, cimdTable(false), "https://expired.example/", 3, epoch.Add(-time.Hour), time.Second)
	rec := &testdb.Recorder{}
	s := mustNew(t, rec.On(db), sweeper.Config{BatchSize: 10, Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})
	if got, err := s.SweepNow(context.Background()); err != nil || got[cimd] != 3 {
		t.Fatalf("SweepNow = %v, %v; want 3 deleted", got, err)
	}
	cut := "'" + mysqlTime(epoch) + "'"
	want := "DELETE `attesto_client_id_metadata` FROM `attesto_client_id_metadata` JOIN (" +
		"SELECT `url` FROM `attesto_client_id_metadata` WHERE `expires_at` < " + cut +
		" ORDER BY `expires_at` LIMIT 10 FOR UPDATE SKIP LOCKED" +
		") AS `gormstore_sweep_batch` USING (`url`) WHERE `expires_at` < " + cut
	b := batches(rec, cimd)
	if len(b) != 1 || b[0].Query != want {
		t.Errorf("batch statements:\n%+v\nwant one:\n%s", b, want)
	}
}

// Writers refilling expired rows during a pass wait for one batch at
// most, never for the pass; a single DELETE of the backlog makes the
// first writer that hits a row it holds wait for most of it. Every
// refilled row survives.
func TestWritersAreNotBlockedForThePassOnMariaDB(t *testing.T) {
	t.Parallel()
	const backlog = 60_000

	batched := underLoadMySQL(t, backlog, func(ctx context.Context, node *gorm.DB) error {
		// Batches larger than the default keep the test short: a writer
		// waits for one batch at most, whatever its size.
		s := mustNew(t, node, sweeper.Config{BatchSize: 250, Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})
		_, err := s.SweepNow(ctx)
		return err
	})
	t.Logf("batched:   %v", batched)
	if b := bound(batched.sweep); batched.writeDuring > b {
		t.Errorf("batched sweep of %v: worst write %v; want within %v", batched.sweep, batched.writeDuring, b)
	}

	unbatched := underLoadMySQL(t, backlog, func(ctx context.Context, node *gorm.DB) error {
		return node.WithContext(ctx).Exec("DELETE FROM "+cimd+" WHERE expires_at < ?", mysqlTime(epoch)).Error
	})
	t.Logf("unbatched: %v", unbatched)
	if b := bound(unbatched.sweep); unbatched.writeDuring <= b {
		t.Errorf("single DELETE of %v: worst write %v, within %v: the test does not tell batched from unbatched",
			unbatched.sweep, unbatched.writeDuring, b)
	}
}

// underLoadMySQL is underLoad on MariaDB, with writers only: four upsert
// random expired urls to live ones, as the stores' Put does, while sweep
// runs on another pool.
func underLoadMySQL(t *testing.T, backlog int, sweep func(ctx context.Context, node *gorm.DB) error) latencies {
	t.Helper()
	ctx := context.Background()
	database := testdb.MySQLDatabase(t)
	app := testdb.OpenMySQL(t, database, 8)
	node := testdb.OpenMySQL(t, database, 2)
	testdb.CreateMySQLTables(t, app)
	seedMySQL(t, app, cimdTable(false), "https://expired.example/", backlog, epoch.Add(-time.Duration(backlog)*time.Second), time.Second)

	var (
		mu      sync.Mutex
		samples []sample
		refills = map[string]bool{}
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	upsert := clause.OnConflict{DoUpdates: clause.AssignmentColumns([]string{"metadata", "expires_at"})}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				url := fmt.Sprintf("https://expired.example/%d", 1+rand.IntN(backlog))
				start := time.Now()
				err := app.WithContext(ctx).Table(cimd).Clauses(upsert).Create(map[string]any{
					"url": url, "metadata": `{"client_id": "https://refilled.example/"}`,
					"expires_at": mysqlTime(epoch.Add(time.Hour)), "inserted_at": mysqlTime(epoch),
				}).Error
				end := time.Now()
				if err != nil {
					t.Errorf("upsert %s: %v", url, err)
					return
				}
				mu.Lock()
				samples = append(samples, sample{write: true, start: start, end: end})
				refills[url] = true
				mu.Unlock()
			}
		})
	}

	time.Sleep(500 * time.Millisecond)
	sweepStart := time.Now()
	err := sweep(ctx, node)
	sweepEnd := time.Now()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	l := latencies{sweep: sweepEnd.Sub(sweepStart)}
	for _, s := range samples {
		d := s.end.Sub(s.start)
		switch {
		case s.end.Before(sweepStart):
			l.writeBefore = max(l.writeBefore, d)
		case s.start.Before(sweepStart) || !s.start.Before(sweepEnd):
		default:
			l.writeDuring = max(l.writeDuring, d)
			l.writesDuring++
		}
	}
	if l.writesDuring < 10 {
		t.Fatalf("only %d writes during the sweep: too few to measure", l.writesDuring)
	}
	left := keys(t, app, cimdTable(false))
	for url := range refills {
		if _, found := slices.BinarySearch(left, url); !found {
			t.Errorf("refilled %s is gone after the sweep", url)
		}
	}
	if len(left) != len(refills) {
		t.Errorf("%d rows left, want the %d refilled", len(left), len(refills))
	}
	return l
}

// The lock is released at the end of every pass, also one that failed:
// the next node is never kept out by a pass that is over.
func TestLockIsReleasedAfterThePassOnMariaDB(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tables []sweeper.Table
		// wantErr is the MariaDB error number of a failed pass, or 0.
		wantErr uint16
	}{
		{"swept", nil, 0},
		{"failed", append(sweeper.DefaultTables(), sweeper.Table{Name: "no_such_table", Key: "id"}), 1146},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.NewMySQL(t)
			seedMySQL(t, db, cimdTable(false), "https://expired.example/", 3, epoch.Add(-time.Hour), time.Second)
			key := rand.Int64()
			reports := newResults()
			s := mustNew(t, db, sweeper.Config{LockKey: key, Tables: tc.tables, OnSweep: reports.onSweep})

			got, err := s.SweepNow(context.Background())
			var myErr *mysqldriver.MySQLError
			switch {
			case tc.wantErr == 0 && err != nil:
				t.Fatalf("SweepNow: %v", err)
			case tc.wantErr != 0 && (!errors.As(err, &myErr) || myErr.Number != tc.wantErr || !strings.Contains(err.Error(), `"no_such_table"`)):
				t.Fatalf("SweepNow error = %v; want error %d naming the table", err, tc.wantErr)
			}
			if got[cimd] != 3 {
				t.Errorf("SweepNow deleted %v; want the 3 expired rows of %s", got, cimd)
			}
			if r := reports.next(t, time.Second); (r.Outcome == sweeper.OutcomeSwept) != (tc.wantErr == 0) {
				t.Errorf("pass reported %v: %v", r.Outcome, r.Err)
			}
			if id := lockHolder(t, db, mysqlLockName(key)); id != 0 {
				t.Errorf("connection %d still holds the lock after the pass", id)
			}
		})
	}
}

// The lock and the batches share one connection, and the derived lock is
// scoped to the database and the tables: while a pass is in flight, a
// second node on the same tables skips, and sweepers of another database
// or of other tables go ahead.
func TestLockScopeOnMariaDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Four connections a node: the test's table lock and the pass's pinned
	// connection leave the first node's pool two to look at the server.
	nodes := openMariaDB(t, 3, 4)
	other := openMariaDB(t, 1, 2)[0]
	for _, db := range []*gorm.DB{nodes[0], other} {
		seedMySQL(t, db, cimdTable(false), "https://expired.example/", 10, epoch.Add(-time.Hour), time.Second)
		seedMySQL(t, db, parTable(false), "urn:expired:", 10, epoch.Add(-time.Hour), time.Second)
	}
	release := blockTable(t, nodes[0], cimd)
	defer release()
	reports := newResults()
	first := mustNew(t, nodes[0], sweeper.Config{OnSweep: reports.onSweep})
	passed := make(chan error, 1)
	go func() {
		_, err := first.SweepNow(ctx)
		passed <- err
	}()
	waitForBlockedDelete(t, nodes[0], 10*time.Second)

	if got, err := mustNew(t, nodes[1], sweeper.Config{}).SweepNow(ctx); !errors.Is(err, sweeper.ErrLocked) {
		t.Errorf("a second node on the same tables = %v, %v; want ErrLocked", got, err)
	}
	if got, err := mustNew(t, other, sweeper.Config{}).SweepNow(ctx); err != nil || got[cimd] != 10 || got[par] != 10 {
		t.Errorf("a sweeper of another database = %v, %v; want its 10 + 10 rows deleted", got, err)
	}
	parOnly := sweeper.Config{Tables: []sweeper.Table{{Name: par, Key: "request_uri"}}}
	if got, err := mustNew(t, nodes[2], parOnly).SweepNow(ctx); err != nil || got[par] != 10 {
		t.Errorf("a sweeper of other tables = %v, %v; want its 10 rows deleted", got, err)
	}

	release()
	if err := <-passed; err != nil {
		t.Fatalf("the blocked pass: %v", err)
	}
	if got := reports.next(t, time.Second).Deleted(); got[cimd] != 10 {
		t.Errorf("the blocked pass deleted %v, want the 10 rows of %s", got, cimd)
	}
}

// The batches run on the very connection that holds the lock.
func TestBatchesRunOnTheLockConnectionOnMariaDB(t *testing.T) {
	t.Parallel()
	db := testdb.NewMySQL(t)
	seedMySQL(t, db, cimdTable(false), "https://expired.example/", 10, epoch.Add(-time.Hour), time.Second)
	key := rand.Int64()
	release := blockTable(t, db, cimd)
	defer release()
	s := mustNew(t, db, sweeper.Config{LockKey: key})
	passed := make(chan error, 1)
	go func() {
		_, err := s.SweepNow(context.Background())
		passed <- err
	}()
	batch := waitForBlockedDelete(t, db, 10*time.Second)
	if holder := lockHolder(t, db, mysqlLockName(key)); holder != batch {
		t.Errorf("the batch runs on connection %d, the lock is held by %d", batch, holder)
	}
	release()
	if err := <-passed; err != nil {
		t.Fatal(err)
	}
}

// Every batch is a transaction at READ COMMITTED: at the server's default
// REPEATABLE READ its scan of the expires_at index would also lock the
// gap after the last expired row, and a store writing a fresh row into
// it would wait for the batch to commit. A trigger of the test's own
// keeps the batch open long enough to see.
func TestBatchesDoNotLockGapsOnMariaDB(t *testing.T) {
	t.Parallel()
	const perRow = 600 * time.Millisecond // the trigger's SLEEP
	db := testdb.NewMySQL(t)
	var level string
	if err := db.Raw("SELECT @@session.tx_isolation").Scan(&level).Error; err != nil || level != "REPEATABLE-READ" {
		t.Fatalf("the session's isolation level is %q, %v; the test needs the server's default, REPEATABLE-READ", level, err)
	}
	seedMySQL(t, db, cimdTable(false), "https://expired.example/", 5, epoch.Add(-5*time.Second), time.Second)
	seedMySQL(t, db, cimdTable(false), "https://live.example/", 1, epoch.Add(time.Hour), 0)
	testdb.MustExec(t, db, "CREATE TRIGGER slow_delete AFTER DELETE ON "+cimd+" FOR EACH ROW SET @slept = SLEEP(0.6)")
	s := mustNew(t, db, sweeper.Config{BatchSize: 10, Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})
	start := time.Now()
	passed := make(chan error, 1)
	go func() {
		got, err := s.SweepNow(context.Background())
		if err == nil && got[cimd] != 5 {
			err = fmt.Errorf("deleted %v, want 5", got)
		}
		passed <- err
	}()
	// The batch is deleting, its trigger sleeping at each row (the
	// server then shows the trigger's statement, not the DELETE).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int64
		if err := db.Raw(`SELECT count(*) FROM information_schema.processlist
			WHERE db = DATABASE() AND state = 'User sleep'`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch did not start within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A fresh row between the last expired one and the live one.
	writeStart := time.Now()
	err := db.Table(cimd).Create(map[string]any{"url": "https://fresh.example/", "metadata": `{"client_id": "x"}`,
		"expires_at": mysqlTime(epoch.Add(time.Minute)), "inserted_at": mysqlTime(epoch)}).Error
	write := time.Since(writeStart)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-passed; err != nil {
		t.Fatalf("SweepNow: %v", err)
	}
	pass := time.Since(start)
	t.Logf("insert took %v during a batch of %v", write, pass)
	if pass < 5*perRow {
		t.Fatalf("the batch took %v, less than its trigger's %v: the test saw nothing", pass, 5*perRow)
	}
	if write > 5*perRow/3 {
		t.Errorf("an insert next to the swept range took %v: it waited for the batch", write)
	}
	want := []string{"https://fresh.example/", "https://live.example/1"}
	if left := keys(t, db, cimdTable(false)); !slices.Equal(left, want) {
		t.Errorf("%s keeps %v, want %v", cimd, left, want)
	}
}
