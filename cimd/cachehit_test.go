package cimd_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo/repotest"
)

// A cached entry is checked on every hit, as a fetched document is: one
// that fails is evicted and refused without a fetch, and the next Resolve
// fetches the document afresh.
func TestCacheHitsAreChecked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		entry func(id string) map[string]any
	}{
		{"client_id of another URL", func(string) map[string]any {
			return document("https://evil.example/client.json")
		}},
		{"client_id of another spelling", func(id string) map[string]any {
			return document(id + "?")
		}},
		{"no client_id", func(string) map[string]any {
			return map[string]any{"client_name": "x"}
		}},
		{"client_secret", func(id string) map[string]any {
			doc := document(id)
			doc["client_secret"] = "s3cret"
			return doc
		}},
		{"shared-secret auth method", func(id string) map[string]any {
			doc := document(id)
			doc["token_endpoint_auth_method"] = "client_secret_basic"
			return doc
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forEachCache(t, func(t *testing.T, kind cacheKind) {
				ctx := context.Background()
				host := newDocHost(t, serveDocument(t, "Cache-Control: max-age=3600"))
				f := newFixture(t, kind, host, cimd.Config{})
				id := host.clientID("/client.json")
				if err := f.cache.Put(ctx, id, c.entry(id), f.clock.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}

				doc, err := f.resolver.Resolve(ctx, id)
				if !errors.Is(err, cimd.ErrInvalidDocument) || doc != nil {
					t.Fatalf("Resolve = %v, %v; want ErrInvalidDocument", doc, err)
				}
				if f.cached(t, id) {
					t.Error("the failing entry was not evicted")
				}
				if n := host.requests.Load(); n != 0 {
					t.Errorf("the host got %d requests, want none", n)
				}
				doc, err = f.resolver.Resolve(ctx, id)
				if err != nil || !repotest.JSONEqual(doc, document(id)) {
					t.Fatalf("Resolve after the eviction = %v, %v; want the host's document", doc, err)
				}
			})
		})
	}
}

// missOnce misses on its first Get, as if another node stored the entry
// between the caller's lookup and the shared fetch's.
type missOnce struct {
	cimd.Cache
	missed atomic.Bool
}

func (c *missOnce) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	if c.missed.CompareAndSwap(false, true) {
		return nil, false, nil
	}
	return c.Cache.Get(ctx, url)
}

// The shared fetch's own lookup is a hit too, and checked the same way.
func TestTheSharedFetchsHitIsChecked(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		host := newDocHost(t, serveDocument(t))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")
		bad := document(id)
		bad["client_secret"] = "s3cret"
		if err := f.cache.Put(ctx, id, bad, f.clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		r, err := cimd.NewResolver(&cimd.Config{Cache: &missOnce{Cache: f.cache}, Now: f.clock.Now, Fetch: cimd.HTTPFetch(host.Client())})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Resolve(ctx, id); !errors.Is(err, cimd.ErrInvalidDocument) {
			t.Fatalf("Resolve = %v, want ErrInvalidDocument", err)
		}
		if f.cached(t, id) || host.requests.Load() != 0 {
			t.Errorf("cached %v after %d requests; want the entry evicted and no fetch", f.cached(t, id), host.requests.Load())
		}
	})
}

