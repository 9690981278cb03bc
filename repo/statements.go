package repo

import (
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/jsondoc"
	"github.com/attesto/gormstore/models"
)

// arg names a statement argument. A store binds its arguments by name;
// the statement knows where GORM placed each.
type arg uint8

const (
	argKey        arg = iota // url or request_uri
	argDoc                   // metadata or params, JSON text
	argExpiresAt             // the row's expiry
	argInsertedAt            // the row's insertion time
	argNow                   // the instant a read or a delete decides expiry by
	argClientID              // the client a client-bound read must match
	argKeepLong              // the near cache's full lifetime from now
	argKeepShort             // a tenth of it
	numArgs
)

// args are a call's arguments by name.
type args [numArgs]any

// statement is one of a store's statements as GORM renders it for the
// store's database: built once, at construction, with GORM's clause
// builders, and run on every call through Raw or Exec.
type statement struct {
	// text has ? where each argument goes; Raw and Exec turn it into the
	// database's placeholders ($1, $2, ... on PostgreSQL).
	text string
	// order names the argument of each ?, in order.
	order []arg
}

// bind returns a's arguments in the order the statement takes them.
func (st statement) bind(a *args) []any {
	out := make([]any, len(st.order))
	for i, name := range st.order {
		out[i] = a[name]
	}
	return out
}

// placeholder stands for an argument while GORM renders a statement: it
// writes the ? that Raw and Exec later bind, and notes which argument
// goes there, in the order GORM writes them.
type placeholder struct {
	name arg
	seen *[]arg
}

// Build implements clause.Expression.
func (p placeholder) Build(b clause.Builder) {
	b.WriteByte('?')
	*p.seen = append(*p.seen, p.name)
}

// render builds one statement with GORM in dry-run mode on db, whose
// dialect it is rendered for: build gets a session to chain on and a
// function giving the placeholder of each argument.
func render(db *gorm.DB, build func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB) (statement, error) {
	var seen []arg
	p := func(name arg) clause.Expression { return placeholder{name: name, seen: &seen} }
	tx := build(db.Session(&gorm.Session{DryRun: true, NewDB: true, SkipDefaultTransaction: true, Logger: logger.Discard}), p)
	if tx.Error != nil {
		return statement{}, tx.Error
	}
	// Dry run leaves the rendered statement on the session, as GORM's
	// documentation of DryRun shows.
	return statement{text: tx.Statement.SQL.String(), order: seen}, nil
}

// jsonStringIs is true where the JSON object in column has member as a
// string equal, byte for byte, to value. It is dialect-aware the way
// gorm.io/datatypes' JSON expressions are: the builder's dialect picks
// the SQL. A member that is missing, a number, an array or null never
// matches, whatever its text: a client_id of 123 must not bind the client
// "123".
type jsonStringIs struct {
	column, member string
	value          clause.Expression
}

// Build implements clause.Expression.
func (e jsonStringIs) Build(b clause.Builder) {
	stmt, ok := b.(*gorm.Statement)
	if !ok {
		b.AddError(errors.New("repo: jsonStringIs needs a GORM statement"))
		return
	}
	col := clause.Column{Name: e.column}
	switch dialect.Of(stmt.DB) {
	case dialect.Postgres:
		// jsonb equality: a JSON string equals only a JSON string.
		b.WriteQuoted(col)
		b.WriteString(" -> '" + e.member + "' = to_jsonb(CAST(")
		b.AddVar(b, e.value)
		b.WriteString(" AS text))")
	case dialect.SQLite:
		b.WriteString("json_type(")
		b.WriteQuoted(col)
		b.WriteString(", '$." + e.member + "') = 'text' AND json_extract(")
		b.WriteQuoted(col)
		b.WriteString(", '$." + e.member + "') = ")
		b.AddVar(b, e.value)
	case dialect.MySQL:
		// Compared as binary strings: a utf8mb4 collation would match
		// case variants and ignore trailing spaces.
		b.WriteString("JSON_TYPE(JSON_EXTRACT(")
		b.WriteQuoted(col)
		b.WriteString(", '$." + e.member + "')) = 'STRING' AND CAST(JSON_UNQUOTE(JSON_EXTRACT(")
		b.WriteQuoted(col)
		b.WriteString(", '$." + e.member + "')) AS BINARY) = CAST(")
		b.AddVar(b, e.value)
		b.WriteString(" AS BINARY)")
	default:
		b.AddError(fmt.Errorf("%w: %q", ErrUnsupportedDialect, stmt.DB.Dialector.Name()))
	}
}

