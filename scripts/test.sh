#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run):
#
#   bash scripts/test.sh [go test flags...]
#
# It makes sure a PostgreSQL server answers at TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable) and a MariaDB or
# MySQL server at TEST_MYSQL_URL (default
# root@tcp(127.0.0.1:3306)/test?charset=utf8mb4&parseTime=True&loc=Local),
# each with its database, then runs gofmt, go vet and go test -race. Extra
# arguments go to go test (each run of it), e.g.
#   bash scripts/test.sh -run TestFoo -v
#
# With GORMSTORE_LONG=1 (CI sets it) it then also runs the whole suite a
# second time on the latest GORM and drivers (go get -u in a copy of the
# module; GORMSTORE_LATEST=1 asks for that second run without the fuzzing,
# GORMSTORE_LATEST=0 skips it) and fuzzes every fuzz target for
# GORMSTORE_FUZZTIME (default 15s) each. With GORMSTORE_SERVERS_ONLY=1 it
# stops once both servers answer.
#
# PostgreSQL: when nothing answers at a local URL it first starts the
# machine's Debian cluster on that port, if there is one, and otherwise a
# private throwaway server with trust auth in .pgdata/ (installing PostgreSQL
# with apt-get if needed). That server keeps running after the script; stop
# it as docs/testing.md says (pg_ctl -D .pgdata/data stop, through
# runuser -u postgres when the script ran as root) and remove .pgdata/ to
# start afresh.
#
# MariaDB: when nothing answers at a local DSN it starts the machine's
# MariaDB server with its own configuration (installing mariadb-server with
# apt-get if there is none); it keeps running after the script (stop it with
# mysqladmin -uroot shutdown). If a local server refuses the DSN's root
# without a password because root logs in by unix_socket only, as on a fresh
# Debian install, it lets root also log in with an empty password (run as
# root through the socket: ALTER USER root@localhost IDENTIFIED VIA
# unix_socket OR mysql_native_password USING PASSWORD('')) and says so.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

url_defaulted=0
if [[ -z ${TEST_DATABASE_URL:-} ]]; then url_defaulted=1; fi
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
# As internal/testdb's DefaultMySQLURL: GORM's documented DSN form.
export TEST_MYSQL_URL="${TEST_MYSQL_URL:-root@tcp(127.0.0.1:3306)/test?charset=utf8mb4&parseTime=True&loc=Local}"

