package cimd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/repo"
)

// Resolver resolves client_id URLs to validated documents through a
// shared cache, fetching each missing one once per node. Make one with
// NewResolver, share it across goroutines, and keep one per process: its
// single-flight is per Resolver.
type Resolver struct {
	cache        repo.ClientIDMetadataCache
	fetch        FetchFunc
	bounds       Bounds
	rules        []Rule
	now          func() time.Time
	fetchTimeout time.Duration
	maxBytes     int64
	flights      flights
}

// Resolve returns the validated document of clientID.
//
// A live cache entry is returned without any fetch. On a miss, one shared
// fetch per client_id runs on this node, however many callers want it: it
// checks the cache again (another node may have stored the document
// meanwhile), fetches, checks the status, the size, the document
// (ValidateDocument, then Config.Rules), computes expires_at with
// ExpiresAt, stores the document, and hands each waiting caller a copy of
// its own. The shared fetch runs detached from the callers' cancellation,
// under FetchTimeout: a caller whose ctx ends gets ctx.Err() (wrapped)
// at once and the others keep waiting.
//
// Every failure wraps one of the package's sentinel errors and is never
// cached (draft section 4.4): the next Resolve fetches again. An invalid
// clientID is ErrInvalidClientID without a cache lookup or a fetch.
func (r *Resolver) Resolve(ctx context.Context, clientID string) (map[string]any, error) {
	fail := func(err error) (map[string]any, error) {
		return nil, fmt.Errorf("cimd: resolve %q: %w", clientID, err)
	}
	if r == nil || r.cache == nil {
		return fail(fmt.Errorf("%w: a Resolver must come from NewResolver", ErrConfig))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := validateClientID(clientID); err != nil {
		return fail(err)
	}
	doc, found, err := r.cache.Get(ctx, clientID)
	if err != nil {
		return fail(fmt.Errorf("%w: get: %w", ErrCache, err))
	}
	if found {
		return doc, nil
	}
	// The first caller's values (trace IDs) go with the shared fetch; its
	// cancellation does not.
	detached := context.WithoutCancel(ctx)
	f := r.flights.join(clientID, func() (map[string]any, error) {
		return r.fetchAndStore(detached, clientID)
	})
	select {
	case <-f.done:
		if f.err != nil {
			return fail(f.err)
		}
		return cloneDocument(f.doc), nil
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// fetchAndStore is the shared fetch of one client_id.
func (r *Resolver) fetchAndStore(ctx context.Context, clientID string) (map[string]any, error) {
	// A flight that ended between the caller's Get and this one, or another
	// node, may have stored the document already. Each cache call gets a
	// FetchTimeout of its own: a hung database must not keep the shared
	// fetch alive for ever.
	getCtx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
	doc, found, err := r.cache.Get(getCtx, clientID)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: get: %w", ErrCache, err)
	}
	if found {
		return doc, nil
	}

	resp, requestTime, responseTime, err := r.fetchOnce(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if doc, err = decodeDocument(resp.Body); err != nil {
		return nil, err
	}
	if err := validateDocument(clientID, doc); err != nil {
		return nil, err
	}
	for _, rule := range r.rules {
		if err := rule(clientID, doc); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
		}
	}

	expiresAt := ExpiresAt(resp.Header, requestTime, responseTime, r.bounds)
	putCtx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
	err = r.cache.Put(putCtx, clientID, doc, expiresAt)
	cancel()
	var cerr *changesets.Error
	switch {
	case errors.As(err, &cerr) && len(cerr.On("metadata")) > 0:
		return nil, fmt.Errorf("%w: the cache refuses it: %w", ErrInvalidDocument, err)
	case err != nil:
		return nil, fmt.Errorf("%w: put: %w", ErrCache, err)
	}
	return doc, nil
}

// fetchOnce calls the FetchFunc under FetchTimeout and checks what it
// returned: a response, with status 200 and a body within the size limit.
func (r *Resolver) fetchOnce(ctx context.Context, clientID string) (resp *Response, requestTime, responseTime time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
	defer cancel()
	before := r.now()
	resp, err = r.fetch(ctx, FetchRequest{ClientID: clientID, MaxBytes: r.maxBytes, Now: r.now})
	after := r.now()
	switch {
	case err != nil:
		return nil, before, after, fmt.Errorf("%w: %w", ErrFetch, err)
	case resp == nil:
		return nil, before, after, fmt.Errorf("%w: the FetchFunc returned neither a response nor an error", ErrFetch)
	case resp.StatusCode != http.StatusOK:
		return nil, before, after, fmt.Errorf("%w: %d, want 200", ErrStatus, resp.StatusCode)
	case int64(len(resp.Body)) > r.maxBytes:
		return nil, before, after, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.maxBytes)
	}
	requestTime, responseTime = resp.RequestTime, resp.ResponseTime
	if requestTime.IsZero() {
		requestTime = before
	}
	if responseTime.IsZero() {
		responseTime = after
	}
	return resp, requestTime, responseTime, nil
}
