package gormfosite

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/ory/fosite"

	"github.com/attesto/gormstore/cimd"
)

// Defaults of JWKSFetcherConfig.
const (
	// DefaultJWKSMaxBytes bounds a fetched key set by default: room for
	// dozens of RSA keys.
	DefaultJWKSMaxBytes = 64 << 10
	// DefaultJWKSTimeout bounds one fetch by default.
	DefaultJWKSTimeout = 5 * time.Second
)

// ErrJWKSTooLarge is the fetch error of a key set larger than
// JWKSFetcherConfig.MaxBytes.
var ErrJWKSTooLarge = errors.New("key set too large")

// JWKSFetcherConfig configures NewJWKSFetcher. The zero value is the safe
// one.
type JWKSFetcherConfig struct {
	// Client fetches the key sets; redirects are never followed, and
	// bodies are cut at MaxBytes. Default: a client on cimd.NewTransport's
	// guarded transport, which refuses loopback, private and other
	// special-use addresses at dial time and uses no proxy, with Timeout
	// DefaultJWKSTimeout. A client of your own keeps its Transport and
	// Timeout, and with them what the guard would do (start from
	// cimd.NewTransport to keep it).
	Client *http.Client
	// MaxBytes is the largest key set accepted. Default:
	// DefaultJWKSMaxBytes.
	MaxBytes int64
	// TTL is how long a fetched key set is cached (fosite fetches again,
	// past the cache, when no key matches an assertion's kid). Default:
	// fosite's, one hour.
	TTL time.Duration
}

// NewJWKSFetcher returns a fosite.JWKSFetcherStrategy for
// fosite.Config.JWKSFetcherStrategy that fetches jwks_uri key sets the way
// cimd fetches documents: through the guarded transport by default, without
// following redirects, without retries, and with a bounded body. fosite's
// own default fetches any URL, internal ones included, follows redirects
// and retries; with client documents, a jwks_uri is anyone's choice. It is
// fosite's DefaultJWKSFetcherStrategy (and its in-memory cache, whose
// goroutines live as long as the process) on that client.
func NewJWKSFetcher(cfg *JWKSFetcherConfig) fosite.JWKSFetcherStrategy {
	if cfg == nil {
		cfg = &JWKSFetcherConfig{}
	}
	hc := new(http.Client)
	if cfg.Client != nil {
		*hc = *cfg.Client
	} else {
		hc.Transport = cimd.NewTransport(nil)
		hc.Timeout = DefaultJWKSTimeout
	}
	limit := cfg.MaxBytes
	if limit <= 0 {
		limit = DefaultJWKSMaxBytes
	}
	hc.Transport = limitedBodies{next: hc.Transport, limit: limit}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	rc := retryablehttp.NewClient()
	rc.HTTPClient = hc
	rc.RetryMax = 0
	rc.Logger = nil
	opts := []func(*fosite.DefaultJWKSFetcherStrategy){fosite.JWKSFetcherWithHTTPClient(rc)}
	if cfg.TTL > 0 {
		opts = append(opts, fosite.JKWKSFetcherWithDefaultTTL(cfg.TTL))
	}
	return fosite.NewDefaultJWKSFetcherStrategy(opts...)
}

// limitedBodies cuts every response body at limit bytes: reading past it
// fails with ErrJWKSTooLarge, whatever Content-Length says.
type limitedBodies struct {
	next  http.RoundTripper
	limit int64
}

func (l limitedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	next := l.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{body: resp.Body, left: l.limit}
	return resp, nil
}

type limitedBody struct {
	body io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("%w: more than the limit", ErrJWKSTooLarge)
	}
	// Read one byte past the limit to tell a body of exactly limit bytes
	// from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, fmt.Errorf("%w: more than the limit", ErrJWKSTooLarge)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }
