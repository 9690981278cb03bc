package sweeper_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo/repotest"
	"github.com/attesto/gormstore/sweeper"
)

// epoch is every test's "now": the suite's clocks start there.
var epoch = repotest.Epoch

const (
	cimd   = models.ClientIDMetadataTable
	par    = models.PushedAuthorizationRequestTable
	replay = models.ReplayTable
)

// table describes how to fill one table in a test.
type table struct {
	name, key string
	// keyType is the key column's type; empty for text.
	keyType string
	// doc is the table's NOT NULL jsonb column; empty for a table without.
	doc string
	// legacy tables have timestamp(0) without time zone columns holding
	// UTC, as attesto_phoenix creates them.
	legacy bool
}

func cimdTable(legacy bool) table {
	return table{name: cimd, key: "url", doc: "metadata", legacy: legacy}
}

func parTable(legacy bool) table {
	return table{name: par, key: "request_uri", doc: "params", legacy: legacy}
}

func replayTable(legacy bool) table {
	return table{name: replay, key: "jti", legacy: legacy}
}

// timeExpr is a timestamptz expression as the table's column stores it.
func (tb table) timeExpr(expr string) string {
	if tb.legacy {
		return "(" + expr + ") AT TIME ZONE 'UTC'"
	}
	return expr
}

// seed inserts n rows in one statement, keyed prefix1 … prefixN, where
// row i expires at first + (i-1)×step.
func seed(t testing.TB, db *gorm.DB, tb table, prefix string, n int, first time.Time, step time.Duration) {
	t.Helper()
	keyType := tb.keyType
	if keyType == "" {
		keyType = "text"
	}
	cols := tb.key + ", expires_at"
	vals := "CAST(? || i AS " + keyType + "), " + tb.timeExpr("?::timestamptz + (i - 1) * ?::interval")
	if tb.doc != "" {
		cols += ", " + tb.doc + ", inserted_at"
		vals += `, '{"client_id": "x"}'::jsonb, ` + tb.timeExpr("?::timestamptz")
	}
	args := []any{prefix, first.UTC(), fmt.Sprintf("%d microseconds", step.Microseconds())}
	if tb.doc != "" {
		args = append(args, first.UTC().Add(-24*time.Hour))
	}
	// The table and column names are the test's own constants.
	testdb.MustExec(t, db, "INSERT INTO "+quote(tb.name)+" ("+cols+") SELECT "+vals+" FROM generate_series(1, "+fmt.Sprint(n)+") AS i", args...)
}

func quote(name string) string { return `"` + name + `"` }

// keys returns the keys left in tb, sorted.
func keys(t testing.TB, db *gorm.DB, tb table) []string {
	t.Helper()
	var ks []string
	if err := db.Table(tb.name).Pluck(tb.key, &ks).Error; err != nil {
		t.Fatalf("keys of %s: %v", tb.name, err)
	}
	// Sorted here, not by the database's collation, to compare with keyRange.
	slices.Sort(ks)
	return ks
}

// keyRange returns prefix1 … prefixN, sorted.
func keyRange(prefix string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	slices.Sort(ks)
	return ks
}

func fixedClock() func() time.Time { return repotest.NewClock(epoch).Now }

// mustNew is sweeper.New for configs that must be valid. Interval
// defaults to an hour, Now to the fixed epoch and Logger to the test's
// log at Debug.
func mustNew(t testing.TB, db *gorm.DB, cfg sweeper.Config) *sweeper.Sweeper {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = fixedClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := sweeper.New(db, &cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// A test that fails before its own Stop must not leave a loop behind
	// (it would log to a finished test); this runs before the pool closes.
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// tWriter sends log records to t.Log, so they show with the failing test.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// batches returns the batch statements rec saw run on table.
func batches(rec *testdb.Recorder, table string) []testdb.Statement {
	var out []testdb.Statement
	for _, s := range rec.Statements() {
		// PostgreSQL's dialect quotes with double quotes, SQLite's and
		// MySQL's with backticks; MySQL's batch is a multiple-table DELETE.
		if strings.Contains(s.Query, "DELETE FROM "+quote(table)+" ") || strings.Contains(s.Query, "DELETE FROM `"+table+"` ") ||
			strings.HasPrefix(s.Query, "DELETE `"+table+"` FROM ") {
			out = append(out, s)
		}
	}
	return out
}

// results collects what OnSweep reports.
type results struct {
	mu  sync.Mutex
	all []sweeper.Result
	ch  chan sweeper.Result
}

func newResults() *results { return &results{ch: make(chan sweeper.Result, 100)} }

func (r *results) onSweep(res sweeper.Result) {
	r.mu.Lock()
	r.all = append(r.all, res)
	r.mu.Unlock()
	select {
	case r.ch <- res:
	default:
	}
}

func (r *results) list() []sweeper.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

// next waits for the next reported pass.
func (r *results) next(t testing.TB, within time.Duration) sweeper.Result {
	t.Helper()
	select {
	case res := <-r.ch:
		return res
	case <-time.After(within):
		t.Fatalf("no pass reported within %v", within)
		return sweeper.Result{}
	}
}

// exampleDB is testdb.New for examples, which have no *testing.T: a pool on
// a fresh schema holding the stores' tables, and the function that drops
// it.
func exampleDB() (*gorm.DB, func()) {
	must := func(err error) {
		if err != nil {
			panic(fmt.Sprintf("example database at %s: %v", testdb.URL(), err))
		}
	}
	admin, err := gorm.Open(postgres.Open(testdb.URL()), &gorm.Config{Logger: logger.Discard})
	must(err)
	adminPool, err := admin.DB()
	must(err)
	schema := fmt.Sprintf("example_sweeper_%d", rand.Uint64())
	must(admin.Exec("CREATE SCHEMA " + schema).Error)
	u, err := url.Parse(testdb.URL())
	must(err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := gorm.Open(postgres.Open(u.String()), &gorm.Config{Logger: logger.Discard})
	must(err)
	must(gormstore.AutoMigrate(context.Background(), db))
	return db, func() {
		if pool, err := db.DB(); err == nil {
			pool.Close()
		}
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		adminPool.Close()
	}
}
