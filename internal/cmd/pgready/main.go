// Command pgready waits until a PostgreSQL server accepts connections and,
// with -create, creates the database named in the URL if it does not exist.
//
// It exists so that scripts/test.sh can check and prepare the test database
// with nothing but the Go toolchain: a fresh machine may have no psql client,
// while the pgx driver is already a dependency of this module.
//
// Usage:
//
//	go run ./internal/cmd/pgready [-wait 30s] [-create] URL
//
// It exits 0 once the database answers, and 1 with a message on stderr if it
// still does not after -wait, or at once if the server refuses the login or
// (without -create) reports that the database does not exist. It exits 2 if
// the arguments or the URL are malformed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	wait := flag.Duration("wait", 30*time.Second, "keep retrying for this long")
	create := flag.Bool("create", false, "create the URL's database if the server says it does not exist")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: pgready [-wait 30s] [-create] URL")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	cfg, err := pgx.ParseConfig(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgready:", err)
		os.Exit(2)
	}
	if err := waitReady(cfg, *wait, *create); err != nil {
		fmt.Fprintln(os.Stderr, "pgready:", err)
		os.Exit(1)
	}
}

// waitReady pings cfg until it answers or wait has elapsed.
func waitReady(cfg *pgx.ConnConfig, wait time.Duration, create bool) error {
	where := fmt.Sprintf("database %q at %s:%d", cfg.Database, cfg.Host, cfg.Port)
	deadline := time.Now().Add(wait)
	created := false
	for {
		err := ping(cfg, deadline)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			switch {
			case pgErr.Code == "3D000" && create && !created: // invalid_catalog_name
				if err := createDatabase(cfg, deadline); err != nil {
					return fmt.Errorf("creating %s: %w", where, err)
				}
				fmt.Fprintf(os.Stderr, "pgready: created %s\n", where)
				created = true
				continue
			case pgErr.Code == "3D000", strings.HasPrefix(pgErr.Code, "28"):
				// Missing database or refused login: retrying will not help.
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not reachable within %v: %w", where, wait, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// attemptContext bounds one connection attempt: at least 2s so that -wait 0
// still tries once, at most 10s so that a silent host is retried.
func attemptContext(deadline time.Time) (context.Context, context.CancelFunc) {
	d := min(max(time.Until(deadline), 2*time.Second), 10*time.Second)
	return context.WithTimeout(context.Background(), d)
}

func ping(cfg *pgx.ConnConfig, deadline time.Time) error {
	ctx, cancel := attemptContext(deadline)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// createDatabase runs CREATE DATABASE for cfg's database through the server's
// "postgres" maintenance database.
func createDatabase(cfg *pgx.ConnConfig, deadline time.Time) error {
	ctx, cancel := attemptContext(deadline)
	defer cancel()
	maint := cfg.Copy()
	maint.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, maint)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created concurrently
		return nil
	}
	return err
}
