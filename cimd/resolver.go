package cimd

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Resolver resolves client_id URLs to validated documents through a
// shared cache, fetching each missing one once per node. Make one with
// NewResolver, share it across goroutines, and keep one per process: its
// single-flight and its limits on concurrent fetches are per Resolver.
type Resolver struct {
	cache        Cache
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
// A live cache entry is checked as a fetched document is (ValidateDocument,
// then Config.Rules: another node, or an older version, may have stored
// it) and returned without any fetch; an entry failing the checks is
// evicted and refused with ErrInvalidDocument. On a miss, one shared fetch
// per client_id runs on this node, however many callers want it: it checks
// the cache again (another node may have stored the document meanwhile),
// fetches, checks the status, the size, the Content-Type, the document,
// computes expires_at with ExpiresAt, stores the document, and hands each
// waiting caller a copy of its own. The shared fetch runs detached from
// the callers' cancellation, under FetchTimeout: a caller whose ctx ends
// gets ctx.Err() (wrapped) at once and the others keep waiting. Starting a
// shared fetch needs a free slot (Config.MaxConcurrentFetches and
// MaxFetchesPerHost); without one, Resolve fails at once with ErrBusy.
//
// Every failure wraps one of the package's sentinel errors and is never
// cached (draft section 4.4): the next Resolve fetches again. An invalid
// clientID is ErrInvalidClientID without a cache lookup or a fetch. The
// errors are detailed, for logs; OAuthError gives what to tell the client.
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
	host, err := validateClientID(clientID)
	if err != nil {
		return fail(err)
	}
	doc, found, err := r.cache.Get(ctx, clientID)
	if err != nil {
		return fail(fmt.Errorf("%w on get: %w", ErrCache, err))
	}
	if found {
		if err := r.checkCached(ctx, clientID, doc); err != nil {
			return fail(err)
		}
		return doc, nil
	}
	// The first caller's values (trace IDs) go with the shared fetch; its
	// cancellation does not.
	detached := context.WithoutCancel(ctx)
	f, err := r.flights.join(clientID, host, func(f *flight) (map[string]any, error) {
		return r.fetchAndStore(detached, f, clientID)
	})
	if err != nil {
		return fail(err)
	}
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

// Delete evicts clientID's entry from the cache, for an administrator who
// knows the document changed or was compromised. A shared fetch of
// clientID already running on this Resolver stores nothing when it ends
// (its waiting callers still get what it fetched), and a Resolve after
// Delete starts a fetch of its own rather than join it. Fetches running
// on other nodes are not seen: on a cluster, call Delete on every node, or
// again after FetchTimeout. clientID is not validated, so that an entry
// stored under a spelling this package no longer accepts can be deleted
// too. A cache failure wraps ErrCache.
func (r *Resolver) Delete(ctx context.Context, clientID string) error {
	if r == nil || r.cache == nil {
		return fmt.Errorf("cimd: delete %q: %w: a Resolver must come from NewResolver", clientID, ErrConfig)
	}
	r.flights.detach(clientID)
	if err := r.cache.Delete(ctx, clientID); err != nil {
		return fmt.Errorf("cimd: delete %q: %w: %w", clientID, ErrCache, err)
	}
	return nil
}

// fetchAndStore is the shared fetch f of one client_id.
func (r *Resolver) fetchAndStore(ctx context.Context, f *flight, clientID string) (map[string]any, error) {
	// A flight that ended between the caller's Get and this one, or another
	// node, may have stored the document already. Each cache call gets a
	// FetchTimeout of its own: a hung database must not keep the shared
	// fetch alive for ever.
	getCtx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
	doc, found, err := r.cache.Get(getCtx, clientID)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w on get: %w", ErrCache, err)
	}
	if found {
		evictCtx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
		defer cancel()
		if err := r.checkCached(evictCtx, clientID, doc); err != nil {
			return nil, err
		}
		return doc, nil
	}

	resp, requestTime, responseTime, err := r.fetchOnce(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if doc, err = decodeDocument(resp.Body); err != nil {
		return nil, err
	}
	if err := r.checkDocument(clientID, doc); err != nil {
		return nil, err
	}

	expiresAt := ExpiresAt(resp.Header, requestTime, responseTime, r.bounds)
	err = f.store(func() error {
		putCtx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
		defer cancel()
		return r.cache.Put(putCtx, clientID, doc, expiresAt)
	})
	var ferr fieldErrors
	switch {
	case errors.As(err, &ferr) && len(ferr.On("metadata")) > 0:
		return nil, fmt.Errorf("%w: the cache refuses it: %w", ErrInvalidDocument, err)
	case err != nil:
		return nil, fmt.Errorf("%w on put: %w", ErrCache, err)
	}
	return doc, nil
}

// checkDocument runs the draft's rules and then the caller's on doc.
func (r *Resolver) checkDocument(clientID string, doc map[string]any) error {
	if err := validateDocument(clientID, doc); err != nil {
		return err
	}
	for _, rule := range r.rules {
		if err := rule(clientID, doc); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidDocument, err)
		}
	}
	return nil
}

// checkCached runs checkDocument on a cache hit, and evicts an entry that
// fails it: every node shares the cache, and the node that stored it may
// have had other Rules, or none of this version's checks.
func (r *Resolver) checkCached(ctx context.Context, clientID string, doc map[string]any) error {
	err := r.checkDocument(clientID, doc)
	if err == nil {
		return nil
	}
	if derr := r.cache.Delete(ctx, clientID); derr != nil {
		return fmt.Errorf("cached entry: %w (and evicting it failed: %w: %w)", err, ErrCache, derr)
	}
	return fmt.Errorf("cached entry, evicted: %w", err)
}

// fetchOnce calls the FetchFunc under FetchTimeout and checks what it
// returned: a response, with status 200, a body within the size limit and
// a JSON Content-Type.
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
	if err := checkContentType(resp.Header); err != nil {
		return nil, before, after, err
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

// checkContentType accepts exactly one Content-Type field naming
// application/json or a structured syntax suffix +json (RFC 6839 section
// 3.1) under application/, with any parameters: a document served as
// text/html or text/plain is not one its host published as JSON.
func checkContentType(h http.Header) error {
	values := h.Values("Content-Type")
	if len(values) != 1 {
		return fmt.Errorf("%w: want one Content-Type field, application/json, got %d", ErrInvalidDocument, len(values))
	}
	mt, _, err := mime.ParseMediaType(values[0])
	if err != nil {
		return fmt.Errorf("%w: Content-Type %q: %w", ErrInvalidDocument, values[0], err)
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	if !ok || (sub != "json" && (!strings.HasSuffix(sub, "+json") || sub == "+json")) {
		return fmt.Errorf("%w: Content-Type %q is not application/json or application/*+json", ErrInvalidDocument, values[0])
	}
	return nil
}
