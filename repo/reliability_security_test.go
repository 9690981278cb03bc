package repo_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
)

// statementLog records the SQL text and arguments of every statement GORM
// runs on a pool, whatever API the stores use to run it.
type statementLog struct {
	mu    sync.Mutex
	stmts []loggedStatement
}

type loggedStatement struct {
	sql  string
	vars []any
}

func recordStatements(t *testing.T, db *gorm.DB) *statementLog {
	t.Helper()
	l := &statementLog{}
	record := func(tx *gorm.DB) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.stmts = append(l.stmts, loggedStatement{tx.Statement.SQL.String(), append([]any(nil), tx.Statement.Vars...)})
	}
	cb := db.Callback()
	for name, err := range map[string]error{
		"create": cb.Create().After("gorm:create").Register("reliability:record", record),
		"query":  cb.Query().After("gorm:query").Register("reliability:record", record),
		"update": cb.Update().After("gorm:update").Register("reliability:record", record),
		"delete": cb.Delete().After("gorm:delete").Register("reliability:record", record),
		"row":    cb.Row().After("gorm:row").Register("reliability:record", record),
		"raw":    cb.Raw().After("gorm:raw").Register("reliability:record", record),
	} {
		if err != nil {
			t.Fatalf("register the %s callback: %v", name, err)
		}
	}
	return l
}

func (l *statementLog) take() []loggedStatement {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stmts
	l.stmts = nil
	return s
}

// Caller input reaches the database only as bind parameters, and every
// lookup is an equality on the primary key. Complements the source scan
// (internal/sqlcheck) at run time: keys and client_ids full of SQL and
// pattern syntax, carrying a marker, go through every operation; the
// marker must show up in the statements' arguments and never in their
// text, and no statement may match by pattern.
func TestReliabilityCallerInputIsOnlyBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	// The stores render their statements in dry-run mode when they are
	// made; what is recorded here is what they run.
	c, p := stores(t, db, nil)
	log := recordStatements(t, db)
	const marker = "ZQXMARKERZQX"
	keys := []string{
		marker + `'; DELETE FROM attesto_client_id_metadata; --`,
		marker + `%`, marker + `_`, `%` + marker, marker + `' OR '1'='1`, marker + `$1`, marker + `\`,
	}
	for _, k := range keys {
		_ = c.Put(ctx, k, map[string]any{"k": k}, time.Now().Add(time.Hour))
		_, _, _ = c.Get(ctx, k)
		_ = c.Delete(ctx, k)
		_ = p.Put(ctx, k, map[string]any{"client_id": k}, time.Minute)
		_, _, _ = p.Fetch(ctx, k)
		_, _, _ = p.FetchForClient(ctx, k, k)
		_, _, _ = p.TakeForClient(ctx, k, marker+"%")
		_, _, _ = p.Take(ctx, k)
	}
	_ = c.DeleteAll(ctx)

	stmts := log.take()
	// 7 keys x 8 operations, and DeleteAll: each one statement.
	if want := len(keys)*8 + 1; len(stmts) != want {
		t.Errorf("%d statements recorded, want %d (one per operation)", len(stmts), want)
	}
	keyPredicate := regexp.MustCompile(`\b(url|request_uri)"? = \$1\b`)
	pattern := regexp.MustCompile(`(?i)\b(I?LIKE|SIMILAR\s+TO)\b|!?~~?\*?\s*\$|\bregexp_`)
	bound := 0
	for _, s := range stmts {
		if strings.Contains(s.sql, marker) {
			t.Errorf("caller input spliced into SQL text: %s", s.sql)
		}
		if pattern.MatchString(s.sql) {
			t.Errorf("a statement matches by pattern: %s", s.sql)
		}
		if strings.HasPrefix(s.sql, "SELECT") || (strings.HasPrefix(s.sql, "DELETE") && strings.Contains(s.sql, "WHERE")) {
			if !keyPredicate.MatchString(s.sql) {
				t.Errorf("a lookup without an equality on the primary key as its first parameter: %s", s.sql)
			}
		}
		if n := strings.Count(s.sql, "$"); n != len(s.vars) {
			t.Errorf("%d placeholders and %d arguments in %s", n, len(s.vars), s.sql)
		}
		for _, v := range s.vars {
			if str, ok := v.(string); ok && strings.Contains(str, marker) {
				bound++
				break
			}
		}
	}
	if want := len(keys) * 8; bound != want {
		t.Errorf("%d statements carried the caller's key as an argument, want %d", bound, want)
	}
	t.Logf("%d statements from %d hostile keys: caller input in SQL text 0, pattern matches 0, key bound as a parameter in %d", len(stmts), len(keys), bound)
}

