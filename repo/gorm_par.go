package repo

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/models"
)

// GormPARStore is the PARStore on a GORM database: a request_uri pushed to
// one node resolves on every node.
type GormPARStore struct {
	db *gorm.DB
	settings
}

// NewGormPARStore returns a store on db, which may be a transaction. db
// itself is not changed. A nil db is ErrNoDB.
func NewGormPARStore(db *gorm.DB, cfg *Config) (*GormPARStore, error) {
	if db == nil {
		return nil, ErrNoDB
	}
	return &GormPARStore{db: session(db), settings: cfg.settings()}, nil
}

var (
	// insertPAR never overwrites: a taken request_uri inserts nothing, so
	// the stored request stays intact and a caller's transaction is not
	// aborted by a unique violation.
	insertPAR = clause.OnConflict{Columns: []clause.Column{{Name: "request_uri"}}, DoNothing: true}
	// returningParams makes Take's DELETE hand back the row it removed.
	returningParams = clause.Returning{Columns: []clause.Column{{Name: "params"}}}
)

// Put implements PARStore. A ttl that is not positive fails validation
// ("expires_at: must be after inserted_at").
func (p *GormPARStore) Put(ctx context.Context, requestURI string, params map[string]any, ttl time.Duration) error {
	if p == nil || p.db == nil {
		return ErrNoDB
	}
	now := p.now()
	row, err := changesets.PushedAuthorizationRequest{
		RequestURI: requestURI, Params: params, ExpiresAt: now.Add(ttl), InsertedAt: now,
	}.Cast(p.limits)
	if err != nil {
		return fmt.Errorf("gormstore: par put: %w", err)
	}
	res := p.db.WithContext(ctx).Clauses(insertPAR).Create(&row)
	if res.Error != nil {
		return dbError("par put", "request_uri", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("gormstore: par put: %w",
			changesets.NewError("request_uri", "has already been taken", ErrDuplicate))
	}
	return nil
}

// Fetch implements PARStore.
func (p *GormPARStore) Fetch(ctx context.Context, requestURI string) (map[string]any, bool, error) {
	return p.fetch(ctx, "par fetch", requestURI, nil)
}

// FetchForClient implements ClientBoundPARStore.
func (p *GormPARStore) FetchForClient(ctx context.Context, requestURI, clientID string) (map[string]any, bool, error) {
	return p.fetch(ctx, "par fetch for client", requestURI, &clientID)
}

// Take implements PARStore.
func (p *GormPARStore) Take(ctx context.Context, requestURI string) (map[string]any, bool, error) {
	return p.take(ctx, "par take", requestURI, nil)
}

// TakeForClient implements ClientBoundPARStore.
func (p *GormPARStore) TakeForClient(ctx context.Context, requestURI, clientID string) (map[string]any, bool, error) {
	return p.take(ctx, "par take for client", requestURI, &clientID)
}

func (p *GormPARStore) fetch(ctx context.Context, op, requestURI string, clientID *string) (map[string]any, bool, error) {
	q, ok, err := p.live(ctx, requestURI, clientID)
	if !ok {
		return nil, false, err
	}
	var row models.PushedAuthorizationRequest
	res := q.Select("params").Find(&row)
	return readResult(op, "request_uri", res, row.Params)
}

func (p *GormPARStore) take(ctx context.Context, op, requestURI string, clientID *string) (map[string]any, bool, error) {
	q, ok, err := p.live(ctx, requestURI, clientID)
	if !ok {
		return nil, false, err
	}
	var row models.PushedAuthorizationRequest
	res := q.Clauses(returningParams).Delete(&row)
	return readResult(op, "request_uri", res, row.Params)
}

// live scopes a query to the live row of requestURI, and with a clientID
// to a row pushed by that client. ok is false when no row can match: a
// key or client_id that could never have been stored, or no database.
func (p *GormPARStore) live(ctx context.Context, requestURI string, clientID *string) (q *gorm.DB, ok bool, err error) {
	if p == nil || p.db == nil {
		return nil, false, ErrNoDB
	}
	if !changesets.ValidKey(requestURI) || (clientID != nil && !changesets.ValidKey(*clientID)) {
		return nil, false, nil
	}
	q = p.db.WithContext(ctx).Where("request_uri = ? AND expires_at > ?", requestURI, p.now().UTC())
	if clientID != nil {
		// A JSON string comparison: a numeric client_id of 123 must not
		// match the client "123".
		q = q.Where("params -> 'client_id' = to_jsonb(?::text)", *clientID)
	}
	return q, true, nil
}

// readResult turns a one-row read into the stores' answer: a database
// error is an error, no row is a miss, and a row is its decoded document.
func readResult(op, keyField string, res *gorm.DB, doc []byte) (map[string]any, bool, error) {
	if res.Error != nil {
		return nil, false, dbError(op, keyField, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, false, nil
	}
	m, err := decodeDocument(doc)
	if err != nil {
		return nil, false, fmt.Errorf("gormstore: %s: %w", op, err)
	}
	return m, true, nil
}
