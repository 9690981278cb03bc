package repo

import (
	"context"
	"time"
)

// ClientIDMetadataCache caches validated Client ID Metadata Documents by
// their client_id URL.
type ClientIDMetadataCache interface {
	// Get returns the live document cached for url. An absent or expired
	// entry is a miss (found false, err nil); a failed lookup is an error.
	// Numbers come back as json.Number, exactly as stored.
	Get(ctx context.Context, url string) (metadata map[string]any, found bool, err error)
	// Put caches metadata for url until expiresAt, replacing any entry for
	// url, live or expired: the freshest fetch wins.
	Put(ctx context.Context, url string, metadata map[string]any, expiresAt time.Time) error
	// Delete evicts url's entry. Deleting an absent entry is not an error.
	Delete(ctx context.Context, url string) error
	// DeleteAll evicts every entry.
	DeleteAll(ctx context.Context) error
}

// PARStore keeps pushed authorization requests (RFC 9126) behind their
// request_uri.
type PARStore interface {
	// Put stores params under requestURI for ttl, which must be positive
	// and at most the store's maximum (Config.MaxPARTTL, default 10
	// minutes): anything else is invalid input and writes nothing. params
	// must hold client_id as a non-empty string (RFC 6749 section 4.1.1;
	// ParamsFromForm makes params from a form), or Put is invalid input
	// naming it. A requestURI already stored is an ErrDuplicate error and
	// leaves the stored row intact.
	Put(ctx context.Context, requestURI string, params map[string]any, ttl time.Duration) error
	// Fetch returns the live params without consuming them, so the
	// authorization endpoint can resolve the request again after a login or
	// consent detour.
	Fetch(ctx context.Context, requestURI string) (params map[string]any, found bool, err error)
	// Take returns the live params and deletes them in one step: of any
	// number of concurrent callers exactly one gets them.
	Take(ctx context.Context, requestURI string) (params map[string]any, found bool, err error)
}

// ClientBoundPARStore is a PARStore that can also resolve a request_uri
// for the client presenting it only. RFC 9126 section 2.2: "The
// request_uri value MUST be bound to the client that posted the
// authorization request". The binding is the client_id in the pushed
// params, checked in the same statement as the lookup, so another client
// can neither read nor burn someone else's request_uri.
type ClientBoundPARStore interface {
	PARStore
	// FetchForClient is Fetch that matches only a request whose params
	// hold client_id as the string clientID.
	FetchForClient(ctx context.Context, requestURI, clientID string) (params map[string]any, found bool, err error)
	// TakeForClient is Take that matches, and so consumes, only a request
	// whose params hold client_id as the string clientID.
	TakeForClient(ctx context.Context, requestURI, clientID string) (params map[string]any, found bool, err error)
}

// Compile-time checks that every implementation has its interface.
var (
	_ ClientIDMetadataCache = (*GormClientIDMetadataCache)(nil)
	_ ClientIDMetadataCache = (*MemoryClientIDMetadataCache)(nil)
	_ PARStore              = (*GormPARStore)(nil)
	_ PARStore              = (*MemoryPARStore)(nil)
	_ ClientBoundPARStore   = (*GormPARStore)(nil)
	_ ClientBoundPARStore   = (*MemoryPARStore)(nil)
)
