package repo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
)

func TestDBErrorTranslation(t *testing.T) {
	t.Parallel()
	other := errors.New("connection reset")
	for _, tc := range []struct {
		name          string
		err           error
		wantDuplicate bool
		wantInvalid   bool
		wantCause     error
	}{
		{"unique violation", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), true, false, ErrDuplicate},
		{"MariaDB's duplicate entry", &mysql.MySQLError{Number: 1062}, true, false, ErrDuplicate},
		{"GORM's translated duplicate", gorm.ErrDuplicatedKey, true, false, ErrDuplicate},
		{"MariaDB's data too long", &mysql.MySQLError{Number: 1406}, false, true, nil},
		{"value too long for varchar(255)", &pgconn.PgError{Code: "22001"}, false, true, nil},
		{"any other database error", other, false, false, other},
		{"another SQLSTATE", &pgconn.PgError{Code: "57P01"}, false, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := dbError("par put", "request_uri", tc.err)
			if got := errors.Is(err, ErrDuplicate); got != tc.wantDuplicate {
				t.Errorf("errors.Is(%v, ErrDuplicate) = %v", err, got)
			}
			if got := errors.Is(err, changesets.ErrInvalid); got != tc.wantInvalid {
				t.Errorf("errors.Is(%v, ErrInvalid) = %v", err, got)
			}
			if tc.wantCause != nil && !errors.Is(err, tc.wantCause) {
				t.Errorf("%v does not wrap %v", err, tc.wantCause)
			}
			var cerr *changesets.Error
			if tc.wantInvalid && (!errors.As(err, &cerr) || len(cerr.On("request_uri")) == 0) {
				t.Errorf("%v is not a changeset error on request_uri", err)
			}
			var pgErr *pgconn.PgError
			if !tc.wantInvalid && errors.As(tc.err, &pgErr) && !errors.As(err, &pgErr) {
				t.Errorf("%v lost the driver's *pgconn.PgError", err)
			}
		})
	}
}
