package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// binary is the command under test, built once by TestMain: the tests run
// it as an operator would, in a process of its own.
var binary string

// TestMain builds the binary (with the race detector when the tests have
// it), runs the tests, and then does what testdb.Main does: closes the
// shared admin pool and fails the run on a leaked goroutine. It is not
// testdb.Main itself, which exits before the binary could be removed.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gormstore-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "gormstore")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	testdb.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}

// runTimeout bounds every run of the binary: a hung command fails its
// test instead of the whole run's timeout.
const runTimeout = 2 * time.Minute

// result is one finished run of the binary.
type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout:\n%s\nstderr:\n%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// invocation is how a test runs the binary: in its own working directory
// (where the default gormstore.db would land), with DATABASE_URL unset
// unless env sets it.
type invocation struct {
	dir string
	env []string
}

func newInvocation(t *testing.T, env ...string) invocation {
	return invocation{dir: t.TempDir(), env: env}
}

func (inv invocation) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = inv.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, inv.env...)
	return cmd
}

// run runs the binary to its end.
func (inv invocation) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := inv.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{code: exitCode(t, err), stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("gormstore %s: still running after %v\n%s", strings.Join(args, " "), runTimeout, r)
	}
	return r
}

// mustRun runs the binary and fails t unless it exits 0.
func (inv invocation) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := inv.run(t, args...)
	if r.code != 0 {
		t.Fatalf("gormstore %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("run %s: %v", binary, err)
	return -1
}

// started is a run of the binary in the background, for the tests that
// signal it.
type started struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr testdb.Buffer
	done           chan struct{}
	err            error
}

func (inv invocation) start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	s := &started{cancel: cancel, done: make(chan struct{})}
	s.cmd = inv.command(ctx, args...)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", binary, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// waitOutput waits until the run's stdout (or stderr, when onStderr)
