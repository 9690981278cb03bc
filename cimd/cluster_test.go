package cimd_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// node is one node of a cluster: a Resolver over a GORM cache on a pool
// of its own, on the schema every node shares, counting its own fetches.
type node struct {
	resolver *cimd.Resolver
	fetches  atomic.Int64
}

func newCluster(t *testing.T, host *docHost, n int) []*node {
	t.Helper()
	schema := testdb.Schema(t)
	clock := repotest.NewClock(repotest.Epoch)
	nodes := make([]*node, n)
	for i := range nodes {
		db := testdb.Open(t, schema, 4)
		if i == 0 {
			testdb.CreateTables(t, db)
		}
		cache, err := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		nd := &node{}
		fetch := cimd.HTTPFetch(host.Client())
		nd.resolver, err = cimd.NewResolver(&cimd.Config{
			Cache: cache,
			Now:   clock.Now,
			Fetch: func(ctx context.Context, req cimd.FetchRequest) (*cimd.Response, error) {
				nd.fetches.Add(1)
				return fetch(ctx, req)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = nd
	}
	return nodes
}

func TestSecondNodeServesTheFirstNodesFetch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := newDocHost(t, serveDocument(t, "Cache-Control: max-age=3600"))
	nodes := newCluster(t, host, 2)
	id := host.clientID("/client.json")

	for i, nd := range nodes {
		doc, err := nd.resolver.Resolve(ctx, id)
		if err != nil || !repotest.JSONEqual(doc, document(id)) {
			t.Fatalf("node %d: Resolve = %v, %v; want the document", i, doc, err)
		}
	}
	if a, b := nodes[0].fetches.Load(), nodes[1].fetches.Load(); a != 1 || b != 0 {
		t.Errorf("fetches: node A %d, node B %d; want 1 and 0", a, b)
	}
	if n := host.requests.Load(); n != 1 {
		t.Errorf("the host got %d requests, want 1", n)
	}
}

// Cold and concurrent on both nodes: each node fetches at most once, and
// the shared cache usually spares the second node its fetch.
func TestConcurrentNodesFetchAtMostOnceEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := newDocHost(t, serveDocument(t, "Cache-Control: max-age=3600"))
	nodes := newCluster(t, host, 2)
	id := host.clientID("/client.json")

	const perNode = 50
	var wg sync.WaitGroup
	var failures atomic.Int64
	start := make(chan struct{})
	for _, nd := range nodes {
		for range perNode {
			wg.Go(func() {
				<-start
				doc, err := nd.resolver.Resolve(ctx, id)
				if err != nil || !repotest.JSONEqual(doc, document(id)) {
					failures.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d resolutions failed", n)
	}
	for i, nd := range nodes {
		if n := nd.fetches.Load(); n > 1 {
			t.Errorf("node %d fetched %d times, want at most once", i, n)
		}
	}
	if n := host.requests.Load(); n < 1 || n > 2 {
		t.Errorf("the host got %d requests, want 1 or 2", n)
	}
}