// parStatements are the PAR store's statements for one database.
type parStatements struct {
	put, fetch, fetchForClient, take, takeForClient statement
	// takeDelete is the DELETE that decides a two-step Take on a server
	// without DELETE ... RETURNING (MySQL): the read found the row, and
	// the delete's affected-row count says whether this caller won it.
	takeDelete statement
	// returning reports whether take and takeForClient are one
	// DELETE ... RETURNING.
	returning bool
}

// cimdStatements are the CIMD cache's statements for one database.
type cimdStatements struct {
	get, put, del, delAll statement
	// nearFill is get with two flags more, for NearCache: whether the row
	// outlives argKeepLong, and argKeepShort.
	nearFill statement
}

func renderCIMD(db *gorm.DB) (cimdStatements, error) {
	var s cimdStatements
	var err error
	model := &models.ClientIDMetadata{}
	if s.get, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		return tx.Model(model).Select("metadata").Where(clause.Eq{Column: clause.Column{Name: "url"}, Value: p(argKey)}).Where(clause.Gt{Column: clause.Column{Name: "expires_at"}, Value: p(argNow)}).Find(&[]models.ClientIDMetadata{})
	}); err != nil {
		return s, fmt.Errorf("cimd get: %w", err)
	}
	if s.nearFill, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		expiresAt := clause.Column{Name: "expires_at"}
		return tx.Model(model).
			Select("?, ? > ?, ? > ?", clause.Column{Name: "metadata"}, expiresAt, p(argKeepLong), expiresAt, p(argKeepShort)).
			Where(clause.Eq{Column: clause.Column{Name: "url"}, Value: p(argKey)}).Where(clause.Gt{Column: expiresAt, Value: p(argNow)}).
			Find(&[]models.ClientIDMetadata{})
	}); err != nil {
		return s, fmt.Errorf("cimd get: %w", err)
	}
	// The freshest fetch wins: an existing row, live or expired, takes the
	// new document and expiry, and keeps inserted_at, as attesto_phoenix
	// does. MySQL renders it ON DUPLICATE KEY UPDATE.
	if s.put, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		return tx.Model(model).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "url"}},
			DoUpdates: clause.AssignmentColumns([]string{"metadata", "expires_at"}),
		}).Create(map[string]any{
			"url": p(argKey), "metadata": p(argDoc), "expires_at": p(argExpiresAt), "inserted_at": p(argInsertedAt),
		})
	}); err != nil {
		return s, fmt.Errorf("cimd put: %w", err)
	}
	if s.del, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		return tx.Where(clause.Eq{Column: clause.Column{Name: "url"}, Value: p(argKey)}).Delete(model)
	}); err != nil {
		return s, fmt.Errorf("cimd delete: %w", err)
	}
	if s.delAll, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		return tx.Session(&gorm.Session{AllowGlobalUpdate: true}).Delete(model)
	}); err != nil {
		return s, fmt.Errorf("cimd delete all: %w", err)
	}
	return s, nil
}

