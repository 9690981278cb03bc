package sweeper_test

import (
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/internal/testdb"
)

// openSQLite returns n pools on one fresh SQLite file holding the stores'
// tables: n processes sharing it.
func openSQLite(t *testing.T, n, maxConns int) []*gorm.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.db")
	nodes := make([]*gorm.DB, n)
	for i := range nodes {
		nodes[i] = testdb.OpenSQLite(t, path)
		pool, err := nodes[i].DB()
		if err != nil {
			t.Fatal(err)
		}
		pool.SetMaxOpenConns(maxConns)
	}
	testdb.CreateTables(t, nodes[0])
	return nodes
}

// seedSQLite is seed on SQLite, with the times in the stores' UTC text
// (dialect.SQLiteTimeLayout): n rows keyed prefix1 … prefixN, where row i
// expires at first + (i-1)×step, in one statement. step is kept to the
// millisecond.
func seedSQLite(t testing.TB, db *gorm.DB, tb table, prefix string, n int, first time.Time, step time.Duration) {
	t.Helper()
	// strftime's %f has milliseconds; the stores write microseconds.
	at := "strftime('%Y-%m-%d %H:%M:%f', ?, printf('%+.3f seconds', (i - 1) * ?)) || '000'"
	cols := tb.key + ", expires_at"
	vals := "? || i, " + at
	args := []any{prefix, dialect.SQLiteTime(first), step.Seconds()}
	if tb.doc != "" {
		cols += ", " + tb.doc + ", inserted_at"
		vals += `, '{"client_id": "x"}', ?`
		args = append(args, dialect.SQLiteTime(first.Add(-24*time.Hour)))
	}
	args = append([]any{n}, args...)
	// The table and column names are the test's own constants.
	testdb.MustExec(t, db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "+
		"INSERT INTO "+quote(tb.name)+" ("+cols+") SELECT "+vals+" FROM s", args...)
}
