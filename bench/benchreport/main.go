// Command benchreport turns the raw output of scripts/bench.sh into the
// tables of BENCHMARKS.md: the targets of issues 5 and 11 with the ratio
// measured for each, and the figures behind them.
//
// Usage:
//
//	go run ./bench/benchreport DIR > DIR/report.md
//	go run ./bench/benchreport -machine DATABASE_URL [MYSQL_DSN] > DIR/machine.txt
//	go run ./bench/benchreport -hold-cpu-latency
//
// The second form describes the machine, the PostgreSQL server and, given
// a go-sql-driver/mysql DSN, the MariaDB/MySQL server. The
// third asks the kernel, through /dev/cpu_dma_latency (PM QoS; it needs
// root), to keep idle CPUs polling instead of halting until it is
// stopped: on a virtual machine every halt is a VM exit, and waking from
// it adds tens of microseconds to a round trip, more than the differences
// the benchmarks measure.
//
// DIR holds ratio.txt, ops.txt, scale.txt, mix.txt, sweep.txt and
// explain.txt as the script writes them. Every figure is the median over
// the runs (rounds) in the file, with the smallest and largest run after
// it where there is more than one.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/attesto/gormstore/sweeper"
)

// results maps a benchmark name (without the -GOMAXPROCS suffix) to its
// metrics, each with one value per run.
type results map[string]map[string][]float64

var procsSuffix = regexp.MustCompile(`-\d+$`)

func parse(path string) (results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := results{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := procsSuffix.ReplaceAllString(fields[0], "")
		if r[name] == nil {
			r[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			r[name][fields[i+1]] = append(r[name][fields[i+1]], v)
		}
	}
	return r, sc.Err()
}

// stat is the median of a metric over the runs, and its range.
type stat struct {
	med, lo, hi float64
	n           int
}

func (r results) get(name, unit string) (stat, bool) { return summarize(r[name][unit]) }

// summarize is the median and range of vs.
func summarize(vs []float64) (stat, bool) {
	if len(vs) == 0 {
		return stat{}, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med, s[0], s[len(s)-1], len(s)}, true
}

func ratio(s stat, ok bool) string {
	if !ok {
		return "n/a"
	}
	if s.n == 1 {
		return fmt.Sprintf("%.3f", s.med)
	}
	return fmt.Sprintf("%.3f [%.3f–%.3f]", s.med, s.lo, s.hi)
}

// dur formats nanoseconds.
func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
}

func durStat(s stat, ok bool) string {
	if !ok {
		return "n/a"
	}
	return dur(s.med)
}

type report struct {
	dir                           string
	ratio, ops, scale, mix, sweep results
	explainPassed, explainRan     bool
	explainLines                  []string
	out                           *strings.Builder
}

func (rp *report) printf(format string, args ...any) { fmt.Fprintf(rp.out, format, args...) }

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-hold-cpu-latency" {
		if err := holdCPULatency(); err != nil {
			fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if (len(os.Args) == 3 || len(os.Args) == 4) && os.Args[1] == "-machine" {
		var err error
		if err = machine(os.Args[2]); err == nil && len(os.Args) == 4 {
			err = machineMySQL(os.Args[3])
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchreport DIR | benchreport -machine DATABASE_URL [MYSQL_DSN] | benchreport -hold-cpu-latency")
		os.Exit(2)
	}
	rp := &report{dir: os.Args[1], out: &strings.Builder{}}
	load := func(name string) results {
		r, err := parse(filepath.Join(rp.dir, name))
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
			return results{}
		}
		return r
	}
	rp.ratio, rp.ops, rp.scale, rp.mix, rp.sweep = load("ratio.txt"), load("ops.txt"), load("scale.txt"), load("mix.txt"), load("sweep.txt")
	if b, err := os.ReadFile(filepath.Join(rp.dir, "explain.txt")); err == nil {
		rp.explainRan = true
		text := string(b)
		rp.explainPassed = strings.Contains(text, "--- PASS: TestStatementsUseThePrimaryKey") && !strings.Contains(text, "--- FAIL")
		for _, line := range strings.Split(text, "\n") {
			if i := strings.Index(line, "plan): "); i >= 0 {
				if j := strings.Index(line, ": "); j >= 0 {
					rp.explainLines = append(rp.explainLines, strings.TrimSpace(line[j+2:]))
				}
			}
		}
	}
	rp.targets()
	rp.latency()
	rp.allocations()
	rp.publicVsInternal()
	rp.mariaDB()
	rp.scaleTable()
	rp.mixTable()
	rp.sweepTable()
	rp.explainTable()
	fmt.Print(rp.out.String())
}

