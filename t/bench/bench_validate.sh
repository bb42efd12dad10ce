#!/bin/bash
# Validation of a PostgreSQL -> PostgreSQL copy, side by side on the same data (not a
# timed test). The issue's bar: validating pgbench scale 30 takes no longer than its
# full load on the same machine.
#   load       the full load that made the copy: ferry's load engine with 2 processes
#              (bench_pg_load, built by `make bench`); without it pg_dump | psql
#   ferry      ferryctl validate (ferryd not running: source and target compared once,
#              two connections per side)
#   pgcopydb   pgcopydb compare data --table-jobs 2, when the installed pgcopydb has it
#              (Debian 12's 0.10 has no compare command: then skipped and said so)
#   checksum   the whole-table reference: per table, one count + sum of 64-bit row
#              hashes on each server, both servers at once, two tables at a time
#              (what a whole-table checksum costs; it finds that a table differs, not
#              which rows)
# Prints each run, the medians, and ferry's time over the load's and the others'.
#
# Run from the build directory. Environment: SCALE=30 RUNS=3 PGBIN=/usr/lib/postgresql/15/bin
#   FERRYCTL=./ferryctl  BENCH_PG_LOAD=t/bench/bench_pg_load
# Starts two throwaway PostgreSQL servers (as the postgres user when run as root) on free
# loopback ports in a temporary directory, and removes everything on exit.
set -euo pipefail

SCALE=${SCALE:-30}
RUNS=${RUNS:-3}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
FERRYCTL=${FERRYCTL:-./ferryctl}
DRIVER=${BENCH_PG_LOAD:-t/bench/bench_pg_load}
export PATH="$PGBIN:$PATH"

[ -x "$FERRYCTL" ] || { echo "bench_validate: $FERRYCTL not found (run make in the build directory)" >&2; exit 2; }
FERRYCTL=$(cd "$(dirname "$FERRYCTL")" && pwd)/$(basename "$FERRYCTL")
[ -x "$DRIVER" ] && DRIVER=$(cd "$(dirname "$DRIVER")" && pwd)/$(basename "$DRIVER") || DRIVER=

WORK=$(mktemp -d /tmp/ferry-bench-validate.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$WORK"

cleanup() {
	for d in src dst; do
		[ -f "$WORK/$d/postmaster.pid" ] && as_pg pg_ctl -D "$WORK/$d" -m immediate stop >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
	local p
	for p in $(shuf -i 26000-29999 -n 200); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port" >&2; exit 1
}

start_server() { # dir port
	as_pg initdb -D "$WORK/$1" -A trust -U postgres >/dev/null
	as_pg pg_ctl -D "$WORK/$1" -l "$WORK/$1.log" -w -o "-p $2 -c listen_addresses=127.0.0.1 \
		-c unix_socket_directories=$WORK -c wal_level=logical -c synchronous_commit=off \
		-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min \
		-c maintenance_work_mem=512MB" start >/dev/null
}

SRC_PORT=$(free_port); start_server src "$SRC_PORT"
DST_PORT=$(free_port); start_server dst "$DST_PORT"
SRC="host=127.0.0.1 port=$SRC_PORT user=postgres dbname=bench"
DST="host=127.0.0.1 port=$DST_PORT user=postgres dbname=bench"
psql_src() { psql -X -q -v ON_ERROR_STOP=1 "$SRC" "$@"; }
psql_dst() { psql -X -q -v ON_ERROR_STOP=1 "$DST" "$@"; }
admin() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$1 user=postgres dbname=postgres" "${@:2}"; }

echo "== data: pgbench -i -s $SCALE"
admin "$SRC_PORT" -c "CREATE DATABASE bench"
pgbench -i -q -s "$SCALE" "$SRC" >/dev/null 2>&1
psql_src -c "VACUUM ANALYZE" -c "CHECKPOINT"
TABLES=$(psql_src -At -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
ROWS=$(psql_src -At -c "SELECT sum(n_live_tup) FROM pg_stat_user_tables")
SIZE=$(psql_src -At -c "SELECT pg_size_pretty(pg_database_size('bench'))")
echo "   $ROWS rows, database $SIZE, tables: $(echo $TABLES)"

load_copy() {
	admin "$DST_PORT" -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" -c "CHECKPOINT"
	sync
	if [ -n "$DRIVER" ]; then
		"$DRIVER" --source "$SRC" --target "$DST" --workers 2 >"$WORK/load.log" 2>&1 ||
			{ cat "$WORK/load.log" >&2; exit 1; }
	else
		pg_dump -h 127.0.0.1 -p "$SRC_PORT" -U postgres bench | psql_dst >/dev/null
	fi
}

cat >"$WORK/ferry.ini" <<EOF
[ferryd]
data_dir = $WORK/ferry-data
log_dir = $WORK/ferry-log
pid_file = $WORK/ferryd.pid
metrics_listen =

[endpoint src]
engine = postgresql
host = 127.0.0.1
port = $SRC_PORT
dbname = bench
user = postgres
sslmode = disable

[endpoint dst]
engine = postgresql
host = 127.0.0.1
port = $DST_PORT
dbname = bench
user = postgres
sslmode = disable

[task bench]
source = src
target = dst
migration_type = full-load
include = public.*
EOF

run_ferry() {
	"$FERRYCTL" -c "$WORK/ferry.ini" validate bench >"$WORK/ferry.out" 2>&1 || { cat "$WORK/ferry.out" >&2; exit 1; }
}

PGCOPYDB=
if command -v pgcopydb >/dev/null && pgcopydb compare data --help >/dev/null 2>&1; then
	PGCOPYDB=yes
else
	echo "   pgcopydb compare: not available ($(pgcopydb --version 2>&1 | grep -o 'version [^ ]*' | head -1 ||
		echo 'not installed')): skipped"
