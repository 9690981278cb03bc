package bench

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// The stores' statements on MariaDB 10.5 and later, by hand, as docs/sql.md
// shows them (TestMariaDBStatementsAreTheStores checks that the stores send
// exactly these). The two-step Take of a server without DELETE ...
// RETURNING (MySQL, or MariaDB opened with DisableWithReturning) reads
// with myPARFetchSQL, then deletes with myPARTakeDeleteSQL.
const (
	myCIMDGetSQL = "SELECT `metadata` FROM `attesto_client_id_metadata` WHERE `url` = ? AND `expires_at` > ?"
	myCIMDPutSQL = "INSERT INTO `attesto_client_id_metadata` (`expires_at`,`inserted_at`,`metadata`,`url`) VALUES (?,?,?,?) " +
		"ON DUPLICATE KEY UPDATE `metadata`=VALUES(`metadata`),`expires_at`=VALUES(`expires_at`)"
	myPARPutSQL        = "INSERT INTO `attesto_pushed_authorization_requests` (`expires_at`,`inserted_at`,`params`,`request_uri`) VALUES (?,?,?,?)"
	myPARFetchSQL      = "SELECT `params` FROM `attesto_pushed_authorization_requests` WHERE `request_uri` = ? AND `expires_at` > ?"
	myPARTakeSQL       = "DELETE FROM `attesto_pushed_authorization_requests` WHERE `request_uri` = ? AND `expires_at` > ? RETURNING `params`"
	myPARTakeDeleteSQL = "DELETE FROM `attesto_pushed_authorization_requests` WHERE `request_uri` = ? AND `expires_at` > ?"
)

// mysqlTimeLayout is how the stores bind a time on MariaDB/MySQL: UTC
// text, which the server reads into a DATETIME(6) as written, whatever
// the DSN's loc.
const mysqlTimeLayout = "2006-01-02 15:04:05.000000"

func mysqlTime(t time.Time) any { return t.UTC().Format(mysqlTimeLayout) }

// mysqlCIMD and mysqlPAR are the limit on MariaDB: the stores' statement
// per operation sent by hand over go-sql-driver/mysql on a database/sql
// pool of its own, opened from the same DSN as the stores' GORM, with the
// same arguments (times as UTC text) and the same work as pgx's: json.Marshal
// on the way in, the stores' decoder on the way out, no validation.
type mysqlCIMD struct{ db *sql.DB }

func (s mysqlCIMD) Get(ctx context.Context, url string) (map[string]any, bool, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, myCIMDGetSQL, url, mysqlTime(time.Now())).Scan(&doc)
	return decodeSQLRow(doc, err)
}

func (s mysqlCIMD) Put(ctx context.Context, url string, doc map[string]any, expiresAt time.Time) error {
	b, err := marshal(doc)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, myCIMDPutSQL, mysqlTime(expiresAt), mysqlTime(time.Now()), string(b), url)
	return err
}

// mysqlPAR's Take is one DELETE ... RETURNING, or with twoStep the read
// and then the DELETE whose affected-row count decides, as the store does
// on a server without RETURNING.
type mysqlPAR struct {
	db      *sql.DB
	twoStep bool
}

func (s mysqlPAR) Put(ctx context.Context, uri string, params map[string]any, ttl time.Duration) error {
	b, err := marshal(params)
	if err != nil {
		return err
	}
	now := time.Now()
	_, err = s.db.ExecContext(ctx, myPARPutSQL, mysqlTime(now.Add(ttl)), mysqlTime(now), string(b), uri)
	return err
}

func (s mysqlPAR) Fetch(ctx context.Context, uri string) (map[string]any, bool, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, myPARFetchSQL, uri, mysqlTime(time.Now())).Scan(&doc)
	return decodeSQLRow(doc, err)
}

func (s mysqlPAR) Take(ctx context.Context, uri string) (map[string]any, bool, error) {
	now := mysqlTime(time.Now())
	var doc string
	if !s.twoStep {
		err := s.db.QueryRowContext(ctx, myPARTakeSQL, uri, now).Scan(&doc)
		return decodeSQLRow(doc, err)
	}
	err := s.db.QueryRowContext(ctx, myPARFetchSQL, uri, now).Scan(&doc)
	if err != nil {
		return decodeSQLRow(doc, err)
	}
	res, err := s.db.ExecContext(ctx, myPARTakeDeleteSQL, uri, now)
	if err != nil {
		return nil, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, false, err
	}
	return decodeRow(doc, nil)
}

// myInternalStatements are the internal path's statements on MariaDB.
// (7dfbb3f refused MariaDB; on it, the baseline is the same mechanics
// with the statements the stores now send there.)
var myInternalStatements = internalStatements{
	cimdGet: myCIMDGetSQL, cimdPut: myCIMDPutSQL, parPut: myPARPutSQL, parFetch: myPARFetchSQL, parTake: myPARTakeSQL,
}

