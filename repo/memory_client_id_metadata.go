package repo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/jsondoc"
)

// MemoryClientIDMetadataCache is a ClientIDMetadataCache in this process's
// memory, for tests and single-node development: it is not shared across
// nodes. It validates and encodes exactly as the GORM cache does. The zero
// value is ready to use, with the default Config.
type MemoryClientIDMetadataCache struct {
	mu      sync.RWMutex
	entries map[string]memoryEntry
	cfg     *settings
}

// memoryEntry is a stored document, kept encoded so that a caller can
// neither alter it after Put nor through what Get returned.
type memoryEntry struct {
	doc       []byte
	expiresAt time.Time
	// clientID is a PAR's string client_id, nil when it has none.
	clientID *string
}

// NewMemoryClientIDMetadataCache returns an empty in-memory cache.
func NewMemoryClientIDMetadataCache(cfg *Config) *MemoryClientIDMetadataCache {
	s := cfg.settings()
	return &MemoryClientIDMetadataCache{cfg: &s}
}

func (c *MemoryClientIDMetadataCache) settings() settings {
	if c.cfg == nil {
		return (*Config)(nil).settings()
	}
	return *c.cfg
}

// Get implements ClientIDMetadataCache.
func (c *MemoryClientIDMetadataCache) Get(_ context.Context, url string) (map[string]any, bool, error) {
	now := c.settings().now()
	c.mu.RLock()
	e, ok := c.entries[url]
	c.mu.RUnlock()
	return e.read("cimd get", ok, now)
}

// Put implements ClientIDMetadataCache.
func (c *MemoryClientIDMetadataCache) Put(_ context.Context, url string, metadata map[string]any, expiresAt time.Time) error {
	s := c.settings()
	row, err := changesets.ClientIDMetadata{
		URL: url, Metadata: metadata, ExpiresAt: expiresAt, InsertedAt: s.now(),
	}.Cast(s.limits)
	if err != nil {
		return fmt.Errorf("repo: cimd put: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]memoryEntry)
	}
	c.entries[url] = memoryEntry{doc: row.Metadata, expiresAt: row.ExpiresAt.Time}
	return nil
}

// Delete implements ClientIDMetadataCache.
func (c *MemoryClientIDMetadataCache) Delete(_ context.Context, url string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, url)
	return nil
}

// DeleteAll implements ClientIDMetadataCache.
func (c *MemoryClientIDMetadataCache) DeleteAll(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	return nil
}

// DeleteExpired removes the entries that expired before now, the in-memory
// counterpart of the sweeper, and returns how many it removed.
func (c *MemoryClientIDMetadataCache) DeleteExpired(context.Context) (int64, error) {
	now := c.settings().now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return deleteExpired(c.entries, now), nil
}

func deleteExpired(entries map[string]memoryEntry, now time.Time) int64 {
	var n int64
	for k, e := range entries {
		if e.expiresAt.Before(now) {
			delete(entries, k)
			n++
		}
	}
	return n
}

// read is the in-memory twin of readDocument: a live entry is its decoded
// document, anything else a miss.
func (e memoryEntry) read(op string, ok bool, now time.Time) (map[string]any, bool, error) {
	if !ok || !e.expiresAt.After(now) {
		return nil, false, nil
	}
	doc, err := jsondoc.Decode(e.doc)
	if err != nil {
		return nil, false, fmt.Errorf("repo: %s: %w", op, err)
	}
	return doc, true, nil
}
