package main

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/attesto/gormstore/internal/testdb"
)

// runMainEnv makes the test binary run main instead of the tests, so that
// the tests see mysqlready's exit codes and messages as scripts/test.sh does.
const runMainEnv = "MYSQLREADY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	testdb.Main(m)
}

// run runs mysqlready with args and returns its exit code, stdout and
// stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("run mysqlready: %v", err)
		return 0, "", ""
	}
}

// dsn is the test server's DSN with its database and user changed.
func dsn(t *testing.T, database, user, passwd string) string {
	t.Helper()
	cfg := testdb.MySQLConfig(t, database)
	if user != "" {
		cfg.User, cfg.Passwd = user, passwd
	}
	return cfg.FormatDSN()
}

// serverDB is a pool on the test server with no database selected.
func serverDB(t *testing.T) *sql.DB {
	t.Helper()
	conn, err := mysql.NewConnector(testdb.MySQLConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

func databaseExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestMySQLReady(t *testing.T) {
	t.Parallel()
	db := serverDB(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	// A backtick and a quote in the name: the server must quote it.
	missing := "mysqlready_`'_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + strings.ReplaceAll(missing, "`", "``") + "`"); err != nil {
			t.Errorf("drop %s: %v", missing, err)
		}
	})
	var version string
	if err := db.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	down := testdb.MySQLConfig(t, "test")
	down.Addr = closedPort(t)

	// In order: the -create case makes the database the cases after it find.
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string // substring; "" means stderr must be empty
		wantExists bool   // whether missing exists afterwards
	}{
		{"existing database", []string{"-wait", "5s", testdb.MySQLURL()}, 0, "", false},
		{"missing database without -create", []string{"-wait", "5s", dsn(t, missing, "", "")}, 1, "Unknown database", false},
		{"missing database with -create", []string{"-wait", "5s", "-create", dsn(t, missing, "", "")}, 0, "created database", true},
		{"created database with -create again", []string{"-wait", "5s", "-create", dsn(t, missing, "", "")}, 0, "", true},
		// At once, not after -wait: retrying a refused login cannot help.
		{"login refused", []string{"-wait", "10m", dsn(t, "test", "mysqlready_nobody", "wrong")}, 3, "Access denied", true},
		{"nothing listening", []string{"-wait", "1s", down.FormatDSN()}, 1, "not reachable within 1s", true},
		{"malformed DSN", []string{"root@tcp(127.0.0.1:3306/test"}, 2, "invalid DSN", true},
		{"malformed parameter", []string{"root@tcp(127.0.0.1:3306)/test?parseTime=maybe"}, 2, "invalid bool value", true},
		{"no DSN", nil, 2, "usage: mysqlready", true},
		{"two DSNs", []string{testdb.MySQLURL(), testdb.MySQLURL()}, 2, "usage: mysqlready", true},
	} {
		start := time.Now()
		code, stdout, stderr := run(t, tc.args...)
		if took := time.Since(start); took > time.Minute {
			t.Errorf("%s: took %v", tc.name, took)
		}
		if code != tc.wantCode {
			t.Errorf("%s: exit code %d, want %d; stderr:\n%s", tc.name, code, tc.wantCode, stderr)
		}
		if tc.wantStderr == "" && stderr != "" || !strings.Contains(stderr, tc.wantStderr) {
			t.Errorf("%s: stderr %q, want it to contain %q", tc.name, stderr, tc.wantStderr)
		}
		// The server's version once ready, for the script to report;
		// nothing otherwise.
		wantStdout := ""
		if tc.wantCode == 0 {
			wantStdout = version + "\n"
		}
		if stdout != wantStdout {
			t.Errorf("%s: stdout %q, want %q", tc.name, stdout, wantStdout)
		}
		if got := databaseExists(t, db, missing); got != tc.wantExists {
			t.Errorf("%s: database exists = %v, want %v", tc.name, got, tc.wantExists)
		}
	}
}
