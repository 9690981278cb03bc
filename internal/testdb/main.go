package testdb

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs a package's tests, closes the shared admin pool, and fails the
// run if any goroutine is left behind (a pool not closed, a loop not
// stopped, a shared fetch still running). Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Close()
	if mysqlAdmin != nil {
		mysqlAdmin.Close()
	}
	if code == 0 {
		// GORM's prepared-statement cache (which dbresolver sets up for its
		// replicas) starts an expiry loop that nothing can stop.
		if err := goleak.Find(goleak.IgnoreTopFunction("gorm.io/gorm/internal/lru.NewLRU[...].func1")); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
