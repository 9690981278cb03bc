package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/models"
)

// ReplayStore remembers one-time identifiers, the jti of a client
// assertion (RFC 7523 section 3) or of a DPoP proof (RFC 9449 section
// 11.1), until the token carrying them expires, so that a token presented
// twice, on any node, is refused the second time. It is the port of
// attesto_phoenix's EctoReplayCheck, on the same dpop_replays table.
type ReplayStore interface {
	// CheckAndRecord records jti until expiresAt and reports whether it
	// was fresh: of any number of concurrent presentations of one jti on
	// any number of nodes, exactly one is. A jti whose earlier record has
	// expired is fresh again. An empty or overlong jti, or an expiresAt
	// that is not in the future, is invalid input and records nothing.
	CheckAndRecord(ctx context.Context, jti string, expiresAt time.Time) (fresh bool, err error)
	// Seen reports whether jti is recorded and its record is live.
	Seen(ctx context.Context, jti string) (bool, error)
}

var (
	_ ReplayStore = (*GormReplayStore)(nil)
	_ ReplayStore = (*MemoryReplayStore)(nil)
)

// castReplay validates a CheckAndRecord.
func (s settings) castReplay(jti string, expiresAt time.Time) (time.Time, error) {
	cs := &changesets.Error{}
	if !changesets.ValidKey(jti) {
		cs.Fields = append(cs.Fields, changesets.FieldError{Field: "jti",
			Message: fmt.Sprintf("must be non-empty valid UTF-8 without NUL bytes, at most %d bytes", changesets.MaxKeyBytes)})
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	expiresAt = expiresAt.UTC().Truncate(time.Microsecond)
	switch {
	case expiresAt.IsZero():
		cs.Fields = append(cs.Fields, changesets.FieldError{Field: "expires_at", Message: "can't be blank"})
	case !expiresAt.After(now):
		cs.Fields = append(cs.Fields, changesets.FieldError{Field: "expires_at", Message: "must be in the future: the token has expired"})
	case expiresAt.Year() > 9999:
		cs.Fields = append(cs.Fields, changesets.FieldError{Field: "expires_at", Message: "is out of range (after the year 9999)"})
	}
	if len(cs.Fields) > 0 {
		return time.Time{}, cs
	}
	return expiresAt, nil
}

// GormReplayStore is the ReplayStore on a GORM database, shared by every
// node.
type GormReplayStore struct {
	db   storeDB
	stmt replayStatements
	settings
}

// replayStatements are the replay store's statements for one database.
type replayStatements struct {
	// record inserts a jti, or takes over the row of one whose record
	// has expired; it affects no row for a live jti.
	record statement
	// reclaim is MySQL's second step: its plain INSERT failed on a taken
	// jti, and the row is taken over only if its record has expired.
	reclaim statement
	seen    statement
	mysql   bool
}

func renderReplay(db *gorm.DB) (replayStatements, error) {
	s := replayStatements{mysql: dialect.Of(db) == dialect.MySQL}
	var err error
	model := &models.Replay{}
	// MySQL's upsert counts an unchanged row as affected under the
	// clientFoundRows DSN option, so there the INSERT's duplicate-key
	// error hands over to reclaim.
	if s.record, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		if !s.mysql {
			tx = tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "jti"}},
				DoUpdates: clause.AssignmentColumns([]string{"expires_at"}),
				Where: clause.Where{Exprs: []clause.Expression{
					clause.Lte{Column: clause.Column{Table: models.ReplayTable, Name: "expires_at"}, Value: p(argNow)},
				}},
			})
		}
		return tx.Model(model).Create(map[string]any{"jti": p(argKey), "expires_at": p(argExpiresAt)})
	}); err != nil {
		return s, fmt.Errorf("replay record: %w", err)
	}
	if s.mysql {
		if s.reclaim, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
			return tx.Model(model).Where(clause.Eq{Column: clause.Column{Name: "jti"}, Value: p(argKey)}).
				Where(clause.Lte{Column: clause.Column{Name: "expires_at"}, Value: p(argNow)}).
				Updates(map[string]any{"expires_at": p(argExpiresAt)})
		}); err != nil {
			return s, fmt.Errorf("replay record: %w", err)
		}
	}
	if s.seen, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		return tx.Model(model).Select("jti").Where(clause.Eq{Column: clause.Column{Name: "jti"}, Value: p(argKey)}).
			Where(clause.Gt{Column: clause.Column{Name: "expires_at"}, Value: p(argNow)}).Find(&[]models.Replay{})
	}); err != nil {
		return s, fmt.Errorf("replay seen: %w", err)
	}
	return s, nil
}

