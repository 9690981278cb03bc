package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of the NearCacheConfig fields left zero.
const (
	// DefaultNearCacheLifetime is NearCacheConfig.Lifetime's default: the
	// longest this node serves a document from memory while no listener
	// is connected, and so the longest it can serve one the shared cache
	// no longer holds.
	DefaultNearCacheLifetime = 5 * time.Second
	// DefaultNearCacheNotifiedLifetime is NearCacheConfig.NotifiedLifetime's
	// default.
	DefaultNearCacheNotifiedLifetime = time.Minute
	// DefaultNearCacheMaxEntries is NearCacheConfig.MaxEntries's default.
	DefaultNearCacheMaxEntries = 10000
	// DefaultNearCacheMaxBytes is NearCacheConfig.MaxBytes's default.
	DefaultNearCacheMaxBytes = 16 << 20
	// DefaultNearCacheChannel is NearCacheConfig.Channel's default.
	DefaultNearCacheChannel = "gormstore_cimd"
	// DefaultNearCacheCheckInterval is NearCacheConfig.CheckInterval's
	// default.
	DefaultNearCacheCheckInterval = 5 * time.Second
)

// NearCacheConfig configures a NearCache. The zero value (or a nil
// *NearCacheConfig) is a near cache without a listener, whose entries live
// at most DefaultNearCacheLifetime.
type NearCacheConfig struct {
	// Lifetime is the longest an entry is served from memory when no
	// listener is connected: always on SQLite, MariaDB/MySQL and in
	// memory, and on PostgreSQL without Listen, before Start, after Stop
	// and while the listener reconnects. It is then the bound on serving
	// a document another node has replaced or deleted.
	// Default (0): DefaultNearCacheLifetime, 5 seconds.
	Lifetime time.Duration
	// NotifiedLifetime is the longest an entry filled while the listener
	// is connected is served from memory. A notification evicts it
	// sooner, and the listener losing its connection drops every entry.
	// It bounds staleness only where a write bypasses every NearCache
	// (a Delete through the bare GormClientIDMetadataCache, a row changed
	// by hand): such writes send no notification. Used only with Listen.
	// Default (0): DefaultNearCacheNotifiedLifetime, 1 minute.
	NotifiedLifetime time.Duration
	// MaxEntries is the most documents kept; the least recently used
	// goes first. Default (0): DefaultNearCacheMaxEntries, 10,000.
	MaxEntries int
	// MaxBytes bounds the memory the documents take, as estimated from
	// their URLs, keys and strings plus a fixed overhead per value; the
	// least recently used goes first, and a document larger than MaxBytes
	// is served but not kept. Default (0): DefaultNearCacheMaxBytes,
	// 16 MiB.
	MaxBytes int64
	// Now is the clock that decides every local expiry. Give it the
	// shared cache's clock. Default (nil): the clock of the wrapped
	// GormClientIDMetadataCache or MemoryClientIDMetadataCache (its
	// Config.Now), time.Now for any other cache.
	Now func() time.Time
	// Listen opens the dedicated PostgreSQL connection on which the near
	// cache LISTENs for other nodes' writes; Start runs the listener,
	// which calls Listen again whenever the connection is lost. Give it,
	// for example, func(ctx context.Context) (*pgx.Conn, error) {
	// return pgx.Connect(ctx, dsn) }, on the database the shared cache
	// is in. The connection is the listener's own, never a pooled one:
	// LISTEN holds a session. It requires the wrapped cache to be a
	// GormClientIDMetadataCache on PostgreSQL, whose writes through a
	// NearCache are announced. Default (nil): no listener; entries live
	// at most Lifetime.
	Listen func(ctx context.Context) (*pgx.Conn, error)
	// Channel is the PostgreSQL notification channel the writes are
	// announced on and the listener listens to. Channels are per
	// database, not per schema: give deployments that share a database
	// (in different schemas) a channel each, or they evict each other's
	// entries (which is safe, but slower). At most 63 bytes.
	// Default (""): DefaultNearCacheChannel, "gormstore_cimd".
	Channel string
	// CheckInterval is how long the listener waits for a notification
	// before it checks its connection with a ping, and how long it waits
	// for a connection, a LISTEN or a ping to answer. A silently broken
	// connection is so noticed within two intervals, and every entry is
	// dropped then. Default (0): DefaultNearCacheCheckInterval, 5 seconds.
	CheckInterval time.Duration
	// Logger receives the listener's lost connections and failed
	// reconnections (Warn) and its connections (Info). Default (nil):
	// slog.Default().
	Logger *slog.Logger
}

