package bench

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// scaleSizes are the table sizes of BenchmarkScale: rows in each of the
// two tables, half of them expired.
var scaleSizes = []struct {
	name string
	rows int
}{
	{"1k", 1_000},
	{"100k", 100_000},
	{"1M", 1_000_000},
}

const (
	scaleCIMDPrefix = "https://client-"
	scaleCIMDSuffix = ".example/oauth/client-metadata.json"
	scalePARPrefix  = "urn:ietf:params:oauth:request_uri:scale-"
)

// fillScaleSQL fills a table of its own schema with $1 rows in the order
// they would have arrived: the older half (i < $1/2) expired an hour ago,
// the newer half lives for another hour. Keys are not in index order.
const (
	fillScaleCIMDSQL = `INSERT INTO attesto_client_id_metadata (url, metadata, expires_at, inserted_at)
SELECT 'https://client-' || i || '.example/oauth/client-metadata.json', $2::jsonb,
       now() + CASE WHEN i >= $1::int / 2 THEN interval '1 hour' ELSE interval '-1 hour' END, now() - interval '2 hours'
FROM generate_series(0, $1::int - 1) i`
	fillScalePARSQL = `INSERT INTO attesto_pushed_authorization_requests (request_uri, params, expires_at, inserted_at)
SELECT 'urn:ietf:params:oauth:request_uri:scale-' || i, $2::jsonb,
       now() + CASE WHEN i >= $1::int / 2 THEN interval '1 hour' ELSE interval '-1 hour' END, now() - interval '2 hours'
FROM generate_series(0, $1::int - 1) i`
	vacuumSQL = `VACUUM ANALYZE attesto_client_id_metadata, attesto_pushed_authorization_requests`
	// refillSQL puts a taken request back, so Take always finds a table of
	// the same size.
	refillSQL = `INSERT INTO attesto_pushed_authorization_requests (request_uri, params, expires_at, inserted_at)
VALUES ($1, $2::jsonb, now() + interval '1 hour', now())`
)

var (
	scaleMu   sync.Mutex
	scaleEnvs = map[int]*env{}
)

// scaleEnv returns a schema whose tables hold rows rows each, created on
// first use (INSERT ... SELECT generate_series, then VACUUM ANALYZE and a
// CHECKPOINT, so that no benchmark pays for hint bits or a checkpoint of
// the fill) and dropped in TestMain.
func scaleEnv(b *testing.B, rows int) *env {
	b.Helper()
	scaleMu.Lock()
	defer scaleMu.Unlock()
	if e := scaleEnvs[rows]; e != nil {
		return e
	}
	d := docs(b)
	e, closeEnv := openEnv(b, "scale_"+itoa(rows))
	atExit(closeEnv)
	ctx := context.Background()
	for _, step := range []struct {
		sql  string
		args []any
	}{
		{fillScaleCIMDSQL, []any{rows, d.cimdJSON}},
		{fillScalePARSQL, []any{rows, d.parJSON}},
		{vacuumSQL, nil},
		{checkpointSQL, nil},
	} {
		if _, err := e.pgx.Exec(ctx, step.sql, step.args...); err != nil {
			b.Fatalf("scale %d: %v", rows, err)
		}
	}
	scaleEnvs[rows] = e
	return e
}

const checkpointSQL = `CHECKPOINT`

// explainCIMDGetBuffers runs a Get's statement and reports its buffers.
const explainCIMDGetBuffers = `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ` + cimdGetSQL

// blockSample is how many Gets cimdGetBlocks explains.
const blockSample = 200

// cimdGetBlocks runs blockSample Gets of live keys (in order's order)
// under EXPLAIN (ANALYZE, BUFFERS) on e's tables, after the race, and
// returns the mean blocks per Get found in shared_buffers and read from
// the kernel.
func cimdGetBlocks(b *testing.B, e *env, name string, order []int) (hit, read float64) {
	b.Helper()
	ctx := context.Background()
	n := min(blockSample, len(order))
	for _, i := range order[:n] {
		var out []byte
		url := scaleCIMDPrefix + itoa(i) + scaleCIMDSuffix
		if err := e.pgx.QueryRow(ctx, explainCIMDGetBuffers, url, time.Now().UTC()).Scan(&out); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		var plans []struct {
			Plan struct {
				Hit  float64 `json:"Shared Hit Blocks"`
				Read float64 `json:"Shared Read Blocks"`
			} `json:"Plan"`
		}
		if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
			b.Fatalf("%s: plan %s: %v", name, out, err)
		}
		hit += plans[0].Plan.Hit
		read += plans[0].Plan.Read
	}
	return hit / float64(n), read / float64(n)
}

