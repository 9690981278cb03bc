// Package sweeper deletes expired rows from the gormstore tables in batches.
//
// Reads never depend on it: every store read already refuses a row whose
// expires_at has passed. Sweeping only stops tables of short-lived OAuth
// state (cached Client ID Metadata Documents, pushed authorization
// requests) from growing without bound.
//
// A pass takes one cut-off, Config.Now, for every table and deletes the
// rows whose expires_at is strictly before it, at most BatchSize rows per
// statement, oldest first. On PostgreSQL each batch is
//
//	WITH swept AS (
//	    DELETE FROM t WHERE key = ANY(ARRAY(
//	        SELECT key FROM t WHERE expires_at >= $from AND expires_at < $now
//	        ORDER BY expires_at LIMIT $batch FOR UPDATE SKIP LOCKED))
//	    AND expires_at < $now RETURNING expires_at)
//	SELECT count(*), max(expires_at) FROM swept
//
// where $from is the newest expires_at of the previous batch. Each batch
// commits on its own, so a writer that touches a row being swept waits
// for one batch, never for the whole backlog, and a pass that is stopped
// or times out keeps what it already deleted.
//
// On PostgreSQL a pass first takes a session-level advisory lock, without
// waiting; a node that does not get it skips the pass (ErrLocked), so one
// node sweeps at a time however many run the loop. Other dialects (SQLite)
// sweep without a lock, with a portable statement:
//
//	DELETE FROM t WHERE key IN (
//	    SELECT key FROM t WHERE expires_at < $now ORDER BY expires_at LIMIT $batch)
//	  AND expires_at < $now
//
// Stop ends the loop between batches: the statement in flight finishes.
package sweeper
