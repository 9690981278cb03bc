package gormfosite_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain closes the shared admin pool after the tests and fails the run
// if any goroutine is left behind (a pool not closed, a server not
// stopped, a shared fetch still running).
func TestMain(m *testing.M) {
	code := m.Run()
	closeAdminPool()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
