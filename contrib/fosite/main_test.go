package gormfosite_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/attesto/gormstore/internal/testdb"
)

// TestMain closes the shared admin pool after the tests and fails the run
// if any goroutine is left behind (a pool not closed, a server not
// stopped, a shared fetch still running), but for fosite's JWKS cache.
func TestMain(m *testing.M) {
	code := m.Run()
	testdb.Close()
	if code == 0 {
		// fosite's DefaultJWKSFetcherStrategy (under NewJWKSFetcher) keeps
		// a ristretto cache it offers no way to close.
		if err := goleak.Find(
			goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto.(*Cache[...]).processItems"),
			goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto.(*defaultPolicy[...]).processItems"),
		); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
