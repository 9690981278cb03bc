package cimd_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// body answers with the given status and body, "%s" in it replaced by the
// request's URL.
func body(status int, b string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.WriteHeader(status)
		w.Write([]byte(strings.ReplaceAll(b, "%s", requestURL(r))))
	}
}

// typed answers 200 with b, "%s" in it replaced by the request's URL,
// and a Content-Type field for each of types (none when there are none).
func typed(b string, types ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = types // nil: net/http sends none
		w.Write([]byte(strings.ReplaceAll(b, "%s", requestURL(r))))
	}
}

// A document is accepted with application/json or application/*+json,
// whatever the case and parameters (RFC 9110 section 8.3.1).
func TestContentTypeJSON(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{
		"application/json",
		"application/json; charset=utf-8",
		"application/json;charset=UTF-8",
		"Application/JSON",
		"application/vnd.example.client+json",
		"application/example+json; profile=\"x\"",
	} {
		host := newDocHost(t, typed(`{"client_id":"%s"}`, ct))
		f := newFixture(t, cacheKinds[0], host, cimd.Config{})
		if _, err := f.resolver.Resolve(context.Background(), host.clientID("/c")); err != nil {
			t.Errorf("Content-Type %q: %v", ct, err)
		}
	}
}

// sized is a valid document for the request's URL, padded to n bytes.
func sized(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		prefix := `{"client_id":"` + requestURL(r) + `","client_name":"`
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(prefix + strings.Repeat("x", n-len(prefix)-2) + `"}`))
	}
}

