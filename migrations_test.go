package gormstore_test

import (
	"context"
	"io/fs"
	"regexp"
	"slices"
	"testing"

	"gorm.io/gorm"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/testdb"
)

const (
	upMigration   = "000001_attesto_stores.up.sql"
	downMigration = "000001_attesto_stores.down.sql"
)

// execMigration runs one file of gormstore.PostgresMigrations, the
// module's own SQL, as a migration tool would.
func execMigration(t testing.TB, db *gorm.DB, name string) {
	t.Helper()
	sql, err := fs.ReadFile(gormstore.PostgresMigrations, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if err := db.Exec(string(sql)).Error; err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
}

// autoMigrate runs gormstore.AutoMigrate and fails t on error.
func autoMigrate(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := gormstore.AutoMigrate(context.Background(), db); err != nil {
		t.Fatalf("AutoMigrate: %v", err)
	}
}

// golang-migrate reads NNNNNN_title.up.sql and NNNNNN_title.down.sql, and
// every version needs both halves.
func TestPostgresMigrationsAreGolangMigrateFiles(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(gormstore.PostgresMigrations, "*")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, upMigration) || !slices.Contains(names, downMigration) {
		t.Fatalf("PostgresMigrations holds %q, want %s and %s among them", names, upMigration, downMigration)
	}
	named := regexp.MustCompile(`^([0-9]{6}_[a-z0-9_]+)\.(up|down)\.sql$`)
	for _, name := range names {
		m := named.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s is not named NNNNNN_title.up.sql or NNNNNN_title.down.sql", name)
			continue
		}
		other := map[string]string{"up": "down", "down": "up"}[m[2]]
		if !slices.Contains(names, m[1]+"."+other+".sql") {
			t.Errorf("%s has no %s migration", name, other)
		}
	}
}

// The up migration and AutoMigrate create the same schema, so a team can
// move between them.
func TestUpMigrationMatchesAutoMigrate(t *testing.T) {
	t.Parallel()
	autoSchema, upSchema := testdb.Schema(t), testdb.Schema(t)
	autoDB, upDB := testdb.Open(t, autoSchema, 2), testdb.Open(t, upSchema, 2)

	autoMigrate(t, autoDB)
	execMigration(t, upDB, upMigration)

	auto, up := readCatalog(t, autoDB, autoSchema), readCatalog(t, upDB, upSchema)
	if len(auto.Relations) == 0 || len(auto.Columns) == 0 || len(auto.Constraints) == 0 || len(auto.Indexes) == 0 {
		t.Fatalf("AutoMigrate's catalog has an empty part:%v", auto)
	}
	if !auto.equal(up) {
		t.Errorf("schemas differ\nAutoMigrate:%v\n%s:%v", auto, upMigration, up)
	}
}

// The up migration can run again, and over AutoMigrate's tables, without
// error or change: it only creates what is missing.
func TestUpMigrationIsIdempotent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		first func(testing.TB, *gorm.DB)
	}{
		{"after the up migration", func(t testing.TB, db *gorm.DB) { execMigration(t, db, upMigration) }},
		{"after AutoMigrate", autoMigrate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			db := testdb.Open(t, schema, 2)
			tc.first(t, db)
			execMigration(t, db, upMigration)
			if got := readCatalog(t, db, schema); !got.equal(storesCatalog) {
				t.Errorf("catalog:%v\nwant:%v", got, storesCatalog)
			}
		})
	}
}

// The down migration drops both tables, with their indexes, whichever way
// they were created, and may run again.
func TestDownMigrationDropsTables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		create func(testing.TB, *gorm.DB)
	}{
		{"up migration", func(t testing.TB, db *gorm.DB) { execMigration(t, db, upMigration) }},
		{"AutoMigrate", autoMigrate},
		{"attesto_phoenix", testdb.CreateLegacyTables},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			db := testdb.Open(t, schema, 2)
			tc.create(t, db)
			if got := relations(t, db, schema); len(got) != len(storesCatalog.Relations) {
				t.Fatalf("before the down migration the schema holds %q, want %q", got, storesCatalog.Relations)
			}
			execMigration(t, db, downMigration)
			if got := relations(t, db, schema); len(got) != 0 {
				t.Errorf("after the down migration the schema holds %q, want nothing", got)
			}
			execMigration(t, db, downMigration)
		})
	}
}
