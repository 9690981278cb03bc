package gormstore_test

import (
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// catalog is what PostgreSQL's catalog holds for one schema, as sorted
// lines that read well in a failure message.
type catalog struct {
	// Relations are "name kind": r for a table, i for an index.
	Relations []string
	// Columns are "table.column type", with " NOT NULL" when it is.
	Columns []string
	// Constraints are "table name definition". NOT NULL is in Columns:
	// PostgreSQL 18 also lists it here, earlier versions do not.
	Constraints []string
	// Indexes are "table definition", the schema name stripped.
	Indexes []string
}

const (
	relationsSQL = `SELECT c.relname || ' ' || c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ?
ORDER BY c.relname`

	columnsSQL = `SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ? AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum`

	constraintsSQL = `SELECT c.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
FROM pg_constraint co
JOIN pg_class c ON c.oid = co.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ? AND co.contype <> 'n'
ORDER BY c.relname, co.conname`

	indexesSQL = `SELECT t.relname || ' ' || pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = ?
ORDER BY t.relname, i.relname`
)

// readCatalog reads schema's catalog through db, which may be a
// transaction.
func readCatalog(t testing.TB, db *gorm.DB, schema string) catalog {
	t.Helper()
	c := catalog{
		Relations:   scanLines(t, db.Raw(relationsSQL, schema)),
		Columns:     scanLines(t, db.Raw(columnsSQL, schema)),
		Constraints: scanLines(t, db.Raw(constraintsSQL, schema)),
		Indexes:     scanLines(t, db.Raw(indexesSQL, schema)),
	}
	for i, def := range c.Indexes {
		c.Indexes[i] = strings.ReplaceAll(def, " ON "+schema+".", " ON ")
	}
	return c
}

// relations returns the names and kinds of every relation in schema.
func relations(t testing.TB, db *gorm.DB, schema string) []string {
	t.Helper()
	return scanLines(t, db.Raw(relationsSQL, schema))
}

// scanLines runs a catalog query of one text column.
func scanLines(t testing.TB, query *gorm.DB) []string {
	t.Helper()
	var lines []string
	if err := query.Scan(&lines).Error; err != nil {
		t.Fatalf("read catalog: %v", err)
	}
	return lines
}

func (c catalog) equal(o catalog) bool {
	return slices.Equal(c.Relations, o.Relations) &&
		slices.Equal(c.Columns, o.Columns) &&
		slices.Equal(c.Constraints, o.Constraints) &&
		slices.Equal(c.Indexes, o.Indexes)
}

func (c catalog) String() string {
	var b strings.Builder
	for _, part := range []struct {
		name  string
		lines []string
	}{
		{"relations", c.Relations},
		{"columns", c.Columns},
		{"constraints", c.Constraints},
		{"indexes", c.Indexes},
	} {
		b.WriteString("\n  " + part.name + ":")
		for _, l := range part.lines {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

// storesCatalog is the schema gormstore's tables have, whether AutoMigrate
// or the up migrations (000001_attesto_stores, 000002_dpop_replays)
// created them.
var storesCatalog = catalog{
	Relations: []string{
		"attesto_client_id_metadata r",
		"attesto_client_id_metadata_expires_at_index i",
		"attesto_client_id_metadata_pkey i",
		"attesto_pushed_authorization_requests r",
		"attesto_pushed_authorization_requests_expires_at_index i",
		"attesto_pushed_authorization_requests_pkey i",
		"dpop_replays r",
		"dpop_replays_expires_at_index i",
		"dpop_replays_pkey i",
	},
	Columns: []string{
		"attesto_client_id_metadata.url text NOT NULL",
		"attesto_client_id_metadata.metadata jsonb NOT NULL",
		"attesto_client_id_metadata.expires_at timestamp with time zone NOT NULL",
		"attesto_client_id_metadata.inserted_at timestamp with time zone NOT NULL",
		"attesto_pushed_authorization_requests.request_uri text NOT NULL",
		"attesto_pushed_authorization_requests.params jsonb NOT NULL",
		"attesto_pushed_authorization_requests.expires_at timestamp with time zone NOT NULL",
		"attesto_pushed_authorization_requests.inserted_at timestamp with time zone NOT NULL",
		"dpop_replays.jti text NOT NULL",
		"dpop_replays.expires_at timestamp with time zone NOT NULL",
	},
	Constraints: []string{
		"attesto_client_id_metadata attesto_client_id_metadata_pkey PRIMARY KEY (url)",
		"attesto_pushed_authorization_requests attesto_pushed_authorization_requests_pkey PRIMARY KEY (request_uri)",
		"dpop_replays dpop_replays_pkey PRIMARY KEY (jti)",
	},
	Indexes: []string{
		"attesto_client_id_metadata CREATE INDEX attesto_client_id_metadata_expires_at_index ON attesto_client_id_metadata USING btree (expires_at)",
		"attesto_client_id_metadata CREATE UNIQUE INDEX attesto_client_id_metadata_pkey ON attesto_client_id_metadata USING btree (url)",
		"attesto_pushed_authorization_requests CREATE INDEX attesto_pushed_authorization_requests_expires_at_index ON attesto_pushed_authorization_requests USING btree (expires_at)",
		"attesto_pushed_authorization_requests CREATE UNIQUE INDEX attesto_pushed_authorization_requests_pkey ON attesto_pushed_authorization_requests USING btree (request_uri)",
		"dpop_replays CREATE INDEX dpop_replays_expires_at_index ON dpop_replays USING btree (expires_at)",
		"dpop_replays CREATE UNIQUE INDEX dpop_replays_pkey ON dpop_replays USING btree (jti)",
	},
}

// phoenixCatalog is attesto_phoenix's schema, from
// testdata/attesto_phoenix_schema.sql: AutoMigrate must leave it as it is.
var phoenixCatalog = catalog{
	Relations: storesCatalog.Relations,
	Columns: []string{
		"attesto_client_id_metadata.url character varying(255) NOT NULL",
		"attesto_client_id_metadata.metadata jsonb NOT NULL",
		"attesto_client_id_metadata.expires_at timestamp(0) without time zone NOT NULL",
		"attesto_client_id_metadata.inserted_at timestamp(0) without time zone NOT NULL",
		"attesto_pushed_authorization_requests.request_uri character varying(255) NOT NULL",
		"attesto_pushed_authorization_requests.params jsonb NOT NULL",
		"attesto_pushed_authorization_requests.expires_at timestamp(0) without time zone NOT NULL",
		"attesto_pushed_authorization_requests.inserted_at timestamp(0) without time zone NOT NULL",
		"dpop_replays.jti character varying(255) NOT NULL",
		"dpop_replays.expires_at timestamp(0) without time zone NOT NULL",
	},
	Constraints: storesCatalog.Constraints,
	Indexes:     storesCatalog.Indexes,
}

// ofTable reports whether line, of a catalog or of a schema listing,
// describes table or one of its columns, constraints or indexes: each
// starts with the table's name, followed by '.', ' ' or, in the names of
// its key and indexes, '_'. No table's name is another's followed by
// '_'.
func ofTable(line string, tables []string) bool {
	for _, table := range tables {
		if rest, ok := strings.CutPrefix(line, table); ok && rest != "" && strings.ContainsRune("._ ", rune(rest[0])) {
			return true
		}
	}
	return false
}

// onlyLines keeps the lines of tables, in their order.
func onlyLines(lines []string, tables []string) []string {
	var out []string
	for _, l := range lines {
		if ofTable(l, tables) {
			out = append(out, l)
		}
	}
	return out
}

// only is c restricted to tables: what the catalog holds when those are
// the schema's only tables.
func (c catalog) only(tables ...string) catalog {
	return catalog{
		Relations:   onlyLines(c.Relations, tables),
		Columns:     onlyLines(c.Columns, tables),
		Constraints: onlyLines(c.Constraints, tables),
		Indexes:     onlyLines(c.Indexes, tables),
	}
}

// plus is c followed by o: the catalog of both, when each of o's tables
// sorts after each of c's, as the catalog queries order them.
func (c catalog) plus(o catalog) catalog {
	return catalog{
		Relations:   slices.Concat(c.Relations, o.Relations),
		Columns:     slices.Concat(c.Columns, o.Columns),
		Constraints: slices.Concat(c.Constraints, o.Constraints),
		Indexes:     slices.Concat(c.Indexes, o.Indexes),
	}
}
