#!/usr/bin/env bash
# The project's benchmark command (see BENCHMARKS.md):
#
#   bash scripts/bench.sh [OUTDIR]
#
# It measures the GORM stores against the same SQL sent by hand over pgxpool
# and against scs's postgresstore, at three table sizes, under concurrency,
# and during a sweep of 1 million expired rows; on MariaDB, against the same
# SQL sent by hand over go-sql-driver/mysql; and on both, against the
# stores' previous internal call path. It writes to OUTDIR (default
# bench/results):
#
#   machine.txt         nproc, CPU, Go, PostgreSQL, MariaDB and their settings
#   ratio.txt           BenchmarkRatio and BenchmarkRatioMariaDB, ROUNDS rounds:
#                       contenders racing call by call
#   ops.txt             BenchmarkCIMDGet/CIMDPut/PARPut/PARFetch/PARTake/Codec, ROUNDS rounds
#   mix.txt             BenchmarkMix, ROUNDS rounds
#   scale.txt           BenchmarkScale, -count=ROUNDS
#   sweep.txt           BenchmarkSweep, -count=SWEEP_ROUNDS
#   explain.txt         TestStatementsUseThePrimaryKey -v
#   benchstat-*.txt     benchstat's tables of the above
#   report.md           the targets and every figure of BENCHMARKS.md
#
# The rounds of the quick benchmarks are interleaved (ratio, ops, mix, then
# again), so that drift on a shared machine spreads over all of them.
# Environment: TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable), TEST_MYSQL_URL
# (default root@tcp(127.0.0.1:3306)/test?charset=utf8mb4&parseTime=True&loc=Local),
# ROUNDS (5), SWEEP_ROUNDS (3), BENCH_CPU_LATENCY (hold: keep idle CPUs
# polling during the run, when root; keep: leave them). When no server
# answers at TEST_DATABASE_URL or TEST_MYSQL_URL, it starts them as the test
# command does (scripts/test.sh with GORMSTORE_SERVERS_ONLY=1). The
# recorded run's length is in BENCHMARKS.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-bench/results}
rounds=${ROUNDS:-5}
sweep_rounds=${SWEEP_ROUNDS:-3}
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export TEST_MYSQL_URL="${TEST_MYSQL_URL:-root@tcp(127.0.0.1:3306)/test?charset=utf8mb4&parseTime=True&loc=Local}"

