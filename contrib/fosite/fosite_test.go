package gormfosite_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/attesto/gormstore/internal/testdb"
)

// A request pushed to node A is authorized on node B, and the code node B
// issued is redeemed, with PKCE, on node A.
func TestPushOnAAuthorizeOnBExchangeOnA(t *testing.T) {
	for _, helper := range []bool{false, true} {
		t.Run(map[bool]string{false: "fosite's request binds", true: "WithPresentingClient binds"}[helper], func(t *testing.T) {
			c := newCluster(t, clusterOptions{helper: helper})
			a, b := c.nodes[0], c.nodes[1]
			p := newPKCE()
			form := pushForm(appClientID, p)
			requestURI := c.push(t, a, form)
			if n := testdb.Count(t, c.pools[1], "attesto_pushed_authorization_requests"); n != 1 {
				t.Fatalf("node B's pool sees %d pushed requests, want 1", n)
			}

			r := c.authorize(t, b, appClientID, requestURI)
			if r.status != http.StatusSeeOther || r.get("code") == "" {
				t.Fatalf("authorize on B: %d %v %s", r.status, r.params, r.body)
			}
			// The pushed state comes back: the request was the pushed one.
			if r.get("state") != form.Get("state") {
				t.Fatalf("state %q, want the pushed %q", r.get("state"), form.Get("state"))
			}
			if n := testdb.Count(t, c.pools[0], "attesto_pushed_authorization_requests"); n != 0 {
				t.Fatalf("%d pushed requests left after authorize, want 0", n)
			}

			tok := c.exchange(t, a, r.get("code"), p, map[string][]string{"client_id": {appClientID}})
			if tok.status != http.StatusOK || tok.get("access_token") == "" || tok.get("id_token") == "" {
				t.Fatalf("exchange on A: %d %s", tok.status, tok.body)
			}
			if tok.get("scope") != "openid profile" {
				t.Fatalf("scope %q, want the pushed %q", tok.get("scope"), "openid profile")
			}

			// The code challenge is the pushed one: another verifier is
			// refused.
			p2 := newPKCE()
			r2 := c.authorize(t, b, appClientID, c.push(t, a, pushForm(appClientID, p2)))
			if r2.get("code") == "" {
				t.Fatalf("second authorize on B: %d %v %s", r2.status, r2.params, r2.body)
			}
			if bad := c.exchange(t, a, r2.get("code"), newPKCE(), map[string][]string{"client_id": {appClientID}}); bad.status != http.StatusBadRequest || bad.get("error") != "invalid_grant" {
				t.Fatalf("exchange with another verifier: %d %s, want 400 invalid_grant", bad.status, bad.body)
			}
		})
	}
}

// authorizeRace presents one request_uri at /authorize n times at once,
// alternating between the nodes, and returns the codes issued and the
// error codes of the others.
func authorizeRace(t *testing.T, c *cluster, n int, requestURI string) (codes []string, errs map[string]int) {
	t.Helper()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	errs = map[string]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := c.authorize(t, c.nodes[i%2], appClientID, requestURI)
			mu.Lock()
			defer mu.Unlock()
			if code := r.get("code"); code != "" {
				codes = append(codes, code)
			} else {
				errs[r.get("error")]++
			}
		}()
	}
	close(start)
	wg.Wait()
	return codes, errs
}

const racers = 16

// Of 16 concurrent presentations of one request_uri across both nodes,
// exactly one gets a code; every other is told invalid_request_uri. The
// code is then redeemed.
func TestConcurrentAuthorizeExactlyOne(t *testing.T) {
	for _, gated := range []bool{false, true} {
		name := "free-running"
		if gated {
			name = "every Get before any Delete"
		}
		t.Run(name, func(t *testing.T) {
			opts := clusterOptions{}
			if gated {
				opts.gate = newGate(racers)
			}
			c := newCluster(t, opts)
			p := newPKCE()
			requestURI := c.push(t, c.nodes[0], pushForm(appClientID, p))
			codes, errs := authorizeRace(t, c, racers, requestURI)
			if len(codes) != 1 || errs["invalid_request_uri"] != racers-1 {
				t.Fatalf("%d codes, other answers %v; want 1 code and %d invalid_request_uri", len(codes), errs, racers-1)
			}
			tok := c.exchange(t, c.nodes[0], codes[0], p, map[string][]string{"client_id": {appClientID}})
			if tok.status != http.StatusOK {
				t.Fatalf("exchange: %d %s", tok.status, tok.body)
			}
		})
	}
}