// roundRatio is the median over rounds of a/b, each round's a over the
// same round's b (the k-th value of each metric is the k-th round's).
func (r results) roundRatio(a, b, unit string) (stat, bool) {
	return paired(r[a][unit], r[b][unit], func(x, y float64) float64 { return x / y })
}

// target prints one row of the targets table: the ratio raced call by
// call, and where there is one the ratio of the sequential benchmarks'
// ns/op. A target is met when every measure of it is within the limit.
func (rp *report) target(what string, raced stat, ok bool, seq stat, seqOK bool, limit float64) {
	met := "no data"
	if ok {
		met = "**met**"
		if raced.med > limit || (seqOK && seq.med > limit) {
			met = "**missed**"
		}
	}
	seqCell := ""
	if seqOK {
		seqCell = ratio(seq, true)
	}
	rp.printf("| %s | %s | %s | ≤ %.2f | %s |\n", what, ratio(raced, ok), seqCell, limit, met)
}

func (rp *report) targets() {
	rp.printf("### Targets\n\n")
	rp.printf("*Raced*: ratio of medians, the contenders taking turns call by call in a random order (`BenchmarkRatio`, `BenchmarkScale`); for the sweep, the readers' p99 during the sweep over their p99 just before it, in each run (`BenchmarkSweep`). ")
	rp.printf("*Sequential*: ratio of ns/op (mean, garbage collection included) of the per-implementation benchmarks (`BenchmarkCIMDGet` ...), each round's ratio taken within the round. ")
	rp.printf("Both: median over the rounds [smallest–largest round]. A target is met when both are within its limit.\n\n")
	rp.printf("| target | raced | sequential | limit | |\n| --- | --- | --- | --- | --- |\n")
	row := func(what, op, seqName, base string, limit float64) {
		raced, ok := rp.ratio.get("BenchmarkRatio/op="+op, "gormstore/"+base)
		seq, seqOK := rp.ops.roundRatio(seqName+"/impl=gormstore", seqName+"/impl="+base, "ns/op")
		rp.target(what, raced, ok, seq, seqOK, limit)
	}
	for _, op := range pgOps {
		row(op.what+": gormstore / pgx", op.name, op.seq, "pgx", op.limit)
	}
	row("CIMD Get, hit: gormstore / scs Find", "cimd-get-hit", "BenchmarkCIMDGet/case=hit", "scs", 1.00)
	row("CIMD Get, miss: gormstore / scs Find", "cimd-get-miss", "BenchmarkCIMDGet/case=miss", "scs", 1.00)
	row("CIMD Put, insert: gormstore / scs Commit", "cimd-put-insert", "BenchmarkCIMDPut/case=insert", "scs", 1.00)
	row("CIMD Put, upsert: gormstore / scs Commit", "cimd-put-upsert", "BenchmarkCIMDPut/case=upsert", "scs", 1.00)
	s, ok := rp.scale.get("BenchmarkScale/op=cimd-get", "rows=1M/rows=1k")
	rp.target("CIMD Get p50, 1M rows / 1k rows", s, ok, stat{}, false, 1.30)
	s, ok = rp.scale.get("BenchmarkScale/op=cimd-get", "pgx-rows=1M/pgx-rows=1k")
	rp.printf("| (context) the same, for the statement by hand over pgx | %s | | | |\n", ratio(s, ok))
	s, ok = rp.scale.get("BenchmarkScale/op=cimd-get", "sql-rows=1M/sql-rows=1k")
	rp.printf("| (context) the same, for the statement by hand over database/sql | %s | | | |\n", ratio(s, ok))
	s, ok = rp.sweep.get("BenchmarkSweep/method=sweeper", "p99-sweep/idle")
	rp.target(fmt.Sprintf("Get p99 during a 1M-row sweep / idle: sweeper, default BatchSize (%d)", sweeper.DefaultBatchSize), s, ok, stat{}, false, 3.00)
	s, ok = rp.sweep.get("BenchmarkSweep/method=sweeper-batch-1000", "p99-sweep/idle")
	rp.printf("| (contrast) the same, sweeper with BatchSize 1000 | %s | | | |\n", ratio(s, ok))
	s, ok = rp.sweep.get("BenchmarkSweep/method=unbatched-delete", "p99-sweep/idle")
	rp.printf("| (contrast) Get p99 during one unbatched DELETE / idle | %s | | | |\n", ratio(s, ok))
	explain := "no data"
	if rp.explainRan {
		explain = "**missed**"
		if rp.explainPassed {
			explain = "**met**"
		}
	}
	rp.printf("| EXPLAIN of every statement uses the primary key (TestStatementsUseThePrimaryKey) | %d plans checked | | all | %s |\n\n", len(rp.explainLines), explain)
}

