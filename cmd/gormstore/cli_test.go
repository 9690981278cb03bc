package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"--help"}, []string{"Usage:", "migrate", "sweep", "stats", "bench", "Exit status"}},
		{[]string{"-h"}, []string{"Usage:", "Commands:"}},
		{[]string{"help"}, []string{"Usage:", "Commands:"}},
		{[]string{"migrate", "--help"}, []string{"Usage: gormstore migrate", "--dsn DSN", "--print"}},
		{[]string{"sweep", "--help"}, []string{"Usage: gormstore sweep", "--dsn DSN", "--every interval", "--batch-size int", "--timeout duration", "--stop-timeout duration", fmt.Sprintf("(default %d)", sweeper.DefaultBatchSize)}},
		{[]string{"stats", "-h"}, []string{"Usage: gormstore stats", "--dsn DSN", "--json"}},
		{[]string{"bench", "--help"}, []string{"Usage: gormstore bench", "--dsn DSN", "--duration duration", "(default 10s)", "--concurrency int", "(default 8)", "--json", "--clients int", "--expired int", "--sweep-every duration", "--migrate", "--progress string"}},
		{[]string{"help", "bench"}, []string{"Usage: gormstore bench", "--duration"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			inv := newInvocation(t)
			r := inv.run(t, tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("want exit 0 and no stderr; %s", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			noDatabaseFile(t, inv)
		})
	}
}

// TestUsageErrors: exit 2, a message on stderr that says what is wrong
// and where to look, nothing on stdout, and no work done.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"frobnicate"}, `gormstore: unknown command "frobnicate"`},
		{"flag before the command", []string{"--dsn", "x.db", "stats"}, "gormstore: flag --dsn before the command"},
		{"migrate bad flag", []string{"migrate", "--bogus"}, "gormstore: migrate: flag provided but not defined: -bogus"},
		{"sweep bad flag", []string{"sweep", "--bogus"}, "gormstore: sweep: flag provided but not defined: -bogus"},
		{"stats bad flag", []string{"stats", "--bogus"}, "gormstore: stats: flag provided but not defined: -bogus"},
		{"bench bad flag", []string{"bench", "--bogus"}, "gormstore: bench: flag provided but not defined: -bogus"},
		{"stray argument", []string{"stats", "extra"}, `unexpected argument "extra"`},
		{"bad duration", []string{"sweep", "--every", "soon"}, `invalid value "soon" for flag -every`},
		{"negative interval", []string{"sweep", "--every", "-1s"}, "--every -1s is negative"},
		{"zero batch", []string{"sweep", "--batch-size", "0"}, "--batch-size 0 is not positive"},
		{"zero duration", []string{"bench", "--duration", "0s"}, "--duration 0s is not positive"},
		{"zero concurrency", []string{"bench", "--concurrency", "0"}, "--concurrency 0 is not between 1 and 1024"},
		{"bad progress", []string{"bench", "--progress", "maybe"}, `--progress "maybe" is not auto, always or never`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := newInvocation(t)
			r := inv.run(t, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("want exit 2, %q on stderr and nothing on stdout; %s", tt.want, r)
			}
			if len(tt.args) > 0 && !strings.Contains(r.stderr, "--help") {
				t.Errorf("stderr does not point to --help:\n%s", r.stderr)
			}
			noDatabaseFile(t, inv)
		})
	}
}

func TestBadDSN(t *testing.T) {
	t.Parallel()
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database, but long enough to have a header......................................................................."), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"port out of range", []string{"stats", "--dsn", "postgres://postgres:s3cret@127.0.0.1:99999/test"}, nil, 2, "--dsn: invalid PostgreSQL URL postgres://postgres:xxxxx@127.0.0.1:99999/test"},
		{"unparsable URL", []string{"sweep", "--dsn", "postgres://u:s3cret@%zz/x"}, nil, 2, "invalid PostgreSQL URL"},
		{"bad DATABASE_URL", []string{"stats"}, []string{"DATABASE_URL=postgresql://postgres:s3cret@127.0.0.1:port/test"}, 2, "$DATABASE_URL: invalid PostgreSQL URL"},
		{"other database", []string{"bench", "--dsn", "mysql://root@localhost/db"}, nil, 2, `unsupported database "mysql"`},
		{"in-memory SQLite", []string{"migrate", "--dsn", ":memory:"}, nil, 2, "in-memory SQLite database"},
		{"in-memory SQLite URI", []string{"migrate", "--dsn", "file:x.db?mode=memory"}, nil, 2, "in-memory SQLite database"},
		{"missing SQLite file", []string{"stats", "--dsn", "nosuch.db"}, nil, 1, "database file nosuch.db does not exist; run `gormstore migrate` first"},
		{"missing directory", []string{"migrate", "--dsn", "/nonexistent/dir/x.db"}, nil, 1, "directory /nonexistent/dir does not exist"},
		{"not a database", []string{"stats", "--dsn", notDB}, nil, 1, "file is not a database"},
		{"no such database", []string{"stats", "--dsn", postgresDatabase(t, "gormstore_no_such_db")}, nil, 1, `database "gormstore_no_such_db" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := newInvocation(t, tt.env...)
			r := inv.run(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit %d and %q on stderr; %s", tt.code, tt.want, r)
			}
			if strings.Contains(r.stderr+r.stdout, "s3cret") {
				t.Errorf("the password is in the output; %s", r)
			}
			noDatabaseFile(t, inv)
		})
	}
}

// TestUnreachableServer: every command that connects fails fast and says
// where it could not connect.
func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	const dsn = "postgres://postgres@127.0.0.1:1/test?sslmode=disable"
	for _, cmd := range []string{"migrate", "sweep", "stats", "bench"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			r := newInvocation(t).run(t, cmd, "--dsn", dsn)
			if r.code != 1 || !strings.Contains(r.stderr, "gormstore: "+cmd+": cannot connect to postgres://postgres@127.0.0.1:1/test") {
				t.Fatalf("want exit 1 and cannot connect; %s", r)
			}
			if r.elapsed > 10*time.Second {
				t.Errorf("took %v to fail", r.elapsed)
			}
		})
	}
}

// TestDatabaseURL: $DATABASE_URL names the database when --dsn does not,
// and --dsn wins over it.
func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "from-env.db")
	inv := newInvocation(t, "DATABASE_URL="+path)
	r := inv.mustRun(t, "migrate")
	if !strings.Contains(r.stdout, "schema up to date in sqlite "+path) {
		t.Fatalf("migrate did not use $DATABASE_URL; %s", r)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no database at $DATABASE_URL: %v", err)
	}
	flagPath := filepath.Join(dir, "from-flag.db")
	r = inv.mustRun(t, "migrate", "--dsn", "sqlite:"+flagPath)
	if !strings.Contains(r.stdout, "schema up to date in sqlite "+flagPath) {
		t.Fatalf("--dsn did not win over $DATABASE_URL; %s", r)
	}
	noDatabaseFile(t, inv)
}

// postgresDatabase is the test server's URL with another database name.
func postgresDatabase(t *testing.T, name string) string {
	t.Helper()
	u, err := url.Parse(testdb.URL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// noDatabaseFile fails t if the run left the default database in its
// working directory: a usage error or an answered --help does no work.
func noDatabaseFile(t *testing.T, inv invocation) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(inv.dir, defaultSQLiteFile)); err == nil {
		t.Errorf("%s was created in the working directory", defaultSQLiteFile)
	}
}
