package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/jsondoc"
)

// The stores' statements, written out once, as the database receives them
// (the README's "The exact SQL"), instead of built by GORM's query chain on
// every call.
const (
	cimdGetSQL = `SELECT "metadata" FROM "attesto_client_id_metadata" WHERE url = $1 AND expires_at > $2`
	cimdPutSQL = `INSERT INTO "attesto_client_id_metadata" ("url","metadata","expires_at","inserted_at") VALUES ($1,$2,$3,$4) ` +
		`ON CONFLICT ("url") DO UPDATE SET "metadata"="excluded"."metadata","expires_at"="excluded"."expires_at"`
	cimdDeleteSQL    = `DELETE FROM "attesto_client_id_metadata" WHERE url = $1`
	cimdDeleteAllSQL = `DELETE FROM "attesto_client_id_metadata"`

	parPutSQL = `INSERT INTO "attesto_pushed_authorization_requests" ("request_uri","params","expires_at","inserted_at") VALUES ($1,$2,$3,$4) ` +
		`ON CONFLICT ("request_uri") DO NOTHING`
	parFetchSQL = `SELECT "params" FROM "attesto_pushed_authorization_requests" WHERE request_uri = $1 AND expires_at > $2`
	parTakeSQL  = `DELETE FROM "attesto_pushed_authorization_requests" WHERE request_uri = $1 AND expires_at > $2 RETURNING "params"`
	// The client-bound variants compare client_id as a JSON string: a
	// numeric client_id of 123 must not match the client "123".
	parFetchForClientSQL = `SELECT "params" FROM "attesto_pushed_authorization_requests" WHERE request_uri = $1 AND expires_at > $2 ` +
		`AND params -> 'client_id' = to_jsonb($3::text)`
	parTakeForClientSQL = `DELETE FROM "attesto_pushed_authorization_requests" WHERE request_uri = $1 AND expires_at > $2 ` +
		`AND params -> 'client_id' = to_jsonb($3::text) RETURNING "params"`
)

// The same statements for SQLite (3.35 or later, for RETURNING). Times are
// bound as dialect.SQLiteTime strings, which compare as the instants they
// name. Take stays one statement, a DELETE ... RETURNING: SQLite runs one
// writer at a time, so of concurrent callers exactly one gets the row.
const (
	cimdGetSQLite = `SELECT "metadata" FROM "attesto_client_id_metadata" WHERE url = ? AND expires_at > ?`
	cimdPutSQLite = `INSERT INTO "attesto_client_id_metadata" ("url","metadata","expires_at","inserted_at") VALUES (?,?,?,?) ` +
		`ON CONFLICT ("url") DO UPDATE SET "metadata"="excluded"."metadata","expires_at"="excluded"."expires_at"`
	cimdDeleteSQLite = `DELETE FROM "attesto_client_id_metadata" WHERE url = ?`

	parPutSQLite = `INSERT INTO "attesto_pushed_authorization_requests" ("request_uri","params","expires_at","inserted_at") VALUES (?,?,?,?) ` +
		`ON CONFLICT ("request_uri") DO NOTHING`
	parFetchSQLite = `SELECT "params" FROM "attesto_pushed_authorization_requests" WHERE request_uri = ? AND expires_at > ?`
	parTakeSQLite  = `DELETE FROM "attesto_pushed_authorization_requests" WHERE request_uri = ? AND expires_at > ? RETURNING "params"`
	// json_extract gives a JSON string as text and a JSON number as a
	// number, which never equals the text argument; json_type says so
	// outright.
	parFetchForClientSQLite = `SELECT "params" FROM "attesto_pushed_authorization_requests" WHERE request_uri = ? AND expires_at > ? ` +
		`AND json_type(params, '$.client_id') = 'text' AND json_extract(params, '$.client_id') = ?`
	parTakeForClientSQLite = `DELETE FROM "attesto_pushed_authorization_requests" WHERE request_uri = ? AND expires_at > ? ` +
		`AND json_type(params, '$.client_id') = 'text' AND json_extract(params, '$.client_id') = ? RETURNING "params"`
)

// The stores run their statements through GORM's callback chains, the
// row chain for reads and the raw chain for writes, as
// db.WithContext(ctx).Raw(...).Row() and db.WithContext(ctx).Exec(...)
// do: the caller's logger, plugins (tracing, metrics, resolvers),
// TranslateError and DryRun see every statement. What those finishers add
// per call, and a constant statement does not need, is left out: each
// WithContext and Exec copies the statement with its clause maps and
// settings, Raw rewrites the statement's text, and Row records a setting
// in a sync.Map. storeDB.Raw starts a fresh statement on the session's
// connection (the pool, or the caller's transaction); readDocument and
// write set the call's context on it and hand it to the chain.

// readDocument runs tx, the store's Raw statement that returns at most
// one row of one JSON column, in ctx, and gives the stores' answer: a
// database error is an error, no row is a miss, and a row is its decoded
// document.
func readDocument(ctx context.Context, tx *gorm.DB, op, keyField string) (map[string]any, bool, error) {
	tx.Statement.Context = ctx
	// The row chain runs QueryRowContext unless told to return rows.
	tx = tx.Callback().Row().Execute(tx)
	if tx.Error != nil {
		return nil, false, dbError(op, keyField, tx.Error)
	}
	row, ok := tx.Statement.Dest.(*sql.Row)
	if !ok {
		// GORM ran nothing: a DryRun session.
		return nil, false, dbError(op, keyField, gorm.ErrDryRunModeUnsupported)
	}
	var doc string
	if err := row.Scan(&doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil
		}
		return nil, false, dbError(op, keyField, err)
	}
	m, err := jsondoc.DecodeString(doc)
	if err != nil {
		return nil, false, fmt.Errorf("gormstore: %s: %w", op, err)
	}
	return m, true, nil
}

// write runs tx, the store's Raw statement of a write, in ctx, and returns
// the rows it affected.
func write(ctx context.Context, tx *gorm.DB, op, keyField string) (int64, error) {
	tx.Statement.Context = ctx
	tx = tx.Callback().Raw().Execute(tx)
	if tx.Error != nil {
		return 0, dbError(op, keyField, tx.Error)
	}
	return tx.RowsAffected, nil
}
