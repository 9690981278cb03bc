package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// pgNodes returns two pools on one fresh PostgreSQL schema, and a third
// for the test's own statements.
func pgNodes(t *testing.T) (a, b, admin *gorm.DB) {
	t.Helper()
	schema := testdb.Schema(t)
	a = testdb.Open(t, schema, 4)
	testdb.CreateTables(t, a)
	return a, testdb.Open(t, schema, 4), testdb.Open(t, schema, 1)
}

// A Put, Delete or DeleteAll on node A drops node B's entry, through the
// notification alone: B's clock stands still, so no lifetime ends.
func TestNearCacheEvictsAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	replaced := nearDoc(nearURL)
	replaced["client_name"] = "Replaced"
	for _, write := range []struct {
		name string
		do   func(a *repo.NearCache, exp time.Time) error
		want map[string]any
	}{
		{"Put", func(a *repo.NearCache, exp time.Time) error { return a.Put(ctx, nearURL, replaced, exp) }, replaced},
		{"Delete", func(a *repo.NearCache, _ time.Time) error { return a.Delete(ctx, nearURL) }, nil},
		{"DeleteAll", func(a *repo.NearCache, _ time.Time) error { return a.DeleteAll(ctx) }, nil},
	} {
		t.Run(write.name, func(t *testing.T) {
			t.Parallel()
			dbA, dbB, _ := pgNodes(t)
			clock := repotest.NewClock(repotest.Epoch)
			channel := nearChannel(t)
			a := newNear(t, gormCache(t, dbA, clock.Now), repo.NearCacheConfig{Listen: (&listener{}).listen, Channel: channel})
			b := newNear(t, gormCache(t, dbB, clock.Now), repo.NearCacheConfig{Listen: (&listener{}).listen, Channel: channel})
			listening(t, a)
			listening(t, b)
			exp := clock.Now().Add(time.Hour)
			mustDo(t, "Put on A", a.Put(ctx, nearURL, nearDoc(nearURL), exp))
			waitFor(t, "B has A's Put notification", func() bool { return b.Stats().Notifications == 1 })
			mustGet(t, "B fills", b, nearURL, nearDoc(nearURL))
			mustGet(t, "B hits", b, nearURL, nearDoc(nearURL))
			if st := b.Stats(); st.Hits != 1 || st.Entries != 1 {
				t.Fatalf("B's Stats = %+v, want its entry served from memory", st)
			}
			mustDo(t, write.name+" on A", write.do(a, exp))
			waitFor(t, "B drops its entry", func() bool { return b.Stats().Entries == 0 })
			mustGet(t, "B after A's "+write.name, b, nearURL, write.want)
			if st := b.Stats(); st.Notifications != 2 {
				t.Fatalf("B's Stats = %+v, want 2 notifications", st)
			}
		})
	}
}

// The notification goes in the write's transaction: delivered when the
// write commits, never before (B would re-read the old row) and never for
// a write rolled back.
func TestNearCacheAnnouncesAtCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, commit := range []bool{true, false} {
		name := "Rollback"
		if commit {
			name = "Commit"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbA, dbB, _ := pgNodes(t)
			channel := nearChannel(t)
			b := newNear(t, gormCache(t, dbB, nil), repo.NearCacheConfig{Listen: (&listener{}).listen, Channel: channel})
			listening(t, b)
			mustDo(t, "Put", gormCache(t, dbA, nil).Put(ctx, nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)))
			mustGet(t, "B fills", b, nearURL, nearDoc(nearURL))

			tx := dbA.Begin()
			mustDo(t, "Begin", tx.Error)
			t.Cleanup(func() { tx.Rollback() })
			a := newNear(t, gormCache(t, tx, nil), repo.NearCacheConfig{Channel: channel})
			mustDo(t, "Delete in the transaction", a.Delete(ctx, nearURL))
			time.Sleep(300 * time.Millisecond)
			if st := b.Stats(); st.Notifications != 0 || st.Entries != 1 {
				t.Fatalf("before the commit B's Stats = %+v: notified of an uncommitted write", st)
			}
			if !commit {
				mustDo(t, "Rollback", tx.Rollback().Error)
				time.Sleep(300 * time.Millisecond)
				if st := b.Stats(); st.Notifications != 0 || st.Entries != 1 {
					t.Fatalf("B's Stats = %+v: notified of a write rolled back", st)
				}
				mustGet(t, "the shared cache after the rollback", gormCache(t, dbB, nil), nearURL, nearDoc(nearURL))
				return
			}
			mustDo(t, "Commit", tx.Commit().Error)
			waitFor(t, "B is notified", func() bool { return b.Stats().Notifications == 1 })
			mustGet(t, "B after the commit", b, nearURL, nil)
		})
	}
}