fi
run_pgcopydb() {
	rm -rf "$WORK/pgcopydb"
	pgcopydb compare data --source "postgres://postgres@127.0.0.1:$SRC_PORT/bench" \
		--target "postgres://postgres@127.0.0.1:$DST_PORT/bench" --table-jobs 2 --dir "$WORK/pgcopydb" \
		>"$WORK/pgcopydb.log" 2>&1 || { tail -20 "$WORK/pgcopydb.log" >&2; exit 1; }
}

# One table on one server: count and the sum of its rows' 64-bit hashes.
checksum_sql() {
	local cols
	cols=$(psql_src -At -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = 'public.$1'::regclass AND attnum > 0 AND NOT attisdropped")
	echo "SET max_parallel_workers_per_gather = 0; SELECT count(*), sum(hashtextextended(ROW($cols)::text, 0)) FROM public.$1"
}
checksum_table() { # table
	local q s d
	q=$(checksum_sql "$1")
	psql_src -At -c "$q" >"$WORK/cs.$1.src" &
	psql_dst -At -c "$q" >"$WORK/cs.$1.dst"
	wait $!
	cmp -s "$WORK/cs.$1.src" "$WORK/cs.$1.dst" || { echo "checksum: $1 differs" >&2; exit 1; }
}
export -f checksum_table checksum_sql psql_src psql_dst
export SRC DST WORK
run_checksum() {
	printf '%s\n' $TABLES | xargs -P 2 -I '{}' bash -c 'checksum_table {}'
}

declare -A TIMES
LABELS=(load ferry)
[ -n "$PGCOPYDB" ] && LABELS+=(pgcopydb)
LABELS+=(checksum)

timed() { # label command...
	local label=$1 t0 t1; shift
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	TIMES[$label]="${TIMES[$label]:-} $(echo "$t1 - $t0" | bc)"
	printf '   %-12s %8.2f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}

for run in $(seq 1 "$RUNS"); do
	echo "== run $run"
	timed load load_copy
	# What a load leaves to the first reader (hint bits, statistics) is settled once, as
	# a migration's after-load step would; the comparisons then read the same pages.
	psql_dst -c "VACUUM ANALYZE" -c "CHECKPOINT"
	for label in "${LABELS[@]}"; do
		case $label in
		ferry) timed ferry run_ferry ;;
		pgcopydb) timed pgcopydb run_pgcopydb ;;
		checksum) timed checksum run_checksum ;;
		esac
	done
done
echo "== ferryctl validate's last report"
cat "$WORK/ferry.out"

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "== medians of $RUNS ($ROWS rows, $SIZE; load by $([ -n "$DRIVER" ] && echo "ferry's load engine" || echo "pg_dump | psql"))"
declare -A MED
for label in "${LABELS[@]}"; do
	MED[$label]=$(echo "${TIMES[$label]}" | median)
	printf '   %-12s %8.2f s %10.0f rows/s   runs:%s\n' "$label" "${MED[$label]}" \
		"$(echo "$ROWS / ${MED[$label]}" | bc -l)" "${TIMES[$label]}"
done
f=${MED[ferry]}
printf '   ferry validate time / full load time = %.2f (target <= 1)\n' "$(echo "$f / ${MED[load]}" | bc -l)"
printf '   ferry validate time / whole-table checksum time = %.2f\n' "$(echo "$f / ${MED[checksum]}" | bc -l)"
if [ -n "${MED[pgcopydb]:-}" ]; then
	printf '   ferry validate time / pgcopydb compare data time = %.2f\n' "$(echo "$f / ${MED[pgcopydb]}" | bc -l)"
fi
