package sweeper

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/internal/dialect"
)

// The lease statements. Each takes the lease table as its first argument
// (a clause.Table), and every time is the database's own clock, so that
// nodes whose clocks differ agree on when a lease expires.
//
// The take is one UPDATE whose WHERE admits a free or expired lease only,
// so its matched-row count says whether this node got it, on every
// dialect and DSN: an upsert's count would not, on MariaDB/MySQL, where
// clientFoundRows counts a row left unchanged. A lease row that does not
// exist yet is created by the insert, which inserts nothing when another
// node's insert came first.
const (
	pgLeaseCreate = "CREATE TABLE IF NOT EXISTS ? (name text NOT NULL PRIMARY KEY, holder text NOT NULL, " +
		"token text NOT NULL, expires_at timestamptz NOT NULL)"
	pgLeaseTake = "UPDATE ? SET holder = ?, token = ?, expires_at = now() + CAST(? AS interval) " +
		"WHERE name = ? AND expires_at <= now()"
	pgLeaseInsert = "INSERT INTO ? (name, holder, token, expires_at) VALUES (?, ?, ?, now() + CAST(? AS interval)) " +
		"ON CONFLICT (name) DO NOTHING"
	pgLeaseRenew   = "UPDATE ? SET expires_at = now() + CAST(? AS interval) WHERE name = ? AND token = ?"
	pgLeaseRelease = "UPDATE ? SET expires_at = now() WHERE name = ? AND token = ?"

	// SQLite's lease times are UTC text to the millisecond, which it
	// compares as the instants they name.
	sqliteLeaseCreate = "CREATE TABLE IF NOT EXISTS ? (name text NOT NULL PRIMARY KEY, holder text NOT NULL, " +
		"token text NOT NULL, expires_at text NOT NULL)"
	sqliteLeaseTake = "UPDATE ? SET holder = ?, token = ?, expires_at = strftime('%Y-%m-%d %H:%M:%f', 'now', ?) " +
		"WHERE name = ? AND expires_at <= strftime('%Y-%m-%d %H:%M:%f', 'now')"
	sqliteLeaseInsert = "INSERT INTO ? (name, holder, token, expires_at) " +
		"VALUES (?, ?, ?, strftime('%Y-%m-%d %H:%M:%f', 'now', ?)) ON CONFLICT (name) DO NOTHING"
	sqliteLeaseRenew   = "UPDATE ? SET expires_at = strftime('%Y-%m-%d %H:%M:%f', 'now', ?) WHERE name = ? AND token = ?"
	sqliteLeaseRelease = "UPDATE ? SET expires_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE name = ? AND token = ?"
	// sqliteLeaseHeld looks before the take: SQLite has one writer at a
	// time, and nodes trying the take every interval while another sweeps
	// would queue for the write lock behind its batches, long enough to
	// fail with SQLITE_BUSY. A read never waits for the writer (WAL). A
	// node that looked before another took the lease still queues, and
	// takes the lease in its turn once it is released.
	sqliteLeaseHeld = "SELECT count(*) FROM ? WHERE name = ? AND expires_at > strftime('%Y-%m-%d %H:%M:%f', 'now')"

	// MariaDB/MySQL's datetime(6) holds UTC, from UTC_TIMESTAMP, whatever
	// the session's time_zone. INSERT IGNORE reports 0 rows for a
	// duplicate key whatever clientFoundRows says; the row's values are
	// the sweeper's own and never truncated, which is the other thing
	// IGNORE would hide.
	mysqlLeaseCreate = "CREATE TABLE IF NOT EXISTS ? (name varchar(64) NOT NULL PRIMARY KEY, holder varchar(255) NOT NULL, " +
		"token char(32) NOT NULL, expires_at datetime(6) NOT NULL)"
	mysqlLeaseTake = "UPDATE ? SET holder = ?, token = ?, expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND " +
		"WHERE name = ? AND expires_at <= UTC_TIMESTAMP(6)"
	mysqlLeaseInsert  = "INSERT IGNORE INTO ? (name, holder, token, expires_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)"
	mysqlLeaseRenew   = "UPDATE ? SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE name = ? AND token = ?"
	mysqlLeaseRelease = "UPDATE ? SET expires_at = UTC_TIMESTAMP(6) WHERE name = ? AND token = ?"
)

