package models_test

import (
	"testing"

	"github.com/attesto/gormstore/internal/testdb"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) { testdb.Main(m) }