// Issue 11's limits: a read at most 1.20 times the statement by hand, a
// write at most 1.25 times.
const (
	readLimit  = 1.20
	writeLimit = 1.25
)

// op is one operation of BenchmarkRatio (and BenchmarkRatioMariaDB), with
// its per-implementation benchmark on PostgreSQL.
type op struct {
	name, what, seq string
	limit           float64
}

var pgOps = []op{
	{"cimd-get-hit", "CIMD Get, hit", "BenchmarkCIMDGet/case=hit", readLimit},
	{"cimd-get-miss", "CIMD Get, miss", "BenchmarkCIMDGet/case=miss", readLimit},
	{"par-fetch", "PAR Fetch", "BenchmarkPARFetch", readLimit},
	{"par-take", "PAR Take", "BenchmarkPARTake", readLimit},
	{"cimd-put-insert", "CIMD Put, insert", "BenchmarkCIMDPut/case=insert", writeLimit},
	{"cimd-put-upsert", "CIMD Put, upsert", "BenchmarkCIMDPut/case=upsert", writeLimit},
	{"par-put", "PAR Put", "BenchmarkPARPut", writeLimit},
}

var mariaDBOps = append(slices.Clone(pgOps),
	op{"par-take-two-step", "PAR Take in two steps (DisableWithReturning)", "", readLimit})

// contenders in the order the tables show them.
var contenders = []string{"gormstore", "pgx", "pgx-raw", "database-sql", "internal-path", "scs", "gorm-chain"}

func (rp *report) latency() {
	rp.printf("### Latency per operation (BenchmarkRatio)\n\n")
	rp.printf("Median latency of one call (p50); the contenders take turns call by call, in a new random order every round of calls, each on rows of its own. In brackets: the contender's p50 over pgx's, and over scs's where scs has the operation.\n\n")
	rp.printf("| operation | %s |\n| --- |%s\n", strings.Join(contenders, " | "), strings.Repeat(" --- |", len(contenders)))
	for _, op := range []string{"cimd-get-hit", "cimd-get-miss", "cimd-put-insert", "cimd-put-upsert", "par-put", "par-fetch", "par-take"} {
		name := "BenchmarkRatio/op=" + op
		row := []string{op}
		for _, c := range contenders {
			p50, ok := rp.ratio.get(name, c+"-p50-ns")
			if !ok {
				row = append(row, "")
				continue
			}
			cell := dur(p50.med)
			var rs []string
			if c != "pgx" {
				if v, ok := rp.ratio.get(name, c+"/pgx"); ok {
					rs = append(rs, fmt.Sprintf("%.2f×pgx", v.med))
				}
			}
			if c != "scs" {
				if v, ok := rp.ratio.get(name, c+"/scs"); ok {
					rs = append(rs, fmt.Sprintf("%.2f×scs", v.med))
				}
			}
			if len(rs) > 0 {
				cell += " (" + strings.Join(rs, ", ") + ")"
			}
			row = append(row, cell)
		}
		rp.printf("| %s |\n", strings.Join(row, " | "))
	}
	rp.printf("\n")
}

