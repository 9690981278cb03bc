package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
)

// The passwords of TestPasswordsNeverPrinted hold both markers; neither
// may appear in any output.
var passwordMarkers = []string{"Zq9", "s3cret"}

// A password for each trap: '/' and '?' and '@' that the DSN's form
// leaves unescaped, a space and a quote in a keyword/value DSN.
const (
	plainPassword = "Zq9-s3cret"
	slashPassword = "Zq9/s3cret@x" // a MySQL password with '/' and '@'
	spacePassword = "Zq9 's3cret"  // a keyword/value password, quoted
)

// noPassword fails t if the run printed any part of a test password.
func noPassword(t *testing.T, r result, args []string) {
	t.Helper()
	for _, m := range passwordMarkers {
		if strings.Contains(r.stdout+r.stderr, m) {
			t.Errorf("gormstore %s printed the password (%q); %s", maskDSN(strings.Join(args, " ")), m, r)
		}
	}
}

// step is one run of the binary in a scenario: its arguments, the exit
// status it must end with, and what its output must show (the DSN,
// masked, where the command names the database).
type step struct {
	args []string
	code int
	want string
}

// scenario runs the steps against dsn, given as --dsn after the command
// (or before it, or as $DATABASE_URL), and checks that no output holds
// the password: every command, in the paths that work and those that
// fail, or when !full the commands that name the database (stats and
// its --json, migrate, sweep) and a failure.
func scenario(t *testing.T, dsn, shown, via string, full bool) {
	t.Helper()
	var env []string
	dsnArgs := func(cmd string, rest ...string) []string {
		switch via {
		case "before":
			return append([]string{"--dsn=" + dsn, cmd}, rest...)
		case "env":
			return append([]string{cmd}, rest...)
		}
		return append([]string{cmd, "--dsn", dsn}, rest...)
	}
	if via == "env" {
		env = append(env, "DATABASE_URL="+dsn)
	}
	inv := newInvocation(t, env...)
	steps := []step{
		// Reachable, and no tables yet.
		{dsnArgs("stats"), 1, "do not exist in " + shown},
		{dsnArgs("sweep"), 1, "do not exist in " + shown},
		{dsnArgs("bench", "--duration", "1s"), 1, "do not exist in " + shown},
		// Usage errors with the DSN on the line.
		{dsnArgs("sweep", "--every", "soon"), 2, `--every "soon" is not a duration`},
		{dsnArgs("stats", "--jsn"), 2, "did you mean --json?"},
		{dsnArgs("migrate", "--print"), 0, "CREATE TABLE IF NOT EXISTS attesto_pushed_authorization_requests"},
		{dsnArgs("migrate"), 0, "schema up to date in " + shown},
		{dsnArgs("stats"), 0, shown + " at "},
		{dsnArgs("stats", "--json"), 0, `"database": "` + strings.TrimPrefix(shown, dialectPrefix(shown)) + `"`},
		{dsnArgs("sweep"), 0, "swept " + shown},
		{dsnArgs("bench", "--json", "--duration", "1s", "--concurrency", "2", "--clients", "20", "--expired", "10", "--sweep-every", "200ms"),
			0, `"database": "` + strings.TrimPrefix(shown, dialectPrefix(shown)) + `"`},
	}
	if !full {
		steps = []step{steps[0], steps[6], steps[8], steps[9]}
	}
	for _, s := range steps {
		r := inv.run(t, s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Errorf("gormstore %s: want exit %d and %q; %s", maskDSN(strings.Join(s.args, " ")), s.code, s.want, r)
		}
		noPassword(t, r, s.args)
	}
	noFiles(t, inv)
}

// dialectPrefix is the "postgres " or "mysql " that messages put before
// a DSN that does not say what it is, and that --json leaves out.
func dialectPrefix(shown string) string {
	for _, p := range []string{"postgres ", "mysql ", "sqlite "} {
		if strings.HasPrefix(shown, p) {
			return p
		}
	}
	return ""
}

