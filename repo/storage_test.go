package repo_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/fixtures"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// Every testdata document reads back as written, through every store.
func TestTestdataDocumentsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	gc, _ := repo.NewGormClientIDMetadataCache(db, nil)
	gp, _ := repo.NewGormPARStore(db, nil)
	caches := map[string]repo.ClientIDMetadataCache{"gorm": gc, "memory": repo.NewMemoryClientIDMetadataCache(nil)}
	pars := map[string]repo.PARStore{"gorm": gp, "memory": repo.NewMemoryPARStore(nil)}

	for _, d := range fixtures.Documents(t, "cimd") {
		for name, c := range caches {
			key, _ := d.Doc["client_id"].(string)
			if err := c.Put(ctx, key, d.Doc, time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("%s: Put %s: %v", name, d.Name, err)
			}
			got, found, err := c.Get(ctx, key)
			if err != nil || !found || !repotest.JSONEqual(got, d.Doc) {
				t.Errorf("%s: Get %s = %v, %v, %v; want the document", name, d.Name, got, found, err)
			}
		}
	}
	for _, d := range fixtures.Documents(t, "par") {
		want := map[string]any{}
		for k, v := range d.Doc {
			want[k] = v
		}
		delete(want, "client_secret")
		delete(want, "client_assertion")
		delete(want, "client_assertion_type")
		for name, p := range pars {
			uri := "urn:ietf:params:oauth:request_uri:" + d.Name
			if err := p.Put(ctx, uri, d.Doc, time.Minute); err != nil {
				t.Fatalf("%s: Put %s: %v", name, d.Name, err)
			}
			got, found, err := p.Take(ctx, uri)
			if err != nil || !found || !repotest.JSONEqual(got, want) {
				t.Errorf("%s: Take %s = %v, %v, %v; want the params", name, d.Name, got, found, err)
			}
		}
	}
}

// What reaches the table: exact numbers in jsonb, no client secrets, times
// in UTC at microsecond precision.
func TestStoredRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A session time zone far from UTC must not change what is stored.
	db := testdb.OpenParams(t, testdb.Schema(t), 2, url.Values{"timezone": {"Asia/Kolkata"}})
	testdb.CreateTables(t, db)
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC-7", -7*3600))
	cfg := &repo.Config{Now: func() time.Time { return now }}
	c, _ := repo.NewGormClientIDMetadataCache(db, cfg)
	p, _ := repo.NewGormPARStore(db, cfg)

	expires := now.Add(90*time.Minute + 987*time.Nanosecond)
	doc := map[string]any{"n": fixturesNumber("9007199254740993"), "s": "x"}
	if err := c.Put(ctx, "https://c.example/m.json", doc, expires); err != nil {
		t.Fatal(err)
	}
	var row models.ClientIDMetadata
	if err := db.First(&row, "url = ?", "https://c.example/m.json").Error; err != nil {
		t.Fatal(err)
	}
	if want := expires.UTC().Truncate(time.Microsecond); !row.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %v, want %v", row.ExpiresAt, want)
	}
	if want := now.UTC().Truncate(time.Microsecond); !row.InsertedAt.Equal(want) {
		t.Errorf("inserted_at = %v, want %v", row.InsertedAt, want)
	}
	var n string
	db.Raw(`SELECT metadata->>'n' FROM attesto_client_id_metadata`).Scan(&n)
	if n != "9007199254740993" {
		t.Errorf("metadata->>'n' = %q, want 9007199254740993", n)
	}

	params := map[string]any{
		"client_id":             "https://c.example/m.json",
		"client_secret":         "hunter2-client-secret",
		"client_assertion":      "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjIn0.c2lnbmF0dXJl",
		"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
	}
	if err := p.Put(ctx, "urn:r:secrets", params, time.Minute); err != nil {
		t.Fatal(err)
	}
	var stored string
	db.Raw(`SELECT params::text FROM attesto_pushed_authorization_requests WHERE request_uri = ?`, "urn:r:secrets").Scan(&stored)
	if !strings.Contains(stored, "client_id") {
		t.Fatalf("stored params %s lack client_id", stored)
	}
	for _, secret := range []string{"client_secret", "hunter2", "client_assertion", "eyJhbGci", "jwt-bearer"} {
		if strings.Contains(stored, secret) {
			t.Errorf("stored params %s contain %q", stored, secret)
		}
	}
}

