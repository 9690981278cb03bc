package repo_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

func TestConstructorsRefuseNilDB(t *testing.T) {
	t.Parallel()
	if c, err := repo.NewGormClientIDMetadataCache(nil, nil); !errors.Is(err, repo.ErrNoDB) || c != nil {
		t.Errorf("NewGormClientIDMetadataCache(nil) = %v, %v; want nil, ErrNoDB", c, err)
	}
	if s, err := repo.NewGormPARStore(nil, nil); !errors.Is(err, repo.ErrNoDB) || s != nil {
		t.Errorf("NewGormPARStore(nil) = %v, %v; want nil, ErrNoDB", s, err)
	}
}

// sqlServerNamed is PostgreSQL's dialector under SQL Server's name: a
// database the stores have no statements for.
type sqlServerNamed struct{ gorm.Dialector }

func (sqlServerNamed) Name() string { return "sqlserver" }

// On a database they have no statements for, the constructors fail rather
// than hand back a store whose every call would fail.
func TestConstructorsRefuseOtherDatabases(t *testing.T) {
	t.Parallel()
	pool, err := testdb.New(t).DB()
	if err != nil {
		t.Fatal(err)
	}
	db, err := gorm.Open(sqlServerNamed{postgres.New(postgres.Config{Conn: pool})}, &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := repo.NewGormClientIDMetadataCache(db, nil); !errors.Is(err, repo.ErrUnsupportedDialect) || c != nil {
		t.Errorf("NewGormClientIDMetadataCache(sqlserver) = %v, %v; want nil, ErrUnsupportedDialect", c, err)
	}
	if s, err := repo.NewGormPARStore(db, nil); !errors.Is(err, repo.ErrUnsupportedDialect) || s != nil {
		t.Errorf("NewGormPARStore(sqlserver) = %v, %v; want nil, ErrUnsupportedDialect", s, err)
	} else if !strings.Contains(err.Error(), `"sqlserver"`) {
		t.Errorf("the error %q does not name the database", err)
	}
}

// storeCalls runs every method of both stores and returns each error.
func storeCalls(c repo.ClientIDMetadataCache, p repo.PARStore) map[string]func(context.Context) error {
	doc := map[string]any{"client_id": "https://c.example/m.json"}
	return map[string]func(context.Context) error{
		"Get": func(ctx context.Context) error {
			_, found, err := c.Get(ctx, "https://c.example/m.json")
			if found {
				return errors.New("found")
			}
			return err
		},
		"Put": func(ctx context.Context) error {
			return c.Put(ctx, "https://c.example/m.json", doc, time.Now().Add(time.Hour))
		},
		"Delete":    func(ctx context.Context) error { return c.Delete(ctx, "https://c.example/m.json") },
		"DeleteAll": func(ctx context.Context) error { return c.DeleteAll(ctx) },
		"PAR Put":   func(ctx context.Context) error { return p.Put(ctx, "urn:r:1", doc, time.Minute) },
		"Fetch": func(ctx context.Context) error {
			_, found, err := p.Fetch(ctx, "urn:r:1")
			if found {
				return errors.New("found")
			}
			return err
		},
		"Take": func(ctx context.Context) error {
			_, found, err := p.Take(ctx, "urn:r:1")
			if found {
				return errors.New("found")
			}
			return err
		},
	}
}

var zeroStoreError = regexp.MustCompile(`^repo: (cimd|par) [a-z ]+: no database$`)

func TestZeroValueStoresFailClosed(t *testing.T) {
	t.Parallel()
	for name, stores := range map[string]struct {
		c repo.ClientIDMetadataCache
		p repo.PARStore
	}{
		"zero values":  {&repo.GormClientIDMetadataCache{}, &repo.GormPARStore{}},
		"nil pointers": {(*repo.GormClientIDMetadataCache)(nil), (*repo.GormPARStore)(nil)},
	} {
		for op, call := range storeCalls(stores.c, stores.p) {
			err := call(context.Background())
			if !errors.Is(err, repo.ErrNoDB) {
				t.Errorf("%s: %s = %v, want ErrNoDB", name, op, err)
				continue
			}
			// The module's convention: "repo: <operation>: <cause>", once.
			if !zeroStoreError.MatchString(err.Error()) {
				t.Errorf("%s: %s = %q, want %v", name, op, err, zeroStoreError)
			}
		}
	}
}

// A database failure is an error, never a miss.
func TestDatabaseFailuresAreErrors(t *testing.T) {
	t.Parallel()
	missingTables := testdb.Open(t, testdb.Schema(t), 2)
	closedPool := testdb.New(t)
	sqlDB, err := closedPool.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()

	for name, db := range map[string]*gorm.DB{"missing tables": missingTables, "closed pool": closedPool} {
		c, err := repo.NewGormClientIDMetadataCache(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := repo.NewGormPARStore(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		for op, call := range storeCalls(c, p) {
			err := call(context.Background())
			if err == nil || errors.Is(err, repo.ErrNoDB) {
				t.Errorf("%s: %s = %v, want the database's error", name, op, err)
			}
		}
	}
}

func TestCancelledContextIsAnErrorAndWritesNothing(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	c, _ := repo.NewGormClientIDMetadataCache(db, nil)
	p, _ := repo.NewGormPARStore(db, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for op, call := range storeCalls(c, p) {
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", op, err)
		}
	}
	for _, table := range []string{"attesto_client_id_metadata", "attesto_pushed_authorization_requests"} {
		if n := testdb.Count(t, db, table); n != 0 {
			t.Errorf("%s holds %d rows after cancelled writes, want 0", table, n)
		}
	}
}
