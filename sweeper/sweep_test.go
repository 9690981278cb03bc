package sweeper_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
	_ "time/tzdata"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
	"github.com/attesto/gormstore/sweeper"
)

// schemas runs a test on the tables as AutoMigrate creates them and as
// attesto_phoenix's migration does (timestamp(0) without time zone).
var schemas = []struct {
	name   string
	legacy bool
}{{"gormstore", false}, {"attesto_phoenix", true}}

func newDB(t *testing.T, legacy bool) *gorm.DB {
	t.Helper()
	if legacy {
		return testdb.NewLegacy(t)
	}
	return testdb.New(t)
}

// The sweeper deletes exactly the expired rows of every table, in
// bounded batches, and decides what expired by instant: the rows at and
// after its now stay, its clock is far west of UTC, and some rows are
// written through the stores by clocks far east and west of it. On
// MariaDB, whatever loc the DSN gives the driver and whatever time_zone
// the session has; on PostgreSQL, also on attesto_phoenix's tables.
func TestSweepDeletesExactlyTheExpiredRows(t *testing.T) {
	t.Parallel()
	// The driver takes loc by name (GORM's dialector formats the DSN
	// again); time/tzdata provides the names where the system has none.
	east := mustLoadLocation(t, "Pacific/Kiritimati") // UTC+14
	west := mustLoadLocation(t, "Etc/GMT+12")         // UTC-12
	cases := []struct {
		name string
		b    backend
		// open returns the pool the test writes and reads through and the
		// one the sweeper runs on; nil is one pool of b for both.
		open   func(t *testing.T) (db, node *gorm.DB)
		legacy bool
	}{
		{name: "PostgreSQL", b: postgresBackend},
		{name: "PostgreSQL attesto_phoenix tables", b: postgresBackend, legacy: true,
			open: func(t *testing.T) (db, node *gorm.DB) { db = testdb.NewLegacy(t); return db, db }},
		{name: "MariaDB DSN as GORM documents it", b: mariaDBBackend},
		{name: "MariaDB loc UTC+14", b: mariaDBBackend, open: openMariaDBIn(east, "")},
		// MariaDB takes offsets from -12:59 to +13:00.
		{name: "MariaDB session time_zone +13:00", b: mariaDBBackend, open: openMariaDBIn(nil, "+13:00")},
		{name: "MariaDB loc UTC-12 and session time_zone +13:00", b: mariaDBBackend, open: openMariaDBIn(west, "+13:00")},
		{name: "MariaDB loc UTC+14 and session time_zone -12:00", b: mariaDBBackend, open: openMariaDBIn(east, "-12:00")},
		{name: "SQLite", b: sqliteBackend},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var db, node *gorm.DB
			if tc.open != nil {
				db, node = tc.open(t)
			} else {
				db = tc.b.open(t, 1, 4)[0]
				node = db
			}
			rec := &testdb.Recorder{}
			batchRows := tc.b.batchRows(t, db, rec, cimd)
			// The finest step the expires_at column keeps as seeded.
			step := tc.b.step
			if tc.legacy {
				step = time.Second
			}
			c, p, r := cimdTable(tc.legacy), parTable(tc.legacy), replayTable(tc.legacy)
			// Expired long ago to a step ago, then the rows at and just
			// after the cut-off, which stay.
			tc.b.seed(t, db, c, "https://expired.example/", 200, epoch.Add(-250*step), step)
			tc.b.seed(t, db, c, "https://before.example/", 1, epoch.Add(-step), 0)
			tc.b.seed(t, db, c, "https://at.example/", 1, epoch, 0)
			tc.b.seed(t, db, c, "https://live.example/", 5, epoch.Add(step), step)
			tc.b.seed(t, db, p, "urn:expired:", 30, epoch.Add(-time.Hour), time.Minute)
			tc.b.seed(t, db, p, "urn:live:", 10, epoch.Add(time.Minute), time.Hour)
			tc.b.seed(t, db, r, "jti-expired-", 7, epoch.Add(-7*time.Second), time.Second)
			tc.b.seed(t, db, r, "jti-live-", 3, epoch.Add(time.Second), time.Second)

			// Through the stores, two hours before the cut-off: the
			// expired rows written in the east, the live ones in the
			// west, whose wall clock is far behind the sweeper's.
			clock := repotest.NewClock(epoch.Add(-2 * time.Hour).In(east))
			cache, err := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			pars, err := repo.NewGormPARStore(db, &repo.Config{Now: clock.Now, MaxPARTTL: 3 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			jtis, err := repo.NewGormReplayStore(db, &repo.Config{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 49 {
				url := fmt.Sprintf("https://stored-expired.example/%d", i)
				if err := cache.Put(ctx, url, map[string]any{"client_id": url}, epoch.Add(-time.Duration(i+2)*step).In(east)); err != nil {
					t.Fatal(err)
				}
			}
			liveURLs := keyRange("https://stored-live.example/", 5)
			for _, url := range liveURLs {
				if err := cache.Put(ctx, url, map[string]any{"client_id": url}, epoch.Add(step).In(west)); err != nil {
					t.Fatal(err)
				}
			}
			// 12 requests pushed with a TTL of an hour (expired), 3 with
			// a TTL of three hours (live).
			var liveRequests []string
			for i := range 15 {
				uri, ttl := repo.NewRequestURI(), time.Hour
				if i < 3 {
					ttl = 3 * time.Hour
					liveRequests = append(liveRequests, uri)
				}
				if err := pars.Put(ctx, uri, map[string]any{"client_id": "c"}, ttl); err != nil {
					t.Fatal(err)
				}
			}
			for jti, at := range map[string]time.Time{"jti-stored-expired": epoch.Add(-step).In(east), "jti-stored-live": epoch.Add(step).In(west)} {
				if fresh, err := jtis.CheckAndRecord(ctx, jti, at); err != nil || !fresh {
					t.Fatalf("CheckAndRecord(%s) = %v, %v", jti, fresh, err)
				}
			}

			reports := newResults()
			s := mustNew(t, rec.On(node), sweeper.Config{
				BatchSize: 100,
				Now:       func() time.Time { return epoch.In(west) },
				OnSweep:   reports.onSweep,
			})
			got, err := s.SweepNow(ctx)
			if err != nil {
				t.Fatalf("SweepNow: %v", err)
			}
			want := map[string]int64{cimd: 250, par: 42, replay: 8}
			if !maps.Equal(got, want) {
				t.Errorf("SweepNow deleted %v, want %v", got, want)
			}
			if perStatement, wantRows := batchRows(), []int64{100, 100, 50}; !slices.Equal(perStatement, wantRows) {
				t.Errorf("rows per DELETE on %s = %v, want %v", cimd, perStatement, wantRows)
			}
			if n := len(batches(rec, cimd)); n != 3 {
				t.Errorf("GORM ran %d batch statements on %s, want 3", n, cimd)
			}
			wantCIMD := slices.Concat([]string{"https://at.example/1"}, keyRange("https://live.example/", 5), liveURLs)
			slices.Sort(wantCIMD)
			if left := keys(t, db, c); !slices.Equal(left, wantCIMD) {
				t.Errorf("%s keeps %v, want exactly %v", cimd, left, wantCIMD)
			}
			wantPAR := slices.Concat(keyRange("urn:live:", 10), liveRequests)
			slices.Sort(wantPAR)
			if left := keys(t, db, p); !slices.Equal(left, wantPAR) {
				t.Errorf("%s keeps %v, want exactly the %d live request_uris", par, left, len(wantPAR))
			}
			if left, wantJTIs := keys(t, db, r), append(keyRange("jti-live-", 3), "jti-stored-live"); !slices.Equal(left, wantJTIs) {
				t.Errorf("%s keeps %v, want exactly %v", replay, left, wantJTIs)
			}
			rep := reports.next(t, time.Second)
			if rep.Outcome != sweeper.OutcomeSwept || rep.Err != nil || !rep.Now.Equal(epoch) || !maps.Equal(rep.Deleted(), want) {
				t.Errorf("OnSweep got %v %v now=%v deleted=%v; want swept, no error, now=%v, %v", rep.Outcome, rep.Err, rep.Now, rep.Deleted(), epoch, want)
			}
			if len(rep.Tables) != 3 || rep.Tables[0].Table != cimd || rep.Tables[1].Table != par || rep.Tables[2].Table != replay {
				t.Errorf("OnSweep tables = %+v; want %s, %s, then %s", rep.Tables, cimd, par, replay)
			}

			// The stores, at the cut-off, still read what they wrote live.
			clock.Set(epoch.In(east))
			for _, url := range liveURLs {
				if _, ok, err := cache.Get(ctx, url); !ok || err != nil {
					t.Errorf("Get(%s) after the sweep = %v, %v; want the live document", url, ok, err)
				}
			}
			for _, uri := range liveRequests {
				if _, ok, err := pars.Fetch(ctx, uri); !ok || err != nil {
					t.Errorf("Fetch(%s) after the sweep = %v, %v; want the live request", uri, ok, err)
				}
			}
			if seen, err := jtis.Seen(ctx, "jti-stored-live"); !seen || err != nil {
				t.Errorf("Seen(jti-stored-live) after the sweep = %v, %v; want it recorded", seen, err)
			}

			again, err := s.SweepNow(ctx)
			if err != nil || !maps.Equal(again, map[string]int64{cimd: 0, par: 0, replay: 0}) {
				t.Errorf("second SweepNow = %v, %v; want nothing left to delete", again, err)
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

func TestRowExpiringAtNowStays(t *testing.T) {
	t.Parallel()
	for _, sc := range schemas {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, sc.legacy)
			// The finest step each column type stores.
			step := time.Microsecond
			if sc.legacy {
				step = time.Second
			}
			for _, tb := range []table{cimdTable(sc.legacy), parTable(sc.legacy), replayTable(sc.legacy)} {
				seed(t, db, tb, "before", 1, epoch.Add(-step), 0)
				seed(t, db, tb, "at", 1, epoch, 0)
				seed(t, db, tb, "after", 1, epoch.Add(step), 0)
			}
			got, err := mustNew(t, db, sweeper.Config{}).SweepNow(context.Background())
			if err != nil || !maps.Equal(got, map[string]int64{cimd: 1, par: 1, replay: 1}) {
				t.Fatalf("SweepNow = %v, %v; want one row deleted per table", got, err)
			}
			for _, tb := range []table{cimdTable(sc.legacy), parTable(sc.legacy), replayTable(sc.legacy)} {
				if left := keys(t, db, tb); !slices.Equal(left, []string{"after1", "at1"}) {
					t.Errorf("%s keeps %v; want the rows expiring at and after now", tb.name, left)
				}
			}
		})
	}
}

// The cut-off is read once per pass: a clock that moves an hour on every
// call must not expire, in the second table, rows that were live when the
// pass began.
func TestOnePassOneNow(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	calls := 0
	now := func() time.Time {
		calls++
		return epoch.Add(time.Duration(calls-1) * time.Hour)
	}
	for _, tb := range []table{cimdTable(false), parTable(false), replayTable(false)} {
		seed(t, db, tb, "expired", 1, epoch.Add(-time.Second), 0)
		seed(t, db, tb, "live", 1, epoch.Add(30*time.Minute), 0)
	}
	reports := newResults()
	got, err := mustNew(t, db, sweeper.Config{Now: now, OnSweep: reports.onSweep}).SweepNow(context.Background())
	if err != nil || !maps.Equal(got, map[string]int64{cimd: 1, par: 1, replay: 1}) {
		t.Fatalf("SweepNow = %v, %v; want the one expired row of each table", got, err)
	}
	if calls != 1 {
		t.Errorf("Now called %d times in one pass, want 1", calls)
	}
	if r := reports.next(t, time.Second); !r.Now.Equal(epoch) {
		t.Errorf("Result.Now = %v, want %v", r.Now, epoch)
	}
	for _, tb := range []table{cimdTable(false), parTable(false)} {
		if left := keys(t, db, tb); !slices.Equal(left, []string{"live1"}) {
			t.Errorf("%s keeps %v, want [live1]", tb.name, left)
		}
	}
}

func TestCallerNamedTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		create string // the test's own DDL
		table  func(schema string) sweeper.Table
		fill   table
	}{{
		name:   "plain",
		create: `CREATE TABLE device_codes (code text PRIMARY KEY, expires_at timestamptz NOT NULL)`,
		table:  func(string) sweeper.Table { return sweeper.Table{Name: "device_codes", Key: "code"} },
		fill:   table{name: "device_codes", key: "code"},
	}, {
		name:   "needs quoting",
		create: `CREATE TABLE "Device Codes" ("User Code" text PRIMARY KEY, expires_at timestamptz NOT NULL)`,
		table:  func(string) sweeper.Table { return sweeper.Table{Name: "Device Codes", Key: "User Code"} },
		fill:   table{name: "Device Codes", key: `"User Code"`},
	}, {
		name:   "schema-qualified",
		create: `CREATE TABLE device_codes (code text PRIMARY KEY, expires_at timestamptz NOT NULL)`,
		table:  func(schema string) sweeper.Table { return sweeper.Table{Name: schema + ".device_codes", Key: "code"} },
		fill:   table{name: "device_codes", key: "code"},
	}, {
		name:   "timestamp without time zone, bigint key",
		create: `CREATE TABLE nonces (id bigint PRIMARY KEY, expires_at timestamp(0) NOT NULL)`,
		table:  func(string) sweeper.Table { return sweeper.Table{Name: "nonces", Key: "id"} },
		fill:   table{name: "nonces", key: "id", keyType: "bigint", legacy: true},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t)
			testdb.MustExec(t, db, tc.create)
			seed(t, db, tc.fill, "1", 25, epoch.Add(-time.Hour), time.Minute)
			seed(t, db, tc.fill, "9", 5, epoch.Add(time.Minute), time.Minute)
			// The gormstore tables are not swept when Tables names others.
			seed(t, db, cimdTable(false), "https://expired.example/", 3, epoch.Add(-time.Hour), time.Second)

			var schema string
			if err := db.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
				t.Fatal(err)
			}
			tb := tc.table(schema)
			got, err := mustNew(t, db, sweeper.Config{Tables: []sweeper.Table{tb}, BatchSize: 10}).SweepNow(context.Background())
			if err != nil || !maps.Equal(got, map[string]int64{tb.Name: 25}) {
				t.Fatalf("SweepNow = %v, %v; want 25 rows of %s", got, err, tb.Name)
			}
			if n := testdb.Count(t, db, tc.fill.name); n != 5 {
				t.Errorf("%s has %d rows, want the 5 live ones", tc.fill.name, n)
			}
			if n := testdb.Count(t, db, cimd); n != 3 {
				t.Errorf("%s has %d rows, want its 3 expired rows untouched", cimd, n)
			}
		})
	}
}

