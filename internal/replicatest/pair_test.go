package replicatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/plugin/dbresolver"

	"github.com/attesto/gormstore/internal/pgtest"
	"github.com/attesto/gormstore/internal/testdb"
)

// replicaApplyDelay is the recovery_min_apply_delay of the standby the
// tests start: long enough that a read sent to it right after a write
// misses that write, short enough that waiting for it is cheap.
const replicaApplyDelay = 300 * time.Millisecond

// pair is a primary and a hot standby streaming from it.
type pair struct {
	// primaryURL and replicaURL are URLs of one database on each server.
	primaryURL, replicaURL string
	// admin and replicaAdmin are small pools the tests' own checks use.
	admin, replicaAdmin *gorm.DB
	// primary and standby are the servers the test started; nil with
	// TEST_REPLICA_URL.
	primary, standby *pgtest.Server
}

// replicaPair is TEST_REPLICA_URL as a standby of TEST_DATABASE_URL, or a
// pair the test starts, the standby applying each commit
// replicaApplyDelay late.
func replicaPair(t *testing.T) *pair {
	t.Helper()
	if u := os.Getenv("TEST_REPLICA_URL"); u != "" {
		p := &pair{primaryURL: testdb.URL(), replicaURL: u}
		p.admin = openPool(t, withParams(t, p.primaryURL, url.Values{"application_name": {"replicatest-admin"}}), 2)
		p.replicaAdmin = openPool(t, withParams(t, p.replicaURL, url.Values{"application_name": {"replicatest-admin"}}), 2)
		var inRecovery bool
		if err := p.replicaAdmin.Raw("SELECT pg_is_in_recovery()").Scan(&inRecovery).Error; err != nil || !inRecovery {
			t.Fatalf("TEST_REPLICA_URL=%s is not a hot standby (pg_is_in_recovery() = %v, %v)", u, inRecovery, err)
		}
		return p
	}
	return startPair(t, pgtest.StandbyOptions{ApplyDelay: replicaApplyDelay})
}

// startPair starts a throwaway primary and a hot standby of it.
func startPair(t *testing.T, opts pgtest.StandbyOptions) *pair {
	t.Helper()
	p := &pair{primary: pgtest.Start(t)}
	p.standby = p.primary.Standby(t, opts)
	p.primaryURL, p.replicaURL = p.primary.URL("", nil), p.standby.URL("", nil)
	p.admin = openPool(t, withParams(t, p.primaryURL, url.Values{"application_name": {"replicatest-admin"}}), 2)
	p.replicaAdmin = openPool(t, withParams(t, p.replicaURL, url.Values{"application_name": {"replicatest-admin"}}), 2)
	return p
}

// withParams returns u with params set in its query.
func withParams(t testing.TB, u string, params url.Values) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	q := parsed.Query()
	for k, v := range params {
		q[k] = v
	}
	// Spaces go as %20: not every DSN reader takes '+' for a space.
	parsed.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return parsed.String()
}

// openPool opens a pool of at most maxConns connections on dsn, closed
// when t ends. It connects lazily: a pool no statement used has no
// backend on the server.
func openPool(t testing.TB, dsn string, maxConns int) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	pool, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	t.Cleanup(func() { pool.Close() })
	return db
}

// randomName is prefix followed by 12 random hex digits.
func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// schema creates a schema on the primary holding the stores' tables,
// dropped when t ends, and waits until the replica has replayed it.
func (p *pair) schema(t *testing.T) string {
	t.Helper()
	name := randomName("replicatest_")
	quoted := pgx.Identifier{name}.Sanitize()
	testdb.MustExec(t, p.admin, "CREATE SCHEMA "+quoted)
	t.Cleanup(func() {
		if err := p.admin.Exec("DROP SCHEMA " + quoted + " CASCADE").Error; err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	db := openPool(t, withParams(t, p.primaryURL, url.Values{"search_path": {name}}), 1)
	testdb.CreateTables(t, db)
	p.waitReplayed(t)
	return name
}

// node is one application node: a pool on the primary and one on the
// replica, with dbresolver sending reads to the replica.
type node struct {
	// routed is the *gorm.DB the node hands the stores and the sweeper.
	routed *gorm.DB
	// primary and replica are the two pools under it, for the tests'
	// own statements.
	primary, replica *gorm.DB
	// app is the application_name of both pools' connections: app+"/primary"
	// and app+"/replica".
	app string
}

// node opens a node on schema whose pools hold at most primaryConns and
// replicaConns connections.
func (p *pair) node(t *testing.T, schema string, primaryConns, replicaConns int) node {
	t.Helper()
	n := node{app: randomName("replicatest-node-")}
	n.primary = openPool(t, withParams(t, p.primaryURL, url.Values{"search_path": {schema}, "application_name": {n.app + "/primary"}}), primaryConns)
	n.replica = openPool(t, withParams(t, p.replicaURL, url.Values{"search_path": {schema}, "application_name": {n.app + "/replica"}}), replicaConns)
	replicaPool, err := n.replica.DB()
	if err != nil {
		t.Fatal(err)
	}
	// routed is a pool of its own on the primary (dbresolver registers
	// its callbacks on the *gorm.DB it is used with), sharing the
	// primary's *sql.DB.
	primaryPool, err := n.primary.DB()
	if err != nil {
		t.Fatal(err)
	}
	n.routed, err = gorm.Open(postgres.New(postgres.Config{Conn: primaryPool}), &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.routed.Use(dbresolver.Register(dbresolver.Config{
		Replicas: []gorm.Dialector{postgres.New(postgres.Config{Conn: replicaPool})},
	})); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitReplayed waits until the replica has replayed everything the
// primary had written when it was called.
func (p *pair) waitReplayed(t testing.TB) {
	t.Helper()
	var lsn string
	if err := p.admin.Raw("SELECT pg_current_wal_lsn()::text").Scan(&lsn).Error; err != nil {
		t.Fatalf("primary's WAL position: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done bool
		if err := p.replicaAdmin.Raw("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(? AS pg_lsn), false)", lsn).Scan(&done).Error; err != nil {
			t.Fatalf("replica's replay position: %v", err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not replay up to %s within 30 s", lsn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pauseReplay stops the replica applying WAL, so that nothing written from
// now on shows there, whatever its apply delay, until resume (or the end
// of t).
func (p *pair) pauseReplay(t *testing.T) (resume func()) {
	t.Helper()
	testdb.MustExec(t, p.replicaAdmin, "SELECT pg_wal_replay_pause()")
	resumed := false
	resume = func() {
		if !resumed {
			resumed = true
			testdb.MustExec(t, p.replicaAdmin, "SELECT pg_wal_replay_resume()")
		}
	}
	t.Cleanup(resume)
	return resume
}

// lastQueries returns the last statement of every backend of the server
// behind db whose application_name is app, as pg_stat_activity shows it
// (the statement running, or the last one run by an idle backend).
func lastQueries(t testing.TB, db *gorm.DB, app string) []string {
	t.Helper()
	var qs []string
	if err := db.Raw("SELECT query FROM pg_stat_activity WHERE application_name = ?", app).Scan(&qs).Error; err != nil {
		t.Fatalf("pg_stat_activity: %v", err)
	}
	return qs
}

var bg = context.Background()

// openCancelRequestPool is openPool whose connections answer a done
// context by asking the server to cancel the statement (closing the
// connection a second later if that fails), instead of pgx's default of
// closing the connection at once.
func openCancelRequestPool(t testing.TB, dsn string, maxConns int) *gorm.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	t.Cleanup(func() { pool.Close() })
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: pool}), &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
