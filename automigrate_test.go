package gormstore_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
)

// migrateLockKey is the advisory lock AutoMigrate takes. It is part of the
// protocol between nodes: nodes of two versions migrate one after another
// only while they agree on it, so a change must fail a test.
const migrateLockKey int64 = 0x401249bc6fbae74c

// recordedAutoMigrate runs AutoMigrate on db and returns every statement
// it ran.
func recordedAutoMigrate(t testing.TB, db *gorm.DB) []string {
	t.Helper()
	rec := &testdb.Recorder{}
	autoMigrate(t, rec.On(db))
	var stmts []string
	for _, s := range rec.Statements() {
		stmts = append(stmts, s.Query)
	}
	if len(stmts) == 0 {
		t.Fatal("AutoMigrate ran no statement through the recorder")
	}
	return stmts
}

var (
	ddl         = regexp.MustCompile(`(?i)\b(CREATE|ALTER|DROP|COMMENT)\b`)
	createTable = regexp.MustCompile(`(?i)\bCREATE\s+TABLE\b`)
)

func matching(re *regexp.Regexp, stmts []string) []string {
	var out []string
	for _, s := range stmts {
		if re.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}

func TestAutoMigrateCreatesTables(t *testing.T) {
	t.Parallel()
	schema := testdb.Schema(t)
	db := testdb.Open(t, schema, 2)
	if got := relations(t, db, schema); len(got) != 0 {
		t.Fatalf("fresh schema holds %q", got)
	}

	autoMigrate(t, db)

	if got := readCatalog(t, db, schema); !got.equal(storesCatalog) {
		t.Errorf("catalog:%v\nwant:%v", got, storesCatalog)
	}
}

// A run that finds the schema in place issues no DDL, so it takes no
// lock that would stall the stores' traffic at every start-up.
func TestAutoMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(testing.TB, *gorm.DB)
	}{
		{"after AutoMigrate", func(t testing.TB, db *gorm.DB) {
			first := recordedAutoMigrate(t, db)
			if len(matching(createTable, first)) != 3 {
				t.Fatalf("the first run created %d tables, want 3; it ran:\n%q", len(matching(createTable, first)), first)
			}
		}},
		{"after the up migrations", func(t testing.TB, db *gorm.DB) { migrateUp(t, db, gormstore.PostgresMigrations) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			db := testdb.Open(t, schema, 2)
			tc.setup(t, db)

			again := recordedAutoMigrate(t, db)

			if got := matching(ddl, again); len(got) != 0 {
				t.Errorf("the second run issued DDL:\n%q", got)
			}
			if got := readCatalog(t, db, schema); !got.equal(storesCatalog) {
				t.Errorf("catalog:%v\nwant:%v", got, storesCatalog)
			}
		})
	}
}

// Every node runs AutoMigrate at start-up, so many may run it at once on
// an empty database: all succeed and the schema is created once.
//
// Servers whose default isolation is stricter must not change that: a
// node that waited for the lock in a repeatable-read snapshot would miss
// the tables the holder created.
func TestAutoMigrateConcurrentNodes(t *testing.T) {
	t.Parallel()
	const nodes = 8
	for _, tc := range []struct {
		isolation string // the sessions' default_transaction_isolation; "" the server's
		schemas   int
	}{
		{"", 5},
		{"repeatable read", 3},
		{"serializable", 3},
	} {
		for i := range tc.schemas {
			// One schema after the other: nodes*schemas connections at once
			// would crowd the shared server.
			t.Run(fmt.Sprintf("%s schema %d", cmp.Or(tc.isolation, "default"), i+1), func(t *testing.T) {
				concurrentNodes(t, nodes, tc.isolation)
			})
		}
	}
}

func concurrentNodes(t *testing.T, nodes int, isolation string) {
	t.Helper()
	schema := testdb.Schema(t)
	var params url.Values
	if isolation != "" {
		params = url.Values{"default_transaction_isolation": {isolation}}
	}
	pools := make([]*gorm.DB, nodes)
	for n := range pools {
		pools[n] = testdb.OpenParams(t, schema, 1, params)
	}

	start := make(chan struct{})
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for n, db := range pools {
		wg.Go(func() {
			<-start
			errs[n] = gormstore.AutoMigrate(context.Background(), db)
		})
	}
	close(start)
	wg.Wait()

	for n, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", n, err)
		}
	}
	if got := readCatalog(t, pools[nodes-1], schema); !got.equal(storesCatalog) {
		t.Errorf("catalog:%v\nwant:%v", got, storesCatalog)
	}
}

