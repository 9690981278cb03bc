package testdb

import (
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// SQLiteDSN is the DSN of a SQLite database file at path, set up as the
// docs/databases.md advises: write-ahead logging, so readers never wait for the
// writer, and a busy timeout, so a writer waits for another instead of
// failing with SQLITE_BUSY.
func SQLiteDSN(path string) string {
	return "file:" + filepath.ToSlash(path) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
}

// OpenSQLite opens the SQLite database file at path, closed when t ends.
// Two pools on one file stand for two processes of one node.
func OpenSQLite(t testing.TB, path string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(SQLiteDSN(path)), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("testdb: open SQLite %s: %v", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	if err := sqlDB.Ping(); err != nil {
		t.Fatalf("testdb: open SQLite %s: %v", path, err)
	}
	return db
}

// NewSQLite returns a pool on a fresh SQLite file in t's temporary
// directory, holding the stores' tables, created from the models.
func NewSQLite(t testing.TB) *gorm.DB {
	t.Helper()
	db := OpenSQLite(t, filepath.Join(t.TempDir(), "gormstore.db"))
	CreateTables(t, db)
	return db
}
