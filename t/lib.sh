# shellcheck shell=bash
# shellcheck disable=SC2016 # jq filters and eval strings are single-quoted on purpose
# Test harness for ferry's integration tests, sourced by TAP scripts (bash).
#
# - TAP helpers: plan, ok, is, isnt, like, unlike, like_file, unlike_file, pass, fail,
#   skip, diag, note, done_testing. A failing assertion prints where it failed and the
#   tails of the relevant logs.
# - One temp dir per script, removed at exit (KEEP_TMP=1 keeps it). A trap on
#   EXIT/INT/TERM stops, by pid, every server and ferryd the script started and checks
#   that no worker and no child process is left behind.
# - Throwaway PostgreSQL 15 and MariaDB servers on free loopback ports (start_pg,
#   start_mariadb), SQL helpers (pg_sql, my_sql), config writers (write_ferry_ini,
#   ini_endpoint, ini_task), ferryd control (start_ferryd, stop_ferryd, ferryctl) and
#   status queries through `ferryctl status --json` (jq).
#
# Binaries come from $top_builddir (exported by `make check`), sources from $top_srcdir;
# both default to the repository this file is in.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}  # seconds before the watchdog stops a hung script
LC_ALL=C
export LC_ALL

# ---------------------------------------------------------------------------------------
# TAP

_tap_count=0
_tap_failed=0
_tap_planned=
_tap_diag_budget=3  # failures that print log tails; later ones only say where they are

plan() {
	_tap_planned=$1
	echo "1..$1"
}

diag() {
	local line
	while IFS= read -r line; do echo "# $line"; done <<<"$*"
}

note() { diag "$@"; }

# The first caller outside this file: "script.sh line 42".
_tap_where() {
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
			echo "${BASH_SOURCE[i]##*/} line ${BASH_LINENO[i - 1]}"
			return
		fi
	done
	echo "?"
}

_tap_result() {  # _tap_result STATUS DESCRIPTION [DIAGNOSTICS...]
	local status=$1 desc=$2
	shift 2
	_tap_count=$((_tap_count + 1))
	if ((status == 0)); then
		echo "ok $_tap_count - $desc"
		return 0
	fi
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_count - $desc"
	diag "  Failed test '$desc' at $(_tap_where)"
	local d
	for d in "$@"; do diag "  $d"; done
	if ((_tap_diag_budget > 0)); then
		_tap_diag_budget=$((_tap_diag_budget - 1))
		diag_logs
	fi
	return 1
}

pass() { _tap_result 0 "$1"; }
fail() { _tap_result 1 "$@"; }

# ok DESCRIPTION COMMAND [ARGS...]: passes when the command succeeds.
ok() {
	local desc=$1
	shift
	"$@"
	local status=$?
	_tap_result "$status" "$desc" "command: $*" "exit status: $status"
}

# nok DESCRIPTION COMMAND [ARGS...]: passes when the command fails.
nok() {
	local desc=$1
	shift
	if "$@"; then
		_tap_result 1 "$desc" "command unexpectedly succeeded: $*"
	else
		_tap_result 0 "$desc"
	fi
}

is() {
	[[ $1 == "$2" ]]
	_tap_result $? "$3" "     got: '$1'" "expected: '$2'"
}

isnt() {
	[[ $1 != "$2" ]]
	_tap_result $? "$3" "     got: '$1'" "expected anything else"
}

# like STRING EXTENDED-REGEX DESCRIPTION
like() {
	grep -Eq -- "$2" <<<"$1"
	_tap_result $? "$3" "$(printf '%s\n' "$1" | tail -n 20)" "does not match: /$2/"
}

unlike() {
	! grep -Eq -- "$2" <<<"$1"
	_tap_result $? "$3" "$(grep -E -- "$2" <<<"$1" | head -n 5)" "matches: /$2/"
}

like_file() {  # like_file FILE EXTENDED-REGEX DESCRIPTION
	grep -Eq -- "$2" "$1" 2>/dev/null
	_tap_result $? "$3" "file: $1" "no line matches: /$2/"
}

unlike_file() {
	! grep -Eq -- "$2" "$1" 2>/dev/null
	_tap_result $? "$3" "file: $1" "$(grep -E -- "$2" "$1" 2>/dev/null | head -n 5)"
}

