package replicatest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/pgtest"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// failoverConfig is one way of running the primary and its standby.
type failoverConfig struct {
	name string
	// sync makes the standby synchronous: synchronous_standby_names names
	// it and synchronous_commit is on (its default), so a commit returns
	// once the standby has flushed it.
	sync bool
	// stall stops the primary's WAL sender this long before the crash, so
	// the standby falls behind as a slow standby or a congested network
	// would make it: the WAL of that window never reaches it.
	stall time.Duration
	// cancelRequest makes the pools answer a done context with a cancel
	// request (pgconn.CancelRequestContextWatcherHandler) instead of
	// closing the connection.
	cancelRequest bool
	// safe is set where nothing acknowledged may be lost: the test
	// asserts it.
	safe bool
}

// failoverStall is longer than a call's deadline, so that under
// synchronous replication the calls waiting for the standby run out of
// time before the primary fails.
const failoverStall = 1500 * time.Millisecond

var failoverConfigs = []failoverConfig{
	{name: "asynchronous"},
	{name: "asynchronous, standby stalled", stall: failoverStall},
	{name: "synchronous, standby stalled", sync: true, stall: failoverStall, safe: true},
	{name: "synchronous, standby stalled, cancel requests", sync: true, stall: failoverStall, cancelRequest: true},
}

// Failover under load: a mixed load of PAR Put/Take and CIMD Put/Get runs
// on two nodes whose pools name both servers (target_session_attrs =
// read-write, so they follow the primary); the primary crashes, the
// standby is promoted, and the load goes on against it. Then every
// acknowledged write is looked for on the new primary.
//
// By default it runs the synchronous configuration, asserting that
// nothing acknowledged was lost and no acknowledged Take reappears. With
// GORMSTORE_FAILOVER=all it runs every configuration of failoverConfigs
// and logs the figures RELIABILITY.md reports (about a minute).
func TestFailover(t *testing.T) {
	t.Parallel()
	configs := []failoverConfig{failoverConfigs[2]}
	if os.Getenv("GORMSTORE_FAILOVER") == "all" {
		configs = failoverConfigs
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			f := runFailover(t, cfg)
			t.Log(f)
			if cfg.safe && (f.lostPuts != 0 || f.reappeared != 0 || f.takenTwice != 0 || f.lostCIMD != 0) {
				t.Errorf("acknowledged writes lost with a synchronous standby: %s", f)
			}
			if f.ackedBefore == 0 || f.ackedAfter == 0 {
				t.Errorf("the load did not run on both primaries: %s", f)
			}
		})
	}
}

// failover is what one run measured.
type failover struct {
	// ackedBefore and ackedAfter count the calls answered before the crash
	// and after the promotion; ackedStall the writes acknowledged while
	// the standby was stalled; timedOut the calls that ran out of time.
	ackedBefore, ackedStall, ackedAfter, failed, timedOut int64
	// puts and takes are the acknowledged PAR Puts and Takes, cimdPuts
	// the acknowledged CIMD Puts.
	puts, takes, cimdPuts int64
	// lostPuts are acknowledged PAR Puts missing after the failover (a
	// Take that missed, or no row at the end); reappeared acknowledged
	// Takes whose row is back; takenTwice those of them taken again
	// through the store; lostCIMD CIMD documents older than their last
	// acknowledged Put (or gone).
	lostPuts, reappeared, takenTwice, lostCIMD int64
	// promote is how long pg_ctl promote took; outage is from the
	// primary's end to the first call, started after it, that the new
	// primary answered.
	promote, outage time.Duration
}

func (f failover) String() string {
	return fmt.Sprintf("acknowledged: %d calls before the crash (%d writes during the stall), %d after the promotion; "+
		"%d PAR Puts, %d Takes, %d CIMD Puts in all; %d calls failed (%d timed out); promotion %v, outage %v; "+
		"lost: %d PAR Puts, %d CIMD Puts; %d acknowledged Takes reappeared, %d taken again",
		f.ackedBefore, f.ackedStall, f.ackedAfter, f.puts, f.takes, f.cimdPuts, f.failed, f.timedOut,
		f.promote.Round(time.Millisecond), f.outage.Round(time.Millisecond), f.lostPuts, f.lostCIMD, f.reappeared, f.takenTwice)
}

