package repo

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"

	"github.com/attesto/gormstore/internal/dialect"
)

// storeDB is a store's own GORM session, derived from the caller's db and
// leaving db unchanged: Session copies the caller's Config before changing
// it.
//
// NewDB makes every statement the store runs a fresh one that keeps only
// db's connection (the pool, or the caller's transaction) and none of the
// caller's pending clauses (a stray Where, a Model). Each store call is
// one statement, so GORM's default transaction around writes would only
// add BEGIN and COMMIT round trips; a caller's transaction, if db is one,
// is kept.
//
// primary is the session for reads that must see every acknowledged
// write: under gorm.io/plugin/dbresolver, which sends a raw SELECT to a
// replica, it carries dbresolver.Write. Without dbresolver it is gorm.
type storeDB struct {
	gorm    *gorm.DB
	primary *gorm.DB
	kind    dialect.Kind
	// resolver reports that primary carries dbresolver's mark.
	resolver bool
}

// session derives the store's session from db, or fails on a database the
// stores have no statements for.
func session(db *gorm.DB) (storeDB, error) {
	kind := dialect.Of(db)
	if kind == dialect.Other {
		name := "without a dialector"
		if db.Dialector != nil {
			name = db.Dialector.Name()
		}
		return storeDB{}, fmt.Errorf("%w: %q", ErrUnsupportedDialect, name)
	}
	s := storeDB{gorm: db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true}), kind: kind}
	s.primary = s.gorm
	if dialect.Routed(db) {
		// A session carrying dbresolver's own write mark; every statement
		// derived from it copies the mark.
		s.primary = s.gorm.Clauses(dbresolver.Write).Session(&gorm.Session{})
		s.resolver = true
	}
	return s, nil
}

// on returns the session one call runs its statement on, in ctx: the
// primary's, or, with replicaOK, whichever dbresolver picks. Without a mark
// to carry, each call starts a fresh statement (NewDB), which spares GORM
// cloning the session's statement a second time in Raw and Exec.
func (s storeDB) on(ctx context.Context, replicaOK bool) *gorm.DB {
	if s.resolver && !replicaOK {
		return s.primary.WithContext(ctx)
	}
	return s.gorm.Session(&gorm.Session{NewDB: true, Context: ctx})
}

// time is t as the session's database compares it.
func (s storeDB) time(t time.Time) any {
	return s.kind.Time(t)
}
