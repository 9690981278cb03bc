package repo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// Helpers shared by the near_cache_*_test.go files.

// nearDialects are the databases the near cache is tested on. nodes opens
// two pools on one database, standing for two nodes, and creates the
// tables through the first.
var nearDialects = []struct {
	name  string
	nodes func(t *testing.T) (a, b *gorm.DB)
}{
	{"PostgreSQL", func(t *testing.T) (*gorm.DB, *gorm.DB) {
		schema := testdb.Schema(t)
		a := testdb.Open(t, schema, 4)
		testdb.CreateTables(t, a)
		return a, testdb.Open(t, schema, 4)
	}},
	{"SQLite", func(t *testing.T) (*gorm.DB, *gorm.DB) {
		path := filepath.Join(t.TempDir(), "near.db")
		a := testdb.OpenSQLite(t, path)
		testdb.CreateTables(t, a)
		return a, testdb.OpenSQLite(t, path)
	}},
	{"MariaDB", func(t *testing.T) (*gorm.DB, *gorm.DB) {
		database := testdb.MySQLDatabase(t)
		a := testdb.OpenMySQL(t, database, 4)
		testdb.CreateMySQLTables(t, a)
		return a, testdb.OpenMySQL(t, database, 4)
	}},
}

// quiet is the near caches' logger in tests: the listener's reconnections
// are expected there.
var quiet = slog.New(slog.DiscardHandler)

// newNear returns a near cache over inner, stopped when t ends.
func newNear(t testing.TB, inner repo.ClientIDMetadataCache, cfg repo.NearCacheConfig) *repo.NearCache {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	n, err := repo.NewNearCache(inner, &cfg)
	if err != nil {
		t.Fatalf("NewNearCache: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return n
}

// gormCache returns the GORM cache on db with clock, failing t on error.
func gormCache(t testing.TB, db *gorm.DB, clock func() time.Time) *repo.GormClientIDMetadataCache {
	t.Helper()
	c, err := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nearDoc is a document as a resolver stores it for url.
func nearDoc(url string) map[string]any {
	return map[string]any{
		"client_id":                  url,
		"client_name":                "Example App",
		"redirect_uris":              []any{"https://app.example.com/callback"},
		"grant_types":                []any{"authorization_code", "refresh_token"},
		"response_types":             []any{"code"},
		"token_endpoint_auth_method": "none",
	}
}

const nearURL = "https://app.example.com/oauth/client.json"

// nearChannel is a notification channel of t's own: channels are per
// database, and the tests share one.
func nearChannel(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "near_test_" + hex.EncodeToString(b[:])
}

// listener is a NearCacheConfig.Listen that connects to the tests'
// PostgreSQL server, records each connection's backend pid, and refuses
// to connect while blocked.
type listener struct {
	mu      sync.Mutex
	pids    []uint32
	blocked bool
}

func (l *listener) listen(ctx context.Context) (*pgx.Conn, error) {
	l.mu.Lock()
	blocked := l.blocked
	l.mu.Unlock()
	if blocked {
		return nil, errListenBlocked
	}
	conn, err := pgx.Connect(ctx, testdb.URL())
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.pids = append(l.pids, conn.PgConn().PID())
	l.mu.Unlock()
	return conn, nil
}

func (l *listener) block(v bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blocked = v
}

func (l *listener) lastPID() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pids[len(l.pids)-1]
}

var errListenBlocked = &testError{"the test blocks the listener's connections"}

type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }

// waitFor polls cond until it holds, and fails t if it does not within a
// generous deadline: the machine is shared, and the deadline is there to
// end a broken test, not to measure.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listening starts n and waits until its listener is connected.
func listening(t testing.TB, n *repo.NearCache) {
	t.Helper()
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	waitFor(t, "the listener is connected", func() bool { return n.Stats().Listening })
}

// gatedCache wraps a cache, counts its Gets and, while gated, holds each
// Get until the gate opens (or its context ends), and may fail them.
type gatedCache struct {
	repo.ClientIDMetadataCache
	gets atomic.Int64

	mu   sync.Mutex
	gate chan struct{}
	fail error
}

func (g *gatedCache) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	g.gets.Add(1)
	g.mu.Lock()
	gate, fail := g.gate, g.fail
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	if fail != nil {
		return nil, false, fail
	}
	return g.ClientIDMetadataCache.Get(ctx, url)
}

// close makes later Gets wait until open is called.
func (g *gatedCache) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

// open lets every held Get go on.
func (g *gatedCache) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gatedCache) failWith(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = err
}

// selects counts the SELECT statements rec saw from index from on.
func selects(rec *testdb.Recorder, from int) int {
	n := 0
	for _, st := range rec.Statements()[from:] {
		if strings.HasPrefix(strings.TrimSpace(strings.ToUpper(st.Query)), "SELECT") {
			n++
		}
	}
	return n
}

// mustGet gets url from c and fails t unless the answer is want (nil: a
// miss).
func mustGet(t testing.TB, what string, c repo.ClientIDMetadataCache, url string, want map[string]any) {
	t.Helper()
	got, found, err := c.Get(context.Background(), url)
	if err != nil {
		t.Fatalf("%s: Get %s: %v", what, url, err)
	}
	switch {
	case want == nil && found:
		t.Fatalf("%s: Get %s = %v, want a miss", what, url, got)
	case want != nil && !found:
		t.Fatalf("%s: Get %s missed, want %v", what, url, want)
	case want != nil && !repotest.JSONEqual(got, want):
		t.Fatalf("%s: Get %s = %v, want %v", what, url, got, want)
	}
}

func mustDo(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