// leaseOp is one of the lease statements.
type leaseOp int

const (
	leaseCreate leaseOp = iota
	leaseTake
	leaseInsert
	leaseRenew
	leaseRelease
)

// leaseExec runs op's statement for the sweeper's dialect on db: the
// lease table, then args. New refuses a Lease on any database but these
// three.
func (s *Sweeper) leaseExec(db *gorm.DB, op leaseOp, args ...any) *gorm.DB {
	args = append([]any{clause.Table{Name: s.cfg.lease.table}}, args...)
	switch s.kind {
	case dialect.Postgres:
		switch op {
		case leaseCreate:
			return db.Exec(pgLeaseCreate, args...)
		case leaseTake:
			return db.Exec(pgLeaseTake, args...)
		case leaseInsert:
			return db.Exec(pgLeaseInsert, args...)
		case leaseRenew:
			return db.Exec(pgLeaseRenew, args...)
		default:
			return db.Exec(pgLeaseRelease, args...)
		}
	case dialect.MySQL:
		switch op {
		case leaseCreate:
			return db.Exec(mysqlLeaseCreate, args...)
		case leaseTake:
			return db.Exec(mysqlLeaseTake, args...)
		case leaseInsert:
			return db.Exec(mysqlLeaseInsert, args...)
		case leaseRenew:
			return db.Exec(mysqlLeaseRenew, args...)
		default:
			return db.Exec(mysqlLeaseRelease, args...)
		}
	default:
		switch op {
		case leaseCreate:
			return db.Exec(sqliteLeaseCreate, args...)
		case leaseTake:
			return db.Exec(sqliteLeaseTake, args...)
		case leaseInsert:
			return db.Exec(sqliteLeaseInsert, args...)
		case leaseRenew:
			return db.Exec(sqliteLeaseRenew, args...)
		default:
			return db.Exec(sqliteLeaseRelease, args...)
		}
	}
}

// leaseTTL is Lease.TTL as the dialect's statements take it.
func (s *Sweeper) leaseTTL() any {
	d := s.cfg.lease.ttl
	switch s.kind {
	case dialect.Postgres:
		return fmt.Sprintf("%d microseconds", d.Microseconds())
	case dialect.MySQL:
		return d.Microseconds()
	default:
		return fmt.Sprintf("+%.3f seconds", d.Seconds())
	}
}

// leaseDialect reports whether the lease has statements for k.
func leaseDialect(k dialect.Kind) bool {
	return k == dialect.Postgres || k == dialect.MySQL || k == dialect.SQLite
}

// heldLease is the lease a pass holds.
type heldLease struct {
	name  string
	token string
	// renewed is when the take or the last renewal was sent: the lease
	// lasts at least TTL from then.
	renewed time.Time
	// lost is set when a renewal found the lease another node's.
	lost bool
}

