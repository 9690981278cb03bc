package repo_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// resolverPairs give a *gorm.DB whose reads gorm.io/plugin/dbresolver
// routes to a replica, and that replica's own pool. The replica is a
// second schema (database, on MariaDB) with the same tables that no write
// ever reaches: a replica lagging for ever, so a read that went there
// shows.
var resolverPairs = []struct {
	name string
	open func(t *testing.T) (routed, replica *gorm.DB)
}{
	{"PostgreSQL", func(t *testing.T) (*gorm.DB, *gorm.DB) {
		return routedPair(t, testdb.New, func(c gorm.ConnPool) gorm.Dialector { return postgres.New(postgres.Config{Conn: c}) })
	}},
	{"MariaDB", func(t *testing.T) (*gorm.DB, *gorm.DB) {
		return routedPair(t, testdb.NewMySQL, func(c gorm.ConnPool) gorm.Dialector { return mysql.New(mysql.Config{Conn: c}) })
	}},
}

// routedPair opens two databases with newDB and registers the second as
// the first's only replica, through a dialector over its pool.
func routedPair(t *testing.T, newDB func(testing.TB) *gorm.DB, over func(gorm.ConnPool) gorm.Dialector) (routed, replica *gorm.DB) {
	t.Helper()
	routed, replica = newDB(t), newDB(t)
	conn, err := replica.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := routed.Use(dbresolver.Register(dbresolver.Config{Replicas: []gorm.Dialector{over(conn)}})); err != nil {
		t.Fatal(err)
	}
	return routed, replica
}

// Under dbresolver every statement of every store runs on the primary, so
// what one node acknowledged is there for the next call on any node.
func TestStoresReadThePrimaryUnderDBResolver(t *testing.T) {
	t.Parallel()
	for _, tc := range resolverPairs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			routed, replica := tc.open(t)
			ctx := context.Background()
			// The resolver works: a plain GORM read of the routed db goes to
			// the replica and misses the row just written.
			c, p := stores(t, routed, nil)
			const url = "https://c.example/m.json"
			if err := c.Put(ctx, url, map[string]any{"client_id": url}, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := routed.Table("attesto_client_id_metadata").Count(&n).Error; err != nil || n != 0 {
				t.Fatalf("a plain read through dbresolver counted %d rows (%v): the replica is not in use", n, err)
			}

			if _, found, err := c.Get(ctx, url); !found || err != nil {
				t.Errorf("CIMD Get after Put = %v, %v; want a hit from the primary", found, err)
			}
			if err := c.Delete(ctx, url); err != nil {
				t.Fatal(err)
			}
			if _, found, err := c.Get(ctx, url); found || err != nil {
				t.Errorf("CIMD Get after Delete = %v, %v; want a miss", found, err)
			}
			for _, uri := range []string{"urn:r:1", "urn:r:2", "urn:r:3"} {
				if err := p.Put(ctx, uri, map[string]any{"client_id": "c"}, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if _, found, err := p.Fetch(ctx, "urn:r:1"); !found || err != nil {
				t.Errorf("Fetch = %v, %v; want a hit from the primary", found, err)
			}
			if _, found, err := p.FetchForClient(ctx, "urn:r:1", "c"); !found || err != nil {
				t.Errorf("FetchForClient = %v, %v; want a hit from the primary", found, err)
			}
			if _, found, err := p.Take(ctx, "urn:r:2"); !found || err != nil {
				t.Errorf("Take = %v, %v; want a hit from the primary", found, err)
			}
			if _, found, err := p.TakeForClient(ctx, "urn:r:3", "c"); !found || err != nil {
				t.Errorf("TakeForClient = %v, %v; want a hit from the primary", found, err)
			}
			r, err := repo.NewGormReplayStore(routed, nil)
			if err != nil {
				t.Fatal(err)
			}
			if fresh, err := r.CheckAndRecord(ctx, "jti-1", time.Now().Add(time.Minute)); !fresh || err != nil {
				t.Fatalf("CheckAndRecord = %v, %v", fresh, err)
			}
			if seen, err := r.Seen(ctx, "jti-1"); !seen || err != nil {
				t.Errorf("Seen = %v, %v; want true from the primary", seen, err)
			}
			if n := testdb.Count(t, replica, "attesto_pushed_authorization_requests"); n != 0 {
				t.Errorf("the replica holds %d pushed requests: a write went there", n)
			}
		})
	}
}

// With Config.CIMDGetFromReplicas, the cache's Get reads the replica: it
// misses what only the primary holds, and serves what only the replica
// still holds (a Delete it has not replayed yet).
func TestCIMDGetFromReplicasIsAnOptIn(t *testing.T) {
	t.Parallel()
	for _, tc := range resolverPairs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			routed, replica := tc.open(t)
			ctx := context.Background()
			c, err := repo.NewGormClientIDMetadataCache(routed, &repo.Config{CIMDGetFromReplicas: true})
			if err != nil {
				t.Fatal(err)
			}
			stale, err := repo.NewGormClientIDMetadataCache(replica, nil)
			if err != nil {
				t.Fatal(err)
			}
			const onPrimary, onReplica = "https://c.example/new.json", "https://c.example/evicted.json"
			if err := c.Put(ctx, onPrimary, map[string]any{"v": "primary"}, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := stale.Put(ctx, onReplica, map[string]any{"v": "replica"}, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, found, err := c.Get(ctx, onPrimary); found || err != nil {
				t.Errorf("Get of a document only the primary holds = %v, %v; want the replica's miss", found, err)
			}
			if doc, found, err := c.Get(ctx, onReplica); !found || err != nil || doc["v"] != "replica" {
				t.Errorf("Get of a document only the replica holds = %v, %v, %v; want the replica's copy", doc, found, err)
			}
		})
	}
}
