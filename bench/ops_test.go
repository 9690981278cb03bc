package bench

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/jsondoc"
)

// Seeding statements: n rows keyed prefix || i for i in [0, n), expiring
// after the given interval ('1 hour', or '-1 hour' for expired rows).
const (
	seedCIMDSQL = `INSERT INTO attesto_client_id_metadata (url, metadata, expires_at, inserted_at)
SELECT $1::text || i, $2::jsonb, now() + $3::interval, now() FROM generate_series(0, $4::int - 1) i`
	seedPARSQL = `INSERT INTO attesto_pushed_authorization_requests (request_uri, params, expires_at, inserted_at)
SELECT $1::text || i, $2::jsonb, now() + $3::interval, now() FROM generate_series(0, $4::int - 1) i`
	seedSessionsSQL = `INSERT INTO sessions (token, data, expiry)
SELECT $1::text || i, $2::bytea, now() + $3::interval FROM generate_series(0, $4::int - 1) i`
)

// hotKeys is how many distinct live rows the read and upsert benchmarks
// cycle through.
const hotKeys = 1000

// Seed tables: the statement per table is a constant, as the module's
// SQL check demands.
type seedTable int

const (
	cimdTable seedTable = iota
	parTable
	sessionsTable
)

// seed inserts n rows of doc into table, keyed prefix || i, expiring after
// interval, and returns their keys.
func seed(b testing.TB, e *env, table seedTable, prefix string, doc []byte, interval string, n int) []string {
	b.Helper()
	ctx := context.Background()
	var err error
	switch table {
	case cimdTable:
		_, err = e.pgx.Exec(ctx, seedCIMDSQL, prefix, doc, interval, n)
	case parTable:
		_, err = e.pgx.Exec(ctx, seedPARSQL, prefix, doc, interval, n)
	case sessionsTable:
		_, err = e.pgx.Exec(ctx, seedSessionsSQL, prefix, doc, interval, n)
	}
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	return keys(prefix, n)
}

// lookup runs get over keys, round robin, and fails on an answer other
// than want.
func lookup(b *testing.B, keys []string, want bool, get func(context.Context, string) (bool, error)) {
	b.Helper()
	b.ReportAllocs()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		found, err := get(ctx, keys[i%len(keys)])
		if err != nil || found != want {
			b.Fatalf("lookup %s = %v, %v; want found %v", keys[i%len(keys)], found, err, want)
		}
	}
}

// write runs put over keys, round robin.
func write(b *testing.B, keys []string, put func(context.Context, string) error) {
	b.Helper()
	b.ReportAllocs()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if err := put(ctx, keys[i%len(keys)]); err != nil {
			b.Fatalf("put %s: %v", keys[i%len(keys)], err)
		}
	}
}

func found(get func(context.Context, string) (map[string]any, bool, error)) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, key string) (bool, error) {
		_, ok, err := get(ctx, key)
		return ok, err
	}
}

// rotate shifts the order in which the operation benchmarks run their
// implementations; scripts/bench.sh passes the round's number, so that no
// implementation always runs first, or last, in its group.
var rotate = flag.Int("ops.rotate", 0, "run the implementations of each operation benchmark starting at this index (mod their number)")

// sub is one implementation's sub-benchmark of an operation.
type sub struct {
	impl string
	f    func(b *testing.B)
}

// runRotated runs subs as prefix+"impl="+name, in the order -ops.rotate
// sets.
func runRotated(b *testing.B, prefix string, subs []sub) {
	b.Helper()
	for k := range subs {
		s := subs[(k+*rotate)%len(subs)]
		b.Run(prefix+"impl="+s.impl, s.f)
	}
}

// named is one implementation of a store's API, by name.
type named[S any] struct {
	name  string
	store S
}

// cimdContenders are the stores that implement the CIMD cache's API.
func cimdContenders(e *env) []named[cimdStore] {
	return []named[cimdStore]{
		{"gormstore", e.cache},
		{"pgx", pgxCIMD{e.pgx}},
		{"database-sql", sqlCIMD{e.sql}},
		{"gorm-chain", newChainCIMD(e.gorm)},
		{"internal-path", newInternalCIMD(e.gorm)},
	}
}

// parContenders are the stores that implement the PAR store's API.
func parContenders(e *env) []named[parStore] {
	return []named[parStore]{
		{"gormstore", e.par},
		{"pgx", pgxPAR{e.pgx}},
		{"database-sql", sqlPAR{e.sql}},
		{"gorm-chain", newChainPAR(e.gorm)},
		{"internal-path", newInternalPAR(e.gorm)},
	}
}

func BenchmarkCIMDGet(b *testing.B) {
	skipShort(b)
	e := sharedEnv(b)
	d := docs(b)
	id := runID()
	live := seed(b, e, cimdTable, "https://get-"+id+".example/client/", d.cimdJSON, "1 hour", hotKeys)
	liveSessions := seed(b, e, sessionsTable, "get-"+id+"-", d.cimdJSON, "1 hour", hotKeys)
	// Half of the misses are absent keys, half expired rows.
	misses := append(keys("https://absent-"+id+".example/client/", hotKeys/2),
		seed(b, e, cimdTable, "https://expired-"+id+".example/client/", d.cimdJSON, "-1 hour", hotKeys/2)...)
	missSessions := append(keys("absent-"+id+"-", hotKeys/2),
		seed(b, e, sessionsTable, "expired-"+id+"-", d.cimdJSON, "-1 hour", hotKeys/2)...)
	analyze(b, e)

	scsFind := func(_ context.Context, token string) (bool, error) {
		_, ok, err := e.scs.Find(token)
		return ok, err
	}
	for _, c := range []struct {
		name string
		keys []string
		want bool
		scs  []string
	}{
		{"hit", live, true, liveSessions},
		{"miss", misses, false, missSessions},
	} {
		var subs []sub
		for _, s := range cimdContenders(e) {
			subs = append(subs, sub{s.name, func(b *testing.B) {
				lookup(b, c.keys, c.want, found(s.store.Get))
			}})
		}
		subs = append(subs, sub{"scs", func(b *testing.B) {
			lookup(b, c.scs, c.want, scsFind)
		}})
		runRotated(b, "case="+c.name+"/", subs)
	}
}

