package repo

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
)

// GormClientIDMetadataCache is the ClientIDMetadataCache on a GORM database:
// every node of a cluster serves the documents any node fetched.
type GormClientIDMetadataCache struct {
	db   storeDB
	stmt cimdStatements
	settings
}

// NewGormClientIDMetadataCache returns a cache on db, which may be a
// transaction. db itself is not changed. A nil db is ErrNoDB.
func NewGormClientIDMetadataCache(db *gorm.DB, cfg *Config) (*GormClientIDMetadataCache, error) {
	if db == nil {
		return nil, fmt.Errorf("repo: new cimd cache: %w", ErrNoDB)
	}
	s, err := session(db)
	if err != nil {
		return nil, fmt.Errorf("repo: new cimd cache: %w", err)
	}
	stmt, err := renderCIMD(s.gorm)
	if err != nil {
		return nil, fmt.Errorf("repo: new cimd cache: %w", err)
	}
	return &GormClientIDMetadataCache{db: s, stmt: stmt, settings: cfg.settings()}, nil
}

// Get implements ClientIDMetadataCache.
func (c *GormClientIDMetadataCache) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	if c == nil || c.db.gorm == nil {
		return nil, false, fmt.Errorf("repo: cimd get: %w", ErrNoDB)
	}
	if !changesets.ValidKey(url) {
		return nil, false, nil
	}
	return readDocument(c.db.on(ctx, c.cimdReplicas), c.stmt.get, &args{argKey: url, argNow: c.db.time(c.now())}, "cimd get", "url")
}

// Put implements ClientIDMetadataCache. The upsert replaces the document
// and its expiry of an existing row, live or expired; inserted_at keeps the
// first insertion, as attesto_phoenix does.
func (c *GormClientIDMetadataCache) Put(ctx context.Context, url string, metadata map[string]any, expiresAt time.Time) error {
	if c == nil || c.db.gorm == nil {
		return fmt.Errorf("repo: cimd put: %w", ErrNoDB)
	}
	row, err := changesets.ClientIDMetadata{
		URL: url, Metadata: metadata, ExpiresAt: expiresAt, InsertedAt: c.now(),
	}.Cast(c.limits)
	if err != nil {
		return fmt.Errorf("repo: cimd put: %w", err)
	}
	_, err = exec(c.db.on(ctx, false), c.stmt.put, &args{
		argKey: row.URL, argDoc: string(row.Metadata), argExpiresAt: c.db.time(row.ExpiresAt.Time), argInsertedAt: c.db.time(row.InsertedAt.Time),
	}, "cimd put", "url")
	return err
}

// Delete implements ClientIDMetadataCache.
func (c *GormClientIDMetadataCache) Delete(ctx context.Context, url string) error {
	if c == nil || c.db.gorm == nil {
		return fmt.Errorf("repo: cimd delete: %w", ErrNoDB)
	}
	if !changesets.ValidKey(url) {
		return nil
	}
	_, err := exec(c.db.on(ctx, false), c.stmt.del, &args{argKey: url}, "cimd delete", "url")
	return err
}

// DeleteAll implements ClientIDMetadataCache.
func (c *GormClientIDMetadataCache) DeleteAll(ctx context.Context) error {
	if c == nil || c.db.gorm == nil {
		return fmt.Errorf("repo: cimd delete all: %w", ErrNoDB)
	}
	_, err := exec(c.db.on(ctx, false), c.stmt.delAll, &args{}, "cimd delete all", "url")
	return err
}
