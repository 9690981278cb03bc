package repo

import (
	"errors"

	"github.com/attesto/gormstore/internal/dialect"
)

var (
	// ErrNoDB is returned by the constructors given a nil *gorm.DB and by
	// every method of a zero-value GORM store: a store that cannot share
	// state across nodes refuses to work rather than silently no-op. It is
	// the same value as sweeper.ErrNoDB.
	ErrNoDB = dialect.ErrNoDB
	// ErrDuplicate is returned by PARStore.Put when the request_uri is
	// already stored; the stored row is left intact. It is a collision of
	// the server's own request_uri (make another with NewRequestURI), not
	// invalid input: it does not match changesets.ErrInvalid.
	ErrDuplicate = errors.New("duplicate key")
	// ErrUnsupportedDialect is returned by the GORM stores' constructors
	// for a database other than PostgreSQL, SQLite, MariaDB and MySQL.
	ErrUnsupportedDialect = errors.New("unsupported database")
)
