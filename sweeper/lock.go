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

	"github.com/attesto/gormstore/internal/dialect"
)

// unlockTimeout bounds the unlock, which runs on a context detached from
// the pass's: a pass ended by Stop or its Timeout must still try to
// release the lock.
const unlockTimeout = 5 * time.Second

// The lock statements. Both locks belong to the session, not to a
// transaction: they outlive the transaction each statement runs in and
// last until unlocked or until the connection closes.
const (
	pgScope   = "SELECT current_schema()"
	pgTryLock = "SELECT pg_try_advisory_lock(?)"
	pgUnlock  = "SELECT pg_advisory_unlock(?)"

	// GET_LOCK with a timeout of 0 tries without waiting. It answers 1
	// (taken), 0 (another session holds it) or NULL (an error);
	// RELEASE_LOCK answers 1, or 0 or NULL when this session does not
	// hold the lock.
	mysqlScope   = "SELECT DATABASE()"
	mysqlTryLock = "SELECT GET_LOCK(?, 0)"
	mysqlUnlock  = "SELECT RELEASE_LOCK(?)"
)

// lockNamePrefix starts every MariaDB/MySQL lock name; the key follows
// as 16 hex digits. Named locks are server-wide, hence the database in
// the derived key.
const lockNamePrefix = "gormstore sweeper "

// lockName is the MariaDB/MySQL named lock for key: at most 64
// characters, the longest name MySQL accepts.
func lockName(key int64) string {
	return fmt.Sprintf("%s%016x", lockNamePrefix, uint64(key))
}

// heldLock is the lock a pass holds: on PostgreSQL the advisory lock
// key, on MariaDB/MySQL the named lock derived from it.
type heldLock struct {
	key  int64
	name string
}

// String names the lock in errors and logs.
func (l heldLock) String() string {
	if l.name != "" {
		return fmt.Sprintf("%q", l.name)
	}
	return fmt.Sprint(l.key)
}

// hasLock tells whether sweepers on k exclude each other with a lock.
// Other databases (SQLite) sweep without one.
func hasLock(k dialect.Kind) bool {
	return k == dialect.Postgres || k == dialect.MySQL
}

// lock tries the lock on conn, the connection the pass pinned, without
// waiting: a node that finds it taken skips the pass (ErrLocked) rather
// than queue behind a sweep that is already doing the work.
//
// The statements run in a transaction of their own. It changes nothing
// for the session lock, and a read/write router such as dbresolver
// leaves a statement in a transaction on the connection it was given,
// where it would move a bare SELECT to a replica.
func (s *Sweeper) lock(ctx context.Context, conn *gorm.DB) (heldLock, error) {
	l := heldLock{key: s.cfg.lockKey}
	// sent is set once the lock statement may have reached the server.
	sent := false
	err := conn.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if l.key == 0 {
			var scope sql.NullString
			if err := s.scope(tx, &scope); err != nil {
				return err
			}
			l.key = deriveLockKey(scope.String, s.cfg.tables)
		}
		if s.kind == dialect.MySQL {
			l.name = lockName(l.key)
		}
		var got sql.NullBool
		sent = true
		if err := s.tryLock(tx, l, &got); err != nil {
			return err
		}
		if !got.Valid {
			return errors.New("the lock function answered NULL")
		}
		if !got.Bool {
			return fmt.Errorf("sweeper: lock %v: %w", l, ErrLocked)
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrLocked):
		return heldLock{}, err
	case err != nil && sent:
		// The lock may have been granted before the error reached us:
		// only a closed connection is sure to hold nothing.
		discard(conn)
		fallthrough
	case err != nil:
		return heldLock{}, lockError(ctx, err)
	}
	return l, nil
}

// scope reads what the derived key is scoped to: the current schema on
// PostgreSQL, the current database on MariaDB/MySQL.
func (s *Sweeper) scope(tx *gorm.DB, scope *sql.NullString) error {
	if s.kind == dialect.MySQL {
		return tx.Raw(mysqlScope).Scan(scope).Error
	}
	return tx.Raw(pgScope).Scan(scope).Error
}

func (s *Sweeper) tryLock(tx *gorm.DB, l heldLock, got *sql.NullBool) error {
	if s.kind == dialect.MySQL {
		return tx.Raw(mysqlTryLock, l.name).Scan(got).Error
	}
	return tx.Raw(pgTryLock, l.key).Scan(got).Error
}

func lockError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("sweeper: lock: %w: %w", context.Cause(ctx), err)
	}
	return fmt.Errorf("sweeper: lock: %w", err)
}

// errNotHeld is the unlock function answering that the session did not
// hold the lock.
var errNotHeld = errors.New("the connection did not hold the lock")

// unlock releases the lock on conn. If the unlock fails, the connection
// is closed instead of going back to the pool: there it would keep the
// lock, and every node would skip every pass until that pooled
// connection happened to close.
func (s *Sweeper) unlock(ctx context.Context, conn *gorm.DB, l heldLock) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	err := conn.WithContext(uctx).Transaction(func(tx *gorm.DB) error {
		var released sql.NullBool
		var err error
		if s.kind == dialect.MySQL {
			err = tx.Raw(mysqlUnlock, l.name).Scan(&released).Error
		} else {
			err = tx.Raw(pgUnlock, l.key).Scan(&released).Error
		}
		if err == nil && !released.Bool {
			err = errNotHeld
		}
		return err
	})
	if err == nil {
		return
	}
	discard(conn)
	// A cancelled statement has already broken the connection, which is
	// expected when Stop or the Timeout ends a pass.
	level := slog.LevelWarn
	if ctx.Err() != nil {
		level = slog.LevelDebug
	}
	lock := slog.Int64("lock_key", l.key)
	if l.name != "" {
		lock = slog.String("lock_name", l.name)
	}
	s.cfg.logger.Log(ctx, level, "sweeper: could not release the sweep lock; closed its connection, which releases it",
		lock, "err", err)
}

// rawConn is what database/sql's *sql.Conn offers to reach the driver's
// connection.
type rawConn interface {
	Raw(func(driverConn any) error) error
}

// discard closes the connection that gorm.DB.Connection pinned for conn
// rather than letting it return to the pool: database/sql drops a
// connection whose Raw callback reports driver.ErrBadConn. GORM has no
// call for this, so the *sql.Conn is read from the statement's
// connection pool (never written).
func discard(conn *gorm.DB) {
	if c, ok := conn.Statement.ConnPool.(rawConn); ok {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// deriveLockKey is the default lock key: the first eight bytes of
// SHA-256 over the scope (PostgreSQL's current schema, MariaDB/MySQL's
// current database) and the sorted table names. PostgreSQL's advisory
// locks are per database, not per schema, and MariaDB/MySQL's named
// locks per server: without the scope, two services (or two tests) on
// one server would skip each other's passes.
func deriveLockKey(scope string, tables []Table) int64 {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	slices.Sort(names)
	h := sha256.New()
	h.Write([]byte("gormstore sweeper\x00" + scope))
	for _, n := range names {
		h.Write([]byte("\x00" + n))
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil)[:8]))
}