func (rp *report) allocations() {
	rp.printf("### Allocations per operation (BenchmarkCIMDGet, BenchmarkCIMDPut, BenchmarkPAR*)\n\n")
	rp.printf("allocs/op and B/op, from `b.ReportAllocs()`; internal-path is the stores' previous call path (a measurement baseline, see below), gorm-chain the library before it was tuned.\n\n")
	impls := []string{"gormstore", "pgx", "database-sql", "internal-path", "scs", "gorm-chain"}
	rp.printf("| benchmark | %s |\n| --- |%s\n", strings.Join(impls, " | "), strings.Repeat(" --- |", len(impls)))
	for _, base := range []string{"BenchmarkCIMDGet/case=hit", "BenchmarkCIMDGet/case=miss", "BenchmarkCIMDPut/case=insert", "BenchmarkCIMDPut/case=upsert", "BenchmarkPARPut", "BenchmarkPARFetch", "BenchmarkPARTake"} {
		row := []string{strings.TrimPrefix(base, "Benchmark")}
		for _, impl := range impls {
			a, ok1 := rp.ops.get(base+"/impl="+impl, "allocs/op")
			b, ok2 := rp.ops.get(base+"/impl="+impl, "B/op")
			if !ok1 || !ok2 {
				row = append(row, "")
				continue
			}
			row = append(row, fmt.Sprintf("%.0f allocs, %.0f B", a.med, b.med))
		}
		rp.printf("| %s |\n", strings.Join(row, " | "))
	}
	rp.printf("\n")
	rp.printf("| decoding testdata/cimd/web-app.json | gormstore's decoder | encoding/json |\n| --- | --- | --- |\n")
	g, _ := rp.ops.get("BenchmarkCodec/op=decode-cimd/impl=gormstore", "allocs/op")
	gb, _ := rp.ops.get("BenchmarkCodec/op=decode-cimd/impl=gormstore", "B/op")
	gt, _ := rp.ops.get("BenchmarkCodec/op=decode-cimd/impl=gormstore", "ns/op")
	e, _ := rp.ops.get("BenchmarkCodec/op=decode-cimd/impl=encoding-json", "allocs/op")
	eb, _ := rp.ops.get("BenchmarkCodec/op=decode-cimd/impl=encoding-json", "B/op")
	et, _ := rp.ops.get("BenchmarkCodec/op=decode-cimd/impl=encoding-json", "ns/op")
	rp.printf("| allocations | %.0f allocs, %.0f B | %.0f allocs, %.0f B |\n", g.med, gb.med, e.med, eb.med)
	rp.printf("| time (CPU only; noisy on a shared machine) | %s | %s |\n\n", dur(gt.med), dur(et.med))
	ct, ok1 := rp.ops.get("BenchmarkCodec/op=cast-cimd/impl=gormstore", "ns/op")
	mt, ok2 := rp.ops.get("BenchmarkCodec/op=encode-cimd/impl=encoding-json", "ns/op")
	if ok1 && ok2 {
		rp.printf("A CIMD Put's CPU before its statement (web-app.json): the changeset's Cast (validation and encoding) %s, of which json.Marshal %s.\n\n", dur(ct.med), dur(mt.med))
	}
}

// unitRatio is the median over rounds of one benchmark's metric a over
// its metric b, each round's a over the same round's b.
func (r results) unitRatio(name, a, b string) (stat, bool) {
	return paired(r[name][a], r[name][b], func(x, y float64) float64 { return x / y })
}

// unitDiff is the median over rounds of a minus b.
func (r results) unitDiff(name, a, b string) (stat, bool) {
	return paired(r[name][a], r[name][b], func(x, y float64) float64 { return x - y })
}

// paired summarizes f of each round's a and the same round's b: the k-th
// value of each is the k-th round's.
func paired(va, vb []float64, f func(a, b float64) float64) (stat, bool) {
	if len(va) == 0 || len(va) != len(vb) {
		return stat{}, false
	}
	out := make([]float64, len(va))
	for k := range va {
		out[k] = f(va[k], vb[k])
	}
	return summarize(out)
}

// signedDur formats a difference of nanoseconds with its sign.
func signedDur(ns float64) string {
	if ns < 0 {
		return "−" + dur(-ns)
	}
	return "+" + dur(ns)
}