// A write whose notification fails is rolled back and returns the error:
// a write that succeeds has been announced.
func TestNearCacheWriteFailsWithItsNotification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbA, dbB, _ := pgNodes(t)
	mustDo(t, "Put", gormCache(t, dbB, nil).Put(ctx, nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)))
	// A plugin of node A's that fails every notification, as a lost
	// connection or a cancelled context between the write and the
	// notification would.
	refused := errors.New("notification refused by the test's plugin")
	mustDo(t, "register", dbA.Callback().Raw().Before("gorm:raw").Register("near_test:refuse_notify", func(tx *gorm.DB) {
		if strings.Contains(tx.Statement.SQL.String(), "pg_notify") {
			tx.AddError(refused)
		}
	}))
	a := newNear(t, gormCache(t, dbA, nil), repo.NearCacheConfig{Channel: nearChannel(t)})
	replaced := nearDoc(nearURL)
	replaced["client_name"] = "Replaced"
	for name, write := range map[string]func() error{
		"Put":       func() error { return a.Put(ctx, nearURL, replaced, time.Now().Add(time.Hour)) },
		"Delete":    func() error { return a.Delete(ctx, nearURL) },
		"DeleteAll": func() error { return a.DeleteAll(ctx) },
	} {
		if err := write(); !errors.Is(err, refused) {
			t.Fatalf("%s with a failing notification = %v, want the failure", name, err)
		}
		mustGet(t, "the shared cache after the failed "+name, gormCache(t, dbB, nil), nearURL, nearDoc(nearURL))
	}
}

