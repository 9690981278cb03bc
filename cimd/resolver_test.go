package cimd_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo/repotest"
)

func TestResolveFetchesOnAMissAndServesHitsWithoutFetching(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		host := newDocHost(t, serveDocument(t, "Cache-Control: max-age=3600"))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")

		for i := range 3 {
			doc, err := f.resolver.Resolve(ctx, id)
			if err != nil {
				t.Fatalf("Resolve #%d: %v", i+1, err)
			}
			if !repotest.JSONEqual(doc, document(id)) {
				t.Fatalf("Resolve #%d = %v, want %v", i+1, doc, document(id))
			}
			// What a caller does to its document is its own business.
			doc["client_name"] = "changed by caller"
		}
		if n := host.requests.Load(); n != 1 {
			t.Errorf("the host got %d requests, want 1", n)
		}
		if !f.cached(t, id) {
			t.Error("the document is not in the cache")
		}
	})
}

// The entry's expires_at comes from the response's headers and the
// resolver's clock: max-age=3600 with Age: 600 leaves 3000 s.
func TestExpiredEntryIsFetchedAgain(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		host := newDocHost(t, serveDocument(t, "Cache-Control: max-age=3600", "Age: 600"))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")

		steps := []struct {
			advance  time.Duration
			requests int64
		}{
			{0, 1},                  // cold: fetched, expires at t0+3000 s
			{2999 * time.Second, 1}, // t0+2999 s: still fresh
			{time.Second, 2},        // t0+3000 s: expired, fetched again
			{2999 * time.Second, 2}, // fresh again, for 3000 s from t0+3000 s
			{time.Second, 3},
		}
		for i, step := range steps {
			f.clock.Advance(step.advance)
			if _, err := f.resolver.Resolve(ctx, id); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if n := host.requests.Load(); n != step.requests {
				t.Fatalf("step %d at t0+%v: %d requests, want %d", i, f.clock.Now().Sub(repotest.Epoch), n, step.requests)
			}
		}
	})
}

// A FetchFunc may leave the times zero: the resolver reads its own clock.
// Without caching headers, the entry lives the minimum, 60 s.
func TestResolveTimesAFetchFuncWithoutTimes(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		const id = "https://app.example.com/client.json"
		var fetches atomic.Int64
		fetch := func(ctx context.Context, req cimd.FetchRequest) (*cimd.Response, error) {
			fetches.Add(1)
			return &cimd.Response{StatusCode: 200, Header: jsonHeader(), Body: mustJSON(t, document(req.ClientID))}, nil
		}
		f := newFixture(t, kind, nil, cimd.Config{Fetch: fetch})
		for i, step := range []struct {
			advance time.Duration
			fetches int64
		}{{0, 1}, {59 * time.Second, 1}, {time.Second, 2}} {
			f.clock.Advance(step.advance)
			if _, err := f.resolver.Resolve(ctx, id); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if n := fetches.Load(); n != step.fetches {
				t.Fatalf("step %d: %d fetches, want %d", i, n, step.fetches)
			}
		}
	})
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		g := newGate(t)
		host := newDocHost(t, g.wrap(serveDocument(t, "Cache-Control: max-age=3600")))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")

		const callers = 100
		type result struct {
			i   int
			doc map[string]any
			err error
			ok  bool
		}
		results := make(chan result, callers)
		start := make(chan struct{})
		for i := range callers {
			go func() {
				<-start
				doc, err := f.resolver.Resolve(ctx, id)
				ok := err == nil && repotest.JSONEqual(doc, document(id))
				if err == nil {
					doc["caller"] = i // a shared map would be a data race here
				}
				results <- result{i, doc, err, ok}
			}()
		}
		close(start)
		g.waitEntered(t)
		// Every caller has missed, and the shared fetch has checked once
		// more, while the fetch is held: all of them are waiting on it.
		waitFor(t, "every caller to miss", func() bool { return f.cache.misses.Load() == callers+1 })
		g.release()

		for range callers {
			r := <-results
			if !r.ok {
				t.Fatalf("caller %d: %v, %v; want the document", r.i, r.doc, r.err)
			}
			if r.doc["caller"] != r.i {
				t.Errorf("caller %d's document was changed by caller %v", r.i, r.doc["caller"])
			}
		}
		if n := host.requests.Load(); n != 1 {
			t.Errorf("%d concurrent resolutions made %d fetches, want 1", callers, n)
		}
	})
}

// The caller that started the shared fetch gives up; the fetch goes on for
// the others.
func TestCancelledWaiterReturnsPromptlyOthersGetTheDocument(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		g := newGate(t)
		host := newDocHost(t, g.wrap(serveDocument(t, "Cache-Control: max-age=3600")))
		f := newFixture(t, kind, host, cimd.Config{})
		id := host.clientID("/client.json")

		firstCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		firstErr := make(chan error, 1)
		go func() {
			_, err := f.resolver.Resolve(firstCtx, id)
			firstErr <- err
		}()
		g.waitEntered(t)

		const others = 5
		type result struct {
			doc map[string]any
			err error
		}
		results := make(chan result, others)
		for range others {
			go func() {
				doc, err := f.resolver.Resolve(ctx, id)
				results <- result{doc, err}
			}()
		}
		// The first caller's miss, the shared fetch's, and the others'.
		waitFor(t, "the others to miss", func() bool { return f.cache.misses.Load() == 2+others })

		cancel()
		select {
		case err := <-firstErr:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled caller got %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the cancelled caller is still waiting for the fetch")
		}
		select {
		case r := <-results:
			t.Fatalf("a caller returned %v, %v before the document was served", r.doc, r.err)
		default:
		}

		g.release()
		for range others {
			r := <-results
			if r.err != nil || !repotest.JSONEqual(r.doc, document(id)) {
				t.Fatalf("other caller got %v, %v; want the document", r.doc, r.err)
			}
		}
		if n := host.requests.Load(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
		if !f.cached(t, id) {
			t.Error("the fetch the cancelled caller started was not stored")
		}
	})
}

