package gormfosite_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore"
)

// defaultDatabaseURL is the server the tests use when TEST_DATABASE_URL is
// unset, the same default as the core module's tests.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func databaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultDatabaseURL
}

var (
	adminOnce sync.Once
	admin     *gorm.DB
	adminErr  error
)

// adminPool is one small pool for the whole test binary, which creates
// and drops the tests' schemas; TestMain closes it.
func adminPool(t testing.TB) *gorm.DB {
	adminOnce.Do(func() { admin, adminErr = openPostgres(databaseURL(), 2) })
	if adminErr != nil {
		t.Fatalf("connect to %s: %v (set TEST_DATABASE_URL, or start PostgreSQL)", databaseURL(), adminErr)
	}
	return admin
}

func closeAdminPool() {
	if admin != nil {
		if db, err := admin.DB(); err == nil {
			db.Close()
		}
	}
}

func openPostgres(dsn string, maxConns int) (*gorm.DB, error) {
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
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

var notIdentifier = regexp.MustCompile(`[^a-z0-9_]+`)

// newSchema creates an empty schema for t, holding the stores' tables as
// gormstore.AutoMigrate creates them, dropped when t ends; it returns the
// schema's name.
func newSchema(t testing.TB) string {
	t.Helper()
	base := strings.Trim(notIdentifier.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	// Only [a-z0-9_]: safe between double quotes.
	name := "f_" + base + "_" + hex.EncodeToString(b[:])
	if err := adminPool(t).Exec(`CREATE SCHEMA "` + name + `"`).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := adminPool(t).Exec(`DROP SCHEMA "` + name + `" CASCADE`).Error; err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	if err := gormstore.AutoMigrate(context.Background(), openPool(t, name, 1)); err != nil {
		t.Fatalf("AutoMigrate: %v", err)
	}
	return name
}

// openPool returns a pool of at most maxConns connections on schema,
// closed when t ends. Two pools on one schema stand for two nodes.
func openPool(t testing.TB, schema string, maxConns int) *gorm.DB {
	t.Helper()
	u, err := url.Parse(databaseURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := openPostgres(u.String(), maxConns)
	if err != nil {
		t.Fatalf("open %s: %v", schema, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// countRows returns the rows of table, one of the stores' own tables.
func countRows(t testing.TB, db *gorm.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Table(table).Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
