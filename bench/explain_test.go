package bench

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
)

// The client-bound lookups, by hand.
const (
	parFetchForClientSQL = `SELECT "params" FROM "attesto_pushed_authorization_requests" WHERE "request_uri" = $1 AND "expires_at" > $2 ` +
		`AND "params" -> 'client_id' = to_jsonb(CAST($3 AS text))`
	parTakeForClientSQL = `DELETE FROM "attesto_pushed_authorization_requests" WHERE "request_uri" = $1 AND "expires_at" > $2 ` +
		`AND "params" -> 'client_id' = to_jsonb(CAST($3 AS text)) RETURNING "params"`
	cimdDeleteSQL = `DELETE FROM "attesto_client_id_metadata" WHERE "url" = $1`
)

// Each statement's EXPLAIN, with the values the store sent (PostgreSQL's
// custom plan, which it uses for the first executions of a prepared
// statement), and PREPAREd for its generic plan, which it may switch to
// after five.
const (
	explain = `EXPLAIN (FORMAT JSON) `

	explainCIMDGet           = explain + cimdGetSQL
	explainCIMDPut           = explain + cimdPutSQL
	explainCIMDDelete        = explain + cimdDeleteSQL
	explainPARPut            = explain + parPutSQL
	explainPARFetch          = explain + parGetSQL
	explainPARTake           = explain + parTakeSQL
	explainPARFetchForClient = explain + parFetchForClientSQL
	explainPARTakeForClient  = explain + parTakeForClientSQL

	prepareCIMDGet           = `PREPARE cimd_get AS ` + cimdGetSQL
	prepareCIMDPut           = `PREPARE cimd_put AS ` + cimdPutSQL
	prepareCIMDDelete        = `PREPARE cimd_delete AS ` + cimdDeleteSQL
	preparePARPut            = `PREPARE par_put AS ` + parPutSQL
	preparePARFetch          = `PREPARE par_fetch AS ` + parGetSQL
	preparePARTake           = `PREPARE par_take AS ` + parTakeSQL
	preparePARFetchForClient = `PREPARE par_fetch_for_client AS ` + parFetchForClientSQL
	preparePARTakeForClient  = `PREPARE par_take_for_client AS ` + parTakeForClientSQL

	genericCIMDGet           = explain + `EXECUTE cimd_get('https://c.example/1', now())`
	genericCIMDPut           = explain + `EXECUTE cimd_put(now(), now(), '{}', 'https://c.example/1')`
	genericCIMDDelete        = explain + `EXECUTE cimd_delete('https://c.example/1')`
	genericPARPut            = explain + `EXECUTE par_put(now(), now(), '{}', 'urn:r:1')`
	genericPARFetch          = explain + `EXECUTE par_fetch('urn:r:1', now())`
	genericPARTake           = explain + `EXECUTE par_take('urn:r:1', now())`
	genericPARFetchForClient = explain + `EXECUTE par_fetch_for_client('urn:r:1', now(), 'c1')`
	genericPARTakeForClient  = explain + `EXECUTE par_take_for_client('urn:r:1', now(), 'c1')`

	forceGenericPlans = `SET plan_cache_mode = force_generic_plan`

	explainFillCIMDSQL = `INSERT INTO attesto_client_id_metadata (url, metadata, expires_at, inserted_at)
SELECT 'https://c.example/' || i, jsonb_build_object('client_id', 'https://c.example/' || i),
       now() + CASE WHEN i % 2 = 0 THEN interval '1 hour' ELSE interval '-1 hour' END, now() - interval '2 hours'
FROM generate_series(1, $1::int) i`
	explainFillPARSQL = `INSERT INTO attesto_pushed_authorization_requests (request_uri, params, expires_at, inserted_at)
SELECT 'urn:r:' || i, jsonb_build_object('client_id', 'c' || i),
       now() + CASE WHEN i % 2 = 0 THEN interval '1 hour' ELSE interval '-1 hour' END, now() - interval '2 hours'
FROM generate_series(1, $1::int) i`
	explainAnalyzeTables = `ANALYZE attesto_client_id_metadata, attesto_pushed_authorization_requests`
)

