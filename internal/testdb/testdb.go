// Package testdb gives each test its own PostgreSQL schema on the server
// named by TEST_DATABASE_URL, so tests run in parallel on one database
// without seeing each other's rows.
package testdb

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/fixtures"
	"github.com/attesto/gormstore/models"
)

// DefaultURL is the server the tests use when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns TEST_DATABASE_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

// adminDB is one small pool, shared by the whole test binary, that creates
// and drops the schemas.
func adminDB(t testing.TB) *sql.DB {
	adminOnce.Do(func() {
		var db *gorm.DB
		db, adminErr = open(URL(), 2)
		if adminErr == nil {
			admin, adminErr = db.DB()
		}
	})
	if adminErr != nil {
		t.Fatalf("testdb: connect to %s: %v (the README's test command starts a server)", URL(), adminErr)
	}
	return admin
}

// Close closes the shared admin pools; TestMain calls it after the tests,
// before goleak looks for stray goroutines.
func Close() {
	if admin != nil {
		admin.Close()
	}
	if mysqlAdmin != nil {
		mysqlAdmin.Close()
	}
}

// Schema creates an empty schema for t, dropped when t ends, and returns
// its name.
func Schema(t testing.TB) string {
	t.Helper()
	name := schemaName(t.Name())
	if _, err := adminDB(t).Exec(`CREATE SCHEMA ` + pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testdb: create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := adminDB(t).Exec(`DROP SCHEMA ` + pgx.Identifier{name}.Sanitize() + ` CASCADE`); err != nil {
			t.Errorf("testdb: drop schema %s: %v", name, err)
		}
	})
	return name
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// schemaName makes a unique, safe identifier from a test name (test names
// are ours, but the result is still restricted to [a-z0-9_]).
func schemaName(test string) string {
	base := unsafeChars.ReplaceAllString(strings.ToLower(test), "_")
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "t_" + strings.Trim(base, "_") + "_" + hex.EncodeToString(b[:])
}

// Open returns a pool of at most maxConns connections whose search_path is
// schema, closed when t ends. Two pools on one schema stand for two nodes.
func Open(t testing.TB, schema string, maxConns int) *gorm.DB {
	t.Helper()
	return OpenParams(t, schema, maxConns, nil)
}

// OpenParams is Open with extra run-time parameters for the connections,
// such as TimeZone.
func OpenParams(t testing.TB, schema string, maxConns int, params url.Values) *gorm.DB {
	t.Helper()
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatalf("testdb: TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	q.Set("search_path", schema)
	// GORM's driver reads TimeZone from the raw DSN without unescaping it,
	// and '/' needs no escape in a query.
	// Spaces go as %20: not every DSN reader takes '+' for a space.
	u.RawQuery = strings.NewReplacer("%2F", "/", "+", "%20").Replace(q.Encode())
	db, err := open(u.String(), maxConns)
	if err != nil {
		t.Fatalf("testdb: open: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

func open(dsn string, maxConns int) (*gorm.DB, error) {
	return openPool(postgres.Open(dsn), maxConns)
}

// openPool opens d, silent, with a pool of at most maxConns connections,
// and checks that the server answers.
func openPool(d gorm.Dialector, maxConns int) (*gorm.DB, error) {
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	if err := sqlDB.Ping(); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// New returns a pool on a fresh schema holding the stores' tables, created
// from the models.
func New(t testing.TB) *gorm.DB {
	t.Helper()
	db := Open(t, Schema(t), 8)
	CreateTables(t, db)
	return db
}

// CreateTables creates the stores' tables from the models in db's schema.
func CreateTables(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := db.Migrator().CreateTable(models.All()...); err != nil {
		t.Fatalf("testdb: create tables: %v", err)
	}
}

// NewLegacy returns a pool on a fresh schema holding the tables as
// attesto_phoenix's Ecto migration creates them (varchar(255) keys,
// timestamp(0) without time zone).
func NewLegacy(t testing.TB) *gorm.DB {
	t.Helper()
	db := Open(t, Schema(t), 8)
	CreateLegacyTables(t, db)
	return db
}

// CreateLegacyTables creates attesto_phoenix's tables in db's schema.
func CreateLegacyTables(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := db.Exec(string(fixtures.Read(t, "attesto_phoenix_schema.sql"))).Error; err != nil {
		t.Fatalf("testdb: create attesto_phoenix tables: %v", err)
	}
}

// Count returns the number of rows in table, which must be a constant
// table name of the test's own.
func Count(t testing.TB, db *gorm.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Table("?", clause.Table{Name: table}).Count(&n).Error; err != nil {
		t.Fatalf("testdb: count %s: %v", table, err)
	}
	return n
}

// MustExec runs a statement of the test's own and fails t on error.
func MustExec(t testing.TB, db *gorm.DB, sql string, args ...any) {
	t.Helper()
	if err := db.Exec(sql, args...).Error; err != nil {
		t.Fatalf("testdb: %s: %v", sql, fmt.Sprint(err))
	}
}

// WaitForLockWait waits until some statement waits on the server for a
// lock on table (resolved through db's search_path), and fails t if none
// does within timeout.
func WaitForLockWait(t testing.TB, db *gorm.DB, table string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var n int64
		err := db.Raw(`SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass(?)`, table).Scan(&n).Error
		if err != nil {
			t.Fatalf("testdb: look for lock waits on %s: %v", table, err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testdb: no statement waited for a lock on %s within %v", table, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
