package models

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/internal/dialect"
)

// Time is an instant as the tables hold it: timestamptz on PostgreSQL, UTC
// text on SQLite, a datetime holding UTC on MariaDB/MySQL. It reads from
// each of them (the SQLite driver returns the text, not a time.Time) and,
// through GORM, binds the way the stores bind a time, so a row written or
// compared through the models orders exactly as the stores' own rows do.
//
// The embedded time.Time gives the methods a time has (Before, Format,
// MarshalJSON, ...); it is in UTC after a Scan.
type Time struct{ time.Time }

// NewTime returns t as a Time.
func NewTime(t time.Time) Time { return Time{Time: t} }

// Scan implements sql.Scanner. It accepts a time.Time (PostgreSQL, and
// MariaDB/MySQL with parseTime), and text or bytes (SQLite, MariaDB/MySQL
// without parseTime) in the stores' form, 2006-01-02 15:04:05.000000, or
// the variants other writers leave: a 'T' between date and time, any
// fraction or none, and a trailing 'Z' or numeric offset. Text without an
// offset is UTC, as the stores write it. NULL is the zero Time.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = Time{}
		return nil
	case time.Time:
		*t = Time{v.UTC()}
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	}
	return fmt.Errorf("models: scan time: a %T: %w", src, ErrNotTime)
}

// textLayouts are the forms Scan reads, after a 'T' separator is turned
// into a space. time.Parse accepts a fraction after the seconds whether
// or not a layout names one, and Z07:00 also reads a 'Z'.
var textLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05Z07",
}

func (t *Time) parse(s string) error {
	text := s
	if len(text) > 10 && text[10] == 'T' {
		text = text[:10] + " " + text[11:]
	}
	for _, layout := range textLayouts {
		if p, err := time.Parse(layout, text); err == nil {
			*t = Time{p.UTC()}
			return nil
		}
	}
	return fmt.Errorf("models: scan time: %s: %w", describe(s), ErrNotTime)
}

// describe names s for an error message: quoted when it looks like a time
// (it may be any column's text, which is not for a log).
func describe(s string) string {
	if len(s) <= 40 && strings.Trim(s, "0123456789-:. TZ+") == "" {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%d bytes of text", len(s))
}

// Value implements driver.Valuer for database/sql outside GORM: the instant
// in UTC. Through GORM, GormValue binds it instead.
func (t Time) Value() (driver.Value, error) {
	return t.Time.UTC(), nil
}

// GormValue implements gorm.Valuer: t bound as the stores bind a time on
// db's database. On SQLite it is the stores' fixed-width UTC text, which
// compares with the stored text as the instants compare (the driver's own
// format for a time.Time keeps the zone offset and trims the fraction). On
// MariaDB/MySQL it is the same UTC text, which the DSN's loc does not
// shift. On PostgreSQL it is the instant.
func (t Time) GormValue(_ context.Context, db *gorm.DB) clause.Expr {
	return clause.Expr{SQL: "?", Vars: []any{dialect.Of(db).Time(t.Time)}}
}
