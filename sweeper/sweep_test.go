package sweeper_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
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

func TestSweepDeletesExactlyTheExpiredRows(t *testing.T) {
	t.Parallel()
	for _, sc := range schemas {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := newDB(t, sc.legacy)
			c, p := cimdTable(sc.legacy), parTable(sc.legacy)
			// Interleaved expiries, whole seconds for timestamp(0).
			seed(t, db, c, "https://expired.example/", 50, epoch.Add(-50*time.Second), time.Second)
			seed(t, db, c, "https://live.example/", 20, epoch.Add(time.Second), time.Second)
			seed(t, db, p, "urn:expired:", 30, epoch.Add(-time.Hour), time.Minute)
			seed(t, db, p, "urn:live:", 10, epoch.Add(time.Minute), time.Hour)
			r := replayTable(sc.legacy)
			seed(t, db, r, "jti-expired-", 7, epoch.Add(-7*time.Second), time.Second)
			seed(t, db, r, "jti-live-", 3, epoch.Add(time.Second), time.Second)
			reports := newResults()
			s := mustNew(t, db, sweeper.Config{OnSweep: reports.onSweep})

			got, err := s.SweepNow(ctx)
			if err != nil {
				t.Fatalf("SweepNow: %v", err)
			}
			want := map[string]int64{cimd: 50, par: 30, replay: 7}
			if !maps.Equal(got, want) {
				t.Errorf("SweepNow deleted %v, want %v", got, want)
			}
			if left := keys(t, db, c); !slices.Equal(left, keyRange("https://live.example/", 20)) {
				t.Errorf("%s keeps %v, want exactly the 20 live urls", cimd, left)
			}
			if left := keys(t, db, p); !slices.Equal(left, keyRange("urn:live:", 10)) {
				t.Errorf("%s keeps %v, want exactly the 10 live request_uris", par, left)
			}
			if left := keys(t, db, r); !slices.Equal(left, keyRange("jti-live-", 3)) {
				t.Errorf("%s keeps %v, want exactly the 3 live jtis", replay, left)
			}
			rep := reports.next(t, time.Second)
			if rep.Outcome != sweeper.OutcomeSwept || rep.Err != nil || !rep.Now.Equal(epoch) || !maps.Equal(rep.Deleted(), want) {
				t.Errorf("OnSweep got %v %v now=%v deleted=%v; want swept, no error, now=%v, %v", rep.Outcome, rep.Err, rep.Now, rep.Deleted(), epoch, want)
			}
			if len(rep.Tables) != 3 || rep.Tables[0].Table != cimd || rep.Tables[1].Table != par || rep.Tables[2].Table != replay {
				t.Errorf("OnSweep tables = %+v; want %s, %s, then %s", rep.Tables, cimd, par, replay)
			}

			again, err := s.SweepNow(ctx)
			if err != nil || !maps.Equal(again, map[string]int64{cimd: 0, par: 0, replay: 0}) {
				t.Errorf("second SweepNow = %v, %v; want nothing left to delete", again, err)
			}
		})
	}
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

// GORM drops Limit on Delete; a statement-level trigger counts the rows
// each DELETE removed, on the database's side, to prove every batch is
// bounded, whatever the sweeper reports.
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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t)
			testdb.MustExec(t, db, `CREATE TABLE batch_log (id serial PRIMARY KEY, n bigint NOT NULL)`)
			testdb.MustExec(t, db, `CREATE FUNCTION log_batch() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN INSERT INTO batch_log (n) SELECT count(*) FROM old_rows; RETURN NULL; END $$`)
			testdb.MustExec(t, db, `CREATE TRIGGER log_batch AFTER DELETE ON `+cimd+`
				REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION log_batch()`)
			seed(t, db, cimdTable(false), "https://expired.example/", tc.expired, epoch.Add(-time.Hour), tc.step)
			seed(t, db, cimdTable(false), "https://live.example/", 5, epoch.Add(time.Millisecond), time.Millisecond)
			rec := &testdb.Recorder{}
			reports := newResults()
			s := mustNew(t, rec.On(db), sweeper.Config{BatchSize: tc.batchSize, OnSweep: reports.onSweep,
				Tables: []sweeper.Table{{Name: cimd, Key: "url"}}})

			got, err := s.SweepNow(context.Background())
			if err != nil || got[cimd] != int64(tc.expired) {
				t.Fatalf("SweepNow = %v, %v; want %d deleted", got, err, tc.expired)
			}
			var perStatement []int64
			if err := db.Table("batch_log").Order("id").Pluck("n", &perStatement).Error; err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(perStatement, tc.want) {
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