# skip COUNT REASON: records COUNT skipped tests.
skip() {
	local i
	for ((i = 0; i < $1; i++)); do
		_tap_count=$((_tap_count + 1))
		echo "ok $_tap_count # SKIP $2"
	done
}

BAIL_OUT() {
	echo "Bail out! $*"
	exit 255
}

done_testing() {
	[[ -n $_tap_planned ]] || echo "1..$_tap_count"
	if [[ -n $_tap_planned && $_tap_planned != "$_tap_count" ]]; then
		diag "planned $_tap_planned tests but ran $_tap_count"
		return 1
	fi
	((_tap_failed == 0))
}

# Logs shown when an assertion fails: every ferry log dir and ferryd output of this
# script, plus anything registered with watch_log.
_watched_logs=()
watch_log() { _watched_logs+=("$@"); }

diag_logs() {
	local f files=("${_watched_logs[@]}") dir
	for dir in "${!_ferry_log_dir[@]}"; do
		for f in "${_ferry_log_dir[$dir]}"/*.log "${_ferry_base[$dir]}"/ferryd.out; do
			[[ -f $f ]] && files+=("$f")
		done
	done
	for f in "${files[@]}"; do
		[[ -s $f ]] || continue
		diag "--- last lines of ${f#"$TEST_TMP"/}:"
		diag "$(tail -n "${DIAG_LINES:-12}" "$f")"
	done
}

# ---------------------------------------------------------------------------------------
# Temp dir, process bookkeeping, cleanup

# mktemp -d makes it 0700; as root the postgres account must traverse it.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-t.XXXXXX") || BAIL_OUT "cannot create a temp dir"
chmod 755 "$TEST_TMP"
export TEST_TMP

declare -A _pg_pid=() _pg_dir=() _my_pid=() _my_dir=() _srv_engine=() _srv_port=()
declare -A _ferryd_pid=() _ferry_base=() _ferry_log_dir=() _ferry_data_dir=() _ferry_pid_file=()
declare -A _ini_ep_engine=()
_worker_pids_seen=()  # "pid:start-ticks" of every worker this script saw; none may outlive its ferryd
_watchdog_pid=

_is_root() { ((EUID == 0)); }

# Alive and not a zombie (our own exited children stay zombies until waited for).
_alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# Waits for a pid that may not be our child; 0 when gone within SECONDS.
_wait_gone() {  # _wait_gone PID SECONDS
	local deadline=$((SECONDS + $2))
	while _alive "$1"; do
		((SECONDS >= deadline)) && return 1
		sleep 0.1
	done
	return 0
}

# Seconds since boot, now and when PID started (10 ms resolution): measures restart
# delays without depending on any log format.
uptime_s() { cut -d' ' -f1 /proc/uptime; }
proc_start_s() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f\n", $20 / tck }' <<<"$stat"
}
# Start time of PID in clock ticks since boot: with the pid, it names one process even
# after the pid is reused by someone else's.
_proc_start_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	awk '{ print $20 }' <<<"$stat"
}

# remember_worker PID: the worker must be gone when its ferryd is (checked by
# no_worker_left and at exit).
remember_worker() {
	local ticks
	ticks=$(_proc_start_ticks "$1") && _worker_pids_seen+=("$1:$ticks")
}

# _same_alive PID:TICKS: that very process still runs.
_same_alive() {
	local pid=${1%%:*} ticks=${1#*:}
	_alive "$pid" && [[ $(_proc_start_ticks "$pid") == "$ticks" ]]
}

# float_ge A B: A >= B
float_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# Title of a live process ("ferryd: apply t1.1"), empty when gone.
proc_title() { ps -o args= -p "$1" 2>/dev/null; }

# Pids of the direct children of PID.
child_pids() { pgrep -P "$1" 2>/dev/null; }

_cleanup() {
	local rc=$? leftover=0 ini pid name
	trap - EXIT INT TERM
	[[ -n $_watchdog_pid ]] && { pkill -P "$_watchdog_pid" 2>/dev/null; kill "$_watchdog_pid" 2>/dev/null; wait "$_watchdog_pid" 2>/dev/null; }
	for ini in "${!_ferryd_pid[@]}"; do
		pid=${_ferryd_pid[$ini]}
		_alive "$pid" || continue
		_remember_workers "$pid"
		kill -TERM "$pid" 2>/dev/null
		if ! _wait_gone "$pid" 30; then
			diag "cleanup: ferryd $pid ignored SIGTERM for 30s; killing it"
			kill -KILL "$pid" 2>/dev/null
			_wait_gone "$pid" 5
			leftover=1
		fi
		wait "$pid" 2>/dev/null
	done
	# Workers die with their supervisor; give them a moment, then insist.
	local seen deadline=$((SECONDS + 5))
	for seen in "${_worker_pids_seen[@]}"; do
		pid=${seen%%:*}
		while _same_alive "$seen" && ((SECONDS < deadline)); do sleep 0.1; done
		_same_alive "$seen" || continue
		diag "cleanup: orphan worker left behind: pid $pid '$(proc_title "$pid")'"
		kill -KILL "$pid" 2>/dev/null
		leftover=1
	done
	for name in "${!_pg_pid[@]}"; do stop_pg "$name"; done
	for name in "${!_my_pid[@]}"; do stop_mariadb "$name"; done
	_release_ports
	# No child of this script may remain (servers, ferryd, background helpers).
	pgrep -P "$$" >"$TEST_TMP/.children" 2>/dev/null
	while read -r pid; do
		[[ -n $pid ]] || continue
		diag "cleanup: child process left behind: pid $pid '$(proc_title "$pid")'"
		kill -KILL "$pid" 2>/dev/null
		leftover=1
	done <"$TEST_TMP/.children"
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		diag "temp dir kept: $TEST_TMP"
	else
		rm -rf "$TEST_TMP"
	fi
	((leftover)) && ((rc == 0)) && rc=1
	exit "$rc"
}

_on_signal() {
	diag "interrupted by signal; cleaning up"
	exit "$1"
}

trap _cleanup EXIT
trap '_on_signal 130' INT
trap '_on_signal 143' TERM

# A hung script must not hold CI: after TEST_TIMEOUT seconds the watchdog sends TERM,
# which runs the cleanup above.
{ sleep "$TEST_TIMEOUT" && echo "Bail out! watchdog: $0 ran over ${TEST_TIMEOUT}s" && kill -TERM $$; } </dev/null 2>/dev/null &
_watchdog_pid=$!

# wait_until SECONDS COMMAND [ARGS...]: polls until the command succeeds; 1 on timeout.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		((SECONDS >= deadline)) && return 1
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------
# Free loopback ports
#
# Ports come from below the kernel's ephemeral range (so no client connection grabs
# one) and are reserved with a lock directory shared by all test scripts running in
# parallel; a lock whose owner has died is taken over.

_port_lock_dir=${TMPDIR:-/tmp}/ferry-test-ports

free_port() {
	local port try owner
	mkdir -p "$_port_lock_dir" 2>/dev/null && chmod 1777 "$_port_lock_dir" 2>/dev/null
	for ((try = 0; try < 500; try++)); do
		port=$((20000 + RANDOM % 12000))
		if ! mkdir "$_port_lock_dir/$port" 2>/dev/null; then
			owner=$(cat "$_port_lock_dir/$port/owner" 2>/dev/null)
			[[ -n $owner ]] && _alive "$owner" && continue
			rm -rf "${_port_lock_dir:?}/$port"
			mkdir "$_port_lock_dir/$port" 2>/dev/null || continue
		fi
		echo "$$" >"$_port_lock_dir/$port/owner"
		if [[ -n $(ss -Htan "sport = :$port" 2>/dev/null) ]]; then
			continue  # in use by someone outside the scheme; keep the lock, try another
		fi
		echo "$port"
		return 0
	done
	echo "free_port: no free port found" >&2
	return 1
}

_release_ports() {
	local d
	for d in "$_port_lock_dir"/*; do
		[[ $(cat "$d/owner" 2>/dev/null) == "$$" ]] && rm -rf "$d"
	done
}

# A port nothing listens on (for "host unreachable" tests): reserved, never opened.
closed_port() { free_port; }

_new_password() {
	# Letters and digits only: easy to spot in logs and `ps`, no quoting trouble.
	local pw
	pw=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 20)
	echo "Pw${pw}"
}

# Upper-case shell variable prefix for a server name: "src" -> "SRC".
_var() {
	local v=${1^^}
	echo "${v//[^A-Z0-9_]/_}"
}

# ---------------------------------------------------------------------------------------
# PostgreSQL 15

# Runs a PostgreSQL program as the postgres account when we are root (initdb and
# postgres refuse root), as ourselves otherwise.
_as_pg() {
	local bin=$PG_BIN/$1
	shift
	if _is_root; then
		(cd / && setpriv --reuid=postgres --regid=postgres --init-groups "$bin" "$@")
	else
		"$bin" "$@"
	fi
}

# start_pg NAME [PORT]: a PostgreSQL 15 server with wal_level=logical on 127.0.0.1, a role
# ferry (LOGIN REPLICATION, password in $TEST_TMP/NAME.pass) owning database app.
# Sets NAME_PORT, NAME_HOST, NAME_SOCKDIR, NAME_PASSWORD_FILE, NAME_PASSWORD, NAME_PID,
# NAME_LOG (NAME upper-cased).
start_pg() {
	local name=$1 want_port=${2:-} v dir data port pw started=""
	v=$(_var "$name")
	dir=$TEST_TMP/pg-$name
	data=$dir/data
	mkdir -p "$dir" || return 1
	_is_root && chown postgres: "$dir"
	if ! _as_pg initdb -D "$data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
		>"$dir/initdb.log" 2>&1; then
		diag "start_pg $name: initdb failed:" "$(tail -n 20 "$dir/initdb.log")"
		return 1
	fi
	cat >>"$data/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir'
		wal_level = logical
		max_replication_slots = 16
		max_wal_senders = 16
		max_connections = 60
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		shared_buffers = 32MB
	EOF
	# Local socket: trust (the harness administers); TCP: password, as ferry uses it.
	cat >"$data/pg_hba.conf" <<-EOF
		local all all trust
		host all all 127.0.0.1/32 scram-sha-256
		host replication all 127.0.0.1/32 scram-sha-256
	EOF
	# The role and database exist before the server listens: a client retrying against
	# the port (ferry's workers) never sees a half-made server.
	pw=$(_new_password)
	(umask 077 && echo "$pw" >"$TEST_TMP/$name.pass")
	if ! printf '%s\n' "CREATE ROLE ferry LOGIN REPLICATION PASSWORD '$pw'" \
		"CREATE DATABASE app OWNER ferry" |
		_as_pg postgres --single -D "$data" -F postgres >"$dir/single.log" 2>&1; then
		diag "start_pg $name: creating role and database failed:" "$(tail -n 20 "$dir/single.log")"
		return 1
	fi
	for _ in 1 2 3 4 5; do
		port=${want_port:-$(free_port)} || return 1
		if _as_pg pg_ctl -D "$data" -o "-p $port" -l "$dir/server.log" -w -t 60 start \
			>"$dir/pg_ctl.log" 2>&1; then
			started=1
			break
		fi
		[[ -z $want_port ]] || break
		grep -q 'could not bind\|Address already in use' "$dir/server.log" || break
	done
	if [[ -z $started ]]; then
		diag "start_pg $name: server did not start:" "$(tail -n 20 "$dir/server.log")"
		return 1
	fi
	_pg_pid[$name]=$(head -n 1 "$data/postmaster.pid")
	_pg_dir[$name]=$dir
	_srv_engine[$name]=postgresql
	_srv_port[$name]=$port

	declare -gx "${v}_PORT=$port" "${v}_HOST=127.0.0.1" "${v}_SOCKDIR=$dir" \
		"${v}_PASSWORD_FILE=$TEST_TMP/$name.pass" "${v}_PID=${_pg_pid[$name]}" \
		"${v}_LOG=$dir/server.log"
	declare -g "${v}_PASSWORD=$pw"  # not exported: never in a child's environment
}

# pg_sql NAME SQL: runs SQL as the superuser over the unix socket, in database app
# (or $PGDATABASE); prints unaligned tuples.
pg_sql() {
	local name=$1
	shift
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "${_pg_dir[$name]}" \
		-p "${_srv_port[$name]}" -U postgres -d "${PGDATABASE:-app}" -c "$*"
}

# pg_login NAME [USER] [DBNAME]: connects over TCP with the ferry password, like ferry does.
pg_login() {
	local name=$1 user=${2:-ferry} db=${3:-app} v
	v=$(_var "$name")
	PGPASSWORD=$(cat "$TEST_TMP/$name.pass") "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "${_srv_port[$name]}" -U "$user" -d "$db" -c "SELECT current_user"
}

stop_pg() {
	local name=$1 pid=${_pg_pid[$1]}
	[[ -n $pid ]] || return 0
	if _alive "$pid"; then
		kill -INT "$pid"  # fast shutdown
		if ! _wait_gone "$pid" 30; then
			diag "stop_pg $name: postmaster $pid still running after 30s; killing it"
			kill -KILL "$pid"
			_wait_gone "$pid" 5
		fi
	fi
	unset "_pg_pid[$name]"
}

# restart_pg NAME [SETTING=VALUE...]: stops NAME's server (fast) and starts it again on
# the same port and data, with the settings appended to its postgresql.conf first.
restart_pg() {
	local name=$1 kv dir=${_pg_dir[$1]} v
	shift
	[[ -n $dir ]] || { diag "restart_pg: no server named $name"; return 1; }
	for kv in "$@"; do
		printf "%s = '%s'\n" "${kv%%=*}" "${kv#*=}" >>"$dir/data/postgresql.conf"
	done
	stop_pg "$name"
	if ! _as_pg pg_ctl -D "$dir/data" -o "-p ${_srv_port[$name]}" -l "$dir/server.log" -w -t 60 start \
		>"$dir/pg_ctl.log" 2>&1; then
		diag "restart_pg $name: server did not start:" "$(tail -n 20 "$dir/server.log")"
		return 1
	fi
	_pg_pid[$name]=$(head -n 1 "$dir/data/postmaster.pid")
	v=$(_var "$name")
	declare -gx "${v}_PID=${_pg_pid[$name]}"
}

# ---------------------------------------------------------------------------------------
# MariaDB

_my_server_id=100

# start_mariadb NAME [MARIADBD-OPTION...]: a MariaDB server with the binlog on (ROW) on
# 127.0.0.1, a user ferry (password in $TEST_TMP/NAME.pass) with all rights on database
# app and the replication rights; the options are added to mariadbd's command line. Sets
# the same NAME_* variables as start_pg.
start_mariadb() {
	local name=$1 v dir data port pw pid started="" user_opt=()
	shift
	v=$(_var "$name")
	dir=$TEST_TMP/my-$name
	data=$dir/data
	mkdir -p "$data" || return 1
	_is_root && user_opt=(--user=root)
	if ! mariadb-install-db --no-defaults --datadir="$data" "${user_opt[@]}" \
		--auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1; then
		diag "start_mariadb $name: mariadb-install-db failed:" "$(tail -n 20 "$dir/install.log")"
		return 1
	fi
	_my_server_id=$((_my_server_id + 1))
	for _ in 1 2 3 4 5; do
		port=$(free_port) || return 1
		: >"$dir/server.log"
		mariadbd --no-defaults --datadir="$data" "${user_opt[@]}" --port="$port" \
			--bind-address=127.0.0.1 --socket="$dir/sock" --pid-file="$dir/mariadbd.pid" \
			--log-error="$dir/server.log" --tmpdir="$dir" --skip-name-resolve \
			--log-bin=binlog --binlog-format=ROW --binlog-row-image=FULL \
			--server-id="$_my_server_id" --local-infile=1 \
			--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
			--innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 \
			--innodb-doublewrite=0 --sync-binlog=0 "$@" \
			</dev/null >>"$dir/server.log" 2>&1 &
		pid=$!
		if wait_until 60 _my_ready "$dir" "$pid"; then
			started=1
			break
		fi
		_alive "$pid" && { kill -KILL "$pid"; wait "$pid" 2>/dev/null; }
		wait "$pid" 2>/dev/null
		grep -q 'Address already in use\|Do you already have another' "$dir/server.log" || break
	done
	if [[ -z $started ]]; then
		diag "start_mariadb $name: server did not start:" "$(tail -n 20 "$dir/server.log")"
		return 1
	fi
	_my_pid[$name]=$pid
	_my_dir[$name]=$dir
	_srv_engine[$name]=mysql
	_srv_port[$name]=$port

	pw=$(_new_password)
	(umask 077 && echo "$pw" >"$TEST_TMP/$name.pass")
	declare -gx "${v}_PORT=$port" "${v}_HOST=127.0.0.1" "${v}_SOCKDIR=$dir" \
		"${v}_PASSWORD_FILE=$TEST_TMP/$name.pass" "${v}_PID=$pid" "${v}_LOG=$dir/server.log"
	declare -g "${v}_PASSWORD=$pw"
	_my_admin "$name" "
		DELETE FROM mysql.global_priv WHERE User = '';
		FLUSH PRIVILEGES;
		CREATE DATABASE app;
		CREATE USER 'ferry'@'%' IDENTIFIED BY '$pw';
		GRANT ALL ON app.* TO 'ferry'@'%';
		GRANT SELECT, RELOAD, LOCK TABLES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'ferry'@'%';"
}

_my_ready() {  # _my_ready DIR PID: the server answers on its socket (fails fast if it died)
	_alive "$2" || return 2
	mariadb-admin --no-defaults -uroot --socket="$1/sock" --connect-timeout=2 ping >/dev/null 2>&1
}

_my_admin() {
	local name=$1
	shift
	mariadb --no-defaults -uroot --socket="${_my_dir[$name]}/sock" \
		--default-character-set=utf8mb4 -N -B -e "$*"
}

# my_sql NAME SQL: runs SQL as root over the socket in database app (or $MYDATABASE).
my_sql() {
	local name=$1
	shift
	mariadb --no-defaults -uroot --socket="${_my_dir[$name]}/sock" \
		--default-character-set=utf8mb4 -N -B -D "${MYDATABASE:-app}" -e "$*"
}

# my_login NAME [USER]: connects over TCP with the ferry password, like ferry does.
my_login() {
	local name=$1 user=${2:-ferry}
	MYSQL_PWD=$(cat "$TEST_TMP/$name.pass") mariadb --no-defaults -h 127.0.0.1 \
		-P "${_srv_port[$name]}" -u "$user" -N -B -D app -e "SELECT current_user()"
}

stop_mariadb() {
	local name=$1 pid=${_my_pid[$1]}
	[[ -n $pid ]] || return 0
	if _alive "$pid"; then
		kill -TERM "$pid"
		if ! _wait_gone "$pid" 30; then
			diag "stop_mariadb $name: mariadbd $pid still running after 30s; killing it"
			kill -KILL "$pid"
			_wait_gone "$pid" 5
		fi
	fi
	wait "$pid" 2>/dev/null
	unset "_my_pid[$name]"
}

# ---------------------------------------------------------------------------------------
# ferry configuration files

# _ini_section FILE HEADER DEFAULTS... -- OVERRIDES...: writes a section; an override
# key=value replaces the default of that key, new keys follow; key=@unset drops the key,
# key= writes "key =" (an explicit empty value).
_ini_section() {
	local file=$1 header=$2 kv k
	shift 2
	local -a keys=()
	local -A vals=()
	for kv in "$@"; do
		[[ $kv == -- ]] && continue
		k=${kv%%=*}
		[[ -v "vals[$k]" ]] || keys+=("$k")
		vals[$k]=${kv#*=}
	done
	{
		echo
		echo "[$header]"
		for k in "${keys[@]}"; do
			case ${vals[$k]} in
			@unset) ;;
			"") echo "$k =" ;;
			*) echo "$k = ${vals[$k]}" ;;
			esac
		done
	} >>"$file"
}

# write_ferry_ini FILE [key=value...]: starts FILE with a [ferryd] section whose
# data_dir, log_dir and pid_file lie in the temp dir (one set per file), small restart
# delays for tests, metrics off (no fixed port shared between parallel tests);
# key=value pairs override or add keys.
write_ferry_ini() {
	local file=$1 base
	shift
	base=$TEST_TMP/$(basename "$file" .ini).d
	mkdir -p "$base"
	_ferry_base[$file]=$base
	_ferry_data_dir[$file]=$base/data
	_ferry_log_dir[$file]=$base/log
	_ferry_pid_file[$file]=$base/ferryd.pid
	echo "; written by t/lib.sh for $(basename "$0")" >"$file"
	_ini_section "$file" ferryd \
		"data_dir=$base/data" "log_dir=$base/log" "pid_file=$base/ferryd.pid" \
		log_level=info metrics_listen= restart_delay=300ms restart_delay_max=2s restart_stable=60s \
		crash_loop_max=5 crash_loop_window=5min shutdown_timeout=10s -- "$@"
	# the key named may have been overridden
	local kv
	for kv in "$@"; do
		case $kv in
		data_dir=*) _ferry_data_dir[$file]=${kv#*=} ;;
		log_dir=*) _ferry_log_dir[$file]=${kv#*=} ;;
		pid_file=*) _ferry_pid_file[$file]=${kv#*=} ;;
		esac
	done
}

# ini_endpoint FILE ENDPOINT SERVER [key=value...]: an endpoint for a server started by
# start_pg/start_mariadb, logging in as ferry with the server's password file.
ini_endpoint() {
	local file=$1 ep=$2 server=$3
	shift 3
	local engine=${_srv_engine[$server]}
	[[ -n $engine ]] || { diag "ini_endpoint: no server named $server"; return 1; }
	_ini_ep_engine[$file:$ep]=$engine
	_ini_section "$file" "endpoint $ep" \
		"engine=$engine" host=127.0.0.1 "port=${_srv_port[$server]}" dbname=app user=ferry \
		"password_file=$TEST_TMP/$server.pass" sslmode=disable connect_timeout=5s -- "$@"
}

# ini_task FILE TASK SOURCE TARGET [key=value...]: a task with small worker pools
# (1 load, 2 apply, no validate unless overridden).
ini_task() {
	local file=$1 task=$2 src=$3 dst=$4
	shift 4
	local -a engine_keys=()
	case ${_ini_ep_engine[$file:$src]} in
	postgresql) engine_keys=("slot_name=ferry_$task" "publication=ferry_$task") ;;
	mysql)
		# distinct per task of a file (ferryd refuses two tasks sharing one on a source)
		_ini_server_id=$((${_ini_server_id:-$((4000 + RANDOM % 500))} + 1))
		engine_keys=("server_id=$_ini_server_id")
		;;
	esac
	_ini_section "$file" "task $task" \
		"source=$src" "target=$dst" migration_type=full-load-and-cdc \
		load_workers=1 apply_workers=2 validation=no "${engine_keys[@]}" -- "$@"
}

ferry_log_dir() { echo "${_ferry_log_dir[$1]}"; }
ferry_data_dir() { echo "${_ferry_data_dir[$1]}"; }
ferry_pid_file() { echo "${_ferry_pid_file[$1]}"; }
ferry_socket() { echo "${_ferry_data_dir[$1]}/ferryd.sock"; }

# ---------------------------------------------------------------------------------------
# ferryd and ferryctl

FERRYD=$top_builddir/ferryd
FERRYCTL_BIN=$top_builddir/ferryctl

# ferryctl ARGS...: the built ferryctl, bounded in time so a hung ferryd cannot hang a test.
ferryctl() { timeout 30 "$FERRYCTL_BIN" "$@"; }

# status_json INI: `ferryctl status --json`, or nothing when ferryd does not answer.
status_json() { ferryctl -c "$1" status --json 2>/dev/null; }

# jq_status INI FILTER [jq args...]: a jq query on the status document.
jq_status() {
	local ini=$1 filter=$2
	shift 2
	status_json "$ini" | jq -r "$@" "$filter" 2>/dev/null
}

worker_field() {  # worker_field INI "apply t1.1" FIELD
	jq_status "$1" '.tasks[].workers[] | select(.name == $n) | .[$f] // empty' \
		--arg n "$2" --arg f "$3"
}

worker_pid() { worker_field "$1" "$2" pid; }
# worker_restarted INI WORKER OLDPID: the worker runs again, under another pid.
worker_restarted() {
	local pid
	pid=$(worker_pid "$1" "$2")
	[[ -n $pid && $pid != "$3" ]]
}

task_field() {  # task_field INI TASK FIELD
	jq_status "$1" '.tasks[] | select(.name == $t) | .[$f] // empty' --arg t "$2" --arg f "$3"
}

# worker_names INI [TASK]: one "kind task.n" per line.
worker_names() {
	jq_status "$1" '.tasks[] | select($t == "" or .name == $t) | .workers[].name' --arg t "${2:-}"
}

# all_ready INI [TASK]: every worker (of TASK) is in state ready with a pid.
all_ready() {
	status_json "$1" | jq -e --arg t "${2:-}" \
		'[.tasks[] | select($t == "" or .name == $t) | .workers[]] as $w
		 | ($w | length) > 0 and all($w[]; .state == "ready" and .pid != null)' >/dev/null 2>&1
}

# The pids of every worker in the status, remembered for the orphan check.
status_worker_pids() {
	local p
	for p in $(jq_status "$1" '.tasks[].workers[].pid // empty'); do
		remember_worker "$p"
		echo "$p"
	done
}

_remember_workers() {
	local p
	for p in $(child_pids "$1"); do remember_worker "$p"; done
}

_ferryd_answers() {  # _ferryd_answers INI PID
	_alive "$2" || return 2
	[[ -S ${_ferry_data_dir[$1]}/ferryd.sock ]] && status_json "$1" | jq -e .ferryd.pid >/dev/null 2>&1
}

# start_ferryd INI [ARGS...]: runs `ferryd -c INI -f` in the background, waits until its
# control socket answers. Sets FERRYD_PID. Output goes to <base>/ferryd.out.
start_ferryd() {
	local ini=$1 base
	shift
	base=${_ferry_base[$ini]:-$TEST_TMP}
	"$FERRYD" -c "$ini" -f "$@" </dev/null >>"$base/ferryd.out" 2>&1 &
	FERRYD_PID=$!
	_ferryd_pid[$ini]=$FERRYD_PID
	local deadline=$((SECONDS + 20))
	until _ferryd_answers "$ini" "$FERRYD_PID"; do
		if ! _alive "$FERRYD_PID"; then
			wait "$FERRYD_PID"
			diag "start_ferryd: ferryd exited with status $?:" "$(tail -n 5 "$base/ferryd.out")"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			diag "start_ferryd: ferryd $FERRYD_PID did not answer on its socket within 20s"
			return 1
		fi
		sleep 0.1
	done
}

# start_ferryd_daemon INI: runs `ferryd -c INI` (daemon mode); the launcher must exit 0
# and the pid file name a live ferryd that answers. Sets FERRYD_PID.
start_ferryd_daemon() {
	local ini=$1 base rc pidfile=${_ferry_pid_file[$1]}
	base=${_ferry_base[$ini]:-$TEST_TMP}
	timeout 20 "$FERRYD" -c "$ini" </dev/null >>"$base/ferryd.out" 2>&1
	rc=$?
	if ((rc != 0)); then
		diag "start_ferryd_daemon: ferryd exited $rc: $(tail -n 5 "$base/ferryd.out")"
		return 1
	fi
	wait_until 10 test -s "$pidfile" || { diag "no pid file $pidfile"; return 1; }
	FERRYD_PID=$(head -n 1 "$pidfile")
	_ferryd_pid[$ini]=$FERRYD_PID
	wait_until 20 _ferryd_answers "$ini" "$FERRYD_PID"
}

# stop_ferryd INI [SIGNAL] [SECONDS]: signals ferryd (TERM by default) and waits up to
# SECONDS (default 20) for it to exit. Returns its exit status when it was our child,
# 0 when it exited otherwise, 124 on timeout.
stop_ferryd() {
	local ini=$1 sig=${2:-TERM} secs=${3:-20} pid=${_ferryd_pid[$1]}
	[[ -n $pid ]] || return 0
	_remember_workers "$pid"
	kill -"$sig" "$pid" 2>/dev/null
	_wait_gone "$pid" "$secs" || return 124
	wait "$pid" 2>/dev/null
	local rc=$?
	unset "_ferryd_pid[$ini]"
	((rc == 127)) && rc=0  # not our child (daemon mode): no status to collect
	return "$rc"
}

# no_worker_left: none of the workers seen still runs.
no_worker_left() {
	local seen
	for seen in "${_worker_pids_seen[@]}"; do
		_same_alive "$seen" && return 1
	done
	return 0
}

# Requires built binaries; skips the whole script cleanly when they are missing.
require_ferry_binaries() {
	if [[ ! -x $FERRYD || ! -x $FERRYCTL_BIN ]]; then
		echo "1..0 # SKIP ferryd/ferryctl not built in $top_builddir"
		exit 0
	fi
}
