package cimd_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// A resolved document read through its typed view. As a Rule,
// ParseClientMetadata also keeps documents with wrongly typed members out
// of the cache.
func ExampleParseClientMetadata() {
	var host *httptest.Server
	host = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/broken.json" {
			fmt.Fprintf(w, `{"client_id": %q, "redirect_uris": ["https://app.example/callback", 7]}`, host.URL+r.URL.Path)
			return
		}
		fmt.Fprintf(w, `{"client_id": %q, "client_name": "Example App",
			"redirect_uris": ["https://app.example/callback"],
			"scope": "openid profile", "tos_uri": "https://app.example/tos"}`, host.URL+r.URL.Path)
	}))
	defer host.Close()

	resolver, err := cimd.NewResolver(&cimd.Config{
		Cache: repo.NewMemoryClientIDMetadataCache(nil),
		Fetch: cimd.HTTPFetch(host.Client()), // production: leave nil
		Rules: []cimd.Rule{func(_ string, doc map[string]any) error {
			_, err := cimd.ParseClientMetadata(doc)
			return err
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	doc, err := resolver.Resolve(ctx, host.URL+"/client.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := cimd.ParseClientMetadata(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(client.ClientName, client.RedirectURIs, client.Scopes())
	fmt.Println("grant_types:", client.GrantTypesOrDefault(), "response_types:", client.ResponseTypesOrDefault())
	fmt.Println("token_endpoint_auth_method:", client.TokenEndpointAuthMethodOrDefault())
	fmt.Println("tos_uri:", client.Extra["tos_uri"])

	_, err = resolver.Resolve(ctx, host.URL+"/broken.json")
	code, description := cimd.OAuthError(err)
	fmt.Printf("%s: %s\n", code, description)
	// Output:
	// Example App [https://app.example/callback] [openid profile]
	// grant_types: [authorization_code] response_types: [code]
	// token_endpoint_auth_method: none
	// tos_uri: https://app.example/tos
	// invalid_client: the client metadata document at the client_id URL is not valid for this server
}