// The listener reconnects on its own when its backend is killed, and the
// node never serves a stale document beyond Lifetime meanwhile: entries
// are dropped when the connection goes, entries filled during the outage
// live Lifetime at most, and the cache is cleared again on reconnecting,
// since notifications were missed.
func TestNearCacheListenerReconnects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbA, dbB, admin := pgNodes(t)
	clock := repotest.NewClock(repotest.Epoch)
	channel := nearChannel(t)
	lb := &listener{}
	a := newNear(t, gormCache(t, dbA, clock.Now), repo.NearCacheConfig{Listen: (&listener{}).listen, Channel: channel})
	b := newNear(t, gormCache(t, dbB, clock.Now), repo.NearCacheConfig{Listen: lb.listen, Channel: channel, CheckInterval: time.Second})
	listening(t, a)
	listening(t, b)
	v1, v2, v3 := nearDoc(nearURL), nearDoc(nearURL), nearDoc(nearURL)
	v2["client_name"], v3["client_name"] = "Version 2", "Version 3"
	exp := clock.Now().Add(time.Hour)

	mustDo(t, "Put v1 on A", a.Put(ctx, nearURL, v1, exp))
	waitFor(t, "B has A's notification", func() bool { return b.Stats().Notifications == 1 })
	mustGet(t, "B fills v1", b, nearURL, v1)
	mustGet(t, "B hits v1", b, nearURL, v1)

	// Kill B's listening backend, and keep B from reconnecting for now.
	lb.block(true)
	var killed bool
	killedAt := time.Now()
	mustDo(t, "pg_terminate_backend", admin.Raw("SELECT pg_terminate_backend(?)", lb.lastPID()).Scan(&killed).Error)
	if !killed {
		t.Fatal("pg_terminate_backend found no backend")
	}
	waitFor(t, "B notices the lost connection", func() bool { return !b.Stats().Listening })
	t.Logf("B noticed its killed backend after %v", time.Since(killedAt).Round(time.Millisecond))
	if st := b.Stats(); st.Entries != 0 {
		t.Fatalf("B's Stats = %+v: entries kept after the connection was lost", st)
	}

	// During the outage: B fills v1 under Lifetime; A's Put of v2 is not
	// delivered to B, which serves v1 from memory, within Lifetime only.
	mustGet(t, "B refills v1", b, nearURL, v1)
	filled := clock.Now()
	mustDo(t, "Put v2 on A", a.Put(ctx, nearURL, v2, exp))
	clock.Set(filled.Add(repo.DefaultNearCacheLifetime - time.Millisecond))
	hits := b.Stats().Hits
	mustGet(t, "B within Lifetime", b, nearURL, v1)
	if b.Stats().Hits != hits+1 {
		t.Fatal("B's stale entry was not served from memory: the test proves nothing")
	}
	clock.Set(filled.Add(repo.DefaultNearCacheLifetime))
	mustGet(t, "B at Lifetime", b, nearURL, v2)

	// Still disconnected: B keeps v2; A's Put of v3 is missed. On
	// reconnecting, B clears its cache.
	mustDo(t, "Put v3 on A", a.Put(ctx, nearURL, v3, exp))
	mustGet(t, "B within Lifetime, stale", b, nearURL, v2)
	lb.block(false)
	unblockedAt := time.Now()
	waitFor(t, "B reconnects", func() bool { st := b.Stats(); return st.Listening && st.Connects == 2 })
	t.Logf("B listened again %v after the server took connections again (retries back off up to 5 s)", time.Since(unblockedAt).Round(time.Millisecond))
	if st := b.Stats(); st.Entries != 0 {
		t.Fatalf("B's Stats = %+v: entries kept across the reconnection", st)
	}
	mustGet(t, "B after reconnecting", b, nearURL, v3)

	// And B listens again: A's Delete reaches it.
	mustDo(t, "Delete on A", a.Delete(ctx, nearURL))
	waitFor(t, "B drops its entry", func() bool { return b.Stats().Entries == 0 })
	mustGet(t, "B after A's Delete", b, nearURL, nil)
}

// While the listener is connected, an entry lives NotifiedLifetime; once
// it is stopped, every entry is dropped and new ones live Lifetime again.
func TestNearCacheNotifiedLifetime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbA, _, _ := pgNodes(t)
	clock := repotest.NewClock(repotest.Epoch)
	n := newNear(t, gormCache(t, dbA, clock.Now), repo.NearCacheConfig{
		Listen: (&listener{}).listen, Channel: nearChannel(t), Lifetime: time.Second, NotifiedLifetime: 10 * time.Second,
	})
	listening(t, n)
	mustDo(t, "Put", n.Put(ctx, nearURL, nearDoc(nearURL), clock.Now().Add(time.Hour)))
	waitFor(t, "the node hears its own Put", func() bool { return n.Stats().Notifications == 1 })
	served := func(t *testing.T, at time.Duration) bool {
		t.Helper()
		clock.Set(repotest.Epoch.Add(at))
		misses := n.Stats().Misses
		mustGet(t, "Get", n, nearURL, nearDoc(nearURL))
		return n.Stats().Misses == misses
	}
	served(t, 0)
	if !served(t, 10*time.Second-time.Millisecond) {
		t.Fatal("an entry filled while listening was not kept for NotifiedLifetime")
	}
	if served(t, 10*time.Second) {
		t.Fatal("an entry was kept past NotifiedLifetime")
	}
	mustDo(t, "Stop", n.Stop(ctx))
	if st := n.Stats(); st.Listening || st.Entries != 0 {
		t.Fatalf("after Stop, Stats = %+v: want no listener and no entries", st)
	}
	served(t, 20*time.Second)
	if !served(t, 21*time.Second-time.Millisecond) {
		t.Fatal("an entry was not kept for Lifetime after Stop")
	}
	if served(t, 21*time.Second) {
		t.Fatal("an entry filled after Stop was kept past Lifetime")
	}
}

