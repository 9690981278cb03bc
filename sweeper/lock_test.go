package sweeper_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

// otherDialect is PostgreSQL under another name: what the sweeper does on
// a dialect without advisory locks (SQLite, later), run on the real server.
type otherDialect struct{ gorm.Dialector }

func (otherDialect) Name() string { return "other" }

func openOtherDialect(t *testing.T, db *gorm.DB) *gorm.DB {
	t.Helper()
	pool, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	other, err := gorm.Open(otherDialect{postgres.New(postgres.Config{Conn: pool})}, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return other
}

// pinned returns one connection of db's pool, closed when t ends.
func pinned(t *testing.T, db *gorm.DB) *sql.Conn {
	t.Helper()
	pool, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func tryLock(t *testing.T, conn *sql.Conn, key int64) bool {
	t.Helper()
	var ok bool
	if err := conn.QueryRowContext(context.Background(), "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func unlock(t *testing.T, conn *sql.Conn, key int64) {
	t.Helper()
	var ok bool
	if err := conn.QueryRowContext(context.Background(), "SELECT pg_advisory_unlock($1)", key).Scan(&ok); err != nil || !ok {
		t.Fatalf("unlock: %v, %v", ok, err)
	}
}

// A node that finds the lock taken (PostgreSQL's advisory lock on
// LockKey; MariaDB's named lock, "gormstore sweeper " and the key in hex)
// skips the pass, and its pass once the lock is free releases it.
func TestHeldLockSkipsThePass(t *testing.T) {
	t.Parallel()
	for _, b := range lockBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t, 1, 4)[0]
			b.seed(t, db, cimdTable(false), "https://expired.example/", 5, epoch.Add(-time.Hour), time.Second)
			// Advisory locks are per database, named locks per server: a
			// random key keeps parallel tests apart.
			key := rand.Int64()
			holder := pinned(t, db)
			if !b.tryLock(t, holder, key) {
				t.Fatal("the test could not take its own lock")
			}
			logs := &testdb.Buffer{}
			reports := newResults()
			s := mustNew(t, db, sweeper.Config{LockKey: key, Logger: slogTo(logs), OnSweep: reports.onSweep})

			got, err := s.SweepNow(ctx)
			if !errors.Is(err, sweeper.ErrLocked) || len(got) != 0 {
				t.Fatalf("SweepNow under another node's lock = %v, %v; want nothing, ErrLocked", got, err)
			}
			if n := testdb.Count(t, db, cimd); n != 5 {
				t.Errorf("%d rows left, want all 5: a skipped pass deletes nothing", n)
			}
			if r := reports.next(t, time.Second); r.Outcome != sweeper.OutcomeSkipped || !errors.Is(r.Err, sweeper.ErrLocked) {
				t.Errorf("OnSweep got %v, %v; want skipped, ErrLocked", r.Outcome, r.Err)
			}
			if l := logs.String(); !strings.Contains(l, "level=DEBUG") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
				t.Errorf("a skip must be logged at DEBUG only:\n%s", l)
			}

			b.unlock(t, holder, key)
			if got, err := s.SweepNow(ctx); err != nil || got[cimd] != 5 {
				t.Fatalf("SweepNow once the lock is free = %v, %v; want 5 deleted", got, err)
			}
			// The pass released its lock: the key is free for the next node.
			if !b.tryLock(t, holder, key) {
				t.Error("the sweeper kept the lock after its pass")
			}
		})
	}
}

// Without session locks (SQLite), a dialect sweeps whatever lock another
// node holds, with the portable statement: PostgreSQL under another name
// stands for it, run on the real server.
func TestDialectWithoutLocksSweepsRegardless(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	seed(t, db, cimdTable(false), "https://expired.example/", 5, epoch.Add(-time.Hour), time.Second)
	key := rand.Int64()
	if !tryLock(t, pinned(t, db), key) {
		t.Fatal("the test could not take its own lock")
	}
	rec := &testdb.Recorder{}
	other := mustNew(t, rec.On(openOtherDialect(t, db)), sweeper.Config{LockKey: key})
	if got, err := other.SweepNow(context.Background()); err != nil || got[cimd] != 5 {
		t.Fatalf("SweepNow on another dialect = %v, %v; want 5 deleted without the lock", got, err)
	}
	stmts := batches(rec, cimd)
	if len(stmts) == 0 {
		t.Error("no batch statement recorded")
	}
	for _, st := range stmts {
		if strings.Contains(st.Query, "SKIP LOCKED") || strings.Contains(st.Query, "ARRAY") {
			t.Errorf("another dialect ran PostgreSQL's statement: %s", st.Query)
		}
	}
}

// When the unlock fails, the sweeper closes the connection that holds the
// lock: returned to the pool it would keep the lock, and every node would
// skip every pass. The backend fails the unlock on a healthy connection
// (on PostgreSQL a pg_advisory_unlock that raises, on MariaDB a GORM
// callback that fails RELEASE_LOCK before it reaches the server): only
// closing it frees the lock.
func TestFailedUnlockClosesTheConnection(t *testing.T) {
	t.Parallel()
	for _, b := range lockBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, probe := b.refusingUnlock(t)
			b.seed(t, db, cimdTable(false), "https://expired.example/", 3, epoch.Add(-time.Hour), time.Second)
			key := rand.Int64()
			logs := &testdb.Buffer{}
			s := mustNew(t, db, sweeper.Config{LockKey: key, Logger: slogTo(logs)})

			if got, err := s.SweepNow(ctx); err != nil || got[cimd] != 3 {
				t.Fatalf("SweepNow = %v, %v; want 3 deleted: a failed unlock does not fail the pass", got, err)
			}
			if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "unlock refused by the test") {
				t.Errorf("the failed unlock was not logged at WARN:\n%s", l)
			}
			conn := pinned(t, probe)
			deadline := time.Now().Add(5 * time.Second)
			for !b.tryLock(t, conn, key) {
				if time.Now().After(deadline) {
					t.Fatal("the lock outlived the failed unlock: its connection went back to the pool")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
