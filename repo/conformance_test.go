package repo_test

import (
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// tables are the schemas the GORM stores must work on: the one AutoMigrate
// creates and attesto_phoenix's own on PostgreSQL, and the models' tables on
// SQLite.
var tables = []struct {
	name string
	open func(testing.TB) *gorm.DB
	opts *repotest.Options
}{
	{"Gorm", testdb.New, nil},
	{"GormOnAttestoPhoenixTables", testdb.NewLegacy, &repotest.Options{MaxKeyBytes: 255}},
	{"GormOnSQLite", testdb.NewSQLite, nil},
	{"GormOnMariaDB", testdb.NewMySQL, nil},
	// MySQL has no DELETE ... RETURNING: Take reads, then deletes. MySQL
	// itself cannot run here; MariaDB forced onto that path stands in.
	{"GormOnMariaDBWithoutReturning", newMariaDBWithoutReturning, nil},
}

func newMariaDBWithoutReturning(t testing.TB) *gorm.DB {
	db := testdb.OpenMySQLWith(t, mysql.Config{
		DSNConfig: testdb.MySQLConfig(t, testdb.MySQLDatabase(t)), DisableWithReturning: true,
	}, 8)
	testdb.CreateMySQLTables(t, db)
	return db
}

func TestClientIDMetadataCacheConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repotest.RunClientIDMetadataCache(t, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
				c, err := repo.NewGormClientIDMetadataCache(tc.open(t), &repo.Config{Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}, tc.opts)
		})
	}
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		repotest.RunClientIDMetadataCache(t, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
			return repo.NewMemoryClientIDMetadataCache(&repo.Config{Now: now})
		}, nil)
	})
}

func TestPARStoreConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repotest.RunPARStore(t, func(t *testing.T, now func() time.Time) repo.PARStore {
				s, err := repo.NewGormPARStore(tc.open(t), &repo.Config{Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, tc.opts)
		})
	}
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		repotest.RunPARStore(t, func(t *testing.T, now func() time.Time) repo.PARStore {
			return repo.NewMemoryPARStore(&repo.Config{Now: now})
		}, nil)
	})
}

func TestClientBoundPARStoreConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repotest.RunClientBoundPARStore(t, func(t *testing.T, now func() time.Time) repo.ClientBoundPARStore {
				s, err := repo.NewGormPARStore(tc.open(t), &repo.Config{Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		repotest.RunClientBoundPARStore(t, func(t *testing.T, now func() time.Time) repo.ClientBoundPARStore {
			return repo.NewMemoryPARStore(&repo.Config{Now: now})
		})
	})
}

func TestReplayStoreConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repotest.RunReplayStore(t, func(t *testing.T, now func() time.Time) repo.ReplayStore {
				s, err := repo.NewGormReplayStore(tc.open(t), &repo.Config{Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, tc.opts)
		})
	}
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		repotest.RunReplayStore(t, func(t *testing.T, now func() time.Time) repo.ReplayStore {
			return repo.NewMemoryReplayStore(&repo.Config{Now: now})
		}, nil)
	})
}
