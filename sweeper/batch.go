package sweeper

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/internal/dialect"
)

// expiresAt is the column every swept table has: the stores' models, and
// the contract for a caller-named table.
const expiresAt = "expires_at"

// The batch statements delete at most one batch of expired rows. Every
// identifier is a clause.Table or clause.Column argument, so the dialect
// quotes it.
//
// In each, the subquery picks the batch: its LIMIT is what bounds the
// statement (GORM drops Limit on Delete), and ORDER BY expires_at walks
// the expires_at index from the oldest row. The outer expires_at test
// keeps a row that a writer refreshed after the subquery saw it, on a
// database whose subquery does not lock it.
const (
	// pgBatch (measured: BENCHMARKS.md, "The sweeper: earlier
	// measurements"):
	//
	//   - ARRAY(subquery) is planned once, as an InitPlan, followed by one
	//     primary-key lookup per row. With "key IN (subquery)" the generic
	//     plan that pgx's statement cache switches to after five
	//     executions is a hash semi-join reading every expired row for
	//     every batch.
	//   - expires_at >= the previous batch's newest row (keyset) starts
	//     the index scan past the entries of the rows already deleted,
	//     which stay in the index until vacuum: without it each batch of
	//     a long pass steps over all of them again. A row locked by a
	//     writer when its batch ran is left behind by the keyset; the next
	//     pass deletes it if it is still expired.
	//   - FOR UPDATE SKIP LOCKED steps past rows that a writer or another
	//     sweeper holds instead of queueing behind them.
	//   - The CTE returns one row, the batch's count and newest expires_at,
	//     rather than every deleted row.
	//   - No ctid: CockroachDB and YugabyteDB have none.
	pgBatch = "WITH swept AS (DELETE FROM ? WHERE ? = ANY(ARRAY(" +
		"SELECT ? FROM ? WHERE ? >= ? AND ? < ? ORDER BY ? LIMIT ? FOR UPDATE SKIP LOCKED" +
		")) AND ? < ? RETURNING ?) SELECT count(*), max(?) FROM swept"
	// mysqlBatch is for MariaDB (10.6 or later) and MySQL (8.0 or
	// later), which refuse LIMIT in an IN subquery (ERROR 1235) and have
	// no DELETE ... RETURNING for a join. The LIMIT makes the derived
	// table a materialised one, which the optimiser reads first, joining
	// each of its keys to the table by primary key; SKIP LOCKED steps
	// past rows a writer or another sweeper holds, as on PostgreSQL. It
	// runs in a READ COMMITTED transaction of its own (mysqlBatchTx): the
	// default REPEATABLE READ would also lock the gaps of the expires_at
	// range it scans, blocking inserts into them until the batch commits.
	// It needs no keyset bound: InnoDB purges the index entries of
	// deleted rows while the pass runs, and its last batches take no
	// longer than its first.
	mysqlBatch = "DELETE ? FROM ? JOIN (" +
		"SELECT ? FROM ? WHERE ? < ? ORDER BY ? LIMIT ? FOR UPDATE SKIP LOCKED" +
		") AS ? USING (?) WHERE ? < ?"
	// portableBatch is for dialects without arrays, row locks or DELETE
	// in WITH (SQLite).
	portableBatch = "DELETE FROM ? WHERE ? IN (SELECT ? FROM ? WHERE ? < ? ORDER BY ? LIMIT ?) AND ? < ?"
)

// batchAlias names mysqlBatch's derived table.
var batchAlias = clause.Table{Name: "gormstore_sweep_batch"}

// mysqlBatchTx is the transaction each MariaDB/MySQL batch runs in.
var mysqlBatchTx = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// batch is one batch's outcome.
type batch struct {
	deleted int64
	// newest is the newest expires_at deleted, the next batch's lower
	// bound; zero when unknown or nothing was deleted.
	newest time.Time
}

