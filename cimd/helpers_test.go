package cimd_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// docHost is an HTTPS document host on localhost that counts the requests
// it receives.
type docHost struct {
	*httptest.Server
	requests atomic.Int64
}

func newDocHost(t *testing.T, h http.HandlerFunc) *docHost {
	t.Helper()
	d := &docHost{}
	d.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.requests.Add(1)
		h(w, r)
	}))
	t.Cleanup(d.Close)
	return d
}

// clientID is the client_id URL of the document at path on d.
func (d *docHost) clientID(path string) string { return d.URL + path }

// requestURL is the URL a request was sent to, as the client wrote it.
func requestURL(r *http.Request) string { return "https://" + r.Host + r.URL.RequestURI() }

// document is a valid document for clientID.
func document(clientID string) map[string]any {
	return map[string]any{
		"client_id":                  clientID,
		"client_name":                "Example App",
		"redirect_uris":              []any{"https://app.example/callback"},
		"token_endpoint_auth_method": "none",
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serveDocument answers every request with the valid document of the URL
// it was sent to, and the given response header lines.
func serveDocument(t *testing.T, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setHeader(w.Header(), header)
		w.Header().Set("Content-Type", "application/json")
		w.Write(mustJSON(t, document(requestURL(r))))
	}
}

// jsonHeader is the header of a JSON response, for FetchFuncs.
func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

// gate holds requests in its handler until released, and reports each
// one entering.
type gate struct {
	entered chan struct{}
	done    chan struct{}
	once    sync.Once
}

// newGate returns a gate released at the latest when t ends, before the
// servers registered earlier close (cleanups run last-in first-out).
func newGate(t *testing.T) *gate {
	g := &gate{entered: make(chan struct{}, 1000), done: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.done) }) }

func (g *gate) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.entered <- struct{}{}
		select {
		case <-g.done:
			h(w, r)
		case <-r.Context().Done():
		}
	}
}

func (g *gate) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the document host")
	}
}

// waitFor polls cond until it holds, failing t after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// countingCache counts the misses of the cache it wraps, so a test knows
// when callers have looked and found nothing.
type countingCache struct {
	repo.ClientIDMetadataCache
	misses atomic.Int64
}

func (c *countingCache) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	doc, found, err := c.ClientIDMetadataCache.Get(ctx, url)
	if err == nil && !found {
		c.misses.Add(1)
	}
	return doc, found, err
}

// cacheKind makes a fresh, empty cache on the given clock.
type cacheKind struct {
	name string
	new  func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache
}

var cacheKinds = []cacheKind{
	{"memory", func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
		return repo.NewMemoryClientIDMetadataCache(&repo.Config{Now: now})
	}},
	{"gorm", func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
		c, err := repo.NewGormClientIDMetadataCache(testdb.New(t), &repo.Config{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
}

// forEachCache runs test, in parallel, on every cache implementation.
func forEachCache(t *testing.T, test func(t *testing.T, kind cacheKind)) {
	t.Helper()
	for _, kind := range cacheKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			test(t, kind)
		})
	}
}

// fixture is a resolver on a fresh cache of one kind and a frozen clock,
// fetching from host with host's TLS client.
type fixture struct {
	clock    *repotest.Clock
	cache    *countingCache
	resolver *cimd.Resolver
}

func newFixture(t *testing.T, kind cacheKind, host *docHost, cfg cimd.Config) *fixture {
	t.Helper()
	f := &fixture{clock: repotest.NewClock(repotest.Epoch)}
	f.cache = &countingCache{ClientIDMetadataCache: kind.new(t, f.clock.Now)}
	cfg.Cache = f.cache
	cfg.Now = f.clock.Now
	if cfg.Fetch == nil {
		cfg.Fetch = cimd.HTTPFetch(host.Client())
	}
	r, err := cimd.NewResolver(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.resolver = r
	return f
}

// cached reports whether the cache holds a live entry for clientID.
func (f *fixture) cached(t *testing.T, clientID string) bool {
	t.Helper()
	_, found, err := f.cache.ClientIDMetadataCache.Get(context.Background(), clientID)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// setHeader adds "Name: value" lines to h.
func setHeader(h http.Header, lines []string) {
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ": ")
		h.Add(name, value)
	}
}
