package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

// helpCase is a help command line and what its stdout must hold.
type helpCase struct{ args, want []string }

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []helpCase{
		{[]string{"--help"}, []string{"Usage:", "migrate", "sweep", "stats", "bench", "version", "Exit status", "gormstore help dsn"}},
		{[]string{"-h"}, []string{"Usage:", "Commands:"}},
		{[]string{"help"}, []string{"Usage:", "Commands:"}},
		{[]string{"migrate", "--help"}, []string{"Usage: gormstore migrate", "--dsn DSN", "--print"}},
		{[]string{"sweep", "--help"}, []string{"Usage: gormstore sweep", "--dsn DSN", "--every interval", "--batch-size int", "--timeout duration", "--stop-timeout duration", fmt.Sprintf("(default %d)", sweeper.DefaultBatchSize)}},
		{[]string{"stats", "-h"}, []string{"Usage: gormstore stats", "--dsn DSN", "--json"}},
		{[]string{"bench", "--help"}, []string{"Usage: gormstore bench", "--dsn DSN", "--duration duration", "(default 10s)", "--concurrency int", "(default 8)", "--json", "--clients int", "--expired int", "--sweep-every duration", "--migrate", "--progress string"}},
		{[]string{"help", "bench"}, []string{"Usage: gormstore bench", "--duration"}},
		{[]string{"version", "--help"}, []string{"Usage: gormstore version"}},
		// The DSN forms, each driver's.
		{[]string{"help", "dsn"}, []string{"postgres://user:password@host:5432/db", "host=host user=user password=password dbname=db", "user:password@tcp(host:3306)/db?charset=utf8mb4&parseTime=True&loc=Local", "mysql://", "sqlite:path/to/file.db", "ambiguous"}},
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
			if strings.HasPrefix(r.stdout, "Usage: gormstore ") {
				commandHelpIsTheCommands(t, r.stdout)
			}
			noDatabaseFile(t, inv)
		})
	}
	// Every command's help is among the cases.
	for _, cmd := range commands {
		if !slices.ContainsFunc(tests, func(tt helpCase) bool { return len(tt.args) == 2 && tt.args[0] == cmd.name }) {
			t.Errorf("no case for %s --help", cmd.name)
		}
	}
}

// commandHelpIsTheCommands checks a command's --help: its own usage, what
// it does and its flags, and one line pointing to what all commands share,
// instead of the same paragraphs on the DSN forms and the exit statuses
// under every command.
func commandHelpIsTheCommands(t *testing.T, help string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(dsnHelp+exitHelp), "\n") {
		if line = strings.TrimSpace(line); len(line) > 20 && strings.Contains(help, line) {
			t.Errorf("the command's help repeats the shared line %q", line)
		}
	}
	if !strings.HasSuffix(help, "\n\n"+commandFooter) {
		t.Errorf("the command's help does not end with the pointer to the shared help:\n%s", help)
	}
}

// TestVersion: --version and the version command print the module
// version the toolchain stamped into the binary, and the commit it
// recorded, as `go version -m` reads them.
func TestVersion(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	version, revision := "", ""
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/attesto/gormstore":
			version = f[2]
		case len(f) >= 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			revision = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	if version == "" {
		t.Fatalf("no module version in go version -m:\n%s", out)
	}
	want := "gormstore " + version + " "
	if revision != "" {
		want = "gormstore " + version + " (commit " + revision[:12]
	}
	inv := newInvocation(t)
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}, {"--dsn", "x.db", "version"}} {
		r := inv.mustRun(t, args...)
		if !strings.HasPrefix(r.stdout, want) || !strings.HasSuffix(r.stdout, " "+runtime.GOOS+"/"+runtime.GOARCH+"\n") || r.stderr != "" {
			t.Errorf("%s: want a line starting %q; %s", strings.Join(args, " "), want, r)
		}
	}
	noDatabaseFile(t, inv)
}