// ExpiringClientIDMetadataCache is a ClientIDMetadataCache that can tell,
// with a document, until when it holds it. A NearCache over such a cache
// never keeps an entry past that instant. GormClientIDMetadataCache and
// MemoryClientIDMetadataCache need not implement it: the NearCache reads
// their expiry itself.
type ExpiringClientIDMetadataCache interface {
	ClientIDMetadataCache
	// GetWithExpiry is Get that also returns the entry's expires_at.
	GetWithExpiry(ctx context.Context, url string) (metadata map[string]any, expiresAt time.Time, found bool, err error)
}

// NearCache is a ClientIDMetadataCache in this process's memory in front
// of a shared one (the "near cache" of a cluster): a hit is served without
// a database statement, and it is checked, by cimd.Resolver, as every
// cache hit is. Make one with NewNearCache; a zero NearCache fails every
// call with ErrNoDB.
//
// An entry never outlives the shared entry's expires_at (for the GORM and
// memory caches, and an ExpiringClientIDMetadataCache; any other cache's
// entries are bounded by Lifetime alone), nor Lifetime, or
// NotifiedLifetime while the listener is connected. Concurrent misses for
// one URL make one read of the shared cache, whose result the others
// share; a failed read is an error for its callers and never kept.
// Put, Delete and DeleteAll write through and then drop the local entry;
// a read that was under way keeps nothing.
//
// Across nodes: on PostgreSQL, with the wrapped cache a
// GormClientIDMetadataCache, every Put, Delete and DeleteAll is announced
// with pg_notify in the same transaction as the write, so the
// notification is delivered once the write commits, and only if it does.
// With Listen set and Start called, every node's listener drops the
// entry when the notification arrives, typically within milliseconds of
// the commit; it clears the whole cache whenever it loses or regains its
// connection, since notifications may have been missed. SQLite and
// MariaDB/MySQL have no such channel: there a node serves a document
// another node replaced or deleted for at most Lifetime.
//
// The bound on serving what the shared cache no longer holds is so: the
// notification's latency while the listener is connected (and, should its
// connection break without a word, two CheckIntervals, by which the
// listener notices and drops every entry); Lifetime otherwise; and
// NotifiedLifetime for a write that bypasses every NearCache, such as a
// Delete through the bare GormClientIDMetadataCache or by hand in SQL,
// which no notification announces.
//
// A hit costs a lock, a map lookup and a copy of the document (its maps
// and arrays; strings are shared): a handful of allocations. A miss on
// the GORM cache costs one statement, which also tells how long the row
// has left and which GORM builds on each call (the GORM cache renders its
// own once); a write on PostgreSQL costs a transaction holding the write
// and pg_notify.
type NearCache struct {
	inner ClientIDMetadataCache
	fill  fillFunc
	// announce runs a write with its notification in one transaction;
	// nil where writes are not announced.
	announce func(ctx context.Context, op, payload string, write func(ClientIDMetadataCache) error) error

	now              func() time.Time
	lifetime         time.Duration
	notifiedLifetime time.Duration
	maxEntries       int
	maxBytes         int64
	listen           func(ctx context.Context) (*pgx.Conn, error)
	channel          string
	check            time.Duration
	logger           *slog.Logger
	// notified, when set (by the tests, before Start), is called after
	// each notification's eviction.
	notified func(payload string)

	// mu guards the entries, the LRU list, the flights and listening.
	mu      sync.Mutex
	entries map[string]*nearEntry
	lru     nearList
	bytes   int64
	flights map[string]*nearFlight
	// listening is true while the listener is connected; it decides the
	// lifetime of the entries filled meanwhile.
	listening bool

	hits, misses, shared, evictions, notifications, connects atomic.Uint64

	// life guards the listener's lifecycle.
	life    sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Compile-time check that a NearCache is a cache.
var _ ClientIDMetadataCache = (*NearCache)(nil)

// NearCacheStats are a NearCache's counters, for metrics.
type NearCacheStats struct {
	// Hits are the Gets served from memory.
	Hits uint64
	// Misses are the Gets that read the shared cache.
	Misses uint64
	// Shared are the Gets that waited for another's read of the same URL
	// instead of reading the shared cache.
	Shared uint64
	// Evictions are the entries dropped to make room (MaxEntries,
	// MaxBytes).
	Evictions uint64
	// Notifications are the notifications the listener received.
	Notifications uint64
	// Connects are the times the listener connected and listened.
	Connects uint64
	// Entries and Bytes are what the cache holds now.
	Entries int
	Bytes   int64
	// Listening is true while the listener is connected.
	Listening bool
}

// NewNearCache returns a near cache in front of inner. cfg may be nil:
// every default, no listener. A nil inner is ErrNoDB; a negative field,
// a channel name too long for PostgreSQL, or Listen with a cache other
// than a GormClientIDMetadataCache on PostgreSQL is an error.
func NewNearCache(inner ClientIDMetadataCache, cfg *NearCacheConfig) (*NearCache, error) {
	if inner == nil {
		return nil, fmt.Errorf("repo: near cache: %w", ErrNoDB)
	}
	var c NearCacheConfig
	if cfg != nil {
		c = *cfg
	}
	switch {
	case c.Lifetime < 0:
		return nil, fmt.Errorf("repo: near cache: Lifetime %v is negative", c.Lifetime)
	case c.NotifiedLifetime < 0:
		return nil, fmt.Errorf("repo: near cache: NotifiedLifetime %v is negative", c.NotifiedLifetime)
	case c.MaxEntries < 0:
		return nil, fmt.Errorf("repo: near cache: MaxEntries %d is negative", c.MaxEntries)
	case c.MaxBytes < 0:
		return nil, fmt.Errorf("repo: near cache: MaxBytes %d is negative", c.MaxBytes)
	case c.CheckInterval < 0:
		return nil, fmt.Errorf("repo: near cache: CheckInterval %v is negative", c.CheckInterval)
	case len(c.Channel) > maxChannelBytes:
		return nil, fmt.Errorf("repo: near cache: Channel %q is longer than PostgreSQL's %d bytes", c.Channel, maxChannelBytes)
	}
	n := &NearCache{
		inner:            inner,
		now:              c.Now,
		lifetime:         orDefault(c.Lifetime, DefaultNearCacheLifetime),
		notifiedLifetime: orDefault(c.NotifiedLifetime, DefaultNearCacheNotifiedLifetime),
		maxEntries:       orDefault(c.MaxEntries, DefaultNearCacheMaxEntries),
		maxBytes:         orDefault(c.MaxBytes, DefaultNearCacheMaxBytes),
		listen:           c.Listen,
		channel:          orDefault(c.Channel, DefaultNearCacheChannel),
		check:            orDefault(c.CheckInterval, DefaultNearCacheCheckInterval),
		logger:           c.Logger,
		entries:          make(map[string]*nearEntry),
		flights:          make(map[string]*nearFlight),
	}
	if n.logger == nil {
		n.logger = slog.Default()
	}
	var clock func() time.Time
	n.fill, n.announce, clock = n.source(inner)
	if n.now == nil {
		n.now = clock
	}
	if n.listen != nil && n.announce == nil {
		return nil, fmt.Errorf("repo: near cache: Listen needs a GormClientIDMetadataCache on PostgreSQL, whose writes are announced; got %T", inner)
	}
	return n, nil
}

// maxChannelBytes is PostgreSQL's longest identifier (NAMEDATALEN - 1).
const maxChannelBytes = 63

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Get implements ClientIDMetadataCache: a live local entry is a copy of
// its document without a statement; otherwise the shared cache is read,
// once for all concurrent callers of url.
func (n *NearCache) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	if n == nil || n.inner == nil {
		return nil, false, fmt.Errorf("repo: cimd get: %w", ErrNoDB)
	}
	for {
		now := n.now()
		n.mu.Lock()
		if e := n.entries[url]; e != nil {
			if now.Before(e.deadline) {
				n.lru.moveToFront(e)
				doc, elems := e.doc, e.elems
				n.mu.Unlock()
				n.hits.Add(1)
				return copyDocument(doc, elems), true, nil
			}
			n.removeLocked(e)
		}
		if f := n.flights[url]; f != nil {
			f.waiters++
			n.mu.Unlock()
			n.shared.Add(1)
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, false, fmt.Errorf("repo: cimd get: %w", context.Cause(ctx))
			}
			if f.retry {
				// The reader's own context ended: that is no answer for
				// this caller, who reads again.
				continue
			}
			if f.err != nil || !f.found {
				return nil, false, f.err
			}
			return copyDocument(f.doc, f.elems), true, nil
		}
		f := &nearFlight{done: make(chan struct{}), listening: n.listening}
		n.flights[url] = f
		n.mu.Unlock()
		return n.lead(ctx, url, f)
	}
}