// Every failure is returned with its sentinel and never cached (draft
// section 4.4): the next Resolve fetches again.
func TestFailedFetchesAreReturnedAndNotCached(t *testing.T) {
	t.Parallel()
	errDown := errors.New("document host unreachable")
	deep := `{"client_id":"%s","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`
	cases := []struct {
		name    string
		handler http.HandlerFunc
		fetch   cimd.FetchFunc // instead of the host
		rule    cimd.Rule
		want    error
	}{
		{name: "500", handler: body(500, `{"client_id":"%s"}`), want: cimd.ErrStatus},
		{name: "404", handler: body(404, `{"client_id":"%s"}`), want: cimd.ErrStatus},
		{name: "204", handler: body(204, ``), want: cimd.ErrStatus},
		{name: "redirect to a valid document", handler: func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/real") {
				serveDocument(t)(w, r)
				return
			}
			http.Redirect(w, r, r.URL.Path+"/real", http.StatusFound)
		}, want: cimd.ErrStatus},
		{name: "connection closed", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, want: cimd.ErrFetch},
		{name: "FetchFunc error", fetch: func(context.Context, cimd.FetchRequest) (*cimd.Response, error) {
			return nil, errDown
		}, want: errDown},
		{name: "FetchFunc without a response", fetch: func(context.Context, cimd.FetchRequest) (*cimd.Response, error) {
			return nil, nil
		}, want: cimd.ErrFetch},
		{name: "FetchFunc without a status", fetch: func(_ context.Context, req cimd.FetchRequest) (*cimd.Response, error) {
			return &cimd.Response{Body: []byte(`{"client_id":"` + req.ClientID + `"}`)}, nil
		}, want: cimd.ErrStatus},
		{name: "one byte over 5 KiB", handler: sized(cimd.DefaultMaxDocumentBytes + 1), want: cimd.ErrTooLarge},
		{name: "1 MiB", handler: sized(1 << 20), want: cimd.ErrTooLarge},
		{name: "FetchFunc returning too much", fetch: func(_ context.Context, req cimd.FetchRequest) (*cimd.Response, error) {
			return &cimd.Response{StatusCode: 200, Body: make([]byte, req.MaxBytes+1)}, nil
		}, want: cimd.ErrTooLarge},
		{name: "Content-Type text/plain", handler: typed(`{"client_id":"%s"}`, "text/plain"), want: cimd.ErrInvalidDocument},
		{name: "Content-Type text/html", handler: typed(`{"client_id":"%s"}`, "text/html; charset=utf-8"), want: cimd.ErrInvalidDocument},
		{name: "Content-Type text/json", handler: typed(`{"client_id":"%s"}`, "text/json"), want: cimd.ErrInvalidDocument},
		{name: "Content-Type application/jsonx", handler: typed(`{"client_id":"%s"}`, "application/jsonx"), want: cimd.ErrInvalidDocument},
		{name: "Content-Type application/+json", handler: typed(`{"client_id":"%s"}`, "application/+json"), want: cimd.ErrInvalidDocument},
		{name: "Content-Type application/json+xml", handler: typed(`{"client_id":"%s"}`, "application/json+xml"), want: cimd.ErrInvalidDocument},
		{name: "Content-Type */*", handler: typed(`{"client_id":"%s"}`, "*/*"), want: cimd.ErrInvalidDocument},
		{name: "Content-Type with a broken parameter", handler: typed(`{"client_id":"%s"}`, "application/json; charset"), want: cimd.ErrInvalidDocument},
		{name: "two Content-Type fields", handler: typed(`{"client_id":"%s"}`, "application/json", "application/json"), want: cimd.ErrInvalidDocument},
		{name: "no Content-Type", handler: typed(`{"client_id":"%s"}`), want: cimd.ErrInvalidDocument},
		{name: "FetchFunc without a Content-Type", fetch: func(_ context.Context, req cimd.FetchRequest) (*cimd.Response, error) {
			return &cimd.Response{StatusCode: 200, Body: []byte(`{"client_id":"` + req.ClientID + `"}`)}, nil
		}, want: cimd.ErrInvalidDocument},
		{name: "nested deeper than MaxDocumentDepth", handler: body(200, `{"client_id":"%s","x":`+strings.Repeat("[", 2000)+strings.Repeat("]", 2000)+`}`), want: cimd.ErrInvalidDocument},
		{name: "empty body", handler: body(200, ``), want: cimd.ErrInvalidDocument},
		{name: "not JSON", handler: body(200, `<html>client</html>`), want: cimd.ErrInvalidDocument},
		{name: "truncated JSON", handler: body(200, `{"client_id":"%s"`), want: cimd.ErrInvalidDocument},
		{name: "JSON array", handler: body(200, `[{"client_id":"%s"}]`), want: cimd.ErrInvalidDocument},
		{name: "JSON null", handler: body(200, `null`), want: cimd.ErrInvalidDocument},
		{name: "JSON string", handler: body(200, `"%s"`), want: cimd.ErrInvalidDocument},
		{name: "data after the object", handler: body(200, `{"client_id":"%s"} {}`), want: cimd.ErrInvalidDocument},
		{name: "duplicate client_id", handler: body(200, `{"client_id":"https://evil.example/c","client_id":"%s"}`), want: cimd.ErrInvalidDocument},
		{name: "duplicate name, escaped", handler: body(200, `{"client_id":"%s","jwks_uri":"a","jwks\u005furi":"b"}`), want: cimd.ErrInvalidDocument},
		{name: "duplicate nested name", handler: body(200, `{"client_id":"%s","jwks":{"keys":[{"kid":"a","kid":"b"}]}}`), want: cimd.ErrInvalidDocument},
		{name: "invalid UTF-8", handler: body(200, "{\"client_id\":\"%s\",\"client_name\":\"\xff\"}"), want: cimd.ErrInvalidDocument},
		{name: "client_id of another URL", handler: body(200, `{"client_id":"https://evil.example/client.json"}`), want: cimd.ErrInvalidDocument},
		{name: "no client_id", handler: body(200, `{"client_name":"x"}`), want: cimd.ErrInvalidDocument},
		{name: "client_secret", handler: body(200, `{"client_id":"%s","client_secret":"s3cret"}`), want: cimd.ErrInvalidDocument},
		{name: "client_secret_post", handler: body(200, `{"client_id":"%s","token_endpoint_auth_method":"client_secret_post"}`), want: cimd.ErrInvalidDocument},
		// Documents the cache's changeset refuses are invalid documents too.
		{name: "NUL character", handler: body(200, `{"client_id":"%s","client_name":"a\u0000b"}`), want: changesets.ErrInvalid},
		{name: "nested deeper than the cache accepts", handler: body(200, deep), want: changesets.ErrInvalid},
		{name: "rule", handler: serveDocument(t), rule: func(string, map[string]any) error { return errDown }, want: errDown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forEachCache(t, func(t *testing.T, kind cacheKind) {
				host := newDocHost(t, c.handler)
				var fetches atomic.Int64
				cfg := cimd.Config{Fetch: cimd.HTTPFetch(host.Client())}
				if c.fetch != nil {
					cfg.Fetch = c.fetch
				}
				counted := cfg.Fetch
				cfg.Fetch = func(ctx context.Context, req cimd.FetchRequest) (*cimd.Response, error) {
					fetches.Add(1)
					return counted(ctx, req)
				}
				if c.rule != nil {
					cfg.Rules = []cimd.Rule{c.rule}
				}
				f := newFixture(t, kind, host, cfg)
				id := host.clientID("/client.json")

				for i := range 2 {
					doc, err := f.resolver.Resolve(context.Background(), id)
					if !errors.Is(err, c.want) || doc != nil {
						t.Fatalf("Resolve #%d = %v, %v; want %v", i+1, doc, err, c.want)
					}
					if !strings.HasPrefix(err.Error(), `cimd: resolve "`+id+`": `) {
						t.Errorf("error %q does not start with the operation", err)
					}
					if errors.Is(c.want, changesets.ErrInvalid) && !errors.Is(err, cimd.ErrInvalidDocument) {
						t.Errorf("error %q: want ErrInvalidDocument too", err)
					}
					if f.cached(t, id) {
						t.Fatalf("after Resolve #%d the failure is cached", i+1)
					}
				}
				if n := fetches.Load(); n != 2 {
					t.Errorf("two resolutions made %d fetches, want 2", n)
				}
				if c.fetch == nil {
					if n := host.requests.Load(); n != 2 {
						t.Errorf("the host got %d requests, want 2 (redirects not followed, no retries)", n)
					}
				}
			})
		})
	}
}

