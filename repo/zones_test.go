package repo_test

import (
	"context"
	"testing"
	"time"

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

// SQLite compares the stored expiry with the reader's clock as text. Each
// case puts a document expiring at one instant written in one zone and
// reads it at an instant written in another, where the wall clocks order
// the two the other way round from the instants.
func TestSQLiteDecidesExpiryByInstantWhateverTheZones(t *testing.T) {
	t.Parallel()
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
			db := testdb.NewSQLite(t)
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
			ttl := time.Hour
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
	err = db.Raw(`SELECT CAST(expires_at AS text) AS expires_at, CAST(inserted_at AS text) AS inserted_at, typeof(expires_at) AS kind
		FROM `+models.ClientIDMetadataTable+` WHERE url = ?`, url).Scan(&row).Error
	if err != nil {
		t.Fatal(err)
	}
	if row.Kind != "text" || row.ExpiresAt != "2026-03-01 13:00:00.123456" || row.InsertedAt != "2026-03-01 12:00:00.123456" {
		t.Errorf("stored %+v, want text expires_at 2026-03-01 13:00:00.123456 and inserted_at 2026-03-01 12:00:00.123456", row)
	}
}
