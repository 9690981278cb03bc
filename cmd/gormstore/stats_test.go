package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
)

func TestStats(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, dsn string, db *gorm.DB) {
		inv := newInvocation(t)
		inv.mustRun(t, "migrate", "--dsn", dsn)
		oldest := seed(t, db, rowCounts{liveCIMD: 7, expiredCIMD: 5, livePAR: 3, expiredPAR: 4, liveReplay: 2, expiredReplay: 6})
		kind := kindOf(t, dsn)
		// SQLite reports sizes only in builds with the dbstat table: newer
		// modernc.org/sqlite releases have it, the pinned one has not.
		dbstat := false
		if kind == dialect.SQLite {
			if err := db.Raw(sqliteHasDBStatSQL).Row().Scan(&dbstat); err != nil {
				t.Fatal(err)
			}
		}

		r := inv.mustRun(t, "stats", "--dsn", dsn, "--json")
		var got statsReport
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil || dec.More() {
			t.Fatalf("stdout is not one stats object (%v):\n%s", err, r.stdout)
		}
		want := []struct {
			live, expired int64
			oldest        time.Time
		}{{7, 5, oldest[0]}, {3, 4, oldest[1]}, {2, 6, oldest[2]}}
		if len(got.Tables) != len(want) {
			t.Fatalf("%d tables, want %d: %+v", len(got.Tables), len(want), got)
		}
		for i, tt := range want {
			s := got.Tables[i]
			if s.Table != tables[i] || s.Live != tt.live || s.Expired != tt.expired {
				t.Errorf("%s: live %d expired %d, want %s: %d and %d", s.Table, s.Live, s.Expired, tables[i], tt.live, tt.expired)
			}
			if s.OldestExpiry == nil || !s.OldestExpiry.Equal(tt.oldest) {
				t.Errorf("%s: oldest expiry %v, want %v", s.Table, s.OldestExpiry, tt.oldest)
			}
			if kind != dialect.SQLite || dbstat {
				// PostgreSQL's sizes, InnoDB's estimates and dbstat's: a
				// table and an index take a page at least.
				if s.TableBytes == nil || *s.TableBytes <= 0 || s.IndexBytes == nil || *s.IndexBytes <= 0 {
					t.Errorf("%s: sizes %v and %v, want both known and positive", s.Table, s.TableBytes, s.IndexBytes)
				}
			} else if s.TableBytes != nil || s.IndexBytes != nil {
				t.Errorf("%s: sizes %v and %v on a SQLite without dbstat, want unknown", s.Table, s.TableBytes, s.IndexBytes)
			}
		}
		switch kind {
		case dialect.Postgres, dialect.MySQL:
			if got.Dialect != dialectName(kind) || got.Database != dsn || got.FileBytes != nil {
				t.Errorf("dialect %q, database %q, file size %v; want %s, %s and none", got.Dialect, got.Database, got.FileBytes, dialectName(kind), dsn)
			}
		default:
			if got.Dialect != "sqlite" || got.Database != dsn || got.FileBytes == nil || *got.FileBytes <= 0 {
				t.Errorf("dialect %q, database %q, file size %v; want sqlite, %s and a size", got.Dialect, got.Database, got.FileBytes, dsn)
			}
		}
		if d := time.Since(got.Now); d < 0 || d > time.Minute {
			t.Errorf("now is %v, %v from the test's clock", got.Now, d)
		}

		// The table for people: the same numbers, the oldest expiry with
		// how long ago it was.
		r = inv.mustRun(t, "stats", "--dsn", dsn)
		for i, tt := range want {
			f := tableLine(t, r.stdout, tables[i])
			if f[1] != strconv.FormatInt(tt.live, 10) || f[2] != strconv.FormatInt(tt.expired, 10) || f[3] != tt.oldest.Format(time.RFC3339) || !strings.Contains(r.stdout, "ago)") {
				t.Errorf("line %q, want %d live, %d expired, oldest %s", f, tt.live, tt.expired, tt.oldest.Format(time.RFC3339))
			}
		}
		if kind == dialect.SQLite && !strings.Contains(r.stdout, "database file:") {
			t.Errorf("no database file size:\n%s", r.stdout)
		}

		// Stats only reads.
		var n int64
		if err := db.Model(&models.PushedAuthorizationRequest{}).Count(&n).Error; err != nil || n != 7 {
			t.Errorf("%d requests after stats (%v), want the 7 seeded", n, err)
		}
	})
}

// TestStatsEmpty: empty tables have no oldest expiry.
func TestStatsEmpty(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, dsn string, _ *gorm.DB) {
		inv := newInvocation(t)
		inv.mustRun(t, "migrate", "--dsn", dsn)
		r := inv.mustRun(t, "stats", "--dsn", dsn)
		for _, table := range tables {
			if f := tableLine(t, r.stdout, table); f[1] != "0" || f[2] != "0" || f[3] != "-" {
				t.Errorf("line %q, want 0 live, 0 expired, no oldest expiry", f)
			}
		}
	})
}

// TestStatsMySQLTimes: the oldest expiry is the instant the stores wrote,
// in UTC, whether the MySQL driver reads datetimes as text (no parseTime)
// or as times in the DSN's loc, however far from UTC.
func TestStatsMySQLTimes(t *testing.T) {
	t.Parallel()
	for _, params := range []string{"", "?parseTime=true&loc=Asia%2FTokyo", "?parseTime=true&loc=America%2FNew_York", "?parseTime=true&loc=UTC"} {
		t.Run(params, func(t *testing.T) {
			t.Parallel()
			name := testdb.MySQLDatabase(t)
			db := testdb.OpenMySQL(t, name, 2)
			dsn := "root@tcp(" + testdb.MySQLConfig(t, name).Addr + ")/" + name + params
			inv := newInvocation(t)
			inv.mustRun(t, "migrate", "--dsn", dsn)
			oldest := seed(t, db, rowCounts{liveCIMD: 1, expiredCIMD: 3, expiredPAR: 2, expiredReplay: 4})
			r := inv.mustRun(t, "stats", "--dsn", dsn, "--json")
			var got statsReport
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("stdout is not a stats object (%v):\n%s", err, r.stdout)
			}
			for i, want := range oldest {
				if s := got.Tables[i]; s.OldestExpiry == nil || !s.OldestExpiry.Equal(want) || s.OldestExpiry.Location() != time.UTC {
					t.Errorf("%s: oldest expiry %v, want %v in UTC", s.Table, s.OldestExpiry, want.UTC())
				}
			}
		})
	}
}