func TestDocumentSizeLimit(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		for _, c := range []struct {
			limit int64
			size  int
			want  error
		}{
			{0, cimd.DefaultMaxDocumentBytes, nil},
			{0, cimd.DefaultMaxDocumentBytes + 1, cimd.ErrTooLarge},
			{200, 200, nil},
			{200, 201, cimd.ErrTooLarge},
		} {
			host := newDocHost(t, sized(c.size))
			f := newFixture(t, kind, host, cimd.Config{MaxDocumentBytes: c.limit})
			if _, err := f.resolver.Resolve(context.Background(), host.clientID("/c")); !errors.Is(err, c.want) {
				t.Errorf("limit %d, %d bytes: %v, want %v", c.limit, c.size, err, c.want)
			}
		}
	})
}

// failingCache fails Get, Put or Delete.
type failingCache struct {
	repo.ClientIDMetadataCache
	getErr, putErr, deleteErr error
}

func (c *failingCache) Delete(ctx context.Context, url string) error {
	if c.deleteErr != nil {
		return c.deleteErr
	}
	return c.ClientIDMetadataCache.Delete(ctx, url)
}

// A failing Delete is ErrCache, from Delete and from the eviction of an
// entry that fails its checks, which is refused all the same.
func TestDeleteFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errDB := errors.New("database down")
	host := newDocHost(t, serveDocument(t))
	id := host.clientID("/c")
	cache := &failingCache{ClientIDMetadataCache: repo.NewMemoryClientIDMetadataCache(nil), deleteErr: errDB}
	r, err := cimd.NewResolver(&cimd.Config{Cache: cache, Fetch: cimd.HTTPFetch(host.Client())})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, id); !errors.Is(err, cimd.ErrCache) || !errors.Is(err, errDB) {
		t.Errorf("Delete = %v, want ErrCache wrapping the cache's error", err)
	}
	bad := document("https://evil.example/c")
	if err := cache.Put(ctx, id, bad, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	doc, err := r.Resolve(ctx, id)
	if !errors.Is(err, cimd.ErrInvalidDocument) || !errors.Is(err, cimd.ErrCache) || !errors.Is(err, errDB) || doc != nil {
		t.Errorf("Resolve of a failing entry that cannot be evicted = %v, %v; want ErrInvalidDocument and ErrCache", doc, err)
	}
	if code, _ := cimd.OAuthError(err); code != "invalid_client" {
		t.Errorf("OAuthError code = %q, want invalid_client", code)
	}
}

func (c *failingCache) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	if c.getErr != nil {
		return nil, false, c.getErr
	}
	return c.ClientIDMetadataCache.Get(ctx, url)
}

func (c *failingCache) Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error {
	if c.putErr != nil {
		return c.putErr
	}
	return c.ClientIDMetadataCache.Put(ctx, url, doc, expiresAt)
}