// TestVersionText: the version line of a binary with and without a
// module version and a commit.
func TestVersionText(t *testing.T) {
	t.Parallel()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "gormstore (devel) " + runtime.Version() + " " + platform},
		{"devel", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true, "gormstore (devel) go1.26.0 " + platform},
		{"released", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}}, true, "gormstore v1.4.0 go1.26.0 " + platform},
		{"commit", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20260101000000-0123456789ab"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"},
		}}, true, "gormstore v0.0.0-20260101000000-0123456789ab (commit 0123456789ab, modified) go1.26.0 " + platform},
	}
	for _, tt := range tests {
		if got := versionText(tt.info, tt.ok); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestUsageErrors: exit 2, a message on stderr in the command's words
// that says what is wrong, the command's usage line where the mistake is
// in its flags, where to look, nothing on stdout, and no work done.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		want  string
		usage string // the usage line on stderr, if any
	}{
		{"no command", nil, "gormstore: no command", ""},
		{"unknown command", []string{"frobnicate"}, `gormstore: unknown command "frobnicate"`, ""},
		{"flag before the command", []string{"--every", "1m", "sweep"}, `gormstore: flag "--every" before the command: only --dsn, --help and --version go there`, ""},
		{"dsn without a value", []string{"--dsn"}, "gormstore: --dsn needs a value", ""},
		{"misspelt flag", []string{"sweep", "--evry", "1m"}, "gormstore: sweep: unknown flag --evry; did you mean --every?", "Usage: gormstore sweep [--dsn DSN] [--every INTERVAL]"},
		{"migrate bad flag", []string{"migrate", "--bogus"}, "gormstore: migrate: unknown flag --bogus (gormstore migrate --help lists the flags)", "Usage: gormstore migrate [--dsn DSN] [--print]"},
		{"sweep bad flag", []string{"sweep", "-bogus"}, "gormstore: sweep: unknown flag --bogus", "Usage: gormstore sweep"},
		{"stats misspelt flag", []string{"stats", "--jsn"}, "gormstore: stats: unknown flag --jsn; did you mean --json?", "Usage: gormstore stats [--dsn DSN] [--json]"},
		{"bench abbreviated flag", []string{"bench", "--dur", "1s"}, "gormstore: bench: unknown flag --dur; did you mean --duration?", "Usage: gormstore bench"},
		{"version flag", []string{"version", "--dsn", "x.db"}, "gormstore: version: unknown flag --dsn", "Usage: gormstore version"},
		{"stray argument", []string{"stats", "extra"}, `gormstore: stats: unexpected argument "extra": gormstore stats takes flags only (the database goes in --dsn)`, "Usage: gormstore stats"},
		{"bad duration", []string{"sweep", "--every", "soon"}, `gormstore: sweep: --every "soon" is not a duration (such as 500ms, 30s, 5m or 1h30m)`, "Usage: gormstore sweep"},
		{"bad number", []string{"bench", "--concurrency=many"}, `gormstore: bench: --concurrency "many" is not a whole number`, "Usage: gormstore bench"},
		{"bad boolean", []string{"stats", "--json=maybe"}, `gormstore: stats: --json "maybe" is not true or false`, "Usage: gormstore stats"},
		{"missing value", []string{"sweep", "--every"}, "gormstore: sweep: --every needs a value: a duration", "Usage: gormstore sweep"},
		{"flag given again", []string{"sweep", "--every", "1s", "--every=-2s"}, "gormstore: sweep: --every -2s is negative", "Usage: gormstore sweep"},
		{"bad syntax", []string{"stats", "---json"}, `gormstore: stats: bad flag syntax ---json`, "Usage: gormstore stats"},
		{"negative interval", []string{"sweep", "--every", "-1s"}, "--every -1s is negative", "Usage: gormstore sweep"},
		{"zero batch", []string{"sweep", "--batch-size", "0"}, "--batch-size 0 is not positive", "Usage: gormstore sweep"},
		{"zero duration", []string{"bench", "--duration", "0s"}, "--duration 0s is not positive", "Usage: gormstore bench"},
		{"zero concurrency", []string{"bench", "--concurrency", "0"}, "--concurrency 0 is not between 1 and 1024", "Usage: gormstore bench"},
		{"bad progress", []string{"bench", "--progress", "maybe"}, `--progress "maybe" is not auto, always or never`, "Usage: gormstore bench"},
		{"help on nothing", []string{"help", "frobnicate"}, `gormstore: no help on "frobnicate"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := newInvocation(t)
			r := inv.run(t, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("want exit 2, %q on stderr and nothing on stdout; %s", tt.want, r)
			}
			if tt.usage != "" && !strings.Contains(r.stderr, "\n"+tt.usage) {
				t.Errorf("stderr lacks the usage line %q:\n%s", tt.usage, r.stderr)
			}
			if strings.Contains(r.stderr, "flag provided but not defined") || strings.Contains(r.stderr, "invalid value") {
				t.Errorf("the flag package's words, not the command's:\n%s", r.stderr)
			}
			if len(tt.args) > 0 && !strings.Contains(r.stderr, "--help") {
				t.Errorf("stderr does not point to --help:\n%s", r.stderr)
			}
			noDatabaseFile(t, inv)
		})
	}
}

// TestDSNBeforeTheCommand: --dsn may come before the command, as a
// global flag, and names the database as it does after it.
func TestDSNBeforeTheCommand(t *testing.T) {
	t.Parallel()
	inv := newInvocation(t)
	path := filepath.Join(t.TempDir(), "before.db")
	r := inv.mustRun(t, "--dsn", path, "migrate")
	if !strings.Contains(r.stdout, "schema up to date in sqlite "+path) {
		t.Fatalf("migrate did not use the --dsn before it; %s", r)
	}
	r = inv.mustRun(t, "--dsn="+path, "stats", "--json")
	if !strings.Contains(r.stdout, `"database": "`+path+`"`) {
		t.Fatalf("stats did not use the --dsn= before it; %s", r)
	}
	// One after the command overrides it, as a later flag does.
	r = inv.run(t, "--dsn", path, "stats", "--dsn", "nosuch.db")
	if r.code != 1 || !strings.Contains(r.stderr, "database file nosuch.db does not exist") {
		t.Fatalf("the --dsn after the command does not win; %s", r)
	}
	noDatabaseFile(t, inv)
}

// TestSuggest: the flag a mistyped one was meant to be.
func TestSuggest(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("sweep", "", "")
	fs.Duration("every", 0, "")
	fs.Int("batch-size", 0, "")
	fs.Duration("stop-timeout", 0, "")
	tests := []struct{ in, want string }{
		{"evry", "; did you mean --every?"},
		{"every2", "; did you mean --every?"},
		{"batchsize", "; did you mean --batch-size?"},
		{"batch", "; did you mean --batch-size?"},
		{"stop", "; did you mean --stop-timeout?"},
		{"dns", "; did you mean --dsn?"},
		{"frobnicate", " (gormstore sweep --help lists the flags)"},
	}
	for _, tt := range tests {
		if got := fs.suggest(tt.in); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
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
		{"other database", []string{"bench", "--dsn", "redis://u:s3cret@localhost/0"}, nil, 2, `unsupported database "redis"`},
		{"MySQL without a database", []string{"stats", "--dsn", "root:s3cret@tcp(127.0.0.1:3306)/"}, nil, 2, "MySQL DSN root:xxxxx@tcp(127.0.0.1:3306)/ names no database"},
		{"malformed MySQL DSN", []string{"sweep", "--dsn", "root:s3cret@tcp(127.0.0.1:3306/test"}, nil, 2, "invalid MySQL DSN root:xxxxx@tcp(127.0.0.1:3306/test"},
		{"no such MySQL database", []string{"stats", "--dsn", mysqlDatabase(t, "gormstore_no_such_db")}, nil, 1, "Unknown database 'gormstore_no_such_db'"},
		{"ambiguous '='", []string{"migrate", "--dsn", "x.db?cache=shared"}, nil, 2, "ambiguous DSN x.db?cache=shared"},
		{"ambiguous host:port", []string{"migrate", "--dsn", "localhost:5432/test"}, nil, 2, "ambiguous DSN localhost:5432/test"},
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
	all := []string{"migrate", "sweep", "stats", "bench"}
	servers := []struct {
		name, dsn, want string
		commands        []string
	}{
		{"PostgreSQL", "postgres://postgres@127.0.0.1:1/test?sslmode=disable", "cannot connect to postgres://postgres@127.0.0.1:1/test", all},
		{"PostgreSQL keyword/value", "host=127.0.0.1 port=1 user=postgres dbname=test", "cannot connect to postgres host=127.0.0.1 port=1 user=postgres dbname=test", all[:1]},
		{"MySQL", "root@tcp(127.0.0.1:1)/test?parseTime=true", "cannot connect to mysql root@tcp(127.0.0.1:1)/test?parseTime=true", all},
		{"MySQL URL", "mysql://root@127.0.0.1:1/test", "cannot connect to mysql://root@127.0.0.1:1/test", all[2:3]},
	}
	for _, s := range servers {
		for _, cmd := range s.commands {
			t.Run(s.name+"/"+cmd, func(t *testing.T) {
				t.Parallel()
				inv := newInvocation(t)
				r := inv.run(t, cmd, "--dsn", s.dsn)
				if r.code != 1 || !strings.Contains(r.stderr, "gormstore: "+cmd+": "+s.want) {
					t.Fatalf("want exit 1 and %q; %s", s.want, r)
				}
				if r.elapsed > 10*time.Second {
					t.Errorf("took %v to fail", r.elapsed)
				}
				noFiles(t, inv)
			})
		}
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

// mysqlDatabase is the MariaDB test server's DSN with another database.
func mysqlDatabase(t *testing.T, name string) string {
	t.Helper()
	return testdb.MySQLConfig(t, name).FormatDSN()
}

// noFiles fails t if the run left any file in its working directory.
func noFiles(t *testing.T, inv invocation) {
	t.Helper()
	entries, err := os.ReadDir(inv.dir)
	if err != nil || len(entries) > 0 {
		t.Errorf("files left in the working directory: %v %v", entries, err)
	}
}

// noDatabaseFile fails t if the run left the default database in its
// working directory: a usage error or an answered --help does no work.
func noDatabaseFile(t *testing.T, inv invocation) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(inv.dir, defaultSQLiteFile)); err == nil {
		t.Errorf("%s was created in the working directory", defaultSQLiteFile)
	}
}
