package replicatest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
)

// The stores on a real streaming replica, routed by dbresolver. One pair
// serves every subtest; they run one after the other, since some pause
// the replica's replay.
func TestReadReplica(t *testing.T) {
	t.Parallel()
	p := replicaPair(t)
	t.Run("PAR pushed on one node resolves on every other at once", func(t *testing.T) { parAcrossNodes(t, p) })
	t.Run("CIMD Delete evicts at once", func(t *testing.T) { cimdDeleteEvicts(t, p) })
	t.Run("CIMD Get reads the replica only when opted in", func(t *testing.T) { cimdGetOptIn(t, p) })
	t.Run("sweeper", func(t *testing.T) { sweeperOnReplicaPair(t, p) })
}

func parStore(t *testing.T, db *gorm.DB) *repo.GormPARStore {
	t.Helper()
	s, err := repo.NewGormPARStore(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cimdCache(t *testing.T, db *gorm.DB, cfg *repo.Config) *repo.GormClientIDMetadataCache {
	t.Helper()
	c, err := repo.NewGormClientIDMetadataCache(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// countOn counts the rows of table whose key is key, with a plain GORM
// read of db: through dbresolver, on the replica.
func countOn(t *testing.T, db *gorm.DB, table, column, key string) int64 {
	t.Helper()
	var n int64
	if err := db.Table(table).Where(column+" = ?", key).Count(&n).Error; err != nil {
		t.Fatalf("count %s in %s: %v", key, table, err)
	}
	return n
}

const parRounds = 200

// A request_uri pushed on node A is fetched on B and taken on C at once,
// every time, while the replica certainly lacks it: its replay is paused,
// and each round checks that a plain read through B's resolver misses the
// row. Had a store read gone to the replica, that round would have missed.
func parAcrossNodes(t *testing.T, p *pair) {
	schema := p.schema(t)
	a, b, c := p.node(t, schema, 4, 1), p.node(t, schema, 4, 1), p.node(t, schema, 4, 1)
	pa, pb, pc := parStore(t, a.routed), parStore(t, b.routed), parStore(t, c.routed)
	resume := p.pauseReplay(t)
	defer resume()
	var misses []string
	for i := range parRounds {
		uri := repo.NewRequestURI()
		client := fmt.Sprintf("client-%d", i)
		params := map[string]any{"client_id": client, "round": i}
		if err := pa.Put(bg, uri, params, time.Minute); err != nil {
			t.Fatalf("round %d: Put on A: %v", i, err)
		}
		if n := countOn(t, b.routed, models.PushedAuthorizationRequestTable, "request_uri", uri); n != 0 {
			t.Fatalf("round %d: a plain read through B's resolver found the row: it does not reach a lagging replica, and this test proves nothing", i)
		}
		if got, found, err := pb.Fetch(bg, uri); err != nil || !found || fmt.Sprint(got["round"]) != fmt.Sprint(i) {
			misses = append(misses, fmt.Sprintf("round %d: Fetch on B = %v, %v, %v", i, got, found, err))
		}
		if _, found, err := pb.FetchForClient(bg, uri, client); err != nil || !found {
			misses = append(misses, fmt.Sprintf("round %d: FetchForClient on B = %v, %v", i, found, err))
		}
		take := func() (map[string]any, bool, error) {
			if i%2 == 0 {
				return pc.Take(bg, uri)
			}
			return pc.TakeForClient(bg, uri, client)
		}
		if got, found, err := take(); err != nil || !found || fmt.Sprint(got["round"]) != fmt.Sprint(i) {
			misses = append(misses, fmt.Sprintf("round %d: Take on C = %v, %v, %v", i, got, found, err))
		}
		// Taken on C: gone for A too.
		if _, found, err := pa.Fetch(bg, uri); err != nil || found {
			misses = append(misses, fmt.Sprintf("round %d: Fetch on A after C's Take = %v, %v; want a miss", i, found, err))
		}
	}
	if len(misses) > 0 {
		t.Errorf("%d checks failed in %d rounds; the first:\n%s", len(misses), parRounds, strings.Join(misses[:min(10, len(misses))], "\n"))
	}
}

const evictions = 50

// A CIMD Delete on node A is a miss on node B at once with the default
// routing, while the replica still holds every deleted document: its
// replay is paused, and a cache on B that opted in to replica reads still
// serves each one (the staleness Config.CIMDGetFromReplicas documents).
func cimdDeleteEvicts(t *testing.T, p *pair) {
	schema := p.schema(t)
	a, b := p.node(t, schema, 4, 1), p.node(t, schema, 4, 1)
	ca, cb := cimdCache(t, a.routed, nil), cimdCache(t, b.routed, nil)
	stale := cimdCache(t, b.routed, &repo.Config{CIMDGetFromReplicas: true})
	urls := make([]string, evictions)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://c%d.example/metadata.json", i)
		if err := ca.Put(bg, urls[i], map[string]any{"client_id": urls[i]}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	p.waitReplayed(t)
	resume := p.pauseReplay(t)
	defer resume()
	var wrong []string
	for _, u := range urls {
		if err := ca.Delete(bg, u); err != nil {
			t.Fatal(err)
		}
		if _, found, err := cb.Get(bg, u); err != nil || found {
			wrong = append(wrong, fmt.Sprintf("Get on B after A's Delete of %s = %v, %v; want a miss", u, found, err))
		}
		if _, found, err := stale.Get(bg, u); err != nil || !found {
			t.Fatalf("an opted-in Get of %s on B = %v, %v: the replica does not hold the deleted document, and this test proves nothing", u, found, err)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d evictions were not seen at once; the first:\n%s", len(wrong), evictions, strings.Join(wrong[:min(10, len(wrong))], "\n"))
	}
	resume()
	p.waitReplayed(t)
	if _, found, err := stale.Get(bg, urls[0]); err != nil || found {
		t.Errorf("an opted-in Get once the replica caught up = %v, %v; want the miss", found, err)
	}
}

// cimdGetSQL starts the CIMD cache's Get on PostgreSQL (docs/sql.md).
const cimdGetSQL = `SELECT "metadata" FROM "attesto_client_id_metadata" WHERE`

// With the default routing Get runs on the primary; with
// Config.CIMDGetFromReplicas it runs on the replica: the server says so
// (pg_stat_activity shows the statement on a backend of the node's replica
// pool, and that connection reports pg_is_in_recovery()), and the reads
// show it (a document written after the replica's replay was paused is a
// miss there and a hit on the primary).
func cimdGetOptIn(t *testing.T, p *pair) {
	schema := p.schema(t)
	n := p.node(t, schema, 2, 1)
	primaryCache := cimdCache(t, n.routed, nil)
	replicaCache := cimdCache(t, n.routed, &repo.Config{CIMDGetFromReplicas: true})
	const old, fresh = "https://old.example/m.json", "https://fresh.example/m.json"
	if err := primaryCache.Put(bg, old, map[string]any{"client_id": old}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p.waitReplayed(t)

	ranGet := func(qs []string) bool {
		return slices.ContainsFunc(qs, func(q string) bool { return strings.HasPrefix(q, cimdGetSQL) })
	}
	if _, found, err := primaryCache.Get(bg, old); err != nil || !found {
		t.Fatalf("default Get = %v, %v", found, err)
	}
	if !ranGet(lastQueries(t, p.admin, n.app+"/primary")) {
		t.Errorf("the default Get is not the last statement of any of the node's primary connections: %q", lastQueries(t, p.admin, n.app+"/primary"))
	}
	if qs := lastQueries(t, p.replicaAdmin, n.app+"/replica"); ranGet(qs) {
		t.Errorf("the default Get ran on the replica: %q", qs)
	}

	if _, found, err := replicaCache.Get(bg, old); err != nil || !found {
		t.Fatalf("opted-in Get = %v, %v", found, err)
	}
	var getPID int64
	if err := p.replicaAdmin.Raw("SELECT pid FROM pg_stat_activity WHERE application_name = ? AND query LIKE ?",
		n.app+"/replica", cimdGetSQL+"%").Scan(&getPID).Error; err != nil || getPID == 0 {
		t.Fatalf("no backend of the node's replica pool ran the opted-in Get (%v): %q", err, lastQueries(t, p.replicaAdmin, n.app+"/replica"))
	}
	// The replica pool has one connection: the one the Get used.
	var connPID int64
	var inRecovery bool
	if err := n.replica.Raw("SELECT pg_backend_pid(), pg_is_in_recovery()").Row().Scan(&connPID, &inRecovery); err != nil {
		t.Fatal(err)
	}
	if connPID != getPID || !inRecovery {
		t.Errorf("the connection that ran the opted-in Get (pid %d) reports pid %d, pg_is_in_recovery() = %v; want the same pid, in recovery",
			getPID, connPID, inRecovery)
	}

	resume := p.pauseReplay(t)
	defer resume()
	if err := primaryCache.Put(bg, fresh, map[string]any{"client_id": fresh}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := replicaCache.Get(bg, fresh); err != nil || found {
		t.Errorf("opted-in Get of a document the paused replica lacks = %v, %v; want its miss", found, err)
	}
	if _, found, err := primaryCache.Get(bg, fresh); err != nil || !found {
		t.Errorf("default Get of the same document = %v, %v; want the primary's hit", found, err)
	}
}
