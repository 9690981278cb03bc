package models_test

import (
	"context"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Tokyo on any machine

	"gorm.io/datatypes"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/sweeper"
)

var tokyo = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	return loc
}()

// backend is a database with the tables as gormstore.AutoMigrate (or
// attesto_phoenix) creates them.
type backend struct {
	name string
	open func(t *testing.T) *gorm.DB
	// step is the finest difference the expiry column keeps.
	step time.Duration
	// plainExact: a plain time.Time query argument compares as the instant
	// it names. On MariaDB/MySQL the driver converts it into the DSN's loc
	// first, which shifts it unless loc is UTC.
	plainExact bool
	// storedText reads a row's expires_at as UTC text in
	// dialect.SQLiteTimeLayout, as the database holds it.
	storedText string
}

func autoMigrated(t *testing.T, db *gorm.DB) *gorm.DB {
	t.Helper()
	if err := gormstore.AutoMigrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

const (
	pgText    = `SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM ? WHERE ? = ?`
	pgPhoenix = `SELECT to_char(expires_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM ? WHERE ? = ?`
	rawText   = `SELECT expires_at FROM ? WHERE ? = ?`
	mysqlText = `SELECT CAST(expires_at AS CHAR) FROM ? WHERE ? = ?`
)

var backends = []backend{
	{name: "PostgreSQL", step: time.Microsecond, plainExact: true, storedText: pgText,
		open: func(t *testing.T) *gorm.DB { return autoMigrated(t, testdb.Open(t, testdb.Schema(t), 4)) }},
	{name: "PostgreSQLSessionInKolkata", step: time.Microsecond, plainExact: true, storedText: pgText,
		open: func(t *testing.T) *gorm.DB {
			return autoMigrated(t, testdb.OpenParams(t, testdb.Schema(t), 4, url.Values{"timezone": {"Asia/Kolkata"}}))
		}},
	// attesto_phoenix's timestamp(0) without time zone, holding UTC.
	{name: "PostgreSQLPhoenixTables", step: time.Second, plainExact: true, storedText: pgPhoenix,
		open: func(t *testing.T) *gorm.DB { return testdb.NewLegacy(t) }},
	{name: "SQLite", step: time.Microsecond, plainExact: true, storedText: rawText,
		open: func(t *testing.T) *gorm.DB {
			return autoMigrated(t, testdb.OpenSQLite(t, filepath.Join(t.TempDir(), "gormstore.db")))
		}},
	// parseTime with loc=UTC, as models/doc.go asks of a pool that reads
	// through the models (the tests' DSN says loc=Local, which is UTC only
	// on a machine in UTC).
	{name: "MariaDB", step: time.Microsecond, plainExact: true, storedText: mysqlText,
		open: func(t *testing.T) *gorm.DB {
			cfg := testdb.MySQLConfig(t, testdb.MySQLDatabase(t))
			cfg.ParseTime = true
			cfg.Loc = time.UTC
			return autoMigrated(t, testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: cfg}, 4))
		}},
	// Datetimes read as text, loc and the session far from UTC.
	{name: "MariaDBTextInTokyo", step: time.Microsecond, plainExact: false, storedText: mysqlText,
		open: func(t *testing.T) *gorm.DB {
			cfg := testdb.MySQLConfig(t, testdb.MySQLDatabase(t))
			cfg.ParseTime = false
			cfg.Loc = tokyo
			cfg.Params = map[string]string{"time_zone": "'-12:00'"}
			return autoMigrated(t, testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: cfg}, 4))
		}},
}

// clock is a store clock the test moves.
type clock struct{ now time.Time }

func (c *clock) config() *repo.Config { return &repo.Config{Now: func() time.Time { return c.now }} }

// row is what a test reads of one stored row through a model.
type row struct {
	key                   string
	expiresAt, insertedAt models.Time
}

// table is one model with its store.
type table struct {
	name string
	// put writes key expiring at exp through the store, at clock c.now.
	put func(t *testing.T, db *gorm.DB, c *clock, key string, exp time.Time)
	// find reads the rows matching where through the model.
	find func(db *gorm.DB, where string, arg any) ([]row, error)
	// create writes key through the model.
	create func(db *gorm.DB, key string, exp, inserted time.Time) error
	// live reports whether the store, at c.now, finds key.
	live func(t *testing.T, db *gorm.DB, c *clock, key string) bool
	// inserted reports whether the model has an InsertedAt.
	inserted  bool
	keyColumn string
}

