// Command mysqlready waits until a MariaDB or MySQL server accepts
// connections and, with -create, creates the database named in the DSN if
// it does not exist.
//
// It exists so that scripts/test.sh can check and prepare the test database
// with nothing but the Go toolchain, as pgready does for PostgreSQL: the
// go-sql-driver/mysql driver is already a dependency of this module.
//
// Usage:
//
//	go run ./internal/cmd/mysqlready [-wait 30s] [-create] DSN
//
// The DSN is go-sql-driver/mysql's, as GORM's documentation writes it:
// user:pass@tcp(host:3306)/db?charset=utf8mb4&parseTime=True&loc=Local.
//
// It prints the server's version (SELECT VERSION()) on stdout and exits 0
// once the database answers; 1 with a message on stderr if it
// still does not after -wait, or at once if (without -create) the server
// reports that the database does not exist; 2 if the arguments or the DSN
// are malformed; and 3 at once if the server refuses the login, so that the
// script can tell a server that is up but refuses the user from one that is
// not there.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Exit codes besides 0 (ready).
const (
	exitNotReady = 1
	exitUsage    = 2
	exitRefused  = 3
)

// MariaDB/MySQL error numbers mysqlready acts on.
const (
	errDBAccessDenied       = 1044 // ER_DBACCESS_DENIED_ERROR
	errAccessDenied         = 1045 // ER_ACCESS_DENIED_ERROR
	errBadDB                = 1049 // ER_BAD_DB_ERROR: unknown database
	errAccessDeniedNoPasswd = 1698 // ER_ACCESS_DENIED_NO_PASSWORD_ERROR (unix_socket accounts over TCP)
)

// The statements that create the database, run in order on one
// connection: CREATE DATABASE takes no bind parameters, so the server
// quotes the name itself (backticks doubled) and runs the statement it
// built, and no SQL text is spliced here.
const (
	createBuild      = "SET @mysqlready_create = CONCAT('CREATE DATABASE IF NOT EXISTS `', REPLACE(?, '`', '``'), '` CHARACTER SET utf8mb4')"
	createPrepare    = "PREPARE mysqlready_create FROM @mysqlready_create"
	createExecute    = "EXECUTE mysqlready_create"
	createDeallocate = "DEALLOCATE PREPARE mysqlready_create"
)

// refusedError is a login the server refused: retrying will not help.
type refusedError struct{ err error }

func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

func main() {
	wait := flag.Duration("wait", 30*time.Second, "keep retrying for this long")
	create := flag.Bool("create", false, "create the DSN's database if the server says it does not exist")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mysqlready [-wait 30s] [-create] DSN")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(exitUsage)
	}
	cfg, err := mysql.ParseDSN(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mysqlready:", err)
		os.Exit(exitUsage)
	}
	// The driver logs dropped connections itself while a server starts;
	// every error that matters is returned and reported below.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	version, err := waitReady(cfg, *wait, *create)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mysqlready:", err)
		if errors.As(err, new(refusedError)) {
			os.Exit(exitRefused)
		}
		os.Exit(exitNotReady)
	}
	fmt.Println(version)
}

// waitReady queries cfg's server version until it answers or wait has
// elapsed.
func waitReady(cfg *mysql.Config, wait time.Duration, create bool) (string, error) {
	where := fmt.Sprintf("database %q at %s(%s) as %q", cfg.DBName, cfg.Net, cfg.Addr, cfg.User)
	deadline := time.Now().Add(wait)
	created := false
	for {
		version, err := serverVersion(cfg, deadline)
		if err == nil {
			return version, nil
		}
		var myErr *mysql.MySQLError
		if errors.As(err, &myErr) {
			switch myErr.Number {
			case errBadDB:
				if !create || created {
					return "", fmt.Errorf("%s: %w", where, err)
				}
				if err := createDatabase(cfg, deadline); err != nil {
					if refused(err) {
						err = refusedError{err}
					}
					return "", fmt.Errorf("creating %s: %w", where, err)
				}
				fmt.Fprintf(os.Stderr, "mysqlready: created %s\n", where)
				created = true
				continue
			case errAccessDenied, errAccessDeniedNoPasswd, errDBAccessDenied:
				return "", refusedError{fmt.Errorf("%s: %w", where, err)}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not reachable within %v: %w", where, wait, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func refused(err error) bool {
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) {
		return false
	}
	switch myErr.Number {
	case errAccessDenied, errAccessDeniedNoPasswd, errDBAccessDenied:
		return true
	}
	return false
}

// attemptContext bounds one connection attempt: at least 2s so that -wait 0
// still tries once, at most 10s so that a silent host is retried.
func attemptContext(deadline time.Time) (context.Context, context.CancelFunc) {
	d := min(max(time.Until(deadline), 2*time.Second), 10*time.Second)
	return context.WithTimeout(context.Background(), d)
}

// open returns a pool of one connection on cfg.
func open(cfg *mysql.Config) (*sql.DB, error) {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

func serverVersion(cfg *mysql.Config, deadline time.Time) (string, error) {
	ctx, cancel := attemptContext(deadline)
	defer cancel()
	db, err := open(cfg)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var version string
	err = db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version)
	return version, err
}

// createDatabase creates cfg's database through a connection that names
// no database.
func createDatabase(cfg *mysql.Config, deadline time.Time) error {
	ctx, cancel := attemptContext(deadline)
	defer cancel()
	server := cfg.Clone()
	server.DBName = ""
	db, err := open(server)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, createBuild, cfg.DBName); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, createPrepare); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, createExecute); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, createDeallocate)
	return err
}