// Nodes share the cache: a node whose Rule rejects a document another
// node stored refuses it and evicts it.
func TestAStricterNodeRefusesWhatAnotherStored(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		errConfidential := errors.New("only public clients")
		publicOnly := func(_ string, doc map[string]any) error {
			if doc["token_endpoint_auth_method"] != "none" {
				return errConfidential
			}
			return nil
		}
		host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
			doc := document(requestURL(r))
			doc["token_endpoint_auth_method"] = "private_key_jwt"
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Write(mustJSON(t, doc))
		})
		lenient := newFixture(t, kind, host, cimd.Config{})
		strict, err := cimd.NewResolver(&cimd.Config{
			Cache: lenient.cache, Now: lenient.clock.Now, Fetch: cimd.HTTPFetch(host.Client()),
			Rules: []cimd.Rule{publicOnly},
		})
		if err != nil {
			t.Fatal(err)
		}
		id := host.clientID("/client.json")

		if _, err := lenient.resolver.Resolve(ctx, id); err != nil {
			t.Fatalf("lenient node: %v", err)
		}
		if _, err := strict.Resolve(ctx, id); !errors.Is(err, cimd.ErrInvalidDocument) || !errors.Is(err, errConfidential) {
			t.Fatalf("strict node: %v, want ErrInvalidDocument and the rule's error", err)
		}
		if lenient.cached(t, id) {
			t.Error("the strict node left the entry it refused")
		}
		if _, err := lenient.resolver.Resolve(ctx, id); err != nil {
			t.Fatalf("lenient node again: %v", err)
		}
		if n := host.requests.Load(); n != 2 {
			t.Errorf("the host got %d requests, want 2: the lenient node fetches again", n)
		}
	})
}

// versioned serves the valid document with client_name v1, v2, ... by the
// order requests arrive in, numbering each before g (if any) holds it.
func versioned(t *testing.T, g *gate) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		doc := document(requestURL(r))
		doc["client_name"] = "v" + string(rune('0'+n.Add(1)))
		serve := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Write(mustJSON(t, doc))
		}
		if g != nil {
			serve = g.wrap(serve)
		}
		serve(w, r)
	}
}

func (f *fixture) cachedName(t *testing.T, id string) any {
	t.Helper()
	doc, found, err := f.cache.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return nil
	}
	return doc["client_name"]
}

// Delete evicts the entry, and a fetch already running when it is called
// stores nothing: what it fetched may be what the administrator deleted.
// A Resolve after Delete fetches afresh instead of joining that fetch.
func TestDeleteDuringAFetch(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		g := newGate(t)
		host := newDocHost(t, versioned(t, g))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")

		type result struct {
			doc map[string]any
			err error
		}
		resolve := func() <-chan result {
			c := make(chan result, 1)
			go func() {
				doc, err := f.resolver.Resolve(ctx, id)
				c <- result{doc, err}
			}()
			return c
		}
		before := resolve()
		g.waitEntered(t)
		if err := f.resolver.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		after := resolve()
		g.waitEntered(t) // a fetch of its own, not the one before Delete
		g.release()

		if r := <-before; r.err != nil || r.doc["client_name"] != "v1" {
			t.Errorf("the caller before Delete got %v, %v; want v1", r.doc, r.err)
		}
		if r := <-after; r.err != nil || r.doc["client_name"] != "v2" {
			t.Errorf("the caller after Delete got %v, %v; want v2", r.doc, r.err)
		}
		if name := f.cachedName(t, id); name != "v2" {
			t.Errorf("cached %v, want v2: the fetch from before Delete must not store", name)
		}
	})
}

// With no Resolve after it, Delete during a fetch leaves the cache empty.
func TestDeleteDuringTheOnlyFetchLeavesNothing(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		g := newGate(t)
		host := newDocHost(t, versioned(t, g))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")

		done := make(chan error, 1)
		go func() {
			_, err := f.resolver.Resolve(ctx, id)
			done <- err
		}()
		g.waitEntered(t)
		if err := f.resolver.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		g.release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if f.cached(t, id) {
			t.Error("a fetch that began before Delete stored its document")
		}
	})
}

// Delete of a stored entry evicts it; the next Resolve fetches.
func TestDeleteEvicts(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		host := newDocHost(t, versioned(t, nil))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")
		if _, err := f.resolver.Resolve(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := f.resolver.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if f.cached(t, id) {
			t.Fatal("Delete left the entry")
		}
		doc, err := f.resolver.Resolve(ctx, id)
		if err != nil || doc["client_name"] != "v2" {
			t.Errorf("Resolve after Delete = %v, %v; want a new fetch, v2", doc, err)
		}
		if err := f.resolver.Delete(ctx, host.clientID("/never-cached")); err != nil {
			t.Errorf("Delete of an absent entry = %v", err)
		}
	})
}