var tables = []table{
	{
		name: models.PushedAuthorizationRequestTable, keyColumn: "request_uri", inserted: true,
		put: func(t *testing.T, db *gorm.DB, c *clock, key string, exp time.Time) {
			t.Helper()
			s, err := repo.NewGormPARStore(db, c.config())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(context.Background(), key, map[string]any{"client_id": "c1"}, exp.Sub(c.now)); err != nil {
				t.Fatal(err)
			}
		},
		find: func(db *gorm.DB, where string, arg any) ([]row, error) {
			var rs []models.PushedAuthorizationRequest
			err := db.Where(where, arg).Find(&rs).Error
			var out []row
			for _, r := range rs {
				out = append(out, row{r.RequestURI, r.ExpiresAt, r.InsertedAt})
			}
			return out, err
		},
		create: func(db *gorm.DB, key string, exp, inserted time.Time) error {
			return db.Create(&models.PushedAuthorizationRequest{RequestURI: key, Params: datatypes.JSON(`{"client_id":"c1"}`),
				ExpiresAt: models.NewTime(exp), InsertedAt: models.NewTime(inserted)}).Error
		},
		live: func(t *testing.T, db *gorm.DB, c *clock, key string) bool {
			t.Helper()
			s, err := repo.NewGormPARStore(db, c.config())
			if err != nil {
				t.Fatal(err)
			}
			params, found, err := s.Fetch(context.Background(), key)
			if err != nil || (found && params["client_id"] != "c1") {
				t.Fatalf("Fetch(%s) = %v, %v", key, params, err)
			}
			return found
		},
	},
	{
		name: models.ClientIDMetadataTable, keyColumn: "url", inserted: true,
		put: func(t *testing.T, db *gorm.DB, c *clock, key string, exp time.Time) {
			t.Helper()
			s, err := repo.NewGormClientIDMetadataCache(db, c.config())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(context.Background(), key, map[string]any{"client_id": key}, exp); err != nil {
				t.Fatal(err)
			}
		},
		find: func(db *gorm.DB, where string, arg any) ([]row, error) {
			var rs []models.ClientIDMetadata
			err := db.Where(where, arg).Find(&rs).Error
			var out []row
			for _, r := range rs {
				out = append(out, row{r.URL, r.ExpiresAt, r.InsertedAt})
			}
			return out, err
		},
		create: func(db *gorm.DB, key string, exp, inserted time.Time) error {
			return db.Create(&models.ClientIDMetadata{URL: key, Metadata: datatypes.JSON(`{"client_id":"` + key + `"}`),
				ExpiresAt: models.NewTime(exp), InsertedAt: models.NewTime(inserted)}).Error
		},
		live: func(t *testing.T, db *gorm.DB, c *clock, key string) bool {
			t.Helper()
			s, err := repo.NewGormClientIDMetadataCache(db, c.config())
			if err != nil {
				t.Fatal(err)
			}
			doc, found, err := s.Get(context.Background(), key)
			if err != nil || (found && doc["client_id"] != key) {
				t.Fatalf("Get(%s) = %v, %v", key, doc, err)
			}
			return found
		},
	},
	{
		name: models.ReplayTable, keyColumn: "jti",
		put: func(t *testing.T, db *gorm.DB, c *clock, key string, exp time.Time) {
			t.Helper()
			s, err := repo.NewGormReplayStore(db, c.config())
			if err != nil {
				t.Fatal(err)
			}
			if fresh, err := s.CheckAndRecord(context.Background(), key, exp); err != nil || !fresh {
				t.Fatalf("CheckAndRecord(%s) = %v, %v", key, fresh, err)
			}
		},
		find: func(db *gorm.DB, where string, arg any) ([]row, error) {
			var rs []models.Replay
			err := db.Where(where, arg).Find(&rs).Error
			var out []row
			for _, r := range rs {
				out = append(out, row{key: r.JTI, expiresAt: r.ExpiresAt})
			}
			return out, err
		},
		create: func(db *gorm.DB, key string, exp, _ time.Time) error {
			return db.Create(&models.Replay{JTI: key, ExpiresAt: models.NewTime(exp)}).Error
		},
		live: func(t *testing.T, db *gorm.DB, c *clock, key string) bool {
			t.Helper()
			s, err := repo.NewGormReplayStore(db, c.config())
			if err != nil {
				t.Fatal(err)
			}
			seen, err := s.Seen(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			return seen
		},
	},
}

// key names a row of tbl by a label, as its key column wants it.
func key(tbl table, label string) string {
	if tbl.keyColumn == "url" {
		return "https://" + label + ".example/client.json"
	}
	if tbl.keyColumn == "request_uri" {
		return "urn:ietf:params:oauth:request_uri:" + label
	}
	return label
}

// Rows the stores wrote read back through the models, compared with a
// query argument, on every database: the expired ones are left out, and
// each time reads back as the instant stored, in UTC.
func TestModelsReadStoreRows(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			// tick is an instant the column keeps exactly; now is just after
			// it, by less than the column keeps.
			tick := time.Date(2026, 3, 1, 12, 0, 5, 123456000, time.UTC).Truncate(b.step)
			now := tick.Add(b.step / 2)
			expiries := map[string]time.Duration{
				"expired-hour": -time.Hour, "expired-step": -b.step, "expired-now": 0,
				"live-step": b.step, "live-hour": time.Hour,
			}
			for _, tbl := range tables {
				t.Run(tbl.name, func(t *testing.T) {
					t.Parallel()
					want := map[string]row{}
					c := &clock{}
					for label, d := range expiries {
						exp := tick.Add(d)
						// Written a minute before the expiry, by a clock in
						// another zone.
						c.now = exp.Add(-time.Minute).In(tokyo)
						tbl.put(t, db, c, key(tbl, label), exp)
						if d > 0 {
							r := row{key: key(tbl, label), expiresAt: models.NewTime(exp)}
							if tbl.inserted {
								r.insertedAt = models.NewTime(exp.Add(-time.Minute))
							}
							want[r.key] = r
						}
					}
					queries := []query{
						{"models.Time", "expires_at > ?", models.NewTime(now), want},
						{"models.Time in another zone", "expires_at > ?", models.NewTime(now.In(tokyo)), want},
						// The bound exactly at a stored expiry, where a text
						// comparison of another format goes wrong.
						{"models.Time at an expiry, >=", "expires_at >= ?", models.NewTime(tick.Add(b.step)), want},
						{"models.Time at an expiry, >", "expires_at > ?", models.NewTime(tick.Add(b.step)), only(want, key(tbl, "live-hour"))},
					}
					if b.plainExact {
						// The form: a plain time.Time in UTC.
						queries = append(queries, query{"time.Time", "expires_at > ?", now, want})
					}
					for _, q := range queries {
						got, err := tbl.find(db, q.where, q.arg)
						if err != nil {
							t.Fatalf("%s: Find: %v", q.name, err)
						}
						checkRows(t, q.name, got, q.want)
					}
				})
			}
		})
	}
}

