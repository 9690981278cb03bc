package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/repo"
)

// The operations the bench times, in report order.
type op int

const (
	opCIMDGet op = iota
	opCIMDPut
	opPARPush
	opPARFetch
	opPARTake
	numOps
)

var opNames = [numOps]string{"cimd_get", "cimd_put", "par_push", "par_fetch", "par_take"}

// The mix. Each iteration of a worker is, at even odds, what one
// authorization request costs either store: a CIMD lookup of the client,
// or a pushed request's life.
const (
	// One lookup in missEvery, across the workers, is of a new client, a
	// miss that fetches and puts; the rest, 95%, are of clients the cache
	// holds, the hits. Counted rather than drawn, so that a short run on a
	// slow database misses too, and the ratio is the same in every run.
	missEvery = 20
	// One pushed request in abandonEvery, 10%, is fetched but never taken
	// (the user left at the login page); it expires and the sweeper takes
	// it. Counted, as missEvery is.
	abandonEvery = 10
	// parTTL is a pushed request's lifetime; RFC 9126 suggests 5 to 600 s.
	parTTL = 60 * time.Second
	// shortTTL is the lifetime of what the sweeper should find during the
	// run: abandoned requests, and documents fetched for new clients
	// (served with a short Cache-Control max-age).
	shortTTL = 5 * time.Second
)

// errUnexpectedMiss is a request the bench pushed that its own fetch or
// take, moments later, did not find: the store lost it.
var errUnexpectedMiss = errors.New("unexpected miss: the request pushed a moment ago is gone")

// client is one registered client of the warm set.
type client struct {
	id, redirectURI string
	doc             map[string]any
}

// workload is what the workers share.
type workload struct {
	cache  *repo.GormClientIDMetadataCache
	pars   *repo.GormPARStore
	warm   []client
	run    string // the run's label in every URL it writes
	expiry time.Time

	// lookups and pushes count the lookups, for missEvery, and the pushed
	// requests, for abandonEvery.
	lookups, pushes atomic.Int64
	// cold numbers the new clients, so that every miss is of a URL not
	// seen before.
	cold atomic.Int64
	// stopping ends the workers at their next iteration.
	stopping atomic.Bool
	// ops and errs feed the progress line.
	ops, errs atomic.Int64
	samples   errorSamples
}

// workerStats is one worker's tally, merged after the run.
type workerStats struct {
	latency      [numOps]histogram
	errors       [numOps]int64
	hits, misses int64
}

// work runs iterations until stopping. Statements run in ctx, which ends
// only when the user insists (a second signal): a stopping worker
// finishes the flow it is in.
func (w *workload) work(ctx context.Context, st *workerStats, rng *rand.Rand) {
	for !w.stopping.Load() {
		if rng.IntN(2) == 0 {
			w.lookup(ctx, st, rng)
		} else {
			w.push(ctx, st, rng)
		}
	}
}

// lookup is a CIMD resolution: the cache, and on a miss the put that
// follows a fetch (the fetch itself is not the store's, and not timed).
func (w *workload) lookup(ctx context.Context, st *workerStats, rng *rand.Rand) {
	var c client
	expiry := w.expiry
	// The first lookup is a miss, then one in missEvery: even the
	// shortest run puts.
	if w.lookups.Add(1)%missEvery != 1 {
		c = w.warm[rng.IntN(len(w.warm))]
	} else {
		c = newClient(w.run, "new", int(w.cold.Add(1)))
		expiry = time.Now().Add(shortTTL)
	}
	var found bool
	err := w.time(st, opCIMDGet, func() (err error) {
		_, found, err = w.cache.Get(ctx, c.id)
		return err
	})
	switch {
	case err != nil:
		return
	case found:
		st.hits++
		return
	}
	st.misses++
	_ = w.time(st, opCIMDPut, func() error { return w.cache.Put(ctx, c.id, c.doc, expiry) })
}

// push is a pushed request's life: pushed by the client, fetched when the
// browser arrives, taken when the code is issued, or abandoned.
func (w *workload) push(ctx context.Context, st *workerStats, rng *rand.Rand) {
	c := w.warm[rng.IntN(len(w.warm))]
	params := requestParams(c, rng)
	abandon := w.pushes.Add(1)%abandonEvery == 1
	ttl := parTTL
	if abandon {
		ttl = shortTTL
	}
	uri := repo.NewRequestURI()
	pushed := time.Now()
	if err := w.time(st, opPARPush, func() error { return w.pars.Put(ctx, uri, params, ttl) }); err != nil {
		return
	}
	// A miss is the store's fault only while the request is live: on a
	// loaded SQLite file a Put can wait out the busy timeout past shortTTL.
	missing := func() error {
		if time.Since(pushed) < ttl {
			return errUnexpectedMiss
		}
		return nil
	}
	err := w.time(st, opPARFetch, func() error {
		_, found, err := w.pars.Fetch(ctx, uri)
		if err == nil && !found {
			err = missing()
		}
		return err
	})
	if err != nil || abandon {
		return
	}
	_ = w.time(st, opPARTake, func() error {
		_, found, err := w.pars.Take(ctx, uri)
		if err == nil && !found {
			err = missing()
		}
		return err
	})
}

