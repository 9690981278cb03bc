package repo_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// Two pools on one schema stand for two nodes of a cluster.
func TestStateIsSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := testdb.Schema(t)
	nodeA, nodeB := testdb.Open(t, schema, 4), testdb.Open(t, schema, 4)
	testdb.CreateTables(t, nodeA)
	clock := repotest.NewClock(repotest.Epoch)
	cfg := &repo.Config{Now: clock.Now}
	cacheA, _ := repo.NewGormClientIDMetadataCache(nodeA, cfg)
	cacheB, _ := repo.NewGormClientIDMetadataCache(nodeB, cfg)
	parA, _ := repo.NewGormPARStore(nodeA, cfg)
	parB, _ := repo.NewGormPARStore(nodeB, cfg)

	doc := map[string]any{"client_id": "https://c.example/m.json", "client_name": "C"}
	if err := cacheA.Put(ctx, "https://c.example/m.json", doc, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, found, err := cacheB.Get(ctx, "https://c.example/m.json")
	if err != nil || !found || !repotest.JSONEqual(got, doc) {
		t.Fatalf("node B Get = %v, %v, %v; want node A's document", got, found, err)
	}
	if err := cacheB.Delete(ctx, "https://c.example/m.json"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := cacheA.Get(ctx, "https://c.example/m.json"); found || err != nil {
		t.Fatalf("node A Get after node B's Delete = %v, %v; want a miss", found, err)
	}

	if err := parA.Put(ctx, "urn:r:shared", doc, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, found, err := parB.Fetch(ctx, "urn:r:shared"); !found || err != nil {
		t.Fatalf("node B Fetch = %v, %v; want node A's request", found, err)
	}
	if _, found, err := parB.Take(ctx, "urn:r:shared"); !found || err != nil {
		t.Fatalf("node B Take = %v, %v; want node A's request", found, err)
	}
	if _, found, err := parA.Take(ctx, "urn:r:shared"); found || err != nil {
		t.Fatalf("node A Take after node B's = %v, %v; want a miss", found, err)
	}
}

func TestConcurrentTakesAcrossNodesHaveOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := testdb.Schema(t)
	nodes := []*repo.GormPARStore{}
	for i := range 2 {
		db := testdb.Open(t, schema, 8)
		if i == 0 {
			testdb.CreateTables(t, db)
		}
		s, err := repo.NewGormPARStore(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, s)
	}
	const uris, takersPerNode = 100, 8
	for i := range uris {
		if err := nodes[i%2].Put(ctx, fmt.Sprintf("urn:r:%d", i), map[string]any{"i": i}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var wins [uris]atomic.Int32
	var failures atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range uris {
		for _, node := range nodes {
			for range takersPerNode {
				wg.Go(func() {
					<-start
					_, found, err := node.Take(ctx, fmt.Sprintf("urn:r:%d", i))
					if err != nil {
						t.Error(err)
						failures.Add(1)
					}
					if found {
						wins[i].Add(1)
					}
				})
			}
		}
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range uris {
		n := int(wins[i].Load())
		total += n
		if n != 1 {
			t.Errorf("urn:r:%d taken %d times, want once", i, n)
		}
	}
	if total != uris || failures.Load() != 0 {
		t.Errorf("%d successful takes and %d errors, want %d and 0", total, failures.Load(), uris)
	}
}
