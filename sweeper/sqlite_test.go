package sweeper_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
	"github.com/attesto/gormstore/sweeper"
)

// On SQLite the sweeper deletes in bounded batches too, and decides what
// expired by instant: the rows are written through the stores by clocks in
// zones far from the sweeper's.
func TestSweepOnSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.NewSQLite(t)
	east := time.FixedZone("UTC+14", 14*60*60)
	west := time.FixedZone("UTC-12", -12*60*60)
	clock := repotest.NewClock(epoch.Add(-2 * time.Hour).In(east))
	cache, err := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	pars, err := repo.NewGormPARStore(db, &repo.Config{Now: clock.Now, MaxPARTTL: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const expired, live = 250, 5
	for i := range expired {
		// Expired a moment ago to an hour ago, written in the east.
		url := fmt.Sprintf("https://expired.example/%d", i)
		if err := cache.Put(ctx, url, map[string]any{"client_id": url}, epoch.Add(-time.Duration(i+1)*time.Millisecond).In(east)); err != nil {
			t.Fatal(err)
		}
	}
	var liveURLs []string
	for i := range live {
		// Live for a moment more, written in the west: its wall clock is
		// far behind the sweeper's.
		url := fmt.Sprintf("https://live.example/%d", i)
		liveURLs = append(liveURLs, url)
		if err := cache.Put(ctx, url, map[string]any{"client_id": url}, epoch.Add(time.Millisecond).In(west)); err != nil {
			t.Fatal(err)
		}
	}
	// 12 requests pushed two hours before the cut-off with a TTL of an
	// hour (expired), 3 with a TTL of three hours (live).
	for i := range 15 {
		ttl := time.Hour
		if i < 3 {
			ttl = 3 * time.Hour
		}
		if err := pars.Put(ctx, repo.NewRequestURI(), map[string]any{"client_id": "c"}, ttl); err != nil {
			t.Fatal(err)
		}
	}

	rec := &testdb.Recorder{}
	s := mustNew(t, rec.On(db), sweeper.Config{
		BatchSize: 100,
		Now:       func() time.Time { return epoch.In(west) },
	})
	got, err := s.SweepNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[cimd] != expired || got[par] != 12 {
		t.Errorf("SweepNow deleted %v, want %d from %s and 12 from %s", got, expired, cimd, par)
	}
	var perStatement []int64
	for _, st := range batches(rec, cimd) {
		perStatement = append(perStatement, st.Rows)
	}
	if want := []int64{100, 100, 50}; !slices.Equal(perStatement, want) {
		t.Errorf("rows per DELETE on %s = %v, want %v", cimd, perStatement, want)
	}
	if n := testdb.Count(t, db, cimd); n != live {
		t.Errorf("%s has %d rows, want the %d live ones", cimd, n, live)
	}
	if n := testdb.Count(t, db, par); n != 3 {
		t.Errorf("%s has %d rows, want the 3 live ones", par, n)
	}
	clock.Set(epoch.In(east))
	for _, url := range liveURLs {
		if _, ok, err := cache.Get(ctx, url); !ok || err != nil {
			t.Errorf("Get(%s) after the sweep = %v, %v; want the live document", url, ok, err)
		}
	}
}