// publicVsInternal is what the stores' call path through GORM's exported
// API (Raw(...).Rows(), Exec) costs against the internal path it replaced.
func (rp *report) publicVsInternal() {
	rp.printf("### The public call path against the previous internal path (PostgreSQL)\n\n")
	rp.printf("`gormstore` runs each statement through GORM's exported API: `db.WithContext(ctx).Raw(text, args...).Rows()` for reads, `db.WithContext(ctx).Exec(text, args...)` for writes. ")
	rp.printf("`internal-path` is the stores' call path before that change (commit 7dfbb3f), kept in `bench/internalpath_test.go` as a measurement baseline only: it writes `Statement.SQL`, `Vars` and `Context` by hand and runs `Callback().Row()` / `Callback().Raw()` itself. ")
	rp.printf("Both send the same statement text with the same arguments, validation and decoding. ")
	rp.printf("*Raced*: p50s and their ratio from `BenchmarkRatio` (median over rounds [smallest–largest]); *sequential*: ns/op ratio of the per-implementation benchmarks; allocations from those.\n\n")
	rp.printf("| operation | p50 gormstore | p50 internal-path | gormstore / internal-path, raced | p50 difference | sequential | allocs/op internal-path → gormstore | B/op internal-path → gormstore |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, op := range pgOps {
		name := "BenchmarkRatio/op=" + op.name
		g, ok1 := rp.ratio.get(name, "gormstore-p50-ns")
		i, ok2 := rp.ratio.get(name, "internal-path-p50-ns")
		if !ok1 || !ok2 {
			continue
		}
		diff, _ := rp.ratio.unitDiff(name, "gormstore-p50-ns", "internal-path-p50-ns")
		seq, seqOK := rp.ops.roundRatio(op.seq+"/impl=gormstore", op.seq+"/impl=internal-path", "ns/op")
		seqCell := ""
		if seqOK {
			seqCell = ratio(seq, true)
		}
		allocs, bytes := "", ""
		ga, ok3 := rp.ops.get(op.seq+"/impl=gormstore", "allocs/op")
		ia, ok4 := rp.ops.get(op.seq+"/impl=internal-path", "allocs/op")
		if ok3 && ok4 {
			allocs = fmt.Sprintf("%.0f → %.0f (%+.0f)", ia.med, ga.med, ga.med-ia.med)
		}
		gb, ok5 := rp.ops.get(op.seq+"/impl=gormstore", "B/op")
		ib, ok6 := rp.ops.get(op.seq+"/impl=internal-path", "B/op")
		if ok5 && ok6 {
			bytes = fmt.Sprintf("%.0f → %.0f (%+.0f)", ib.med, gb.med, gb.med-ib.med)
		}
		rp.printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", op.what, dur(g.med), dur(i.med),
			ratio(rp.ratio.unitRatio(name, "gormstore-p50-ns", "internal-path-p50-ns")), signedDur(diff.med), seqCell, allocs, bytes)
	}
	rp.printf("\n")
}

// mariaDB is BenchmarkRatioMariaDB's table.
func (rp *report) mariaDB() {
	rp.printf("### MariaDB (BenchmarkRatioMariaDB)\n\n")
	rp.printf("The stores on `gorm.io/driver/mysql` (opened with `mysql.Open(dsn)`, the DSN as GORM's documentation writes it), against the same statement sent by hand over go-sql-driver/mysql (`go-sql-driver`: database/sql on a pool of its own, opened from the same DSN, with the same arguments and decoding), and against the previous internal call path on the stores' GORM (`internal-path`; 7dfbb3f refused MariaDB, so this is its mechanics with the statements the stores now send). ")
	rp.printf("Pools of 16 connections; the contenders take turns call by call, each on rows of its own. ")
	rp.printf("`par-take-two-step` is `Take` on a server without `DELETE ... RETURNING` (the PAR store on a GORM opened with `DisableWithReturning`: a `SELECT`, then the `DELETE` whose affected-row count decides) against the same two statements by hand. ")
	rp.printf("Issue 11 sets no limit on MariaDB; the last column compares with PostgreSQL's. Median over rounds [smallest–largest].\n\n")
	rp.printf("| operation | p50 gormstore | p50 go-sql-driver | p50 internal-path | gormstore / go-sql-driver | gormstore / internal-path | within PostgreSQL's limit? | rounds |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, op := range mariaDBOps {
		name := "BenchmarkRatioMariaDB/op=" + op.name
		g, ok := rp.ratio.get(name, "gormstore-p50-ns")
		if !ok {
			continue
		}
		h, _ := rp.ratio.get(name, "go-sql-driver-p50-ns")
		internal, internalRatio := "", ""
		if i, ok := rp.ratio.get(name, "internal-path-p50-ns"); ok {
			internal = dur(i.med)
			internalRatio = ratio(rp.ratio.unitRatio(name, "gormstore-p50-ns", "internal-path-p50-ns"))
		}
		r, rOK := rp.ratio.get(name, "gormstore/go-sql-driver")
		within := "n/a"
		if rOK {
			within = fmt.Sprintf("yes (≤ %.2f)", op.limit)
			if r.med > op.limit {
				within = fmt.Sprintf("no (> %.2f)", op.limit)
			}
		}
		rp.printf("| %s | %s | %s | %s | %s | %s | %s | %d |\n", op.what, dur(g.med), dur(h.med), internal, ratio(r, rOK), internalRatio, within, g.n)
	}
	rp.printf("\n")
}

