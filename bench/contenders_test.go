package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/jsondoc"
	"github.com/attesto/gormstore/models"
)

// The stores' statements on PostgreSQL, by hand, as docs/sql.md shows
// them (TestStatementsUseThePrimaryKey checks that the stores send exactly
// these). $now is the client's clock, as in the stores. The INSERTs take
// their columns in GORM's order: expires_at, inserted_at, the document,
// the key.
const (
	cimdGetSQL = `SELECT "metadata" FROM "attesto_client_id_metadata" WHERE "url" = $1 AND "expires_at" > $2`
	cimdPutSQL = `INSERT INTO "attesto_client_id_metadata" ("expires_at","inserted_at","metadata","url") VALUES ($1,$2,$3,$4) ` +
		`ON CONFLICT ("url") DO UPDATE SET "metadata"="excluded"."metadata","expires_at"="excluded"."expires_at"`
	parPutSQL = `INSERT INTO "attesto_pushed_authorization_requests" ("expires_at","inserted_at","params","request_uri") VALUES ($1,$2,$3,$4) ` +
		`ON CONFLICT ("request_uri") DO NOTHING`
	parGetSQL  = `SELECT "params" FROM "attesto_pushed_authorization_requests" WHERE "request_uri" = $1 AND "expires_at" > $2`
	parTakeSQL = `DELETE FROM "attesto_pushed_authorization_requests" WHERE "request_uri" = $1 AND "expires_at" > $2 RETURNING "params"`
)

// cimdStore and parStore are what every contender implements: the
// stores' operations, map in and map out.
type cimdStore interface {
	Get(ctx context.Context, url string) (map[string]any, bool, error)
	Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error
}

type parStore interface {
	Put(ctx context.Context, uri string, params map[string]any, ttl time.Duration) error
	Fetch(ctx context.Context, uri string) (map[string]any, bool, error)
	Take(ctx context.Context, uri string) (map[string]any, bool, error)
}

// pgxCIMD and pgxPAR are the limit: docs/sql.md's statement per operation
// on a pgxpool, with nothing around it but the work the stores' contract
// makes unavoidable, json.Marshal of the document on the way in and, on
// the way out, the stores' own decoder (internal/jsondoc). No validation.
type pgxCIMD struct{ pool *pgxpool.Pool }

func (s pgxCIMD) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	var doc string
	err := s.pool.QueryRow(ctx, cimdGetSQL, url, time.Now().UTC()).Scan(&doc)
	return decodeRow(doc, err)
}

func (s pgxCIMD) Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error {
	b, err := marshal(doc)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, cimdPutSQL, expiresAt.UTC(), time.Now().UTC(), b, url)
	return err
}

type pgxPAR struct{ pool *pgxpool.Pool }

func (s pgxPAR) Put(ctx context.Context, uri string, params map[string]any, ttl time.Duration) error {
	b, err := marshal(params)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	tag, err := s.pool.Exec(ctx, parPutSQL, now.Add(ttl), now, b, uri)
	if err == nil && tag.RowsAffected() == 0 {
		err = errors.New("duplicate request_uri")
	}
	return err
}

func (s pgxPAR) Fetch(ctx context.Context, uri string) (map[string]any, bool, error) {
	var doc string
	err := s.pool.QueryRow(ctx, parGetSQL, uri, time.Now().UTC()).Scan(&doc)
	return decodeRow(doc, err)
}

func (s pgxPAR) Take(ctx context.Context, uri string) (map[string]any, bool, error) {
	var doc string
	err := s.pool.QueryRow(ctx, parTakeSQL, uri, time.Now().UTC()).Scan(&doc)
	return decodeRow(doc, err)
}

func decodeRow(s string, err error) (map[string]any, bool, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	m, err := jsondoc.DecodeString(s)
	return m, err == nil, err
}

func marshal(doc map[string]any) ([]byte, error) { return json.Marshal(doc) }

// sqlCIMD and sqlPAR send the same statements as pgx, with the same
// decoding, on GORM's own database/sql pool (pgx's stdlib driver): what
// separates them from the stores is GORM, and from pgx database/sql.
type sqlCIMD struct{ db *sql.DB }

func (s sqlCIMD) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, cimdGetSQL, url, time.Now().UTC()).Scan(&doc)
	return decodeSQLRow(doc, err)
}

func (s sqlCIMD) Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error {
	b, err := marshal(doc)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, cimdPutSQL, expiresAt.UTC(), time.Now().UTC(), string(b), url)
	return err
}

type sqlPAR struct{ db *sql.DB }

