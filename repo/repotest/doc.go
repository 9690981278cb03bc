// Package repotest holds the conformance suites of the repo interfaces:
// every implementation of repo.ClientIDMetadataCache, repo.PARStore,
// repo.ClientBoundPARStore and repo.ReplayStore, ours or yours, must pass
// them.
//
// Call them from a test of the store's package with a factory that returns
// a new, empty store on the clock it is given (see the package Example).
// Options describe the store, such as the longest key its table holds; nil takes the defaults.
//
// The suites move that clock themselves, so it never sleeps; its times are
// whole seconds, which tables with second precision also hold.
package repotest
