package gormstore_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
)

// mysqlSchema is what MariaDB reports of the stores' tables in db's
// database: each column with its type, nullability and collation, and each
// index with its columns.
func mysqlSchema(t testing.TB, db *gorm.DB) []string {
	t.Helper()
	var cols []struct {
		TableName, ColumnName, ColumnType, IsNullable string
		CollationName                                 *string
	}
	if err := db.Raw(`SELECT table_name, column_name, column_type, is_nullable, collation_name
		FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position`).Scan(&cols).Error; err != nil {
		t.Fatalf("columns: %v", err)
	}
	var out []string
	for _, c := range cols {
		coll := "-"
		if c.CollationName != nil {
			coll = *c.CollationName
		}
		out = append(out, fmt.Sprintf("%s.%s %s null=%s collation=%s", c.TableName, c.ColumnName, c.ColumnType, c.IsNullable, coll))
	}
	var idx []struct{ TableName, IndexName, Columns string }
	if err := db.Raw(`SELECT table_name, index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS columns
		FROM information_schema.statistics WHERE table_schema = DATABASE() GROUP BY table_name, index_name`).Scan(&idx).Error; err != nil {
		t.Fatalf("indexes: %v", err)
	}
	var lines []string
	for _, i := range idx {
		lines = append(lines, fmt.Sprintf("%s index %s (%s)", i.TableName, i.IndexName, i.Columns))
	}
	slices.Sort(lines)
	return append(out, lines...)
}

// The keys compare as bytes and fit InnoDB's index limit at the full 2048
// bytes; the documents are MariaDB's json (longtext, utf8mb4_bin); the
// times keep microseconds and no zone.
var mysqlStoresSchema = []string{
	"attesto_client_id_metadata.url varbinary(2048) null=NO collation=-",
	"attesto_client_id_metadata.metadata longtext null=NO collation=utf8mb4_bin",
	"attesto_client_id_metadata.expires_at datetime(6) null=NO collation=-",
	"attesto_client_id_metadata.inserted_at datetime(6) null=NO collation=-",
	"attesto_pushed_authorization_requests.request_uri varbinary(2048) null=NO collation=-",
	"attesto_pushed_authorization_requests.params longtext null=NO collation=utf8mb4_bin",
	"attesto_pushed_authorization_requests.expires_at datetime(6) null=NO collation=-",
	"attesto_pushed_authorization_requests.inserted_at datetime(6) null=NO collation=-",
	"dpop_replays.jti varbinary(2048) null=NO collation=-",
	"dpop_replays.expires_at datetime(6) null=NO collation=-",
	"attesto_client_id_metadata index PRIMARY (url)",
	"attesto_client_id_metadata index attesto_client_id_metadata_expires_at_index (expires_at)",
	"attesto_pushed_authorization_requests index PRIMARY (request_uri)",
	"attesto_pushed_authorization_requests index attesto_pushed_authorization_requests_expires_at_index (expires_at)",
	"dpop_replays index PRIMARY (jti)",
	"dpop_replays index dpop_replays_expires_at_index (expires_at)",
}

// openMySQLForMigrations opens a pool on database that allows several
// statements in one Exec, as golang-migrate's MySQL driver requires of
// its connection: a migration file runs in one Exec.
func openMySQLForMigrations(t testing.TB, database string) *gorm.DB {
	t.Helper()
	cfg := testdb.MySQLConfig(t, database)
	cfg.MultiStatements = true
	return testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: cfg}, 1)
}

// createTableOf matches the CREATE TABLE of table.
func createTableOf(table string) *regexp.Regexp {
	return regexp.MustCompile("(?is)^CREATE\\s+TABLE\\s+(IF\\s+NOT\\s+EXISTS\\s+)?`?" + regexp.QuoteMeta(table) + "`?\\s")
}