func BenchmarkCIMDPut(b *testing.B) {
	skipShort(b)
	e := sharedEnv(b)
	d := docs(b)
	id := runID()
	existing := seed(b, e, cimdTable, "https://put-"+id+".example/client/", d.cimdJSON, "1 hour", hotKeys)
	existingSessions := seed(b, e, sessionsTable, "put-"+id+"-", d.cimdJSON, "1 hour", hotKeys)
	analyze(b, e)
	expiresAt := time.Now().Add(time.Hour)

	for _, c := range []struct {
		name string
		keys func(b *testing.B, impl string) []string
		scs  func(b *testing.B) []string
	}{
		{"insert",
			func(b *testing.B, impl string) []string {
				return keys("https://new-"+impl+"-"+runID()+".example/client/", b.N)
			},
			func(b *testing.B) []string { return keys("new-"+runID()+"-", b.N) }},
		{"upsert",
			func(*testing.B, string) []string { return existing },
			func(*testing.B) []string { return existingSessions }},
	} {
		var subs []sub
		for _, s := range cimdContenders(e) {
			subs = append(subs, sub{s.name, func(b *testing.B) {
				write(b, c.keys(b, s.name), func(ctx context.Context, url string) error {
					return s.store.Put(ctx, url, d.cimd, expiresAt)
				})
			}})
		}
		subs = append(subs, sub{"scs", func(b *testing.B) {
			write(b, c.scs(b), func(_ context.Context, token string) error {
				return e.scs.Commit(token, d.cimdJSON, expiresAt)
			})
		}})
		runRotated(b, "case="+c.name+"/", subs)
	}
}

func BenchmarkPARPut(b *testing.B) {
	skipShort(b)
	e := sharedEnv(b)
	d := docs(b)
	var subs []sub
	for _, s := range parContenders(e) {
		subs = append(subs, sub{s.name, func(b *testing.B) {
			write(b, keys("urn:ietf:params:oauth:request_uri:put-"+runID()+"-", b.N), func(ctx context.Context, uri string) error {
				return s.store.Put(ctx, uri, d.par, time.Minute)
			})
		}})
	}
	runRotated(b, "", subs)
}

func BenchmarkPARFetch(b *testing.B) {
	skipShort(b)
	e := sharedEnv(b)
	d := docs(b)
	live := seed(b, e, parTable, "urn:ietf:params:oauth:request_uri:fetch-"+runID()+"-", d.parJSON, "1 hour", hotKeys)
	analyze(b, e)
	var subs []sub
	for _, s := range parContenders(e) {
		subs = append(subs, sub{s.name, func(b *testing.B) {
			lookup(b, live, true, found(s.store.Fetch))
		}})
	}
	runRotated(b, "", subs)
}

func BenchmarkPARTake(b *testing.B) {
	skipShort(b)
	e := sharedEnv(b)
	d := docs(b)
	var subs []sub
	for _, s := range parContenders(e) {
		subs = append(subs, sub{s.name, func(b *testing.B) {
			// One live row per iteration, each taken once.
			live := seed(b, e, parTable, "urn:ietf:params:oauth:request_uri:take-"+runID()+"-", d.parJSON, "1 hour", b.N)
			lookup(b, live, true, found(s.store.Take))
		}})
	}
	runRotated(b, "", subs)
}

// BenchmarkCodec is the CPU the document costs every contender but scs,
// without a database: the stores' decoder against encoding/json's (the
// library's before it was tuned) on reads; on Put, the changeset's Cast
// (validation and encoding) the stores run and the json.Marshal alone the
// pgx contenders run.
func BenchmarkCodec(b *testing.B) {
	d := docs(b)
	b.Run("op=decode-cimd/impl=gormstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsondoc.Decode(d.cimdJSON); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=decode-cimd/impl=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsondoc.DecodeStandard(d.cimdJSON); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What every store Put does before its statement: the changeset's
	// validation and json.Marshal (changesets.ClientIDMetadata.Cast).
	now := time.Now()
	b.Run("op=cast-cimd/impl=gormstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := changesets.ClientIDMetadata{
				URL: "https://app.example/client.json", Metadata: d.cimd, ExpiresAt: now.Add(time.Hour), InsertedAt: now,
			}.Cast(changesets.Limits{})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=encode-cimd/impl=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshal(d.cimd); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// analyze refreshes the planner's statistics after seeding, as autovacuum
// would on a live table.
func analyze(b *testing.B, e *env) {
	b.Helper()
	ctx := context.Background()
	if _, err := e.pgx.Exec(ctx, analyzeSQL); err != nil {
		b.Fatalf("analyze: %v", err)
	}
}

const analyzeSQL = `ANALYZE attesto_client_id_metadata, attesto_pushed_authorization_requests, sessions`
