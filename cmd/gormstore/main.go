// Command gormstore is the operator command of github.com/attesto/gormstore:
// it creates the stores' tables, sweeps their expired rows, reports on
// them, and puts the stores under a realistic load.
//
// Usage:
//
//	gormstore migrate [--print]
//	gormstore sweep [--every 1m]
//	gormstore stats [--json]
//	gormstore bench [--duration 10s] [--concurrency 8] [--json]
//
// The database is --dsn, else $DATABASE_URL, else the SQLite file
// gormstore.db in the working directory: a postgres:// or postgresql://
// URL is PostgreSQL, anything else a SQLite file. With no set-up at all,
// `go run ./cmd/gormstore bench` creates that file and its tables and runs.
//
// Exit status: 0 on success, 1 when the work failed (the database could
// not be reached, tables are missing, a statement failed), 2 on a usage
// error (an unknown command or flag, a bad flag value, a malformed DSN).
// `gormstore <command> --help` lists a command's flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usageError is a mistake in the command line: exit status 2, and a
// pointer to --help instead of a stack of database errors.
type usageError struct{ msg string }

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
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, signals: sigs}
	os.Exit(c.main(context.Background(), os.Args[1:]))
}

// main runs the command line args and returns the exit status.
func (c *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		c.printUsage(c.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(rest) > 0 && name == "help" {
			// gormstore help sweep: the command's own --help.
			return c.main(ctx, []string{rest[0], "--help"})
		}
		c.printUsage(c.stdout)
		return exitOK
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
			fmt.Fprintf(c.stderr, "gormstore: %s: %v\nRun 'gormstore %s --help' for usage.\n", name, err, name)
			return exitUsage
		case errors.Is(err, errReported):
			return exitFail
		default:
			fmt.Fprintf(c.stderr, "gormstore: %s: %v\n", name, err)
			return exitFail
		}
	}
	if strings.HasPrefix(name, "-") {
		fmt.Fprintf(c.stderr, "gormstore: flag %s before the command: flags go after it (gormstore <command> [flags])\nRun 'gormstore --help' for usage.\n", name)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "gormstore: unknown command %q\nRun 'gormstore --help' for usage.\n", name)
	return exitUsage
}

func (c *cli) printUsage(w io.Writer) {
	fmt.Fprint(w, `gormstore is the operator command of github.com/attesto/gormstore.

Usage:
  gormstore <command> [flags]

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-8s  %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
`+dsnHelp+`
`+exitHelp+`
Run 'gormstore <command> --help' for a command's flags.
`)
}

// dsnHelp and exitHelp end every usage text.
const (
	dsnHelp = `The database is --dsn, else $DATABASE_URL, else the SQLite file gormstore.db
in the working directory:
  postgres://user:password@host:5432/db?sslmode=disable   PostgreSQL
  path/to/file.db, file:path/to/file.db?..., sqlite:path  SQLite
SQLite files get _pragma=busy_timeout(10000) and _pragma=journal_mode(WAL)
unless the DSN sets them; PostgreSQL gets connect_timeout=5 unless it is set.
`
	exitHelp = `Exit status: 0 success; 1 failure (database unreachable, tables missing, a
statement failed); 2 usage error (unknown command or flag, bad value, bad DSN).
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