// time runs f as one o, timing it if it succeeds and counting it if not.
func (w *workload) time(st *workerStats, o op, f func() error) error {
	start := time.Now()
	err := f()
	if err != nil {
		st.errors[o]++
		w.errs.Add(1)
		w.samples.add(fmt.Errorf("%s: %w", opNames[o], err))
		return err
	}
	st.latency[o].record(time.Since(start))
	w.ops.Add(1)
	return nil
}

// seed writes the warm set, live for the run and a minute more, and
// expired rows for the sweeper, in one transaction: fast on SQLite, which
// would otherwise sync every row.
func (w *workload) seed(ctx context.Context, db *gorm.DB, expired int) error {
	now := time.Now()
	// The expired rows are written by stores whose clock is back, as a
	// node would have written them then: documents two hours ago that
	// expired an hour ago, requests pushed with parTTL, within the
	// stores' maximum, that expired an hour ago.
	past := &repo.Config{Now: func() time.Time { return now.Add(-2 * time.Hour) }}
	parPast := &repo.Config{Now: func() time.Time { return now.Add(-time.Hour - parTTL) }}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cache, err := repo.NewGormClientIDMetadataCache(tx, nil)
		if err != nil {
			return err
		}
		for _, c := range w.warm {
			if err := cache.Put(ctx, c.id, c.doc, w.expiry); err != nil {
				return fmt.Errorf("seed the warm set: %w", err)
			}
		}
		oldCache, err := repo.NewGormClientIDMetadataCache(tx, past)
		if err != nil {
			return err
		}
		oldPARs, err := repo.NewGormPARStore(tx, parPast)
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		for i := range expired {
			c := newClient(w.run, "gone", i)
			if err := oldCache.Put(ctx, c.id, c.doc, now.Add(-time.Hour)); err != nil {
				return fmt.Errorf("seed expired documents: %w", err)
			}
			if err := oldPARs.Put(ctx, repo.NewRequestURI(), requestParams(c, rng), parTTL); err != nil {
				return fmt.Errorf("seed expired requests: %w", err)
			}
		}
		return nil
	})
}

// newClient is client n of a kind ("warm", "new", "gone") of the run,
// each on its own host, as CIMD clients are.
func newClient(run, kind string, n int) client {
	host := fmt.Sprintf("%s-%d.bench-%s.gormstore.invalid", kind, n, run)
	origin := "https://" + host
	id := origin + "/oauth/client-metadata.json"
	redirect := origin + "/oauth/callback"
	return client{id: id, redirectURI: redirect, doc: map[string]any{
		"client_id":                  id,
		"client_name":                fmt.Sprintf("Bench client %d", n),
		"client_uri":                 origin,
		"logo_uri":                   origin + "/logo.png",
		"redirect_uris":              []any{redirect},
		"grant_types":                []any{"authorization_code", "refresh_token"},
		"response_types":             []any{"code"},
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks_uri":                   origin + "/oauth/jwks.json",
		"scope":                      "openid profile email offline_access",
		"contacts":                   []any{"ops@" + host},
		"software_id":                "gormstore-bench",
		"software_version":           "1.0.0",
	}}
}

// requestParams are the validated parameters of an authorization request
// with PKCE, as a PAR endpoint stores them.
func requestParams(c client, rng *rand.Rand) map[string]any {
	return map[string]any{
		"response_type":         "code",
		"client_id":             c.id,
		"redirect_uri":          c.redirectURI,
		"scope":                 "openid profile email",
		"state":                 randomString(rng, 16),
		"nonce":                 randomString(rng, 16),
		"code_challenge":        randomString(rng, 32),
		"code_challenge_method": "S256",
	}
}

// randomString is n random bytes in base64url: the shape of a state, a
// nonce, or (n = 32) an S256 code challenge. Not secret: a bench's.
func randomString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// errorSamples keeps the first few distinct errors of the run, for the
// report: a failing database repeats the same one thousands of times.
type errorSamples struct {
	mu    sync.Mutex
	first []string
}

const maxErrorSamples = 5

func (s *errorSamples) add(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := err.Error(); len(s.first) < maxErrorSamples && !slices.Contains(s.first, msg) {
		s.first = append(s.first, msg)
	}
}

func (s *errorSamples) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.first...)
}
