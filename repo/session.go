package repo

import (
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
)

// storeDB is a store's own GORM session, derived from the caller's db and
// leaving db unchanged: Session copies the caller's Config before changing
// it, and the statement it shares with db is never written to.
//
// NewDB makes every statement the store starts (Raw) a fresh one that
// keeps only db's connection (the pool, or the caller's transaction) and
// context, and none of the caller's pending clauses (a stray Where, a
// Model). Each store call is one statement, so GORM's default transaction
// around writes would only add BEGIN and COMMIT round trips; a caller's
// transaction, if db is one, is kept.
type storeDB struct {
	gorm   *gorm.DB
	sqlite bool
}

// session derives the store's session from db, or fails on a database the
// stores have no statements for.
func session(db *gorm.DB) (storeDB, error) {
	s := storeDB{gorm: db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true})}
	switch dialect.Of(db) {
	case dialect.Postgres:
	case dialect.SQLite:
		s.sqlite = true
	default:
		return storeDB{}, fmt.Errorf("%w: %q", ErrUnsupportedDialect, db.Dialector.Name())
	}
	return s, nil
}

// pick returns the statement for the session's database: pg on
// PostgreSQL, sqlite on SQLite. Both are constants of statements.go.
func (s storeDB) pick(pg, sqlite string) string {
	if s.sqlite {
		return sqlite
	}
	return pg
}

// time is t as the session's database compares it.
func (s storeDB) time(t time.Time) any {
	if s.sqlite {
		return dialect.SQLiteTime(t)
	}
	return t.UTC()
}

// Raw starts one of the store's statements: a fresh GORM statement on the
// session's connection holding query, already in the database's form
// ($1, $2, ... on PostgreSQL), and its arguments, ready for readDocument or write. It is
// gorm.DB.Raw without the work Raw repeats on every call, and which
// stood out in CPU profiles of the stores: copying the text into the
// statement a byte at a time, through an interface, to rewrite each ? as
// $n. Every
// query is one of the constants in statements.go; the method has Raw's
// name so that the module's SQL check (internal/sqlcheck) holds each call
// to the same rule as gorm.DB.Raw.
func (s storeDB) Raw(query string, args ...any) *gorm.DB {
	// Raw with no text is the cheapest way to a fresh statement: NewDB's
	// getInstance, nothing to build.
	tx := s.gorm.Raw("")
	tx.Statement.SQL.WriteString(query)
	tx.Statement.Vars = append(tx.Statement.Vars, args...)
	return tx
}
