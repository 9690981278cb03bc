package sweeper

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/attesto/gormstore/models"
)

// Defaults of the Config fields left zero.
const (
	// DefaultBatchSize keeps the stores' calls quick while a long backlog
	// goes: what readers feel during a pass is the length of each batch's
	// statement, which grows with the batch (BENCHMARKS.md, "The sweeper:
	// earlier measurements"). Raise it for a faster pass where latency
	// during a sweep matters less. On MariaDB/MySQL every batch is also a
	// transaction whose commit waits for the redo log to be flushed, which
	// sets a floor under each batch's time.
	DefaultBatchSize = 50
	// DefaultTimeout bounds a pass. It is generous because a pass that
	// hits it only stops early: its batches stay deleted and the next
	// pass carries on.
	DefaultTimeout = time.Minute
	// DefaultInterval is short next to the stores' lifetimes (pushed
	// requests live minutes), so expired rows never pile up for long,
	// and long enough that an idle table costs one cheap DELETE a minute.
	DefaultInterval = time.Minute
	// DefaultJitter spreads every wait over Interval ± 10%, so nodes that
	// started together drift apart instead of waking together forever.
	DefaultJitter = 0.1
)

// Config configures a Sweeper. Every field may be left zero, and a nil
// *Config is the zero Config.
type Config struct {
	// Interval is the mean time from the end of one pass of the loop to
	// the start of the next. Default (0): DefaultInterval.
	Interval time.Duration
	// BatchSize is the most rows one DELETE statement removes.
	// Default (0): DefaultBatchSize.
	BatchSize int
	// Now is the clock that sets each pass's cut-off; give it the clock
	// of the stores, so the sweeper and the reads agree on what expired.
	// Default (nil): time.Now.
	Now func() time.Time
	// Logger receives failures (Error), unreleased locks (Warn), passes
	// that deleted rows (Info) and everything else (Debug).
	// Default (nil): slog.Default().
	Logger *slog.Logger
	// OnSweep, if set, is called after every pass, also skipped and failed
	// ones, on the goroutine that ran it: feed metrics from it, and keep it
	// quick, since Stop waits for it. Default (nil): none.
	OnSweep func(Result)
	// Tables are swept in this order. A caller may name any table with an
	// expires_at column and a single-column key; a row whose expires_at
	// is NULL never expires. The column holds the instant: timestamptz,
	// or timestamp holding UTC, on PostgreSQL; datetime holding UTC on
	// MariaDB/MySQL (the cut-off is bound as UTC text, as the stores
	// write it, whatever the session's time_zone); UTC text in
	// '2006-01-02 15:04:05.000000' form on SQLite.
	// Default (empty): the gormstore tables, DefaultTables().
	Tables []Table
	// Timeout bounds each pass, SweepNow's included, lock and all its
	// batches. Default (0): DefaultTimeout.
	Timeout time.Duration
	// Jitter is the fraction of Interval by which every wait of the loop
	// varies at random: each wait is uniform in
	// [Interval×(1−Jitter), Interval×(1+Jitter)], and the first one, after
	// Start, uniform in [0, Interval), so that nodes that start together
	// do not sweep together. It must be in [0, 1); it cannot be switched
	// off. Default (0): DefaultJitter.
	Jitter float64
	// LockKey is the key of the lock that lets one node sweep at a time
	// (see the package docs): on PostgreSQL the session-level advisory
	// lock key; on MariaDB/MySQL the named lock "gormstore sweeper "
	// followed by the key as 16 hex digits (GET_LOCK). A pass holds it on
	// one connection of the pool, which its batches then use; SQLite
	// ignores it. With Lease set, the lease row is named as MariaDB's
	// lock is, on every database. Default (0): derived on every pass from
	// the connection's current schema (PostgreSQL's current_schema(),
	// MariaDB/MySQL's DATABASE(); none on SQLite) and the table names, so
	// that sweepers of the same tables exclude each other while sweepers
	// of other schemas, other databases or other tables on the same
	// server do not. Set it to share one lock between sweepers whose
	// names differ only in spelling (a table named with and without its
	// schema).
	LockKey int64
	// Lease, if set, replaces the session lock with a lease: a row in a
	// table, taken by one UPDATE that succeeds only when the lease is free
	// or expired, renewed during a long pass and released at its end (see
	// Lease). It is for databases whose session locks do not exclude
	// (CockroachDB's pg_try_advisory_lock always answers true), do not
	// exist, or do not survive a connection pooler that hands each
	// transaction another server connection (PgBouncer's transaction
	// mode); and it gives SQLite files shared by several processes one
	// sweeper at a time. Default (nil): the session lock on PostgreSQL
	// and MariaDB/MySQL, no lock on SQLite.
	Lease *Lease
}

