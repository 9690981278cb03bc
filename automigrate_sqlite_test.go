package gormstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
)

// sqliteSchema is what SQLite reports of every table in the database, by
// name: each column with its declared type, NOT NULL and primary-key
// position, and each index with its columns and uniqueness.
func sqliteSchema(t testing.TB, db *gorm.DB) []string {
	t.Helper()
	var tables []string
	if err := db.Raw(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`).Scan(&tables).Error; err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var out []string
	for _, table := range tables {
		var cols []struct {
			Name    string
			Type    string
			NotNull bool
			PK      int
		}
		if err := db.Raw(`SELECT name, type, "notnull" AS not_null, pk FROM pragma_table_info(?) ORDER BY cid`, table).Scan(&cols).Error; err != nil {
			t.Fatalf("table_info %s: %v", table, err)
		}
		for _, c := range cols {
			out = append(out, fmt.Sprintf("%s.%s %s notnull=%v pk=%d", table, c.Name, strings.ToLower(c.Type), c.NotNull, c.PK))
		}
		var idx []struct {
			Name    string
			Unique  bool
			Origin  string
			Columns string
		}
		if err := db.Raw(`SELECT l.name, l."unique", l.origin,
				(SELECT group_concat(i.name, ',') FROM pragma_index_info(l.name) i) AS columns
			FROM pragma_index_list(?) l`, table).Scan(&idx).Error; err != nil {
			t.Fatalf("index_list %s: %v", table, err)
		}
		var lines []string
		for _, i := range idx {
			// SQLite names the primary key's own index itself.
			name := i.Name
			if i.Origin == "pk" {
				name = "(primary key)"
			}
			lines = append(lines, fmt.Sprintf("%s index %s (%s) unique=%v", table, name, i.Columns, i.Unique))
		}
		slices.Sort(lines)
		out = append(out, lines...)
	}
	return out
}

var sqliteStoresSchema = []string{
	"attesto_client_id_metadata.url text notnull=true pk=1",
	"attesto_client_id_metadata.metadata json notnull=true pk=0",
	"attesto_client_id_metadata.expires_at timestamptz notnull=true pk=0",
	"attesto_client_id_metadata.inserted_at timestamptz notnull=true pk=0",
	"attesto_client_id_metadata index (primary key) (url) unique=true",
	"attesto_client_id_metadata index attesto_client_id_metadata_expires_at_index (expires_at) unique=false",
	"attesto_pushed_authorization_requests.request_uri text notnull=true pk=1",
	"attesto_pushed_authorization_requests.params json notnull=true pk=0",
	"attesto_pushed_authorization_requests.expires_at timestamptz notnull=true pk=0",
	"attesto_pushed_authorization_requests.inserted_at timestamptz notnull=true pk=0",
	"attesto_pushed_authorization_requests index (primary key) (request_uri) unique=true",
	"attesto_pushed_authorization_requests index attesto_pushed_authorization_requests_expires_at_index (expires_at) unique=false",
	"dpop_replays.jti text notnull=true pk=1",
	"dpop_replays.expires_at timestamptz notnull=true pk=0",
	"dpop_replays index (primary key) (jti) unique=true",
	"dpop_replays index dpop_replays_expires_at_index (expires_at) unique=false",
}

func sqliteFile(t testing.TB) string { return filepath.Join(t.TempDir(), "gormstore.db") }

func TestAutoMigrateOnSQLite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(testing.TB, *gorm.DB)
		// wantCreates is how many CREATE TABLE the recorded run issues,
		// wantDDL how many DDL statements in all.
		wantCreates, wantDDL int
	}{
		{"empty database", func(testing.TB, *gorm.DB) {}, 3, 6},
		{"after AutoMigrate", func(t testing.TB, db *gorm.DB) { autoMigrate(t, db) }, 0, 0},
		{"after the up migrations", func(t testing.TB, db *gorm.DB) { migrateUp(t, db, gormstore.SQLiteMigrations) }, 0, 0},
		{"after the first up migration only", func(t testing.TB, db *gorm.DB) {
			execMigration(t, db, gormstore.SQLiteMigrations, versions[0].name+".up.sql")
		}, 1, 2},
		{"PAR index missing", func(t testing.TB, db *gorm.DB) {
			autoMigrate(t, db)
			testdb.MustExec(t, db, `DROP INDEX attesto_pushed_authorization_requests_expires_at_index`)
		}, 0, 1},
		{"replay index missing", func(t testing.TB, db *gorm.DB) {
			autoMigrate(t, db)
			testdb.MustExec(t, db, `DROP INDEX dpop_replays_expires_at_index`)
		}, 0, 1},
		{"replay table missing", func(t testing.TB, db *gorm.DB) {
			autoMigrate(t, db)
			testdb.MustExec(t, db, `DROP TABLE dpop_replays`)
		}, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.OpenSQLite(t, sqliteFile(t))
			tc.setup(t, db)

			stmts := recordedAutoMigrate(t, db)

			if got := len(matching(createTable, stmts)); got != tc.wantCreates {
				t.Errorf("ran %d CREATE TABLE, want %d:\n%q", got, tc.wantCreates, stmts)
			}
			if got := matching(ddl, stmts); len(got) != tc.wantDDL {
				t.Errorf("ran %d DDL statements, want %d:\n%q", len(got), tc.wantDDL, got)
			}
			if got := sqliteSchema(t, db); !slices.Equal(got, sqliteStoresSchema) {
				t.Errorf("schema:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(sqliteStoresSchema, "\n"))
			}
		})
	}
}

// SQLite's migrations, applied and reverted one at a time, create and drop
// exactly each version's tables; the down migrations do the same to
// AutoMigrate's tables, and may run again.
func TestSQLiteMigrationsStepByStep(t *testing.T) {
	t.Parallel()
	fsys := gormstore.SQLiteMigrations
	tests := []struct {
		name string
		run  func(t testing.TB, db *gorm.DB, check func(file string, tables []string))
	}{
		{"up and down", func(t testing.TB, db *gorm.DB, check func(string, []string)) {
			migrateStepByStep(t, db, fsys, check)
		}},
		{"down after AutoMigrate", func(t testing.TB, db *gorm.DB, check func(string, []string)) {
			autoMigrate(t, db)
			migrateDownStepByStep(t, db, fsys, check)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.OpenSQLite(t, sqliteFile(t))
			steps := 0
			tc.run(t, db, func(file string, tables []string) {
				steps++
				if got, want := sqliteSchema(t, db), onlyLines(sqliteStoresSchema, tables); !slices.Equal(got, want) {
					t.Errorf("after %s the schema is:\n%s\nwant:\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
			if steps == 0 {
				t.Fatal("no migration ran")
			}
			if got := sqliteSchema(t, db); len(got) != 0 {
				t.Errorf("after the down migrations the database holds:\n%s", strings.Join(got, "\n"))
			}
			migrateDown(t, db, fsys)
		})
	}
}

// Processes sharing one SQLite file all run AutoMigrate at start-up: each
// takes the write lock before it reads the schema, so all succeed.
func TestAutoMigrateOnSQLiteConcurrentProcesses(t *testing.T) {
	t.Parallel()
	const processes = 8
	path := sqliteFile(t)
	dbs := make([]*gorm.DB, processes)
	for i := range dbs {
		dbs[i] = testdb.OpenSQLite(t, path)
	}
	var wg sync.WaitGroup
	errs := make([]error, processes)
	start := make(chan struct{})
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = gormstore.AutoMigrate(context.Background(), db)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	if got := sqliteSchema(t, dbs[0]); !slices.Equal(got, sqliteStoresSchema) {
		t.Errorf("schema:\n%s", strings.Join(got, "\n"))
	}
}

// In a caller's transaction AutoMigrate's tables come and go with it.
func TestAutoMigrateOnSQLiteInCallerTransaction(t *testing.T) {
	t.Parallel()
	db := testdb.OpenSQLite(t, sqliteFile(t))
	tx := db.Begin()
	if err := gormstore.AutoMigrate(context.Background(), tx); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if !tx.Migrator().HasTable(models.ClientIDMetadataTable) {
		t.Error("the transaction does not see the table AutoMigrate created in it")
	}
	if err := tx.Rollback().Error; err != nil {
		t.Fatal(err)
	}
	if db.Migrator().HasTable(models.ClientIDMetadataTable) {
		t.Error("the table outlived the rolled-back transaction")
	}
}

// A caller that pinned a connection (db.Connection) migrates on it.
func TestAutoMigrateOnSQLiteOnAPinnedConnection(t *testing.T) {
	t.Parallel()
	db := testdb.OpenSQLite(t, sqliteFile(t))
	err := db.Connection(func(conn *gorm.DB) error {
		return gormstore.AutoMigrate(context.Background(), conn)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := sqliteSchema(t, db); !slices.Equal(got, sqliteStoresSchema) {
		t.Errorf("schema:\n%s", strings.Join(got, "\n"))
	}
}