func (s sqlPAR) Put(ctx context.Context, uri string, params map[string]any, ttl time.Duration) error {
	b, err := marshal(params)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	res, err := s.db.ExecContext(ctx, parPutSQL, now.Add(ttl), now, string(b), uri)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("duplicate request_uri (%v)", err)
	}
	return nil
}

func (s sqlPAR) Fetch(ctx context.Context, uri string) (map[string]any, bool, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, parGetSQL, uri, time.Now().UTC()).Scan(&doc)
	return decodeSQLRow(doc, err)
}

func (s sqlPAR) Take(ctx context.Context, uri string) (map[string]any, bool, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, parTakeSQL, uri, time.Now().UTC()).Scan(&doc)
	return decodeSQLRow(doc, err)
}

func decodeSQLRow(s string, err error) (map[string]any, bool, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return decodeRow(s, err)
}

// pgxRaw is the bare statement of a read: the row's bytes, not decoded.
// What separates it from pgx is the decoding the stores' API requires.
type pgxRaw struct{ pool *pgxpool.Pool }

func (s pgxRaw) read(ctx context.Context, sql, key string) (bool, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, sql, key, time.Now().UTC()).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// chainCIMD and chainPAR are the library as it was before it was tuned
// (git history of repo/gorm_*.go): idiomatic GORM, a query chain built on
// every call, the same changesets and statements. They show what GORM's
// statement building costs next to the tuned stores, in the same run.
type chainCIMD struct{ db *gorm.DB }

func newChainCIMD(db *gorm.DB) chainCIMD { return chainCIMD{chainSession(db)} }

func chainSession(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{NewDB: true, SkipDefaultTransaction: true}).Scopes().Session(&gorm.Session{})
}

var (
	chainUpsertCIMD = clause.OnConflict{
		Columns:   []clause.Column{{Name: "url"}},
		DoUpdates: clause.AssignmentColumns([]string{"metadata", "expires_at"}),
	}
	chainInsertPAR       = clause.OnConflict{Columns: []clause.Column{{Name: "request_uri"}}, DoNothing: true}
	chainReturningParams = clause.Returning{Columns: []clause.Column{{Name: "params"}}}
)

func (c chainCIMD) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	var row models.ClientIDMetadata
	res := c.db.WithContext(ctx).Select("metadata").
		Where("url = ? AND expires_at > ?", url, time.Now().UTC()).
		Find(&row)
	return chainResult(res, row.Metadata)
}

func (c chainCIMD) Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error {
	row, err := changesets.ClientIDMetadata{
		URL: url, Metadata: doc, ExpiresAt: expiresAt, InsertedAt: time.Now(),
	}.Cast(changesets.Limits{})
	if err != nil {
		return err
	}
	return c.db.WithContext(ctx).Clauses(chainUpsertCIMD).Create(&row).Error
}

type chainPAR struct{ db *gorm.DB }

func newChainPAR(db *gorm.DB) chainPAR { return chainPAR{chainSession(db)} }

func (p chainPAR) Put(ctx context.Context, uri string, params map[string]any, ttl time.Duration) error {
	now := time.Now()
	row, err := changesets.PushedAuthorizationRequest{
		RequestURI: uri, Params: params, ExpiresAt: now.Add(ttl), InsertedAt: now,
	}.Cast(changesets.Limits{})
	if err != nil {
		return err
	}
	res := p.db.WithContext(ctx).Clauses(chainInsertPAR).Create(&row)
	if res.Error == nil && res.RowsAffected == 0 {
		return errors.New("duplicate request_uri")
	}
	return res.Error
}

func (p chainPAR) Fetch(ctx context.Context, uri string) (map[string]any, bool, error) {
	var row models.PushedAuthorizationRequest
	res := p.db.WithContext(ctx).Where("request_uri = ? AND expires_at > ?", uri, time.Now().UTC()).
		Select("params").Find(&row)
	return chainResult(res, row.Params)
}

func (p chainPAR) Take(ctx context.Context, uri string) (map[string]any, bool, error) {
	var row models.PushedAuthorizationRequest
	res := p.db.WithContext(ctx).Where("request_uri = ? AND expires_at > ?", uri, time.Now().UTC()).
		Clauses(chainReturningParams).Delete(&row)
	return chainResult(res, row.Params)
}

func chainResult(res *gorm.DB, doc []byte) (map[string]any, bool, error) {
	if res.Error != nil {
		return nil, false, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, false, nil
	}
	// The library's decoder before it was tuned: encoding/json.
	m, err := jsondoc.DecodeStandard(doc)
	return m, err == nil, err
}