// myEnv is one MariaDB database holding the stores' tables, the stores on
// GORM (gorm.io/driver/mysql, opened as GORM's documentation opens it),
// the PAR store again on a GORM opened with DisableWithReturning (the
// two-step Take), and a go-sql-driver pool for the statements by hand;
// every pool has poolSize connections.
type myEnv struct {
	gorm, gormTwoStep *gorm.DB
	sql               *sql.DB
	cache             *repo.GormClientIDMetadataCache
	par, parTwoStep   *repo.GormPARStore
}

// openMariaDB creates a database on the server at TEST_MYSQL_URL, dropped
// when tb ends, with the stores' tables, and opens every pool on it.
func openMariaDB(tb testing.TB) *myEnv {
	tb.Helper()
	cfg := testdb.MySQLConfig(tb, testdb.MySQLDatabase(tb))
	dsn := cfg.FormatDSN()
	e := &myEnv{}
	open := func(d gorm.Dialector) *gorm.DB {
		db, err := gorm.Open(d, &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
		if err != nil {
			tb.Fatalf("gorm on MariaDB: %v (is MariaDB up at TEST_MYSQL_URL? bash scripts/bench.sh starts one)", err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			tb.Fatal(err)
		}
		sqlDB.SetMaxOpenConns(poolSize)
		sqlDB.SetMaxIdleConns(poolSize)
		tb.Cleanup(func() { sqlDB.Close() })
		return db
	}
	e.gorm = open(mysql.Open(dsn))
	e.gormTwoStep = open(mysql.New(mysql.Config{DSN: dsn, DisableWithReturning: true}))
	testdb.CreateMySQLTables(tb, e.gorm)

	connector, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e.sql = sql.OpenDB(connector)
	e.sql.SetMaxOpenConns(poolSize)
	e.sql.SetMaxIdleConns(poolSize)
	tb.Cleanup(func() { e.sql.Close() })

	if e.cache, err = repo.NewGormClientIDMetadataCache(e.gorm, nil); err != nil {
		tb.Fatal(err)
	}
	if e.par, err = repo.NewGormPARStore(e.gorm, nil); err != nil {
		tb.Fatal(err)
	}
	if e.parTwoStep, err = repo.NewGormPARStore(e.gormTwoStep, nil); err != nil {
		tb.Fatal(err)
	}
	return e
}

// Seeding statements on MariaDB: n rows keyed prefix || i for i in [0, n)
// (n at most a million), expiring after the given number of seconds
// (negative for expired rows). MariaDB caps a recursive CTE's iterations
// (max_recursive_iterations, 1000 on Debian), so the counter is a product
// of two counters to 1000.
const (
	mySeedCIMDSQL = "INSERT INTO attesto_client_id_metadata (url, metadata, expires_at, inserted_at) " +
		"WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 999) " +
		"SELECT CONCAT(?, a.i * 1000 + b.i), ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, UTC_TIMESTAMP(6) " +
		"FROM d a JOIN d b WHERE a.i <= (? - 1) DIV 1000 AND a.i * 1000 + b.i < ?"
	mySeedPARSQL = "INSERT INTO attesto_pushed_authorization_requests (request_uri, params, expires_at, inserted_at) " +
		"WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 999) " +
		"SELECT CONCAT(?, a.i * 1000 + b.i), ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, UTC_TIMESTAMP(6) " +
		"FROM d a JOIN d b WHERE a.i <= (? - 1) DIV 1000 AND a.i * 1000 + b.i < ?"
)

// seedMariaDB inserts n rows of doc into table (cimdTable or parTable),
// keyed prefix || i, expiring in seconds, and returns their keys.
func seedMariaDB(tb testing.TB, e *myEnv, table seedTable, prefix string, doc []byte, seconds, n int) []string {
	tb.Helper()
	if n > 1_000_000 {
		tb.Fatalf("seedMariaDB: %d rows, at most a million", n)
	}
	ctx := context.Background()
	var err error
	var res sql.Result
	switch table {
	case cimdTable:
		res, err = e.sql.ExecContext(ctx, mySeedCIMDSQL, prefix, string(doc), seconds, n, n)
	case parTable:
		res, err = e.sql.ExecContext(ctx, mySeedPARSQL, prefix, string(doc), seconds, n, n)
	default:
		err = errors.New("no such table on MariaDB")
	}
	if err == nil {
		var got int64
		if got, err = res.RowsAffected(); err == nil && got != int64(n) {
			err = errors.New("seeded " + itoa(int(got)) + " rows, want " + itoa(n))
		}
	}
	if err != nil {
		tb.Fatalf("seed MariaDB: %v", err)
	}
	return keys(prefix, n)
}

// BenchmarkRatioMariaDB races, call by call as BenchmarkRatio does on
// PostgreSQL, each store operation on MariaDB against the same statement
// sent by hand over go-sql-driver/mysql (go-sql-driver), and against the
// stores' previous call path (internal-path); and the two-step Take of a
// server without DELETE ... RETURNING (the PAR store on a GORM opened with
// DisableWithReturning) against its two statements by hand. The database
// is created for the run and dropped after it.
func BenchmarkRatioMariaDB(b *testing.B) {
	skipShort(b)
	e := openMariaDB(b)
	d := docs(b)
	id := runID()
	const hour = 3600
	impls := []string{"gormstore", "go-sql-driver", "internal-path"}
	live, misses, requests := map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, impl := range impls {
		live[impl] = seedMariaDB(b, e, cimdTable, "https://ratio-"+impl+"-"+id+".example/client/", d.cimdJSON, hour, hotKeys)
		// Half of the misses are absent keys, half expired rows.
		misses[impl] = append(keys("https://absent-"+impl+"-"+id+".example/client/", hotKeys/2),
			seedMariaDB(b, e, cimdTable, "https://expired-"+impl+"-"+id+".example/client/", d.cimdJSON, -hour, hotKeys/2)...)
		requests[impl] = seedMariaDB(b, e, parTable, "urn:ietf:params:oauth:request_uri:ratio-"+impl+"-"+id+"-", d.parJSON, hour, hotKeys)
	}

	handC, handP := mysqlCIMD{e.sql}, mysqlPAR{db: e.sql}
	intC := internalCIMD{newInternalDB(e.gorm), myInternalStatements, mysqlTime}
	intP := internalPAR{newInternalDB(e.gorm), myInternalStatements, mysqlTime}
	expiresAt := time.Now().Add(time.Hour)
	// One live row per contender and call, each taken once.
	takeable := func(b *testing.B, impl string) []string {
		return seedMariaDB(b, e, parTable, "urn:ietf:params:oauth:request_uri:take-"+impl+"-"+runID()+"-", d.parJSON, hour, b.N)
	}
	bases := []string{"go-sql-driver"}

	b.Run("op=cimd-get-hit", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", live["gormstore"], true, found(e.cache.Get)),
			lookupOp("go-sql-driver", live["go-sql-driver"], true, found(handC.Get)),
			lookupOp("internal-path", live["internal-path"], true, found(intC.Get)))
	})
	b.Run("op=cimd-get-miss", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", misses["gormstore"], false, found(e.cache.Get)),
			lookupOp("go-sql-driver", misses["go-sql-driver"], false, found(handC.Get)),
			lookupOp("internal-path", misses["internal-path"], false, found(intC.Get)))
	})
	b.Run("op=cimd-put-insert", func(b *testing.B) {
		race(b, bases,
			writeOp("gormstore", freshURLs(b, "gormstore"), d.cimdPut(e.cache, expiresAt)),
			writeOp("go-sql-driver", freshURLs(b, "hand"), d.cimdPut(handC, expiresAt)),
			writeOp("internal-path", freshURLs(b, "internal"), d.cimdPut(intC, expiresAt)))
	})
	b.Run("op=cimd-put-upsert", func(b *testing.B) {
		race(b, bases,
			writeOp("gormstore", live["gormstore"], d.cimdPut(e.cache, expiresAt)),
			writeOp("go-sql-driver", live["go-sql-driver"], d.cimdPut(handC, expiresAt)),
			writeOp("internal-path", live["internal-path"], d.cimdPut(intC, expiresAt)))
	})
	b.Run("op=par-put", func(b *testing.B) {
		race(b, bases,
			writeOp("gormstore", freshURIs(b, "gormstore"), d.parPut(e.par)),
			writeOp("go-sql-driver", freshURIs(b, "hand"), d.parPut(handP)),
			writeOp("internal-path", freshURIs(b, "internal"), d.parPut(intP)))
	})
	b.Run("op=par-fetch", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", requests["gormstore"], true, found(e.par.Fetch)),
			lookupOp("go-sql-driver", requests["go-sql-driver"], true, found(handP.Fetch)),
			lookupOp("internal-path", requests["internal-path"], true, found(intP.Fetch)))
	})
	b.Run("op=par-take", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", takeable(b, "gormstore"), true, found(e.par.Take)),
			lookupOp("go-sql-driver", takeable(b, "hand"), true, found(handP.Take)),
			lookupOp("internal-path", takeable(b, "internal"), true, found(intP.Take)))
	})
	b.Run("op=par-take-two-step", func(b *testing.B) {
		race(b, bases,
			lookupOp("gormstore", takeable(b, "gormstore"), true, found(e.parTwoStep.Take)),
			lookupOp("go-sql-driver", takeable(b, "hand"), true, found(mysqlPAR{db: e.sql, twoStep: true}.Take)))
	})
}
