package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/internal/dialect"
)

// The statements of stats. The table is a clause.Table argument, so the
// dialect quotes it; times are bound as the dialect compares them (text
// on SQLite and MySQL).
const (
	// countSQL: a row is live while expires_at is after now, as the
	// stores' reads decide. count(CASE ...) rather than FILTER, which
	// MariaDB and MySQL lack.
	countSQL = "SELECT count(CASE WHEN expires_at > ? THEN 1 END), count(CASE WHEN expires_at <= ? THEN 1 END), min(expires_at) FROM ?"
	// pgSizesSQL: the table with its TOAST and maps, and all its indexes.
	// to_regclass resolves the bound name through the search_path, as the
	// stores' statements do.
	pgSizesSQL = "SELECT pg_table_size(to_regclass(?)), pg_indexes_size(to_regclass(?))"
	// mysqlSizesSQL: InnoDB's estimates, as of the table's last
	// statistics update (ANALYZE TABLE, or enough changed rows).
	mysqlSizesSQL = "SELECT coalesce(data_length, 0), coalesce(index_length, 0) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	// SQLite has per-table sizes only in builds with the dbstat virtual
	// table; the pure-Go driver's has none, and then the sizes are
	// reported as unknown.
	sqliteHasDBStatSQL = "SELECT count(*) > 0 FROM pragma_module_list WHERE name = 'dbstat'"
	sqliteTableSizeSQL = "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?"
	sqliteIndexSizeSQL = "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?)"
	sqliteFileSizeSQL  = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
)

// tableStats is one table's line of the report.
type tableStats struct {
	Table   string `json:"table"`
	Live    int64  `json:"live"`
	Expired int64  `json:"expired"`
	// OldestExpiry is the earliest expires_at of any row: in the past, how
	// long expired rows have waited for the sweeper. Nil when empty.
	OldestExpiry *time.Time `json:"oldest_expiry"`
	// TableBytes and IndexBytes are nil where the database cannot tell.
	TableBytes *int64 `json:"table_bytes"`
	IndexBytes *int64 `json:"index_bytes"`
}

type statsReport struct {
	Dialect  string       `json:"dialect"`
	Database string       `json:"database"`
	Now      time.Time    `json:"now"`
	Tables   []tableStats `json:"tables"`
	// FileBytes is a SQLite database's whole file, every table in it.
	FileBytes *int64 `json:"file_bytes,omitempty"`
}

func (c *cli) stats(ctx context.Context, args []string) error {
	flags := newFlagSet("stats", "[--dsn DSN] [--json]",
		`Reports, per table of the stores: the live and the expired rows (expired ones
wait for the sweeper), the oldest expiry, and the table's and its indexes' size
on disk: PostgreSQL's exact sizes, MySQL/MariaDB's InnoDB estimates (as of the
table's last statistics update), and on SQLite the file's size, its per-table
sizes being unknown without the dbstat table.
`)
	asJSON := flags.Bool("json", false, "print one JSON object instead of the table")
	if err := flags.parse(c.stdout, args); err != nil {
		return err
	}
	t, err := c.target(*flags.dsn)
	if err != nil {
		return err
	}
	ctx, stop := c.interruptible(ctx)
	defer stop()
	db, err := open(ctx, t, mustExist, 2)
	if err != nil {
		return err
	}
	defer closeDB(db)
	if err := requireTables(ctx, db, t); err != nil {
		return err
	}
	report, err := collectStats(ctx, db, t, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		// A DSN's '&' as it is, not \u0026.
		enc.SetEscapeHTML(false)
		return enc.Encode(report)
	}
	report.print(c.stdout)
	return nil
}