// attesto_phoenix's tables have varchar(255) keys and timestamp(0)
// columns where the models say text and timestamptz: AutoMigrate must not
// rewrite them under a running Elixir node.
func TestAutoMigrateLeavesPhoenixTablesAlone(t *testing.T) {
	t.Parallel()
	schema := testdb.Schema(t)
	db := testdb.Open(t, schema, 2)
	testdb.CreateLegacyTables(t, db)
	if got := readCatalog(t, db, schema); !got.equal(phoenixCatalog) {
		t.Fatalf("testdata's schema:%v\nwant:%v", got, phoenixCatalog)
	}

	stmts := recordedAutoMigrate(t, db)

	if got := matching(ddl, stmts); len(got) != 0 {
		t.Errorf("AutoMigrate issued DDL on attesto_phoenix's tables:\n%q", got)
	}
	if got := readCatalog(t, db, schema); !got.equal(phoenixCatalog) {
		t.Errorf("catalog:%v\nwant:%v", got, phoenixCatalog)
	}
}

// A schema missing an index or a table gets it back, and the rest stays
// as it was.
func TestAutoMigrateCreatesWhatIsMissing(t *testing.T) {
	t.Parallel()
	const (
		cimdIndex   = "attesto_client_id_metadata_expires_at_index"
		parIndex    = "attesto_pushed_authorization_requests_expires_at_index"
		replayIndex = "dpop_replays_expires_at_index"
	)
	dropIndex := func(name string) func(testing.TB, *gorm.DB) {
		return func(t testing.TB, db *gorm.DB) {
			testdb.MustExec(t, db, "DROP INDEX ?", clause.Table{Name: name})
		}
	}
	dropTable := func(name string) func(testing.TB, *gorm.DB) {
		return func(t testing.TB, db *gorm.DB) {
			testdb.MustExec(t, db, "DROP TABLE ?", clause.Table{Name: name})
		}
	}
	// A node of attesto_phoenix that predates its replay table: gormstore
	// creates that one as its own, beside the Elixir tables.
	phoenixWithoutReplays := phoenixCatalog.only(models.ClientIDMetadataTable, models.PushedAuthorizationRequestTable)
	tests := []struct {
		name   string
		create func(testing.TB, *gorm.DB)
		drop   func(testing.TB, *gorm.DB)
		gone   int // relations the drop removes
		want   catalog
	}{
		{"CIMD index", autoMigrate, dropIndex(cimdIndex), 1, storesCatalog},
		{"PAR index", autoMigrate, dropIndex(parIndex), 1, storesCatalog},
		{"replay index", autoMigrate, dropIndex(replayIndex), 1, storesCatalog},
		{"CIMD index of attesto_phoenix", testdb.CreateLegacyTables, dropIndex(cimdIndex), 1, phoenixCatalog},
		{"PAR index of attesto_phoenix", testdb.CreateLegacyTables, dropIndex(parIndex), 1, phoenixCatalog},
		{"replay index of attesto_phoenix", testdb.CreateLegacyTables, dropIndex(replayIndex), 1, phoenixCatalog},
		{"PAR table", autoMigrate, dropTable(models.PushedAuthorizationRequestTable), 3, storesCatalog},
		{"replay table", autoMigrate, dropTable(models.ReplayTable), 3, storesCatalog},
		{"replay table after the first up migration only", func(t testing.TB, db *gorm.DB) {
			execMigration(t, db, gormstore.PostgresMigrations, versions[0].name+".up.sql")
		}, func(testing.TB, *gorm.DB) {}, 3, storesCatalog},
		{"replay table beside attesto_phoenix's", testdb.CreateLegacyTables, dropTable(models.ReplayTable), 3,
			phoenixWithoutReplays.plus(storesCatalog.only(models.ReplayTable))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			db := testdb.Open(t, schema, 2)
			tc.create(t, db)
			tc.drop(t, db)
			if got, want := len(relations(t, db, schema)), len(tc.want.Relations)-tc.gone; got != want {
				t.Fatalf("after the drop the schema holds %d relations, want %d", got, want)
			}

			autoMigrate(t, db)

			if got := readCatalog(t, db, schema); !got.equal(tc.want) {
				t.Errorf("catalog:%v\nwant:%v", got, tc.want)
			}
		})
	}
}

func TestAutoMigrateNilDB(t *testing.T) {
	t.Parallel()
	if err := gormstore.AutoMigrate(context.Background(), nil); !errors.Is(err, repo.ErrNoDB) {
		t.Errorf("AutoMigrate(ctx, nil) = %v, want repo.ErrNoDB", err)
	}
}

// A node whose start-up is cancelled, before or while it waits for
// another node's migration, gets an error and has created nothing.
func TestAutoMigrateCancelled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// ctx returns the context for AutoMigrate; it may hold the
		// migration lock until t ends.
		ctx  func(*testing.T, string) context.Context
		want error
	}{
		{"cancelled", func(t *testing.T, _ string) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, context.Canceled},
		{"deadline passed", func(t *testing.T, _ string) context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
		{"deadline while another node migrates", func(t *testing.T, schema string) context.Context {
			holdMigrationLock(t, schema, 5*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			db := testdb.Open(t, schema, 2)

			err := gormstore.AutoMigrate(tc.ctx(t, schema), db)

			if !errors.Is(err, tc.want) {
				t.Errorf("AutoMigrate = %v, want %v", err, tc.want)
			}
			if got := relations(t, db, schema); len(got) != 0 {
				t.Errorf("the schema holds %q, want nothing", got)
			}
		})
	}
}

// holdMigrationLock takes AutoMigrate's lock, as a node that is migrating,
// and keeps it until t ends, or for at most atMost: an AutoMigrate that does
// not give up waiting then fails the test instead of hanging it.
func holdMigrationLock(t *testing.T, schema string, atMost time.Duration) {
	t.Helper()
	other := testdb.Open(t, schema, 1).Begin()
	if err := other.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
		other.Rollback()
		t.Fatalf("take the migration lock: %v", err)
	}
	done, released := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(released)
		select {
		case <-done:
		case <-time.After(atMost):
		}
		other.Rollback()
	}()
	t.Cleanup(func() {
		close(done)
		<-released
	})
}

