package cimd_test

import (
	"context"
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
		// host.Client() trusts the test server's certificate; in
		// production, pass your own *http.Client, or leave Fetch nil.
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