// Lease configures the sweep lock as a lease row; see Config.Lease.
//
// Every statement of the lease runs on the pool, none on a pinned
// connection, and times are the database's clock, never the nodes': a
// lease is free once its expires_at has passed on the server. A pass
// takes the lease with a fresh random token, so ownership never rests on
// Holder: two nodes given the same Holder still exclude each other.
type Lease struct {
	// Table is the table of the lease rows, one per lock name; like a
	// Tables name it may be schema-qualified. The sweeper creates it on
	// first use when it is missing (CREATE TABLE IF NOT EXISTS; see the
	// package docs for its columns), which needs the CREATE privilege; a
	// table created beforehand needs only SELECT, INSERT and UPDATE.
	// Default (empty): DefaultLeaseTable.
	Table string
	// Holder names this node in the lease row, for operators looking at
	// who swept last: at most 255 bytes of UTF-8 without NUL.
	// Default (empty): the host name and process id, "host:pid".
	Holder string
	// TTL is how long a lease lasts from its take or its last renewal, on
	// the database's clock: a node that dies while holding it delays the
	// next pass by at most TTL. A pass renews it between batches once half
	// of it has gone by; a pass that finds its lease taken by another
	// node (its renewal came too late, a batch having run longer than
	// TTL/2) stops with ErrLeaseLost. At least a second.
	// Default (0): DefaultLeaseTTL.
	TTL time.Duration
}

// Lease defaults.
const (
	// DefaultLeaseTable is Lease.Table's default.
	DefaultLeaseTable = "gormstore_sweeper_leases"
	// DefaultLeaseTTL is Lease.TTL's default: far longer than a batch,
	// short enough that a node that died holding the lease costs one
	// skipped interval or so.
	DefaultLeaseTTL = 30 * time.Second
	// minLeaseTTL is the shortest Lease.TTL: SQLite keeps lease times to
	// the millisecond, and a renewal must come well within the TTL.
	minLeaseTTL = time.Second
	// maxHolderBytes fits the holder column of every dialect.
	maxHolderBytes = 255
)

// Table names a table to sweep: rows with expires_at before the pass's
// cut-off are deleted, Key being the column that identifies a row.
type Table struct {
	// Name is the table's name, optionally schema-qualified ("schema.table",
	// on MariaDB/MySQL "database.table"); either part is quoted as one
	// identifier, so it is case-sensitive where the database is.
	Name string
	// Key is a single column that is unique in the table, usually the
	// primary key.
	Key string
}

// DefaultTables returns the three gormstore tables: the Client ID Metadata
// Document cache, the Pushed Authorization Request store and the replay
// store.
func DefaultTables() []Table {
	return []Table{
		{Name: models.ClientIDMetadataTable, Key: "url"},
		{Name: models.PushedAuthorizationRequestTable, Key: "request_uri"},
		{Name: models.ReplayTable, Key: "jti"},
	}
}

// settings are a validated Config with its defaults filled in.
type settings struct {
	interval  time.Duration
	batchSize int
	now       func() time.Time
	logger    *slog.Logger
	onSweep   func(Result)
	tables    []Table
	timeout   time.Duration
	jitter    float64
	lockKey   int64
	// lease is nil for the session lock.
	lease *leaseSettings
}

// leaseSettings are a validated Lease with its defaults filled in.
type leaseSettings struct {
	table  string
	holder string
	ttl    time.Duration
}

