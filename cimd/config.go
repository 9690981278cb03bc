package cimd

import (
	"fmt"
	"time"

	"github.com/attesto/gormstore/repo"
)

// DefaultFetchTimeout bounds one shared fetch by default.
const DefaultFetchTimeout = 5 * time.Second

// Config configures a Resolver. Only Cache is required; every zero field
// takes its default.
type Config struct {
	// Cache is where resolved documents are kept and shared:
	// repo.NewGormClientIDMetadataCache for a cluster,
	// repo.NewMemoryClientIDMetadataCache for one node. Required.
	Cache repo.ClientIDMetadataCache
	// Fetch fetches a document on a miss. Default: HTTPFetch(nil). Pass
	// HTTPFetch with your own *http.Client (for a dialer that refuses
	// internal addresses, draft section 6.5), or a FetchFunc of your own.
	Fetch FetchFunc
	// Bounds clamp the lifetime ExpiresAt derives from the response's
	// caching headers. Default: 60 seconds to 24 hours.
	Bounds Bounds
	// Rules are extra checks of a fetched document, run in order after
	// ValidateDocument, which always runs.
	Rules []Rule
	// Now is the clock: the same one the Cache decides expiry with
	// (repo.Config.Now), since expires_at is computed from its readings.
	// Default: time.Now.
	Now func() time.Time
	// FetchTimeout bounds the shared fetch, and separately each cache call
	// the shared fetch makes. It must be below Bounds.Min, so that a
	// document is still fresh when it is stored. Default: 5 seconds.
	FetchTimeout time.Duration
	// MaxDocumentBytes is the largest document accepted (draft section
	// 6.6). Default: DefaultMaxDocumentBytes, 5 KiB.
	MaxDocumentBytes int64
}

// NewResolver returns a Resolver with cfg's settings. A nil cfg, a nil
// Cache, a nil Rule, a negative duration or size, a Bounds.Max below
// Bounds.Min or a FetchTimeout not below Bounds.Min is ErrConfig.
func NewResolver(cfg *Config) (*Resolver, error) {
	bad := func(why string) (*Resolver, error) {
		return nil, fmt.Errorf("cimd: new resolver: %w: %s", ErrConfig, why)
	}
	if cfg == nil || cfg.Cache == nil {
		return bad("Cache is required")
	}
	if cfg.Bounds.Min < 0 || cfg.Bounds.Max < 0 || cfg.FetchTimeout < 0 || cfg.MaxDocumentBytes < 0 {
		return bad("durations and sizes must not be negative")
	}
	r := &Resolver{
		cache:        cfg.Cache,
		fetch:        cfg.Fetch,
		bounds:       cfg.Bounds.withDefaults(),
		rules:        append([]Rule(nil), cfg.Rules...),
		now:          cfg.Now,
		fetchTimeout: cfg.FetchTimeout,
		maxBytes:     cfg.MaxDocumentBytes,
	}
	if r.fetch == nil {
		r.fetch = HTTPFetch(nil)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.fetchTimeout == 0 {
		r.fetchTimeout = DefaultFetchTimeout
	}
	if r.maxBytes == 0 {
		r.maxBytes = DefaultMaxDocumentBytes
	}
	for _, rule := range r.rules {
		if rule == nil {
			return bad("a Rule is nil")
		}
	}
	if r.bounds.Max < r.bounds.Min {
		return bad(fmt.Sprintf("Bounds.Max %v is below Bounds.Min %v", r.bounds.Max, r.bounds.Min))
	}
	if r.fetchTimeout >= r.bounds.Min {
		return bad(fmt.Sprintf("FetchTimeout %v is not below Bounds.Min %v", r.fetchTimeout, r.bounds.Min))
	}
	return r, nil
}
