package replicatest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/sweeper"
)

func sweeperOnReplicaPair(t *testing.T, p *pair) {
	t.Run("advisory lock and batches on one primary connection", func(t *testing.T) { sweeperPinnedUnderResolver(t, p) })
	t.Run("lease on the primary", func(t *testing.T) { sweeperLeaseUnderResolver(t, p) })
}

const sweptRows = 300

// seedExpired inserts n expired rows in each of the CIMD and PAR tables
// of schema, on the primary.
func seedExpired(t *testing.T, p *pair, schema string, n int) {
	t.Helper()
	for _, tb := range []struct{ table, key, doc string }{
		{models.ClientIDMetadataTable, "url", "metadata"},
		{models.PushedAuthorizationRequestTable, "request_uri", "params"},
	} {
		// The names are the test's own constants and a random schema.
		testdb.MustExec(t, p.admin, "INSERT INTO "+pgx.Identifier{schema, tb.table}.Sanitize()+
			" ("+tb.key+", "+tb.doc+", expires_at, inserted_at)"+
			` SELECT 'expired-' || i, '{"client_id": "x"}'::jsonb, now() - interval '1 hour', now() - interval '2 hours'`+
			" FROM generate_series(1, ?) AS i", n)
	}
}

// sweeperStatements are the starts of the statements the sweeper runs on
// PostgreSQL, with the advisory lock or the lease.
var sweeperStatements = []string{"WITH swept AS", "SELECT pg_try_advisory_lock", "SELECT pg_advisory_unlock",
	"SELECT current_schema()", "UPDATE", "INSERT", "CREATE TABLE", "SELECT count(*) FROM information_schema"}

// ranOnReplica returns the sweeper's statements that the node's replica
// connections ran.
func ranOnReplica(t *testing.T, p *pair, n node) []string {
	t.Helper()
	var ran []string
	for _, q := range lastQueries(t, p.replicaAdmin, n.app+"/replica") {
		if slices.ContainsFunc(sweeperStatements, func(s string) bool { return strings.HasPrefix(q, s) }) {
			ran = append(ran, q)
		}
	}
	return ran
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// Under dbresolver, the sweeper's advisory lock and its batches run on one
// connection of the primary. The node's primary pool has a single
// connection, so a batch sent anywhere but the pinned one would wait for
// a connection until the pass timed out; and the first batch is held up
// by a table lock, so that the server shows which backend runs it: the
// lock holder's.
func sweeperPinnedUnderResolver(t *testing.T, p *pair) {
	schema := p.schema(t)
	seedExpired(t, p, schema, sweptRows)
	n := p.node(t, schema, 1, 1)
	key := rand.Int64()
	s, err := sweeper.New(n.routed, &sweeper.Config{Interval: time.Hour, BatchSize: 50, LockKey: key, Timeout: 30 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })

	adminPool, err := p.admin.DB()
	if err != nil {
		t.Fatal(err)
	}
	blocker, err := adminPool.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	if _, err := blocker.Exec("LOCK TABLE " + pgx.Identifier{schema, models.ClientIDMetadataTable}.Sanitize() + " IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		deleted map[string]int64
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		d, err := s.SweepNow(bg)
		done <- outcome{d, err}
	}()

	var batchPID int64
	deadline := time.Now().Add(20 * time.Second)
	for batchPID == 0 {
		if err := p.admin.Raw(`SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE application_name = ? AND wait_event_type = 'Lock' AND query LIKE 'WITH swept AS%'`, n.app+"/primary").Scan(&batchPID).Error; err != nil {
			t.Fatal(err)
		}
		if batchPID == 0 {
			if time.Now().After(deadline) {
				blocker.Rollback()
				o := <-done
				t.Fatalf("no batch of the sweeper reached the primary within 20 s: it did not run on the pinned connection "+
					"(the pool's only one) and waited for another; SweepNow = %v, %v", o.deleted, o.err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var lockPID int64
	if err := p.admin.Raw(`SELECT coalesce(max(pid), 0) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid::bigint = ? AND objid::bigint = ? AND objsubid = 1`,
		int64(uint64(key)>>32), int64(uint32(key))).Scan(&lockPID).Error; err != nil {
		t.Fatal(err)
	}
	if lockPID == 0 || lockPID != batchPID {
		t.Errorf("the batch runs on backend %d, the advisory lock is held by backend %d; want one backend", batchPID, lockPID)
	}
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	o := <-done
	want := fmt.Sprint(map[string]int64{models.ClientIDMetadataTable: sweptRows, models.PushedAuthorizationRequestTable: sweptRows, models.ReplayTable: 0})
	if o.err != nil || fmt.Sprint(o.deleted) != want {
		t.Errorf("SweepNow = %v, %v; want %s", o.deleted, o.err, want)
	}
	if ran := ranOnReplica(t, p, n); len(ran) > 0 {
		t.Errorf("the sweeper ran statements on the replica: %q", ran)
	}
}

// With a lease, every statement of the sweeper (the lease table's look
// and creation, the scope, the take, the batches, the release) runs on
// the primary, none on the replica.
func sweeperLeaseUnderResolver(t *testing.T, p *pair) {
	schema := p.schema(t)
	seedExpired(t, p, schema, sweptRows)
	n := p.node(t, schema, 2, 1)
	s, err := sweeper.New(n.routed, &sweeper.Config{Interval: time.Hour, BatchSize: 50, Lease: &sweeper.Lease{Holder: "replicatest"}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	want := fmt.Sprint(map[string]int64{models.ClientIDMetadataTable: sweptRows, models.PushedAuthorizationRequestTable: sweptRows, models.ReplayTable: 0})
	for pass := range 2 {
		if got, err := s.SweepNow(bg); err != nil || fmt.Sprint(got) != want {
			t.Fatalf("pass %d: SweepNow = %v, %v; want %s", pass, got, err, want)
		}
		want = fmt.Sprint(map[string]int64{models.ClientIDMetadataTable: 0, models.PushedAuthorizationRequestTable: 0, models.ReplayTable: 0})
	}
	var holder string
	if err := n.primary.Raw("SELECT holder FROM " + sweeper.DefaultLeaseTable).Scan(&holder).Error; err != nil || holder != "replicatest" {
		t.Errorf("the lease row on the primary: holder %q, %v", holder, err)
	}
	if ran := ranOnReplica(t, p, n); len(ran) > 0 {
		t.Errorf("the sweeper ran statements on the replica: %q", ran)
	}
}
