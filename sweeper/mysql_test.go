package sweeper_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	_ "time/tzdata"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

// On MariaDB the sweeper deletes in bounded batches and decides what
// expired by instant, whatever loc the DSN gives the driver and whatever
// time_zone the session has: the rows are written as UTC text, as the
// stores write them, and the sweeper's clock is far west of UTC.
func TestSweepOnMariaDB(t *testing.T) {
	t.Parallel()
	// The driver takes loc by name (GORM's dialector formats the DSN
	// again); time/tzdata provides the names where the system has none.
	east := mustLoadLocation(t, "Pacific/Kiritimati") // UTC+14
	west := mustLoadLocation(t, "Etc/GMT+12")         // UTC-12
	cases := []struct {
		name     string
		loc      *time.Location // the DSN's loc; nil keeps testdb's (Local)
		timeZone string         // the session's time_zone; "" keeps the server's
	}{
		{"DSN as GORM documents it", nil, ""},
		{"loc UTC+14", east, ""},
		// MariaDB takes offsets from -12:59 to +13:00.
		{"session time_zone +13:00", nil, "+13:00"},
		{"loc UTC-12 and session time_zone +13:00", west, "+13:00"},
		{"loc UTC+14 and session time_zone -12:00", east, "-12:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			database := testdb.MySQLDatabase(t)
			db := testdb.OpenMySQL(t, database, 2)
			testdb.CreateMySQLTables(t, db)
			c, p := cimdTable(false), parTable(false)
			// Expired a microsecond to 250 ms ago, then the rows at and
			// just after the cut-off, which stay.
			seedMySQL(t, db, c, "https://expired.example/", 249, epoch.Add(-250*time.Millisecond), time.Millisecond)
			seedMySQL(t, db, c, "https://before.example/", 1, epoch.Add(-time.Microsecond), 0)
			seedMySQL(t, db, c, "https://at.example/", 1, epoch, 0)
			seedMySQL(t, db, c, "https://live.example/", 5, epoch.Add(time.Microsecond), time.Millisecond)
			seedMySQL(t, db, p, "urn:expired:", 12, epoch.Add(-2*time.Hour), time.Minute)
			seedMySQL(t, db, p, "urn:live:", 3, epoch.Add(time.Hour), time.Minute)

			cfg := testdb.MySQLConfig(t, database)
			if tc.loc != nil {
				cfg.Loc = tc.loc
			}
			if tc.timeZone != "" {
				cfg.Params = maps.Clone(cfg.Params)
				if cfg.Params == nil {
					cfg.Params = map[string]string{}
				}
				cfg.Params["time_zone"] = "'" + tc.timeZone + "'"
			}
			node := testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: cfg}, 2)
			if tc.timeZone != "" {
				var tz string
				if err := node.Raw("SELECT @@session.time_zone").Scan(&tz).Error; err != nil || tz != tc.timeZone {
					t.Fatalf("session time_zone = %q, %v; want %s", tz, err, tc.timeZone)
				}
			}

			rec := &testdb.Recorder{}
			s := mustNew(t, rec.On(node), sweeper.Config{
				BatchSize: 100,
				Now:       func() time.Time { return epoch.In(west) },
			})
			got, err := s.SweepNow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int64{cimd: 250, par: 12, replay: 0}; !maps.Equal(got, want) {
				t.Errorf("SweepNow deleted %v, want %v", got, want)
			}
			var perStatement []int64
			for _, st := range batches(rec, cimd) {
				perStatement = append(perStatement, st.Rows)
			}
			if want := []int64{100, 100, 50}; !slices.Equal(perStatement, want) {
				t.Errorf("rows per DELETE on %s = %v, want %v", cimd, perStatement, want)
			}
			wantCIMD := append([]string{"https://at.example/1"}, keyRange("https://live.example/", 5)...)
			slices.Sort(wantCIMD)
			if left := keys(t, db, c); !slices.Equal(left, wantCIMD) {
				t.Errorf("%s keeps %v, want %v", cimd, left, wantCIMD)
			}
			if left := keys(t, db, p); !slices.Equal(left, keyRange("urn:live:", 3)) {
				t.Errorf("%s keeps %v, want the 3 live request_uris", par, left)
			}
		})
	}
}

func mustLoadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

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

