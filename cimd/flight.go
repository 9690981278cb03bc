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
}

// flights lets concurrent misses for one client_id on one node share one
// fetch. Unlike golang.org/x/sync/singleflight's Do, a caller does not run
// the fetch itself: it runs in a goroutine of its own, so every caller can
// stop waiting without affecting the others.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// join returns the flight for key, starting fn in a new one when none is
// under way.
func (g *flights) join(key string, fn func() (map[string]any, error)) *flight {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	go g.run(key, f, fn)
	return f
}

func (g *flights) run(key string, f *flight, fn func() (map[string]any, error)) {
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
		delete(g.m, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.doc, f.err = fn()
}
