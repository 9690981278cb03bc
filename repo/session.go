package repo

import "gorm.io/gorm"

// session derives the store's own session from the caller's db, leaving db
// unchanged.
//
// NewDB alone is not enough: GORM only drops the caller's pending clauses
// (a stray Where, a Model) on the next chain call, and WithContext would
// copy them first. Scopes() is that chain call, with nothing to add; the
// final Session makes the clean statement safe to share between calls.
//
// Each store call is one statement, so GORM's default transaction around
// writes would only add BEGIN and COMMIT round trips; a caller's
// transaction, if db is one, is kept.
func session(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true}).
		Scopes().
		Session(&gorm.Session{})
}
