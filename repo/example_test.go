package repo_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/attesto/gormstore/repo"
)

// A pushed request resolves until it is taken, and is taken once. Its
// params must hold client_id as one string: a form's values copied as
// they are hold arrays (repo.ParamsFromForm makes the params).
func ExamplePARStore() {
	ctx := context.Background()
	var pars repo.PARStore = repo.NewMemoryPARStore(nil) // or repo.NewGormPARStore(db, nil)

	uri := "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"
	err := pars.Put(ctx, uri, map[string]any{
		"client_id":     "https://app.example.com/client.json",
		"scope":         "openid",
		"client_secret": "never stored",
	}, time.Minute)
	fmt.Println("put:", err)

	err = pars.Put(ctx, uri, map[string]any{"client_id": "https://app.example.com/client.json"}, time.Minute)
	fmt.Println("duplicate:", errors.Is(err, repo.ErrDuplicate))

	err = pars.Put(ctx, repo.NewRequestURI(), map[string]any{"client_id": []string{"https://app.example.com/client.json"}}, time.Minute)
	fmt.Println(err)

	params, found, _ := pars.Fetch(ctx, uri)
	fmt.Println("fetch:", found, params["scope"], params["client_secret"])

	_, found, _ = pars.Take(ctx, uri)
	fmt.Println("take:", found)
	_, found, _ = pars.Take(ctx, uri)
	fmt.Println("take again:", found)
	// Output:
	// put: <nil>
	// duplicate: true
	// repo: par put: params: client_id: must be a non-empty string (RFC 6749 section 4.1.1), got an array
	// fetch: true openid <nil>
	// take: true
	// take again: false
}

// A missing expiry is a validation error, never an entry that lives forever.
func ExampleClientIDMetadataCache() {
	ctx := context.Background()
	var cache repo.ClientIDMetadataCache = repo.NewMemoryClientIDMetadataCache(nil)

	url := "https://app.example.com/client.json"
	err := cache.Put(ctx, url, map[string]any{"client_id": url}, time.Time{})
	fmt.Println(err)

	err = cache.Put(ctx, url, map[string]any{"client_id": url, "client_name": "App"}, time.Now().Add(time.Hour))
	fmt.Println(err)
	metadata, found, err := cache.Get(ctx, url)
	fmt.Println(found, metadata["client_name"], err)
	// Output:
	// repo: cimd put: expires_at: can't be blank
	// <nil>
	// true App <nil>
}