func collectStats(ctx context.Context, db *gorm.DB, t target, now time.Time) (statsReport, error) {
	db = db.WithContext(ctx)
	kind := dialect.Of(db)
	r := statsReport{Dialect: dialectName(kind), Database: t.display, Now: now.UTC()}
	dbstat := false
	if kind == dialect.SQLite {
		// A build without pragma_module_list cannot say: sizes unknown.
		_ = db.Raw(sqliteHasDBStatSQL).Row().Scan(&dbstat)
		var size int64
		if err := db.Raw(sqliteFileSizeSQL).Row().Scan(&size); err != nil {
			return r, fmt.Errorf("database size: %w", err)
		}
		r.FileBytes = &size
	}
	for _, name := range tables {
		s := tableStats{Table: name}
		var oldest any
		err := db.Raw(countSQL, kind.Time(now), kind.Time(now), clause.Table{Name: name}).Row().Scan(&s.Live, &s.Expired, &oldest)
		if err != nil {
			return r, fmt.Errorf("count %s: %w", name, err)
		}
		if s.OldestExpiry, err = scanTime(kind, oldest); err != nil {
			return r, fmt.Errorf("oldest expiry of %s: %w", name, err)
		}
		var tableBytes, indexBytes int64
		switch {
		case kind == dialect.Postgres:
			err = db.Raw(pgSizesSQL, name, name).Row().Scan(&tableBytes, &indexBytes)
		case kind == dialect.MySQL:
			err = db.Raw(mysqlSizesSQL, name).Row().Scan(&tableBytes, &indexBytes)
		case dbstat:
			err = db.Raw(sqliteTableSizeSQL, name).Row().Scan(&tableBytes)
			if err == nil {
				err = db.Raw(sqliteIndexSizeSQL, name).Row().Scan(&indexBytes)
			}
		default:
			r.Tables = append(r.Tables, s)
			continue
		}
		if err != nil {
			return r, fmt.Errorf("size of %s: %w", name, err)
		}
		s.TableBytes, s.IndexBytes = &tableBytes, &indexBytes
		r.Tables = append(r.Tables, s)
	}
	return r, nil
}

// scanTime reads min(expires_at): a time from PostgreSQL; the stores'
// fixed-width UTC text from SQLite, and from MySQL without parseTime; NULL
// from an empty table. With parseTime, the MySQL driver reads the UTC the
// stores wrote as a wall clock in the DSN's loc: the wall clock is UTC's.
func scanTime(kind dialect.Kind, v any) (*time.Time, error) {
	var t time.Time
	switch v := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		t = v.UTC()
		if kind == dialect.MySQL {
			t = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
		}
	case string:
		return parseSQLiteTime(v)
	case []byte:
		return parseSQLiteTime(string(v))
	default:
		return nil, fmt.Errorf("unexpected %T", v)
	}
	return &t, nil
}

func parseSQLiteTime(s string) (*time.Time, error) {
	t, err := time.Parse(dialect.SQLiteTimeLayout, s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a time as the stores write them: %w", s, err)
	}
	return &t, nil
}

func dialectName(k dialect.Kind) string {
	switch k {
	case dialect.Postgres:
		return "postgres"
	case dialect.MySQL:
		return "mysql"
	}
	return "sqlite"
}

// databaseLabel names a database in messages and a report's heading: a
// URL says what it is; a keyword/value or MySQL DSN and a SQLite file get
// the dialect's name before them.
func databaseLabel(dialect, database string) string {
	if strings.Contains(database, "://") {
		return database
	}
	return dialect + " " + database
}

func (r statsReport) print(w io.Writer) {
	fmt.Fprintf(w, "%s at %s\n\n", databaseLabel(r.Dialect, r.Database), r.Now.Format(time.RFC3339))
	rows := [][]string{{"table", "live", "expired", "oldest expiry", "table size", "index size"}}
	for _, s := range r.Tables {
		rows = append(rows, []string{s.Table, fmt.Sprint(s.Live), fmt.Sprint(s.Expired),
			expiryText(s.OldestExpiry, r.Now), sizeText(s.TableBytes), sizeText(s.IndexBytes)})
	}
	writeTable(w, rows)
	if r.FileBytes != nil {
		note := ""
		if len(r.Tables) > 0 && r.Tables[0].TableBytes == nil {
			note = " (this SQLite build has no per-table sizes)"
		}
		fmt.Fprintf(w, "\ndatabase file: %s, all tables%s\n", sizeText(r.FileBytes), note)
	}
}

// expiryText is t and how far it is from now.
func expiryText(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return fmt.Sprintf("%s (%s ago)", t.Format(time.RFC3339), -d)
	}
	return fmt.Sprintf("%s (in %s)", t.Format(time.RFC3339), d)
}

// sizeText is n bytes in binary units, "n/a" when unknown.
func sizeText(n *int64) string {
	if n == nil {
		return "n/a"
	}
	const unit = 1024
	v := float64(*n)
	if v < unit {
		return fmt.Sprintf("%d B", *n)
	}
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		if v < unit {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%.1f PiB", v/unit)
}
