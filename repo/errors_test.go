package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/sweeper"
)

func TestErrNoDBIsOneValue(t *testing.T) {
	t.Parallel()
	_, err := sweeper.New(nil, nil)
	if !errors.Is(err, repo.ErrNoDB) {
		t.Errorf("sweeper.New(nil) = %v, want it to match repo.ErrNoDB", err)
	}
	if _, err := repo.NewGormPARStore(nil, nil); !errors.Is(err, sweeper.ErrNoDB) {
		t.Errorf("repo.NewGormPARStore(nil) = %v, want it to match sweeper.ErrNoDB", err)
	}
}

// An error that crosses packages carries each package's prefix once: the
// resolver's, then the store's, then the driver's cause.
func TestResolverCacheErrorsPrefixEachPackageOnce(t *testing.T) {
	t.Parallel()
	db := testdb.NewSQLite(t)
	cache, err := repo.NewGormClientIDMetadataCache(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	r, err := cimd.NewResolver(&cimd.Config{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Resolve(context.Background(), "https://client.example/metadata.json")
	if !errors.Is(err, cimd.ErrCache) {
		t.Fatalf("Resolve on a closed database = %v, want ErrCache", err)
	}
	msg := err.Error()
	const want = `cimd: resolve "https://client.example/metadata.json": cache failed on get: repo: cimd get: `
	if !strings.HasPrefix(msg, want) || strings.Count(msg, "repo: ") != 1 || strings.Count(msg, "cimd: ") != 1 {
		t.Errorf("Resolve = %q, want %q and the cause, each prefix once", msg, want)
	}
}