func renderPAR(db *gorm.DB) (parStatements, error) {
	var s parStatements
	var err error
	model := &models.PushedAuthorizationRequest{}
	// A taken request_uri inserts nothing and leaves the stored request
	// intact. PostgreSQL and SQLite say so with ON CONFLICT DO NOTHING,
	// which inserts no row and raises no error, so a caller's transaction
	// goes on. MySQL's form of it (an update of the key to itself) would
	// count the taken row as affected under the clientFoundRows DSN
	// option, so there the plain INSERT's duplicate-key error decides: a
	// failed statement does not end a MySQL transaction.
	var onConflict []clause.Expression
	if dialect.Of(db) != dialect.MySQL {
		onConflict = append(onConflict, clause.OnConflict{Columns: []clause.Column{{Name: "request_uri"}}, DoNothing: true})
	}
	if s.put, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
		return tx.Model(model).Clauses(onConflict...).Create(map[string]any{
			"request_uri": p(argKey), "params": p(argDoc), "expires_at": p(argExpiresAt), "inserted_at": p(argInsertedAt),
		})
	}); err != nil {
		return s, fmt.Errorf("par put: %w", err)
	}
	read := func(bound bool) (statement, error) {
		return render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
			tx = tx.Model(model).Select("params").Where(clause.Eq{Column: clause.Column{Name: "request_uri"}, Value: p(argKey)}).Where(clause.Gt{Column: clause.Column{Name: "expires_at"}, Value: p(argNow)})
			if bound {
				tx = tx.Where(jsonStringIs{column: "params", member: "client_id", value: p(argClientID)})
			}
			return tx.Find(&[]models.PushedAuthorizationRequest{})
		})
	}
	take := func(bound bool) (statement, error) {
		return render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
			tx = tx.Clauses(clause.Returning{Columns: []clause.Column{{Name: "params"}}}).
				Where(clause.Eq{Column: clause.Column{Name: "request_uri"}, Value: p(argKey)}).Where(clause.Gt{Column: clause.Column{Name: "expires_at"}, Value: p(argNow)})
			if bound {
				tx = tx.Where(jsonStringIs{column: "params", member: "client_id", value: p(argClientID)})
			}
			return tx.Delete(model)
		})
	}
	if s.fetch, err = read(false); err != nil {
		return s, fmt.Errorf("par fetch: %w", err)
	}
	if s.fetchForClient, err = read(true); err != nil {
		return s, fmt.Errorf("par fetch for client: %w", err)
	}
	if s.take, err = take(false); err != nil {
		return s, fmt.Errorf("par take: %w", err)
	}
	if s.takeForClient, err = take(true); err != nil {
		return s, fmt.Errorf("par take for client: %w", err)
	}
	// GORM's dialector renders RETURNING only where the server has it:
	// gorm.io/driver/mysql asks the server's version when it opens (MariaDB
	// 10.5 and later; never MySQL), and its DisableWithReturning turns it
	// off.
	s.returning = strings.Contains(s.take.text, "RETURNING")
	if !s.returning {
		if s.takeDelete, err = render(db, func(tx *gorm.DB, p func(arg) clause.Expression) *gorm.DB {
			return tx.Where(clause.Eq{Column: clause.Column{Name: "request_uri"}, Value: p(argKey)}).Where(clause.Gt{Column: clause.Column{Name: "expires_at"}, Value: p(argNow)}).Delete(model)
		}); err != nil {
			return s, fmt.Errorf("par take: %w", err)
		}
	}
	return s, nil
}

// readDocument runs st, a statement that returns at most one row of one
// JSON column, on db in ctx, and gives the stores' answer: a database
// error is an error, no row is a miss, and a row is its decoded document.
func readDocument(db *gorm.DB, st statement, a *args, op, keyField string) (map[string]any, bool, error) {
	doc, found, err := query(db, st, a)
	if err != nil {
		return nil, false, dbError(op, keyField, err)
	}
	if !found {
		return nil, false, nil
	}
	m, err := jsondoc.DecodeString(doc)
	if err != nil {
		return nil, false, fmt.Errorf("repo: %s: %w", op, err)
	}
	return m, true, nil
}

// query runs st on db, a session of storeDB.on, through GORM's Raw and
// Rows, so the caller's logger, plugins, TranslateError and DryRun see it,
// and returns the text of the first column of its row, if any.
func query(db *gorm.DB, st statement, a *args) (string, bool, error) {
	rows, err := db.Raw(st.text, st.bind(a)...).Rows()
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return "", false, rows.Err()
	}
	var doc string
	if err := rows.Scan(&doc); err != nil {
		return "", false, err
	}
	return doc, true, rows.Close()
}

// scanRow runs st on db, a session of storeDB.on, through GORM's Raw and
// Row, and scans its one row into dest; no row is sql.ErrNoRows.
func scanRow(db *gorm.DB, st statement, a *args, dest ...any) error {
	return db.Raw(st.text, st.bind(a)...).Row().Scan(dest...)
}

// exec runs st, a write, on db, a session of storeDB.on, through GORM's
// Exec and returns the rows it affected.
func exec(db *gorm.DB, st statement, a *args, op, keyField string) (int64, error) {
	res := db.Exec(st.text, st.bind(a)...)
	if res.Error != nil {
		return 0, dbError(op, keyField, res.Error)
	}
	if res.DryRun {
		// Nothing was written: say so, as Rows does of a read, rather than
		// acknowledge a write (or report a duplicate) that did not happen.
		return 0, dbError(op, keyField, gorm.ErrDryRunModeUnsupported)
	}
	return res.RowsAffected, nil
}