// nearFlight is one read of the shared cache that concurrent Gets of one
// URL share. Its fields are written under NearCache.mu, the results
// before done is closed.
type nearFlight struct {
	done chan struct{}
	// listening is the listener's state when the read began, which sets
	// the entry's lifetime.
	listening bool
	// stale is set when the URL was written or evicted during the read:
	// the flight then keeps nothing, and later Gets start a new one.
	stale   bool
	waiters int

	doc   map[string]any
	elems int
	found bool
	err   error
	// retry tells the waiters that the read ended with its caller's
	// context, so they read again.
	retry bool
}

// errNearFillPanicked is what the waiters of a read that panicked get;
// the reader's own caller gets the panic.
var errNearFillPanicked = errors.New("repo: cimd get: the shared cache's Get panicked")

// lead reads url from the shared cache for f and its waiters.
func (n *NearCache) lead(ctx context.Context, url string, f *nearFlight) (map[string]any, bool, error) {
	n.misses.Add(1)
	start := n.now()
	life := n.lifetime
	if f.listening {
		life = n.notifiedLifetime
	}
	finished := false
	defer func() {
		if !finished {
			n.finish(url, f, nil, time.Time{}, false, errNearFillPanicked, false)
		}
	}()
	doc, until, found, err := n.fill(ctx, url, start, life)
	finished = true
	if err != nil || !found {
		n.finish(url, f, nil, time.Time{}, false, err, err != nil && ctx.Err() != nil)
		return nil, false, err
	}
	if !until.After(start) {
		until = time.Time{}
	} else if limit := start.Add(life); until.After(limit) {
		until = limit
	}
	if kept, waiters := n.finish(url, f, doc, until, true, nil, false); kept || waiters > 0 {
		// Others hold doc now: the caller gets a copy of its own.
		return copyDocument(doc, f.elems), true, nil
	}
	return doc, true, nil
}

