package bench

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/jsondoc"
)

// A MEASUREMENT BASELINE, NOT A WAY TO USE GORM.
//
// internalCIMD and internalPAR are the stores' call path as it was before
// they moved to GORM's exported API (commit 7dfbb3f, repo/statements.go
// and repo/session.go): a fresh statement from Raw(""), its SQL and Vars
// written into Statement by hand, the call's context set on it, and GORM's
// row (reads) or raw (writes) callback chain executed directly. The
// library no longer does this and must not: it writes Statement fields and
// runs callback processors by hand, which GORM does not promise to keep
// working (issue 11). It is kept here, in test code only, so that one run
// shows what the public path (Raw(...).Rows() and Exec) costs against it,
// in time and allocations. Statements, arguments, validation and decoding
// are the stores'; only the call path differs.
type internalDB struct{ gorm *gorm.DB }

// newInternalDB is 7dfbb3f's session(): the caller's db as a NewDB
// session without GORM's default transaction.
func newInternalDB(db *gorm.DB) internalDB {
	return internalDB{db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true})}
}

// raw is 7dfbb3f's storeDB.Raw: Raw("") for a fresh statement, then the
// text and arguments written into it, skipping Raw's placeholder rewrite.
// query is always one of this package's constants.
func (s internalDB) raw(query string, args ...any) *gorm.DB {
	tx := s.gorm.Raw("")
	tx.Statement.SQL.WriteString(query)
	tx.Statement.Vars = append(tx.Statement.Vars, args...)
	return tx
}

// internalRead is 7dfbb3f's readDocument: the row chain run by hand (it
// runs QueryRowContext when the "rows" setting is unset), the one column
// scanned into a string and decoded by the stores' decoder.
func internalRead(ctx context.Context, tx *gorm.DB) (map[string]any, bool, error) {
	tx.Statement.Context = ctx
	tx = tx.Callback().Row().Execute(tx)
	if tx.Error != nil {
		return nil, false, tx.Error
	}
	row, ok := tx.Statement.Dest.(*sql.Row)
	if !ok {
		return nil, false, gorm.ErrDryRunModeUnsupported
	}
	var doc string
	if err := row.Scan(&doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil
		}
		return nil, false, err
	}
	m, err := jsondoc.DecodeString(doc)
	return m, err == nil, err
}

// internalWrite is 7dfbb3f's write: the raw chain run by hand.
func internalWrite(ctx context.Context, tx *gorm.DB) (int64, error) {
	tx.Statement.Context = ctx
	tx = tx.Callback().Raw().Execute(tx)
	return tx.RowsAffected, tx.Error
}

// internalStatements are the statement texts the internal path sends:
// the ones the stores send on the database at hand.
type internalStatements struct {
	cimdGet, cimdPut, parPut, parFetch, parTake string
}

var pgInternalStatements = internalStatements{
	cimdGet: cimdGetSQL, cimdPut: cimdPutSQL, parPut: parPutSQL, parFetch: parGetSQL, parTake: parTakeSQL,
}

// internalCIMD is the CIMD cache on the internal path. time is how the
// store binds a time on the database at hand.
type internalCIMD struct {
	db   internalDB
	sql  internalStatements
	time func(time.Time) any
}

func (c internalCIMD) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	if !changesets.ValidKey(url) {
		return nil, false, nil
	}
	return internalRead(ctx, c.db.raw(c.sql.cimdGet, url, c.time(time.Now())))
}

func (c internalCIMD) Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error {
	row, err := changesets.ClientIDMetadata{
		URL: url, Metadata: doc, ExpiresAt: expiresAt, InsertedAt: time.Now(),
	}.Cast(changesets.Limits{})
	if err != nil {
		return err
	}
	_, err = internalWrite(ctx, c.db.raw(c.sql.cimdPut, c.time(row.ExpiresAt.Time), c.time(row.InsertedAt.Time), string(row.Metadata), row.URL))
	return err
}

// internalPAR is the PAR store on the internal path.
type internalPAR struct {
	db   internalDB
	sql  internalStatements
	time func(time.Time) any
}

func (p internalPAR) Put(ctx context.Context, uri string, params map[string]any, ttl time.Duration) error {
	now := time.Now()
	row, err := changesets.PushedAuthorizationRequest{
		RequestURI: uri, Params: params, ExpiresAt: now.Add(ttl), InsertedAt: now,
	}.Cast(changesets.Limits{})
	if err != nil {
		return err
	}
	n, err := internalWrite(ctx, p.db.raw(p.sql.parPut, p.time(row.ExpiresAt.Time), p.time(row.InsertedAt.Time), string(row.Params), row.RequestURI))
	if err == nil && n == 0 {
		err = errors.New("duplicate request_uri")
	}
	return err
}

func (p internalPAR) Fetch(ctx context.Context, uri string) (map[string]any, bool, error) {
	if !changesets.ValidKey(uri) {
		return nil, false, nil
	}
	return internalRead(ctx, p.db.raw(p.sql.parFetch, uri, p.time(time.Now())))
}

func (p internalPAR) Take(ctx context.Context, uri string) (map[string]any, bool, error) {
	if !changesets.ValidKey(uri) {
		return nil, false, nil
	}
	return internalRead(ctx, p.db.raw(p.sql.parTake, uri, p.time(time.Now())))
}

// pgTime is how the stores bind a time on PostgreSQL.
func pgTime(t time.Time) any { return t.UTC() }

func newInternalCIMD(db *gorm.DB) internalCIMD {
	return internalCIMD{newInternalDB(db), pgInternalStatements, pgTime}
}

func newInternalPAR(db *gorm.DB) internalPAR {
	return internalPAR{newInternalDB(db), pgInternalStatements, pgTime}
}
