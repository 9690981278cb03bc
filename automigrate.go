package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/models"
)

// migrateLockKey is the PostgreSQL advisory lock that serialises
// AutoMigrate across nodes; any fixed value works as long as every node
// agrees on it. These are the first eight bytes of SHA-256("gormstore
// AutoMigrate").
const migrateLockKey int64 = 0x401249bc6fbae74c

// AutoMigrate creates the stores' tables and indexes where they are
// missing. It never alters or drops anything, so it is safe on tables that
// attesto_phoenix's own migration created (varchar(255) keys,
// timestamp(0) columns), and a run that finds everything in place issues
// no DDL.
//
// On PostgreSQL the run holds a transaction-scoped advisory lock, so any
// number of nodes starting at once migrate one after another and all
// succeed. db may be a transaction; it is not changed.
func AutoMigrate(ctx context.Context, db *gorm.DB) error {
	if db == nil {
		return errors.New("gormstore: AutoMigrate: nil *gorm.DB")
	}
	err := db.WithContext(ctx).Session(&gorm.Session{NewDB: true}).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		for _, model := range models.All() {
			if err := createMissing(tx, model); err != nil {
				return err
			}
		}
		return nil
		// Read committed, whatever the server's default: a node that waited
		// for the lock must see the tables the holder created, and a
		// snapshot taken at the lock statement (repeatable read) would not.
		// Inside a caller's transaction GORM uses a savepoint, and the
		// caller's isolation applies.
	}, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("gormstore: AutoMigrate: %w", err)
	}
	return nil
}

// createMissing creates model's table, with its indexes, or the indexes the
// table lacks. GORM's own AutoMigrate would also alter columns whose type
// differs, which would rewrite attesto_phoenix's tables.
func createMissing(tx *gorm.DB, model any) error {
	m := tx.Migrator()
	if !m.HasTable(model) {
		if err := m.CreateTable(model); err != nil {
			return fmt.Errorf("create table for %T: %w", model, err)
		}
		return nil
	}
	stmt := &gorm.Statement{DB: tx}
	if err := stmt.Parse(model); err != nil {
		return fmt.Errorf("parse %T: %w", model, err)
	}
	for _, idx := range stmt.Schema.ParseIndexes() {
		if m.HasIndex(model, idx.Name) {
			continue
		}
		if err := m.CreateIndex(model, idx.Name); err != nil {
			return fmt.Errorf("create index %s: %w", idx.Name, err)
		}
	}
	return nil
}
