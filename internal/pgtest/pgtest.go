// Package pgtest starts a throwaway PostgreSQL server for one test: its own
// data directory made by initdb, its own port, started and stopped with
// pg_ctl. A test can stop, crash, freeze and restart it without touching
// the shared server at TEST_DATABASE_URL, which other tests use meanwhile.
//
// Standby makes a hot standby of a Server (pg_basebackup -R), streaming
// from it, optionally applying each commit only after a delay, so that a
// test has a replica that certainly lags; Promote turns it into a primary.
//
// It needs the PostgreSQL server binaries (initdb, pg_ctl, postgres and,
// for a standby, pg_basebackup): from
// PG_BINDIR if set, else the newest /usr/lib/postgresql/*/bin, else PATH.
// Run as root, it runs them as the postgres system user through runuser,
// since PostgreSQL refuses to run as root. Without them Start fails the
// test with a message saying what is missing: the README's test command
// guarantees the binaries, so their absence is a broken setup, not a
// reason to skip.
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a throwaway PostgreSQL server. Its methods fail the test they
// are given on error.
type Server struct {
	bindir string
	dir    string // owned by the server's user: data/, server.log, sockets
	port   int
	// run prefixes every server command: runuser -u postgres -- when root.
	run []string
	// uid and gid own dir when run is not empty.
	uid, gid int
	// settings are passed as -c name=value on every start.
	settings []string
}

// Start initialises a server in a new temporary directory and starts it
// on a free port of 127.0.0.1 with trust authentication. The server is
// stopped and its directory removed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	s.cmd(t, 2*time.Minute, "initdb", "-D", s.dataDir(), "--auth=trust", "--username=postgres",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	s.start(t)
	return s
}

// newServer makes the directory of a server that is not yet initialised,
// removed (and the server stopped) when t ends.
func newServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{bindir: findBindir(t)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root, and PostgreSQL refuses to run as root, but there is no postgres system user to run it as (%v); "+
				"create one (useradd --system postgres) or run the tests as another user", err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Fatalf("pgtest: running as root needs runuser (util-linux) to start PostgreSQL as the postgres user: %v", err)
		}
		s.uid, _ = strconv.Atoi(u.Uid)
		s.gid, _ = strconv.Atoi(u.Gid)
		s.run = []string{"runuser", "-u", "postgres", "--"}
	}
	// Not t.TempDir: its parent is private to the test's user, and the
	// server's user must reach the directory.
	dir, err := os.MkdirTemp("", "gormstore-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s.dir = dir
	t.Cleanup(func() { s.cleanup(t) })
	if s.run != nil {
		if err := os.Chown(dir, s.uid, s.gid); err != nil {
			t.Fatalf("pgtest: chown %s to the postgres user: %v", dir, err)
		}
	}
	return s
}

// start starts the initialised server on a free port.
func (s *Server) start(t testing.TB) {
	t.Helper()
	// A free port may be taken between probing and binding it: try again.
	for attempt := 1; ; attempt++ {
		s.port = freePort(t)
		err := s.tryStart()
		if err == nil {
			return
		}
		if attempt == 5 || !strings.Contains(s.Log(), "could not bind") {
			t.Fatalf("pgtest: start the server: %v\nserver log:\n%s", err, s.Log())
		}
	}
}

// StandbyOptions configure a hot standby made by Server.Standby.
type StandbyOptions struct {
	// Name is the standby's cluster_name, which its WAL receiver reports to
	// the primary as application_name: it names the standby in the
	// primary's pg_stat_replication and synchronous_standby_names.
	// Default (empty): "standby".
	Name string
	// ApplyDelay is recovery_min_apply_delay: the standby receives and
	// flushes each commit at once but makes it visible to its readers only
	// this long after the primary committed it, so a test can count on
	// the replica lagging. A promotion applies what was received without
	// waiting. Default (0): no delay.
	ApplyDelay time.Duration
}

// Standby makes a hot standby of s and starts it: pg_basebackup -R (which
// writes primary_conninfo and standby.signal) over the replication
// connection that initdb's pg_hba.conf trusts on 127.0.0.1, into a new
// temporary directory, then started on a port of its own. It streams from
// s and answers read-only queries. It is stopped and its directory
// removed when t ends.
func (s *Server) Standby(t testing.TB, opts StandbyOptions) *Server {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "standby"
	}
	sb := newServer(t)
	sb.cmd(t, 2*time.Minute, "pg_basebackup", "-D", sb.dataDir(), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync")
	sb.settings = []string{"hot_standby=on", "cluster_name=" + opts.Name,
		fmt.Sprintf("recovery_min_apply_delay=%dms", opts.ApplyDelay.Milliseconds())}
	sb.start(t)
	return sb
}

// Promote ends the standby's recovery and makes it a primary that
// accepts writes (pg_ctl promote), waiting until it does.
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	s.cmd(t, time.Minute, "pg_ctl", "-D", s.dataDir(), "-w", "-t", "60", "promote")
}

