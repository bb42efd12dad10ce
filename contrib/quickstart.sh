#!/bin/bash
# A first look at ferry on a fresh Debian 12 machine (as root, or a user with sudo):
# installs the packages needed, builds ferry, starts throwaway PostgreSQL source and
# target servers in a temp dir on free loopback ports, loads sample data, and runs a
# migration with ferryd: full load while pgbench writes, then CDC until the lag is 0;
# shows the status, compares every table with an independent query, shows what runs.
# Everything is stopped and removed at the end (or on Ctrl-C).
#
#   contrib/quickstart.sh           run the demo and stop
#   contrib/quickstart.sh --wait    leave it running until Enter or Ctrl-C
#
# BUILD_DIR=dir builds out of tree there (default: the source tree).
set -o pipefail

wait_for_user=
case ${1:-} in
--wait) wait_for_user=1 ;;
"") ;;
*) echo "usage: $0 [--wait]" >&2; exit 2 ;;
esac

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILD_DIR:-$srcdir}
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() { echo "quickstart: $*" >&2; exit 1; }

say "Installing the Debian packages ferry needs"
"$srcdir/contrib/install-deps.sh" || die "installing packages failed"

if [[ ! -x $builddir/ferryd || ! -x $builddir/ferryctl ]]; then
	say "Building ferry in $builddir"
	(
		set -e
		cd "$srcdir"
		[[ -x configure ]] || autoreconf -fi
		mkdir -p "$builddir"
		cd "$builddir"
		[[ -f Makefile ]] || "$srcdir/configure" -q
		make -j"$(nproc)" ferryd ferryctl
	) || die "build failed"
fi

# The test harness starts and stops the servers; it also stops everything it started
# when this script exits, however it exits.
top_srcdir=$srcdir top_builddir=$builddir TEST_TIMEOUT=86400
export top_srcdir top_builddir
# shellcheck source=../t/lib.sh
. "$srcdir/t/lib.sh"

say "Starting throwaway servers in $TEST_TMP"
start_pg source || die "PostgreSQL did not start"
echo "PostgreSQL source  127.0.0.1:$SOURCE_PORT (wal_level = logical)"
start_pg target || die "PostgreSQL did not start"
echo "PostgreSQL target  127.0.0.1:$TARGET_PORT"

# As the ferry role, which owns database app (a publication needs table ownership).
src_sql() { pg_sql source "SET ROLE ferry; $*"; }
pgbench_source() {
	PGPASSWORD=$SOURCE_PASSWORD "$PG_BIN/pgbench" -h 127.0.0.1 -p "$SOURCE_PORT" -U ferry "$@" app
}

say "Loading sample data into the source: pgbench tables and a table of customers"
pgbench_source -i -s 2 -q >/dev/null 2>&1 || die "pgbench -i failed"
src_sql "
	ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY;
	CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text,
	                        since timestamptz DEFAULT now(), tags text[]);
	INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com',
	  now() - g * interval '1 hour', ARRAY['demo', 'n' || g % 7] FROM generate_series(1, 5000) g;
	ANALYZE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, customers;" >/dev/null || die "loading sample data failed"
counts_sql="SELECT string_agg(t || ': ' || n, ', ' ORDER BY t) FROM (
	SELECT 'accounts' t, count(*) n FROM pgbench_accounts UNION ALL
	SELECT 'history', count(*) FROM pgbench_history UNION ALL
	SELECT 'customers', count(*) FROM customers) c"
echo "source: $(pg_sql source "$counts_sql")"

ini=$TEST_TMP/ferry.ini
# The defaults for restarts and shutdown (the tests use shorter ones).
write_ferry_ini "$ini" restart_delay=@unset restart_delay_max=@unset restart_stable=@unset \
	crash_loop_max=@unset crash_loop_window=@unset shutdown_timeout=@unset
ini_endpoint "$ini" pgsrc source
ini_endpoint "$ini" pgdst target
ini_task "$ini" demo pgsrc pgdst migration_type=full-load-and-cdc load_workers=2 apply_workers=2 \
	partition_rows=100000 'include=public.*'
say "The config ($ini)"
grep -v '^;' "$ini"

say "Checking it: ferryd -t -c $ini"
"$FERRYD" -t -c "$ini" || die "the config was rejected"

