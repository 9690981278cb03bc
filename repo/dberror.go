package repo

import (
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
)

// dbError wraps a database error with the operation's name, translating
// what the caller can act on: a duplicate key into ErrDuplicate (and not
// changesets.ErrInvalid), and a key
// too long for attesto_phoenix's varchar(255) column into a changeset
// error on keyField.
func dbError(op, keyField string, err error) error {
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505",
		errors.As(err, &myErr) && myErr.Number == 1062, // ER_DUP_ENTRY
		// A *gorm.DB opened with TranslateError replaces the driver's error.
		errors.Is(err, gorm.ErrDuplicatedKey):
		// A collision on the server's own key, not the caller's bad input:
		// not a changeset error, so "ErrInvalid means 400" stays right.
		return fmt.Errorf("repo: %s: %s has already been taken: %w: %w", op, keyField, ErrDuplicate, err)
	case errors.As(err, &pgErr) && pgErr.Code == "22001",
		errors.As(err, &myErr) && myErr.Number == 1406: // ER_DATA_TOO_LONG
		err = changesets.NewError(keyField, "is too long for the table's column", err)
	}
	return fmt.Errorf("repo: %s: %w", op, err)
}