// attesto_phoenix's timestamp(0) without time zone columns hold UTC wall
// clock time, whatever the session's time zone.
func TestAttestoPhoenixTablesHoldUTC(t *testing.T) {
	t.Parallel()
	db := testdb.OpenParams(t, testdb.Schema(t), 2, url.Values{"timezone": {"America/New_York"}})
	testdb.CreateLegacyTables(t, db)
	clock := repotest.NewClock(repotest.Epoch)
	c, _ := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: clock.Now})
	if err := c.Put(context.Background(), "https://c.example/m.json", map[string]any{}, clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var wall string
	db.Raw(`SELECT to_char(expires_at, 'YYYY-MM-DD HH24:MI:SS') FROM attesto_client_id_metadata`).Scan(&wall)
	if want := repotest.Epoch.Add(time.Minute).Format(time.DateTime); wall != want {
		t.Errorf("expires_at holds %q, want the UTC wall clock %q", wall, want)
	}
	clock.Advance(59 * time.Second)
	if _, found, err := c.Get(context.Background(), "https://c.example/m.json"); !found || err != nil {
		t.Errorf("Get before expiry = %v, %v; want a hit", found, err)
	}
	clock.Advance(time.Second)
	if _, found, err := c.Get(context.Background(), "https://c.example/m.json"); found || err != nil {
		t.Errorf("Get at expiry = %v, %v; want a miss", found, err)
	}
}

// The stores work inside the caller's transaction, and a taken request_uri
// does not abort it, on every database.
func TestStoresJoinTheCallersTransaction(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := tc.open(t)
			errRollback := errors.New("rollback")
			err := db.Transaction(func(tx *gorm.DB) error {
				c, _ := repo.NewGormClientIDMetadataCache(tx, nil)
				p, _ := repo.NewGormPARStore(tx, nil)
				if err := c.Put(ctx, "https://c.example/rolled-back", map[string]any{}, time.Now().Add(time.Hour)); err != nil {
					return err
				}
				if err := p.Put(ctx, "urn:r:tx", map[string]any{"client_id": "c"}, time.Minute); err != nil {
					return err
				}
				if err := p.Put(ctx, "urn:r:tx", map[string]any{"client_id": "c"}, time.Minute); !errors.Is(err, repo.ErrDuplicate) {
					t.Errorf("duplicate Put in a transaction = %v, want ErrDuplicate", err)
				}
				// The transaction is still usable after the duplicate.
				if _, found, err := p.Fetch(ctx, "urn:r:tx"); !found || err != nil {
					t.Errorf("Fetch after the duplicate in the transaction = %v, %v", found, err)
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("transaction = %v", err)
			}
			for _, table := range []string{"attesto_client_id_metadata", "attesto_pushed_authorization_requests"} {
				if n := testdb.Count(t, db, table); n != 0 {
					t.Errorf("%s holds %d rows after the rollback, want 0", table, n)
				}
			}

			err = db.Transaction(func(tx *gorm.DB) error {
				p, _ := repo.NewGormPARStore(tx, nil)
				return p.Put(ctx, "urn:r:committed", map[string]any{"client_id": "c"}, time.Minute)
			})
			if err != nil {
				t.Fatal(err)
			}
			p, _ := repo.NewGormPARStore(db, nil)
			if _, found, err := p.Take(ctx, "urn:r:committed"); !found || err != nil {
				t.Errorf("Take of a committed Put = %v, %v; want a hit", found, err)
			}
		})
	}
}

// Building a store leaves the caller's *gorm.DB as it was.
func TestCallersDBIsNotChanged(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := tc.open(t)
			scoped := db.Where("1 = 0") // a caller's half-built query must not leak in
			c, _ := repo.NewGormClientIDMetadataCache(scoped, nil)
			p, _ := repo.NewGormPARStore(scoped, nil)
			if db.Config.SkipDefaultTransaction || scoped.Config.SkipDefaultTransaction {
				t.Error("constructors set SkipDefaultTransaction on the caller's *gorm.DB")
			}
			ctx := context.Background()
			if err := c.Put(ctx, "https://c.example/m.json", map[string]any{}, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, found, err := c.Get(ctx, "https://c.example/m.json"); !found || err != nil {
				t.Errorf("Get through a store built on a scoped db = %v, %v; want a hit", found, err)
			}
			if err := p.Put(ctx, "urn:r:1", map[string]any{"client_id": "c"}, time.Minute); err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := db.Model(&models.PushedAuthorizationRequest{}).Count(&n).Error; err != nil || n != 1 {
				t.Errorf("the caller's db counts %d rows (%v) after the stores' use, want 1", n, err)
			}
		})
	}
}