// The load's phases, as the workers see them when a call starts.
const (
	phaseBefore int32 = iota
	phaseStall
	phaseOutage
	phaseAfter
)

const (
	failoverWorkers  = 4
	failoverCallTime = time.Second
	failoverWarmUp   = time.Second
	// failoverAfter is the least the load runs on the new primary; it
	// runs on until failoverAfterCalls calls were answered there.
	failoverAfter      = time.Second
	failoverAfterCalls = 200
)

func runFailover(t *testing.T, cfg failoverConfig) failover {
	p := startPair(t, pgtest.StandbyOptions{})
	testdb.CreateTables(t, p.admin)
	walSender := waitStreaming(t, p, false)
	if cfg.sync {
		testdb.MustExec(t, p.admin, "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby)'")
		testdb.MustExec(t, p.admin, "SELECT pg_reload_conf()")
		walSender = waitStreaming(t, p, true)
	}
	// Both servers, the primary first; a pool connects to whichever
	// accepts writes.
	dsn := strings.Replace(
		withParams(t, p.primaryURL, url.Values{"target_session_attrs": {"read-write"}, "connect_timeout": {"2"}, "application_name": {"failover"}}),
		fmt.Sprintf("127.0.0.1:%d", p.primary.Port()), fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", p.primary.Port(), p.standby.Port()), 1)
	var nodes []*gorm.DB
	for range 2 {
		if cfg.cancelRequest {
			nodes = append(nodes, openCancelRequestPool(t, dsn, 3))
		} else {
			nodes = append(nodes, openPool(t, dsn, 3))
		}
	}

	var (
		phase      atomic.Int32
		stop       atomic.Bool
		crashed    time.Time
		firstAfter atomic.Int64 // UnixNano of the first answer after the crash
		f          failover
		mu         sync.Mutex // guards f's counters during the load
		wg         sync.WaitGroup
		workers    []*failoverWorker
	)
	for i := range failoverWorkers {
		w := &failoverWorker{id: i, par: parStore(t, nodes[i%2]), cimd: cimdCache(t, nodes[i%2], nil), cimdAcked: map[string]int{}}
		workers = append(workers, w)
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				started := phase.Load()
				write, err := w.call(n)
				mu.Lock()
				switch {
				case err != nil:
					f.failed++
					if strings.Contains(err.Error(), "deadline") || strings.Contains(err.Error(), "timeout") {
						f.timedOut++
					}
				case started == phaseBefore:
					f.ackedBefore++
				case started == phaseStall:
					f.ackedBefore++
					if write {
						f.ackedStall++
					}
				default:
					f.ackedAfter++
				}
				mu.Unlock()
				if err == nil && started >= phaseOutage {
					firstAfter.CompareAndSwap(0, time.Now().UnixNano())
				}
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}

	time.Sleep(failoverWarmUp)
	if cfg.stall > 0 {
		// The WAL sender is stopped, not the standby: WAL it sent before
		// sits in the standby's socket and arrives all the same.
		phase.Store(phaseStall)
		signalPID(t, walSender, syscall.SIGSTOP)
		time.Sleep(cfg.stall)
		signalPID(t, walSender, syscall.SIGKILL)
	}
	p.primary.Crash(t)
	crashed = time.Now()
	phase.Store(phaseOutage)
	p.standby.Promote(t)
	f.promote = time.Since(crashed)
	phase.Store(phaseAfter)
	time.Sleep(failoverAfter)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		after := f.ackedAfter
		mu.Unlock()
		if after >= failoverAfterCalls {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if first := firstAfter.Load(); first != 0 {
		f.outage = time.Unix(0, first).Sub(crashed)
	}

	// Every acknowledged write, looked for on the new primary.
	newPrimary := openPool(t, p.replicaURL, 2)
	check := parStore(t, newPrimary)
	for _, w := range workers {
		f.puts += w.puts
		f.takes += int64(len(w.taken))
		f.cimdPuts += w.cimdPuts
		f.lostPuts += w.missed
		f.lostCIMD += w.stale
		for _, uri := range w.pending {
			if !rowExists(t, newPrimary, uri) {
				f.lostPuts++
			}
		}
		for _, uri := range w.taken {
			if rowExists(t, newPrimary, uri) {
				f.reappeared++
				if _, found, err := check.Take(bg, uri); err == nil && found {
					f.takenTwice++
				}
			}
		}
		for u, v := range w.cimdAcked {
			var doc string
			err := newPrimary.Raw("SELECT metadata::text FROM attesto_client_id_metadata WHERE url = ?", u).Scan(&doc).Error
			if err != nil {
				t.Fatal(err)
			}
			if version(doc) < v {
				f.lostCIMD++
			}
		}
	}
	return f
}

// failoverWorker runs calls on its own keys, so it knows what each may
// return.
type failoverWorker struct {
	id   int
	par  *repo.GormPARStore
	cimd *repo.GormClientIDMetadataCache
	// pending are acknowledged Puts not yet taken; taken the acknowledged
	// Takes.
	pending, taken []string
	// cimdAcked is the last acknowledged version of each URL.
	cimdAcked map[string]int
	// puts and cimdPuts count the acknowledged Puts; missed the Takes
	// that missed an acknowledged Put; stale the Gets older than an
	// acknowledged Put.
	puts, cimdPuts, missed, stale int64
}

// call runs the worker's nth call and says whether it was a write.
func (w *failoverWorker) call(n int) (write bool, err error) {
	ctx, cancel := context.WithTimeout(bg, failoverCallTime)
	defer cancel()
	cimdURL := fmt.Sprintf("https://w%d.example/%d.json", w.id, (n/4)%4)
	switch n % 8 {
	case 0, 4: // Puts outnumber Takes, so acknowledged Puts wait when the primary fails.
		uri := fmt.Sprintf("urn:failover:%d:%d", w.id, n)
		if err := w.par.Put(ctx, uri, map[string]any{"client_id": "c"}, 5*time.Minute); err != nil {
			return true, err
		}
		w.puts++
		w.pending = append(w.pending, uri)
		return true, nil
	case 1:
		if len(w.pending) == 0 {
			return false, nil
		}
		uri := w.pending[0]
		w.pending = w.pending[1:] // taken, missed, or unknown
		_, found, err := w.par.Take(ctx, uri)
		switch {
		case err != nil:
		case found:
			w.taken = append(w.taken, uri)
		default:
			w.missed++
		}
		return true, err
	case 2, 6:
		if err := w.cimd.Put(ctx, cimdURL, map[string]any{"v": n}, time.Now().Add(time.Hour)); err != nil {
			return true, err
		}
		w.cimdPuts++
		w.cimdAcked[cimdURL] = n
		return true, nil
	default:
		doc, found, err := w.cimd.Get(ctx, cimdURL)
		if err == nil {
			if v, ok := w.cimdAcked[cimdURL]; ok && (!found || versionOf(doc) < v) {
				w.stale++
			}
		}
		return false, err
	}
}

func versionOf(doc map[string]any) int {
	n, _ := doc["v"].(json.Number).Int64()
	return int(n)
}

// version reads "v" from a stored document; -1 when there is none.
func version(doc string) int {
	if doc == "" {
		return -1
	}
	var m map[string]json.Number
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return -1
	}
	n, _ := m["v"].Int64()
	return int(n)
}

func rowExists(t *testing.T, db *gorm.DB, uri string) bool {
	t.Helper()
	var n int64
	if err := db.Raw("SELECT count(*) FROM attesto_pushed_authorization_requests WHERE request_uri = ?", uri).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// waitStreaming waits until the standby streams from the primary (and,
// with sync, is its synchronous standby) and returns the pid of the
// primary's WAL sender.
func waitStreaming(t *testing.T, p *pair, sync bool) int {
	t.Helper()
	want := "async"
	if sync {
		want = "sync"
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pid int
		err := p.admin.Raw("SELECT coalesce(max(pid), 0) FROM pg_stat_replication WHERE application_name = 'standby' AND state = 'streaming' AND sync_state = ?", want).Scan(&pid).Error
		if err != nil {
			t.Fatal(err)
		}
		if pid != 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby is not streaming (%s) after 30 s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func signalPID(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("%v to the WAL sender %d: %v", sig, pid, err)
	}
}