// holds want, and fails t if it does not within d or the run ends first.
func (s *started) waitOutput(t *testing.T, want string, onStderr bool, d time.Duration) {
	t.Helper()
	buf := &s.stdout
	if onStderr {
		buf = &s.stderr
	}
	deadline := time.Now().Add(d)
	for !strings.Contains(buf.String(), want) {
		select {
		case <-s.done:
			t.Fatalf("exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", s.err, want, s.stdout.String(), s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %v\nstdout:\n%s\nstderr:\n%s", want, d, s.stdout.String(), s.stderr.String())
		}
	}
}

// signal sends sig and waits, at most d, for the run to end.
func (s *started) signal(t *testing.T, sig syscall.Signal, d time.Duration) result {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	return s.wait(t, d)
}

// wait waits, at most d, for the run to end.
func (s *started) wait(t *testing.T, d time.Duration) result {
	t.Helper()
	from := time.Now()
	select {
	case <-s.done:
	case <-time.After(d):
		t.Fatalf("still running after %v\nstdout:\n%s\nstderr:\n%s", d, s.stdout.String(), s.stderr.String())
	}
	return result{code: exitCode(t, s.err), stdout: s.stdout.String(), stderr: s.stderr.String(), elapsed: time.Since(from)}
}

// backend is a database the binary runs against: the DSN it gets, and a
// pool on the same database for the test to arrange and check rows. The
// stores' tables are not there until the test runs migrate.
type backend struct {
	name string
	new  func(t *testing.T) (dsn string, db *gorm.DB)
}

var backends = []backend{
	{"SQLite", func(t *testing.T) (string, *gorm.DB) {
		// A plain path, the form an operator types; the file exists,
		// empty, from the test's pool.
		path := filepath.Join(t.TempDir(), "store.db")
		return path, testdb.OpenSQLite(t, path)
	}},
	{"PostgreSQL", func(t *testing.T) (string, *gorm.DB) {
		schema := testdb.Schema(t)
		return postgresDSN(t, schema), testdb.Open(t, schema, 4)
	}},
	{"MariaDB", func(t *testing.T) (string, *gorm.DB) {
		// A database of its own, and the DSN as GORM's documentation
		// writes it: user@tcp(host:port)/db?charset=...&parseTime=...
		name := testdb.MySQLDatabase(t)
		return testdb.MySQLConfig(t, name).FormatDSN(), testdb.OpenMySQL(t, name, 4)
	}},
}

// kindOf is the database dsn names, as the command reads it.
func kindOf(t *testing.T, dsn string) dialect.Kind {
	t.Helper()
	tg, err := parseDSN(dsn)
	if err != nil {
		t.Fatalf("parseDSN(%q): %v", dsn, err)
	}
	return tg.kind
}

// postgresDSN is the test server's URL with schema as the search_path.
func postgresDSN(t *testing.T, schema string) string {
	t.Helper()
	u, err := url.Parse(testdb.URL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// forEachBackend runs test as a parallel subtest per backend.
func forEachBackend(t *testing.T, test func(t *testing.T, dsn string, db *gorm.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn, db := b.new(t)
			test(t, dsn, db)
		})
	}
}

// rowCounts are rows to seed, per table and state.
type rowCounts struct {
	liveCIMD, expiredCIMD, livePAR, expiredPAR, liveReplay, expiredReplay int
}

// seed writes rows through the stores, as a service would: live documents
// and replays expiring in an hour and requests in parTTL, expired ones an
// hour ago and one second apart (every database keeps the microseconds).
// It returns the earliest expiry per table, in tables' order, the zero
// time for a table it left empty.
func seed(t *testing.T, db *gorm.DB, n rowCounts) (oldest [3]time.Time) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	past := &repo.Config{Now: func() time.Time { return now.Add(-2 * time.Hour) }}
	parPast := now.Add(-time.Hour - parTTL)
	err := db.Transaction(func(tx *gorm.DB) error {
		cache, err := repo.NewGormClientIDMetadataCache(tx, nil)
		if err != nil {
			return err
		}
		oldCache, err := repo.NewGormClientIDMetadataCache(tx, past)
		if err != nil {
			return err
		}
		pars, err := repo.NewGormPARStore(tx, nil)
		if err != nil {
			return err
		}
		oldPARs, err := repo.NewGormPARStore(tx, &repo.Config{Now: func() time.Time { return parPast }})
		if err != nil {
			return err
		}
		replays, err := repo.NewGormReplayStore(tx, nil)
		if err != nil {
			return err
		}
		oldReplays, err := repo.NewGormReplayStore(tx, past)
		if err != nil {
			return err
		}
		doc := func(u string) map[string]any { return map[string]any{"client_id": u, "client_name": "Test"} }
		for i := range n.liveCIMD {
			u := fmt.Sprintf("https://live-%d.example/client.json", i)
			if err := cache.Put(ctx, u, doc(u), now.Add(time.Hour)); err != nil {
				return err
			}
		}
		for i := range n.expiredCIMD {
			u := fmt.Sprintf("https://expired-%d.example/client.json", i)
			exp := now.Add(-time.Hour - time.Duration(i)*time.Second)
			if err := oldCache.Put(ctx, u, doc(u), exp); err != nil {
				return err
			}
			oldest[0] = exp
		}
		params := map[string]any{"client_id": "https://app.example/client.json", "response_type": "code"}
		for range n.livePAR {
			if err := pars.Put(ctx, repo.NewRequestURI(), params, parTTL); err != nil {
				return err
			}
		}
		for i := range n.expiredPAR {
			// Pushed an hour and parTTL ago: expired an hour ago, less i
			// seconds.
			ttl := parTTL - time.Duration(i)*time.Second
			if err := oldPARs.Put(ctx, repo.NewRequestURI(), params, ttl); err != nil {
				return err
			}
			oldest[1] = parPast.Add(ttl)
		}
		for i := range n.liveReplay {
			if _, err := replays.CheckAndRecord(ctx, fmt.Sprintf("live-%d", i), now.Add(time.Hour)); err != nil {
				return err
			}
		}
		for i := range n.expiredReplay {
			exp := now.Add(-time.Hour - time.Duration(i)*time.Second)
			if _, err := oldReplays.CheckAndRecord(ctx, fmt.Sprintf("expired-%d", i), exp); err != nil {
				return err
			}
			oldest[2] = exp
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return oldest
}

// tableLine returns the fields of the line of out that starts with name.
func tableLine(t *testing.T, out, name string) []string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	t.Fatalf("no line for %s in:\n%s", name, out)
	return nil
}
