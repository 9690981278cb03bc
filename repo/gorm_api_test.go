package repo_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// storeOps runs one call of every store operation and returns how many
// statements they should have sent: one each, and two for each Take on a
// server without DELETE ... RETURNING.
func storeOps(t *testing.T, db *gorm.DB, twoStepTake bool) int {
	t.Helper()
	ctx := context.Background()
	c, p := stores(t, db, nil)
	const url, uri = "https://c.example/m.json", "urn:r:ops"
	if err := c.Put(ctx, url, map[string]any{"client_id": url}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.Get(ctx, url); !found || err != nil {
		t.Fatalf("Get = %v, %v", found, err)
	}
	if err := c.Delete(ctx, url); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{uri, uri + "2"} {
		if err := p.Put(ctx, u, map[string]any{"client_id": "c"}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, found, err := p.Fetch(ctx, uri); !found || err != nil {
		t.Fatalf("Fetch = %v, %v", found, err)
	}
	if _, found, err := p.FetchForClient(ctx, uri, "c"); !found || err != nil {
		t.Fatalf("FetchForClient = %v, %v", found, err)
	}
	if _, found, err := p.Take(ctx, uri); !found || err != nil {
		t.Fatalf("Take = %v, %v", found, err)
	}
	if _, found, err := p.TakeForClient(ctx, uri+"2", "c"); !found || err != nil {
		t.Fatalf("TakeForClient = %v, %v", found, err)
	}
	if twoStepTake {
		return 12
	}
	return 10
}

// The stores run every statement through GORM's exported API: the
// caller's logger and plugins (callbacks on GORM's chains) see each one,
// on every database.
func TestCallersLoggerAndPluginsSeeEveryStatement(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := tc.open(t)
			var mu sync.Mutex
			var seen []string
			record := func(tx *gorm.DB) {
				if tx.DryRun {
					return // the stores' rendering at construction
				}
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, tx.Statement.SQL.String())
			}
			for name, err := range map[string]error{
				"row": db.Callback().Row().After("gorm:row").Register("test:plugin", record),
				"raw": db.Callback().Raw().After("gorm:raw").Register("test:plugin", record),
			} {
				if err != nil {
					t.Fatalf("register on the %s chain: %v", name, err)
				}
			}
			rec := &testdb.Recorder{}
			want := storeOps(t, rec.On(db), tc.name == "GormOnMariaDBWithoutReturning")
			logged := rec.Statements()
			if len(logged) != want || len(seen) != want {
				t.Errorf("the logger saw %d statements and the plugin %d, want %d each:\n%q", len(logged), len(seen), want, seen)
			}
			for _, s := range logged {
				if s.Err != nil {
					t.Errorf("logged error %v for %s", s.Err, s.Query)
				}
			}
		})
	}
}

// On a DryRun session every call renders its statement for the logger and
// fails: nothing was read or written, and no call pretends otherwise.
func TestDryRunSessionsRunNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := tc.open(t)
			rec := &testdb.Recorder{}
			dry := rec.On(db).Session(&gorm.Session{DryRun: true})
			c, p := stores(t, dry, nil)
			calls := storeCalls(c, p)
			calls["Fetch"] = func(ctx context.Context) error { _, _, err := p.Fetch(ctx, "urn:r:1"); return err }
			calls["Take"] = func(ctx context.Context) error { _, _, err := p.Take(ctx, "urn:r:1"); return err }
			for op, call := range calls {
				if err := call(context.Background()); !errors.Is(err, gorm.ErrDryRunModeUnsupported) {
					t.Errorf("%s on a DryRun session = %v, want ErrDryRunModeUnsupported", op, err)
				}
			}
			if n := len(rec.Statements()); n < len(calls) {
				t.Errorf("the logger saw %d statements for %d calls", n, len(calls))
			}
			for _, table := range []string{"attesto_client_id_metadata", "attesto_pushed_authorization_requests"} {
				if n := testdb.Count(t, db, table); n != 0 {
					t.Errorf("%s holds %d rows after a DryRun session's calls", table, n)
				}
			}
		})
	}
}

// A *gorm.DB opened with TranslateError replaces MariaDB's duplicate-key
// error with gorm.ErrDuplicatedKey: still ErrDuplicate.
func TestDuplicateUnderTranslateError(t *testing.T) {
	t.Parallel()
	sqlDB, err := testdb.NewMySQL(t).DB()
	if err != nil {
		t.Fatal(err)
	}
	db, err := gorm.Open(mysql.New(mysql.Config{Conn: sqlDB}), &gorm.Config{TranslateError: true})
	if err != nil {
		t.Fatal(err)
	}
	_, p := stores(t, db, nil)
	ctx := context.Background()
	if err := p.Put(ctx, "urn:r:1", map[string]any{"client_id": "a"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	err = p.Put(ctx, "urn:r:1", map[string]any{"client_id": "b"}, time.Minute)
	if !errors.Is(err, repo.ErrDuplicate) || !strings.Contains(err.Error(), "request_uri") {
		t.Errorf("duplicate Put under TranslateError = %v, want ErrDuplicate on request_uri", err)
	}
}
