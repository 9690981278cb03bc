package cimd

import (
	"fmt"
	"sync"
)

// flight is one shared fetch: done is closed once doc and err are set.
type flight struct {
	done chan struct{}
	doc  map[string]any
	err  error

	// mu orders the flight's Put against Resolver.Delete: deleted, once
	// set, keeps the flight from storing what it fetched.
	mu      sync.Mutex
	deleted bool
}

// store runs put unless the flight's URL was deleted since it started.
// Holding mu across put means a Delete either
// comes first and is seen here, or waits for put and then evicts its
// entry.
func (f *flight) store(put func() error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted {
		return nil
	}
	return put()
}

// flights lets concurrent misses for one client_id on one node share one
// fetch, and bounds how many fetches run. Unlike
// golang.org/x/sync/singleflight's Do, a caller does not run the fetch
// itself: it runs in a goroutine of its own, so every caller can stop
// waiting without affecting the others.
type flights struct {
	maxTotal, maxPerHost int

	mu      sync.Mutex
	m       map[string]*flight
	total   int            // flights running, detached ones included
	perHost map[string]int // the same, by host name
}

// join returns the flight for key, starting fn in a new one when none is
// under way. Starting one needs a free slot, overall and for host; when
// there is none, join fails with ErrBusy and nothing runs.
func (g *flights) join(key, host string, fn func(*flight) (map[string]any, error)) (*flight, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, nil
	}
	if g.total >= g.maxTotal {
		return nil, fmt.Errorf("%w: %d fetches running, the most this resolver runs", ErrBusy, g.total)
	}
	if g.perHost[host] >= g.maxPerHost {
		return nil, fmt.Errorf("%w: %d fetches running for host %s, the most this resolver runs for one host", ErrBusy, g.perHost[host], host)
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
		g.perHost = make(map[string]int)
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	g.total++
	g.perHost[host]++
	go g.run(key, host, f, fn)
	return f, nil
}

// detach marks key's flight, if any, as deleted and takes it out of the
// map, so that it stores nothing and later callers start a new flight
// instead of joining it. It keeps its slot until it ends.
func (g *flights) detach(key string) {
	g.mu.Lock()
	f := g.m[key]
	delete(g.m, key)
	g.mu.Unlock()
	if f != nil {
		f.mu.Lock()
		f.deleted = true
		f.mu.Unlock()
	}
}

func (g *flights) run(key, host string, f *flight, fn func(*flight) (map[string]any, error)) {
	defer func() {
		// Nobody could recover a panic in this goroutine; it would take
		// the whole server down. It fails this one resolution instead.
		if p := recover(); p != nil {
			f.doc, f.err = nil, fmt.Errorf("%w: the shared fetch panicked: %v", ErrFetch, p)
		}
		// Leave the map before waking the waiters: a caller arriving in
		// between starts a new flight, whose first step finds what this
		// one stored.
		g.mu.Lock()
		if g.m[key] == f {
			delete(g.m, key)
		}
		g.total--
		if g.perHost[host]--; g.perHost[host] == 0 {
			delete(g.perHost, host)
		}
		g.mu.Unlock()
		close(f.done)
	}()
	f.doc, f.err = fn(f)
}