func (c *Config) settings() (settings, error) {
	if c == nil {
		c = &Config{}
	}
	s := settings{
		interval:  c.Interval,
		batchSize: c.BatchSize,
		now:       c.Now,
		logger:    c.Logger,
		onSweep:   c.OnSweep,
		// A copy: the caller may reuse its slice.
		tables:  append([]Table(nil), c.Tables...),
		timeout: c.Timeout,
		jitter:  c.Jitter,
		lockKey: c.LockKey,
	}
	switch {
	case c.Interval < 0:
		return s, fmt.Errorf("%w: Interval %v is negative", ErrInvalidConfig, c.Interval)
	case c.BatchSize < 0:
		return s, fmt.Errorf("%w: BatchSize %d is negative", ErrInvalidConfig, c.BatchSize)
	case c.Timeout < 0:
		return s, fmt.Errorf("%w: Timeout %v is negative", ErrInvalidConfig, c.Timeout)
	case !(c.Jitter >= 0 && c.Jitter < 1): // also rejects NaN
		return s, fmt.Errorf("%w: Jitter %v is not in [0, 1)", ErrInvalidConfig, c.Jitter)
	}
	if c.Lease != nil {
		l, err := c.Lease.settings()
		if err != nil {
			return s, err
		}
		s.lease = &l
	}
	if s.interval == 0 {
		s.interval = DefaultInterval
	}
	if s.batchSize == 0 {
		s.batchSize = DefaultBatchSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if len(s.tables) == 0 {
		s.tables = DefaultTables()
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.jitter == 0 {
		s.jitter = DefaultJitter
	}
	seen := make(map[string]bool, len(s.tables))
	for _, t := range s.tables {
		if err := t.validate(); err != nil {
			return s, err
		}
		// SweepNow reports counts by table name.
		if seen[t.Name] {
			return s, fmt.Errorf("%w: table %q is listed twice", ErrInvalidConfig, t.Name)
		}
		seen[t.Name] = true
	}
	return s, nil
}

func (l Lease) settings() (leaseSettings, error) {
	s := leaseSettings{table: l.Table, holder: l.Holder, ttl: l.TTL}
	if s.table == "" {
		s.table = DefaultLeaseTable
	}
	if s.holder == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "unknown-host"
		}
		if len(host) > 200 { // leaves room for the pid within maxHolderBytes
			host = strings.ToValidUTF8(host[:200], "?")
		}
		s.holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if s.ttl == 0 {
		s.ttl = DefaultLeaseTTL
	}
	if err := (Table{Name: s.table, Key: "name"}).validate(); err != nil {
		return s, fmt.Errorf("%w (Lease.Table)", err)
	}
	switch {
	case len(s.holder) > maxHolderBytes:
		return s, fmt.Errorf("%w: Lease.Holder is longer than %d bytes", ErrInvalidConfig, maxHolderBytes)
	case !utf8.ValidString(s.holder) || strings.ContainsRune(s.holder, 0):
		return s, fmt.Errorf("%w: Lease.Holder is not UTF-8 without NUL", ErrInvalidConfig)
	case s.ttl < minLeaseTTL:
		return s, fmt.Errorf("%w: Lease.TTL %v is shorter than %v", ErrInvalidConfig, s.ttl, minLeaseTTL)
	}
	return s, nil
}

// validate rejects names the dialect's quoting would not keep as the
// identifiers the caller meant. The names are never concatenated into SQL
// (they go through clause.Table and clause.Column), so this is about
// failing early and clearly, not about injection.
func (t Table) validate() error {
	parts := strings.Split(t.Name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("%w: table name %q has more than one dot", ErrInvalidConfig, t.Name)
	}
	for _, p := range parts {
		if problem := identifierProblem(p); problem != "" {
			return fmt.Errorf("%w: table name %q %s", ErrInvalidConfig, t.Name, problem)
		}
	}
	if strings.Contains(t.Key, ".") {
		return fmt.Errorf("%w: key column %q of table %q must be a bare column name", ErrInvalidConfig, t.Key, t.Name)
	}
	if problem := identifierProblem(t.Key); problem != "" {
		return fmt.Errorf("%w: key column %q of table %q %s", ErrInvalidConfig, t.Key, t.Name, problem)
	}
	return nil
}

// maxIdentifierBytes is PostgreSQL's NAMEDATALEN-1: a longer name would be
// truncated silently and could name another table.
const maxIdentifierBytes = 63

// identifierProblem says what is wrong with s as one identifier, or "".
func identifierProblem(s string) string {
	switch {
	case s == "":
		return "is empty or has an empty part"
	case len(s) > maxIdentifierBytes:
		return "is longer than 63 bytes (PostgreSQL would truncate it)"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsAny(s, "\x00\"`"):
		// The quote characters of PostgreSQL and of MariaDB/MySQL: GORM's
		// MySQL dialect reads a leading backtick as a name already quoted.
		return "contains a NUL, a double quote or a backtick"
	}
	return ""
}
