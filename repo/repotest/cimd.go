package repotest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attesto/gormstore/repo"
)

// CacheFactory returns a new, empty cache that reads the time from now.
type CacheFactory func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache

const cimdURL = "https://app.example.com/oauth/client-metadata.json"

// RunClientIDMetadataCache runs the conformance suite against the caches
// newCache returns, one new cache per subtest. opts may be nil.
func RunClientIDMetadataCache(t *testing.T, newCache CacheFactory, opts *Options) {
	maxKey := opts.maxKeyBytes()
	setup := func(t *testing.T) (repo.ClientIDMetadataCache, *Clock) {
		t.Parallel()
		clock := NewClock(Epoch)
		return newCache(t, clock.Now), clock
	}
	ctx := context.Background()

	t.Run("GetMissesAnAbsentURL", func(t *testing.T) {
		c, _ := setup(t)
		mustMiss(t, "Get", c.Get, cimdURL)
	})

	t.Run("PutThenGetRoundTripsEveryDocument", func(t *testing.T) {
		c, clock := setup(t)
		docs := Documents()
		for _, name := range sortedKeys(docs) {
			mustOK(t, "Put "+name, c.Put(ctx, cimdURL+"/"+name, docs[name], clock.Now().Add(time.Hour)))
		}
		for _, name := range sortedKeys(docs) {
			mustHit(t, "Get", c.Get, cimdURL+"/"+name, docs[name])
		}
	})

	t.Run("ServesOnlyUntilExpiresAt", func(t *testing.T) {
		c, clock := setup(t)
		doc := Documents()["minimal"]
		mustOK(t, "Put", c.Put(ctx, cimdURL, doc, clock.Now().Add(60*time.Second)))
		clock.Advance(59 * time.Second)
		mustHit(t, "Get one second before expiry", c.Get, cimdURL, doc)
		clock.Advance(time.Second)
		mustMiss(t, "Get at expires_at", c.Get, cimdURL)
		clock.Advance(time.Hour)
		mustMiss(t, "Get after expiry", c.Get, cimdURL)
	})

	t.Run("GetDoesNotConsume", func(t *testing.T) {
		c, clock := setup(t)
		doc := Documents()["minimal"]
		mustOK(t, "Put", c.Put(ctx, cimdURL, doc, clock.Now().Add(time.Minute)))
		for range 3 {
			mustHit(t, "Get", c.Get, cimdURL, doc)
		}
	})

	t.Run("PutReplacesDocumentAndExpiry", func(t *testing.T) {
		c, clock := setup(t)
		first, second := Documents()["minimal"], Documents()["nested"]
		mustOK(t, "first Put", c.Put(ctx, cimdURL, first, clock.Now().Add(60*time.Second)))
		mustOK(t, "second Put", c.Put(ctx, cimdURL, second, clock.Now().Add(120*time.Second)))
		mustHit(t, "Get", c.Get, cimdURL, second)
		clock.Advance(90 * time.Second)
		mustHit(t, "Get past the first expiry", c.Get, cimdURL, second)
		clock.Advance(30 * time.Second)
		mustMiss(t, "Get at the second expiry", c.Get, cimdURL)
	})

	t.Run("PutCanShortenExpiry", func(t *testing.T) {
		c, clock := setup(t)
		doc := Documents()["minimal"]
		mustOK(t, "first Put", c.Put(ctx, cimdURL, doc, clock.Now().Add(time.Hour)))
		mustOK(t, "second Put", c.Put(ctx, cimdURL, doc, clock.Now().Add(30*time.Second)))
		clock.Advance(30 * time.Second)
		mustMiss(t, "Get at the newer, shorter expiry", c.Get, cimdURL)
	})

	t.Run("PutReplacesAnExpiredEntry", func(t *testing.T) {
		c, clock := setup(t)
		old, fresh := Documents()["minimal"], Documents()["text"]
		mustOK(t, "Put", c.Put(ctx, cimdURL, old, clock.Now().Add(time.Minute)))
		clock.Advance(2 * time.Minute)
		mustMiss(t, "Get of the expired entry", c.Get, cimdURL)
		mustOK(t, "re-fetch Put", c.Put(ctx, cimdURL, fresh, clock.Now().Add(time.Minute)))
		mustHit(t, "Get", c.Get, cimdURL, fresh)
	})

	t.Run("DeleteEvicts", func(t *testing.T) {
		c, clock := setup(t)
		doc := Documents()["minimal"]
		mustOK(t, "Put", c.Put(ctx, cimdURL, doc, clock.Now().Add(time.Hour)))
		mustOK(t, "Put other", c.Put(ctx, cimdURL+"?v=2", doc, clock.Now().Add(time.Hour)))
		mustOK(t, "Delete", c.Delete(ctx, cimdURL))
		mustMiss(t, "Get after Delete", c.Get, cimdURL)
		mustHit(t, "Get of another URL", c.Get, cimdURL+"?v=2", doc)
		mustOK(t, "Delete again", c.Delete(ctx, cimdURL))
		mustOK(t, "Delete of a never-stored URL", c.Delete(ctx, "https://absent.example/c.json"))
		for _, bk := range badKeys("https://x.example/") {
			mustOK(t, "Delete of a malformed key ("+bk.name+")", c.Delete(ctx, bk.key))
		}
	})

	t.Run("DeleteAllEvictsEverything", func(t *testing.T) {
		c, clock := setup(t)
		mustOK(t, "DeleteAll on an empty cache", c.DeleteAll(ctx))
		for i := range 5 {
			mustOK(t, "Put", c.Put(ctx, fmt.Sprintf("%s/%d", cimdURL, i), Documents()["minimal"], clock.Now().Add(time.Hour)))
		}
		mustOK(t, "DeleteAll", c.DeleteAll(ctx))
		for i := range 5 {
			mustMiss(t, "Get after DeleteAll", c.Get, fmt.Sprintf("%s/%d", cimdURL, i))
		}
		mustOK(t, "Put after DeleteAll", c.Put(ctx, cimdURL, Documents()["minimal"], clock.Now().Add(time.Hour)))
		mustHit(t, "Get after DeleteAll and Put", c.Get, cimdURL, Documents()["minimal"])
	})

	t.Run("RejectsBadInputAndWritesNothing", func(t *testing.T) {
		c, clock := setup(t)
		good := Documents()["minimal"]
		// A valid entry that every failed Put below must leave intact.
		mustOK(t, "Put", c.Put(ctx, cimdURL, good, clock.Now().Add(time.Hour)))
		for _, bk := range badKeys("https://x.example/") {
			mustInvalid(t, "Put with a key "+bk.name, c.Put(ctx, bk.key, good, clock.Now().Add(time.Hour)), "url")
		}
		for _, bd := range badDocs() {
			mustInvalid(t, "Put with a document "+bd.name, c.Put(ctx, cimdURL, bd.doc, clock.Now().Add(2*time.Hour)), "metadata")
		}
		for name, exp := range map[string]time.Time{
			"missing (zero)": {},
			"equal to now":   clock.Now(),
			"in the past":    clock.Now().Add(-time.Second),
			"out of range":   time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			mustInvalid(t, "Put with expires_at "+name, c.Put(ctx, cimdURL, Documents()["text"], exp), "expires_at")
		}
		mustHit(t, "Get of the entry the failed Puts must not touch", c.Get, cimdURL, good)
		clock.Advance(time.Hour)
		mustMiss(t, "Get at the original expiry", c.Get, cimdURL)
		// And a failed Put of a new URL stores nothing.
		mustInvalid(t, "Put of a new URL with a NaN", c.Put(ctx, cimdURL+"/new", badDocs()[1].doc, clock.Now().Add(time.Hour)), "metadata")
		mustMiss(t, "Get of the rejected URL", c.Get, cimdURL+"/new")
	})

	t.Run("MissingExpiryNamesTheField", func(t *testing.T) {
		c, _ := setup(t)
		err := c.Put(ctx, cimdURL, Documents()["minimal"], time.Time{})
		mustInvalid(t, "Put without expires_at", err, "expires_at")
		if !strings.Contains(err.Error(), "expires_at: can't be blank") {
			t.Fatalf("error %q does not read \"expires_at: can't be blank\"", err)
		}
	})

	t.Run("AcceptsTheLongestKey", func(t *testing.T) {
		c, clock := setup(t)
		key := longKey("https://x.example/", maxKey)
		mustOK(t, "Put of the longest URL", c.Put(ctx, key, Documents()["minimal"], clock.Now().Add(time.Hour)))
		mustHit(t, "Get of the longest URL", c.Get, key, Documents()["minimal"])
		mustInvalid(t, "Put of a URL one byte longer", c.Put(ctx, key+"k", Documents()["minimal"], clock.Now().Add(time.Hour)), "url")
		mustMiss(t, "Get of the rejected URL", c.Get, key+"k")
	})

	t.Run("MalformedKeyLookupIsAMiss", func(t *testing.T) {
		c, _ := setup(t)
		for _, bk := range badKeys("https://x.example/") {
			mustMiss(t, "Get ("+bk.name+")", c.Get, bk.key)
		}
	})

	t.Run("KeysMatchLiterally", func(t *testing.T) {
		c, clock := setup(t)
		for _, key := range []string{"https://x.example/%", "https://x.example/a_c", "https://x.example/'--"} {
			mustOK(t, "Put "+key, c.Put(ctx, key, map[string]any{"k": key}, clock.Now().Add(time.Hour)))
		}
		mustHit(t, "Get", c.Get, "https://x.example/%", map[string]any{"k": "https://x.example/%"})
		mustHit(t, "Get", c.Get, "https://x.example/'--", map[string]any{"k": "https://x.example/'--"})
		mustMiss(t, "Get of a wildcard", c.Get, "https://x.example/_")
		mustMiss(t, "Get of a wildcard", c.Get, "https://x.example/a%")
		mustMiss(t, "Get of a case variant", c.Get, "HTTPS://x.example/%")
	})

	// Keys compare byte for byte: no case folding, no padding, on any
	// database collation.
	t.Run("KeysAreByteExact", func(t *testing.T) {
		c, clock := setup(t)
		long := longKey("https://x.example/", maxKey)
		longOther := long[:len(long)-1] + "j"
		keys := []string{"https://a.example/x", "https://A.example/x", "https://a.example/X", "https://a.example/x ", long, longOther}
		for _, key := range keys {
			mustOK(t, "Put "+key, c.Put(ctx, key, map[string]any{"k": key}, clock.Now().Add(time.Hour)))
		}
		for _, key := range keys {
			mustHit(t, "Get "+key, c.Get, key, map[string]any{"k": key})
		}
		mustMiss(t, "Get of a variant never stored", c.Get, "https://A.example/X")
		mustMiss(t, "Get with two trailing spaces", c.Get, "https://a.example/x  ")
	})

	t.Run("DocumentsAreCopies", func(t *testing.T) {
		c, clock := setup(t)
		doc := map[string]any{"client_name": "before", "list": []any{"a"}}
		mustOK(t, "Put", c.Put(ctx, cimdURL, doc, clock.Now().Add(time.Hour)))
		doc["client_name"] = "changed after Put"
		got := mustHit(t, "Get", c.Get, cimdURL, map[string]any{"client_name": "before", "list": []any{"a"}})
		got["client_name"] = "changed by a reader"
		got["list"].([]any)[0] = "z"
		mustHit(t, "Get again", c.Get, cimdURL, map[string]any{"client_name": "before", "list": []any{"a"}})
	})

	t.Run("ConcurrentPutsOfOneURLLeaveOneWrittenDocument", func(t *testing.T) {
		c, clock := setup(t)
		const writers = 32
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Go(func() {
				errs <- c.Put(ctx, cimdURL, map[string]any{"writer": i}, clock.Now().Add(time.Hour))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			mustOK(t, "concurrent Put", err)
		}
		got := mustHit(t, "Get", c.Get, cimdURL, nil)
		ok := false
		for i := range writers {
			ok = ok || JSONEqual(got, map[string]any{"writer": i})
		}
		if !ok || len(got) != 1 {
			t.Fatalf("Get = %s, want the document of one writer", show(got))
		}
	})
}
