package gormstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/repo"
)

// The quick start: migrate at start-up, cache a client's metadata
// document, push, resolve and consume an authorization request, and turn
// away a replayed DPoP proof.
func Example() {
	ctx := context.Background()
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	// GORM's default logger prints slow queries to stdout; keep it quiet.
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		log.Fatal(err)
	}
	defer sqlDB.Close()

	// At start-up, on every node: creates what is missing, serialised
	// across nodes.
	if err := gormstore.AutoMigrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	cache, err := repo.NewGormClientIDMetadataCache(db, nil) // nil *repo.Config: defaults
	if err != nil {
		log.Fatal(err)
	}
	pars, err := repo.NewGormPARStore(db, nil)
	if err != nil {
		log.Fatal(err)
	}
	replays, err := repo.NewGormReplayStore(db, nil)
	if err != nil {
		log.Fatal(err)
	}

	// CIMD: after fetching and validating the document at clientID. (The
	// random part keeps this example's entry apart from anyone else's.)
	clientID := "https://app.example.com/" + rand.Text() + "/client.json"
	defer cache.Delete(ctx, clientID)
	err = cache.Put(ctx, clientID, map[string]any{
		"client_id":     clientID,
		"client_name":   "Example App",
		"redirect_uris": []any{"https://app.example.com/callback"},
	}, time.Now().Add(time.Hour))
	fmt.Println("cimd put:", err)
	metadata, found, err := cache.Get(ctx, clientID)
	fmt.Println("cimd get:", found, metadata["client_name"], err)

	// PAR endpoint: store the validated request, hand back the request_uri.
	requestURI := repo.NewRequestURI()
	err = pars.Put(ctx, requestURI, map[string]any{
		"client_id":     clientID,
		"response_type": "code",
		"scope":         "openid",
		"client_secret": "dropped before storage",
	}, 60*time.Second)
	fmt.Println("par put:", err)

	// /authorize: resolve without consuming (login and consent re-enter) ...
	params, found, err := pars.Fetch(ctx, requestURI)
	fmt.Println("par fetch:", found, params["scope"], params["client_secret"], err)
	// ... and consume it exactly once when the request is completed.
	params, found, err = pars.Take(ctx, requestURI)
	fmt.Println("par take:", found, params["scope"], err)
	_, found, err = pars.Take(ctx, requestURI)
	fmt.Println("par take again:", found, err)

	// DPoP: record each proof's jti until the proof expires; a second
	// presentation, on any node, is a replay.
	jti := rand.Text()
	fresh, err := replays.CheckAndRecord(ctx, jti, time.Now().Add(time.Minute))
	fmt.Println("dpop proof:", fresh, err)
	fresh, err = replays.CheckAndRecord(ctx, jti, time.Now().Add(time.Minute))
	fmt.Println("dpop proof again:", fresh, err)
	// Output:
	// cimd put: <nil>
	// cimd get: true Example App <nil>
	// par put: <nil>
	// par fetch: true openid <nil> <nil>
	// par take: true openid <nil>
	// par take again: false <nil>
	// dpop proof: true <nil>
	// dpop proof again: false <nil>
}
