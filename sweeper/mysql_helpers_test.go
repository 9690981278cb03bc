package sweeper_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
)

// mysqlTimeLayout is how the MariaDB tests write times, as the stores do:
// UTC text, which a datetime(6) column keeps as written whatever the
// session's time_zone.
const mysqlTimeLayout = "2006-01-02 15:04:05.000000"

func mysqlTime(t time.Time) string { return t.UTC().Format(mysqlTimeLayout) }

// seedMySQL is seed on MariaDB/MySQL, through GORM: n rows keyed
// prefix1 … prefixN, where row i expires at first + (i-1)×step.
func seedMySQL(t testing.TB, db *gorm.DB, tb table, prefix string, n int, first time.Time, step time.Duration) {
	t.Helper()
	const chunk = 1000
	rows := make([]map[string]any, 0, min(n, chunk))
	flush := func() {
		if len(rows) == 0 {
			return
		}
		if err := db.Table(tb.name).Create(&rows).Error; err != nil {
			t.Fatalf("seed %s: %v", tb.name, err)
		}
		rows = rows[:0]
	}
	for i := range n {
		row := map[string]any{
			tb.key:       fmt.Sprintf("%s%d", prefix, i+1),
			"expires_at": mysqlTime(first.Add(time.Duration(i) * step)),
		}
		if tb.doc != "" {
			row[tb.doc] = `{"client_id": "x"}`
			row["inserted_at"] = mysqlTime(first.Add(-24 * time.Hour))
		}
		rows = append(rows, row)
		if len(rows) == chunk {
			flush()
		}
	}
	flush()
}

// openMariaDB returns n pools on one fresh MariaDB database holding the
// stores' tables: n nodes of one service.
func openMariaDB(t *testing.T, n, maxConns int) []*gorm.DB {
	t.Helper()
	database := testdb.MySQLDatabase(t)
	nodes := make([]*gorm.DB, n)
	for i := range nodes {
		nodes[i] = testdb.OpenMySQL(t, database, maxConns)
	}
	testdb.CreateMySQLTables(t, nodes[0])
	return nodes
}

// openPostgres is openMariaDB on PostgreSQL: n pools on a fresh schema.
func openPostgres(t *testing.T, n, maxConns int) []*gorm.DB {
	t.Helper()
	schema := testdb.Schema(t)
	nodes := make([]*gorm.DB, n)
	for i := range nodes {
		nodes[i] = testdb.Open(t, schema, maxConns)
	}
	testdb.CreateTables(t, nodes[0])
	return nodes
}

// backend is a database with a lock, on which the cluster tests run.
type backend struct {
	name string
	// open is openPostgres or openMariaDB.
	open func(t *testing.T, n, maxConns int) []*gorm.DB
	// seed is seed or seedMySQL.
	seed func(t testing.TB, db *gorm.DB, tb table, prefix string, n int, first time.Time, step time.Duration)
}

var backends = []backend{
	{"PostgreSQL", openPostgres, seed},
	{"MariaDB", openMariaDB, seedMySQL},
}

// mysqlLockName is the named lock of a Sweeper whose LockKey is key, as
// Config.LockKey documents it.
func mysqlLockName(key int64) string { return fmt.Sprintf("gormstore sweeper %016x", uint64(key)) }

// getLock tries the named lock on conn without waiting.
func getLock(t *testing.T, conn *sql.Conn, name string) bool {
	t.Helper()
	var got sql.NullInt64
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got.Valid && got.Int64 == 1
}

func releaseLock(t *testing.T, conn *sql.Conn, name string) {
	t.Helper()
	var released sql.NullInt64
	if err := conn.QueryRowContext(context.Background(), "SELECT RELEASE_LOCK(?)", name).Scan(&released); err != nil || released.Int64 != 1 {
		t.Fatalf("release %s: %v, %v", name, released, err)
	}
}

// lockHolder returns the connection id of the session holding the named
// lock, or 0 when it is free.
func lockHolder(t *testing.T, db *gorm.DB, name string) int64 {
	t.Helper()
	var id sql.NullInt64
	if err := db.Raw("SELECT IS_USED_LOCK(?)", name).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	return id.Int64
}

// blockTable takes a read lock on table from a connection of the test's
// own, so that a DELETE of it waits on the server until release is
// called (or t ends).
func blockTable(t *testing.T, db *gorm.DB, table string) (release func()) {
	t.Helper()
	conn := pinned(t, db)
	// The table name is the test's own constant.
	if _, err := conn.ExecContext(context.Background(), "LOCK TABLES `"+table+"` READ"); err != nil {
		t.Fatal(err)
	}
	released := false
	return func() {
		if !released {
			released = true
			if _, err := conn.ExecContext(context.Background(), "UNLOCK TABLES"); err != nil {
				t.Error(err)
			}
		}
	}
}

// waitForBlockedDelete waits until a DELETE in db's database waits on the
// server for a table lock, and returns the id of its connection.
func waitForBlockedDelete(t *testing.T, db *gorm.DB, timeout time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ids []int64
		err := db.Raw(`SELECT id FROM information_schema.processlist
			WHERE db = DATABASE() AND state = 'Waiting for table metadata lock' AND info LIKE 'DELETE %'`).Scan(&ids).Error
		if err != nil {
			t.Fatalf("look for a blocked DELETE: %v", err)
		}
		if len(ids) > 0 {
			return ids[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DELETE waited for a table lock within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
