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

// GormClientIDMetadataCache is the ClientIDMetadataCache on a GORM database:
// every node of a cluster serves the documents any node fetched.
type GormClientIDMetadataCache struct {
	db *gorm.DB
	settings
}

// NewGormClientIDMetadataCache returns a cache on db, which may be a
// transaction. db itself is not changed. A nil db is ErrNoDB.
func NewGormClientIDMetadataCache(db *gorm.DB, cfg *Config) (*GormClientIDMetadataCache, error) {
	if db == nil {
		return nil, ErrNoDB
	}
	return &GormClientIDMetadataCache{db: session(db), settings: cfg.settings()}, nil
}

// upsertCIMD replaces the document and its expiry of an existing row, live
// or expired; inserted_at keeps the first insertion, as attesto_phoenix
// does.
var upsertCIMD = clause.OnConflict{
	Columns:   []clause.Column{{Name: "url"}},
	DoUpdates: clause.AssignmentColumns([]string{"metadata", "expires_at"}),
}

// Get implements ClientIDMetadataCache.
func (c *GormClientIDMetadataCache) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	if c == nil || c.db == nil {
		return nil, false, ErrNoDB
	}
	if !changesets.ValidKey(url) {
		return nil, false, nil
	}
	var row models.ClientIDMetadata
	res := c.db.WithContext(ctx).Select("metadata").
		Where("url = ? AND expires_at > ?", url, c.now().UTC()).
		Find(&row)
	return readResult("cimd get", "url", res, row.Metadata)
}

// Put implements ClientIDMetadataCache.
func (c *GormClientIDMetadataCache) Put(ctx context.Context, url string, metadata map[string]any, expiresAt time.Time) error {
	if c == nil || c.db == nil {
		return ErrNoDB
	}
	row, err := changesets.ClientIDMetadata{
		URL: url, Metadata: metadata, ExpiresAt: expiresAt, InsertedAt: c.now(),
	}.Cast(c.limits)
	if err != nil {
		return fmt.Errorf("gormstore: cimd put: %w", err)
	}
	if err := c.db.WithContext(ctx).Clauses(upsertCIMD).Create(&row).Error; err != nil {
		return dbError("cimd put", "url", err)
	}
	return nil
}

// Delete implements ClientIDMetadataCache.
func (c *GormClientIDMetadataCache) Delete(ctx context.Context, url string) error {
	if c == nil || c.db == nil {
		return ErrNoDB
	}
	if !changesets.ValidKey(url) {
		return nil
	}
	if err := c.db.WithContext(ctx).Where("url = ?", url).Delete(&models.ClientIDMetadata{}).Error; err != nil {
		return dbError("cimd delete", "url", err)
	}
	return nil
}

// DeleteAll implements ClientIDMetadataCache.
func (c *GormClientIDMetadataCache) DeleteAll(ctx context.Context) error {
	if c == nil || c.db == nil {
		return ErrNoDB
	}
	err := c.db.WithContext(ctx).Session(&gorm.Session{AllowGlobalUpdate: true}).
		Delete(&models.ClientIDMetadata{}).Error
	if err != nil {
		return dbError("cimd delete all", "url", err)
	}
	return nil
}
