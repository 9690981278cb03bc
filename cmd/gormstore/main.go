// Command gormstore is the operator command of github.com/attesto/gormstore:
// it creates the stores' tables, sweeps their expired rows, reports on
// them, and puts the stores under a realistic load.
//
// Usage:
//
//	gormstore [--dsn DSN] migrate [--print]
//	gormstore [--dsn DSN] sweep [--every 1m]
//	gormstore [--dsn DSN] stats [--json]
//	gormstore [--dsn DSN] bench [--duration 10s] [--concurrency 8] [--json]
//	gormstore --version
//
// The database is --dsn (before or after the command), else $DATABASE_URL,
// else the SQLite file gormstore.db in the working directory. Each form is
// read by its driver's own parser: a postgres:// or postgresql:// URL, or a
// keyword/value DSN with a libpq connection keyword (host=... user=...
// dbname=...), is PostgreSQL (pgx); a go-sql-driver DSN
// (user:password@tcp(host:3306)/db?parseTime=True), or mysql:// before one
// or before a URL's host, is MySQL or MariaDB; a path, a file: URI or
// sqlite:path is a SQLite file. A plain path that reads like a DSN (an '=',
// an '@', a "host:" before its first slash) is refused as ambiguous. With
// no set-up at all, `go run ./cmd/gormstore bench` creates gormstore.db and
// its tables and runs.
//
// Passwords never reach the output: every DSN is shown masked, and what a
// driver's error might quote is masked on the way out.
//
// Exit status: 0 on success, 1 when the work failed (the database could
// not be reached, tables are missing, a statement failed), 2 on a usage
// error (an unknown command or flag, a bad flag value, a malformed or
// ambiguous DSN), told in the command's words with its usage line.
// `gormstore <command> --help` lists a command's flags, and
// `gormstore help dsn` the DSN forms.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	mysqldriver "github.com/go-sql-driver/mysql"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usageError is a mistake in the command line: exit status 2, the
// command's usage line and a pointer to its help, instead of a stack of
// database errors.
type usageError struct {
	msg string
	// usage is the command's usage line, when the mistake is in its flags.
	usage string
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errReported is returned by a command that has already told the user
// what went wrong (the bench's failed operations): exit 1, nothing more.
var errReported = errors.New("reported")

// cli is what a command may touch of the process, so that the tests can
// run commands without one.
type cli struct {
	stdout, stderr io.Writer
	// stderrTerminal is whether stderr is a terminal, for the bench's
	// progress line: stderr itself is wrapped (newMaskingWriter).
	stderrTerminal bool
	getenv         func(string) string
	// signals delivers SIGINT and SIGTERM. Each command decides what a
	// signal means: a one-shot command cancels its work, the sweeper loop
	// and the bench wind down between statements.
	signals <-chan os.Signal
}

// command is a subcommand: its name, its one-line summary for the top
// usage, and what runs it with the arguments after its name.
type command struct {
	name, summary string
	run           func(c *cli, ctx context.Context, args []string) error
}

var commands = []command{
	{"migrate", "create the stores' tables and indexes, or --print their SQL", (*cli).migrate},
	{"sweep", "delete expired rows once, or --every interval until interrupted", (*cli).sweep},
	{"stats", "live and expired rows, oldest expiry, table and index size per table", (*cli).stats},
	{"bench", "a mixed PAR and CIMD workload with the sweeper running: throughput and latency", (*cli).bench},
	{"version", "the command's version, as --version prints it", (*cli).version},
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, stderrTerminal: isTerminal(os.Stderr), getenv: os.Getenv, signals: sigs}
	os.Exit(c.main(context.Background(), os.Args[1:]))
}