// query is a condition on expires_at and the rows it must find.
type query struct {
	name  string
	where string
	arg   any
	want  map[string]row
}

func only(rows map[string]row, keys ...string) map[string]row {
	out := map[string]row{}
	for _, k := range keys {
		out[k] = rows[k]
	}
	return out
}

func checkRows(t *testing.T, query string, got []row, want map[string]row) {
	t.Helper()
	var keys []string
	for _, r := range got {
		keys = append(keys, r.key)
		w, ok := want[r.key]
		if !ok {
			continue
		}
		for _, f := range []struct {
			name      string
			got, want models.Time
		}{{"expires_at", r.expiresAt, w.expiresAt}, {"inserted_at", r.insertedAt, w.insertedAt}} {
			if !f.got.Equal(f.want.Time) || (!f.got.IsZero() && f.got.Location() != time.UTC) {
				t.Errorf("%s: %s %s = %v, want %v in UTC", query, r.key, f.name, f.got.Time, f.want.UTC())
			}
		}
	}
	slices.Sort(keys)
	var wantKeys []string
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("%s: rows %q, want %q", query, keys, wantKeys)
	}
}

// A row written through a model, with times in any zone, is stored as the
// stores store it: they find it until its expiry, to the step the column
// keeps, and not from then on; the sweeper deletes it only after its
// expiry; and its expiry is held as the stores' UTC.
func TestModelRowsAreStoreRows(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			exp := time.Date(2026, 3, 1, 21, 0, 5, 123456000, tokyo).Truncate(b.step)
			for _, tbl := range tables {
				t.Run(tbl.name, func(t *testing.T) {
					k := key(tbl, "model")
					if err := tbl.create(db, k, exp, exp.Add(-time.Minute)); err != nil {
						t.Fatal(err)
					}
					c := &clock{now: exp.Add(-b.step)}
					if !tbl.live(t, db, c, k) {
						t.Errorf("the store does not find the row a step before its expiry")
					}
					c.now = exp
					if tbl.live(t, db, c, k) {
						t.Errorf("the store finds the row at its expiry")
					}
					var text string
					if err := db.Raw(b.storedText, clause.Table{Name: tbl.name}, clause.Column{Name: tbl.keyColumn}, k).Row().Scan(&text); err != nil {
						t.Fatal(err)
					}
					if want := dialect.SQLiteTime(exp); text != want {
						t.Errorf("stored expires_at %q, want %q", text, want)
					}
					got, err := tbl.find(db, tbl.keyColumn+" = ?", k)
					if err != nil || len(got) != 1 || !got[0].expiresAt.Equal(exp) {
						t.Errorf("read back %v (%v), want expires_at %v", got, err, exp.UTC())
					}
				})
			}
			// The sweeper deletes what expired before its cut-off: none of
			// the rows at their expiry, all of them a step later.
			want := map[string]int64{}
			for _, tbl := range tables {
				want[tbl.name] = 0
			}
			for _, cutoff := range []time.Time{exp, exp.Add(b.step)} {
				s, err := sweeper.New(db, &sweeper.Config{Now: func() time.Time { return cutoff }})
				if err != nil {
					t.Fatal(err)
				}
				deleted, err := s.SweepNow(context.Background())
				if err != nil || !maps.Equal(deleted, want) {
					t.Errorf("sweep at %v: deleted %v (%v), want %v", cutoff, deleted, err, want)
				}
				for _, tbl := range tables {
					want[tbl.name] = 1
				}
			}
		})
	}
}
