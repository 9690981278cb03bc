package sweeper_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
)

// mysqlTimeLayout is how the MariaDB tests write times, as the stores do:
// UTC text, which a datetime(6) column keeps as written whatever the
// session's time_zone.
const mysqlTimeLayout = "2006-01-02 15:04:05.000000"

func mysqlTime(t time.Time) string { return t.UTC().Format(mysqlTimeLayout) }

// seedMySQL is seed on MariaDB/MySQL: n rows (at most a million) keyed
// prefix1 … prefixN, where row i expires at first + (i-1)×step, in one
// statement that numbers the rows with a cross join of digits.
func seedMySQL(t testing.TB, db *gorm.DB, tb table, prefix string, n int, first time.Time, step time.Duration) {
	t.Helper()
	cols := "`" + tb.key + "`, expires_at"
	vals := "CONCAT(?, n), ? + INTERVAL (n - 1) * ? MICROSECOND"
	args := []any{prefix, mysqlTime(first), step.Microseconds()}
	if tb.doc != "" {
		cols += ", `" + tb.doc + "`, inserted_at"
		vals += `, '{"client_id": "x"}', ?`
		args = append(args, mysqlTime(first.Add(-24*time.Hour)))
	}
	args = append(args, n)
	// The table and column names are the test's own constants.
	testdb.MustExec(t, db, "INSERT INTO `"+tb.name+"` ("+cols+") "+
		"WITH d AS (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4"+
		" UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9),"+
		" s AS (SELECT d1.d + 10*d2.d + 100*d3.d + 1000*d4.d + 10000*d5.d + 100000*d6.d + 1 AS n"+
		" FROM d d1, d d2, d d3, d d4, d d5, d d6) "+
		"SELECT "+vals+" FROM s WHERE n <= ?", args...)
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

// openMariaDBFoundRows is openMariaDB with clientFoundRows=true in the
// DSN.
func openMariaDBFoundRows(t *testing.T, n, maxConns int) []*gorm.DB {
	t.Helper()
	database := testdb.MySQLDatabase(t)
	nodes := make([]*gorm.DB, n)
	for i := range nodes {
		cfg := testdb.MySQLConfig(t, database)
		cfg.ClientFoundRows = true
		nodes[i] = testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: cfg}, maxConns)
	}
	testdb.CreateMySQLTables(t, nodes[0])
	return nodes
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

// tryLockMySQL is tryLock on MariaDB: the named lock of LockKey key.
func tryLockMySQL(t *testing.T, conn *sql.Conn, key int64) bool {
	t.Helper()
	return getLock(t, conn, mysqlLockName(key))
}

func unlockMySQL(t *testing.T, conn *sql.Conn, key int64) {
	t.Helper()
	releaseLock(t, conn, mysqlLockName(key))
}

func waitForBlockedDeleteMySQL(t *testing.T, db *gorm.DB, _ string) {
	t.Helper()
	waitForBlockedDelete(t, db, 10*time.Second)
}

// refusingUnlockMySQL fails RELEASE_LOCK with a GORM callback of the
// test's own, registered on the pool it returns, before the statement
// reaches the server.
func refusingUnlockMySQL(t *testing.T) (db, probe *gorm.DB) {
	t.Helper()
	database := testdb.MySQLDatabase(t)
	db = testdb.OpenMySQL(t, database, 4)
	testdb.CreateMySQLTables(t, db)
	refuse := func(tx *gorm.DB) {
		if strings.Contains(tx.Statement.SQL.String(), "RELEASE_LOCK") {
			tx.AddError(errors.New("unlock refused by the test"))
		}
	}
	if err := db.Callback().Row().Before("gorm:row").Register("test:refuse_unlock", refuse); err != nil {
		t.Fatal(err)
	}
	return db, testdb.OpenMySQL(t, database, 1)
}

// openMariaDBIn returns a pool on a fresh MariaDB database holding the
// stores' tables, as testdb opens it, and another on the same database
// whose driver reads times in loc (nil keeps testdb's, Local) and whose
// session has time_zone timeZone ("" keeps the server's).
func openMariaDBIn(loc *time.Location, timeZone string) func(t *testing.T) (db, node *gorm.DB) {
	return func(t *testing.T) (db, node *gorm.DB) {
		t.Helper()
		database := testdb.MySQLDatabase(t)
		db = testdb.OpenMySQL(t, database, 2)
		testdb.CreateMySQLTables(t, db)
		cfg := testdb.MySQLConfig(t, database)
		if loc != nil {
			cfg.Loc = loc
		}
		if timeZone != "" {
			cfg.Params = maps.Clone(cfg.Params)
			if cfg.Params == nil {
				cfg.Params = map[string]string{}
			}
			cfg.Params["time_zone"] = "'" + timeZone + "'"
		}
		node = testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: cfg}, 2)
		if timeZone != "" {
			var tz string
			if err := node.Raw("SELECT @@session.time_zone").Scan(&tz).Error; err != nil || tz != timeZone {
				t.Fatalf("session time_zone = %q, %v; want %s", tz, err, timeZone)
			}
		}
		return db, node
	}
}
