package gormstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/migrate"
)

// AutoMigrate creates the stores' tables and indexes where they are
// missing. It never alters or drops anything, so it is safe on tables that
// attesto_phoenix's own migration created (varchar(255) keys,
// timestamp(0) columns), and a run that finds everything in place issues
// no DDL.
//
// On PostgreSQL the run holds a transaction-scoped advisory lock, so any
// number of nodes starting at once migrate one after another and all
// succeed. On SQLite the run is one BEGIN IMMEDIATE transaction, which
// takes the database's write lock before it looks at the schema, so
// processes sharing a file migrate one after another too. On MariaDB and
// MySQL, whose DDL is not transactional, a named lock (GET_LOCK) held on
// one connection serialises the nodes, and the tables come from
// MySQLMigrations (varbinary keys, datetime(6), json); there db must not
// be a transaction, since every CREATE would commit it. Other databases
// are refused. db may be a transaction elsewhere; it is not changed. A nil
// db is repo.ErrNoDB.
func AutoMigrate(ctx context.Context, db *gorm.DB) error {
	if err := migrate.Run(ctx, db); err != nil {
		return fmt.Errorf("gormstore: AutoMigrate: %w", err)
	}
	return nil
}