say() { echo "test.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}
# since prints the time elapsed since $1, a value of $SECONDS, as 2m05s.
since() {
	local s=$((SECONDS - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}
began=$SECONDS

command -v go >/dev/null || die "go is not on PATH; install Go first (see go.mod for the version)"

# pgready and mysqlready ping the databases and create them if missing,
# without needing psql or the mariadb client.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say "building the database probes (internal/cmd/pgready, internal/cmd/mysqlready)"
go build -o "$tmp/" ./internal/cmd/pgready ./internal/cmd/mysqlready
pgready() { "$tmp/pgready" "$@"; }
mysqlready() { "$tmp/mysqlready" "$@"; }

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


# --- MariaDB / MySQL at TEST_MYSQL_URL ---

# Parts of the DSN (user[:password]@net(address)/db?params, go-sql-driver's
# form), enough to tell whether the server is local and which port it is on;
# mysqlready parses the DSN itself and rejects a malformed one.
my_dsn=${TEST_MYSQL_URL%%\?*}
my_dsn=${my_dsn%/*}
my_cred="" my_netaddr=$my_dsn
if [[ $my_dsn == *@* ]]; then
	my_cred=${my_dsn%@*}
	my_netaddr=${my_dsn##*@}
fi
my_user=${my_cred%%:*}
my_pass=""
if [[ $my_cred == *:* ]]; then my_pass=${my_cred#*:}; fi
my_net=${my_netaddr%%(*}
my_net=${my_net:-tcp}
my_addr=""
if [[ $my_netaddr == *\(*\) ]]; then
	my_addr=${my_netaddr#*(}
	my_addr=${my_addr%)}
fi
my_host="" my_port=3306
re_v6='^\[([^]]*)\](:([0-9]+))?$'
re_v4='^([^:]*)(:([0-9]+))?$'
if [[ $my_net == unix ]]; then
	my_host=localhost
	my_where="unix(${my_addr:-/tmp/mysql.sock})"
else
	my_addr=${my_addr:-127.0.0.1:3306}
	if [[ $my_addr =~ $re_v6 || $my_addr =~ $re_v4 ]]; then
		my_host=${BASH_REMATCH[1]}
		my_port=${BASH_REMATCH[3]:-3306}
	fi
	my_where="${my_host:-?}:$my_port"
fi

# Prints the path of the installed MariaDB (or MySQL) server binary, if any.
find_mariadbd() {
	local bin
	for bin in /usr/sbin/mariadbd /usr/sbin/mysqld /usr/local/sbin/mariadbd /usr/local/sbin/mysqld \
		"$(command -v mariadbd || true)" "$(command -v mysqld || true)"; do
		if [[ -n $bin && -x $bin ]]; then
			echo "$bin"
			return
		fi
	done
}

# Reads the settings the server binary $1 resolves from the machine's my.cnf
# files and its built-in defaults into srv_user, srv_port, srv_socket,
# srv_pidfile and srv_errlog (empty: stderr).
read_mariadb_config() {
	local opt name value datadir=""
	srv_user="" srv_port=3306 srv_socket="" srv_pidfile="" srv_errlog=""
	for opt in $("$1" --print-defaults | tail -n +2); do
		case $opt in --user=*) srv_user=${opt#--user=} ;; esac
	done
	while read -r name value; do
		case $name in
		datadir) datadir=$value ;;
		port) srv_port=$value ;;
		socket) srv_socket=$value ;;
		pid-file) srv_pidfile=$value ;;
		log-error) srv_errlog=$value ;;
		esac
	done < <("$1" --verbose --help 2>/dev/null | grep -E '^(datadir|port|socket|pid-file|log-error) ')
	[[ -n $srv_pidfile ]] || die "$1 --verbose --help shows no pid-file"
	if [[ -n $srv_errlog && $srv_errlog != /* ]]; then srv_errlog="$datadir/$srv_errlog"; fi
	# As root, mariadbd refuses to start without --user; run it as the
	# configured user, else mysql (which the package creates), else root.
	if [[ -z $srv_user ]]; then
		srv_user=root
		if id -u mysql >/dev/null 2>&1; then srv_user=mysql; fi
	fi
}

# Starts the machine's MariaDB server with its own configuration, installing
# mariadb-server first if there is none. Leaves it to the caller to wait.
start_machine_mariadb() {
	local bin dir
	bin=$(find_mariadbd)
	if [[ -z $bin ]]; then
		say "no MariaDB server installed; installing mariadb-server with apt-get"
		command -v apt-get >/dev/null || die "apt-get not found: install a MariaDB server yourself, or set TEST_MYSQL_URL"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mariadb-server
		bin=$(find_mariadbd)
		[[ -n $bin ]] || die "no MariaDB server binary found after apt-get install mariadb-server"
	fi
	read_mariadb_config "$bin"
	if [[ $my_net != unix && $srv_port != "$my_port" ]]; then
		die "the machine's MariaDB listens on port $srv_port, not $my_port as TEST_MYSQL_URL says;" \
			"use port $srv_port in TEST_MYSQL_URL or start a server on $my_port yourself"
	fi
	# A server that runs but does not answer yet may be starting up or
	# recovering: it gets its time, and no second server is started. Its
	# pid file tells it from other servers running the same binary.
	if command -v start-stop-daemon >/dev/null &&
		start-stop-daemon --status --pidfile "$srv_pidfile" --exec "$bin"; then
		say "the machine's MariaDB ($bin) runs but does not answer at $my_where yet; waiting up to 60s"
		my_action="waited for"
		return
	fi
	# /run is a tmpfs: without systemd nothing recreates the socket's and
	# the pid file's directory after a reboot.
	for dir in "$(dirname "$srv_socket")" "$(dirname "$srv_pidfile")"; do
		if [[ ! -d $dir ]]; then
			as_root install -d -m 755 -o "$srv_user" -g "$(id -gn "$srv_user")" "$dir"
		fi
	done
	# The server's stderr, which is its error log unless my.cnf names one.
	mkdir -p .mariadb
	: >>.mariadb/server.log
	say "starting the machine's MariaDB: $bin --user=$srv_user (its stderr goes to .mariadb/server.log)"
	if command -v start-stop-daemon >/dev/null; then
		as_root start-stop-daemon --start --oknodo --background --pidfile "$srv_pidfile" \
			--output "$repo/.mariadb/server.log" --exec "$bin" -- --user="$srv_user"
	else
		as_root setsid -f "$bin" --user="$srv_user" >>.mariadb/server.log 2>&1 </dev/null
	fi
	my_action=started
}

# Shows the end of the server's logs: its stderr and my.cnf's log-error.
show_mariadb_log() {
	local bin
	tail -n 20 .mariadb/server.log >&2 2>/dev/null || true
	bin=$(find_mariadbd)
	[[ -n $bin ]] || return 0
	read_mariadb_config "$bin"
	if [[ -n $srv_errlog ]]; then
		say "end of $srv_errlog:"
		as_root tail -n 20 "$srv_errlog" >&2 || true
	fi
}

# Lets root log in over TCP with no password on a local MariaDB whose root
# logs in by unix_socket only, as a fresh Debian install sets it up: TCP
# from 127.0.0.1 resolves to root@localhost, which unix_socket cannot
# authenticate. Only that fresh state is changed; a root with a password
# of its own is left alone.
allow_root_tcp_login() {
	local client port account fresh
	client=$(command -v mariadb || command -v mysql || true)
	[[ -n $client ]] || return 1
	# The server behind the default socket must be the one the DSN names.
	port=$(as_root "$client" -uroot -N -B -e 'SELECT @@port' 2>/dev/null) || return 1
	if [[ $my_net != unix && $port != "$my_port" ]]; then
		say "the MariaDB server on the local socket listens on port $port, not $my_port"
		return 1
	fi
	account=$(as_root "$client" -uroot -N -B -e "SHOW CREATE USER 'root'@'localhost'" 2>/dev/null) || return 1
	fresh="^CREATE USER .root.@.localhost. IDENTIFIED VIA (unix_socket|mysql_native_password USING 'invalid')( OR (unix_socket|mysql_native_password USING 'invalid'))*$"
	if [[ ! $account =~ $fresh || $account != *unix_socket* ]]; then
		say "MariaDB's root@localhost has a password or another plugin of its own (not a fresh unix_socket-only account); leaving it alone"
		return 1
	fi
	as_root "$client" -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')" ||
		return 1
	say "MariaDB's root logged in by unix_socket only; it may now also log in with an empty password" \
		"(ran as root through the socket: ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(''))"
}

# Waits for the MariaDB server (up to $1), creating the database, and
# repairs a fresh Debian install's root login on the way. Sets my_version.
wait_mariadb() {
	local rc=0 out
	out=$(mysqlready -wait "$1" -create "$TEST_MYSQL_URL" 2>"$tmp/mysqlready.err") || rc=$?
	if ((rc == 3)) && [[ $my_user == root && -z $my_pass ]] && allow_root_tcp_login; then
		rc=0
		out=$(mysqlready -wait 10s -create "$TEST_MYSQL_URL" 2>"$tmp/mysqlready.err") || rc=$?
	fi
	cat "$tmp/mysqlready.err" >&2
	my_version=$out
	return "$rc"
}

my_rc=0
my_version=$(mysqlready -wait 3s -create "$TEST_MYSQL_URL" 2>"$tmp/mysqlready.err") || my_rc=$?
if ((my_rc == 0)); then
	cat "$tmp/mysqlready.err" >&2
	say "using the MariaDB/MySQL server already running at $my_where ($my_version)"
elif ((my_rc == 2)); then
	cat "$tmp/mysqlready.err" >&2
	die "TEST_MYSQL_URL is not a valid go-sql-driver/mysql DSN"
else
	case $my_host in
	127.0.0.1 | localhost | ::1) ;;
	*)
		cat "$tmp/mysqlready.err" >&2
		die "no usable MariaDB/MySQL at $my_where, which is not local; start one or set TEST_MYSQL_URL"
		;;
	esac
	if ((my_rc == 3)); then
		# Up, but refusing the login: starting it again would not help.
		wait_mariadb 10s || die "the MariaDB/MySQL server at $my_where refuses the login of TEST_MYSQL_URL;" \
			"give its user and password in TEST_MYSQL_URL"
		say "using the MariaDB/MySQL server already running at $my_where ($my_version)"
	else
		my_action=""
		start_machine_mariadb
		if ! wait_mariadb 60s; then
			show_mariadb_log
			die "$my_action the machine's MariaDB, but it does not answer at $my_where"
		fi
		say "$my_action the machine's MariaDB at $my_where ($my_version)"
	fi
fi

if [[ ${GORMSTORE_SERVERS_ONLY:-0} == 1 ]]; then
	say "both servers answer (GORMSTORE_SERVERS_ONLY=1: no tests run)"
	exit 0
fi

# --- The checks and the suite ---

say "checking formatting (gofmt -l)"
if ! unformatted=$(gofmt -l .); then
	die "gofmt failed"
fi
if [[ -n $unformatted ]]; then
	say "these files need gofmt -w:"
	echo "$unformatted" >&2
	exit 1
fi
step=$SECONDS
say "running go vet ./..."
go vet ./...
say "go vet passed in $(since "$step")"

# The estimates are for the whole suite on 2 idle cores with a warm build
# cache; a busy machine takes two or three times as long.
step=$SECONDS
say "running go test -race ./... on the GORM versions in go.mod (about 4 min)"
go test -race -count=1 "$@" ./...
say "go test -race passed in $(since "$step")"

# The integrations under contrib/ are modules of their own (so the core's
# dependencies do not grow): ./... above does not reach them.
for mod in contrib/*/; do
	[[ -f $mod/go.mod ]] || continue
	step=$SECONDS
	say "running go vet and go test -race in ${mod%/} (a module of its own)"
	(cd "$mod" && go vet ./... && go test -race -count=1 "$@" ./...)
	say "${mod%/} passed in $(since "$step")"
done

# GORMSTORE_LATEST=1, or GORMSTORE_LONG=1 (.ci/run) unless GORMSTORE_LATEST=0,
# runs the suite again on the latest GORM and drivers: Go's module selection
# gives an application the newest GORM any of its modules requires, so the
# stores must pass on what consumers will actually link. Only GORM and its
# drivers are upgraded (with their own dependencies, go get -u), not the
# module's other dependencies, so a failure here points at GORM.
latest_mods=(gorm.io/gorm gorm.io/driver/postgres gorm.io/driver/mysql gorm.io/datatypes gorm.io/plugin/dbresolver github.com/glebarez/sqlite)
# What those bring along, printed for the record.
latest_deps=(github.com/jackc/pgx/v5 github.com/go-sql-driver/mysql github.com/glebarez/go-sqlite modernc.org/sqlite)
if [[ ${GORMSTORE_LATEST:-${GORMSTORE_LONG:-0}} == 1 ]]; then
	step=$SECONDS
	copy="$tmp/latest"
	mkdir -p "$copy"
	say "second run, on the latest GORM: copying the module to $copy and running go get -u there"
	# The working tree's files as git sees them (tracked and new, not
	# ignored: no .pgdata, no build output), or all but .git and .pgdata.
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do if [[ -e $f ]]; then printf '%s\0' "$f"; fi; done |
			tar --null -T - -cf - | tar -xf - -C "$copy"
	else
		tar --exclude=./.git --exclude=./.pgdata --exclude=./.mariadb -cf - . | tar -xf - -C "$copy"
	fi
	(cd "$copy" && go get -u "${latest_mods[@]}" && go mod tidy) >"$tmp/goget.log" 2>&1 || {
		cat "$tmp/goget.log" >&2
		die "go get -u of the latest GORM failed"
	}
	versions=$(cd "$copy" && go list -m -f '{{.Path}} {{.Version}}' "${latest_mods[@]}" "${latest_deps[@]}") ||
		die "go list -m failed in the copy"
	say "second run, on the latest GORM and drivers (copied and upgraded in $(since "$step")):"
	while read -r mod version; do
		pinned=$(go list -m -f '{{.Version}}' "$mod" 2>/dev/null || echo none)
		if [[ $pinned == "$version" ]]; then
			say "  $mod $version (same)"
		else
			say "  $mod $version (go.mod: $pinned)"
		fi
	done <<<"$versions"
	say "running go test -race ./... on the latest GORM (about 4 min, more while new versions compile)"
	(cd "$copy" && go test -race -count=1 "$@" ./...)
	say "the run on the latest GORM passed in $(since "$step")"
fi

# GORMSTORE_LONG=1 (.ci/run sets it) then runs every fuzz target of the
# module for GORMSTORE_FUZZTIME (default 15s) each, against the same server:
# go test -fuzz takes one target of one package at a time. A failure
# leaves the input in that package's testdata/fuzz/ to commit with the fix.
if [[ ${GORMSTORE_LONG:-0} == 1 ]]; then
	fuzztime=${GORMSTORE_FUZZTIME:-15s}
	targets=()
	names=()
	say "listing the fuzz targets (go test -list, which builds every package's tests)"
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
	say "fuzzing ${#targets[@]} targets for $fuzztime each"
	log=$(mktemp)
	for target in "${targets[@]}"; do
		read -r pkg name <<<"$target"
		say "fuzzing $name in $pkg for $fuzztime"
		corpus="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name"
		before=$(ls "$corpus" 2>/dev/null || true)
		rc=0
		go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" 2>&1 | tee "$log" || rc=$?
		((rc == 0)) && continue
		# Go 1.26 can fail a target with a bare "context deadline
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
say "all passed in $(since "$began")"
