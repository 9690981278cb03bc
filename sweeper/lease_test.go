package sweeper_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

// Lease configurations New refuses, and the defaults it fills in.
func TestLeaseConfig(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	for _, tc := range []struct {
		name  string
		lease sweeper.Lease
	}{
		{"TTL below a second", sweeper.Lease{TTL: 999 * time.Millisecond}},
		{"negative TTL", sweeper.Lease{TTL: -time.Minute}},
		{"table with a quote", sweeper.Lease{Table: `lea"ses`}},
		{"table with two dots", sweeper.Lease{Table: "a.b.c"}},
		{"table name too long", sweeper.Lease{Table: strings.Repeat("t", 64)}},
		{"holder too long", sweeper.Lease{Holder: strings.Repeat("h", 256)}},
		{"holder with NUL", sweeper.Lease{Holder: "node\x001"}},
		{"holder not UTF-8", sweeper.Lease{Holder: "node\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lease := tc.lease
			if _, err := sweeper.New(db, &sweeper.Config{Interval: time.Hour, Lease: &lease}); !errors.Is(err, sweeper.ErrInvalidConfig) {
				t.Errorf("New = %v; want ErrInvalidConfig", err)
			}
		})
	}
	t.Run("a database without lease statements", func(t *testing.T) {
		t.Parallel()
		_, err := sweeper.New(openOtherDialect(t, db), &sweeper.Config{Interval: time.Hour, Lease: &sweeper.Lease{}})
		if !errors.Is(err, sweeper.ErrInvalidConfig) || !strings.Contains(err.Error(), "other") {
			t.Errorf("New on another dialect = %v; want ErrInvalidConfig naming it", err)
		}
	})
}

// leaseRow is the lease table's one row, read back raw.
type leaseRow struct {
	Name, Holder, Token string
}

func leaseRows(t *testing.T, db *gorm.DB, table string) []leaseRow {
	t.Helper()
	var rows []leaseRow
	if err := db.Table(table).Select("name", "holder", "token").Scan(&rows).Error; err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return rows
}

// The sweeper creates the lease table on first use, one row per lock
// name, with the holder it was given (by default host:pid); a pass
// releases the lease at its end, so the next node's pass needs no wait.
func TestLeaseTableAndRelease(t *testing.T) {
	t.Parallel()
	for _, b := range leaseBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			nodes := b.open(t, 2, 2)
			b.seed(t, nodes[0], cimdTable(false), "https://expired.example/", 5, epoch.Add(-time.Hour), time.Second)
			a := mustNew(t, nodes[0], sweeper.Config{Lease: &sweeper.Lease{Holder: "node-a"}})
			if nodes[0].Migrator().HasTable(sweeper.DefaultLeaseTable) {
				t.Fatal("the lease table exists before the first pass")
			}
			if got, err := a.SweepNow(ctx); err != nil || got[cimd] != 5 {
				t.Fatalf("SweepNow on A = %v, %v; want 5 deleted", got, err)
			}
			rows := leaseRows(t, nodes[0], sweeper.DefaultLeaseTable)
			if len(rows) != 1 || rows[0].Holder != "node-a" || !strings.HasPrefix(rows[0].Name, "gormstore sweeper ") || len(rows[0].Token) != 32 {
				t.Fatalf("lease rows after A's pass: %+v; want one, held last by node-a", rows)
			}
			// B, with the default holder, at once: A released the lease.
			b.seed(t, nodes[0], cimdTable(false), "https://expired.example/b", 3, epoch.Add(-time.Hour), time.Second)
			bs := mustNew(t, nodes[1], sweeper.Config{Lease: &sweeper.Lease{}})
			if got, err := bs.SweepNow(ctx); err != nil || got[cimd] != 3 {
				t.Fatalf("SweepNow on B right after A's pass = %v, %v; want 3 deleted: A's pass did not release its lease", got, err)
			}
			rows = leaseRows(t, nodes[0], sweeper.DefaultLeaseTable)
			if len(rows) != 1 || !strings.HasSuffix(rows[0].Holder, fmt.Sprintf(":%d", pid())) {
				t.Errorf("lease rows after B's pass: %+v; want one, held last by host:%d", rows, pid())
			}
			// Another lock name is another row.
			other := mustNew(t, nodes[1], sweeper.Config{Lease: &sweeper.Lease{Holder: "node-c"}, LockKey: 42})
			if _, err := other.SweepNow(ctx); err != nil {
				t.Fatal(err)
			}
			if rows := leaseRows(t, nodes[0], sweeper.DefaultLeaseTable); len(rows) != 2 {
				t.Errorf("lease rows after a pass under another key: %+v; want two", rows)
			}
		})
	}
}