// createIndexOf matches the CREATE INDEX of index.
func createIndexOf(index string) *regexp.Regexp {
	return regexp.MustCompile("(?is)^CREATE\\s+INDEX\\s+`?" + regexp.QuoteMeta(index) + "`?\\s")
}

func TestAutoMigrateOnMariaDB(t *testing.T) {
	t.Parallel()
	db := testdb.OpenMySQL(t, testdb.MySQLDatabase(t), 2)
	first := recordedAutoMigrate(t, db)
	if n := len(matching(createTable, first)); n != 3 {
		t.Fatalf("the first run created %d tables, want 3; it ran:\n%q", n, first)
	}
	if got := mysqlSchema(t, db); !slices.Equal(got, mysqlStoresSchema) {
		t.Errorf("schema:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(mysqlStoresSchema, "\n"))
	}
	if got := matching(ddl, recordedAutoMigrate(t, db)); len(got) != 0 {
		t.Errorf("the second run issued DDL:\n%q", got)
	}

	// What is dropped by hand comes back, and nothing else is touched.
	for _, drop := range []struct {
		stmt string
		want *regexp.Regexp // the one DDL statement AutoMigrate must run
	}{
		{"DROP INDEX attesto_pushed_authorization_requests_expires_at_index ON " + models.PushedAuthorizationRequestTable,
			createIndexOf("attesto_pushed_authorization_requests_expires_at_index")},
		{"DROP INDEX dpop_replays_expires_at_index ON " + models.ReplayTable, createIndexOf("dpop_replays_expires_at_index")},
		{"DROP TABLE " + models.ReplayTable, createTableOf(models.ReplayTable)},
	} {
		testdb.MustExec(t, db, drop.stmt)
		again := recordedAutoMigrate(t, db)
		if got := matching(ddl, again); len(got) != 1 || !drop.want.MatchString(got[0]) {
			t.Errorf("after %s, AutoMigrate ran %q; want one statement matching %s", drop.stmt, got, drop.want)
		}
		if got := mysqlSchema(t, db); !slices.Equal(got, mysqlStoresSchema) {
			t.Errorf("schema after %s and AutoMigrate:\n%s", drop.stmt, strings.Join(got, "\n"))
		}
	}

	// The named lock is released for the next node.
	var free int
	if err := db.Raw("SELECT IS_FREE_LOCK(CONCAT('gormstore AutoMigrate ', DATABASE()))").Row().Scan(&free); err != nil || free != 1 {
		t.Errorf("IS_FREE_LOCK after AutoMigrate = %d, %v; want 1", free, err)
	}
}

// Nodes starting together on an empty database all succeed: GET_LOCK
// serialises them, and the schema is created once.
func TestAutoMigrateOnMariaDBConcurrentNodes(t *testing.T) {
	t.Parallel()
	const nodes = 8
	name := testdb.MySQLDatabase(t)
	pools := make([]*gorm.DB, nodes)
	recs := make([]*testdb.Recorder, nodes)
	for i := range pools {
		recs[i] = &testdb.Recorder{}
		pools[i] = recs[i].On(testdb.OpenMySQL(t, name, 1))
	}
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i, db := range pools {
		wg.Go(func() { errs[i] = gormstore.AutoMigrate(context.Background(), db) })
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
		var stmts []string
		for _, s := range recs[i].Statements() {
			stmts = append(stmts, s.Query)
		}
		created += len(matching(createTable, stmts))
	}
	if created != 3 {
		t.Errorf("%d CREATE TABLE statements across %d nodes, want 3", created, nodes)
	}
	if got := mysqlSchema(t, pools[0]); !slices.Equal(got, mysqlStoresSchema) {
		t.Errorf("schema:\n%s", strings.Join(got, "\n"))
	}
}

// Every CREATE commits the transaction it runs in on MariaDB: AutoMigrate
// refuses one rather than commit the caller's work behind its back.
func TestAutoMigrateOnMariaDBRefusesATransaction(t *testing.T) {
	t.Parallel()
	db := testdb.OpenMySQL(t, testdb.MySQLDatabase(t), 2)
	err := db.Transaction(func(tx *gorm.DB) error {
		return gormstore.AutoMigrate(context.Background(), tx)
	})
	if err == nil || !strings.Contains(err.Error(), "not in a transaction") {
		t.Fatalf("AutoMigrate in a transaction = %v, want a refusal", err)
	}
	if got := mysqlSchema(t, db); len(got) != 0 {
		t.Errorf("the refused run created %q", got)
	}
}

// The MySQL migration files create what AutoMigrate creates: after all
// of them AutoMigrate has nothing to do, and after the first it creates
// the replay table alone.
func TestMySQLMigrationsMatchAutoMigrate(t *testing.T) {
	t.Parallel()
	fsys := gormstore.MySQLMigrations
	tests := []struct {
		name string
		up   func(testing.TB, *gorm.DB)
		// before is the schema the files create; created the tables
		// AutoMigrate then creates, in order.
		before, created []string
	}{
		{"every up file", func(t testing.TB, db *gorm.DB) { migrateUp(t, db, fsys) }, mysqlStoresSchema, nil},
		{"the first up file", func(t testing.TB, db *gorm.DB) {
			execMigration(t, db, fsys, versions[0].name+".up.sql")
		}, onlyLines(mysqlStoresSchema, tablesUpTo(1)), []string{models.ReplayTable}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := testdb.MySQLDatabase(t)
			db := testdb.OpenMySQL(t, name, 1)
			tc.up(t, openMySQLForMigrations(t, name))
			if got := mysqlSchema(t, db); !slices.Equal(got, tc.before) {
				t.Errorf("schema from the up files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.before, "\n"))
			}

			got := matching(ddl, recordedAutoMigrate(t, db))

			if len(got) != len(tc.created) {
				t.Errorf("AutoMigrate after the up files ran %q; want a CREATE TABLE of each of %q", got, tc.created)
			}
			for i, table := range tc.created {
				if i < len(got) && !createTableOf(table).MatchString(got[i]) {
					t.Errorf("AutoMigrate's statement %d is %q, want the CREATE TABLE of %s", i, got[i], table)
				}
			}
			if got := mysqlSchema(t, db); !slices.Equal(got, mysqlStoresSchema) {
				t.Errorf("schema after AutoMigrate:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// MySQL's migrations, applied and reverted one at a time, create and drop
// exactly each version's tables; the down migrations do the same to
// AutoMigrate's tables, and may run again.
func TestMySQLMigrationsStepByStep(t *testing.T) {
	t.Parallel()
	fsys := gormstore.MySQLMigrations
	tests := []struct {
		name string
		run  func(t testing.TB, db, migrator *gorm.DB, check func(file string, tables []string))
	}{
		{"up and down", func(t testing.TB, _, migrator *gorm.DB, check func(string, []string)) {
			migrateStepByStep(t, migrator, fsys, check)
		}},
		{"down after AutoMigrate", func(t testing.TB, db, migrator *gorm.DB, check func(string, []string)) {
			autoMigrate(t, db)
			migrateDownStepByStep(t, migrator, fsys, check)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := testdb.MySQLDatabase(t)
			db, migrator := testdb.OpenMySQL(t, name, 1), openMySQLForMigrations(t, name)
			steps := 0
			tc.run(t, db, migrator, func(file string, tables []string) {
				steps++
				if got, want := mysqlSchema(t, db), onlyLines(mysqlStoresSchema, tables); !slices.Equal(got, want) {
					t.Errorf("after %s the schema is:\n%s\nwant:\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
			if steps == 0 {
				t.Fatal("no migration ran")
			}
			if got := mysqlSchema(t, db); len(got) != 0 {
				t.Errorf("after the down migrations the database holds:\n%s", strings.Join(got, "\n"))
			}
			migrateDown(t, migrator, fsys)
		})
	}
}