// GORM drops Limit on Delete; the database's own count of the rows each
// DELETE removed proves every batch is bounded, whatever the sweeper
// reports.
func TestBatchesAreBounded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		batchSize int
		expired   int
		// step separates the expiries; 0 gives every row the same one, so
		// each batch starts at the previous one's newest expiry and must
		// not skip the rows it shares with it.
		step time.Duration
		want []int64
	}{
		{"35 rows by 10", 10, 35, time.Millisecond, []int64{10, 10, 10, 5}},
		{"exact multiple ends with an empty batch", 10, 30, time.Millisecond, []int64{10, 10, 10, 0}},
		{"default batch size", 0, 125, time.Millisecond, []int64{50, 50, 25}},
		{"one expiry for all rows", 10, 25, 0, []int64{10, 10, 5}},
	}
	for _, b := range dialects {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					db := b.open(t, 1, 4)[0]
					rec := &testdb.Recorder{}
					batchRows := b.batchRows(t, db, rec, cimd)
					b.seed(t, db, cimdTable(false), "https://expired.example/", tc.expired, epoch.Add(-time.Hour), tc.step)
					b.seed(t, db, cimdTable(false), "https://live.example/", 5, epoch.Add(time.Millisecond), time.Millisecond)
					reports := newResults()
					s := mustNew(t, rec.On(db), sweeper.Config{BatchSize: tc.batchSize, OnSweep: reports.onSweep,
						Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})

					got, err := s.SweepNow(context.Background())
					if err != nil || got[cimd] != int64(tc.expired) {
						t.Fatalf("SweepNow = %v, %v; want %d deleted", got, err, tc.expired)
					}
					if perStatement := batchRows(); !slices.Equal(perStatement, tc.want) {
						t.Errorf("rows per DELETE statement = %v, want %v", perStatement, tc.want)
					}
					if n := len(batches(rec, cimd)); n != len(tc.want) {
						t.Errorf("GORM ran %d batch statements, want %d", n, len(tc.want))
					}
					if r := reports.next(t, time.Second); r.Tables[0].Batches != len(tc.want) {
						t.Errorf("Result reports %d batches, want %d", r.Tables[0].Batches, len(tc.want))
					}
					if n := testdb.Count(t, db, cimd); n != 5 {
						t.Errorf("%s has %d rows left, want the 5 live ones", cimd, n)
					}
				})
			}
		})
	}
}