func (rp *report) scaleTable() {
	rp.printf("### Table size (BenchmarkScale)\n\n")
	rp.printf("Each table holds N rows, the older half expired. The store, the same statement by hand over pgx, and over GORM's own database/sql pool each draw their own keys at random from the live half; all nine (three sizes × three) take turns call by call. Take puts each taken row back (untimed) so the size holds. In brackets: p50 over the same contender's p50 at 1k rows.\n\n")
	rp.printf("| operation | rows | gormstore p50 / p95 / p99 | pgx p50 / p95 / p99 | database-sql p50 / p95 / p99 | blocks per Get: shared_buffers · kernel |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, op := range []string{"cimd-get", "par-take"} {
		name := "BenchmarkScale/op=" + op
		for _, size := range []string{"1k", "100k", "1M"} {
			cell := func(prefix string) string {
				var parts []string
				for _, p := range []string{"p50", "p95", "p99"} {
					parts = append(parts, durStat(rp.scale.get(name, prefix+"rows="+size+"-"+p+"-ns")))
				}
				out := strings.Join(parts, " / ")
				if size != "1k" {
					out += " (" + ratio(rp.scale.get(name, prefix+"rows="+size+"/"+prefix+"rows=1k")) + ")"
				}
				return out
			}
			blocks := ""
			if h, ok := rp.scale.get(name, "rows="+size+"-blks-hit/get"); ok {
				r, _ := rp.scale.get(name, "rows="+size+"-blks-read/get")
				blocks = fmt.Sprintf("%.2f · %.2f", h.med, r.med)
			}
			rp.printf("| %s | %s | %s | %s | %s | %s |\n", op, size, cell(""), cell("pgx-"), cell("sql-"), blocks)
		}
	}
	rp.printf("\nBlocks per Get: EXPLAIN (ANALYZE, BUFFERS) of 200 more Gets of random live keys after the race; a block not in shared_buffers is read from the kernel's page cache.\n\n")
}

func (rp *report) mixTable() {
	rp.printf("### Concurrency (BenchmarkMix)\n\n")
	rp.printf("Flows per second (one flow: CIMD Get, a Put after a miss, PAR Put, Fetch, Take), the client's CPU time per flow, and the latency of one call; pools of 16 connections; the contenders take turns every 200 ms.\n\n")
	rp.printf("| goroutines | flows/s gormstore · pgx · database-sql | gormstore / pgx | database-sql / pgx | client CPU per flow gormstore · pgx · database-sql | p50 / p95 / p99 gormstore | p50 / p95 / p99 pgx | p50 / p95 / p99 database-sql |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, g := range []string{"1", "8", "32", "64"} {
		name := "BenchmarkMix/goroutines=" + g
		gf, ok1 := rp.mix.get(name, "gormstore-flows/s")
		pf, ok2 := rp.mix.get(name, "pgx-flows/s")
		if !ok1 || !ok2 {
			continue
		}
		lat := func(impl string) string {
			var parts []string
			for _, p := range []string{"p50", "p95", "p99"} {
				s, ok := rp.mix.get(name, impl+"-"+p+"-ns")
				parts = append(parts, durStat(s, ok))
			}
			return strings.Join(parts, " / ")
		}
		df, _ := rp.mix.get(name, "database-sql-flows/s")
		cpu := func(impl string) string {
			s, ok := rp.mix.get(name, impl+"-client-cpu-ns/flow")
			return durStat(s, ok)
		}
		rp.printf("| %s | %.0f · %.0f · %.0f | %s | %s | %s · %s · %s | %s | %s | %s |\n", g, gf.med, pf.med, df.med,
			ratio(rp.mix.get(name, "gormstore/pgx-throughput")), ratio(rp.mix.get(name, "database-sql/pgx-throughput")),
			cpu("gormstore"), cpu("pgx"), cpu("database-sql"), lat("gormstore"), lat("pgx"), lat("database-sql"))
	}
	rp.printf("\n")
}