// Start and Stop are safe twice and in any order; Stop waits for the
// listener, and a Start after Stop starts nothing.
func TestNearCacheLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("WithoutListen", func(t *testing.T) {
		t.Parallel()
		n := newNear(t, repo.NewMemoryClientIDMetadataCache(nil), repo.NearCacheConfig{})
		mustDo(t, "Start", n.Start(ctx))
		mustDo(t, "Start again", n.Start(ctx))
		mustDo(t, "Stop", n.Stop(ctx))
		mustDo(t, "Stop again", n.Stop(ctx))
		if err := n.Start(ctx); err == nil {
			t.Fatal("Start after Stop succeeded")
		}
	})

	t.Run("StopBeforeStart", func(t *testing.T) {
		t.Parallel()
		lt := &listener{}
		n := newNear(t, gormCache(t, testdb.New(t), nil), repo.NearCacheConfig{Listen: lt.listen, Channel: nearChannel(t)})
		mustDo(t, "Stop", n.Stop(ctx))
		if err := n.Start(ctx); err == nil {
			t.Fatal("Start after Stop succeeded")
		}
		time.Sleep(100 * time.Millisecond)
		if st := n.Stats(); st.Listening || st.Connects != 0 || len(lt.pids) != 0 {
			t.Fatalf("Stats = %+v after a refused Start: a listener ran", st)
		}
	})

	t.Run("StartStop", func(t *testing.T) {
		t.Parallel()
		n := newNear(t, gormCache(t, testdb.New(t), nil), repo.NearCacheConfig{Listen: (&listener{}).listen, Channel: nearChannel(t)})
		listening(t, n)
		mustDo(t, "Start again", n.Start(ctx))
		mustDo(t, "Put", n.Put(ctx, nearURL, nearDoc(nearURL), time.Now().Add(time.Hour)))
		mustGet(t, "Get", n, nearURL, nearDoc(nearURL))
		mustDo(t, "Stop", n.Stop(ctx))
		if st := n.Stats(); st.Listening || st.Entries != 0 || st.Connects != 1 {
			t.Fatalf("Stats after Stop = %+v, want one connection, no listener, no entries", st)
		}
		mustDo(t, "Stop again", n.Stop(ctx))
		if err := n.Start(ctx); err == nil {
			t.Fatal("Start after Stop succeeded")
		}
		mustGet(t, "Get after Stop", n, nearURL, nearDoc(nearURL))
	})

	t.Run("StartContextEnds", func(t *testing.T) {
		t.Parallel()
		n := newNear(t, gormCache(t, testdb.New(t), nil), repo.NearCacheConfig{Listen: (&listener{}).listen, Channel: nearChannel(t)})
		startCtx, cancel := context.WithCancel(ctx)
		mustDo(t, "Start", n.Start(startCtx))
		waitFor(t, "the listener connects", func() bool { return n.Stats().Listening })
		cancel()
		waitFor(t, "the listener ends", func() bool { return !n.Stats().Listening })
		mustDo(t, "Stop", n.Stop(ctx))
	})

	t.Run("StopGivesUpWithItsContext", func(t *testing.T) {
		t.Parallel()
		n := newNear(t, gormCache(t, testdb.New(t), nil), repo.NearCacheConfig{Listen: (&listener{}).listen, Channel: nearChannel(t)})
		listening(t, n)
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := n.Stop(done); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Stop with an ended context = %v, want nil or context.Canceled", err)
		}
		// The listener ends on its own; the cleanup's Stop waits for it.
	})
}
