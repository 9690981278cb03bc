package repo_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// A hit is served from memory; a write goes to the shared cache and drops
// the local entry.
func ExampleNearCache() {
	ctx := context.Background()
	shared := repo.NewMemoryClientIDMetadataCache(nil) // or repo.NewGormClientIDMetadataCache(db, nil)
	near, err := repo.NewNearCache(shared, nil)
	if err != nil {
		log.Fatal(err)
	}

	url := "https://app.example.com/client.json"
	_ = near.Put(ctx, url, map[string]any{"client_id": url, "client_name": "App"}, time.Now().Add(time.Hour))
	for range 3 {
		doc, found, err := near.Get(ctx, url)
		fmt.Println(found, doc["client_name"], err)
	}
	_ = near.Delete(ctx, url)
	_, found, _ := near.Get(ctx, url)
	fmt.Println("after Delete:", found)

	st := near.Stats()
	fmt.Println("hits:", st.Hits, "reads of the shared cache:", st.Misses)
	// Output:
	// true App <nil>
	// true App <nil>
	// true App <nil>
	// after Delete: false
	// hits: 2 reads of the shared cache: 2
}

// On PostgreSQL, each node puts a near cache with a listener in front of
// the shared GORM cache, and resolves through it: the resolver still
// checks every document it serves. Writes on any node drop the entry on
// every node within milliseconds.
func ExampleNearCache_postgreSQL() {
	ctx := context.Background()
	dsn := "postgres://app@db.internal:5432/oauth"
	var db *gorm.DB // gorm.Open(postgres.Open(dsn), &gorm.Config{})

	shared, err := repo.NewGormClientIDMetadataCache(db, nil)
	if err != nil {
		log.Fatal(err)
	}
	near, err := repo.NewNearCache(shared, &repo.NearCacheConfig{
		// The listener's own connection, not one of the pool's.
		Listen: func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) },
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := near.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer near.Stop(ctx)

	resolver, err := cimd.NewResolver(&cimd.Config{Cache: near})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = resolver.Resolve(ctx, "https://app.example.com/client.json")
}
