package cimd_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// A client's document is fetched once, validated and cached; later
// resolutions are served from the cache.
func ExampleResolver() {
	// The client's document host; in production, the client_id's server.
	var fetches atomic.Int64
	var host *httptest.Server
	host = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, `{"client_id": %q, "client_name": "Example App",
			"redirect_uris": ["https://app.example/callback"],
			"token_endpoint_auth_method": "none"}`, host.URL+r.URL.Path)
	}))
	defer host.Close()

	resolver, err := cimd.NewResolver(&cimd.Config{
		// For a cluster: repo.NewGormClientIDMetadataCache(db, nil).
		Cache: repo.NewMemoryClientIDMetadataCache(nil),
		// host.Client() trusts the test server's certificate, and its
		// transport lets it reach the test server on loopback. In
		// production, leave Fetch nil: the default transport refuses
		// loopback and other internal addresses.
		Fetch: cimd.HTTPFetch(host.Client()),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	clientID := host.URL + "/client.json"
	for range 3 {
		doc, err := resolver.Resolve(ctx, clientID)
		fmt.Println(doc["client_name"], err)
	}
	fmt.Println("fetches:", fetches.Load())

	_, err = resolver.Resolve(ctx, "http://app.example/client.json")
	fmt.Println(errors.Is(err, cimd.ErrInvalidClientID), err)
	// Output:
	// Example App <nil>
	// Example App <nil>
	// Example App <nil>
	// fetches: 1
	// true cimd: resolve "http://app.example/client.json": invalid client_id URL: must use the "https" scheme, in lower case
}

// Resolve's errors are for logs; OAuthError gives what to send the client.
func ExampleOAuthError() {
	resolver, err := cimd.NewResolver(&cimd.Config{Cache: repo.NewMemoryClientIDMetadataCache(nil)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, clientID := range []string{
		"https://App.example/client.json",
		"https://127.0.0.1/client.json", // refused by the default transport
	} {
		_, err := resolver.Resolve(context.Background(), clientID)
		// log.Print(err) keeps the detail; the client gets only this:
		code, description := cimd.OAuthError(err)
		fmt.Printf("%s: %s\n", code, description)
	}
	// Output:
	// invalid_request: client_id must be in normal form (RFC 3986 section 6.2.2): https://app.example/client.json
	// invalid_client: the client metadata document could not be retrieved from the client_id URL
}

// A client of your own keeps the default transport's guard against
// internal addresses when it starts from NewTransport.
func ExampleNewTransport() {
	transport := cimd.NewTransport(nil)
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS13}
	resolver, err := cimd.NewResolver(&cimd.Config{
		Cache: repo.NewMemoryClientIDMetadataCache(nil),
		Fetch: cimd.HTTPFetch(&http.Client{Transport: transport}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = resolver.Resolve(context.Background(), "https://[::1]/client.json")
	fmt.Println(errors.Is(err, cimd.ErrForbiddenAddress))
	// Output: true
}
