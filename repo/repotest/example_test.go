package repotest_test

import (
	"testing"
	"time"

	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// A store of your own passes the suites when a test of its package runs
// them with a factory that returns a new, empty store on the suite's
// clock. The memory stores stand in for yours here; in your package the
// function is a Test function, say TestMyStores(t *testing.T).
func Example() {
	testMyStores := func(t *testing.T) {
		repotest.RunClientIDMetadataCache(t, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
			return repo.NewMemoryClientIDMetadataCache(&repo.Config{Now: now})
		}, nil)
		newPARs := func(t *testing.T, now func() time.Time) *repo.MemoryPARStore {
			return repo.NewMemoryPARStore(&repo.Config{Now: now})
		}
		repotest.RunPARStore(t, func(t *testing.T, now func() time.Time) repo.PARStore { return newPARs(t, now) }, nil)
		repotest.RunClientBoundPARStore(t, func(t *testing.T, now func() time.Time) repo.ClientBoundPARStore { return newPARs(t, now) })
		repotest.RunReplayStore(t, func(t *testing.T, now func() time.Time) repo.ReplayStore {
			return repo.NewMemoryReplayStore(&repo.Config{Now: now})
		}, nil)
	}
	_ = testMyStores
}