// explained is one store statement and how to EXPLAIN it.
type explained struct {
	op       string
	sql      string // what the store must send
	custom   string // EXPLAIN of sql, given the store's values
	prepare  string // PREPARE of sql
	generic  string // EXPLAIN EXECUTE of the prepared statement
	table    string
	arbiter  bool // an INSERT ... ON CONFLICT: no scan, but the conflict check must use the primary key
	call     func(ctx context.Context, c *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error
	observed []any
}

func statementsToExplain() []*explained {
	const cimd, par = models.ClientIDMetadataTable, models.PushedAuthorizationRequestTable
	doc := map[string]any{"client_id": "c2"}
	return []*explained{
		{op: "CIMD Get", sql: cimdGetSQL, custom: explainCIMDGet, prepare: prepareCIMDGet, generic: genericCIMDGet, table: cimd,
			call: func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) error {
				_, _, err := c.Get(ctx, "https://c.example/2")
				return err
			}},
		{op: "CIMD Put", sql: cimdPutSQL, custom: explainCIMDPut, prepare: prepareCIMDPut, generic: genericCIMDPut, table: cimd, arbiter: true,
			call: func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) error {
				return c.Put(ctx, "https://c.example/2", doc, time.Now().Add(time.Hour))
			}},
		{op: "CIMD Delete", sql: cimdDeleteSQL, custom: explainCIMDDelete, prepare: prepareCIMDDelete, generic: genericCIMDDelete, table: cimd,
			call: func(ctx context.Context, c *repo.GormClientIDMetadataCache, _ *repo.GormPARStore) error {
				return c.Delete(ctx, "https://c.example/4")
			}},
		{op: "PAR Put", sql: parPutSQL, custom: explainPARPut, prepare: preparePARPut, generic: genericPARPut, table: par, arbiter: true,
			call: func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error {
				return p.Put(ctx, "urn:r:new", doc, time.Minute)
			}},
		{op: "PAR Fetch", sql: parGetSQL, custom: explainPARFetch, prepare: preparePARFetch, generic: genericPARFetch, table: par,
			call: func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error {
				_, _, err := p.Fetch(ctx, "urn:r:2")
				return err
			}},
		{op: "PAR FetchForClient", sql: parFetchForClientSQL, custom: explainPARFetchForClient, prepare: preparePARFetchForClient,
			generic: genericPARFetchForClient, table: par,
			call: func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error {
				_, _, err := p.FetchForClient(ctx, "urn:r:2", "c2")
				return err
			}},
		{op: "PAR Take", sql: parTakeSQL, custom: explainPARTake, prepare: preparePARTake, generic: genericPARTake, table: par,
			call: func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error {
				_, _, err := p.Take(ctx, "urn:r:4")
				return err
			}},
		{op: "PAR TakeForClient", sql: parTakeForClientSQL, custom: explainPARTakeForClient, prepare: preparePARTakeForClient,
			generic: genericPARTakeForClient, table: par,
			call: func(ctx context.Context, _ *repo.GormClientIDMetadataCache, p *repo.GormPARStore) error {
				_, _, err := p.TakeForClient(ctx, "urn:r:6", "c6")
				return err
			}},
	}
}

// tracer records what GORM's connections send.
type tracer struct {
	mu    sync.Mutex
	sent  []pgx.TraceQueryStartData
	watch bool
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.watch {
		tr.sent = append(tr.sent, data)
	}
	return ctx
}