say() { echo "bench.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}

command -v go >/dev/null || die "go is not on PATH; install Go first (see go.mod for the version)"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The servers: the ones at TEST_DATABASE_URL and TEST_MYSQL_URL, or the ones
# the test command starts (GORMSTORE_SERVERS_ONLY=1: it stops once both
# answer, and runs no test).
go build -o "$tmp/" ./internal/cmd/pgready ./internal/cmd/mysqlready
if ! "$tmp/pgready" -wait 3s -create "$TEST_DATABASE_URL" 2>/dev/null ||
	! "$tmp/mysqlready" -wait 3s -create "$TEST_MYSQL_URL" >/dev/null 2>&1; then
	say "no PostgreSQL at TEST_DATABASE_URL or no MariaDB at TEST_MYSQL_URL; starting them with scripts/test.sh"
	GORMSTORE_SERVERS_ONLY=1 bash scripts/test.sh >&2 || true
	if ! "$tmp/pgready" -wait 30s -create "$TEST_DATABASE_URL"; then
		alt="postgres://postgres@127.0.0.1:55432/test?sslmode=disable"
		"$tmp/pgready" -wait 10s -create "$alt" || die "no PostgreSQL answers at $TEST_DATABASE_URL"
		export TEST_DATABASE_URL=$alt
	fi
fi
say "PostgreSQL at $TEST_DATABASE_URL"
my_version=$("$tmp/mysqlready" -wait 30s -create "$TEST_MYSQL_URL") || die "no MariaDB/MySQL answers at $TEST_MYSQL_URL"
say "MariaDB/MySQL at $TEST_MYSQL_URL ($my_version)"

if ! command -v benchstat >/dev/null; then
	say "installing benchstat"
	go install golang.org/x/perf/cmd/benchstat@latest
	export PATH="$PATH:$(go env GOPATH)/bin"
fi

go build -o "$tmp/benchreport" ./bench/benchreport
"$tmp/benchreport" -machine "$TEST_DATABASE_URL" "$TEST_MYSQL_URL" >"$out/machine.txt"

# Idle CPUs poll instead of halting while the benchmarks run (see
# BENCHMARKS.md): on a VM, waking a halted vCPU is a VM exit that adds tens
# of microseconds to a round trip at random. It needs root; without it the
# run goes on, and machine.txt says so. BENCH_CPU_LATENCY=keep leaves the
# CPUs as they are.
holder=""
stop_holder() {
	if [[ -n $holder ]]; then
		kill "$holder" 2>/dev/null || true
		wait "$holder" 2>/dev/null || true
		holder=""
	fi
}
trap 'stop_holder; rm -rf "$tmp"' EXIT
if [[ ${BENCH_CPU_LATENCY:-hold} == hold ]]; then
	"$tmp/benchreport" -hold-cpu-latency 2>"$tmp/holder.err" &
	holder=$!
	sleep 1
	if kill -0 "$holder" 2>/dev/null; then
		echo "cpu latency: /dev/cpu_dma_latency held at 0 during the run (idle CPUs poll)" >>"$out/machine.txt"
	else
		echo "cpu latency: not held ($(<"$tmp/holder.err")); idle CPUs may halt" >>"$out/machine.txt"
		holder=""
	fi
else
	echo "cpu latency: left as it was (BENCH_CPU_LATENCY=$BENCH_CPU_LATENCY)" >>"$out/machine.txt"
fi
cat "$out/machine.txt" >&2

# One binary for every run.
go test -c -o "$tmp/bench.test" ./bench
run() { (cd bench && "$tmp/bench.test" -test.run '^$' -test.benchmem "$@"); }

say "TestStatementsUseThePrimaryKey"
(cd bench && "$tmp/bench.test" -test.run '^TestStatementsUseThePrimaryKey$' -test.v) >"$out/explain.txt" 2>&1 ||
	say "TestStatementsUseThePrimaryKey FAILED (see $out/explain.txt)"

: >"$out/ratio.txt"
: >"$out/ops.txt"
: >"$out/mix.txt"
for ((r = 1; r <= rounds; r++)); do
	say "round $r of $rounds: BenchmarkRatio"
	run -test.bench '^BenchmarkRatio$' -test.benchtime 2s >>"$out/ratio.txt"
	# A MariaDB round that fails (the server restarted under it, on a shared
	# machine) is reported and leaves the other rounds standing: the report
	# gives each MariaDB figure's number of rounds.
	say "round $r of $rounds: BenchmarkRatioMariaDB"
	run -test.bench '^BenchmarkRatioMariaDB$' -test.benchtime 2s >>"$out/ratio.txt" ||
		say "round $r: BenchmarkRatioMariaDB FAILED (see $out/ratio.txt)"
	say "round $r of $rounds: operation benchmarks"
	run -test.bench '^Benchmark(CIMDGet|CIMDPut|PARPut|PARFetch|PARTake|Codec)$' -test.benchtime 0.5s -ops.rotate "$r" >>"$out/ops.txt"
	say "round $r of $rounds: BenchmarkMix"
	run -test.bench '^BenchmarkMix$' -test.benchtime 1x -mix.duration 6s >>"$out/mix.txt"
done

say "BenchmarkScale (fills 1k, 100k and 1M rows first)"
run -test.bench '^BenchmarkScale$' -test.benchtime 2s -test.count "$rounds" >"$out/scale.txt"

say "BenchmarkSweep ($sweep_rounds rounds of 1M rows per method)"
run -test.bench '^BenchmarkSweep$' -test.benchtime 1x -test.count "$sweep_rounds" >"$out/sweep.txt"

benchstat -col /impl "$out/ops.txt" >"$out/benchstat-ops.txt"
benchstat "$out/ratio.txt" >"$out/benchstat-ratio.txt"
benchstat "$out/scale.txt" >"$out/benchstat-scale.txt"
benchstat "$out/mix.txt" >"$out/benchstat-mix.txt"
benchstat "$out/sweep.txt" >"$out/benchstat-sweep.txt"
stop_holder
"$tmp/benchreport" "$out" >"$out/report.md"
say "done: $out/report.md"
cat "$out/report.md"