// findBindir returns the directory holding initdb, pg_ctl and postgres.
func findBindir(t testing.TB) string {
	t.Helper()
	has := func(dir string) bool {
		for _, bin := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, bin)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		if !has(dir) {
			t.Fatalf("pgtest: PG_BINDIR=%s does not hold initdb, pg_ctl and postgres", dir)
		}
		return dir
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorVersion(b) - majorVersion(a) })
	for _, dir := range dirs {
		if has(dir) {
			return dir
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	t.Fatalf("pgtest: no PostgreSQL server binaries (initdb, pg_ctl, postgres) in PG_BINDIR, /usr/lib/postgresql/*/bin or PATH; " +
		"install the PostgreSQL server (bash scripts/test.sh does) or set PG_BINDIR")
	return ""
}

// majorVersion reads 15 from /usr/lib/postgresql/15/bin.
func majorVersion(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.dir, "server.log") }

// Port is the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// URL returns the URL of database (postgres if empty) as the superuser
// postgres, with params added to its query.
func (s *Server) URL(database string, params url.Values) string {
	if database == "" {
		database = "postgres"
	}
	q := url.Values{"sslmode": {"disable"}}
	for k, v := range params {
		q[k] = v
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// Log returns the server's log so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logFile())
	return string(b)
}

func (s *Server) tryStart() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c max_connections=60", s.port, s.dir)
	for _, setting := range s.settings {
		opts += " -c " + setting
	}
	_, err := s.output(time.Minute, "pg_ctl", "-D", s.dataDir(), "-l", s.logFile(), "-w", "-t", "60", "-o", opts, "start")
	return err
}

// Restart starts the server again, on the same port and data, after Stop
// or Crash.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.tryStart(); err != nil {
		t.Fatalf("pgtest: restart: %v\nserver log:\n%s", err, s.Log())
	}
}

// Stop shuts the server down cleanly ("fast" mode: sessions are
// terminated, open transactions rolled back, a checkpoint written).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.cmd(t, time.Minute, "pg_ctl", "-D", s.dataDir(), "-m", "fast", "-w", "-t", "60", "stop")
}

// Crash stops the server the way a crash would ("immediate" mode: every
// process is killed at once, no checkpoint; the next start replays the
// write-ahead log).
func (s *Server) Crash(t testing.TB) {
	t.Helper()
	s.cmd(t, time.Minute, "pg_ctl", "-D", s.dataDir(), "-m", "immediate", "-w", "-t", "60", "stop")
}

// Freeze stops every process of the server with SIGSTOP: connections stay
// open and new ones are accepted by the kernel, but nothing answers, as
// with a hung host or a network partition. Thaw resumes them.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	// The postmaster first, so that it forks no backend the scan misses.
	postmaster := s.postmaster(t)
	signal(t, syscall.SIGSTOP, postmaster)
	signal(t, syscall.SIGSTOP, s.children(t, postmaster)...)
}

// Thaw resumes the processes Freeze stopped.
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	postmaster := s.postmaster(t)
	signal(t, syscall.SIGCONT, s.children(t, postmaster)...)
	signal(t, syscall.SIGCONT, postmaster)
}

func signal(t testing.TB, sig syscall.Signal, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("pgtest: %v to %d: %v", sig, pid, err)
		}
	}
}

// postmaster returns the postmaster's pid, from postmaster.pid.
func (s *Server) postmaster(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatalf("pgtest: server not running? %v", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("pgtest: postmaster.pid: %v", err)
	}
	return pid
}

// children returns the pids of the postmaster's children, read from /proc.
func (s *Server) children(t testing.TB, postmaster int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Fatalf("pgtest: cannot list processes in /proc (Linux only): %v", err)
	}
	var pids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the process has exited
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == postmaster {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// cmd runs a server binary as the server's user and fails t on error.
func (s *Server) cmd(t testing.TB, timeout time.Duration, bin string, args ...string) {
	t.Helper()
	if out, err := s.output(timeout, bin, args...); err != nil {
		t.Fatalf("pgtest: %s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
}

func (s *Server) output(timeout time.Duration, bin string, args ...string) (string, error) {
	argv := append(slices.Clone(s.run), append([]string{filepath.Join(s.bindir, bin)}, args...)...)
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = s.dir
	c.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(timeout):
		_ = c.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("timed out after %v", timeout)
	}
}

// cleanup thaws, kills and removes the server, whatever state the test
// left it in.
func (s *Server) cleanup(t testing.TB) {
	if _, err := s.output(time.Minute, "pg_ctl", "-D", s.dataDir(), "status"); err == nil {
		s.Thaw(t)
		if out, err := s.output(time.Minute, "pg_ctl", "-D", s.dataDir(), "-m", "immediate", "-w", "stop"); err != nil {
			t.Errorf("pgtest: stop the server in cleanup: %v\n%s", err, out)
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		t.Errorf("pgtest: remove %s: %v", s.dir, err)
	}
}