// finish records f's result, keeps doc until until (unless it is zero,
// or the flight went stale), and wakes the waiters. It reports whether
// doc was kept and how many callers wait for it: the flight has left the
// map, so no more can join.
func (n *NearCache) finish(url string, f *nearFlight, doc map[string]any, until time.Time, found bool, err error, retry bool) (kept bool, waiters int) {
	var size int64
	var elems int
	if doc != nil {
		size, elems = measureDocument(url, doc)
	}
	n.mu.Lock()
	if n.flights[url] == f {
		delete(n.flights, url)
	}
	f.doc, f.elems, f.found, f.err, f.retry = doc, elems, found, err, retry
	if doc != nil && !f.stale && !until.IsZero() && n.now().Before(until) && size <= n.maxBytes {
		n.insertLocked(url, doc, until, size, elems)
		kept = true
	}
	waiters = f.waiters
	n.mu.Unlock()
	close(f.done)
	return kept, waiters
}

// Put implements ClientIDMetadataCache: it writes through, announced to
// the other nodes where it can be, and drops the local entry.
func (n *NearCache) Put(ctx context.Context, url string, metadata map[string]any, expiresAt time.Time) error {
	return n.write(ctx, "cimd put", url, func(c ClientIDMetadataCache) error {
		return c.Put(ctx, url, metadata, expiresAt)
	})
}

// Delete implements ClientIDMetadataCache: it writes through, announced
// to the other nodes where it can be, and drops the local entry.
func (n *NearCache) Delete(ctx context.Context, url string) error {
	return n.write(ctx, "cimd delete", url, func(c ClientIDMetadataCache) error {
		return c.Delete(ctx, url)
	})
}

// DeleteAll implements ClientIDMetadataCache: it writes through,
// announced to the other nodes where it can be, and empties the local
// cache.
func (n *NearCache) DeleteAll(ctx context.Context) error {
	return n.write(ctx, "cimd delete all", "", func(c ClientIDMetadataCache) error {
		return c.DeleteAll(ctx)
	})
}

// write runs a write on the shared cache and then drops url's local
// entry (every entry for ""), also when the write failed: its outcome is
// then unknown.
func (n *NearCache) write(ctx context.Context, op, url string, write func(ClientIDMetadataCache) error) error {
	if n == nil || n.inner == nil {
		return fmt.Errorf("repo: %s: %w", op, ErrNoDB)
	}
	var err error
	if n.announce != nil && announceable(url) {
		err = n.announce(ctx, op, url, write)
	} else {
		err = write(n.inner)
	}
	n.evict(url)
	return err
}

// evict drops url's local entry, every entry for "", and keeps any read
// under way from storing what it read.
func (n *NearCache) evict(url string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if url == "" {
		n.clearLocked()
		return
	}
	if e := n.entries[url]; e != nil {
		n.removeLocked(e)
	}
	if f := n.flights[url]; f != nil {
		f.stale = true
		delete(n.flights, url)
	}
}

// clearLocked drops every entry and makes every read under way stale.
func (n *NearCache) clearLocked() {
	clear(n.entries)
	n.lru = nearList{}
	n.bytes = 0
	for url, f := range n.flights {
		f.stale = true
		delete(n.flights, url)
	}
}

// Stats returns the cache's counters.
func (n *NearCache) Stats() NearCacheStats {
	if n == nil {
		return NearCacheStats{}
	}
	n.mu.Lock()
	entries, bytes, listening := len(n.entries), n.bytes, n.listening
	n.mu.Unlock()
	return NearCacheStats{
		Hits:          n.hits.Load(),
		Misses:        n.misses.Load(),
		Shared:        n.shared.Load(),
		Evictions:     n.evictions.Load(),
		Notifications: n.notifications.Load(),
		Connects:      n.connects.Load(),
		Entries:       entries,
		Bytes:         bytes,
		Listening:     listening,
	}
}
