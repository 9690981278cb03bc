package repotest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/repo"
)

// PARFactory returns a new, empty store that reads the time from now.
type PARFactory func(t *testing.T, now func() time.Time) repo.PARStore

const requestURI = "urn:ietf:params:oauth:request_uri:bwc4JK-ESC0w8acc191e-Y1LTC2"

// withClient returns a copy of doc with pushed()'s client_id, which every
// pushed request needs, so that a test of something else gets past it.
func withClient(doc map[string]any) map[string]any {
	out := maps.Clone(doc)
	out["client_id"] = pushed()["client_id"]
	return out
}

func pushed() map[string]any {
	return map[string]any{
		"response_type":         "code",
		"client_id":             "https://app.example.com/oauth/client-metadata.json",
		"redirect_uri":          "https://app.example.com/callback",
		"scope":                 "openid profile",
		"state":                 "af0ifjsldkj",
		"code_challenge":        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		"code_challenge_method": "S256",
		"max_age":               900,
		"claims":                map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true}}},
	}
}

// RunPARStore runs the conformance suite against the stores newStore
// returns, one new store per subtest. opts may be nil.
func RunPARStore(t *testing.T, newStore PARFactory, opts *Options) {
	maxKey := opts.maxKeyBytes()
	setup := func(t *testing.T) (repo.PARStore, *Clock) {
		t.Parallel()
		clock := NewClock(Epoch)
		return newStore(t, clock.Now), clock
	}
	ctx := context.Background()

	t.Run("FetchAndTakeMissAnAbsentURI", func(t *testing.T) {
		s, _ := setup(t)
		mustMiss(t, "Fetch", s.Fetch, requestURI)
		mustMiss(t, "Take", s.Take, requestURI)
	})

	t.Run("FetchDoesNotConsume", func(t *testing.T) {
		s, _ := setup(t)
		mustOK(t, "Put", s.Put(ctx, requestURI, pushed(), time.Minute))
		for range 3 {
			mustHit(t, "Fetch", s.Fetch, requestURI, pushed())
		}
		mustHit(t, "Take after Fetch", s.Take, requestURI, pushed())
	})

	t.Run("TakeIsSingleUse", func(t *testing.T) {
		s, _ := setup(t)
		mustOK(t, "Put", s.Put(ctx, requestURI, pushed(), time.Minute))
		mustHit(t, "Take", s.Take, requestURI, pushed())
		mustMiss(t, "second Take", s.Take, requestURI)
		mustMiss(t, "Fetch after Take", s.Fetch, requestURI)
	})

	t.Run("ServesOnlyForTTL", func(t *testing.T) {
		s, clock := setup(t)
		mustOK(t, "Put", s.Put(ctx, requestURI, pushed(), 60*time.Second))
		clock.Advance(59 * time.Second)
		mustHit(t, "Fetch one second before expiry", s.Fetch, requestURI, pushed())
		clock.Advance(time.Second)
		mustMiss(t, "Fetch at expires_at", s.Fetch, requestURI)
		mustMiss(t, "Take at expires_at", s.Take, requestURI)
		clock.Advance(-time.Second)
		mustHit(t, "Take one second before expiry (the expired Take consumed nothing)", s.Take, requestURI, pushed())
	})

	t.Run("RoundTripsEveryDocument", func(t *testing.T) {
		s, _ := setup(t)
		docs := Documents()
		for _, name := range sortedKeys(docs) {
			mustOK(t, "Put "+name, s.Put(ctx, requestURI+name, withClient(docs[name]), time.Minute))
		}
		for _, name := range sortedKeys(docs) {
			mustHit(t, "Fetch", s.Fetch, requestURI+name, withClient(docs[name]))
			mustHit(t, "Take", s.Take, requestURI+name, withClient(docs[name]))
		}
	})

	t.Run("DuplicateRequestURIIsAnErrorAndKeepsTheOriginal", func(t *testing.T) {
		s, clock := setup(t)
		mustOK(t, "Put", s.Put(ctx, requestURI, pushed(), time.Minute))
		err := s.Put(ctx, requestURI, withClient(map[string]any{"other": "request"}), 5*time.Minute)
		if !errors.Is(err, repo.ErrDuplicate) {
			t.Fatalf("duplicate Put: error %v does not match repo.ErrDuplicate", err)
		}
		// A collision of the server's own request_uri, not the client's bad
		// input: "ErrInvalid means 400" must stay right for callers.
		if errors.Is(err, changesets.ErrInvalid) {
			t.Fatalf("duplicate Put: error %v matches changesets.ErrInvalid", err)
		}
		if !strings.Contains(err.Error(), "request_uri has already been taken") {
			t.Fatalf("duplicate Put: error %q, want it to say request_uri has already been taken", err)
		}
		mustHit(t, "Fetch of the original", s.Fetch, requestURI, pushed())
		clock.Advance(time.Minute)
		mustMiss(t, "Fetch at the original's expiry", s.Fetch, requestURI)
	})

	t.Run("DropsClientAuthenticationSecrets", func(t *testing.T) {
		s, _ := setup(t)
		in := pushed()
		in["client_secret"] = "s3cr3t"
		in["client_assertion"] = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjIn0.c2ln"
		in["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
		mustOK(t, "Put", s.Put(ctx, requestURI, in, time.Minute))
		mustHit(t, "Fetch", s.Fetch, requestURI, pushed())
		if _, ok := in["client_secret"]; !ok {
			t.Fatal("Put removed client_secret from the caller's map")
		}
	})

	t.Run("RejectsBadInputAndWritesNothing", func(t *testing.T) {
		s, _ := setup(t)
		for _, bk := range badKeys("urn:ietf:params:oauth:request_uri:") {
			mustInvalid(t, "Put with a key "+bk.name, s.Put(ctx, bk.key, pushed(), time.Minute), "request_uri")
		}
		for i, bd := range badDocs() {
			uri := fmt.Sprintf("%s-bad-%d", requestURI, i)
			mustInvalid(t, "Put with params "+bd.name, s.Put(ctx, uri, bd.doc, time.Minute), "params")
			mustMiss(t, "Fetch after a rejected Put ("+bd.name+")", s.Fetch, uri)
		}
		for _, ttl := range []time.Duration{0, -time.Nanosecond, -time.Hour} {
			uri := fmt.Sprintf("%s-ttl%d", requestURI, ttl)
			mustInvalid(t, fmt.Sprintf("Put with ttl %v", ttl), s.Put(ctx, uri, pushed(), ttl), "expires_at")
			mustMiss(t, "Fetch after a rejected Put", s.Fetch, uri)
		}
		// The rejected requests took no request_uri.
		for i := range badDocs() {
			mustOK(t, "Put of a request_uri a rejected Put named", s.Put(ctx, fmt.Sprintf("%s-bad-%d", requestURI, i), pushed(), time.Minute))
		}
	})

	// RFC 6749 section 4.1.1: client_id is REQUIRED, and the stores bind a
	// request to it. Params without a non-empty client_id string are
	// refused, naming client_id, whatever Go type held them, and write
	// nothing: neither Fetch nor a later Put of the same request_uri finds
	// a row.
	t.Run("RequiresAClientIDString", func(t *testing.T) {
		s, _ := setup(t)
		refused := refusedClientIDs()
		for i, tc := range refused {
			uri := fmt.Sprintf("%s-client-%d", requestURI, i)
			err := s.Put(ctx, uri, tc.params, time.Minute)
			mustInvalid(t, "Put with a client_id "+tc.name, err, "params")
			if !strings.Contains(err.Error(), "client_id") {
				t.Errorf("Put with a client_id %s: error %q does not name client_id", tc.name, err)
			}
			mustMiss(t, "Fetch after a Put with a client_id "+tc.name, s.Fetch, uri)
		}
		for i := range refused {
			mustOK(t, "Put of a request_uri a refused Put named", s.Put(ctx, fmt.Sprintf("%s-client-%d", requestURI, i), pushed(), time.Minute))
		}
	})

	t.Run("AcceptsTheLongestKey", func(t *testing.T) {
		s, _ := setup(t)
		key := longKey("urn:ietf:params:oauth:request_uri:", maxKey)
		mustOK(t, "Put of the longest request_uri", s.Put(ctx, key, pushed(), time.Minute))
		mustHit(t, "Take of the longest request_uri", s.Take, key, pushed())
		mustInvalid(t, "Put of a request_uri one byte longer", s.Put(ctx, key+"k", pushed(), time.Minute), "request_uri")
		mustMiss(t, "Fetch of the rejected request_uri", s.Fetch, key+"k")
	})

	t.Run("MalformedKeyLookupIsAMiss", func(t *testing.T) {
		s, _ := setup(t)
		for _, bk := range badKeys("urn:ietf:params:oauth:request_uri:") {
			mustMiss(t, "Fetch ("+bk.name+")", s.Fetch, bk.key)
			mustMiss(t, "Take ("+bk.name+")", s.Take, bk.key)
		}
	})

	t.Run("KeysMatchLiterally", func(t *testing.T) {
		s, _ := setup(t)
		mustOK(t, "Put", s.Put(ctx, "urn:x:%", withClient(map[string]any{"k": "%"}), time.Minute))
		mustMiss(t, "Fetch of a wildcard", s.Fetch, "urn:x:_")
		mustMiss(t, "Take of a wildcard", s.Take, "urn:x:%%")
		mustHit(t, "Take", s.Take, "urn:x:%", withClient(map[string]any{"k": "%"}))
	})

	t.Run("KeysAreByteExact", func(t *testing.T) {
		s, _ := setup(t)
		long := longKey("urn:x:", maxKey)
		longOther := long[:len(long)-1] + "j"
		keys := []string{"urn:x:a", "urn:x:A", "urn:x:a ", long, longOther}
		for _, key := range keys {
			mustOK(t, "Put "+key, s.Put(ctx, key, withClient(map[string]any{"k": key}), time.Minute))
		}
		mustMiss(t, "Fetch with two trailing spaces", s.Fetch, "urn:x:a  ")
		for _, key := range keys {
			mustHit(t, "Take "+key, s.Take, key, withClient(map[string]any{"k": key}))
		}
	})

	// RFC 9126 section 2.2: a short lifetime. The stores' default maximum
	// is 10 minutes; the message names the ttl the caller gave.
	t.Run("TTLIsPositiveAndBounded", func(t *testing.T) {
		s, _ := setup(t)
		mustOK(t, "Put for the longest ttl", s.Put(ctx, requestURI, pushed(), 10*time.Minute))
		for _, tc := range []struct {
			ttl  time.Duration
			says string
		}{
			{10*time.Minute + time.Nanosecond, "the ttl 10m0.000000001s exceeds the store's maximum of 10m0s"},
			{math.MaxInt64, "exceeds the store's maximum"},
			{0, "the ttl 0s is not positive"},
			{-time.Second, "the ttl -1s is not positive"},
		} {
			err := s.Put(ctx, requestURI+"-bad", pushed(), tc.ttl)
			mustInvalid(t, fmt.Sprintf("Put for %v", tc.ttl), err, "expires_at")
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Put for %v = %v, want it to say %q", tc.ttl, err, tc.says)
			}
		}
		mustMiss(t, "Fetch of the refused requests", s.Fetch, requestURI+"-bad")
	})

	t.Run("ParamsAreCopies", func(t *testing.T) {
		s, _ := setup(t)
		in := withClient(map[string]any{"scope": "openid"})
		mustOK(t, "Put", s.Put(ctx, requestURI, in, time.Minute))
		in["scope"] = "admin"
		got := mustHit(t, "Fetch", s.Fetch, requestURI, withClient(map[string]any{"scope": "openid"}))
		got["scope"] = "admin"
		mustHit(t, "Take", s.Take, requestURI, withClient(map[string]any{"scope": "openid"}))
	})

	t.Run("ConcurrentTakesHaveExactlyOneWinner", func(t *testing.T) {
		s, _ := setup(t)
		const uris, takers = 20, 16
		for i := range uris {
			mustOK(t, "Put", s.Put(ctx, fmt.Sprintf("%s-%d", requestURI, i), withClient(map[string]any{"i": i}), time.Minute))
		}
		var wins [uris]atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, uris*takers)
		for i := range uris {
			for range takers {
				wg.Go(func() {
					got, found, err := s.Take(ctx, fmt.Sprintf("%s-%d", requestURI, i))
					if err != nil {
						errs <- err
						return
					}
					if found {
						wins[i].Add(1)
						if !JSONEqual(got, withClient(map[string]any{"i": i})) {
							errs <- fmt.Errorf("Take %d returned %s", i, show(got))
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range uris {
			if n := wins[i].Load(); n != 1 {
				t.Errorf("request_uri %d was taken %d times, want exactly once", i, n)
			}
		}
	})
}
