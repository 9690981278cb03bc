package cimd_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// rootsOf trusts the test server's certificate, which names 127.0.0.1,
// ::1 and example.com.
func rootsOf(s *httptest.Server) *x509.CertPool {
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())
	return roots
}

func portOf(t *testing.T, s *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// testNames are the names the tests' DNS server knows.
var testNames = map[string]string{
	"loopback.test": "127.0.0.1",
	"mapped.test":   "::ffff:127.0.0.1",
	"private.test":  "10.0.0.1",
	"metadata.test": "169.254.169.254",
	"ula.test":      "fd00::1",
	"example.com":   "127.0.0.1",
}

// With Fetch left nil, the resolver refuses to connect to special-use
// addresses, whether the client_id names them or a name resolves to them,
// and nothing reaches the host or the cache. The trusted roots and the
// DNS server are the test's; the transport is the default one.
func TestDefaultFetchRefusesSpecialUseAddresses(t *testing.T) {
	t.Parallel()
	host := newDocHost(t, serveDocument(t, "Cache-Control: max-age=3600"))
	port := portOf(t, host.Server)
	dns := newDNSServer(t, testNames)
	cache := repo.NewMemoryClientIDMetadataCache(nil)
	r, err := cimd.NewResolver(cimd.WithTestNetwork(&cimd.Config{Cache: cache}, dns.resolver(), rootsOf(host.Server)))
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{
		"https://127.0.0.1:" + port + "/c",
		"https://127.0.0.1/c",
		"https://127.1.2.3:" + port + "/c",
		"https://localhost:" + port + "/c",
		"https://0.0.0.0:" + port + "/c",
		"https://[::1]:" + port + "/c",
		"https://[::ffff:127.0.0.1]:" + port + "/c",
		"https://[::]:" + port + "/c",
		"https://[64:ff9b::7f00:1]:" + port + "/c", // NAT64 of 127.0.0.1
		"https://[2002:7f00:1::]:" + port + "/c",   // 6to4 of 127.0.0.1
		"https://loopback.test:" + port + "/c",
		"https://mapped.test:" + port + "/c",
		"https://10.0.0.1:" + port + "/c",
		"https://private.test:" + port + "/c",
		"https://169.254.169.254/latest/meta-data/",
		"https://metadata.test/latest/meta-data/",
		"https://[fd00::1]/c",
		"https://ula.test/c",
		"https://192.168.1.1/c",
		"https://100.64.0.1/c",
	}
	for _, id := range ids {
		doc, err := r.Resolve(context.Background(), id)
		if !errors.Is(err, cimd.ErrFetch) || !errors.Is(err, cimd.ErrForbiddenAddress) || doc != nil {
			t.Errorf("Resolve(%s) = %v, %v; want ErrFetch and ErrForbiddenAddress", id, doc, err)
		}
		if _, found, err := cache.Get(context.Background(), id); found || err != nil {
			t.Errorf("%s: cached %v, %v; want nothing", id, found, err)
		}
	}
	if n := host.requests.Load(); n != 0 {
		t.Errorf("the host got %d requests, want none", n)
	}
	if dns.queries.Load() == 0 {
		t.Error("no name was resolved through the test's DNS server")
	}
}

// AllowLoopback opens loopback, by address or by name, and nothing else:
// other special-use addresses stay refused.
func TestAllowLoopbackAllowsLoopbackOnly(t *testing.T) {
	t.Parallel()
	host := newDocHost(t, serveDocument(t, "Cache-Control: max-age=3600"))
	port := portOf(t, host.Server)
	dns := newDNSServer(t, testNames)
	cache := repo.NewMemoryClientIDMetadataCache(nil)
	r, err := cimd.NewResolver(cimd.WithTestNetwork(&cimd.Config{Cache: cache, AllowLoopback: true}, dns.resolver(), rootsOf(host.Server)))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"https://127.0.0.1:" + port + "/client.json",
		"https://example.com:" + port + "/client.json", // resolves to 127.0.0.1
	} {
		doc, err := r.Resolve(context.Background(), id)
		if err != nil || doc["client_id"] != id {
			t.Errorf("Resolve(%s) = %v, %v; want the document", id, doc, err)
		}
	}
	if n := host.requests.Load(); n != 2 {
		t.Errorf("the host got %d requests, want 2", n)
	}
	for _, id := range []string{
		"https://0.0.0.0:" + port + "/c",
		"https://10.0.0.1:" + port + "/c",
		"https://private.test:" + port + "/c",
		"https://169.254.169.254/c",
		"https://[fd00::1]/c",
	} {
		if _, err := r.Resolve(context.Background(), id); !errors.Is(err, cimd.ErrForbiddenAddress) {
			t.Errorf("Resolve(%s) = %v, want ErrForbiddenAddress", id, err)
		}
	}
}

// The default transport takes no proxy from the environment: a guard on
// the dialer would only ever see the proxy's address.
func TestNewTransportUsesNoProxy(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]*cimd.TransportConfig{"nil": nil, "loopback": {AllowLoopback: true}} {
		tr := cimd.NewTransport(cfg)
		if tr.Proxy != nil {
			t.Errorf("%s: NewTransport has a Proxy function", name)
		}
		if tr.MaxResponseHeaderBytes != cimd.DefaultMaxResponseHeaderBytes {
			t.Errorf("%s: MaxResponseHeaderBytes = %d, want %d", name, tr.MaxResponseHeaderBytes, cimd.DefaultMaxResponseHeaderBytes)
		}
	}
}

// Response headers past DefaultMaxResponseHeaderBytes fail the fetch;
// below it they are read.
func TestDefaultTransportBoundsResponseHeaders(t *testing.T) {
	t.Parallel()
	host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
		size := cimd.DefaultMaxResponseHeaderBytes / 2
		if r.URL.Path == "/large" {
			size = cimd.DefaultMaxResponseHeaderBytes + 1
		}
		w.Header().Set("X-Padding", strings.Repeat("x", size))
		serveDocument(t)(w, r)
	})
	tr := cimd.NewTransport(cimd.NewTestTransport(cimd.TransportConfig{AllowLoopback: true}, nil, rootsOf(host.Server)))
	t.Cleanup(tr.CloseIdleConnections)
	fetch := cimd.HTTPFetch(&http.Client{Transport: tr})
	resp, err := fetch(context.Background(), cimd.FetchRequest{ClientID: host.clientID("/small")})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("fetch with %d header bytes = %v, %v; want 200", cimd.DefaultMaxResponseHeaderBytes/2, resp, err)
	}
	if _, err := fetch(context.Background(), cimd.FetchRequest{ClientID: host.clientID("/large")}); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("fetch with over %d header bytes = %v, want an error about the header", cimd.DefaultMaxResponseHeaderBytes, err)
	}
}

// A caller's own client keeps its own transport: HTTPFetch adds no guard
// to it, as its documentation says.
func TestHTTPFetchKeepsTheCallersTransport(t *testing.T) {
	t.Parallel()
	host := newDocHost(t, serveDocument(t))
	resp, err := cimd.HTTPFetch(host.Client())(context.Background(), cimd.FetchRequest{ClientID: host.clientID("/c")})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTPFetch(host.Client()) = %v, %v; want 200 from the loopback host", resp, err)
	}
}
