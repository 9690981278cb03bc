// Package repotest is the conformance suite of the repo interfaces: every
// implementation of repo.ClientIDMetadataCache and repo.PARStore, ours or
// yours, must pass it.
//
// Call it from a test with a factory that returns a new, empty store on the
// clock it is given:
//
//	func TestMyCache(t *testing.T) {
//		repotest.RunClientIDMetadataCache(t, func(t *testing.T, now func() time.Time) repo.ClientIDMetadataCache {
//			return mycache.New(now)
//		})
//	}
//
// The suite moves that clock itself, so it never sleeps; its times are
// whole seconds, which tables with second precision also hold.
package repotest
