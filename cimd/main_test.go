package cimd_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/attesto/gormstore/internal/testdb"
)

// TestMain fails the run if a test leaves a goroutine behind, a shared
// fetch included. The shared database pool is closed first, as it lives
// for the whole binary.
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
