#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run):
#
#   bash scripts/test.sh [go test flags...]
#
# It makes sure a PostgreSQL server answers at TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable) and that its
# database exists, then runs gofmt, go vet and go test -race. Extra arguments
# go to go test, e.g. bash scripts/test.sh -run TestFoo -v
#
# With GORMSTORE_LONG=1 (CI sets it) it then also fuzzes every fuzz target
# for GORMSTORE_FUZZTIME (default 15s) each.
#
# When nothing answers at a local URL it first starts the machine's Debian
# cluster on that port, if there is one, and otherwise a private throwaway
# server with trust auth in .pgdata/ (installing PostgreSQL with apt-get if
# needed). That server keeps running after the script; stop it with
#   /usr/lib/postgresql/VERSION/bin/pg_ctl -D .pgdata/data stop
# (as the postgres user when root) and remove .pgdata/ to start afresh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

url_defaulted=0
if [[ -z ${TEST_DATABASE_URL:-} ]]; then url_defaulted=1; fi
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

say() { echo "test.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}

command -v go >/dev/null || die "go is not on PATH; install Go first (see go.mod for the version)"

# pgready pings the database and creates it if missing, without needing psql.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/pgready" ./internal/cmd/pgready
pgready() { "$tmp/pgready" "$@"; }

# Host and port of the URL (postgres://user:pass@host:port/db?params).
url_host=""
url_port="${PGPORT:-5432}"
if [[ $TEST_DATABASE_URL == *://* ]]; then
	authority=${TEST_DATABASE_URL#*://}
	authority=${authority%%[/?]*}
	hostport=${authority##*@}
	re_v6='^\[([^]]*)\](:([0-9]+))?$'
	re_v4='^([^:]*)(:([0-9]+))?$'
	if [[ $hostport =~ $re_v6 || $hostport =~ $re_v4 ]]; then
		url_host=${BASH_REMATCH[1]}
		url_port=${BASH_REMATCH[3]:-$url_port}
	fi
fi
where="${url_host:-?}:$url_port"

# Runs a command as root: directly, or through sudo.
as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# Starts the machine's Debian cluster on the URL's port, if one is configured.
# Succeeds if it then answers.
try_debian_cluster() {
	if ! command -v pg_lsclusters >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
		return 1
	fi
	local ver name port status _
	while read -r ver name port status _; do
		[[ $port == "$url_port" ]] || continue
		if [[ $status == down* ]]; then
			as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || return 1
		fi
		if pgready -wait 15s -create "$TEST_DATABASE_URL"; then
			say "started the machine's PostgreSQL cluster $ver/$name on port $port"
			return 0
		fi
		say "cluster $ver/$name on port $port does not accept $TEST_DATABASE_URL (not trust auth?)"
		return 1
	done < <(pg_lsclusters --no-header 2>/dev/null)
	return 1
}

# Prints the directory holding initdb, pg_ctl and postgres, preferring the
# version of an existing .pgdata cluster, then the newest Debian one, then PATH.
find_pg_bindir() {
	local want="" dir
	[[ -f .pgdata/data/PG_VERSION ]] && want=$(<.pgdata/data/PG_VERSION)
	if [[ -n $want && -x /usr/lib/postgresql/$want/bin/initdb ]]; then
		echo "/usr/lib/postgresql/$want/bin"
		return
	fi
	dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [[ -x $dir/initdb ]]; then
		echo "$dir"
	elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(command -v pg_ctl)"
	fi
}

# Starts (creating it first if needed) the private server in .pgdata/data.
start_private_server() {
	local bindir datadir="$repo/.pgdata/data" log="$repo/.pgdata/server.log"
	local socketdir listen=127.0.0.1 locale=C action=started data="existing .pgdata/data"
	bindir=$(find_pg_bindir)
	if [[ -z $bindir ]]; then
		say "no PostgreSQL server binaries found; installing them with apt-get"
		command -v apt-get >/dev/null || die "apt-get not found: install the PostgreSQL server (initdb, pg_ctl) yourself"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
		bindir=$(find_pg_bindir)
		[[ -n $bindir ]] || die "PostgreSQL server binaries still not found after apt-get install"
	fi

	# initdb and postgres refuse to run as root: use the postgres system user.
	local run=()
	mkdir -p .pgdata
	if [[ $EUID -eq 0 ]]; then
		if ! id -u postgres >/dev/null 2>&1; then
			useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
				--shell /bin/bash postgres
		fi
		chown postgres:postgres .pgdata
		if [[ -d .pgdata/data ]]; then chown -R postgres:postgres .pgdata/data; fi
		if [[ -e $log ]]; then chown postgres:postgres "$log"; fi
		command -v runuser >/dev/null || die "runuser (util-linux) is needed to run PostgreSQL as root"
		run=(runuser -u postgres --)
		"${run[@]}" test -w "$repo/.pgdata" ||
			die "the postgres user cannot write $repo/.pgdata (is a parent directory private?)"
	fi

	if [[ ! -f $datadir/PG_VERSION ]]; then
		locale -a 2>/dev/null | grep -qix 'c\.utf-\?8' && locale=C.UTF-8
		"${run[@]}" "$bindir/initdb" -D "$datadir" --auth=trust --username=postgres \
			--encoding=UTF8 --locale="$locale" >"$repo/.pgdata/initdb.log" ||
			die "initdb failed; see .pgdata/initdb.log"
		data="new .pgdata/data"
	fi

	# Unix socket in the data dir, unless that path is too long for a socket.
	socketdir=$datadir
	((${#socketdir} + 20 < 108)) || socketdir=""
	[[ $url_host == "::1" ]] && listen="::1"
	if "${run[@]}" "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
		# Line 4 of postmaster.pid is the port the running server listens on.
		if [[ $(sed -n 4p "$datadir/postmaster.pid") != "$url_port" ]]; then
			say "private server in .pgdata runs on another port; restarting it on port $url_port"
			"${run[@]}" "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null
		fi
	fi
	if "${run[@]}" "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
		action="found running"
	elif ! "${run[@]}" "$bindir/pg_ctl" -D "$datadir" -l "$log" -w -t 60 \
		-o "-p $url_port -c listen_addresses='$listen' -k '$socketdir'" start >/dev/null; then
		tail -n 20 "$log" >&2 || true
		die "could not start the private PostgreSQL server (log: .pgdata/server.log)." \
			"If port $url_port is taken by another server, use a free port in TEST_DATABASE_URL."
	fi
	pgready -wait 30s -create "$TEST_DATABASE_URL" ||
		die "private PostgreSQL server started but $TEST_DATABASE_URL does not answer"
	say "$action private PostgreSQL $(<"$datadir/PG_VERSION") on $listen:$url_port ($data, log .pgdata/server.log)"
}

probe_rc=0
probe=$(pgready -wait 3s -create "$TEST_DATABASE_URL" 2>&1) || probe_rc=$?
if ((probe_rc == 0)); then
	[[ -z $probe ]] || echo "$probe" >&2
	say "using the PostgreSQL server already running at $where"
elif ((probe_rc == 2)); then
	echo "$probe" >&2
	die "TEST_DATABASE_URL is not a valid PostgreSQL URL"
else
	case $url_host in
	127.0.0.1 | localhost | ::1) ;;
	*)
		echo "$probe" >&2
		die "no usable PostgreSQL at $where, which is not local; start one or set TEST_DATABASE_URL"
		;;
	esac
	if ! try_debian_cluster; then
		# A stock cluster on the default port that refuses our passwordless
		# login (peer or scram auth) keeps its port: the private server takes
		# another one, unless the caller chose the URL.
		if ((url_defaulted)) && (exec 3<>"/dev/tcp/127.0.0.1/$url_port") 2>/dev/null; then
			url_port=55432
			export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$url_port/test?sslmode=disable"
			say "port 5432 is taken by a server that refuses the default URL; using $TEST_DATABASE_URL"
		fi
		start_private_server
	fi
fi

if ! unformatted=$(gofmt -l .); then
	die "gofmt failed"
fi
if [[ -n $unformatted ]]; then
	say "these files need gofmt -w:"
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 "$@" ./...

# GORMSTORE_LONG=1 (.ci/run sets it) then runs every fuzz target of the
# module for GORMSTORE_FUZZTIME (default 15s) each, against the same server:
# go test -fuzz takes one target of one package at a time. A failure
# leaves the input in that package's testdata/fuzz/ to commit with the fix.
if [[ ${GORMSTORE_LONG:-0} == 1 ]]; then
	fuzztime=${GORMSTORE_FUZZTIME:-15s}
	targets=()
	names=()
	# go test -list prints a package's matching names, then "ok <package>".
	while read -r first second _; do
		case $first in
		Fuzz*) names+=("$first") ;;
		ok)
			for name in "${names[@]}"; do targets+=("$second $name"); done
			names=()
			;;
		esac
	done < <(go test -list '^Fuzz' ./...)
	((${#targets[@]} > 0)) || die "GORMSTORE_LONG=1 but go test -list found no fuzz targets"
	log=$(mktemp)
	for target in "${targets[@]}"; do
		read -r pkg name <<<"$target"
		say "fuzzing $name in $pkg for $fuzztime"
		corpus="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name"
		before=$(ls "$corpus" 2>/dev/null || true)
		rc=0
		go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" 2>&1 | tee "$log" || rc=$?
		((rc == 0)) && continue
		# Go before 1.27 can fail a target with a bare "context deadline
		# exceeded" when -fuzztime ends while a worker is mid-call
		# (go.dev/issue/75804): no input failed, none was written. A real
		# failure writes its input to testdata/fuzz/, and fails here.
		after=$(ls "$corpus" 2>/dev/null || true)
		if [[ $before == "$after" ]] && grep -qx '[[:space:]]*context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
			say "warning: $name ended with Go's fuzz-deadline race (go.dev/issue/75804), not a failing input"
			continue
		fi
		rm -f "$log"
		exit "$rc"
	done
	rm -f "$log"
fi