// takeLease creates the lease table if it is missing, then tries the
// lease once, without waiting: a node that finds it held skips the pass
// (ErrLocked).
func (s *Sweeper) takeLease(ctx context.Context) (*heldLease, error) {
	if err := s.ensureLeaseTable(ctx); err != nil {
		return nil, lockError(ctx, fmt.Errorf("lease table %q: %w", s.cfg.lease.table, err))
	}
	key, err := s.leaseKey(ctx)
	if err != nil {
		return nil, lockError(ctx, err)
	}
	var token [16]byte
	rand.Read(token[:])
	l := &heldLease{name: lockName(key), token: hex.EncodeToString(token[:]), renewed: time.Now()}
	db := s.db.WithContext(ctx)
	if s.kind == dialect.SQLite {
		var held int64
		if err := db.Raw(sqliteLeaseHeld, clause.Table{Name: s.cfg.lease.table}, l.name).Scan(&held).Error; err != nil {
			return nil, lockError(ctx, fmt.Errorf("lease %q: %w", l.name, err))
		}
		if held > 0 {
			return nil, fmt.Errorf("sweeper: lease %q: %w", l.name, ErrLocked)
		}
	}
	res := s.leaseExec(db, leaseTake, s.cfg.lease.holder, l.token, s.leaseTTL(), l.name)
	if res.Error == nil && res.RowsAffected == 0 {
		// No free lease: none at all yet, or another node's.
		res = s.leaseExec(db, leaseInsert, l.name, s.cfg.lease.holder, l.token, s.leaseTTL())
	}
	switch {
	case res.Error != nil:
		return nil, lockError(ctx, fmt.Errorf("lease %q: %w", l.name, res.Error))
	case res.RowsAffected == 0:
		return nil, fmt.Errorf("sweeper: lease %q: %w", l.name, ErrLocked)
	}
	return l, nil
}

// ensureLeaseTable creates the lease table unless this Sweeper already
// found it. It looks first, so that a table created beforehand needs no
// CREATE privilege, and looks again when the create fails: on PostgreSQL
// two nodes creating the same table at once can fail the second even with
// IF NOT EXISTS. The look runs in a transaction, which a read/write
// router such as dbresolver leaves on the primary.
func (s *Sweeper) ensureLeaseTable(ctx context.Context) error {
	if s.leaseTableFound {
		return nil
	}
	exists := func() bool {
		var found bool
		_ = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			found = tx.Migrator().HasTable(s.cfg.lease.table)
			return nil
		})
		return found
	}
	if !exists() {
		if err := s.leaseExec(s.db.WithContext(ctx), leaseCreate).Error; err != nil && !exists() {
			return err
		}
	}
	s.leaseTableFound = true
	return nil
}

// leaseKey is Config.LockKey, or the key derived from the scope and the
// tables, as the session lock's. The scope is read in a transaction, so
// that a read/write router sends it to the primary.
func (s *Sweeper) leaseKey(ctx context.Context) (int64, error) {
	if s.cfg.lockKey != 0 {
		return s.cfg.lockKey, nil
	}
	var scope sql.NullString
	if s.kind == dialect.Postgres || s.kind == dialect.MySQL {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.scope(tx, &scope) })
		if err != nil {
			return 0, err
		}
	}
	return deriveLockKey(scope.String, s.cfg.tables), nil
}

// renewLease extends the lease once half its TTL has gone by since it was
// taken or last renewed; before that it does nothing. A lease that is no
// longer this pass's is ErrLeaseLost.
func (s *Sweeper) renewLease(ctx context.Context, l *heldLease) error {
	if time.Since(l.renewed) < s.cfg.lease.ttl/2 {
		return nil
	}
	sent := time.Now()
	res := s.leaseExec(s.db.WithContext(ctx), leaseRenew, s.leaseTTL(), l.name, l.token)
	switch {
	case res.Error != nil:
		return fmt.Errorf("renew lease %q: %w", l.name, res.Error)
	case res.RowsAffected == 0:
		l.lost = true
		return fmt.Errorf("renew lease %q: %w", l.name, ErrLeaseLost)
	}
	l.renewed = sent
	return nil
}

// releaseLease frees the lease for the next pass of any node, on a
// context detached from the pass's, as unlock does. A release that fails
// only delays the next pass until the lease expires.
func (s *Sweeper) releaseLease(ctx context.Context, l *heldLease) {
	if l.lost {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	res := s.leaseExec(s.db.WithContext(rctx), leaseRelease, l.name, l.token)
	err := res.Error
	if err == nil && res.RowsAffected == 0 {
		err = ErrLeaseLost
	}
	if err == nil {
		return
	}
	s.cfg.logger.Log(ctx, slog.LevelWarn, "sweeper: could not release the sweep lease; it is free once it expires",
		"lease", l.name, "ttl", s.cfg.lease.ttl, "err", err)
}