// deleteBatch runs one batch statement on db: rows of t that expired
// before now, from expires_at from onwards (used by PostgreSQL's form
// only). pinned says db is the connection the pass pinned for its lock.
func (s *Sweeper) deleteBatch(ctx context.Context, db *gorm.DB, t Table, now, from time.Time, pinned bool) (batch, error) {
	table := clause.Table{Name: t.Name}
	key := clause.Column{Name: t.Key}
	exp := clause.Column{Name: expiresAt}
	n := s.cfg.batchSize
	switch s.kind {
	case dialect.Postgres:
	case dialect.MySQL:
		cut := s.kind.Time(now)
		var deleted int64
		err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Exec(mysqlBatch, table, table, key, table, exp, cut, exp, n, batchAlias, key, exp, cut)
			deleted = res.RowsAffected
			return res.Error
		}, mysqlBatchTx)
		if err != nil {
			return batch{}, err
		}
		return batch{deleted: deleted}, nil
	default:
		cut := s.kind.Time(now)
		res := db.WithContext(ctx).Exec(portableBatch, table, key, key, table, exp, cut, exp, n, exp, cut)
		return batch{deleted: res.RowsAffected}, res.Error
	}
	var b batch
	var newest sql.NullTime
	run := func(db *gorm.DB) error {
		return db.Raw(pgBatch, table, key, key, table, exp, from, exp, now, exp, n, exp, now, exp, exp).Row().Scan(&b.deleted, &newest)
	}
	var err error
	if pinned && s.routed {
		// dbresolver leaves a statement in a transaction on the connection
		// it was given and moves any other to a pool of its choosing, away
		// from the lock. The transaction costs two round trips (BEGIN,
		// COMMIT) per batch, hence only under dbresolver.
		err = db.WithContext(ctx).Transaction(run)
	} else {
		err = run(db.WithContext(ctx))
	}
	if err != nil {
		return batch{}, err
	}
	b.newest = newest.Time
	return b, nil
}

// sweepTable deletes t's rows that expired before now, batch by batch,
// each batch committed on its own (an autocommit statement, or a
// transaction of one statement on MariaDB/MySQL and on a pinned
// PostgreSQL connection under dbresolver), run in stmt, so that it holds
// its row locks for one batch only. It stops at the first short
// batch (nothing more to delete, or the rest is locked by someone else
// and is the next pass's), at the first error, or, before the next batch,
// when ctx ends or lease, if not nil, cannot be renewed; renewErr tells
// the last apart.
func (s *Sweeper) sweepTable(ctx, stmt context.Context, db *gorm.DB, t Table, now time.Time, pinned bool, lease *heldLease) (r TableResult, renewErr bool) {
	start := time.Now()
	r = TableResult{Table: t.Name}
	// The zero time, year 1, is before any expiry a store writes.
	var from time.Time
	for {
		if ctx.Err() != nil {
			r.Err = fmt.Errorf("sweeper: sweep %q: %w", t.Name, context.Cause(ctx))
			break
		}
		if lease != nil {
			if err := s.renewLease(stmt, lease); err != nil {
				r.Err = tableError(stmt, t.Name, err)
				renewErr = true
				break
			}
		}
		b, err := s.deleteBatch(stmt, db, t, now, from, pinned)
		if err != nil {
			r.Err = tableError(stmt, t.Name, err)
			break
		}
		r.Batches++
		r.Deleted += b.deleted
		if b.deleted < int64(s.cfg.batchSize) {
			break
		}
		from = b.newest
	}
	r.Duration = time.Since(start)
	return r, renewErr
}

// tableError names the table and, when the statement failed because ctx
// ended, puts the reason (ErrTimeout, or the caller's cancellation) first:
// the driver's own error then only says "context canceled" or that the
// connection closed.
func tableError(ctx context.Context, table string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("sweeper: sweep %q: %w: %w", table, context.Cause(ctx), err)
	}
	return fmt.Errorf("sweeper: sweep %q: %w", table, err)
}
