package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/sweeper"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage is printed
	case err != nil:
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the graceful shutdown: requests in flight, then
// the sweeper's batch in flight.
const shutdownTimeout = 10 * time.Second

// run serves until ctx ends, then shuts down gracefully. ready, if not
// nil, is called with the listening address once requests are accepted.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(addr string)) error {
	flags := flag.NewFlagSet("authserver", flag.ContinueOnError)
	flags.SetOutput(stderr)
	// Not $DATABASE_URL as the flag's default: -h would print its password.
	dsn := flags.String("dsn", "", "the database: a postgres:// URL, a MariaDB/MySQL DSN\n(user:password@tcp(host:3306)/db), or a SQLite file path (default $DATABASE_URL)")
	addr := flags.String("addr", "127.0.0.1:8080", "the address to listen on")
	insecureLoopback := flags.Bool("insecure-allow-loopback-cimd", false, "DEVELOPMENT ONLY: let the CIMD resolver fetch client metadata\ndocuments from loopback addresses (127.0.0.0/8, ::1)")
	insecureCA := flags.String("insecure-cimd-ca", "", "DEVELOPMENT ONLY: a PEM file of CA certificates trusted, besides the system's,\nfor client metadata hosts; needs -insecure-allow-loopback-cimd")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		*dsn = getenv("DATABASE_URL")
	}
	if *dsn == "" {
		return errors.New("no database: set -dsn or $DATABASE_URL")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	// devFetch stays nil, the resolver's safe default fetch, unless the
	// insecure flags ask for a development set-up.
	var devFetch cimd.FetchFunc
	switch {
	case *insecureLoopback:
		transport, err := devTransport(*insecureCA)
		if err != nil {
			return err
		}
		defer transport.CloseIdleConnections()
		devFetch = cimd.HTTPFetch(&http.Client{Transport: transport})
		log.Warn("INSECURE: client metadata documents may be fetched from loopback addresses; never run so in production")
	case *insecureCA != "":
		return errors.New("-insecure-cimd-ca needs -insecure-allow-loopback-cimd")
	}

	dialector, err := dialectorFor(*dsn)
	if err != nil {
		return err
	}
	// Listening first: a taken port fails before anything starts. Requests
	// wait in the backlog until Serve.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	db, err := openDB(dialector)
	if err != nil {
		return err
	}
	defer closeDB(db)
	// quickstart:begin
	// At start-up, on every node: creates what is missing, serialised across nodes.
	if err := gormstore.AutoMigrate(ctx, db); err != nil {
		return err
	}
	pars, err := repo.NewGormPARStore(db, nil) // nil *repo.Config: the defaults
	if err != nil {
		return err
	}
	cache, err := repo.NewGormClientIDMetadataCache(db, nil)
	if err != nil {
		return err
	}
	// devFetch is nil, the safe default transport, unless an insecure flag is set.
	resolver, err := cimd.NewResolver(&cimd.Config{Cache: cache, Fetch: devFetch})
	if err != nil {
		return err
	}
	// Deletes expired rows; every node runs one, one node sweeps at a time.
	sw, err := sweeper.New(db, &sweeper.Config{Logger: log})
	if err != nil {
		return err
	}
	// Not stopped by ctx but by Stop, after the server has drained.
	if err := sw.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	// quickstart:end

	s := &server{pars: pars, resolver: resolver, log: log}
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "database", db.Dialector.Name())
	if ready != nil {
		ready(ln.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	// Shutdown order: stop taking requests and let those in flight finish,
	// then stop the sweeper, then (deferred) close the database.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err = errors.Join(serveErr, srv.Shutdown(stopCtx), sw.Stop(stopCtx))
	log.Info("stopped")
	return err
}

// dialectorFor is the GORM dialector of the database dsn names: a
// postgres:// or postgresql:// URL is PostgreSQL; a go-sql-driver DSN,
// user:password@tcp(host:3306)/db, MariaDB or MySQL; a file: URI or a
// plain path a SQLite file. Anything else that looks like a DSN is
// refused rather than taken for the name of a new, empty SQLite file.
func dialectorFor(dsn string) (gorm.Dialector, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(dsn), nil
	case strings.HasPrefix(dsn, "file:"):
		return sqlite.Open(dsn), nil
	case strings.Contains(dsn, "tcp(") || strings.Contains(dsn, "unix("):
		return mysql.Open(dsn), nil
	case strings.ContainsAny(dsn, "=@") || strings.Contains(dsn, "://") || strings.HasPrefix(dsn, "sqlite:"):
		// Not the DSN itself: it may hold a password.
		return nil, errors.New("-dsn: not a postgres:// URL, a go-sql-driver DSN (user@tcp(host:port)/db), a file: URI or a SQLite file path")
	}
	return sqlite.Open(sqliteFile(dsn)), nil
}

// openDB opens the database dialector names.
func openDB(dialector gorm.Dialector) (*gorm.DB, error) {
	// The handlers log each failure once, with what it was about; GORM's
	// own logger would print it again, on stdout.
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		// Not the DSN itself: it may hold a password.
		return nil, fmt.Errorf("open the %s database: %w", dialector.Name(), err)
	}
	return db, nil
}

// sqliteFile is the file: URI of a SQLite file with the settings several
// connections need: write-ahead logging, so readers never wait for the
// writer, and a busy timeout, so a writer waits for another rather than
// failing at once.
func sqliteFile(path string) string {
	// '?' and '#' would end the path of the URI, '%' start an escape.
	path = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
}

// closeDB closes db's connection pool.
func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// devTransport is the resolver's guarded transport with loopback allowed
// and, if caFile is set, the CA certificates in it trusted as well as the
// system's: for a client metadata document served on this machine by a
// development (or test) server. Never in production: it lets anyone who
// can start an authorization request make the server GET any path on its
// own loopback services.
func devTransport(caFile string) (*http.Transport, error) {
	transport := cimd.NewTransport(&cimd.TransportConfig{AllowLoopback: true})
	if caFile == "" {
		return transport, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-insecure-cimd-ca: no PEM certificate in %s", caFile)
	}
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return transport, nil
}
