package gormstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/repo"
)

// The same stores on an embedded SQLite file: a single node, development,
// or the tests of your own service.
func Example_sqlite() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gormstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// busy_timeout: a writer waits for another instead of failing;
	// WAL: reads go on while one write runs.
	dsn := "file:" + filepath.Join(dir, "gormstore.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		log.Fatal(err)
	}
	defer sqlDB.Close()

	if err := gormstore.AutoMigrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	pars, err := repo.NewGormPARStore(db, nil)
	if err != nil {
		log.Fatal(err)
	}
	requestURI := repo.NewRequestURI()
	err = pars.Put(ctx, requestURI, map[string]any{"client_id": "https://app.example.com/client.json", "scope": "openid"}, time.Minute)
	fmt.Println("par put:", err)
	params, found, err := pars.Take(ctx, requestURI)
	fmt.Println("par take:", found, params["scope"], err)
	_, found, err = pars.Take(ctx, requestURI)
	fmt.Println("par take again:", found, err)
	// Output:
	// par put: <nil>
	// par take: true openid <nil>
	// par take again: false <nil>
}