// NewGormReplayStore returns a replay store on db, which may be a
// transaction. db itself is not changed. A nil db is ErrNoDB.
func NewGormReplayStore(db *gorm.DB, cfg *Config) (*GormReplayStore, error) {
	if db == nil {
		return nil, fmt.Errorf("repo: new replay store: %w", ErrNoDB)
	}
	s, err := session(db)
	if err != nil {
		return nil, fmt.Errorf("repo: new replay store: %w", err)
	}
	stmt, err := renderReplay(s.gorm)
	if err != nil {
		return nil, fmt.Errorf("repo: new replay store: %w", err)
	}
	return &GormReplayStore{db: s, stmt: stmt, settings: cfg.settings()}, nil
}

// CheckAndRecord implements ReplayStore in one statement: an insert that
// takes over only an expired record, so the database decides which of
// concurrent presentations is fresh.
func (r *GormReplayStore) CheckAndRecord(ctx context.Context, jti string, expiresAt time.Time) (bool, error) {
	if r == nil || r.db.gorm == nil {
		return false, fmt.Errorf("repo: replay record: %w", ErrNoDB)
	}
	exp, err := r.castReplay(jti, expiresAt)
	if err != nil {
		return false, fmt.Errorf("repo: replay record: %w", err)
	}
	a := &args{argKey: jti, argExpiresAt: r.db.time(exp), argNow: r.db.time(r.now())}
	n, err := exec(r.db.on(ctx, false), r.stmt.record, a, "replay record", "jti")
	if r.stmt.mysql && errors.Is(err, ErrDuplicate) {
		n, err = exec(r.db.on(ctx, false), r.stmt.reclaim, a, "replay record", "jti")
	}
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// Seen implements ReplayStore.
func (r *GormReplayStore) Seen(ctx context.Context, jti string) (bool, error) {
	if r == nil || r.db.gorm == nil {
		return false, fmt.Errorf("repo: replay seen: %w", ErrNoDB)
	}
	if !changesets.ValidKey(jti) {
		return false, nil
	}
	_, found, err := query(r.db.on(ctx, false), r.stmt.seen, &args{argKey: jti, argNow: r.db.time(r.now())})
	if err != nil {
		return false, dbError("replay seen", "jti", err)
	}
	return found, nil
}

// MemoryReplayStore is the ReplayStore of a single process. Its zero value
// is ready to use.
type MemoryReplayStore struct {
	cfg *Config
	mu  sync.Mutex
	// jtis holds each recorded jti's expiry; expired ones stay until
	// recorded again, as an unswept row would.
	jtis map[string]time.Time
}

// NewMemoryReplayStore returns an empty in-memory replay store.
func NewMemoryReplayStore(cfg *Config) *MemoryReplayStore {
	return &MemoryReplayStore{cfg: cfg}
}

// CheckAndRecord implements ReplayStore.
func (m *MemoryReplayStore) CheckAndRecord(_ context.Context, jti string, expiresAt time.Time) (bool, error) {
	s := m.cfg.settings()
	exp, err := s.castReplay(jti, expiresAt)
	if err != nil {
		return false, fmt.Errorf("repo: replay record: %w", err)
	}
	now := s.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.jtis[jti]; ok && old.After(now) {
		return false, nil
	}
	if m.jtis == nil {
		m.jtis = make(map[string]time.Time)
	}
	m.jtis[jti] = exp
	return true, nil
}

// Seen implements ReplayStore.
func (m *MemoryReplayStore) Seen(_ context.Context, jti string) (bool, error) {
	now := m.cfg.settings().now()
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.jtis[jti]
	return ok && exp.After(now), nil
}
