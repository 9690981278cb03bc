package cimd

import (
	"cmp"
	"fmt"
	"net/http"
	"time"
)

// Defaults of Config.
const (
	// DefaultFetchTimeout bounds one shared fetch by default.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxConcurrentFetches is how many fetches a Resolver runs at
	// once by default, all hosts together.
	DefaultMaxConcurrentFetches = 256
	// DefaultMaxFetchesPerHost is how many fetches a Resolver runs at once
	// by default to one host name, so that one host's slow URLs cannot
	// take the whole of MaxConcurrentFetches.
	DefaultMaxFetchesPerHost = 16
)

// Config configures a Resolver. Only Cache is required; every zero field
// takes its default, and the defaults are the safe settings.
type Config struct {
	// Cache is where resolved documents are kept and shared:
	// repo.NewGormClientIDMetadataCache for a cluster,
	// repo.NewMemoryClientIDMetadataCache for one node. Required.
	Cache Cache
	// Fetch fetches a document on a miss. Default: HTTPFetch(nil), whose
	// transport refuses special-use addresses (draft section 6.5), uses no
	// proxy and bounds response headers (see NewTransport). A FetchFunc of
	// your own, or HTTPFetch with your own *http.Client, owns those
	// protections instead.
	Fetch FetchFunc
	// AllowLoopback lets the default fetch connect to loopback addresses,
	// and to no other special-use address, for a document host on
	// localhost during development (see TransportConfig.AllowLoopback).
	// Never set it in production. It applies to the default fetch only:
	// with Fetch set it is ErrConfig; use NewTransport instead. Default:
	// false.
	AllowLoopback bool
	// Bounds clamp the lifetime ExpiresAt derives from the response's
	// caching headers. Default: 60 seconds to 24 hours.
	Bounds Bounds
	// Rules are extra checks of a document, run in order after
	// ValidateDocument, which always runs: on every fetched document and on
	// every cache hit, since another node, with other Rules, may have
	// stored it.
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
	// MaxConcurrentFetches is how many shared fetches may run at once on
	// this Resolver. When that many run, a Resolve that needs another
	// fails at once with ErrBusy rather than queue: a fetch keeps running
	// (up to FetchTimeout) after its callers give up, so queueing would let
	// requests pile up work nobody waits for. Default:
	// DefaultMaxConcurrentFetches, 256.
	MaxConcurrentFetches int
	// MaxFetchesPerHost is how many of those may be for one host name
	// (ports not distinguished); beyond it, ErrBusy as well. Default:
	// DefaultMaxFetchesPerHost, 16.
	MaxFetchesPerHost int

	// transport is a test hook for the default fetch's transport
	// (export_test.go).
	transport *TransportConfig
}

// NewResolver returns a Resolver with cfg's settings. A nil cfg, a nil
// Cache, a nil Rule, a negative duration, size or limit, a Bounds.Max
// below Bounds.Min, a FetchTimeout not below Bounds.Min, or AllowLoopback
// with a Fetch of your own is ErrConfig.
func NewResolver(cfg *Config) (*Resolver, error) {
	bad := func(why string) (*Resolver, error) {
		return nil, fmt.Errorf("cimd: new resolver: %w: %s", ErrConfig, why)
	}
	if cfg == nil || cfg.Cache == nil {
		return bad("Cache is required")
	}
	if cfg.Bounds.Min < 0 || cfg.Bounds.Max < 0 || cfg.FetchTimeout < 0 || cfg.MaxDocumentBytes < 0 ||
		cfg.MaxConcurrentFetches < 0 || cfg.MaxFetchesPerHost < 0 {
		return bad("durations, sizes and limits must not be negative")
	}
	if cfg.AllowLoopback && cfg.Fetch != nil {
		return bad("AllowLoopback applies to the default fetch only; with a Fetch of your own, build its client on NewTransport")
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
	r.flights.maxTotal = cmp.Or(cfg.MaxConcurrentFetches, DefaultMaxConcurrentFetches)
	r.flights.maxPerHost = cmp.Or(cfg.MaxFetchesPerHost, DefaultMaxFetchesPerHost)
	if r.fetch == nil {
		tc := TransportConfig{AllowLoopback: cfg.AllowLoopback}
		if cfg.transport != nil {
			tc.resolver, tc.rootCAs = cfg.transport.resolver, cfg.transport.rootCAs
		}
		r.fetch = HTTPFetch(&http.Client{Transport: NewTransport(&tc)})
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