// While one node holds the lease, another skips its pass (ErrLocked);
// when the holder dies without releasing it, the other sweeps once the
// lease has expired, and not before.
func TestLeaseOfADeadHolderExpires(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	for _, b := range leaseBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			nodes := b.open(t, 2, 2)
			b.seed(t, nodes[0], cimdTable(false), "https://expired.example/", 5, epoch.Add(-time.Hour), time.Second)
			dead := mustNew(t, nodes[0], sweeper.Config{Lease: &sweeper.Lease{TTL: ttl, Holder: "dead"}})
			live := mustNew(t, nodes[1], sweeper.Config{Lease: &sweeper.Lease{TTL: ttl, Holder: "live"}})
			taken := time.Now()
			if _, err := sweeper.TakeLease(ctx, dead); err != nil {
				t.Fatal(err)
			}
			skips := 0
			for {
				got, err := live.SweepNow(ctx)
				if errors.Is(err, sweeper.ErrLocked) {
					skips++
					if time.Since(taken) > ttl+15*time.Second {
						t.Fatalf("the dead holder's lease still held %v after it was taken (TTL %v)", time.Since(taken), ttl)
					}
					time.Sleep(20 * time.Millisecond)
					continue
				}
				after := time.Since(taken)
				if err != nil || got[cimd] != 5 {
					t.Fatalf("SweepNow once the lease expired = %v, %v; want 5 deleted", got, err)
				}
				// SQLite keeps lease times to the millisecond.
				if after < ttl-5*time.Millisecond || skips == 0 {
					t.Errorf("the live node swept %v after the dead one took the lease, after %d skips; want no sweep before the TTL (%v)", after, skips, ttl)
				}
				t.Logf("superseded %v after the take, %d skipped passes", after, skips)
				break
			}
			if rows := leaseRows(t, nodes[0], sweeper.DefaultLeaseTable); len(rows) != 1 || rows[0].Holder != "live" {
				t.Errorf("lease rows: %+v; want one, held last by the live node", rows)
			}
		})
	}
}

// A renewal extends the lease by its TTL from the renewal; one that comes
// after another node took the expired lease is ErrLeaseLost.
func TestLeaseRenewal(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	for _, b := range leaseBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			nodes := b.open(t, 2, 2)
			holder := mustNew(t, nodes[0], sweeper.Config{Lease: &sweeper.Lease{TTL: ttl}})
			other := mustNew(t, nodes[1], sweeper.Config{Lease: &sweeper.Lease{TTL: ttl}})
			renew, err := sweeper.TakeLease(ctx, holder)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(ttl/2 + 50*time.Millisecond)
			renewed := time.Now()
			if err := renew(ctx); err != nil {
				t.Fatalf("renew: %v", err)
			}
			for {
				_, err := other.SweepNow(ctx)
				if errors.Is(err, sweeper.ErrLocked) {
					if time.Since(renewed) > ttl+15*time.Second {
						t.Fatal("the renewed lease never expired")
					}
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if after := time.Since(renewed); after < ttl-5*time.Millisecond {
					t.Errorf("another node took the lease %v after its renewal; want at least the TTL, %v", after, ttl)
				}
				break
			}
			if err := renew(ctx); !errors.Is(err, sweeper.ErrLeaseLost) {
				t.Errorf("renew after another node took the lease = %v; want ErrLeaseLost", err)
			}
		})
	}
}

func pid() int { return os.Getpid() }

// slowTable creates, in db's schema, a table whose row deletes sleep on
// the server: sleepy's for sleepyFor, every other row's for each. The
// rows are keyed by their ids; sleepy is the oldest.
func slowTable(t *testing.T, db *gorm.DB, rows int, each, sleepyFor time.Duration) sweeper.Table {
	t.Helper()
	testdb.MustExec(t, db, `CREATE TABLE slow (id text PRIMARY KEY, expires_at timestamptz NOT NULL)`)
	testdb.MustExec(t, db, `CREATE INDEX ON slow (expires_at)`)
	testdb.MustExec(t, db, fmt.Sprintf(`CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(CASE WHEN OLD.id = 'sleepy' THEN %f ELSE %f END); RETURN OLD; END $$`, sleepyFor.Seconds(), each.Seconds()))
	testdb.MustExec(t, db, `CREATE TRIGGER slow_delete BEFORE DELETE ON slow FOR EACH ROW EXECUTE FUNCTION slow_delete()`)
	testdb.MustExec(t, db, `INSERT INTO slow VALUES ('sleepy', ?::timestamptz - interval '1 hour')`, epoch)
	testdb.MustExec(t, db, `INSERT INTO slow SELECT 'row-' || i, ?::timestamptz - interval '1 minute' FROM generate_series(2, ?) AS i`, epoch, rows)
	return sweeper.Table{Name: "slow", Key: "id"}
}

