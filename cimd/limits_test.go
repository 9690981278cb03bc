package cimd_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// slowFetch is a FetchFunc that holds every fetch until released (or its
// context ends), counting those entered and those still running.
type slowFetch struct {
	entered, running atomic.Int64
	release          chan struct{}
	once             sync.Once
}

func newSlowFetch(t *testing.T) *slowFetch {
	s := &slowFetch{release: make(chan struct{})}
	t.Cleanup(s.open)
	return s
}

func (s *slowFetch) open() { s.once.Do(func() { close(s.release) }) }

func (s *slowFetch) fetch(ctx context.Context, req cimd.FetchRequest) (*cimd.Response, error) {
	s.entered.Add(1)
	s.running.Add(1)
	defer s.running.Add(-1)
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	body := fmt.Sprintf(`{"client_id":%q}`, req.ClientID)
	return &cimd.Response{StatusCode: 200, Header: jsonHeader(), Body: []byte(body)}, nil
}

// start resolves id in a goroutine under ctx; the result arrives on the
// returned channel.
func start(ctx context.Context, r *cimd.Resolver, id string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := r.Resolve(ctx, id)
		done <- err
	}()
	return done
}

func newLimitedResolver(t *testing.T, s *slowFetch, total, perHost int) *cimd.Resolver {
	t.Helper()
	r, err := cimd.NewResolver(&cimd.Config{
		Cache:                repo.NewMemoryClientIDMetadataCache(nil),
		Fetch:                s.fetch,
		MaxConcurrentFetches: total,
		MaxFetchesPerHost:    perHost,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustBeBusy resolves id and wants ErrBusy without a fetch. A Resolve
// that queued for a slot instead would wait for a held fetch to end and
// then start its own, which the entered count shows.
func mustBeBusy(t *testing.T, r *cimd.Resolver, s *slowFetch, id string) {
	t.Helper()
	entered := s.entered.Load()
	_, err := r.Resolve(context.Background(), id)
	if !errors.Is(err, cimd.ErrBusy) {
		t.Fatalf("Resolve(%s) = %v, want ErrBusy", id, err)
	}
	if n := s.entered.Load(); n != entered {
		t.Errorf("Resolve(%s) started a fetch", id)
	}
}

// N slow fetches fill MaxConcurrentFetches: the next distinct client_id
// fails at once with ErrBusy, also after their callers gave up (the
// detached fetches still run), while a caller of a client_id already in
// flight joins it. Once they end, fetches work again.
func TestMaxConcurrentFetches(t *testing.T) {
	t.Parallel()
	const limit = 4
	s := newSlowFetch(t)
	r := newLimitedResolver(t, s, limit, limit)
	id := func(i int) string { return fmt.Sprintf("https://h%d.example/client.json", i) }

	ctx, giveUp := context.WithCancel(context.Background())
	var waiting []<-chan error
	for i := range limit {
		waiting = append(waiting, start(ctx, r, id(i)))
	}
	waitFor(t, "the fetches to start", func() bool { return s.entered.Load() == limit })
	mustBeBusy(t, r, s, id(limit))

	joinCtx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Resolve(joinCtx, id(0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Resolve of a client_id in flight = %v, want to wait for it (here until its deadline)", err)
	}

	giveUp()
	for _, w := range waiting {
		if err := <-w; !errors.Is(err, context.Canceled) {
			t.Fatalf("a caller that gave up got %v", err)
		}
	}
	mustBeBusy(t, r, s, id(limit)) // the fetches run on without their callers

	s.open()
	waitFor(t, "the fetches to end", func() bool { return s.running.Load() == 0 })
	for i := range limit + 1 {
		if _, err := r.Resolve(context.Background(), id(limit+i)); err != nil {
			t.Errorf("Resolve after the fetches ended: %v", err)
		}
	}
}

// MaxFetchesPerHost bounds the fetches to one host name, whatever the
// port; other hosts still get fetched.
func TestMaxFetchesPerHost(t *testing.T) {
	t.Parallel()
	s := newSlowFetch(t)
	r := newLimitedResolver(t, s, 10, 2)
	a1 := start(context.Background(), r, "https://a.example/1")
	a2 := start(context.Background(), r, "https://a.example:8443/2")
	waitFor(t, "a.example's fetches to start", func() bool { return s.entered.Load() == 2 })
	mustBeBusy(t, r, s, "https://a.example/3")
	mustBeBusy(t, r, s, "https://a.example:9443/3")

	b := start(context.Background(), r, "https://b.example/1")
	waitFor(t, "b.example's fetch to start", func() bool { return s.entered.Load() == 3 })
	s.open()
	for _, c := range []<-chan error{a1, a2, b} {
		if err := <-c; err != nil {
			t.Errorf("Resolve = %v", err)
		}
	}
	if _, err := r.Resolve(context.Background(), "https://a.example/3"); err != nil {
		t.Errorf("Resolve after a.example's fetches ended: %v", err)
	}
}

// The zero Config allows DefaultMaxFetchesPerHost fetches to one host and
// DefaultMaxConcurrentFetches in all.
func TestFetchLimitDefaults(t *testing.T) {
	t.Parallel()
	s := newSlowFetch(t)
	r := newLimitedResolver(t, s, 0, 0)
	var waiting []<-chan error
	for i := range cimd.DefaultMaxConcurrentFetches {
		host, path := i/cimd.DefaultMaxFetchesPerHost, i%cimd.DefaultMaxFetchesPerHost
		waiting = append(waiting, start(context.Background(), r, fmt.Sprintf("https://h%d.example/%d", host, path)))
	}
	waitFor(t, "the fetches to start", func() bool { return s.entered.Load() == cimd.DefaultMaxConcurrentFetches })
	mustBeBusy(t, r, s, "https://h0.example/more")
	mustBeBusy(t, r, s, "https://another.example/c")
	s.open()
	for _, w := range waiting {
		if err := <-w; err != nil {
			t.Fatalf("Resolve = %v", err)
		}
	}
}
