package sweeper_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

// cluster is nodes pools on one database (a schema on PostgreSQL),
// seeded with expired and live rows in both tables.
type cluster struct {
	nodes []*gorm.DB
	// expiredCIMD and expiredPAR are the expired rows seeded.
	expiredCIMD, expiredPAR int
}

const (
	clusterExpiredCIMD = 20_000
	clusterExpiredPAR  = 5_000
	clusterLive        = 300
)

func newCluster(t *testing.T, b backend, nodes int) cluster {
	t.Helper()
	c := cluster{nodes: b.open(t, nodes, 2), expiredCIMD: clusterExpiredCIMD, expiredPAR: clusterExpiredPAR}
	if !b.rowLocks {
		// SQLite, pure Go under the race detector, deletes about a
		// thousand rows a second.
		c.expiredCIMD, c.expiredPAR = clusterExpiredCIMD/10, clusterExpiredPAR/10
	}
	db := c.nodes[0]
	b.seed(t, db, cimdTable(false), "https://expired.example/", c.expiredCIMD, epoch.Add(-48*time.Hour), time.Second)
	b.seed(t, db, cimdTable(false), "https://live.example/", clusterLive, epoch.Add(time.Microsecond), time.Second)
	b.seed(t, db, parTable(false), "urn:expired:", c.expiredPAR, epoch.Add(-48*time.Hour), time.Second)
	b.seed(t, db, parTable(false), "urn:live:", clusterLive, epoch.Add(time.Microsecond), time.Second)
	return c
}

// check asserts that exactly the expired rows are gone.
func (c cluster) check(t *testing.T) {
	t.Helper()
	db := c.nodes[0]
	if left := keys(t, db, cimdTable(false)); !slices.Equal(left, keyRange("https://live.example/", clusterLive)) {
		t.Errorf("%s keeps %d rows, want exactly the %d live ones", cimd, len(left), clusterLive)
	}
	if left := keys(t, db, parTable(false)); !slices.Equal(left, keyRange("urn:live:", clusterLive)) {
		t.Errorf("%s keeps %d rows, want exactly the %d live ones", par, len(left), clusterLive)
	}
}

func TestNodesSweepingAtOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		nodes int
		// distinctKeys gives each node its own lock, so that all of them
		// sweep the same rows at the same time and only SKIP LOCKED keeps
		// them apart.
		distinctKeys bool
	}{
		{"2 nodes", 2, false},
		{"4 nodes", 4, false},
		{"4 nodes without mutual exclusion", 4, true},
	}
	for _, b := range backends {
		for _, tc := range cases {
			// Without row locks, nodes with locks of their own would only
			// take turns at SQLite's write lock; with a lease, 4 nodes
			// cover what 2 do.
			if (tc.distinctKeys && !b.rowLocks) || (b.lease && tc.nodes == 2) {
				continue
			}
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				nodesSweepingAtOnce(t, b, tc.nodes, tc.distinctKeys)
			})
		}
	}
}

func nodesSweepingAtOnce(t *testing.T, b backend, nodes int, distinctKeys bool) {
	c := newCluster(t, b, nodes)
	sweepers := make([]*sweeper.Sweeper, nodes)
	for i, db := range c.nodes {
		cfg := b.config(sweeper.Config{BatchSize: 100})
		if distinctKeys {
			cfg.LockKey = rand.Int64()
		}
		sweepers[i] = mustNew(t, db, cfg)
	}
	type outcome struct {
		deleted map[string]int64
		err     error
	}
	outcomes := make([]outcome, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range sweepers {
		wg.Go(func() {
			<-start
			d, err := s.SweepNow(context.Background())
			outcomes[i] = outcome{d, err}
		})
	}
	close(start)
	wg.Wait()

	total := map[string]int64{}
	swept := 0
	for i, o := range outcomes {
		switch {
		case o.err == nil:
			swept++
			for k, v := range o.deleted {
				total[k] += v
			}
		case errors.Is(o.err, sweeper.ErrLocked):
			if distinctKeys {
				t.Errorf("node %d skipped with its own lock key: %v", i, o.err)
			}
		default:
			t.Errorf("node %d: %v", i, o.err)
		}
	}
	if swept == 0 {
		t.Fatal("no node swept")
	}
	// Each row is deleted by exactly one node.
	want := map[string]int64{cimd: int64(c.expiredCIMD), par: int64(c.expiredPAR), replay: 0}
	if fmt.Sprint(total) != fmt.Sprint(want) {
		t.Errorf("nodes deleted %v in all, want %v", total, want)
	}
	busy := 0
	for _, o := range outcomes {
		if o.deleted[cimd]+o.deleted[par] > 0 {
			busy++
		}
	}
	t.Logf("%d of %d nodes swept, %d deleted rows", swept, nodes, busy)
	if distinctKeys && busy < 2 {
		t.Errorf("only %d node deleted rows: the nodes did not sweep at the same time", busy)
	}
	// One lock: whoever takes it sweeps everything, and a node
	// that comes after finds nothing left.
	if !distinctKeys && busy != 1 {
		t.Errorf("%d nodes deleted rows under one lock, want exactly 1", busy)
	}
	c.check(t)
}

// The loops of several nodes, started together, sweep everything; the
// nodes that find the lock taken report skips, never failures.
func TestNodeLoopsTakeTurns(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			nodeLoopsTakeTurns(t, b)
		})
	}
}

func nodeLoopsTakeTurns(t *testing.T, b backend) {
	const nodes = 4
	c := newCluster(t, b, nodes)
	reports := newResults()
	var sweepers []*sweeper.Sweeper
	for _, db := range c.nodes {
		s := mustNew(t, db, b.config(sweeper.Config{Interval: 20 * time.Millisecond, BatchSize: 100, OnSweep: reports.onSweep}))
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		sweepers = append(sweepers, s)
	}
	// Until the expired rows are gone and some loop has found another
	// holding the lock. On SQLite the nodes that started together may all
	// have looked for a lease before the first was taken; they then wait
	// for the write lock, take the lease in turn after it is released,
	// and the others skip from then on.
	skipped := func() bool {
		for _, r := range reports.list() {
			if r.Outcome == sweeper.OutcomeSkipped {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(30 * time.Second)
	for (testdb.Count(t, c.nodes[0], cimd)+testdb.Count(t, c.nodes[0], par) > 2*clusterLive || !skipped()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, s := range sweepers {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}
	// Exact per-node counts are TestNodesSweepingAtOnce's: here Stop may
	// cut off a batch whose rows the server deleted all the same, and the
	// pass that deleted the last rows may be the one Stop cancels.
	counts := map[sweeper.Outcome]int{}
	var deleted int64
	for _, r := range reports.list() {
		counts[r.Outcome]++
		for _, n := range r.Deleted() {
			deleted += n
		}
		if r.Outcome != sweeper.OutcomeSwept && r.Outcome != sweeper.OutcomeSkipped && r.Outcome != sweeper.OutcomeCanceled {
			t.Errorf("a node's pass %v: %v", r.Outcome, r.Err)
		}
	}
	t.Logf("passes: %v; %d rows reported deleted", counts, deleted)
	if counts[sweeper.OutcomeSkipped] == 0 {
		t.Error("no loop skipped a pass: the nodes did not exclude each other")
	}
	if expired := int64(c.expiredCIMD + c.expiredPAR); deleted == 0 || deleted > expired {
		t.Errorf("loops report %d rows deleted, want some and at most the %d expired", deleted, expired)
	}
	c.check(t)
}
