package cimd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// DefaultMaxResponseHeaderBytes bounds the response header the default
// transport reads: ample for any document host, where Go's own default
// (10 MiB) is two thousand times the default document limit.
const DefaultMaxResponseHeaderBytes = 32 << 10

// TransportConfig configures NewTransport. The zero value is the safe one.
type TransportConfig struct {
	// AllowLoopback lets the transport connect to loopback addresses
	// (127.0.0.0/8 and ::1), and to no other special-use address, so that
	// a development server on localhost can host client documents. Draft
	// section 6.5 allows this exception; never set it in production, where
	// it lets anyone who can start an authorization request make the
	// server GET any path on its own loopback services. Default: false.
	AllowLoopback bool

	// Test hooks: the resolver the dialer uses and the roots TLS trusts
	// (nil: the system's). Set only by export_test.go.
	resolver *net.Resolver
	rootCAs  *x509.CertPool
}

// NewTransport returns the transport the default fetch uses, a new one
// each call: it refuses to connect to special-use addresses, checking the
// address actually dialled after DNS resolution, so a name that resolves
// to an internal address (or is rebound to one between two lookups) is
// refused as well as an address literal. The addresses refused are those
// of the IANA IPv4 and IPv6 special-purpose registries as the
// code.dny.dev/ssrf library keeps them: loopback, private, link-local,
// shared, documentation, multicast, "this network" (0.0.0.0/8), and every
// IPv6 address outside global unicast 2000::/3, so IPv4-mapped, NAT64 and
// other embedded IPv4 forms too; 6to4 and Teredo within 2000::/3 are
// refused as well. Such a dial fails with an error wrapping
// ErrForbiddenAddress.
//
// It uses no proxy, whatever the environment says: a proxy would make the
// dial to the document's host, out of the guard's sight. Response headers
// are limited to DefaultMaxResponseHeaderBytes.
//
// Callers may change the returned transport, for example its
// TLSClientConfig, and pass it to HTTPFetch in an *http.Client of their
// own. Setting Proxy, DialContext or DialTLSContext removes the guard.
func NewTransport(cfg *TransportConfig) *http.Transport {
	if cfg == nil {
		cfg = &TransportConfig{}
	}
	opts := []ssrf.Option{ssrf.WithAnyPort()} // client_id URLs may name a port
	if cfg.AllowLoopback {
		opts = append(opts,
			ssrf.WithAllowedV4Prefixes(netip.MustParsePrefix("127.0.0.0/8")),
			ssrf.WithAllowedV6Prefixes(netip.MustParsePrefix("::1/128")),
		)
	}
	guard := ssrf.New(opts...)
	dialer := &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  cfg.resolver,
		// Control runs for every address a connection is attempted to,
		// after the name is resolved and before connecting.
		Control: func(network, address string, c syscall.RawConn) error {
			if err := guard.Safe(network, address, c); err != nil {
				return fmt.Errorf("%w: %w", ErrForbiddenAddress, err)
			}
			return nil
		},
	}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: DefaultMaxResponseHeaderBytes,
	}
	if cfg.rootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.rootCAs}
	}
	return t
}
