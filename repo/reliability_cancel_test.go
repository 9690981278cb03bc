package repo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// A context that expires, or is cancelled, while the call's statement
// waits on a lock ends the call promptly with an error (never a miss), and
// the statement is atomic: the table holds either all of it or none.
//
// Whether the abandoned statement still commits once the lock is released
// depends on the pool, not the store: with pgx's default (it closes its
// end of the connection) PostgreSQL does not notice until the statement
// is done, and commits it. With client_connection_check_interval set, or
// with pgx sending a cancel request, the server aborts it and nothing is
// written: those two configurations are asserted to write nothing; the
// default one is measured and logged (RELIABILITY.md, "expired context").
func TestReliabilityContextEndsBlockedCalls(t *testing.T) {
	t.Parallel()
	const (
		wait  = 200 * time.Millisecond
		slack = 800 * time.Millisecond
		url1  = "https://app.example.com/oauth/client-metadata.json"
		uri1  = "urn:ietf:params:oauth:request_uri:seeded"
	)
	seed := map[string]any{"client_id": url1, "v": "seeded"}
	type opFunc func(ctx context.Context, c *repo.GormClientIDMetadataCache, p *repo.GormPARStore) (found bool, err error)
	write := func(f func(ctx context.Context, c *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error) opFunc {
		return func(ctx context.Context, c *repo.GormClientIDMetadataCache, p *repo.GormPARStore) (bool, error) {
			return false, f(ctx, c, p)
		}
	}
	// How each call is held up: reads by a table lock (MVCC lets them
	// pass row locks), updates and deletes by a row lock on the seeded
	// rows, inserts by an uncommitted insert of the same key. Row locks
	// and key waits are what a store meets in production (a concurrent
	// Take, the sweeper, a caller's transaction), and they hold the call
	// while its statement is running.
	const (
		tableLock = iota
		rowLock
		keyLock
	)
	ops := []struct {
		name    string
		writes  bool
		blocker int
		call    opFunc
	}{
		{"CIMD Get", false, tableLock, func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) (bool, error) {
			_, found, err := c.Get(ctx, url1)
			return found, err
		}},
		{"CIMD Put (replace)", true, rowLock, write(func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) error {
			return c.Put(ctx, url1, map[string]any{"v": "late"}, time.Now().Add(2*time.Hour))
		})},
		{"CIMD Put (new)", true, keyLock, write(func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) error {
			return c.Put(ctx, url1+"?new", map[string]any{"v": "late"}, time.Now().Add(2*time.Hour))
		})},
		{"CIMD Delete", true, rowLock, write(func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) error {
			return c.Delete(ctx, url1)
		})},
		{"CIMD DeleteAll", true, rowLock, write(func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) error {
			return c.DeleteAll(ctx)
		})},
		{"PAR Put", true, keyLock, write(func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error {
			return p.Put(ctx, uri1+"-new", map[string]any{"client_id": url1, "v": "late"}, 5*time.Minute)
		})},
		{"PAR Fetch", false, tableLock, func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) (bool, error) {
			_, found, err := p.Fetch(ctx, uri1)
			return found, err
		}},
		{"PAR Take", true, rowLock, func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) (bool, error) {
			_, found, err := p.Take(ctx, uri1)
			return found, err
		}},
		{"PAR TakeForClient", true, rowLock, func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) (bool, error) {
			_, found, err := p.TakeForClient(ctx, uri1, url1)
			return found, err
		}},
	}
	pools := []struct {
		name string
		open func(t *testing.T, schema, app string) *gorm.DB
		// safe: an abandoned statement must not commit later.
		safe bool
	}{
		{"pgx default", func(t *testing.T, schema, app string) *gorm.DB {
			return testdb.OpenParams(t, schema, 2, url.Values{"application_name": {app}})
		}, false},
		// The server polls the client's socket every 100 ms while a
		// statement runs: that narrows the window, but a lock released
		// within the interval still lets the statement commit.
		{"client_connection_check_interval=100ms", func(t *testing.T, schema, app string) *gorm.DB {
			return testdb.OpenParams(t, schema, 2, url.Values{"application_name": {app}, "client_connection_check_interval": {"100ms"}})
		}, false},
		{"pgx cancel request", openCancelRequestPool, true},
	}
	for _, pool := range pools {
		t.Run(pool.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			late, writes := 0, 0
			// Judge latencies without the stalls of a loaded machine.
			stalls := startStallMonitor()
			t.Cleanup(stalls.stop)
			schema := testdb.Schema(t)
			app := "gormstore-cancel-" + randomHex()
			db := pool.open(t, schema, app)
			admin := testdb.Open(t, schema, 2)
			testdb.CreateTables(t, admin)
			sc, sp := stores(t, admin, nil)
			c, p := stores(t, db, nil)
			for _, op := range ops {
				for _, how := range []string{"deadline", "cancel"} {
					testdb.MustExec(t, admin, `DELETE FROM attesto_client_id_metadata`)
					testdb.MustExec(t, admin, `DELETE FROM attesto_pushed_authorization_requests`)
					if err := sc.Put(ctx, url1, seed, time.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
					if err := sp.Put(ctx, uri1, seed, 5*time.Minute); err != nil {
						t.Fatal(err)
					}

					// A transaction that holds the call up until it rolls back.
					blocker := admin.Begin()
					var berr error
					switch op.blocker {
					case tableLock:
						berr = blocker.Exec(`LOCK TABLE attesto_client_id_metadata, attesto_pushed_authorization_requests IN ACCESS EXCLUSIVE MODE`).Error
					case rowLock:
						berr = errors.Join(
							blocker.Exec(`SELECT 1 FROM attesto_client_id_metadata WHERE url = ? FOR UPDATE`, url1).Error,
							blocker.Exec(`SELECT 1 FROM attesto_pushed_authorization_requests WHERE request_uri = ? FOR UPDATE`, uri1).Error)
					case keyLock:
						bc, bp := stores(t, blocker, nil)
						berr = errors.Join(
							bc.Put(ctx, url1+"?new", map[string]any{"v": "blocker"}, time.Now().Add(time.Hour)),
							bp.Put(ctx, uri1+"-new", map[string]any{"client_id": url1, "v": "blocker"}, 5*time.Minute))
					}
					if berr != nil {
						t.Fatal(berr)
					}
					cctx, cancel := context.WithTimeout(ctx, wait)
					if how == "cancel" {
						cctx, cancel = context.WithCancel(ctx)
						time.AfterFunc(wait, cancel)
					}
					start := time.Now()
					found, err := op.call(cctx, c, p)
					took := time.Since(start) - stalls.overlap(start, time.Now())
					cancel()
					var pgErr *pgconn.PgError
					switch {
					case found:
						t.Errorf("%s (%s): found while the table was locked", op.name, how)
					case err == nil:
						t.Errorf("%s (%s): no error, want the context's", op.name, how)
					case !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) &&
						!(errors.As(err, &pgErr) && pgErr.Code == "57014"):
						t.Errorf("%s (%s): %v, want the context's error or a cancelled statement (57014)", op.name, how, err)
					}
					if took > wait+slack {
						t.Errorf("%s (%s) returned after %v, want at most %v", op.name, how, took, wait+slack)
					}
					if err := blocker.Rollback().Error; err != nil {
						t.Fatal(err)
					}
					waitNoActive(t, admin, app)

					// Atomic either way: the seeded rows whole or the call's
					// statement whole.
					cimdDoc, _, cimdSeeded := rawDocument(t, admin, cimdTable, url1)
					parDoc, _, parSeeded := rawDocument(t, admin, parTable, uri1)
					untouched := cimdSeeded && parSeeded && sameJSON(cimdDoc, seed) && sameJSON(parDoc, seed) &&
						rawCount(t, admin, cimdTable) == 1 && rawCount(t, admin, parTable) == 1
					if doc, _, ok := rawDocument(t, admin, cimdTable, url1); ok && !sameJSON(doc, seed) && !sameJSON(doc, map[string]any{"v": "late"}) {
						t.Errorf("%s (%s): the row holds %v, neither the seeded nor the written document", op.name, how, doc)
					}
					if op.writes {
						writes++
						if !untouched {
							late++
							if pool.safe {
								t.Errorf("%s (%s): its statement committed after the call returned %v", op.name, how, err)
							}
						}
					} else if !untouched {
						t.Errorf("%s (%s): a read changed the tables", op.name, how)
					}
				}
			}
			t.Logf("%s: %d calls blocked on a lock, each returned an error within %v + %v; %d of %d abandoned writes committed after their call returned",
				pool.name, 2*len(ops), wait, slack, late, writes)
			if !pool.safe && late == 0 {
				// Not a failure of the stores; a sign the measurement broke.
				t.Logf("pgx default: no late commit measured; has pgx's default context handling changed?")
			}
		})
	}
}

// openCancelRequestPool opens a pool whose connections answer a done
// context by asking the server to cancel the statement (and closing the
// connection a second later if that fails), instead of pgx's default of
// only closing the connection.
func openCancelRequestPool(t *testing.T, schema, app string) *gorm.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(testdb.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema
	cfg.RuntimeParams["application_name"] = app
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetMaxOpenConns(2)
	t.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// waitNoActive waits until no statement of application app is running.
func waitNoActive(t *testing.T, admin *gorm.DB, app string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var active int64
		err := admin.Raw(`SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND state = 'active'`, app).Scan(&active).Error
		if err == nil && active == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("statements of %s still running after 10 s (%d, %v)", app, active, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