// liveOrder is the live keys (i >= rows/2) of a scale table of rows rows,
// in a random order fixed by seed.
func liveOrder(rows int, seed uint64) []int {
	order := make([]int, rows-rows/2)
	for k := range order {
		order[k] = rows/2 + k
	}
	r := rand.New(rand.NewPCG(seed, 0))
	r.Shuffle(len(order), func(a, c int) { order[a], order[c] = order[c], order[a] })
	return order
}

// BenchmarkScale races a store operation on tables of 1 thousand, 100
// thousand and 1 million rows, half of them expired, call by call, and
// the same statement by hand over pgx (pgx-rows=...) and over GORM's
// database/sql pool (sql-rows=...) on the same tables: each draws its own
// keys at random from the live half, so lookups in the largest table read
// pages that are not in shared_buffers. It reports each size's
// p50, p95 and p99, the ratio of each median to the 1k table's, and for
// Get the blocks a lookup finds in shared_buffers and reads from the
// kernel, from EXPLAIN (ANALYZE, BUFFERS) of 200 more after the race.
func BenchmarkScale(b *testing.B) {
	skipShort(b)
	envs := make([]*env, len(scaleSizes))
	for k, s := range scaleSizes {
		envs[k] = scaleEnv(b, s.rows)
	}
	d := docs(b)
	b.Run("op=cimd-get", func(b *testing.B) {
		var cs []contender
		for k, s := range scaleSizes {
			// Each contender draws its own keys: a page one of them reads
			// into shared_buffers is not another's free hit.
			urls := func(seed uint64) []string {
				order := liveOrder(s.rows, seed)
				url := make([]string, len(order))
				for n, i := range order {
					url[n] = scaleCIMDPrefix + itoa(i) + scaleCIMDSuffix
				}
				return url
			}
			e := envs[k]
			cs = append(cs, lookupOp("rows="+s.name, urls(uint64(10*k+1)), true, found(e.cache.Get)),
				lookupOp("pgx-rows="+s.name, urls(uint64(10*k+2)), true, found(pgxCIMD{e.pgx}.Get)),
				lookupOp("sql-rows="+s.name, urls(uint64(10*k+3)), true, found(sqlCIMD{e.sql}.Get)))
		}
		raceP(b, true, []string{"rows=1k", "pgx-rows=1k", "sql-rows=1k"}, cs...)
		// Where the pages of a Get come from: shared_buffers (hit), or the
		// kernel (read: a table larger than shared_buffers).
		for k, e := range envs {
			hit, read := cimdGetBlocks(b, e, cs[3*k].name, liveOrder(scaleSizes[k].rows, uint64(k)+100))
			b.ReportMetric(hit, cs[3*k].name+"-blks-hit/get")
			b.ReportMetric(read, cs[3*k].name+"-blks-read/get")
		}
	})
	b.Run("op=par-take", func(b *testing.B) {
		var cs []contender
		for k, s := range scaleSizes {
			e, order := envs[k], liveOrder(s.rows, uint64(k)+10)
			uri := make([]string, len(order))
			for n, i := range order {
				uri[n] = scalePARPrefix + itoa(i)
			}
			// Each contender takes, and puts back, its own third of the live
			// keys.
			third := len(uri) / 3
			for n, c := range []contender{
				lookupOp("rows="+s.name, uri[:third], true, found(e.par.Take)),
				lookupOp("pgx-rows="+s.name, uri[third:2*third], true, found(pgxPAR{e.pgx}.Take)),
				lookupOp("sql-rows="+s.name, uri[2*third:3*third], true, found(sqlPAR{e.sql}.Take)),
			} {
				keys := uri[n*third : (n+1)*third]
				c.after = func(ctx context.Context, i int) error {
					_, err := e.pgx.Exec(ctx, refillSQL, keys[i%len(keys)], d.parJSON)
					return err
				}
				cs = append(cs, c)
			}
		}
		raceP(b, true, []string{"rows=1k", "pgx-rows=1k", "sql-rows=1k"}, cs...)
	})
}
