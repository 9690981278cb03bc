package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/attesto/gormstore/changesets"
)

// MemoryPARStore is a PARStore in this process's memory, for tests and
// single-node development: a request_uri pushed to it resolves on this
// node only. It validates and encodes exactly as the GORM store does. The
// zero value is ready to use, with the default Config.
type MemoryPARStore struct {
	mu      sync.Mutex
	entries map[string]memoryEntry
	cfg     *settings
}

// NewMemoryPARStore returns an empty in-memory store.
func NewMemoryPARStore(cfg *Config) *MemoryPARStore {
	s := cfg.settings()
	return &MemoryPARStore{cfg: &s}
}

func (p *MemoryPARStore) settings() settings {
	if p.cfg == nil {
		return (*Config)(nil).settings()
	}
	return *p.cfg
}

// Put implements PARStore.
func (p *MemoryPARStore) Put(_ context.Context, requestURI string, params map[string]any, ttl time.Duration) error {
	s := p.settings()
	row, err := s.castPAR(requestURI, params, ttl)
	if err != nil {
		return fmt.Errorf("repo: par put: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries == nil {
		p.entries = make(map[string]memoryEntry)
	}
	// Like the table's primary key, an expired but unswept entry still
	// holds its request_uri.
	if _, taken := p.entries[requestURI]; taken {
		return fmt.Errorf("repo: par put: request_uri has already been taken: %w", ErrDuplicate)
	}
	e := memoryEntry{doc: row.Params, expiresAt: row.ExpiresAt.Time, clientID: boundClient(row.Params)}
	p.entries[requestURI] = e
	return nil
}

// Fetch implements PARStore.
func (p *MemoryPARStore) Fetch(_ context.Context, requestURI string) (map[string]any, bool, error) {
	return p.lookup("par fetch", requestURI, nil, false)
}

// FetchForClient implements ClientBoundPARStore.
func (p *MemoryPARStore) FetchForClient(_ context.Context, requestURI, clientID string) (map[string]any, bool, error) {
	return p.lookup("par fetch for client", requestURI, &clientID, false)
}

// Take implements PARStore.
func (p *MemoryPARStore) Take(_ context.Context, requestURI string) (map[string]any, bool, error) {
	return p.lookup("par take", requestURI, nil, true)
}

// TakeForClient implements ClientBoundPARStore.
func (p *MemoryPARStore) TakeForClient(_ context.Context, requestURI, clientID string) (map[string]any, bool, error) {
	return p.lookup("par take for client", requestURI, &clientID, true)
}

// lookup finds the live entry of requestURI, pushed by clientID when it is
// not nil, and removes it when take is set, all under one lock.
func (p *MemoryPARStore) lookup(op, requestURI string, clientID *string, take bool) (map[string]any, bool, error) {
	if clientID != nil && !changesets.ValidKey(*clientID) {
		return nil, false, nil
	}
	now := p.settings().now()
	p.mu.Lock()
	e, ok := p.entries[requestURI]
	ok = ok && e.expiresAt.After(now) && (clientID == nil || (e.clientID != nil && *e.clientID == *clientID))
	if ok && take {
		delete(p.entries, requestURI)
	}
	p.mu.Unlock()
	return e.read(op, ok, now)
}

// DeleteExpired removes the entries that expired before now, the in-memory
// counterpart of the sweeper, and returns how many it removed.
func (p *MemoryPARStore) DeleteExpired(context.Context) (int64, error) {
	now := p.settings().now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return deleteExpired(p.entries, now), nil
}

// boundClient is the client a pushed request binds to: its client_id
// member when that is a JSON string, read from the JSON the stores write,
// so that the memory store binds exactly as the GORM stores do whatever Go
// type held the string (a named string type, a json.RawMessage). Member
// names match exactly, as in the database.
func boundClient(doc []byte) *string {
	var members map[string]json.RawMessage
	if json.Unmarshal(doc, &members) != nil {
		return nil
	}
	raw, ok := members["client_id"]
	if !ok {
		return nil
	}
	var id string
	if json.Unmarshal(raw, &id) != nil {
		return nil
	}
	return &id
}