// TestPasswordsNeverPrinted runs every command, in the paths that work
// and those that fail, with a DSN holding a recognisable password in
// each form and place an operator might give it, and checks that no
// output holds any part of it. PostgreSQL's test server trusts its
// clients, so a password is accepted and the commands do their work; on
// MariaDB the test creates a user with the password.
func TestPasswordsNeverPrinted(t *testing.T) {
	t.Parallel()
	t.Run("PostgreSQL URL", func(t *testing.T) {
		t.Parallel()
		// '/' percent-encoded, as a URL must have it: pgx decodes it.
		u := postgresURL(t, testdb.Schema(t))
		u.User = url.UserPassword(u.User.Username(), "Zq9/s3cret")
		masked := strings.Replace(u.String(), "Zq9%2Fs3cret", masked, 1)
		scenario(t, u.String(), masked, "after", true)
	})
	t.Run("PostgreSQL URL before the command", func(t *testing.T) {
		t.Parallel()
		u := postgresURL(t, testdb.Schema(t))
		u.User = url.UserPassword(u.User.Username(), plainPassword)
		scenario(t, u.String(), strings.Replace(u.String(), plainPassword, masked, 1), "before", false)
	})
	t.Run("PostgreSQL URL in DATABASE_URL", func(t *testing.T) {
		t.Parallel()
		u := postgresURL(t, testdb.Schema(t))
		u.User = url.UserPassword(u.User.Username(), plainPassword)
		scenario(t, u.String(), strings.Replace(u.String(), plainPassword, masked, 1), "env", false)
	})
	t.Run("PostgreSQL URL with a percent-encoded password key", func(t *testing.T) {
		t.Parallel()
		u := postgresURL(t, testdb.Schema(t))
		u.RawQuery += "&pass%77ord=Zq9%2Fs3cret"
		scenario(t, u.String(), strings.Replace(u.String(), "Zq9%2Fs3cret", masked, 1), "after", false)
	})
	t.Run("PostgreSQL keyword/value", func(t *testing.T) {
		t.Parallel()
		dsn := keywordValueDSN(t, testdb.Schema(t), `password='Zq9 \'s3cret'`)
		scenario(t, dsn, "postgres "+strings.Replace(dsn, `Zq9 \'s3cret`, masked, 1), "after", false)
	})
	t.Run("MariaDB", func(t *testing.T) {
		t.Parallel()
		name := testdb.MySQLDatabase(t)
		user := mysqlUser(t, testdb.OpenMySQL(t, name, 1), name, slashPassword)
		cfg := testdb.MySQLConfig(t, name)
		dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s?charset=utf8mb4&parseTime=True&loc=Local", user, slashPassword, cfg.Addr, name)
		scenario(t, dsn, "mysql "+strings.Replace(dsn, slashPassword, masked, 1), "after", true)
	})
	t.Run("MariaDB URL", func(t *testing.T) {
		t.Parallel()
		name := testdb.MySQLDatabase(t)
		user := mysqlUser(t, testdb.OpenMySQL(t, name, 1), name, slashPassword)
		cfg := testdb.MySQLConfig(t, name)
		u := url.URL{Scheme: "mysql", User: url.UserPassword(user, slashPassword), Host: cfg.Addr, Path: "/" + name, RawQuery: "parseTime=true"}
		scenario(t, u.String(), strings.Replace(u.String(), url.UserPassword(user, slashPassword).String(), user+":"+masked, 1), "before", false)
	})
}