// A cache failure is an error, never a reason to serve unshared documents.
func TestCacheFailures(t *testing.T) {
	t.Parallel()
	errDB := errors.New("database down")
	for _, c := range []struct {
		name     string
		cache    failingCache
		requests int64
	}{
		{"get fails: nothing fetched", failingCache{getErr: errDB}, 0},
		{"put fails: fetched, not returned", failingCache{putErr: errDB}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			host := newDocHost(t, serveDocument(t))
			c.cache.ClientIDMetadataCache = repo.NewMemoryClientIDMetadataCache(nil)
			r, err := cimd.NewResolver(&cimd.Config{Cache: &c.cache, Fetch: cimd.HTTPFetch(host.Client())})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := r.Resolve(context.Background(), host.clientID("/c"))
			if !errors.Is(err, cimd.ErrCache) || !errors.Is(err, errDB) || doc != nil {
				t.Errorf("Resolve = %v, %v; want ErrCache wrapping the cache's error", doc, err)
			}
			if n := host.requests.Load(); n != c.requests {
				t.Errorf("%d requests, want %d", n, c.requests)
			}
		})
	}
}

func TestNewResolverConfig(t *testing.T) {
	t.Parallel()
	cache := repo.NewMemoryClientIDMetadataCache(nil)
	bad := map[string]*cimd.Config{
		"nil config":                nil,
		"no cache":                  {},
		"negative FetchTimeout":     {Cache: cache, FetchTimeout: -1},
		"negative MaxDocumentBytes": {Cache: cache, MaxDocumentBytes: -1},
		"negative Min":              {Cache: cache, Bounds: cimd.Bounds{Min: -1}},
		"negative Max":              {Cache: cache, Bounds: cimd.Bounds{Max: -1}},
		"Max below Min":             {Cache: cache, Bounds: cimd.Bounds{Min: time.Hour, Max: time.Minute}},
		"Max below the default Min": {Cache: cache, Bounds: cimd.Bounds{Max: time.Second}},
		"FetchTimeout equal to Min": {Cache: cache, FetchTimeout: time.Minute},
		"FetchTimeout above a Min":  {Cache: cache, Bounds: cimd.Bounds{Min: 10 * time.Second}, FetchTimeout: 20 * time.Second},
		"FetchTimeout default, Min": {Cache: cache, Bounds: cimd.Bounds{Min: time.Second}},
		"nil Rule":                  {Cache: cache, Rules: []cimd.Rule{nil}},
		"negative MaxConcurrent":    {Cache: cache, MaxConcurrentFetches: -1},
		"negative MaxPerHost":       {Cache: cache, MaxFetchesPerHost: -1},
		"AllowLoopback with Fetch":  {Cache: cache, AllowLoopback: true, Fetch: cimd.HTTPFetch(nil)},
	}
	for name, cfg := range bad {
		if r, err := cimd.NewResolver(cfg); !errors.Is(err, cimd.ErrConfig) || r != nil {
			t.Errorf("%s: NewResolver = %v, %v; want ErrConfig", name, r, err)
		}
	}
	good := map[string]*cimd.Config{
		"defaults":              {Cache: cache},
		"custom bounds":         {Cache: cache, Bounds: cimd.Bounds{Min: 10 * time.Second, Max: 10 * time.Second}, FetchTimeout: time.Second},
		"large documents":       {Cache: cache, MaxDocumentBytes: 64 << 10},
		"Min above Max default": {Cache: cache, Bounds: cimd.Bounds{Min: 24 * time.Hour}},
		"AllowLoopback":         {Cache: cache, AllowLoopback: true},
		"fetch limits":          {Cache: cache, MaxConcurrentFetches: 1, MaxFetchesPerHost: 1000},
	}
	for name, cfg := range good {
		if _, err := cimd.NewResolver(cfg); err != nil {
			t.Errorf("%s: NewResolver = %v", name, err)
		}
	}

	for name, r := range map[string]*cimd.Resolver{"nil": nil, "zero": {}} {
		if _, err := r.Resolve(context.Background(), "https://app.example.com/c"); !errors.Is(err, cimd.ErrConfig) {
			t.Errorf("%s Resolver: Resolve = %v, want ErrConfig", name, err)
		}
		if err := r.Delete(context.Background(), "https://app.example.com/c"); !errors.Is(err, cimd.ErrConfig) {
			t.Errorf("%s Resolver: Delete = %v, want ErrConfig", name, err)
		}
	}
}
