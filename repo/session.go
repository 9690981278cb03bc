package repo

import "gorm.io/gorm"

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
	gorm *gorm.DB
}

func session(db *gorm.DB) storeDB {
	return storeDB{db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true})}
}

// Raw starts one of the store's statements: a fresh GORM statement on the
// session's connection holding query, already in PostgreSQL's form ($1,
// $2, ...), and its arguments, ready for readDocument or write. It is
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