type ctxKey struct{}

// statementState shows what of a *gorm.DB's statement a later call would
// inherit.
func statementState(db *gorm.DB) string {
	s := db.Statement
	return fmt.Sprintf("table=%q model=%v dest=%v schema=%v clauses=%d sql=%q vars=%d selects=%q omits=%q ctxvalue=%v error=%v",
		s.Table, s.Model, s.Dest, s.Schema, len(s.Clauses), s.SQL.String(), len(s.Vars), s.Selects, s.Omits,
		s.Context.Value(ctxKey{}), db.Error)
}

const pristine = `table="" model=<nil> dest=<nil> schema=<nil> clauses=0 sql="" vars=0 selects=[] omits=[] ctxvalue=<nil> error=<nil>`

func TestAutoMigrateLeavesCallerDBUnchanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		db   func(*gorm.DB) *gorm.DB
	}{
		{"pool", func(db *gorm.DB) *gorm.DB { return db }},
		{"session", func(db *gorm.DB) *gorm.DB { return db.Session(&gorm.Session{}) }},
		{"with context", func(db *gorm.DB) *gorm.DB { return db.WithContext(context.Background()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := testdb.Schema(t)
			pool := testdb.Open(t, schema, 2)
			testdb.MustExec(t, pool, "CREATE TABLE unrelated (id int)")
			testdb.MustExec(t, pool, "INSERT INTO unrelated VALUES (1), (2), (3)")
			db := tc.db(pool)
			if got := statementState(db); got != pristine {
				t.Fatalf("the caller's db before AutoMigrate: %s", got)
			}

			ctx := context.WithValue(context.Background(), ctxKey{}, "AutoMigrate's")
			if err := gormstore.AutoMigrate(ctx, db); err != nil {
				t.Fatalf("AutoMigrate: %v", err)
			}

			if got := statementState(db); got != pristine {
				t.Errorf("the caller's db after AutoMigrate: %s\nwant %s", got, pristine)
			}
			var n int64
			if err := db.Table("unrelated").Where("id > ?", 1).Count(&n).Error; err != nil || n != 2 {
				t.Errorf("unrelated count after AutoMigrate = %d, %v; want 2, nil", n, err)
			}
		})
	}
}

// In the caller's transaction AutoMigrate's DDL is the caller's to commit
// or roll back.
func TestAutoMigrateInCallerTransaction(t *testing.T) {
	t.Parallel()
	schema := testdb.Schema(t)
	db := testdb.Open(t, schema, 2)
	errRollback := errors.New("rollback")
	var inside []string

	err := db.Transaction(func(tx *gorm.DB) error {
		if err := gormstore.AutoMigrate(context.Background(), tx); err != nil {
			return err
		}
		inside = relations(t, tx, schema)
		return errRollback
	})

	if !errors.Is(err, errRollback) {
		t.Fatalf("Transaction = %v, want the rollback", err)
	}
	if !slices.Equal(inside, storesCatalog.Relations) {
		t.Errorf("inside the transaction the schema held %q, want %q", inside, storesCatalog.Relations)
	}
	if got := relations(t, db, schema); len(got) != 0 {
		t.Errorf("after the rollback the schema holds %q, want nothing", got)
	}
}

// sqlServerNamed is PostgreSQL's dialector under SQL Server's name.
type sqlServerNamed struct{ gorm.Dialector }

func (sqlServerNamed) Name() string { return "sqlserver" }

// A database the stores have no statements for gets no tables either.
func TestAutoMigrateRefusesOtherDatabases(t *testing.T) {
	t.Parallel()
	schema := testdb.Schema(t)
	pool, err := testdb.Open(t, schema, 2).DB()
	if err != nil {
		t.Fatal(err)
	}
	db, err := gorm.Open(sqlServerNamed{postgres.New(postgres.Config{Conn: pool})}, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	err = gormstore.AutoMigrate(context.Background(), db)
	if err == nil || !strings.Contains(err.Error(), `unsupported database "sqlserver"`) {
		t.Errorf("AutoMigrate on sqlserver = %v, want an unsupported database error", err)
	}
	if got := relations(t, testdb.Open(t, schema, 1), schema); len(got) != 0 {
		t.Errorf("AutoMigrate on an unsupported database created %q", got)
	}
}
