package repo_test

import (
	"context"
	"testing"
	"time"
	_ "time/tzdata" // Pacific/Kiritimati on any machine

	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// Zones far apart, so that the wall clocks of two instants an hour apart
// order the other way round.
var (
	farEast = time.FixedZone("UTC+14", 14*60*60)
	farWest = time.FixedZone("UTC-12", -12*60*60)
)

// zonedBackends are the databases where the stores write times as UTC
// text: SQLite, which compares it as text, and MariaDB, whose datetime
// keeps it as written. The MariaDB pools read and write in far-apart
// zones, by the DSN's loc and by the session's time_zone.
var zonedBackends = []struct {
	name string
	open func(testing.TB) *gorm.DB
}{
	{"SQLite", testdb.NewSQLite},
	{"MariaDB", testdb.NewMySQL},
	{"MariaDBInFarZones", func(t testing.TB) *gorm.DB {
		name := testdb.MySQLDatabase(t)
		testdb.CreateMySQLTables(t, testdb.OpenMySQL(t, name, 1))
		cfg := testdb.MySQLConfig(t, name)
		// A zone by name: the dialector hands the driver the DSN as text.
		loc, err := time.LoadLocation("Pacific/Kiritimati") // UTC+14
		if err != nil {
			t.Fatal(err)
		}
		cfg.Loc = loc
		cfg.Params = map[string]string{"time_zone": "'-12:00'"}
		return testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: cfg}, 4)
	}},
}

// SQLite and MariaDB compare the stored expiry with the reader's clock as
// written. Each case puts a document expiring at one instant written in
// one zone and reads it at an instant written in another, where the wall
// clocks order the two the other way round from the instants.
func TestExpiryIsDecidedByInstantWhateverTheZones(t *testing.T) {
	t.Parallel()
	for _, backend := range zonedBackends {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			expiryByInstant(t, backend.open)
		})
	}
}

func expiryByInstant(t *testing.T, open func(testing.TB) *gorm.DB) {
	at := repotest.Epoch
	cases := []struct {
		name    string
		expires time.Time
		now     time.Time
		live    bool
	}{
		{"live although its wall clock is behind the reader's", at.In(farWest), at.Add(-time.Hour).In(farEast), true},
		{"expired although its wall clock is ahead of the reader's", at.In(farEast), at.Add(time.Hour).In(farWest), false},
		{"expired at the very microsecond, in another zone", at.In(farEast), at.In(farWest), false},
		{"live a microsecond before, in another zone", at.In(farWest), at.Add(-time.Microsecond).In(farEast), true},
		{"a fraction without trailing zeros", at.Add(500 * time.Millisecond).In(farEast), at.Add(499 * time.Millisecond).In(farWest), true},
		{"a whole second after a fraction", at.Add(500 * time.Millisecond).In(farWest), at.Add(time.Second).In(time.UTC), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			// The writer's clock is in yet another zone; only expires
			// decides.
			clock := repotest.NewClock(at.Add(-24 * time.Hour).In(time.FixedZone("UTC+5:30", 330*60)))
			cache, err := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			const url = "https://client.example/metadata"
			if err := cache.Put(ctx, url, map[string]any{"client_id": url}, tc.expires); err != nil {
				t.Fatal(err)
			}
			clock.Set(tc.now)
			_, ok, err := cache.Get(ctx, url)
			if err != nil || ok != tc.live {
				t.Fatalf("Get at %v of a document expiring at %v = %v, %v; want live %v", tc.now, tc.expires, ok, err, tc.live)
			}

			par, err := repo.NewGormPARStore(db, &repo.Config{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			// The same instants through a PAR's TTL: pushed at tc.now
			// minus the TTL, written in the writer's zone.
			ttl := 5 * time.Minute
			clock.Set(tc.expires.Add(-ttl).In(farEast))
			uri := repo.NewRequestURI()
			if err := par.Put(ctx, uri, map[string]any{"client_id": "c"}, ttl); err != nil {
				t.Fatal(err)
			}
			clock.Set(tc.now)
			_, ok, err = par.Take(ctx, uri)
			if err != nil || ok != tc.live {
				t.Fatalf("Take at %v of a request expiring at %v = %v, %v; want live %v", tc.now, tc.expires, ok, err, tc.live)
			}
		})
	}
}

// Every time is stored as UTC text of one width, whatever the zone and
// fraction of the time.Time it came from.
func TestSQLiteStoresTimesAsFixedWidthUTC(t *testing.T) {
	t.Parallel()
	db := testdb.NewSQLite(t)
	storesUTC(t, db, `SELECT CAST(expires_at AS text) AS expires_at, CAST(inserted_at AS text) AS inserted_at, typeof(expires_at) AS kind
		FROM `+models.ClientIDMetadataTable+` WHERE url = ?`, "text")
}

// MariaDB keeps the UTC the stores write, whatever the DSN's loc and the
// session's time_zone.
func TestMariaDBStoresTimesInUTC(t *testing.T) {
	t.Parallel()
	for _, backend := range zonedBackends[1:] {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			storesUTC(t, backend.open(t), `SELECT CAST(expires_at AS CHAR) AS expires_at, CAST(inserted_at AS CHAR) AS inserted_at,
				DATA_TYPE AS kind FROM `+models.ClientIDMetadataTable+`, information_schema.columns
				WHERE url = ? AND table_schema = DATABASE() AND table_name = '`+models.ClientIDMetadataTable+`' AND column_name = 'expires_at'`, "datetime")
		})
	}
}

func storesUTC(t *testing.T, db *gorm.DB, query, kind string) {
	written := repotest.Epoch.Add(123456789 * time.Nanosecond).In(farEast)
	cache, err := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: func() time.Time { return written }})
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://client.example/metadata"
	if err := cache.Put(context.Background(), url, map[string]any{"client_id": url}, written.Add(time.Hour).In(farWest)); err != nil {
		t.Fatal(err)
	}
	var row struct {
		ExpiresAt  string
		InsertedAt string
		Kind       string
	}
	if err := db.Raw(query, url).Scan(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.Kind != kind || row.ExpiresAt != "2026-03-01 13:00:00.123456" || row.InsertedAt != "2026-03-01 12:00:00.123456" {
		t.Errorf("stored %+v, want %s expires_at 2026-03-01 13:00:00.123456 and inserted_at 2026-03-01 12:00:00.123456", row, kind)
	}
}
