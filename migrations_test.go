package gormstore_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"gorm.io/gorm"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
)

// versions are the migrations each dialect's directory holds, in order,
// with the tables each one creates.
var versions = []struct {
	name   string
	tables []string
}{
	{"000001_attesto_stores", []string{models.ClientIDMetadataTable, models.PushedAuthorizationRequestTable}},
	{"000002_dpop_replays", []string{models.ReplayTable}},
}

// tablesUpTo returns the tables that the first n versions create.
func tablesUpTo(n int) []string {
	var tables []string
	for _, v := range versions[:n] {
		tables = append(tables, v.tables...)
	}
	return tables
}

// migrationDirs are the module's migration directories.
var migrationDirs = []struct {
	name string
	fsys fs.FS
}{
	{"PostgresMigrations", gormstore.PostgresMigrations},
	{"SQLiteMigrations", gormstore.SQLiteMigrations},
	{"MySQLMigrations", gormstore.MySQLMigrations},
}

// migration is one version of a golang-migrate directory.
type migration struct {
	name     string // NNNNNN_title
	up, down string // its files
}

// migrationFile is the team's naming of golang-migrate files: a six-digit
// version, so that the names sort as the versions do, and a lower-case
// title.
var migrationFile = regexp.MustCompile(`^([0-9]{6})_([a-z0-9_]+)\.(up|down)\.sql$`)

// readMigrations reads fsys's migrations in version order, as
// golang-migrate's iofs source does, and refuses what it would refuse (a
// version with two titles, or without one of its halves) as well as any
// file that is not a migration.
func readMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var errs []error
	byVersion := map[string]*migration{}
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			errs = append(errs, fmt.Errorf("%s is not named NNNNNN_title.up.sql or NNNNNN_title.down.sql", e.Name()))
			continue
		}
		version, name := m[1], m[1]+"_"+m[2]
		mig := byVersion[version]
		if mig == nil {
			mig = &migration{name: name}
			byVersion[version] = mig
		}
		if mig.name != name {
			errs = append(errs, fmt.Errorf("%s and %s share version %s", e.Name(), mig.name, version))
			continue
		}
		if m[3] == "up" {
			mig.up = e.Name()
		} else {
			mig.down = e.Name()
		}
	}
	var migs []migration
	for _, mig := range byVersion {
		if mig.up == "" {
			errs = append(errs, fmt.Errorf("%s has no up migration", mig.down))
		}
		if mig.down == "" {
			errs = append(errs, fmt.Errorf("%s has no down migration", mig.up))
		}
		migs = append(migs, *mig)
	}
	if len(migs) == 0 {
		errs = append(errs, errors.New("no migrations"))
	}
	slices.SortFunc(migs, func(a, b migration) int { return cmp.Compare(a.name, b.name) })
	return migs, errors.Join(errs...)
}