func (*tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestStatementsUseThePrimaryKey runs every store operation on tables of
// 20,000 rows (half expired, analyzed), on AutoMigrate's tables and on
// attesto_phoenix's, records the statement the store sent with a pgx
// tracer, checks that it is docs/sql.md's, and EXPLAINs it: with the
// store's values (the custom plan) and prepared (the generic plan). Every
// plan must reach the table through its primary key, an Index Scan or
// Index Only Scan (or for an upsert the primary key as conflict arbiter),
// and scan no table sequentially. DeleteAll deletes every row and is
// sequential by design; it is not checked.
func TestStatementsUseThePrimaryKey(t *testing.T) {
	t.Parallel()
	for _, tables := range []struct {
		name   string
		create func(testing.TB, *gorm.DB)
	}{
		{"AutoMigrate", testdb.CreateTables},
		{"AttestoPhoenix", testdb.CreateLegacyTables},
	} {
		t.Run(tables.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			schema := testdb.Schema(t)
			tr := &tracer{}
			db := openTraced(t, schema, tr)
			tables.create(t, db)

			conn := connect(t, schema)
			for _, fill := range []string{explainFillCIMDSQL, explainFillPARSQL} {
				if _, err := conn.Exec(ctx, fill, 20_000); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := conn.Exec(ctx, explainAnalyzeTables); err != nil {
				t.Fatal(err)
			}

			c, err := repo.NewGormClientIDMetadataCache(db, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := repo.NewGormPARStore(db, nil)
			if err != nil {
				t.Fatal(err)
			}
			stmts := statementsToExplain()
			for _, s := range stmts {
				tr.mu.Lock()
				tr.sent, tr.watch = nil, true
				tr.mu.Unlock()
				if err := s.call(ctx, c, p); err != nil {
					t.Fatalf("%s: %v", s.op, err)
				}
				tr.mu.Lock()
				sent := tr.sent
				tr.watch = false
				tr.mu.Unlock()
				if len(sent) != 1 {
					t.Fatalf("%s sent %d statements, want 1", s.op, len(sent))
				}
				if sent[0].SQL != s.sql {
					t.Fatalf("%s sent\n\t%s\nwant docs/sql.md's\n\t%s", s.op, sent[0].SQL, s.sql)
				}
				s.observed = sent[0].Args
			}

			for _, s := range stmts {
				checkPlan(t, s.op+" (custom plan)", s, queryPlan(t, conn, s.custom, s.observed...))
				if _, err := conn.Exec(ctx, s.prepare); err != nil {
					t.Fatalf("%s: %v", s.prepare, err)
				}
			}
			if _, err := conn.Exec(ctx, forceGenericPlans); err != nil {
				t.Fatal(err)
			}
			for _, s := range stmts {
				checkPlan(t, s.op+" (generic plan)", s, queryPlan(t, conn, s.generic))
			}
		})
	}
}

// openTraced opens GORM as the README does, on pgx's stdlib driver with tr
// as the connections' tracer.
func openTraced(t *testing.T, schema string, tr *tracer) *gorm.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tracer = tr
	sqlDB := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { sqlDB.Close() })
	sqlDB.SetMaxOpenConns(2)
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func connect(t *testing.T, schema string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// planNode is a node of EXPLAIN (FORMAT JSON)'s plan tree.
type planNode struct {
	NodeType         string     `json:"Node Type"`
	Operation        string     `json:"Operation"`
	RelationName     string     `json:"Relation Name"`
	IndexName        string     `json:"Index Name"`
	ConflictArbiters []string   `json:"Conflict Arbiter Indexes"`
	Plans            []planNode `json:"Plans"`
}

func queryPlan(t *testing.T, conn *pgx.Conn, sql string, args ...any) planNode {
	t.Helper()
	var out []byte
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&out); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("%s: unreadable plan %s (%v)", sql, out, err)
	}
	return plans[0].Plan
}

func checkPlan(t *testing.T, what string, s *explained, plan planNode) {
	t.Helper()
	pkey := s.table + "_pkey"
	var nodes []planNode
	var walk func(n planNode)
	walk = func(n planNode) {
		nodes = append(nodes, n)
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plan)
	var kinds []string
	usesPkey := false
	for _, n := range nodes {
		kind := strings.Join(strings.Fields(n.NodeType+" "+n.Operation+" "+n.IndexName), " ")
		if len(n.ConflictArbiters) > 0 {
			kind += " (conflict arbiter " + strings.Join(n.ConflictArbiters, ", ") + ")"
		}
		kinds = append(kinds, kind)
		if n.NodeType == "Seq Scan" || n.NodeType == "Bitmap Heap Scan" {
			t.Errorf("%s: %s scan of %s in %v", what, n.NodeType, n.RelationName, kinds)
		}
		if (n.NodeType == "Index Scan" || n.NodeType == "Index Only Scan") && n.IndexName == pkey && n.RelationName == s.table {
			usesPkey = true
		}
		if s.arbiter && slices.Equal(n.ConflictArbiters, []string{pkey}) {
			usesPkey = true
		}
	}
	if !usesPkey {
		t.Errorf("%s: the plan %v does not use %s", what, kinds, pkey)
	}
	t.Logf("%s: %v", what, kinds)
}
