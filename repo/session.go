package repo

import "gorm.io/gorm"

// session derives the store's own session from the caller's db, leaving db
// unchanged. Each store call is one statement, so GORM's default
// transaction around writes would only add BEGIN and COMMIT round trips;
// a caller's transaction, if db is one, is kept.
func session(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true})
}
