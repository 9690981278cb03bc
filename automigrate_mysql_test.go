package gormstore_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

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
	"attesto_client_id_metadata index PRIMARY (url)",
	"attesto_client_id_metadata index attesto_client_id_metadata_expires_at_index (expires_at)",
	"attesto_pushed_authorization_requests index PRIMARY (request_uri)",
	"attesto_pushed_authorization_requests index attesto_pushed_authorization_requests_expires_at_index (expires_at)",
}

func TestAutoMigrateOnMariaDB(t *testing.T) {
	t.Parallel()
	db := testdb.OpenMySQL(t, testdb.MySQLDatabase(t), 2)
	first := recordedAutoMigrate(t, db)
	if n := len(matching(createTable, first)); n != 2 {
		t.Fatalf("the first run created %d tables, want 2; it ran:\n%q", n, first)
	}
	if got := mysqlSchema(t, db); !slices.Equal(got, mysqlStoresSchema) {
		t.Errorf("schema:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(mysqlStoresSchema, "\n"))
	}
	if got := matching(ddl, recordedAutoMigrate(t, db)); len(got) != 0 {
		t.Errorf("the second run issued DDL:\n%q", got)
	}

	// An index dropped by hand comes back; the table is not recreated.
	testdb.MustExec(t, db, "DROP INDEX attesto_pushed_authorization_requests_expires_at_index ON "+models.PushedAuthorizationRequestTable)
	again := recordedAutoMigrate(t, db)
	if got := matching(ddl, again); len(got) != 1 || createTable.MatchString(got[0]) {
		t.Errorf("after dropping an index, AutoMigrate ran %q; want one CREATE INDEX", got)
	}
	if got := mysqlSchema(t, db); !slices.Equal(got, mysqlStoresSchema) {
		t.Errorf("schema after recreating the index:\n%s", strings.Join(got, "\n"))
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
	if created != 2 {
		t.Errorf("%d CREATE TABLE statements across %d nodes, want 2", created, nodes)
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

// The MySQL migration file creates what AutoMigrate creates.
func TestMySQLMigrationsMatchAutoMigrate(t *testing.T) {
	t.Parallel()
	up, err := fs.ReadFile(gormstore.MySQLMigrations, "000001_attesto_stores.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	db := testdb.OpenMySQL(t, testdb.MySQLDatabase(t), 1)
	for _, stmt := range strings.Split(string(up), ";") {
		var code []string
		for _, line := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				code = append(code, line)
			}
		}
		if s := strings.TrimSpace(strings.Join(code, "\n")); s != "" {
			testdb.MustExec(t, db, s)
		}
	}
	if got := mysqlSchema(t, db); !slices.Equal(got, mysqlStoresSchema) {
		t.Errorf("schema from the up file:\n%s", strings.Join(got, "\n"))
	}
	if got := matching(ddl, recordedAutoMigrate(t, db)); len(got) != 0 {
		t.Errorf("AutoMigrate after the up file issued DDL:\n%q", got)
	}
}
