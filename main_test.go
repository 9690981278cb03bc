package gormstore_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/attesto/gormstore/internal/testdb"
)

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