// mustReadMigrations is readMigrations, and checks that fsys holds
// exactly the versions listed above.
func mustReadMigrations(t testing.TB, fsys fs.FS) []migration {
	t.Helper()
	migs, err := readMigrations(fsys)
	if err != nil {
		t.Fatalf("read migrations: %v", err)
	}
	var got, want []string
	for _, m := range migs {
		got = append(got, m.name)
	}
	for _, v := range versions {
		want = append(want, v.name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the migrations are %q, want %q", got, want)
	}
	return migs
}

// execMigration runs the file name of fsys on db in one Exec, as
// golang-migrate runs a migration file (on MariaDB db must allow multiple
// statements, as golang-migrate's MySQL driver requires).
func execMigration(t testing.TB, db *gorm.DB, fsys fs.FS, name string) {
	t.Helper()
	sql, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if err := db.Exec(string(sql)).Error; err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
}

// migrateUp runs every up file of fsys on db, in version order: golang-migrate's up.
func migrateUp(t testing.TB, db *gorm.DB, fsys fs.FS) {
	t.Helper()
	for _, m := range mustReadMigrations(t, fsys) {
		execMigration(t, db, fsys, m.up)
	}
}

// migrateDown runs every down file of fsys on db, in reverse version
// order: golang-migrate's down.
func migrateDown(t testing.TB, db *gorm.DB, fsys fs.FS) {
	t.Helper()
	migrateDownStepByStep(t, db, fsys, func(string, []string) {})
}

// migrateStepByStep runs fsys's migrations on db one at a time, as
// golang-migrate's "up 1" and "down 1" do: every up file in order, then
// every down file in reverse order. After each step it calls check with
// the file it ran and the tables of the versions then applied.
func migrateStepByStep(t testing.TB, db *gorm.DB, fsys fs.FS, check func(file string, tables []string)) {
	t.Helper()
	for i, m := range mustReadMigrations(t, fsys) {
		execMigration(t, db, fsys, m.up)
		check(m.up, tablesUpTo(i+1))
	}
	migrateDownStepByStep(t, db, fsys, check)
}

// migrateDownStepByStep is the down half of migrateStepByStep.
func migrateDownStepByStep(t testing.TB, db *gorm.DB, fsys fs.FS, check func(file string, tables []string)) {
	t.Helper()
	migs := mustReadMigrations(t, fsys)
	for i, m := range slices.Backward(migs) {
		execMigration(t, db, fsys, m.down)
		check(m.down, tablesUpTo(i))
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
// every version needs both halves, in every dialect's directory.
func TestMigrationsAreGolangMigrateFiles(t *testing.T) {
	t.Parallel()
	for _, dir := range migrationDirs {
		t.Run(dir.name, func(t *testing.T) {
			t.Parallel()
			for i, m := range mustReadMigrations(t, dir.fsys) {
				if want := versions[i].name + ".up.sql"; m.up != want {
					t.Errorf("version %s: up file %s, want %s", m.name, m.up, want)
				}
				if want := versions[i].name + ".down.sql"; m.down != want {
					t.Errorf("version %s: down file %s, want %s", m.name, m.down, want)
				}
			}
		})
	}
}

// readMigrations, which the migration tests rely on, refuses a directory
// golang-migrate would refuse or misread.
func TestReadMigrations(t *testing.T) {
	t.Parallel()
	file := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []migration
		wantErr string
	}{
		{"two versions", fstest.MapFS{
			"000002_b.down.sql": file, "000001_a.up.sql": file, "000002_b.up.sql": file, "000001_a.down.sql": file,
		}, []migration{{"000001_a", "000001_a.up.sql", "000001_a.down.sql"}, {"000002_b", "000002_b.up.sql", "000002_b.down.sql"}}, ""},
		{"no down", fstest.MapFS{"000001_a.up.sql": file}, nil, "000001_a.up.sql has no down migration"},
		{"no up", fstest.MapFS{"000001_a.down.sql": file}, nil, "000001_a.down.sql has no up migration"},
		{"two titles", fstest.MapFS{
			"000001_a.up.sql": file, "000001_a.down.sql": file, "000001_b.up.sql": file,
		}, nil, "000001_b.up.sql and 000001_a share version 000001"},
		{"short version", fstest.MapFS{"1_a.up.sql": file, "1_a.down.sql": file}, nil, "1_a.down.sql is not named"},
		{"stray file", fstest.MapFS{
			"000001_a.up.sql": file, "000001_a.down.sql": file, "README.md": file,
		}, nil, "README.md is not named"},
		{"directory", fstest.MapFS{
			"000001_a.up.sql/x": file, "000001_a.down.sql": file,
		}, nil, "000001_a.up.sql is not named"},
		{"empty", fstest.MapFS{}, nil, "no migrations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := readMigrations(tc.fsys)
			if tc.wantErr == "" {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Errorf("readMigrations = %v, %v; want %v, nil", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("readMigrations = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

// The up migrations and AutoMigrate create the same schema, so a team can
// move between them.
func TestUpMigrationMatchesAutoMigrate(t *testing.T) {
	t.Parallel()
	autoSchema, upSchema := testdb.Schema(t), testdb.Schema(t)
	autoDB, upDB := testdb.Open(t, autoSchema, 2), testdb.Open(t, upSchema, 2)

	autoMigrate(t, autoDB)
	migrateUp(t, upDB, gormstore.PostgresMigrations)

	auto, up := readCatalog(t, autoDB, autoSchema), readCatalog(t, upDB, upSchema)
	if len(auto.Relations) == 0 || len(auto.Columns) == 0 || len(auto.Constraints) == 0 || len(auto.Indexes) == 0 {
		t.Fatalf("AutoMigrate's catalog has an empty part:%v", auto)
	}
	if !auto.equal(up) {
		t.Errorf("schemas differ\nAutoMigrate:%v\nup migrations:%v", auto, up)
	}
	if !up.equal(storesCatalog) {
		t.Errorf("up migrations' catalog:%v\nwant:%v", up, storesCatalog)
	}
}

// Each version, applied and reverted one at a time, creates and drops
// exactly its own tables.
func TestMigrationsStepByStep(t *testing.T) {
	t.Parallel()
	schema := testdb.Schema(t)
	db := testdb.Open(t, schema, 2)
	migrateStepByStep(t, db, gormstore.PostgresMigrations, func(file string, tables []string) {
		if got, want := readCatalog(t, db, schema), storesCatalog.only(tables...); !got.equal(want) {
			t.Errorf("after %s the catalog is:%v\nwant:%v", file, got, want)
		}
	})
}

// The up migrations can run again, and over AutoMigrate's tables, without
// error or change: they only create what is missing.
func TestUpMigrationIsIdempotent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		first func(testing.TB, *gorm.DB)
	}{
		{"after the up migrations", func(t testing.TB, db *gorm.DB) { migrateUp(t, db, gormstore.PostgresMigrations) }},
		{"after AutoMigrate", autoMigrate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			db := testdb.Open(t, schema, 2)
			tc.first(t, db)
			migrateUp(t, db, gormstore.PostgresMigrations)
			if got := readCatalog(t, db, schema); !got.equal(storesCatalog) {
				t.Errorf("catalog:%v\nwant:%v", got, storesCatalog)
			}
		})
	}
}

// The down migrations, in reverse order, drop each version's tables with
// their indexes, whichever way they were created, and may run again.
func TestDownMigrationDropsTables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		create func(testing.TB, *gorm.DB)
		want   catalog
	}{
		{"up migrations", func(t testing.TB, db *gorm.DB) { migrateUp(t, db, gormstore.PostgresMigrations) }, storesCatalog},
		{"AutoMigrate", autoMigrate, storesCatalog},
		{"attesto_phoenix", testdb.CreateLegacyTables, phoenixCatalog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			db := testdb.Open(t, schema, 2)
			tc.create(t, db)
			if got := readCatalog(t, db, schema); !got.equal(tc.want) {
				t.Fatalf("before the down migrations the catalog is:%v\nwant:%v", got, tc.want)
			}
			migrateDownStepByStep(t, db, gormstore.PostgresMigrations, func(file string, tables []string) {
				if got, want := readCatalog(t, db, schema), tc.want.only(tables...); !got.equal(want) {
					t.Errorf("after %s the catalog is:%v\nwant:%v", file, got, want)
				}
			})
			if got := relations(t, db, schema); len(got) != 0 {
				t.Errorf("after the down migrations the schema holds %q, want nothing", got)
			}
			migrateDown(t, db, gormstore.PostgresMigrations)
		})
	}
}