say "Starting ferryd -f -c $ini, while pgbench writes to the source for 15 seconds"
pgbench_source -c 2 -T 15 -n >"$TEST_TMP/pgbench.log" 2>&1 &
pgbench_pid=$!
start_ferryd "$ini" || die "ferryd did not start: $(tail -n 5 "$TEST_TMP/ferry.d/ferryd.out" 2>/dev/null)"

demo_field() { jq_status "$ini" ".tasks[] | select(.name == \"demo\") | $1"; }
in_sync() {
	[[ $(demo_field .phase) == cdc ]] &&
		[[ $(demo_field '[.tables[] | select(.state != "in-sync")] | length') == 0 ]]
}
caught_up() { in_sync && [[ $(demo_field .lag_bytes) == 0 ]]; }
sleep 3
say "ferryctl -c $ini status, during the full load"
ferryctl -c "$ini" status
wait_until 120 in_sync || echo "(the tables are not all in sync after 120s; status follows)"
say "ferryctl -c $ini status: every table loaded, changes streaming (CDC)"
ferryctl -c "$ini" status

wait "$pgbench_pid" 2>/dev/null
echo "pgbench wrote $(grep -E '^number of transactions actually processed' "$TEST_TMP/pgbench.log" | sed 's/.*: //') transactions to the source"
src_sql "UPDATE customers SET email = 'changed@example.com' WHERE id <= 10;
	DELETE FROM customers WHERE id > 4990;" >/dev/null
echo "then 10 customers were changed and 10 deleted"
wait_until 60 caught_up || echo "(not caught up after 60s)"
say "ferryctl -c $ini status: caught up"
ferryctl -c "$ini" status

say "Checking the copy with an independent query: md5 of every table's rows, on each side"
table_md5() {
	pg_sql "$1" "SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-')
	             FROM (SELECT * FROM $2) r"
}
all_equal=1
for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history customers; do
	a=$(table_md5 source "$t")
	b=$(table_md5 target "$t")
	if [[ $a == "$b" ]]; then
		printf '  %-18s equal    (%s)\n' "$t" "$a"
	else
		printf '  %-18s DIFFERS  (source %s, target %s)\n' "$t" "$a" "$b"
		all_equal=
	fi
done
[[ -n $all_equal ]] && echo "every table on the target equals the source"

say "ferryctl -c $ini validate demo: ferry's own row-by-row check, in key ranges, CDC running"
ferryctl -c "$ini" validate demo
echo "(exit status $?: 0 equal, 1 differences, 2 error)"

say "ferryctl -c $ini cutover demo: zero lag, sequences past the maximum, final validation"
ferryctl -c "$ini" cutover demo --timeout 60
echo "(exit status $?: 0 go, 1 no-go)"

say "The processes (ps): one supervisor, one process per worker"
ps -o pid,ppid,args --ppid "$FERRYD_PID" -p "$FERRYD_PID"

say "The log files in $(ferry_log_dir "$ini")"
for f in "$(ferry_log_dir "$ini")"/*.log; do
	echo "--- ${f##*/}"
	tail -n 3 "$f"
done

say "What this shows"
cat <<'EOF'
A PostgreSQL -> PostgreSQL migration: target tables created from the source catalog,
a parallel full load from one exported snapshot while pgbench wrote, then change data
capture keeping the target in step until the lag was 0. An independent md5 query and
ferry's own validation agree that every row is there and right; the cutover report says
whether the target is ready to take the writes. The MySQL/MariaDB pairs run the same
way (see "Status" in README.md).
EOF

if [[ -n $wait_for_user ]]; then
	say "ferryd is running. Try: $FERRYCTL_BIN -c $ini status --json"
	echo "Press Enter (or Ctrl-C) to stop everything."
	read -r _ </dev/tty || true
fi

say "Stopping: ferryctl -c $ini stop"
ferryctl -c "$ini" stop >/dev/null && echo "ferryd asked to stop"
if _wait_gone "$FERRYD_PID" 40; then
	wait "$FERRYD_PID" 2>/dev/null
	echo "ferryd and its workers have stopped"
else
	echo "ferryd did not stop within 40s; it will be killed"
fi
echo "the throwaway servers are stopped and $TEST_TMP removed on exit"
