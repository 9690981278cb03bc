package sweeper

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"gorm.io/gorm"
)

// unlockTimeout bounds the unlock, which runs on a context detached from
// the pass's: a pass ended by Stop or its Timeout must still try to
// release the lock.
const unlockTimeout = 5 * time.Second

// pgLock is a session-level advisory lock and the one connection that
// holds it: the batches run on that connection, and the lock lives until
// it is unlocked there or the connection closes.
type pgLock struct {
	conn *sql.Conn
	key  int64
}

// lock pins a connection and tries the lock on it, without waiting: a
// node that finds it taken skips the pass (ErrLocked) rather than queue
// behind a sweep that is already doing the work.
func (s *Sweeper) lock(ctx context.Context) (pgLock, error) {
	conn, err := s.pool.Conn(ctx)
	if err != nil {
		return pgLock{}, lockError(ctx, err)
	}
	l := pgLock{conn: conn, key: s.cfg.lockKey}
	if l.key == 0 {
		var schema sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			conn.Close()
			return pgLock{}, lockError(ctx, err)
		}
		l.key = deriveLockKey(schema.String, s.cfg.tables)
	}
	var locked bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&locked); err != nil {
		// The lock may have been granted before the error reached us:
		// only a closed connection is sure to hold nothing.
		discard(conn)
		return pgLock{}, lockError(ctx, err)
	}
	if !locked {
		conn.Close()
		return pgLock{}, fmt.Errorf("sweeper: lock %d: %w", l.key, ErrLocked)
	}
	return l, nil
}

func lockError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("sweeper: lock: %w: %w", context.Cause(ctx), err)
	}
	return fmt.Errorf("sweeper: lock: %w", err)
}

// session returns db's statements bound to the locked connection.
func (l pgLock) session(ctx context.Context, db *gorm.DB) *gorm.DB {
	pinned := db.Session(&gorm.Session{Context: ctx})
	pinned.Statement.ConnPool = l.conn
	return pinned
}

// errNotHeld is pg_advisory_unlock answering false.
var errNotHeld = errors.New("the connection did not hold the lock")

// unlock releases the lock and returns the connection to the pool. If the
// unlock fails, the connection is closed instead: returned to the pool it
// would keep the lock, and every node would skip every pass until that
// pooled connection happened to close.
func (s *Sweeper) unlock(ctx context.Context, l pgLock) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	var released bool
	err := l.conn.QueryRowContext(uctx, "SELECT pg_advisory_unlock($1)", l.key).Scan(&released)
	if err == nil && !released {
		err = errNotHeld
	}
	if err == nil {
		l.conn.Close()
		return
	}
	discard(l.conn)
	// A cancelled statement has already broken the connection, which is
	// expected when Stop or the Timeout ends a pass.
	level := slog.LevelWarn
	if ctx.Err() != nil {
		level = slog.LevelDebug
	}
	s.cfg.logger.Log(ctx, level, "sweeper: could not release the sweep lock; closed its connection, which releases it",
		"lock_key", l.key, "err", err)
}

// discard closes conn's underlying connection rather than returning it to
// the pool: database/sql drops a connection whose Raw callback reports
// driver.ErrBadConn.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// deriveLockKey is the default advisory lock key: the first eight bytes of
// SHA-256 over the schema and the sorted table names. Advisory locks are
// per database, not per schema, so without the schema two services (or
// two test schemas) on one database would skip each other's passes.
func deriveLockKey(schema string, tables []Table) int64 {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	slices.Sort(names)
	h := sha256.New()
	h.Write([]byte("gormstore sweeper\x00" + schema))
	for _, n := range names {
		h.Write([]byte("\x00" + n))
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil)[:8]))
}
