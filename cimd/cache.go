package cimd

import (
	"context"
	"time"
)

// Cache is what the resolver needs of a cache of documents: the methods
// of repo.ClientIDMetadataCache it calls, declared here so that resolving
// documents does not link the stores' database drivers. Every store in
// repo satisfies it (repo.NewGormClientIDMetadataCache for a cluster,
// repo.NewMemoryClientIDMetadataCache for one node).
type Cache interface {
	// Get returns the live document cached for url. An absent or expired
	// entry is a miss (found false, err nil); a failed lookup is an error.
	Get(ctx context.Context, url string) (metadata map[string]any, found bool, err error)
	// Put caches metadata for url until expiresAt, replacing any entry for
	// url.
	Put(ctx context.Context, url string, metadata map[string]any, expiresAt time.Time) error
	// Delete evicts url's entry. Deleting an absent entry is not an error.
	Delete(ctx context.Context, url string) error
}

// fieldErrors is how a store reports which fields of an entry it refused
// (repo's *changesets.Error), matched by its method so that this package
// need not import the store's.
type fieldErrors interface {
	error
	On(field string) []string
}
