// Package sweeper deletes expired rows from the gormstore tables in batches.
//
// Reads never depend on it: every store read already refuses a row whose
// expires_at has passed. Sweeping only stops tables of short-lived OAuth
// state (cached Client ID Metadata Documents, pushed authorization
// requests) from growing without bound.
//
// A pass takes one cut-off, Config.Now, for every table and deletes the
// rows whose expires_at is strictly before it, at most BatchSize rows per
// statement, oldest first. Each batch commits on its own, so a writer
// that touches a row being swept waits for one batch, never for the whole
// backlog, and a pass that is stopped or times out keeps what it already
// deleted.
//
// # One node at a time
//
// On PostgreSQL and MariaDB/MySQL a pass first tries a lock, without
// waiting; a node that does not get it skips the pass (ErrLocked), so one
// node sweeps at a time however many run the loop. The lock belongs to a
// database session: the pass pins one connection of the pool
// (gorm.DB.Connection) for the lock, its batches and the unlock, and
// closes that connection rather than return it to the pool if the unlock
// fails. On PostgreSQL it is a session-level advisory lock
// (pg_try_advisory_lock); on MariaDB/MySQL a named lock (GET_LOCK with a
// timeout of 0, released by RELEASE_LOCK), named "gormstore sweeper "
// followed by the key in hex. The key is derived from the current schema
// (PostgreSQL) or database (MariaDB/MySQL) and the table names, or set by
// Config.LockKey. SQLite sweeps without a lock.
//
// Under gorm.io/plugin/dbresolver, which moves a statement outside a
// transaction to a pool of its choosing, the lock statements and, on
// PostgreSQL, each batch run in a transaction of their own on the pinned
// connection, which dbresolver leaves where it is (MariaDB/MySQL batches
// are transactions anyway). Without dbresolver a PostgreSQL batch is one
// autocommit statement, saving the transaction's two round trips.
//
// # A lease instead of the session lock
//
// With Config.Lease the lock is a row of a lease table instead: one row
// per lock name (the MariaDB lock's name, on every database), holding who
// took it last, a random token, and when it expires on the database's
// clock. A pass takes the lease in one statement,
//
//	UPDATE leases SET holder = $holder, token = $fresh, expires_at = now() + $ttl
//	WHERE name = $name AND expires_at <= now()
//
// which matches the row only if the lease is free or expired (when the
// row does not exist yet, an INSERT that does nothing on conflict takes
// its place); renews it between batches once half of Lease.TTL has gone
// by (UPDATE ... WHERE name = $name AND token = $token); and releases it
// at its end by setting expires_at to now. A node that dies holding the
// lease delays the next pass by at most the TTL. Every statement runs on
// the pool, none on a pinned connection, so the lease also works behind a
// pooler in transaction mode and on engines whose session locks do not
// exclude (docs/engines.md). The sweeper creates the table on first use
// if it is missing; created beforehand, it needs only SELECT, INSERT and
// UPDATE. On PostgreSQL:
//
//	CREATE TABLE gormstore_sweeper_leases (
//	    name       text        NOT NULL PRIMARY KEY,
//	    holder     text        NOT NULL,
//	    token      text        NOT NULL,
//	    expires_at timestamptz NOT NULL
//	);
//
// On MariaDB/MySQL name is varchar(64), holder varchar(255), token
// char(32) and expires_at datetime(6) holding UTC; on SQLite expires_at
// is UTC text to the millisecond.
//
// # The batch statements
//
// On PostgreSQL each batch is
//
//	WITH swept AS (
//	    DELETE FROM t WHERE key = ANY(ARRAY(
//	        SELECT key FROM t WHERE expires_at >= $from AND expires_at < $now
//	        ORDER BY expires_at LIMIT $batch FOR UPDATE SKIP LOCKED))
//	    AND expires_at < $now RETURNING expires_at)
//	SELECT count(*), max(expires_at) FROM swept
//
// where $from is the newest expires_at of the previous batch.
//
// On MariaDB (10.6 or later) and MySQL (8.0 or later), which refuse LIMIT
// in an IN subquery, each batch is a transaction of its own at READ
// COMMITTED (the default REPEATABLE READ would also lock the gaps of the
// expires_at range, blocking inserts into it) around
//
//	DELETE t FROM t JOIN (
//	    SELECT key FROM t WHERE expires_at < ?
//	    ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED
//	) AS gormstore_sweep_batch USING (key) WHERE expires_at < ?
//
// with the cut-off bound as UTC text ('2006-01-02 15:04:05.000000'), which
// a datetime column compares as written: the sweeper and the stores agree
// on what expired whatever the DSN's loc and the session's time_zone. On
// both, SKIP LOCKED steps past rows a writer or another sweeper holds
// instead of waiting for them; they are left for the next pass.
//
// SQLite, and any other database, gets a portable statement:
//
//	DELETE FROM t WHERE key IN (
//	    SELECT key FROM t WHERE expires_at < $now ORDER BY expires_at LIMIT $batch)
//	  AND expires_at < $now
//
// # Stopping
//
// Stop ends the loop between batches: the statement in flight finishes.
// If Stop's context ends first, the statement is cancelled: PostgreSQL's
// driver asks the server to cancel it; MariaDB/MySQL's closes the
// connection, and the server rolls the batch's transaction back and frees
// the lock once it notices.
package sweeper
