package repo_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// Two pools on one database stand for two nodes of a cluster.
func TestStateIsSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, tc := range twoNodes {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbs := tc.open(t)
			stateIsShared(t, dbs[0], dbs[1])
		})
	}
}

func stateIsShared(t *testing.T, nodeA, nodeB *gorm.DB) {
	ctx := context.Background()
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

// twoNodes open two pools of 8 connections on one fresh database holding
// the stores' tables: two nodes of a cluster.
var twoNodes = []struct {
	name string
	open func(t *testing.T) [2]*gorm.DB
}{
	{"PostgreSQL", func(t *testing.T) [2]*gorm.DB {
		schema := testdb.Schema(t)
		a, b := testdb.Open(t, schema, 8), testdb.Open(t, schema, 8)
		testdb.CreateTables(t, a)
		return [2]*gorm.DB{a, b}
	}},
	{"MariaDB", func(t *testing.T) [2]*gorm.DB {
		name := testdb.MySQLDatabase(t)
		a, b := testdb.OpenMySQL(t, name, 8), testdb.OpenMySQL(t, name, 8)
		testdb.CreateMySQLTables(t, a)
		return [2]*gorm.DB{a, b}
	}},
	{"MariaDBWithoutReturning", func(t *testing.T) [2]*gorm.DB {
		name := testdb.MySQLDatabase(t)
		var dbs [2]*gorm.DB
		for i := range dbs {
			dbs[i] = testdb.OpenMySQLWith(t, mysql.Config{DSNConfig: testdb.MySQLConfig(t, name), DisableWithReturning: true}, 8)
		}
		testdb.CreateMySQLTables(t, dbs[0])
		return dbs
	}},
}

func TestConcurrentTakesAcrossNodesHaveOneWinner(t *testing.T) {
	t.Parallel()
	for _, tc := range twoNodes {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			concurrentTakesAcrossNodes(t, tc.open(t))
		})
	}
}

func concurrentTakesAcrossNodes(t *testing.T, dbs [2]*gorm.DB) {
	ctx := context.Background()
	nodes := []*repo.GormPARStore{}
	for _, db := range dbs {
		s, err := repo.NewGormPARStore(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, s)
	}
	const uris, takersPerNode = 100, 8
	for i := range uris {
		if err := nodes[i%2].Put(ctx, fmt.Sprintf("urn:r:%d", i), map[string]any{"client_id": "c", "i": i}, time.Minute); err != nil {
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