// Every lookup uses the primary key's index: on tables of 10,000 rows each,
// 1,200 lookups of six kinds (hits, and misses by wildcard keys) scan the
// primary key indexes at least 1,200 times, the expires_at indexes never,
// and no table sequentially.
func TestReliabilityLookupsUseThePrimaryKeyIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := testdb.Schema(t)
	admin := testdb.Open(t, schema, 1)
	testdb.CreateTables(t, admin)
	const rows = 10000
	testdb.MustExec(t, admin, `INSERT INTO attesto_client_id_metadata (url, metadata, expires_at, inserted_at)
		SELECT 'https://c.example/' || i, jsonb_build_object('i', i), now() + interval '1 hour', now() FROM generate_series(1, ?) i`, rows)
	testdb.MustExec(t, admin, `INSERT INTO attesto_pushed_authorization_requests (request_uri, params, expires_at, inserted_at)
		SELECT 'urn:r:' || i, jsonb_build_object('client_id', 'c' || i), now() + interval '1 hour', now() FROM generate_series(1, ?) i`, rows)
	testdb.MustExec(t, admin, `ANALYZE attesto_client_id_metadata`)
	testdb.MustExec(t, admin, `ANALYZE attesto_pushed_authorization_requests`)

	// One connection, so that forcing its statistics out covers every
	// lookup.
	db := testdb.Open(t, schema, 1)
	c, p := stores(t, db, nil)
	// The setup's own scans (GORM's migrator reads the new tables) are
	// counted when its connection flushes its statistics: force that now,
	// so that they fall before the first reading (the flush happens as the
	// connection goes idle, before the next statement).
	testdb.MustExec(t, admin, `SELECT pg_stat_force_next_flush()`)
	// Another connection of the shared admin pool may still hold counts of
	// its own, flushed at most once a second: read until two readings a
	// flush interval apart agree.
	before := scanCounters(t, admin, schema)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(1100 * time.Millisecond)
		again := scanCounters(t, admin, schema)
		if maps.Equal(before, again) {
			break
		}
		before = again
	}
	lookups := 0
	for i := 1; i <= 100; i++ {
		// A hit, and misses by keys that a pattern match would find.
		for _, k := range []string{fmt.Sprint(i), fmt.Sprintf("%d%%", i), fmt.Sprintf("_%d", i)} {
			_, _, err1 := c.Get(ctx, "https://c.example/"+k)
			_, _, err2 := p.Fetch(ctx, "urn:r:"+k)
			_, _, err3 := p.FetchForClient(ctx, "urn:r:"+k, "c"+k)
			lookups += 3
			if err := firstErr(err1, err2, err3); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err1 := p.TakeForClient(ctx, "urn:r:"+fmt.Sprint(i), "c"+fmt.Sprint(i))
		_, _, err2 := p.Take(ctx, "urn:r:"+fmt.Sprint(i+100))
		err3 := c.Delete(ctx, "https://c.example/"+fmt.Sprint(i+100))
		lookups += 3
		if err := firstErr(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
	}
	testdb.MustExec(t, db, `SELECT pg_stat_force_next_flush()`)
	var after map[string]int64
	for deadline := time.Now().Add(10 * time.Second); ; {
		after = scanCounters(t, admin, schema)
		if after["pkey"]-before["pkey"] >= int64(lookups) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	pkey, expires, seq := after["pkey"]-before["pkey"], after["expires"]-before["expires"], after["seq"]-before["seq"]
	if pkey < int64(lookups) || expires != 0 || seq != 0 {
		t.Errorf("%d lookups: %d primary key index scans, %d expires_at index scans, %d sequential scans; want >= %d, 0, 0",
			lookups, pkey, expires, seq, lookups)
	}
	t.Logf("%d lookups on 2 x %d rows: %d primary key index scans, %d expires_at index scans, %d sequential scans", lookups, rows, pkey, expires, seq)
}

// scanCounters sums the scan counters of schema's tables and indexes.
func scanCounters(t *testing.T, admin *gorm.DB, schema string) map[string]int64 {
	t.Helper()
	var out struct{ Pkey, Expires, Seq int64 }
	err := admin.Raw(`SELECT
		(SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = ? AND indexrelname LIKE '%\_pkey') AS pkey,
		(SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = ? AND indexrelname LIKE '%\_expires\_at\_index') AS expires,
		(SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_user_tables WHERE schemaname = ?) AS seq`, schema, schema, schema).Scan(&out).Error
	if err != nil {
		t.Fatal(err)
	}
	return map[string]int64{"pkey": out.Pkey, "expires": out.Expires, "seq": out.Seq}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
