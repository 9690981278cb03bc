package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/jsondoc"
)

// fillFunc reads url from the shared cache at start, for an entry that
// may live for life, and returns until when the entry may be kept: at
// most start+life and never past the shared entry's expires_at; zero
// when it may not be kept at all.
type fillFunc func(ctx context.Context, url string, start time.Time, life time.Duration) (doc map[string]any, until time.Time, found bool, err error)

// source picks how n reads and writes inner: the GORM and memory caches
// of this package are read with their expiry, and on PostgreSQL the GORM
// cache's writes are announced; any other cache is read through Get
// (entries then bounded by their lifetime alone) or GetWithExpiry. It
// also returns the clock inner decides expiry by.
func (n *NearCache) source(inner ClientIDMetadataCache) (fillFunc, func(context.Context, string, string, func(ClientIDMetadataCache) error) error, func() time.Time) {
	switch c := inner.(type) {
	case *GormClientIDMetadataCache:
		var announce func(context.Context, string, string, func(ClientIDMetadataCache) error) error
		if c.db.gorm != nil && c.db.kind == dialect.Postgres {
			announce = func(ctx context.Context, op, payload string, write func(ClientIDMetadataCache) error) error {
				return c.announced(ctx, n.channel, op, payload, write)
			}
		}
		return c.nearFill, announce, c.now
	case *MemoryClientIDMetadataCache:
		return c.nearFill, nil, c.settings().now
	case ExpiringClientIDMetadataCache:
		return func(ctx context.Context, url string, start time.Time, life time.Duration) (map[string]any, time.Time, bool, error) {
			doc, expiresAt, found, err := c.GetWithExpiry(ctx, url)
			return doc, expiresAt, found, err
		}, nil, time.Now
	default:
		return func(ctx context.Context, url string, start time.Time, life time.Duration) (map[string]any, time.Time, bool, error) {
			doc, found, err := c.Get(ctx, url)
			return doc, start.Add(life), found, err
		}, nil, time.Now
	}
}

// nearFill reads url's document with two flags telling whether its row
// outlives start+life, or a tenth of that: the dialects return the
// instant in different forms (and MariaDB in the session's zone), while
// a comparison with a bound instant is what Get itself already does. A
// row expiring sooner than either is served but not kept.
func (c *GormClientIDMetadataCache) nearFill(ctx context.Context, url string, start time.Time, life time.Duration) (map[string]any, time.Time, bool, error) {
	if c == nil || c.db.gorm == nil {
		return nil, time.Time{}, false, fmt.Errorf("repo: cimd get: %w", ErrNoDB)
	}
	if !changesets.ValidKey(url) {
		return nil, time.Time{}, false, nil
	}
	long, short := start.Add(life), start.Add(life/10)
	a := &args{argKey: url, argNow: c.db.time(start), argKeepLong: c.db.time(long), argKeepShort: c.db.time(short)}
	var text string
	var keepLong, keepShort bool
	err := scanRow(c.db.on(ctx, c.cimdReplicas), c.stmt.nearFill, a, &text, &keepLong, &keepShort)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, dbError("cimd get", "url", err)
	}
	doc, err := jsondoc.DecodeString(text)
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("repo: cimd get: %w", err)
	}
	var until time.Time
	switch {
	case keepLong:
		until = long
	case keepShort:
		until = short
	}
	return doc, until, true, nil
}

// nearFill reads url's entry with its expiry.
func (c *MemoryClientIDMetadataCache) nearFill(_ context.Context, url string, start time.Time, _ time.Duration) (map[string]any, time.Time, bool, error) {
	c.mu.RLock()
	e, ok := c.entries[url]
	c.mu.RUnlock()
	doc, found, err := e.read("cimd get", ok, start)
	return doc, e.expiresAt, found, err
}

// notifySQL announces a write to every listening node. pg_notify takes
// the channel as a value, so it is bound, not spliced in.
const notifySQL = "SELECT pg_notify(?, ?)"

// announced runs write on a copy of c bound to a new transaction (a
// savepoint in the caller's, if c's db is one), with pg_notify(channel,
// payload) after it. PostgreSQL delivers the notification at commit:
// never before the write is visible, so no listener re-reads the old row
// after dropping its entry, and never for a write that rolled back. A
// failed notification rolls the write back, so a write that returns
// success has been announced.
func (c *GormClientIDMetadataCache) announced(ctx context.Context, channel, op, payload string, write func(ClientIDMetadataCache) error) error {
	if c == nil || c.db.gorm == nil {
		return fmt.Errorf("repo: %s: %w", op, ErrNoDB)
	}
	var writeErr, notifyErr error
	err := c.db.primary.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		in := *c
		in.db = storeDB{gorm: tx, primary: tx, kind: c.db.kind}
		if writeErr = write(&in); writeErr != nil {
			return writeErr
		}
		if notifyErr = tx.Exec(notifySQL, channel, payload).Error; notifyErr != nil {
			return notifyErr
		}
		return nil
	})
	switch {
	case writeErr != nil:
		return writeErr
	case notifyErr != nil:
		return dbError(op+": announce", "url", notifyErr)
	case err != nil:
		return dbError(op, "url", err)
	}
	return nil
}

// announceable reports whether a write of url is announced: a key the
// store refuses without a statement (or that PostgreSQL could not carry
// as a notification payload) has no entry on any node. "" is DeleteAll.
func announceable(url string) bool {
	return url == "" || changesets.ValidKey(url)
}
