package gormfosite_test

import (
	"context"
	"testing"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/testdb"
)

// newSchema creates a schema for t holding the stores' tables as
// gormstore.AutoMigrate creates them, dropped when t ends, and returns its
// name. Pools on it come from testdb.Open; two stand for two nodes.
func newSchema(t testing.TB) string {
	t.Helper()
	schema := testdb.Schema(t)
	if err := gormstore.AutoMigrate(context.Background(), testdb.Open(t, schema, 1)); err != nil {
		t.Fatalf("AutoMigrate: %v", err)
	}
	return schema
}