func TestResolveWithAnEndedContextDoesNothing(t *testing.T) {
	t.Parallel()
	host := newDocHost(t, serveDocument(t))
	f := newFixture(t, cacheKinds[0], host, cimd.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.resolver.Resolve(ctx, host.clientID("/c")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Resolve = %v, want context.Canceled", err)
	}
	if n, m := host.requests.Load(), f.cache.misses.Load(); n != 0 || m != 0 {
		t.Errorf("%d fetches and %d cache lookups, want none", n, m)
	}
}

// The shared fetch runs under FetchTimeout, whatever the callers' contexts.
func TestFetchTimeout(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		g := newGate(t) // never released while the test runs
		host := newDocHost(t, g.wrap(serveDocument(t)))
		f := newFixture(t, kind, host, cimd.Config{FetchTimeout: 100 * time.Millisecond})
		id := host.clientID("/client.json")

		// The host never answers: only the fetch timeout ends the call.
		_, err := f.resolver.Resolve(context.Background(), id)
		if !errors.Is(err, cimd.ErrFetch) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Resolve = %v, want ErrFetch and context.DeadlineExceeded", err)
		}
		if f.cached(t, id) {
			t.Error("a timed-out fetch left an entry")
		}
	})
}

func TestInvalidClientIDIsNeitherLookedUpNorFetched(t *testing.T) {
	t.Parallel()
	host := newDocHost(t, serveDocument(t))
	f := newFixture(t, cacheKinds[0], host, cimd.Config{})
	for _, id := range []string{"", "http" + strings.TrimPrefix(host.clientID("/c"), "https"), host.URL, host.clientID("/c#x"), host.clientID("/../c")} {
		_, err := f.resolver.Resolve(context.Background(), id)
		if !errors.Is(err, cimd.ErrInvalidClientID) {
			t.Errorf("Resolve(%q) = %v, want ErrInvalidClientID", id, err)
		}
	}
	if n, m := host.requests.Load(), f.cache.misses.Load(); n != 0 || m != 0 {
		t.Errorf("%d fetches and %d cache lookups, want none", n, m)
	}
}

// A rule runs on documents that passed the draft's rules, with the
// client_id, and its error is returned wrapped.
func TestRules(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		ctx := context.Background()
		errConfidential := errors.New("only public clients")
		var calls atomic.Int64
		publicOnly := func(clientID string, doc map[string]any) error {
			calls.Add(1)
			if doc["client_id"] != clientID {
				return fmt.Errorf("rule saw client_id %v for %s", doc["client_id"], clientID)
			}
			if doc["token_endpoint_auth_method"] != "none" {
				return errConfidential
			}
			return nil
		}
		host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
			doc := document(requestURL(r))
			switch r.URL.Path {
			case "/confidential":
				doc["token_endpoint_auth_method"] = "private_key_jwt"
			case "/secret":
				doc["client_secret"] = "s3cret" // fails the draft's rules first
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(mustJSON(t, doc))
		})
		f := newFixture(t, kind, host, cimd.Config{Rules: []cimd.Rule{publicOnly}})

		if _, err := f.resolver.Resolve(ctx, host.clientID("/public")); err != nil {
			t.Errorf("public client: %v", err)
		}
		_, err := f.resolver.Resolve(ctx, host.clientID("/confidential"))
		if !errors.Is(err, cimd.ErrInvalidDocument) || !errors.Is(err, errConfidential) {
			t.Errorf("confidential client: %v, want ErrInvalidDocument and the rule's error", err)
		}
		if _, err := f.resolver.Resolve(ctx, host.clientID("/secret")); !errors.Is(err, cimd.ErrInvalidDocument) {
			t.Errorf("client with a secret: %v, want ErrInvalidDocument", err)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("the rule ran %d times, want 2 (not on the document the draft's rules reject)", n)
		}
		if f.cached(t, host.clientID("/confidential")) || !f.cached(t, host.clientID("/public")) {
			t.Error("want only the public client cached")
		}
	})
}

// A panic in the shared fetch fails that resolution instead of the process.
func TestPanicInTheSharedFetchIsAnError(t *testing.T) {
	t.Parallel()
	host := newDocHost(t, serveDocument(t))
	panics := true
	rule := func(string, map[string]any) error {
		if panics {
			panic("rule bug")
		}
		return nil
	}
	f := newFixture(t, cacheKinds[0], host, cimd.Config{Rules: []cimd.Rule{rule}})
	id := host.clientID("/c")
	if _, err := f.resolver.Resolve(context.Background(), id); !errors.Is(err, cimd.ErrFetch) || !strings.Contains(err.Error(), "rule bug") {
		t.Fatalf("Resolve = %v, want ErrFetch with the panic", err)
	}
	panics = false
	if _, err := f.resolver.Resolve(context.Background(), id); err != nil {
		t.Fatalf("Resolve after the panic = %v", err)
	}
}
