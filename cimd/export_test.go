package cimd

import (
	"crypto/x509"
	"net"
)

// WithTestNetwork makes cfg's default fetch resolve names with dns (nil:
// the system's resolver) and trust roots (nil: the system's), so that
// tests reach local servers through the default transport unchanged
// otherwise.
func WithTestNetwork(cfg *Config, dns *net.Resolver, roots *x509.CertPool) *Config {
	cfg.transport = &TransportConfig{resolver: dns, rootCAs: roots}
	return cfg
}

// NewTestTransport is NewTransport with WithTestNetwork's hooks.
func NewTestTransport(cfg TransportConfig, dns *net.Resolver, roots *x509.CertPool) *TransportConfig {
	cfg.resolver, cfg.rootCAs = dns, roots
	return &cfg
}