func (rp *report) sweepTable() {
	rp.printf("### Sweeping 1 million expired rows (BenchmarkSweep)\n\n")
	rp.printf("Two readers Get live documents from the same table every 2 ms each, and one writer re-puts expired documents every 20 ms (a re-fetch after expiry, which has to wait for a delete that holds its row).\n\n")
	rp.printf("| method | time | rows/s | Get p50 idle → during | Get p99 idle → during | p99 during / idle | writer Put p99 / slowest during |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, m := range []string{"sweeper", "sweeper-batch-1000", "unbatched-delete"} {
		name := "BenchmarkSweep/method=" + m
		t, ok := rp.sweep.get(name, "sweep-s")
		if !ok {
			continue
		}
		rows, _ := rp.sweep.get(name, "rows/s")
		i50, _ := rp.sweep.get(name, "idle-get-p50-ns")
		s50, _ := rp.sweep.get(name, "sweep-get-p50-ns")
		i99, _ := rp.sweep.get(name, "idle-get-p99-ns")
		s99, _ := rp.sweep.get(name, "sweep-get-p99-ns")
		pp99, _ := rp.sweep.get(name, "sweep-put-p99-ns")
		pmax, _ := rp.sweep.get(name, "sweep-put-max-ns")
		rp.printf("| %s | %.1f s | %.0f | %s → %s | %s → %s | %s | %s / %s |\n", m, t.med, rows.med,
			dur(i50.med), dur(s50.med), dur(i99.med), dur(s99.med), ratio(rp.sweep.get(name, "p99-sweep/idle")), dur(pp99.med), dur(pmax.med))
	}
	rp.printf("\n")
}

func (rp *report) explainTable() {
	rp.printf("### Plans (TestStatementsUseThePrimaryKey)\n\n")
	if !rp.explainRan {
		rp.printf("Not run.\n\n")
		return
	}
	status := "passed"
	if !rp.explainPassed {
		status = "FAILED"
	}
	rp.printf("The test %s. Plans it saw on tables of 20,000 rows, 16 on AutoMigrate's tables and 16 on attesto_phoenix's (the two subtests run in parallel, so their lines interleave):\n\n```\n%s\n```\n\n", status, strings.Join(rp.explainLines, "\n"))
}

// machine prints what a reader needs to compare a run with theirs.
func machine(url string) error {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Printf("nproc (GOMAXPROCS): %d\n", runtime.NumCPU())
	fmt.Printf("cpu: %s\n", model)
	fmt.Printf("go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpuidle/current_driver"); err == nil {
		fmt.Printf("cpuidle driver: %s\n", strings.TrimSpace(string(b)))
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return err
	}
	fmt.Printf("postgres: %s\n", version)
	rows, err := conn.Query(ctx, serverSettingsSQL)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, setting string
		if err := rows.Scan(&name, &setting); err != nil {
			return err
		}
		fmt.Printf("postgres %s: %s\n", name, setting)
	}
	return rows.Err()
}

// machineMySQL prints the MariaDB/MySQL server's version and settings.
func machineMySQL(dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var version string
	if err := db.QueryRow(mysqlVersionSQL).Scan(&version); err != nil {
		return err
	}
	fmt.Printf("mariadb: %s\n", version)
	rows, err := db.Query(mysqlSettingsSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, setting string
		if err := rows.Scan(&name, &setting); err != nil {
			return err
		}
		fmt.Printf("mariadb %s: %s\n", name, setting)
	}
	return rows.Err()
}

const (
	mysqlVersionSQL  = `SELECT VERSION()`
	mysqlSettingsSQL = `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_buffer_pool_size', 'innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin', 'max_connections', 'transaction_isolation', 'tx_isolation')`
)

const serverSettingsSQL = `SELECT name, current_setting(name) FROM pg_settings
WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections', 'work_mem', 'max_wal_size', 'plan_cache_mode')
ORDER BY name`

// holdCPULatency holds a CPU latency request of 0 until SIGINT or SIGTERM.
func holdCPULatency() error {
	f, err := os.OpenFile("/dev/cpu_dma_latency", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := binary.Write(f, binary.NativeEndian, int32(0)); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return nil
}