// GORM drops Limit on Delete; the server's count of the rows each DELETE
// removed (its affected rows, as GORM's logger saw them) proves every
// batch is bounded, whatever the sweeper reports.
func TestBatchesAreBoundedOnMariaDB(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		batchSize int
		expired   int
		step      time.Duration
		want      []int64
	}{
		{"35 rows by 10", 10, 35, time.Millisecond, []int64{10, 10, 10, 5}},
		{"exact multiple ends with an empty batch", 10, 30, time.Millisecond, []int64{10, 10, 10, 0}},
		{"default batch size", 0, 125, time.Millisecond, []int64{50, 50, 25}},
		{"one expiry for all rows", 10, 25, 0, []int64{10, 10, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.NewMySQL(t)
			seedMySQL(t, db, cimdTable(false), "https://expired.example/", tc.expired, epoch.Add(-time.Hour), tc.step)
			seedMySQL(t, db, cimdTable(false), "https://live.example/", 5, epoch.Add(time.Millisecond), time.Millisecond)
			rec := &testdb.Recorder{}
			reports := newResults()
			s := mustNew(t, rec.On(db), sweeper.Config{BatchSize: tc.batchSize, OnSweep: reports.onSweep,
				Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})

			got, err := s.SweepNow(context.Background())
			if err != nil || got[cimd] != int64(tc.expired) {
				t.Fatalf("SweepNow = %v, %v; want %d deleted", got, err, tc.expired)
			}
			var perStatement []int64
			for _, st := range batches(rec, cimd) {
				perStatement = append(perStatement, st.Rows)
			}
			if !slices.Equal(perStatement, tc.want) {
				t.Errorf("rows per DELETE statement = %v, want %v", perStatement, tc.want)
			}
			if r := reports.next(t, time.Second); r.Tables[0].Batches != len(tc.want) {
				t.Errorf("Result reports %d batches, want %d", r.Tables[0].Batches, len(tc.want))
			}
			if n := testdb.Count(t, db, cimd); n != 5 {
				t.Errorf("%s has %d rows left, want the 5 live ones", cimd, n)
			}
		})
	}
}

