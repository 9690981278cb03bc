package sweeper_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/attesto/gormstore/internal/testdb"
)

// TestMain fails the run if any test leaves a goroutine behind: a loop
// that Stop did not end, or a pool that was not closed.
func TestMain(m *testing.M) {
	code := m.Run()
	testdb.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
