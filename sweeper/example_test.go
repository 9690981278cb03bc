package sweeper_test

import (
	"context"
	"fmt"
	"time"

	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/sweeper"
)

// Every node of a service runs a Sweeper next to its stores, from start-up
// to shutdown; on PostgreSQL the nodes take turns, one pass per interval
// across the cluster.
func Example() {
	ctx := context.Background()
	// In a service: gorm.Open(postgres.Open(dsn), ...) and
	// gormstore.AutoMigrate(ctx, db).
	db, closeDB := exampleDB()
	defer closeDB()

	// A document cached two hours ago for an hour, and a fresh one.
	twoHoursAgo := time.Now().Add(-2 * time.Hour)
	then, _ := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: func() time.Time { return twoHoursAgo }})
	_ = then.Put(ctx, "https://old.example/client.json", map[string]any{"client_name": "Old"}, twoHoursAgo.Add(time.Hour))
	cache, _ := repo.NewGormClientIDMetadataCache(db, nil)
	_ = cache.Put(ctx, "https://app.example/client.json", map[string]any{"client_name": "App"}, time.Now().Add(time.Hour))

	passes := make(chan sweeper.Result, 1)
	s, err := sweeper.New(db, &sweeper.Config{
		// An hour suits most services; short here so that the example
		// sees a pass.
		Interval: 100 * time.Millisecond,
		OnSweep: func(r sweeper.Result) {
			select {
			case passes <- r:
			default:
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	r := <-passes
	fmt.Println(r.Outcome, r.Deleted())

	// At shutdown, before closing the database.
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Stop(stopCtx); err != nil {
		fmt.Println(err)
	}
	_, found, err := cache.Get(ctx, "https://app.example/client.json")
	fmt.Println("live document kept:", found, err)
	// Output:
	// swept map[attesto_client_id_metadata:1 attesto_pushed_authorization_requests:0 dpop_replays:0]
	// live document kept: true <nil>
}

// On a database whose session locks cannot be trusted (CockroachDB), or
// behind a pooler in transaction mode, the nodes take turns through a
// lease row instead; the sweeper creates its table on first use.
func ExampleLease() {
	ctx := context.Background()
	db, closeDB := exampleDB()
	defer closeDB()
	hourAgo := time.Now().Add(-time.Hour)
	then, _ := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: func() time.Time { return hourAgo }})
	_ = then.Put(ctx, "https://old.example/client.json", map[string]any{"client_name": "Old"}, hourAgo.Add(time.Minute))

	s, err := sweeper.New(db, &sweeper.Config{
		Interval: time.Hour,
		// Holder names this node in the lease table; TTL bounds how long
		// a node that dies holding the lease delays the next pass.
		Lease: &sweeper.Lease{Holder: "node-1", TTL: 30 * time.Second},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	deleted, err := s.SweepNow(ctx)
	fmt.Println(deleted[models.ClientIDMetadataTable], err)

	var holder string
	_ = db.Raw("SELECT holder FROM " + sweeper.DefaultLeaseTable).Scan(&holder).Error
	fmt.Println("last held by", holder)
	// Output:
	// 1 <nil>
	// last held by node-1
}