// A row a writer holds is stepped over, not waited for: the pass ends at
// once with the rest deleted, and the next pass takes the row once the
// writer is done with it.
func TestLockedRowIsSkipped(t *testing.T) {
	t.Parallel()
	for _, b := range rowLockBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t, 1, 4)[0]
			b.seed(t, db, cimdTable(false), "https://expired.example/", 30, epoch.Add(-time.Hour), time.Second)
			// The writer holds the oldest row, which every batch would
			// take first, and one in the middle, as the stores' upsert
			// does.
			writer := db.Begin()
			defer writer.Rollback()
			upsert := clause.OnConflict{Columns: []clause.Column{{Name: "url"}}, DoUpdates: clause.AssignmentColumns([]string{"metadata"})}
			for _, url := range []string{"https://expired.example/1", "https://expired.example/15"} {
				err := writer.Table(cimd).Clauses(upsert).Create(map[string]any{"url": url, "metadata": `{"client_id": "refreshing"}`,
					"expires_at": b.time(epoch.Add(-time.Hour)), "inserted_at": b.time(epoch)}).Error
				if err != nil {
					t.Fatal(err)
				}
			}
			s := mustNew(t, db, sweeper.Config{BatchSize: 10, Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})
			// A batch that waited for the writer would wait until the
			// writer is done (on MariaDB, until innodb_lock_wait_timeout,
			// 50 s by default): this ctx ends it first.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := s.SweepNow(ctx)
			if err != nil || got[cimd] != 28 {
				t.Fatalf("SweepNow with two rows locked = %v, %v; want the 28 others deleted", got, err)
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
		})
	}
}

// Names reach the SQL as quoted identifiers, never as SQL.
func TestTableNameIsNeverSQL(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	seed(t, db, parTable(false), "urn:live:", 2, epoch.Add(time.Hour), time.Second)
	evil := sweeper.Table{Name: "x; DROP TABLE " + par + "; --", Key: "url"}
	_, err := mustNew(t, db, sweeper.Config{Tables: []sweeper.Table{evil}}).SweepNow(context.Background())
	if err == nil {
		t.Fatal("SweepNow on a table named like SQL succeeded; want the missing-table error")
	}
	if n := testdb.Count(t, db, par); n != 2 {
		t.Errorf("%s has %d rows, want 2: the name must not have run as SQL", par, n)
	}
}
