// Package dialect tells the databases the module supports apart and holds
// what differs between them in how a time is bound to a statement.
package dialect

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
)

// Kind is a database the stores have statements for.
type Kind int

const (
	// Other is any database but the three below; nothing of the module
	// runs there.
	Other Kind = iota
	// Postgres is PostgreSQL, and whatever GORM drives through its
	// postgres dialector.
	Postgres
	// SQLite is SQLite, through a GORM dialector named "sqlite" (the
	// pure-Go github.com/glebarez/sqlite, or gorm.io/driver/sqlite).
	SQLite
	// MySQL is MariaDB (10.6 or later: the sweeper needs SKIP LOCKED) or
	// MySQL (8.0 or later), through
	// gorm.io/driver/mysql.
	MySQL
)

// Of returns the database db talks to, by its dialector's name.
func Of(db *gorm.DB) Kind {
	if db == nil || db.Dialector == nil {
		return Other
	}
	switch db.Dialector.Name() {
	case "postgres":
		return Postgres
	case "sqlite", "sqlite3":
		return SQLite
	case "mysql":
		return MySQL
	}
	return Other
}

// SQLiteTimeLayout is how every time is written to and compared in SQLite:
// UTC, fixed width, microseconds. SQLite has no time type; it compares the
// stored text byte by byte, which orders these strings as the instants
// they name. The drivers' own formats do not: they keep the caller's zone
// offset ("10:00:00+02:00" sorts after "09:00:00+00:00") and drop trailing
// zeros of the fraction ("05.5" sorts after "05+00:00").
const SQLiteTimeLayout = "2006-01-02 15:04:05.000000"

// The instants SQLiteTime clamps to, so that every string it returns has
// a four-digit year: the changesets accept expiries in the years 1 to 9999
// only, so a clamped bound compares with every stored one as the instant
// itself would.
var (
	sqliteMin = time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)
	sqliteMax = time.Date(9999, time.December, 31, 23, 59, 59, 999999000, time.UTC)
)

// SQLiteTime is t as SQLite stores and compares it (SQLiteTimeLayout),
// truncated to the microsecond as PostgreSQL would store it.
func SQLiteTime(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Before(sqliteMin):
		t = sqliteMin
	case t.After(sqliteMax):
		t = sqliteMax
	}
	return t.Format(SQLiteTimeLayout)
}

// Time is t as a statement argument for k. On PostgreSQL it is t in UTC,
// and the driver sends the instant itself. On SQLite and MariaDB/MySQL it
// is SQLiteTime's UTC text: SQLite compares it as text, and MariaDB/MySQL
// read it into a datetime as written, where a time.Time would be shifted
// into the DSN's loc by the driver.
func (k Kind) Time(t time.Time) any {
	if k == SQLite || k == MySQL {
		return SQLiteTime(t)
	}
	return t.UTC()
}

// Routed reports whether db routes its statements between a primary and
// replicas with gorm.io/plugin/dbresolver, read from the plugins GORM
// registered with db.Use (gorm.Config.Plugins).
func Routed(db *gorm.DB) bool {
	if db == nil || db.Config == nil {
		return false
	}
	for _, p := range db.Plugins {
		if _, ok := p.(*dbresolver.DBResolver); ok {
			return true
		}
	}
	return false
}
