package repo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/pgtest"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// Fault injection against a throwaway server the test starts itself
// (internal/pgtest), so stopping, crashing and freezing it never disturbs
// the shared server other tests use.
//
// Eight workers run a mixed load over two pools (two nodes) while the
// server's backends are terminated, it is stopped and started, crashed and
// started, and frozen and thawed. Each worker owns its keys, so it knows
// exactly what every read may return:
//
//   - a CIMD Get of a URL with an acknowledged Put returns that version, or
//     one whose Put failed after it (a failed write may have committed), or
//     an error: never a miss (a false miss) and never an older version (a
//     stale hit);
//   - a PAR Fetch or Take of a request whose Put was acknowledged and that
//     was not taken returns it or an error, never a miss;
//   - every call returns within its context deadline plus faultSlack;
//   - every call that starts and ends while the server is down or frozen
//     returns an error;
//   - after the faults, with the same store values, a last stretch of load
//     has no error at all, and every acknowledged write is read back.
const (
	faultCallTimeout = 2 * time.Second
	faultSlack       = time.Second
	faultOutage      = 2500 * time.Millisecond
	faultWorkers     = 8
	faultApp         = "gormstore-faults"
)

func TestReliabilityServerFaults(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	admin := openURL(t, srv.URL("", url.Values{"application_name": {"gormstore-faults-admin"}}), 2)
	testdb.CreateTables(t, admin)
	// Two pools with the same application_name: the terminator finds their
	// backends, and only theirs, by it.
	dsn := srv.URL("", url.Values{"application_name": {faultApp}})
	nodes := []*gorm.DB{openURL(t, dsn, 8), openURL(t, dsn, 8)}
	type node struct {
		cache *repo.GormClientIDMetadataCache
		par   *repo.GormPARStore
	}
	var nodeStores []node
	for _, db := range nodes {
		c, p := stores(t, db, nil)
		nodeStores = append(nodeStores, node{c, p})
	}

	var bad, slow violations
	// A loaded machine can stop this process for seconds; a call spanning
	// such a stall is late for the machine, not for the store. The monitor
	// records the stalls, and latencies are judged without them.
	stalls := startStallMonitor()
	t.Cleanup(stalls.stop)
	var gate sync.RWMutex // the controller holds it to pause the load
	var stop atomic.Bool
	workers := make([]*faultWorker, faultWorkers)
	var wg sync.WaitGroup
	for i := range workers {
		w := &faultWorker{id: i, bad: &bad, cimd: map[string]*cimdVersions{}, live: map[string]bool{}, maybe: map[string]bool{}}
		for k := range 4 {
			w.urls = append(w.urls, fmt.Sprintf("https://w%d.example/%d/client.json", i, k))
		}
		workers[i] = w
		wg.Go(func() {
			for !stop.Load() {
				n := nodeStores[rand.IntN(len(nodeStores))]
				gate.RLock()
				w.step(n.cache, n.par)
				gate.RUnlock()
			}
		})
	}
	var paused bool
	pause := func() time.Duration {
		start := time.Now()
		gate.Lock()
		paused = true
		return time.Since(start)
	}
	resume := func() {
		paused = false
		gate.Unlock()
	}
	// If the test stops early, stop the load before the pools close.
	t.Cleanup(func() {
		stop.Store(true)
		if paused {
			resume()
		}
		wg.Wait()
	})

	// Each phase's window: calls that start and end inside it must fail.
	type window struct {
		name       string
		from, to   time.Time
		recoveryAt time.Time // first success after the server came back
	}
	var outages []window
	phase := func(name string, d time.Duration) (time.Time, time.Time) {
		from := time.Now()
		time.Sleep(d)
		t.Logf("phase %s: %v", name, time.Since(from).Round(time.Millisecond))
		return from, time.Now()
	}

	// Warm-up: load with no fault, and no error allowed.
	warmFrom, warmTo := phase("warm-up", time.Second)

	// 1. Terminate every backend of the two pools, ten times, mid-load.
	termFrom := time.Now()
	terminated := 0
	for range 10 {
		var n []bool
		err := admin.Raw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND pid <> pg_backend_pid()`, faultApp).
			Scan(&n).Error
		if err != nil {
			t.Fatalf("pg_terminate_backend: %v", err)
		}
		for _, ok := range n {
			if ok {
				terminated++
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	termTo := time.Now()
	phase("after terminations", time.Second)
	if terminated < 10 {
		t.Errorf("only %d backends terminated in 10 rounds; the load is not reaching the server", terminated)
	}

	// 2 and 3. Stop the server (fast shutdown, then a crash) mid-load,
	// leave it down, start it again on the same port and data.
	for _, how := range []struct {
		name string
		down func(testing.TB)
	}{{"stop (fast shutdown)", srv.Stop}, {"crash (immediate shutdown)", srv.Crash}} {
		how.down(t)
		from, to := phase(how.name+": server down", faultOutage)
		srv.Restart(t)
		outages = append(outages, window{name: how.name, from: from, to: to})
		phase(how.name+": after restart", 1500*time.Millisecond)
	}

	// 4. Freeze every server process (SIGSTOP): connections hang rather
	// than fail, so only the context deadline ends the calls.
	srv.Freeze(t)
	frozeFrom, frozeTo := phase("frozen", 2*faultCallTimeout+time.Second)
	// Pause the load before thawing: calls still in flight end at their
	// deadline. Statements that were frozen mid-way then finish on the
	// server after their callers gave up; wait for them before writing
	// again, so that such a late commit cannot be mistaken for a stale
	// read (see RELIABILITY.md, "expired context").
	drained := pause()
	srv.Thaw(t)
	waitIdle(t, admin)
	resume()
	outages = append(outages, window{name: "freeze (SIGSTOP)", from: frozeFrom, to: frozeTo})
	if drained > faultCallTimeout+faultSlack {
		t.Errorf("the load took %v to drain while the server was frozen, want at most the deadline %v + %v", drained, faultCallTimeout, faultSlack)
	}

	// 5. The same store values, after every fault: no error allowed.
	lastFrom, lastTo := phase("last stretch", 1500*time.Millisecond)
	stop.Store(true)
	wg.Wait()
	stalls.stop()

	// Classify every call.
	var all []faultCall
	for _, w := range workers {
		all = append(all, w.calls...)
	}
	inside := func(c faultCall, from, to time.Time) bool { return !c.start.Before(from) && !c.end.After(to) }
	var total, failed, lastOK, disturbed int
	var maxLatency time.Duration
	outageCalls := make([]int, len(outages))
	outageOK := make([]int, len(outages))
	termCalls, termErrs := 0, 0
	for _, c := range all {
		total++
		stalled := stalls.overlap(c.start, c.end)
		lat := c.end.Sub(c.start) - stalled
		maxLatency = max(maxLatency, lat)
		if c.err != nil {
			failed++
		}
		if lat > faultCallTimeout+faultSlack {
			slow.add("%s took %v besides %v of process stalls, over its deadline %v + %v (err %v)", c.op, lat, stalled, faultCallTimeout, faultSlack, c.err)
		}
		// A stall can run a call's context out: no fault of the server's.
		if stalled > faultCallTimeout/4 {
			disturbed++
			continue
		}
		if inside(c, warmFrom, warmTo) && c.err != nil {
			bad.add("warm-up %s failed with no fault injected: %v", c.op, c.err)
		}
		if inside(c, termFrom, termTo) {
			termCalls++
			if c.err != nil {
				termErrs++
			}
		}
		if inside(c, lastFrom, lastTo) {
			if c.err != nil {
				bad.add("%s failed after every fault was over: %v", c.op, c.err)
			} else {
				lastOK++
			}
		}
		for i, o := range outages {
			if inside(c, o.from, o.to) {
				outageCalls[i]++
				if c.err == nil {
					outageOK[i]++
					bad.add("%s succeeded while the server was down (%s)", c.op, o.name)
				}
			}
			if c.err == nil && c.start.After(o.to) && (outages[i].recoveryAt.IsZero() || c.end.Before(outages[i].recoveryAt)) {
				outages[i].recoveryAt = c.end
			}
		}
	}
	for i, o := range outages {
		// Frozen, each worker's calls take their whole deadline: fewer fit.
		if outageCalls[i] < faultWorkers {
			t.Errorf("%s: only %d calls ran inside the outage; the check proves nothing", o.name, outageCalls[i])
		}
		t.Logf("%s: %d calls inside the outage, %d errors, %d successes; first success %v after the server was back",
			o.name, outageCalls[i], outageCalls[i]-outageOK[i], outageOK[i], o.recoveryAt.Sub(o.to).Round(time.Millisecond))
	}
	if lastOK < 100 {
		t.Errorf("only %d successful calls in the last stretch; the stores did not recover", lastOK)
	}

	// Nothing acknowledged is lost: read everything back through both
	// nodes, with no fault.
	ctx := context.Background()
	ackedCIMD, ackedPAR, checked := 0, 0, 0
	for _, w := range workers {
		ackedCIMD += w.ackedCIMD
		ackedPAR += w.ackedPAR
		for _, n := range nodeStores {
			for u, v := range w.cimd {
				if v.acked == 0 {
					continue
				}
				checked++
				got, found, err := n.cache.Get(ctx, u)
				if err != nil || !found {
					bad.add("after the faults: Get(%s) = found %v, err %v; its Put of version %d was acknowledged", u, found, err, v.acked)
					continue
				}
				if !v.possible(got, u, w.id) {
					bad.add("after the faults: Get(%s) = %v, want version %d (or a failed later one %v)", u, got, v.acked, v.pending)
				}
			}
			for uri := range w.live {
				checked++
				got, found, err := n.par.Fetch(ctx, uri)
				if err != nil || !found || !sameJSON(got, parDoc(uri, w.id)) {
					bad.add("after the faults: Fetch(%s) = %v, found %v, err %v; its Put was acknowledged and it was never taken", uri, got, found, err)
				}
			}
		}
	}
	live, maybe := 0, 0
	for _, w := range workers {
		live += len(w.live)
		maybe += len(w.maybe)
	}
	if n := rawCount(t, admin, parTable); n < int64(live) || n > int64(live+maybe) {
		t.Errorf("%s holds %d rows, want between %d (acknowledged, not taken) and %d (plus the writes whose outcome is unknown)", parTable, n, live, live+maybe)
	}

	t.Logf("calls: %d (%d failed), max latency %v (deadline %v, process stalls excluded: %v in all, %d calls spanning one); "+
		"backends terminated: %d, calls during terminations: %d (%d failed)",
		total, failed, maxLatency.Round(time.Millisecond), faultCallTimeout, stalls.total().Round(time.Millisecond), disturbed,
		terminated, termCalls, termErrs)
	t.Logf("acknowledged writes: %d CIMD Puts, %d PAR Puts; read back after the faults: %d reads over 2 nodes; "+
		"calls over deadline + %v: %d; panics, false misses, stale hits, failures without a fault, lost writes: %d",
		ackedCIMD, ackedPAR, checked, faultSlack, slow.count(), bad.count())
	slow.report(t, "late calls")
	bad.report(t, "server faults")
}

// waitIdle waits until no statement of the load is running on the server.
func waitIdle(t *testing.T, admin *gorm.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var active int64
		err := admin.Raw(`SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND state <> 'idle'`, faultApp).Scan(&active).Error
		if err == nil && active == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("statements of the load still running 30 s after the thaw (%d, %v)", active, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type faultCall struct {
	op         string
	start, end time.Time
	err        error
}

// cimdVersions is what a worker knows of one of its URLs.
type cimdVersions struct {
	next    int   // the version the next Put writes
	acked   int   // the last acknowledged version, 0 if none
	pending []int // versions written after it whose Put failed
}

func (v *cimdVersions) possible(got map[string]any, u string, worker int) bool {
	for _, ver := range append([]int{v.acked}, v.pending...) {
		if ver != 0 && sameJSON(got, cimdDoc(u, worker, ver)) {
			return true
		}
	}
	return false
}

func cimdDoc(u string, worker, version int) map[string]any {
	return map[string]any{"client_id": u, "worker": worker, "version": version}
}

func parDoc(uri string, worker int) map[string]any {
	return map[string]any{"client_id": "c", "request_uri": uri, "worker": worker, "scope": "openid"}
}

// faultWorker runs one call at a time on keys only it uses.
type faultWorker struct {
	id    int
	bad   *violations
	urls  []string
	cimd  map[string]*cimdVersions
	live  map[string]bool // acknowledged, not taken
	maybe map[string]bool // a Put or Take failed: stored or not
	calls []faultCall

	ackedCIMD, ackedPAR int
}

func (w *faultWorker) step(cache repo.ClientIDMetadataCache, par repo.PARStore) {
	ctx, cancel := context.WithTimeout(context.Background(), faultCallTimeout)
	defer cancel()
	call := faultCall{start: time.Now()}
	defer func() {
		if r := recover(); r != nil {
			w.bad.add("%s panicked: %v", call.op, r)
			call.err = fmt.Errorf("panic: %v", r)
		}
		call.end = time.Now()
		w.calls = append(w.calls, call)
		if call.err != nil {
			// Errors come fast while the server is down: do not spin.
			time.Sleep(10 * time.Millisecond)
		}
	}()
	u := w.urls[rand.IntN(len(w.urls))]
	v := w.cimd[u]
	if v == nil {
		v = &cimdVersions{next: 1}
		w.cimd[u] = v
	}
	anyLive := func() string {
		for uri := range w.live {
			return uri
		}
		return ""
	}
	switch r := rand.IntN(100); {
	case r < 25:
		call.op = "CIMD Put"
		ver := v.next
		v.next++
		call.err = cache.Put(ctx, u, cimdDoc(u, w.id, ver), time.Now().Add(time.Hour))
		w.unexpected(call)
		if call.err == nil {
			v.acked, v.pending = ver, nil
			w.ackedCIMD++
		} else {
			v.pending = append(v.pending, ver)
		}
	case r < 50:
		call.op = "CIMD Get"
		var got map[string]any
		var found bool
		got, found, call.err = cache.Get(ctx, u)
		switch {
		case call.err != nil:
			w.unexpected(call)
		case !found && v.acked != 0:
			w.bad.add("false miss: Get(%s) found nothing, err nil; version %d was acknowledged", u, v.acked)
		case found && !v.possible(got, u, w.id):
			w.bad.add("stale or wrong hit: Get(%s) = %v; acknowledged %d, failed since %v", u, got, v.acked, v.pending)
		}
	case r < 70 || len(w.live) < 20:
		call.op = "PAR Put"
		uri := repo.NewRequestURI()
		call.err = par.Put(ctx, uri, parDoc(uri, w.id), 5*time.Minute)
		w.unexpected(call)
		if call.err == nil {
			w.live[uri] = true
			w.ackedPAR++
		} else {
			w.maybe[uri] = true
		}
	case r < 85:
		call.op = "PAR Fetch"
		uri := anyLive()
		var got map[string]any
		var found bool
		got, found, call.err = par.Fetch(ctx, uri)
		switch {
		case call.err != nil:
			w.unexpected(call)
		case !found:
			w.bad.add("false miss: Fetch(%s) found nothing, err nil; its Put was acknowledged", uri)
		case !sameJSON(got, parDoc(uri, w.id)):
			w.bad.add("wrong hit: Fetch(%s) = %v", uri, got)
		}
	default:
		call.op = "PAR Take"
		uri := anyLive()
		var got map[string]any
		var found bool
		got, found, call.err = par.Take(ctx, uri)
		switch {
		case call.err != nil:
			w.unexpected(call)
			// The DELETE may have committed before the error: unknown.
			delete(w.live, uri)
			w.maybe[uri] = true
		case !found:
			w.bad.add("false miss: Take(%s) found nothing, err nil; its Put was acknowledged", uri)
			delete(w.live, uri)
		case !sameJSON(got, parDoc(uri, w.id)):
			w.bad.add("wrong hit: Take(%s) = %v", uri, got)
			delete(w.live, uri)
		default:
			delete(w.live, uri)
		}
	}
}

// unexpected flags errors a fault must never cause: a validation error,
// a duplicate (a retried insert), ErrNoDB.
func (w *faultWorker) unexpected(c faultCall) {
	if c.err == nil {
		return
	}
	if errors.Is(c.err, changesets.ErrInvalid) || errors.Is(c.err, repo.ErrDuplicate) || errors.Is(c.err, repo.ErrNoDB) {
		w.bad.add("%s: a fault surfaced as %v", c.op, c.err)
	}
}

// stallMonitor records the intervals in which this process did not run: a
// goroutine that wakes every 5 ms notes every gap of more than 100 ms.
type stallMonitor struct {
	mu       sync.Mutex
	stalls   [][2]time.Time
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func startStallMonitor() *stallMonitor {
	m := &stallMonitor{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		last := time.Now()
		for {
			select {
			case <-m.quit:
				return
			case <-time.After(5 * time.Millisecond):
			}
			now := time.Now()
			if now.Sub(last) > 100*time.Millisecond {
				m.mu.Lock()
				m.stalls = append(m.stalls, [2]time.Time{last, now})
				m.mu.Unlock()
			}
			last = now
		}
	}()
	return m
}

func (m *stallMonitor) stop() {
	m.stopOnce.Do(func() { close(m.quit) })
	<-m.done
}

// overlap is how long the process stalled between from and to.
func (m *stallMonitor) overlap(from, to time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var d time.Duration
	for _, s := range m.stalls {
		if lo, hi := maxTime(s[0], from), minTime(s[1], to); hi.After(lo) {
			d += hi.Sub(lo)
		}
	}
	return d
}

func (m *stallMonitor) total() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var d time.Duration
	for _, s := range m.stalls {
		d += s[1].Sub(s[0])
	}
	return d
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
