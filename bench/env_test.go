package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/fixtures"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
)

// poolSize is the connection pool of every contender: GORM's database/sql
// pool over pgx's stdlib driver, the pgxpool of the hand-written SQL, and
// scs's database/sql pool (also over pgx's stdlib driver).
const poolSize = 16

// createSessions is scs postgresstore's table, from its README.
const createSessions = `CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry)`

// env is one schema holding the stores' tables and scs's, and a pool of
// poolSize connections per contender, all with that schema as search_path.
type env struct {
	schema string
	gorm   *gorm.DB
	sql    *sql.DB // GORM's own pool
	pgx    *pgxpool.Pool
	scsDB  *sql.DB
	scs    *postgresstore.PostgresStore
	cache  *repo.GormClientIDMetadataCache
	par    *repo.GormPARStore
}

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

// atExit registers f to run after every benchmark, in TestMain: the
// schemas are shared by many benchmark runs, so they outlive each b.
func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func runCleanups() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	runCleanups()
	testdb.Close()
	os.Exit(code)
}

// skipShort keeps the benchmarks out of CI's -short runs.
func skipShort(b *testing.B) {
	b.Helper()
	if testing.Short() {
		b.Skip("benchmarks need a PostgreSQL server and minutes; skipped under -short")
	}
}

// dsn is TEST_DATABASE_URL with schema as search_path.
func dsn(tb testing.TB, schema string) string {
	tb.Helper()
	u, err := url.Parse(testdb.URL())
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// admin runs f on a connection of its own, outside every schema.
func admin(f func(ctx context.Context, conn *pgx.Conn) error) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.URL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return f(ctx, conn)
}

// newSchema creates an empty schema and returns its name.
func newSchema(tb testing.TB, prefix string) string {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "bench_" + prefix + "_" + hex.EncodeToString(b[:])
	err := admin(func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize())
		return err
	})
	if err != nil {
		tb.Fatalf("create schema: %v (is PostgreSQL up at TEST_DATABASE_URL? bash scripts/bench.sh starts one)", err)
	}
	return name
}

// dropSchema runs after the benchmarks, when no testing.TB is left to
// report to.
func dropSchema(name string) {
	err := admin(func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
		return err
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", name, err)
	}
}

// openEnv creates a schema with the stores' tables (by AutoMigrate) and
// scs's, and opens every contender's pool on it. close undoes it all.
func openEnv(tb testing.TB, prefix string) (e *env, close func()) {
	tb.Helper()
	ctx := context.Background()
	e = &env{schema: newSchema(tb, prefix)}
	d := dsn(tb, e.schema)

	// GORM as its README opens it, with the logger silenced: the default
	// logger's per-call cost is the same, but it would print slow
	// statements into the benchmark output.
	var err error
	e.gorm, err = gorm.Open(postgres.Open(d), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		tb.Fatalf("gorm: %v", err)
	}
	sqlDB, err := e.gorm.DB()
	if err != nil {
		tb.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(poolSize)
	sqlDB.SetMaxIdleConns(poolSize)
	e.sql = sqlDB
	// The models' tables, as AutoMigrate creates them. (AutoMigrate itself
	// waits on a database-wide advisory lock that other test runs on a
	// shared server may hold.)
	if err := e.gorm.Migrator().CreateTable(models.All()...); err != nil {
		tb.Fatal(err)
	}
	if err := e.gorm.Exec(createSessions).Error; err != nil {
		tb.Fatal(err)
	}

	cfg, err := pgxpool.ParseConfig(d)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = poolSize
	if e.pgx, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		tb.Fatal(err)
	}

	// scs with pgx's stdlib driver, as its README suggests, so that it and
	// GORM differ in nothing below database/sql.
	connCfg, err := pgx.ParseConfig(d)
	if err != nil {
		tb.Fatal(err)
	}
	e.scsDB = stdlib.OpenDB(*connCfg)
	e.scsDB.SetMaxOpenConns(poolSize)
	e.scsDB.SetMaxIdleConns(poolSize)
	e.scs = postgresstore.NewWithConfig(e.scsDB, postgresstore.Config{TableName: "sessions"})

	if e.cache, err = repo.NewGormClientIDMetadataCache(e.gorm, nil); err != nil {
		tb.Fatal(err)
	}
	if e.par, err = repo.NewGormPARStore(e.gorm, nil); err != nil {
		tb.Fatal(err)
	}
	close = func() {
		e.pgx.Close()
		e.scsDB.Close()
		sqlDB.Close()
		dropSchema(e.schema)
	}
	return e, close
}

var (
	opsMu  sync.Mutex
	opsEnv *env
)

// sharedEnv is the schema the operation and mix benchmarks share, created
// on first use and dropped in TestMain. Every benchmark uses keys of its
// own, so they do not see each other's rows.
func sharedEnv(b *testing.B) *env {
	b.Helper()
	opsMu.Lock()
	defer opsMu.Unlock()
	if opsEnv == nil {
		e, closeEnv := openEnv(b, "ops")
		atExit(closeEnv)
		opsEnv = e
	}
	return opsEnv
}

// document is a realistic CIMD document (testdata/cimd/web-app.json, 899
// bytes) and params a realistic pushed request
// (testdata/par/authorization-code-pkce.json, 443 bytes).
type documents struct {
	cimd, par         map[string]any
	cimdJSON, parJSON []byte
}

func docs(tb testing.TB) documents {
	tb.Helper()
	var d documents
	d.cimdJSON = compact(tb, fixtures.Read(tb, "cimd/web-app.json"))
	d.parJSON = compact(tb, fixtures.Read(tb, "par/authorization-code-pkce.json"))
	if err := fixtures.Unmarshal(d.cimdJSON, &d.cimd); err != nil {
		tb.Fatal(err)
	}
	if err := fixtures.Unmarshal(d.parJSON, &d.par); err != nil {
		tb.Fatal(err)
	}
	return d
}

// compact is what the stores write: encoding/json's output for the map.
func compact(tb testing.TB, b []byte) []byte {
	var m map[string]any
	if err := fixtures.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	out, err := marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// cimdPut is a Put of the sample document on s, live until expiresAt, as
// an operation on a key.
func (d documents) cimdPut(s cimdStore, expiresAt time.Time) func(context.Context, string) error {
	return func(ctx context.Context, url string) error { return s.Put(ctx, url, d.cimd, expiresAt) }
}

// parPut is a Put of the sample request on s, as an operation on a key.
func (d documents) parPut(s parStore) func(context.Context, string) error {
	return func(ctx context.Context, uri string) error { return s.Put(ctx, uri, d.par, time.Minute) }
}

// freshURLs are b.N client_id URLs no run has used, for impl.
func freshURLs(b *testing.B, impl string) []string {
	return keys("https://"+impl+"-"+runID()+".example/client/", b.N)
}

// freshURIs are b.N request_uris no run has used, for impl.
func freshURIs(b *testing.B, impl string) []string {
	return keys("urn:ietf:params:oauth:request_uri:"+impl+"-"+runID()+"-", b.N)
}

// keys returns n distinct keys: prefix followed by a counter.
func keys(prefix string, n int) []string {
	out := make([]string, n)
	var sb strings.Builder
	for i := range out {
		sb.Reset()
		sb.WriteString(prefix)
		sb.WriteString(itoa(i))
		out[i] = sb.String()
	}
	return out
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	if i == 0 {
		return "0"
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// runID makes keys unique across runs of a benchmark in one schema.
func runID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