// The same race on fosite's own storage.MemoryStore, shared by both nodes
// (its best case: per node, node B would not find node A's push at all).
// fosite's authorizeRequestFromPAR reads the request, then deletes it, in
// two steps, and the memory Delete of a missing entry succeeds: when every
// Get runs before any Delete, all 16 presentations get a code. Free
// running, the window between Get and Delete is a few instructions: the
// count depends on scheduling and is logged, and the test asserts that
// every round issues at least one.
func TestConcurrentAuthorizeMemoryStore(t *testing.T) {
	t.Run("every Get before any Delete", func(t *testing.T) {
		c := newCluster(t, clusterOptions{memory: true, gate: newGate(racers)})
		requestURI := c.push(t, c.nodes[0], pushForm(appClientID, newPKCE()))
		codes, errs := authorizeRace(t, c, racers, requestURI)
		t.Logf("fosite MemoryStore, gated: %d of %d presentations got a code (others: %v)", len(codes), racers, errs)
		if len(codes) != racers {
			t.Fatalf("%d codes, want all %d: fosite's Get-then-Delete is not single use", len(codes), racers)
		}
	})
	t.Run("free-running", func(t *testing.T) {
		const rounds = 20
		total, most := 0, 0
		for range rounds {
			c := newCluster(t, clusterOptions{memory: true})
			requestURI := c.push(t, c.nodes[0], pushForm(appClientID, newPKCE()))
			codes, _ := authorizeRace(t, c, racers, requestURI)
			if len(codes) == 0 {
				t.Fatal("no presentation got a code")
			}
			total += len(codes)
			most = max(most, len(codes))
		}
		t.Logf("fosite MemoryStore, free-running: %d codes in %d rounds of %d presentations, at most %d in one round", total, rounds, racers, most)
	})
}

// Another client presenting the request_uri is refused and does not
// consume it: the owner still succeeds afterwards. On fosite's
// MemoryStore the other client is refused too, but only after fosite has
// deleted the request: the owner is then refused.
func TestAnotherClientPresents(t *testing.T) {
	for _, tc := range []struct {
		name         string
		opts         clusterOptions
		otherError   string
		ownerSucceed bool
	}{
		{"gormfosite, fosite's request binds", clusterOptions{}, "invalid_request_uri", true},
		{"gormfosite, WithPresentingClient binds", clusterOptions{helper: true}, "invalid_request_uri", true},
		{"fosite MemoryStore", clusterOptions{memory: true}, "invalid_request", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.opts)
			p := newPKCE()
			requestURI := c.push(t, c.nodes[0], pushForm(appClientID, p))
			other := c.authorize(t, c.nodes[1], otherClientID, requestURI)
			if other.get("code") != "" || other.get("error") != tc.otherError {
				t.Fatalf("other client: %d %v %s; want error %s", other.status, other.params, other.body, tc.otherError)
			}
			owner := c.authorize(t, c.nodes[0], appClientID, requestURI)
			if got := owner.get("code") != ""; got != tc.ownerSucceed {
				t.Fatalf("owner afterwards: %d %v %s; want success %v", owner.status, owner.params, owner.body, tc.ownerSucceed)
			}
			if !tc.ownerSucceed {
				t.Logf("fosite MemoryStore: the owner is refused with %s after another client presented its request_uri", owner.get("error"))
				return
			}
			if tok := c.exchange(t, c.nodes[1], owner.get("code"), p, map[string][]string{"client_id": {appClientID}}); tok.status != http.StatusOK {
				t.Fatalf("exchange: %d %s", tok.status, tok.body)
			}
		})
	}
}
