package repo

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
)

// GormPARStore is the PARStore on a GORM database: a request_uri pushed to
// one node resolves on every node.
type GormPARStore struct {
	db   storeDB
	stmt parStatements
	settings
}

// NewGormPARStore returns a store on db, which may be a transaction. db
// itself is not changed. A nil db is ErrNoDB.
func NewGormPARStore(db *gorm.DB, cfg *Config) (*GormPARStore, error) {
	if db == nil {
		return nil, fmt.Errorf("repo: new par store: %w", ErrNoDB)
	}
	s, err := session(db)
	if err != nil {
		return nil, fmt.Errorf("repo: new par store: %w", err)
	}
	stmt, err := renderPAR(s.gorm)
	if err != nil {
		return nil, fmt.Errorf("repo: new par store: %w", err)
	}
	return &GormPARStore{db: s, stmt: stmt, settings: cfg.settings()}, nil
}

// Put implements PARStore. A ttl that is not positive, or longer than
// Config.MaxPARTTL, fails validation on expires_at. The insert never overwrites:
// a taken request_uri inserts nothing, so the stored request stays intact
// and a caller's transaction is not aborted by a unique violation.
func (p *GormPARStore) Put(ctx context.Context, requestURI string, params map[string]any, ttl time.Duration) error {
	if p == nil || p.db.gorm == nil {
		return fmt.Errorf("repo: par put: %w", ErrNoDB)
	}
	row, err := p.castPAR(requestURI, params, ttl)
	if err != nil {
		return fmt.Errorf("repo: par put: %w", err)
	}
	n, err := exec(p.db.on(ctx, false), p.stmt.put, &args{
		argKey: row.RequestURI, argDoc: string(row.Params), argExpiresAt: p.db.time(row.ExpiresAt.Time), argInsertedAt: p.db.time(row.InsertedAt.Time),
	}, "par put", "request_uri")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("repo: par put: request_uri has already been taken: %w", ErrDuplicate)
	}
	return nil
}

// Fetch implements PARStore.
func (p *GormPARStore) Fetch(ctx context.Context, requestURI string) (map[string]any, bool, error) {
	if !p.usable(requestURI) {
		return nil, false, p.dbErr("par fetch")
	}
	return readDocument(p.db.on(ctx, false), p.stmt.fetch, &args{argKey: requestURI, argNow: p.db.time(p.now())}, "par fetch", "request_uri")
}

// FetchForClient implements ClientBoundPARStore.
func (p *GormPARStore) FetchForClient(ctx context.Context, requestURI, clientID string) (map[string]any, bool, error) {
	if !p.usable(requestURI) || !changesets.ValidKey(clientID) {
		return nil, false, p.dbErr("par fetch for client")
	}
	return readDocument(p.db.on(ctx, false), p.stmt.fetchForClient,
		&args{argKey: requestURI, argNow: p.db.time(p.now()), argClientID: clientID}, "par fetch for client", "request_uri")
}

// Take implements PARStore: one DELETE ... RETURNING, so of any number of
// concurrent callers exactly one gets the row. On a server without
// RETURNING (MySQL) it reads the row, then deletes it, and the delete's
// affected-row count decides which caller won: a pushed request is never
// updated, so the row deleted is the row read.
func (p *GormPARStore) Take(ctx context.Context, requestURI string) (map[string]any, bool, error) {
	if !p.usable(requestURI) {
		return nil, false, p.dbErr("par take")
	}
	a := &args{argKey: requestURI, argNow: p.db.time(p.now())}
	if !p.stmt.returning {
		return p.takeInTwo(ctx, p.stmt.fetch, a, "par take")
	}
	return readDocument(p.db.on(ctx, false), p.stmt.take, a, "par take", "request_uri")
}

// TakeForClient implements ClientBoundPARStore.
func (p *GormPARStore) TakeForClient(ctx context.Context, requestURI, clientID string) (map[string]any, bool, error) {
	if !p.usable(requestURI) || !changesets.ValidKey(clientID) {
		return nil, false, p.dbErr("par take for client")
	}
	a := &args{argKey: requestURI, argNow: p.db.time(p.now()), argClientID: clientID}
	if !p.stmt.returning {
		return p.takeInTwo(ctx, p.stmt.fetchForClient, a, "par take for client")
	}
	return readDocument(p.db.on(ctx, false), p.stmt.takeForClient, a, "par take for client", "request_uri")
}

// takeInTwo is Take on a server without DELETE ... RETURNING: read with
// fetch, then delete the row read; only the caller whose delete removed
// it gets it.
func (p *GormPARStore) takeInTwo(ctx context.Context, fetch statement, a *args, op string) (map[string]any, bool, error) {
	params, found, err := readDocument(p.db.on(ctx, false), fetch, a, op, "request_uri")
	if err != nil || !found {
		return nil, false, err
	}
	n, err := exec(p.db.on(ctx, false), p.stmt.takeDelete, a, op, "request_uri")
	if err != nil || n == 0 {
		return nil, false, err
	}
	return params, true, nil
}

// usable reports whether a lookup of requestURI needs a round trip: false
// without a database, or for a key that could never have been stored.
func (p *GormPARStore) usable(requestURI string) bool {
	return p != nil && p.db.gorm != nil && changesets.ValidKey(requestURI)
}

// dbErr is the error of a lookup that usable turned away: ErrNoDB without
// a database, none for a key that is a plain miss.
func (p *GormPARStore) dbErr(op string) error {
	if p == nil || p.db.gorm == nil {
		return fmt.Errorf("repo: %s: %w", op, ErrNoDB)
	}
	return nil
}