// TestPasswordsInBadCommandLines: the command lines that fail before
// any database is reached, and the servers that cannot be, never show
// the password either.
func TestPasswordsInBadCommandLines(t *testing.T) {
	t.Parallel()
	pgURL := "postgres://postgres:" + plainPassword + "@127.0.0.1:1/test"
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"unreachable PostgreSQL", []string{"stats", "--dsn", pgURL}, nil, 1, "cannot connect to postgres://postgres:xxxxx@127.0.0.1:1/test"},
		{"unreachable in DATABASE_URL", []string{"sweep"}, []string{"DATABASE_URL=" + pgURL}, 1, "cannot connect to postgres://postgres:xxxxx@"},
		{"unreachable before the command", []string{"--dsn=" + pgURL, "migrate"}, nil, 1, "cannot connect to postgres://postgres:xxxxx@"},
		{"'/' in a URL's password", []string{"migrate", "--dsn", "postgres://postgres:Zq9/s3cret@127.0.0.1:1/test"}, nil, 2, "invalid PostgreSQL URL postgres://postgres:xxxxx@127.0.0.1:1/test"},
		{"'?' in a URL's password", []string{"stats", "--dsn", "postgres://postgres:Zq9?s3cret@127.0.0.1:1/test"}, nil, 1, "cannot connect to postgres://postgres:xxxxx@127.0.0.1:1/test"},
		{"'@' in a URL's password", []string{"bench", "--dsn", "postgres://postgres:Zq9@s3cret@127.0.0.1:1/test"}, nil, 1, "cannot connect to postgres://postgres:xxxxx@127.0.0.1:1/test"},
		{"bad port with a password key", []string{"stats", "--dsn", "postgres://127.0.0.1:99999/test?pass%77ord=Zq9%2Fs3cret"}, nil, 2, "pass%77ord=xxxxx"},
		{"keyword/value unreachable", []string{"stats", "--dsn", "host=127.0.0.1 port=1 user=postgres password=" + plainPassword + " dbname=test"}, nil, 1, "cannot connect to postgres host=127.0.0.1 port=1 user=postgres password=xxxxx dbname=test"},
		// The quote in the password is not escaped: where the password
		// ends is anyone's guess, and all after password= is masked.
		{"keyword/value with a stray quote", []string{"migrate", "--dsn", "host=127.0.0.1 password='" + spacePassword + "' dbname=test"}, nil, 2, "invalid PostgreSQL DSN host=127.0.0.1 password=xxxxx"},
		{"keyword/value unterminated", []string{"migrate", "--dsn", "host=127.0.0.1 password='Zq9 s3cret"}, nil, 2, "invalid PostgreSQL DSN host=127.0.0.1 password=xxxxx"},
		{"MySQL unreachable", []string{"sweep", "--dsn", "root:" + slashPassword + "@tcp(127.0.0.1:1)/test"}, nil, 1, "cannot connect to mysql root:xxxxx@tcp(127.0.0.1:1)/test"},
		{"MySQL URL unreachable", []string{"stats", "--dsn", "mysql://root:Zq9%2Fs3cret@127.0.0.1:1/test"}, nil, 1, "cannot connect to mysql://root:xxxxx@127.0.0.1:1/test"},
		{"MySQL without a database", []string{"stats", "--dsn", "root:" + plainPassword + "@tcp(127.0.0.1:1)/"}, nil, 2, "MySQL DSN root:xxxxx@tcp(127.0.0.1:1)/ names no database"},
		{"MySQL bad parameter", []string{"stats", "--dsn", "root:" + plainPassword + "@tcp(127.0.0.1:1)/test?parseTime=maybe"}, nil, 2, "invalid MySQL DSN root:xxxxx@tcp(127.0.0.1:1)/test?parseTime=maybe: invalid bool value: maybe"},
		{"DSN as a bare argument", []string{"stats", pgURL}, nil, 2, `unexpected argument "postgres://postgres:xxxxx@127.0.0.1:1/test"`},
		{"DSN as the command", []string{pgURL, "stats"}, nil, 2, `unknown command "postgres://postgres:xxxxx@127.0.0.1:1/test"`},
		{"DSN as a flag", []string{"stats", "--" + pgURL}, nil, 2, "unknown flag --postgres://postgres:xxxxx@"},
		{"DSN as a flag's value", []string{"sweep", "--every", pgURL}, nil, 2, `--every "postgres://postgres:xxxxx@127.0.0.1:1/test" is not a duration`},
		{"DSN after another flag before the command", []string{"--every=" + pgURL, "sweep"}, nil, 2, `flag "--every=postgres://postgres:xxxxx@127.0.0.1:1/test" before the command`},
		{"misspelt --dsn", []string{"stats", "--dns=" + pgURL}, nil, 2, "unknown flag --dns; did you mean --dsn?"},
		{"ambiguous", []string{"migrate", "--dsn", "localhost:5432/test?password=" + plainPassword}, nil, 2, "ambiguous DSN localhost:5432/test?password=xxxxx"},
		{"unsupported", []string{"migrate", "--dsn", "redis://default:" + plainPassword + "@localhost:6379/0"}, nil, 2, "unsupported database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := newInvocation(t, tt.env...)
			r := inv.run(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("want exit %d and %q; %s", tt.code, tt.want, r)
			}
			noPassword(t, r, tt.args)
			noFiles(t, inv)
		})
	}
}