// main runs the command line args and returns the exit status.
func (c *cli) main(ctx context.Context, args []string) int {
	// Every message the command writes names the database by its masked
	// DSN. Whatever a driver's error might quote besides is masked on the
	// way out: the passwords of every argument and of $DATABASE_URL.
	var secrets []string
	for _, arg := range append(slices.Clone(args), c.getenv("DATABASE_URL")) {
		secrets = append(secrets, secretsIn(arg)...)
	}
	c.stdout = newMaskingWriter(c.stdout, secrets)
	c.stderr = newMaskingWriter(c.stderr, secrets)
	// The MySQL driver logs what it cannot return (a connection lost
	// mid-packet) to its own logger, on the process's stderr by default.
	_ = mysqldriver.SetLogger(log.New(c.stderr, "gormstore: mysql driver: ", 0))

	args, err := c.globalFlags(args)
	switch {
	case errors.Is(err, errHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(c.stderr, "gormstore: %v\nRun 'gormstore --help' for usage.\n", err)
		return exitUsage
	case len(args) == 0:
		fmt.Fprint(c.stderr, "gormstore: no command\n\n")
		c.printUsage(c.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	if name == "help" {
		return c.help(ctx, rest)
	}
	for _, cmd := range commands {
		if cmd.name != name {
			continue
		}
		err := cmd.run(c, ctx, rest)
		var usage *usageError
		switch {
		case err == nil, errors.Is(err, errHelp):
			return exitOK
		case errors.As(err, &usage):
			fmt.Fprintf(c.stderr, "gormstore: %s: %v\n", name, err)
			if usage.usage != "" {
				fmt.Fprintf(c.stderr, "Usage: %s\n", usage.usage)
			}
			fmt.Fprintf(c.stderr, "Run 'gormstore %s --help' for more.\n", name)
			return exitUsage
		case errors.Is(err, errReported):
			return exitFail
		default:
			fmt.Fprintf(c.stderr, "gormstore: %s: %v\n", name, err)
			return exitFail
		}
	}
	fmt.Fprintf(c.stderr, "gormstore: unknown command %s\nRun 'gormstore --help' for usage.\n", quoteValue(name))
	return exitUsage
}

// globalFlags reads the flags before the command: --help, --version, and
// --dsn, which is handed to the command as its first flag. It returns
// the command and its arguments.
func (c *cli) globalFlags(args []string) ([]string, error) {
	var dsn []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		arg := args[0]
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		switch name {
		case "h", "help":
			c.printUsage(c.stdout)
			return nil, errHelp
		case "v", "version":
			c.printVersion()
			return nil, errHelp
		case "dsn":
			if !hasValue {
				if len(args) < 2 {
					return nil, usagef("--dsn needs a value: the database's DSN")
				}
				value, args = args[1], args[1:]
			}
			dsn = []string{"--dsn", value}
			args = args[1:]
		default:
			return nil, usagef("flag %s before the command: only --dsn, --help and --version go there (gormstore <command> [flags])", quoteValue(arg))
		}
	}
	if dsn == nil || len(args) == 0 || args[0] == "version" || args[0] == "help" {
		// Neither touches a database: an alias that always passes --dsn
		// still gets them.
		return args, nil
	}
	// After the command's name: a flag of the command, so that help,
	// version and an unknown command are told as they would be, and a
	// --dsn after the command overrides it as a later flag does.
	return append([]string{args[0]}, append(dsn, args[1:]...)...), nil
}

// help answers `gormstore help [command | dsn]`.
func (c *cli) help(ctx context.Context, args []string) int {
	switch {
	case len(args) == 0:
		c.printUsage(c.stdout)
		return exitOK
	case len(args) > 1:
		fmt.Fprintf(c.stderr, "gormstore: help takes one topic: a command or dsn\nRun 'gormstore --help' for usage.\n")
		return exitUsage
	case args[0] == "dsn":
		fmt.Fprint(c.stdout, dsnHelp)
		return exitOK
	case args[0] == "help":
		c.printUsage(c.stdout)
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name == args[0] {
			// The command's own --help, which does nothing else.
			_ = cmd.run(c, ctx, []string{"--help"})
			return exitOK
		}
	}
	fmt.Fprintf(c.stderr, "gormstore: no help on %s: the topics are the commands and dsn\nRun 'gormstore --help' for usage.\n", quoteValue(args[0]))
	return exitUsage
}

func (c *cli) printUsage(w io.Writer) {
	fmt.Fprint(w, `gormstore is the operator command of github.com/attesto/gormstore.

Usage:
  gormstore [--dsn DSN] <command> [flags]
  gormstore --version

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-8s  %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
The database is --dsn, else $DATABASE_URL, else the SQLite file gormstore.db
in the working directory: a PostgreSQL URL or keyword/value DSN, a MySQL or
MariaDB DSN, or a SQLite file. Run 'gormstore help dsn' for the forms.

`+exitHelp+`
Run 'gormstore <command> --help' for a command's flags.
`)
}

// dsnHelp is `gormstore help dsn`.
const dsnHelp = `The database is --dsn, else $DATABASE_URL, else the SQLite file gormstore.db in
the working directory. Each form is read by its driver's own parser:

PostgreSQL (pgx)
  postgres://user:password@host:5432/db?sslmode=disable    (or postgresql://)
  host=host user=user password=password dbname=db port=5432 sslmode=disable
MySQL and MariaDB (go-sql-driver/mysql)
  user:password@tcp(host:3306)/db?charset=utf8mb4&parseTime=True&loc=Local
  mysql://user:password@tcp(host:3306)/db, mysql://user:password@host:3306/db
SQLite
  path/to/file.db, file:path/to/file.db?..., sqlite:path/to/file.db

A keyword/value DSN needs one of libpq's connection keywords (host, dbname,
user, ...). A plain path may not hold an '=' or an '@', or a "name:" before
its first slash: those read as a DSN, and are refused as ambiguous; write
sqlite:path for such a file. A URL's password is percent-encoded where it
holds '/', '?', '#' or '@'.

Defaults the DSN can override: PostgreSQL gets connect_timeout=5, MySQL
timeout=5s, and SQLite files _pragma=busy_timeout(10000) and
_pragma=journal_mode(WAL). Messages show every DSN with its password masked.
`

// exitHelp ends the top usage; commandFooter ends each command's.
const (
	exitHelp = `Exit status: 0 success; 1 failure (database unreachable, tables missing, a
statement failed); 2 usage error (unknown command or flag, bad value, bad DSN).
`
	commandFooter = `DSN forms: 'gormstore help dsn'. Exit status: 0 success, 1 failure, 2 usage error.
`
)

// interruptible returns ctx, canceled at the first signal: a one-shot
// command stops where it is. The returned func, which may be called more
// than once, releases the watcher.
func (c *cli) interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-c.signals:
			cancel(fmt.Errorf("interrupted by %v", s))
		case <-done:
		}
	}()
	return ctx, sync.OnceFunc(func() {
		close(done)
		cancel(nil)
	})
}
