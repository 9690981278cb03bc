package main

import (
	"strings"
	"testing"
	"time"

	"github.com/attesto/gormstore/internal/dialect"
)

// TestParseDSN: what the drivers get for each form of --dsn. These run
// in-process: nothing connects.
func TestParseDSN(t *testing.T) {
	t.Parallel()
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	tests := []struct {
		raw     string
		kind    dialect.Kind
		dsn     string
		display string
		path    string
		timeout time.Duration
	}{
		{"gormstore.db", dialect.SQLite, "file:gormstore.db?" + pragmas, "gormstore.db", "gormstore.db", 0},
		{"/var/lib/app/store.db", dialect.SQLite, "file:///var/lib/app/store.db?" + pragmas, "/var/lib/app/store.db", "/var/lib/app/store.db", 0},
		// The characters a SQLite URI gives a meaning to are escaped.
		{"dir/a?b#c%d.db", dialect.SQLite, "file:dir/a%3fb%23c%25d.db?" + pragmas, "dir/a?b#c%d.db", "dir/a?b#c%d.db", 0},
		{"sqlite:x.db", dialect.SQLite, "file:x.db?" + pragmas, "x.db", "x.db", 0},
		{"sqlite:///tmp/x.db", dialect.SQLite, "file:///tmp/x.db?" + pragmas, "/tmp/x.db", "/tmp/x.db", 0},
		{"file:x.db", dialect.SQLite, "file:x.db?" + pragmas, "x.db", "x.db", 0},
		// The DSN's own pragmas are kept, and not doubled.
		{"file:x.db?_pragma=busy_timeout(1)", dialect.SQLite, "file:x.db?_pragma=busy_timeout(1)&_pragma=journal_mode(WAL)", "x.db", "x.db", 0},
		{"file:///tmp/x.db?_pragma=journal_mode=DELETE&_pragma=BUSY_TIMEOUT(5)", dialect.SQLite, "file:///tmp/x.db?_pragma=journal_mode=DELETE&_pragma=BUSY_TIMEOUT(5)", "/tmp/x.db", "/tmp/x.db", 0},
		{"postgres://u:pw@db.internal:5432/app?sslmode=require", dialect.Postgres, "postgres://u:pw@db.internal:5432/app?sslmode=require&connect_timeout=5", "postgres://u:xxxxx@db.internal:5432/app?sslmode=require", "", 5 * time.Second},
		{"postgresql://db/app", dialect.Postgres, "postgresql://db/app?connect_timeout=5", "postgresql://db/app", "", 5 * time.Second},
		{"postgres://db/app?connect_timeout=30&password=pw", dialect.Postgres, "postgres://db/app?connect_timeout=30&password=pw", "postgres://db/app?connect_timeout=30&password=xxxxx", "", 30 * time.Second},
	}
	for _, tt := range tests {
		got, err := parseDSN(tt.raw)
		if err != nil {
			t.Errorf("parseDSN(%q): %v", tt.raw, err)
			continue
		}
		if got.kind != tt.kind || got.dsn != tt.dsn || got.display != tt.display || got.path != tt.path || got.connectTimeout != tt.timeout {
			t.Errorf("parseDSN(%q) = %+v\nwant kind %v, dsn %q, display %q, path %q, timeout %v", tt.raw, got, tt.kind, tt.dsn, tt.display, tt.path, tt.timeout)
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"postgres://u:s3cret@host:99999/db", "invalid port"},
		{"postgres://u:s3cret@%zz/db", "invalid percent-encoded token"},
		{"redis://localhost", `unsupported database "redis"`},
		{":memory:", "in-memory"},
		{"file::memory:?cache=shared", "in-memory"},
		{"file:x.db?mode=memory", "in-memory"},
		{"file://otherhost/x.db", `not host "otherhost"`},
		{"sqlite:", "empty SQLite file name"},
	}
	for _, tt := range tests {
		_, err := parseDSN(tt.raw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseDSN(%q) = %v, want an error with %q", tt.raw, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("parseDSN(%q): the error shows the password: %v", tt.raw, err)
		}
	}
}