// A row a writer holds is stepped over, not waited for: the pass ends at
// once with the rest deleted, and the next pass takes the row once the
// writer is done with it.
func TestLockedRowIsSkippedOnMariaDB(t *testing.T) {
	t.Parallel()
	db := testdb.NewMySQL(t)
	seedMySQL(t, db, cimdTable(false), "https://expired.example/", 30, epoch.Add(-time.Hour), time.Second)
	// The writer holds the oldest row, which every batch would take
	// first, and one in the middle, as the stores' upsert does.
	writer := db.Begin()
	defer writer.Rollback()
	for _, url := range []string{"https://expired.example/1", "https://expired.example/15"} {
		err := writer.Table(cimd).Clauses(clause.OnConflict{DoUpdates: clause.AssignmentColumns([]string{"metadata"})}).
			Create(map[string]any{"url": url, "metadata": `{"client_id": "refreshing"}`,
				"expires_at": mysqlTime(epoch.Add(-time.Hour)), "inserted_at": mysqlTime(epoch)}).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	s := mustNew(t, db, sweeper.Config{BatchSize: 10, Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})
	// A batch that waited for the writer would wait for
	// innodb_lock_wait_timeout (50 s by default).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	got, err := s.SweepNow(ctx)
	took := time.Since(start)
	if err != nil || got[cimd] != 28 {
		t.Fatalf("SweepNow with two rows locked = %v, %v after %v; want the 28 others deleted", got, err, took)
	}
	want := []string{"https://expired.example/1", "https://expired.example/15"}
	if left := keys(t, db, cimdTable(false)); !slices.Equal(left, want) {
		t.Errorf("%s keeps %v, want the locked %v", cimd, left, want)
	}
	if err := writer.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if got, err := s.SweepNow(context.Background()); err != nil || got[cimd] != 2 {
		t.Errorf("SweepNow after the writer committed = %v, %v; want its 2 still expired rows", got, err)
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

// On MariaDB the lock is a named lock (GET_LOCK), "gormstore sweeper "
// and the key in hex: a node that finds it taken skips the pass.
func TestHeldLockSkipsThePassOnMariaDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.NewMySQL(t)
	seedMySQL(t, db, cimdTable(false), "https://expired.example/", 5, epoch.Add(-time.Hour), time.Second)
	// Named locks are per server: a random key keeps parallel tests apart.
	key := rand.Int64()
	name := mysqlLockName(key)
	holder := pinned(t, db)
	if !getLock(t, holder, name) {
		t.Fatal("the test could not take its own lock")
	}
	logs := &testdb.Buffer{}
	reports := newResults()
	s := mustNew(t, db, sweeper.Config{LockKey: key, Logger: slogTo(logs), OnSweep: reports.onSweep})

	got, err := s.SweepNow(ctx)
	if !errors.Is(err, sweeper.ErrLocked) || len(got) != 0 {
		t.Fatalf("SweepNow under another node's lock = %v, %v; want nothing, ErrLocked", got, err)
	}
	if n := testdb.Count(t, db, cimd); n != 5 {
		t.Errorf("%d rows left, want all 5: a skipped pass deletes nothing", n)
	}
	if r := reports.next(t, time.Second); r.Outcome != sweeper.OutcomeSkipped || !errors.Is(r.Err, sweeper.ErrLocked) {
		t.Errorf("OnSweep got %v, %v; want skipped, ErrLocked", r.Outcome, r.Err)
	}
	if l := logs.String(); !strings.Contains(l, "level=DEBUG") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
		t.Errorf("a skip must be logged at DEBUG only:\n%s", l)
	}

	releaseLock(t, holder, name)
	if got, err := s.SweepNow(ctx); err != nil || got[cimd] != 5 {
		t.Fatalf("SweepNow once the lock is free = %v, %v; want 5 deleted", got, err)
	}
	if !getLock(t, holder, name) {
		t.Error("the sweeper kept the lock after its pass")
	}
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

// When the unlock fails, the sweeper closes the connection that holds the
// lock rather than return it to the pool, where it would keep the lock.
// A GORM callback of the test's own fails RELEASE_LOCK before it reaches
// the server, on a healthy connection: only closing it frees the lock.
func TestFailedUnlockClosesTheConnectionOnMariaDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	database := testdb.MySQLDatabase(t)
	db := testdb.OpenMySQL(t, database, 4)
	testdb.CreateMySQLTables(t, db)
	seedMySQL(t, db, cimdTable(false), "https://expired.example/", 3, epoch.Add(-time.Hour), time.Second)
	refuse := func(tx *gorm.DB) {
		if strings.Contains(tx.Statement.SQL.String(), "RELEASE_LOCK") {
			tx.AddError(errors.New("unlock refused by the test"))
		}
	}
	if err := db.Callback().Row().Before("gorm:row").Register("test:refuse_unlock", refuse); err != nil {
		t.Fatal(err)
	}
	key := rand.Int64()
	logs := &testdb.Buffer{}
	s := mustNew(t, db, sweeper.Config{LockKey: key, Logger: slogTo(logs)})

	if got, err := s.SweepNow(ctx); err != nil || got[cimd] != 3 {
		t.Fatalf("SweepNow = %v, %v; want 3 deleted: a failed unlock does not fail the pass", got, err)
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "unlock refused by the test") {
		t.Errorf("the failed unlock was not logged at WARN:\n%s", l)
	}
	probe := testdb.OpenMySQL(t, database, 1)
	deadline := time.Now().Add(5 * time.Second)
	for lockHolder(t, probe, mysqlLockName(key)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the lock outlived the failed unlock: its connection went back to the pool")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A batch waiting on the server when Stop is called runs to its end;
// a Stop whose ctx ends first cancels it: the driver closes the
// connection, and the server rolls the batch's transaction back and
// frees the lock.
func TestStopWaitsForTheBatchInFlightOnMariaDB(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		stopFor, releaseAfter time.Duration
		wantErr               bool
		wantDeleted           int64
	}{
		{"the batch finishes", 20 * time.Second, 300 * time.Millisecond, false, 10},
		{"Stop gives up and cancels it", 300 * time.Millisecond, 20 * time.Second, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const rows = 100
			db := testdb.NewMySQL(t)
			seedMySQL(t, db, cimdTable(false), "https://expired.example/", rows, epoch.Add(-48*time.Hour), time.Second)
			key := rand.Int64()
			reports := newResults()
			s := mustNew(t, db, sweeper.Config{Interval: 10 * time.Millisecond, BatchSize: 10, LockKey: key, OnSweep: reports.onSweep})
			release := blockTable(t, db, cimd)
			defer release()
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitForBlockedDelete(t, db, 10*time.Second)

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
			time.Sleep(300 * time.Millisecond)
			if n := testdb.Count(t, db, cimd); n != rows-tc.wantDeleted {
				t.Errorf("%d rows left after Stop, want %d: the batch in flight and nothing after it", n, rows-tc.wantDeleted)
			}
			r := reports.next(t, time.Second)
			if r.Outcome != sweeper.OutcomeCanceled || r.Deleted()[cimd] != tc.wantDeleted {
				t.Errorf("pass reported %v with %v deleted, want canceled with %d", r.Outcome, r.Deleted(), tc.wantDeleted)
			}
			deadline := time.Now().Add(5 * time.Second)
			for lockHolder(t, db, mysqlLockName(key)) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the lock is still held 5 s after Stop returned")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func TestTimeoutEndsThePassAndKeepsItsBatchesOnMariaDB(t *testing.T) {
	t.Parallel()
	const rows = 20_000
	ctx := context.Background()
	db := testdb.NewMySQL(t)
	seedMySQL(t, db, cimdTable(false), "https://expired.example/", rows, epoch.Add(-48*time.Hour), time.Second)
	reports := newResults()
	// 4,000 batches of 5 take seconds; a second is enough for a few.
	s := mustNew(t, db, sweeper.Config{BatchSize: 5, Timeout: time.Second, OnSweep: reports.onSweep})

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
	// The timed-out pass's connection was closed on the client; the
	// server frees its lock when it notices, a moment later.
	next := mustNew(t, db, sweeper.Config{})
	rest, err := next.SweepNow(ctx)
	for deadline := time.Now().Add(5 * time.Second); errors.Is(err, sweeper.ErrLocked) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		rest, err = next.SweepNow(ctx)
	}
	if err != nil || rest[cimd] == 0 || testdb.Count(t, db, cimd) != 0 {
		t.Errorf("next pass = %v, %v; want the rest deleted", rest, err)
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