// TestKeywordValueDSNIsPostgreSQL: the DSN GORM's documentation shows
// for PostgreSQL used to be taken for a SQLite file name: migrate created
// a file so named, printed the password and said "schema up to date". It
// is PostgreSQL: unreachable, it fails saying so and creates nothing;
// reachable, migrate creates the tables there.
func TestKeywordValueDSNIsPostgreSQL(t *testing.T) {
	t.Parallel()
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		inv := newInvocation(t)
		dsn := "host=127.0.0.1 user=gorm password=" + plainPassword + " dbname=gorm port=1 sslmode=disable TimeZone=Asia/Shanghai"
		r := inv.run(t, "migrate", "--dsn", dsn)
		if r.code != 1 || !strings.Contains(r.stderr, "gormstore: migrate: cannot connect to postgres host=127.0.0.1 user=gorm password=xxxxx dbname=gorm port=1") || strings.Contains(r.stdout, "schema up to date") {
			t.Errorf("want exit 1 and cannot connect; %s", r)
		}
		noPassword(t, r, []string{dsn})
		noFiles(t, inv)
	})
	t.Run("reachable", func(t *testing.T) {
		t.Parallel()
		schema := testdb.Schema(t)
		db := testdb.Open(t, schema, 2)
		inv := newInvocation(t)
		dsn := keywordValueDSN(t, schema, "")
		r := inv.mustRun(t, "migrate", "--dsn", dsn)
		if !strings.Contains(r.stdout, "schema up to date in postgres "+dsn) {
			t.Errorf("migrate does not name the PostgreSQL DSN; %s", r)
		}
		for _, table := range tables {
			if !db.Migrator().HasTable(table) {
				t.Errorf("no table %s in schema %s after migrate", table, schema)
			}
		}
		noFiles(t, inv)
	})
}

// postgresURL is the test server's URL with schema as the search_path.
func postgresURL(t *testing.T, schema string) *url.URL {
	t.Helper()
	u, err := url.Parse(postgresDSN(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// keywordValueDSN is the test server as a keyword/value DSN, as GORM's
// documentation writes one, with schema as the search_path and password
// (a keyword=value, or "") after the user.
func keywordValueDSN(t *testing.T, schema, password string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(testdb.URL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	parts := []string{"host=" + cfg.Host, fmt.Sprintf("port=%d", cfg.Port), "user=" + cfg.User}
	if password != "" {
		parts = append(parts, password)
	}
	parts = append(parts, "dbname="+cfg.Database, "sslmode=disable", "search_path="+schema)
	return strings.Join(parts, " ")
}

// mysqlUser creates a user of the MariaDB test server, identified by
// password, with every privilege on database name, dropped when t ends.
func mysqlUser(t *testing.T, root *gorm.DB, name, password string) string {
	t.Helper()
	var id [6]byte
	_, _ = rand.Read(id[:])
	user := "gormstore_" + hex.EncodeToString(id[:])
	if strings.ContainsAny(password, `'\`) {
		t.Fatalf("password %q would need quoting", password)
	}
	// CREATE USER takes no bound password; the user is hex, the password
	// a test constant without quotes.
	testdb.MustExec(t, root, "CREATE USER '"+user+"'@'%' IDENTIFIED BY '"+password+"'")
	t.Cleanup(func() {
		if err := root.Exec("DROP USER '" + user + "'@'%'").Error; err != nil {
			t.Errorf("drop user %s: %v", user, err)
		}
	})
	testdb.MustExec(t, root, "GRANT ALL ON `"+name+"`.* TO '"+user+"'@'%'")
	return user
}