// waitForSleep waits until a backend of application app sleeps in a
// slowTable trigger: the pass holds its lease and runs a batch.
func waitForSleep(t *testing.T, db *gorm.DB, app string) {
	t.Helper()
	for start := time.Now(); ; {
		var n int64
		if err := db.Raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND wait_event = 'PgSleep'", app).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("no batch of the pass slept in the trigger within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A pass far longer than its lease's TTL keeps the lease, renewing it
// between batches: another node trying all along skips every time.
func TestLeaseRenewedDuringALongPass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ttl, rows, each = 2 * time.Second, 25, 200 * time.Millisecond
	schema := testdb.Schema(t)
	app := fmt.Sprintf("sweeper-lease-renewed-%d", rand.Int64())
	longDB := testdb.OpenParams(t, schema, 2, url.Values{"application_name": {app}})
	otherDB := testdb.Open(t, schema, 2)
	slow := slowTable(t, otherDB, rows, each, each)
	cfg := sweeper.Config{Lease: &sweeper.Lease{TTL: ttl}, BatchSize: 1, Tables: []sweeper.Table{slow}}
	long, other := mustNew(t, longDB, cfg), mustNew(t, otherDB, cfg)
	type outcome struct {
		deleted map[string]int64
		err     error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		d, err := long.SweepNow(ctx)
		done <- outcome{d, err}
	}()
	waitForSleep(t, otherDB, app)
	tries := 0
	finished := func(o outcome) {
		took := time.Since(start)
		if o.err != nil || o.deleted["slow"] != rows {
			t.Fatalf("the long pass = %v, %v; want %d deleted", o.deleted, o.err, rows)
		}
		if took < 2*ttl {
			t.Fatalf("the long pass took %v, not over twice the TTL (%v): the test proves nothing", took, ttl)
		}
		t.Logf("a pass of %v under a lease of %v; the other node skipped %d times", took, ttl, tries)
	}
	for {
		select {
		case o := <-done:
			finished(o)
			return
		default:
		}
		tries++
		got, err := other.SweepNow(ctx)
		if err == nil && got["slow"] == 0 {
			// The long pass may have released the lease before its result
			// reached done: then it must end at once, having deleted every
			// row (had the other node taken a lease still in use, the long
			// pass would have lost it, and failed).
			select {
			case o := <-done:
				finished(o)
				return
			case <-time.After(10 * time.Second):
			}
		}
		if !errors.Is(err, sweeper.ErrLocked) {
			t.Fatalf("another node's pass %v into the long one = %v, %v; want ErrLocked: the lease was not renewed", time.Since(start), got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A pass whose batch outlasts the lease, while another node takes the
// expired lease and sweeps, stops at its next renewal with ErrLeaseLost,
// reported as a failure; between them the two nodes delete every row
// once.
func TestLeaseLostEndsThePass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ttl, rows = time.Second, 10
	schema := testdb.Schema(t)
	app := fmt.Sprintf("sweeper-lease-lost-%d", rand.Int64())
	stalledDB := testdb.OpenParams(t, schema, 2, url.Values{"application_name": {app}})
	otherDB := testdb.Open(t, schema, 2)
	slow := slowTable(t, otherDB, rows, 0, 4*ttl)
	reports := newResults()
	cfg := sweeper.Config{Lease: &sweeper.Lease{TTL: ttl}, BatchSize: 1, Tables: []sweeper.Table{slow}}
	other := mustNew(t, otherDB, cfg)
	cfg.OnSweep = reports.onSweep
	stalled := mustNew(t, stalledDB, cfg)
	done := make(chan error, 1)
	go func() {
		_, err := stalled.SweepNow(ctx)
		done <- err
	}()
	// The other node starts once the stalled pass, holding the lease, is
	// in its first batch's sleep.
	waitForSleep(t, otherDB, app)
	start := time.Now()
	var took map[string]int64
	for {
		got, err := other.SweepNow(ctx)
		if err == nil {
			took = got
			break
		}
		if !errors.Is(err, sweeper.ErrLocked) || time.Since(start) > 3*ttl {
			t.Fatalf("the other node's pass %v into the stalled batch = %v, %v; want ErrLocked until the lease expires, then a sweep", time.Since(start), got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took["slow"] != rows-1 {
		t.Errorf("the other node deleted %d rows; want all but the stalled batch's one, %d", took["slow"], rows-1)
	}
	if err := <-done; !errors.Is(err, sweeper.ErrLeaseLost) {
		t.Fatalf("the stalled pass = %v; want ErrLeaseLost", err)
	}
	r := reports.next(t, time.Second)
	if r.Outcome != sweeper.OutcomeFailed || r.Deleted()["slow"] != 1 {
		t.Errorf("the stalled pass reported %v with %v deleted; want failed, with its one row", r.Outcome, r.Deleted())
	}
	if n := testdb.Count(t, otherDB, "slow"); n != 0 {
		t.Errorf("%d rows left; want none", n)
	}
}
