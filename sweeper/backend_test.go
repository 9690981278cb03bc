package sweeper_test

import (
	"database/sql"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/sweeper"
)

// backend is a database, and the lock or lease its sweepers exclude each
// other with: what a test needs to know of a dialect to check one
// behaviour on each.
type backend struct {
	name string
	// open returns n pools on one fresh database holding the stores'
	// tables (a schema on PostgreSQL, a database on MariaDB, a file on
	// SQLite): n nodes of one service.
	open func(t *testing.T, n, maxConns int) []*gorm.DB
	// seed is seed, seedMySQL or seedSQLite.
	seed func(t testing.TB, db *gorm.DB, tb table, prefix string, n int, first time.Time, step time.Duration)
	// step is the finest step between two expiries that seed keeps.
	step time.Duration
	// time is t as the test's own writes bind it, as the stores do
	// (dialect.Kind.Time).
	time func(t time.Time) any
	// batchRows prepares db, before any row is written, to count the rows
	// each DELETE of table removes, as the database counts them; rec
	// records the sweeper's statements. The function it returns gives the
	// counts, in order.
	batchRows func(t *testing.T, db *gorm.DB, rec *testdb.Recorder, table string) func() []int64
	// lease runs the sweepers with Config.Lease instead of the session
	// lock.
	lease bool
	// rowLocks is set where the batches lock their rows and skip those
	// locked (SKIP LOCKED), so that nodes without a common lock can sweep
	// at the same time.
	rowLocks bool

	// The session lock's hooks; nil where the database has none (SQLite).

	// tryLock tries, on conn and without waiting, the lock of the
	// sweepers whose LockKey is key.
	tryLock func(t *testing.T, conn *sql.Conn, key int64) bool
	// unlock releases the lock tryLock took on conn.
	unlock func(t *testing.T, conn *sql.Conn, key int64)
	// blockTable makes a DELETE of table wait on the server until release
	// is called (or t ends).
	blockTable func(t *testing.T, db *gorm.DB, table string) (release func())
	// waitForBlockedDelete waits until a DELETE waits for blockTable.
	waitForBlockedDelete func(t *testing.T, db *gorm.DB, table string)
	// refusingUnlock returns a pool on a fresh database holding the
	// stores' tables whose unlock statement fails with "unlock refused by
	// the test" while its connection stays healthy, and a pool on the
	// same database whose unlock works.
	refusingUnlock func(t *testing.T) (db, probe *gorm.DB)
}

// config is cfg with the backend's lock.
func (b backend) config(cfg sweeper.Config) sweeper.Config {
	if b.lease {
		cfg.Lease = &sweeper.Lease{}
	}
	return cfg
}

// leased is b with Config.Lease, named name.
func (b backend) leased(name string) backend {
	b.name, b.lease = name, true
	return b
}

var (
	postgresBackend = backend{
		name: "PostgreSQL", open: openPostgres, seed: seed, step: time.Microsecond,
		time: dialect.Postgres.Time, batchRows: pgBatchRows, rowLocks: true,
		tryLock: tryLock, unlock: unlock, blockTable: blockTablePG, waitForBlockedDelete: waitForLockWaitPG,
		refusingUnlock: refusingUnlockPG,
	}
	mariaDBBackend = backend{
		name: "MariaDB", open: openMariaDB, seed: seedMySQL, step: time.Microsecond,
		time: dialect.MySQL.Time, batchRows: recordedBatchRows, rowLocks: true,
		tryLock: tryLockMySQL, unlock: unlockMySQL, blockTable: blockTable, waitForBlockedDelete: waitForBlockedDeleteMySQL,
		refusingUnlock: refusingUnlockMySQL,
	}
	// SQLite sweeps without a lock: only with a lease do its sweepers
	// exclude each other.
	sqliteBackend = backend{
		name: "SQLite", open: openSQLite, seed: seedSQLite, step: time.Millisecond,
		time: dialect.SQLite.Time, batchRows: recordedBatchRows,
	}
)

// dialects are the databases, each with its own way of excluding other
// nodes (SQLite's being none).
var dialects = []backend{postgresBackend, mariaDBBackend, sqliteBackend}

// lockBackends are the databases with a session lock.
var lockBackends = []backend{postgresBackend, mariaDBBackend}

// rowLockBackends are the databases whose batches skip locked rows.
var rowLockBackends = []backend{postgresBackend, mariaDBBackend}

// backends are the databases with each way the sweepers exclude each
// other, on which the cluster tests run.
var backends = []backend{
	postgresBackend,
	mariaDBBackend,
	postgresBackend.leased("PostgreSQL lease"),
	mariaDBBackend.leased("MariaDB lease"),
	sqliteBackend.leased("SQLite lease"),
}

// leaseBackends are the backends with a lease, and MariaDB with
// clientFoundRows, which counts the rows an UPDATE matched rather than
// those it changed.
var leaseBackends = []backend{
	postgresBackend.leased("PostgreSQL"),
	mariaDBBackend.leased("MariaDB"),
	func() backend {
		b := mariaDBBackend.leased("MariaDB clientFoundRows")
		b.open = openMariaDBFoundRows
		return b
	}(),
	sqliteBackend.leased("SQLite"),
}

// openPostgres returns n pools on a fresh schema holding the stores'
// tables.
func openPostgres(t *testing.T, n, maxConns int) []*gorm.DB {
	t.Helper()
	schema := testdb.Schema(t)
	nodes := make([]*gorm.DB, n)
	for i := range nodes {
		nodes[i] = testdb.Open(t, schema, maxConns)
	}
	testdb.CreateTables(t, nodes[0])
	return nodes
}

// pgBatchRows counts the rows each DELETE of table removed with a
// statement-level trigger: PostgreSQL's sweeper reads its batch's count
// from the statement's own result, which GORM's logger does not see.
func pgBatchRows(t *testing.T, db *gorm.DB, _ *testdb.Recorder, table string) func() []int64 {
	t.Helper()
	testdb.MustExec(t, db, `CREATE TABLE batch_log (id serial PRIMARY KEY, n bigint NOT NULL)`)
	testdb.MustExec(t, db, `CREATE FUNCTION log_batch() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO batch_log (n) SELECT count(*) FROM old_rows; RETURN NULL; END $$`)
	// The table name is the test's own constant.
	testdb.MustExec(t, db, `CREATE TRIGGER log_batch AFTER DELETE ON `+quote(table)+`
		REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION log_batch()`)
	return func() []int64 {
		var n []int64
		if err := db.Table("batch_log").Order("id").Pluck("n", &n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// recordedBatchRows counts the rows each DELETE of table removed as the
// server reported them (its affected rows, as GORM's logger saw them).
func recordedBatchRows(_ *testing.T, _ *gorm.DB, rec *testdb.Recorder, table string) func() []int64 {
	return func() []int64 {
		var n []int64
		for _, st := range batches(rec, table) {
			n = append(n, st.Rows)
		}
		return n
	}
}

// blockTablePG takes a SHARE lock on table in a transaction of the
// test's own: it conflicts with DELETE's, so a DELETE waits on the server
// until release is called (or t ends).
func blockTablePG(t *testing.T, db *gorm.DB, table string) (release func()) {
	t.Helper()
	blocker := db.Begin()
	// The table name is the test's own constant.
	if err := blocker.Exec(`LOCK TABLE ` + quote(table) + ` IN SHARE MODE`).Error; err != nil {
		blocker.Rollback()
		t.Fatal(err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			blocker.Rollback()
		}
	}
	t.Cleanup(release)
	return release
}

func waitForLockWaitPG(t *testing.T, db *gorm.DB, table string) {
	t.Helper()
	testdb.WaitForLockWait(t, db, table, 10*time.Second)
}

// refusingUnlockPG shadows pg_advisory_unlock with a function that
// raises, placed before pg_catalog on the search_path of the pool it
// returns; the probe's search_path finds the real one.
func refusingUnlockPG(t *testing.T) (db, probe *gorm.DB) {
	t.Helper()
	schema := testdb.Schema(t)
	db = testdb.Open(t, schema+",pg_catalog", 4)
	testdb.CreateTables(t, db)
	testdb.MustExec(t, db, `CREATE FUNCTION `+schema+`.pg_advisory_unlock(bigint) RETURNS boolean
		LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'unlock refused by the test'; END $$`)
	return db, testdb.Open(t, schema, 1)
}
