#!/bin/bash
# PostgreSQL -> PostgreSQL full load, side by side on the same data (not a timed test):
#   raw      COPY t TO STDOUT (FORMAT binary) | COPY t FROM STDIN (FORMAT binary), two
#            tables at a time, tables created before (pg_dump pre-data) and keys and
#            indexes after (post-data)
#   pgcopydb pgcopydb clone --table-jobs 2 --index-jobs 2 --no-owner --no-acl (when the
#            pgcopydb package is installed: apt-get install -y pgcopydb)
#   ferry    the load engine with 2 load processes pulling partitions (bench_pg_load)
# Data: pgbench -i -s $SCALE plus a table of wide rows (text, ~1 kB bytea, numeric,
# timestamptz, jsonb, uuid). Prints each run, the medians and the ratios the issue sets:
# ferry's time <= 0.8 x pgcopydb's, ferry's throughput >= 0.9 x the raw pipe's.
#
# Run from the build directory after `make bench`. Environment:
#   SCALE=30 WIDE_ROWS=500000 RUNS=3 PARTITION_ROWS=1000000
#   FERRY_OPTS="..."      extra bench_pg_load options for the ferry run
#   FERRY_VARIANTS="--no-freeze;--defer-pk"   more ferry runs with these options, labelled
#   BENCH_PG_LOAD=path    the driver (default t/bench/bench_pg_load)
#   PGBIN=/usr/lib/postgresql/15/bin
# Starts two throwaway PostgreSQL servers (as the postgres user when run as root) on free
# loopback ports in a temporary directory, and removes everything on exit.
set -euo pipefail

SCALE=${SCALE:-30}
WIDE_ROWS=${WIDE_ROWS:-500000}
RUNS=${RUNS:-3}
PARTITION_ROWS=${PARTITION_ROWS:-1000000}
FERRY_OPTS=${FERRY_OPTS:-}
FERRY_VARIANTS=${FERRY_VARIANTS:-}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DRIVER=${BENCH_PG_LOAD:-t/bench/bench_pg_load}
export PATH="$PGBIN:$PATH"

[ -x "$DRIVER" ] || { echo "bench_pg_load: $DRIVER not found (run make bench in the build directory)" >&2; exit 2; }
DRIVER=$(cd "$(dirname "$DRIVER")" && pwd)/$(basename "$DRIVER")

WORK=$(mktemp -d /tmp/ferry-bench-load.XXXXXX)
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
psql_dst_admin() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$DST_PORT user=postgres dbname=postgres" "$@"; }

echo "== data: pgbench -i -s $SCALE + $WIDE_ROWS wide rows"
psql -X -q "host=127.0.0.1 port=$SRC_PORT user=postgres dbname=postgres" -c "CREATE DATABASE bench"
pgbench -i -q -s "$SCALE" "$SRC" >/dev/null 2>&1
psql_src <<SQL
CREATE TABLE wide (id bigint PRIMARY KEY, label text, payload bytea, amount numeric(18,4),
                   created timestamptz, doc jsonb, ref uuid);
INSERT INTO wide SELECT i, 'label ' || md5(i::text), decode(repeat(md5(i::text), 64), 'hex'),
       i * 1.2345, '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 minute',
       jsonb_build_object('i', i, 'tags', jsonb_build_array('a', 'b'), 'note', md5(i::text)),
       md5(i::text)::uuid
  FROM generate_series(1, $WIDE_ROWS) i;
VACUUM ANALYZE;
CHECKPOINT;
SQL
TABLES=$(psql_src -At -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
ROWS=$(psql_src -At -c "SELECT sum(n_live_tup) FROM pg_stat_user_tables")
SIZE=$(psql_src -At -c "SELECT pg_size_pretty(pg_database_size('bench'))")
echo "   $ROWS rows, database $SIZE, tables: $(echo $TABLES)"

# Each run starts from an empty target with nothing left to write back: the previous
# run's dirty pages flushing in the background otherwise slow the next one by seconds.
reset_target() {
	psql_dst_admin -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" -c "CHECKPOINT"
	sync
}

# Row counts of every table on both sides must agree after each run.
verify() { # label
	local t s d
	for t in $TABLES; do
		s=$(psql_src -At -c "SELECT count(*) FROM public.$t")
		d=$(psql_dst -At -c "SELECT count(*) FROM public.$t")
		[ "$s" = "$d" ] || { echo "$1: $t has $d rows on the target, $s on the source" >&2; exit 1; }
	done
	d=$(psql_dst -At -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
	s=$(psql_src -At -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
	[ "$s" = "$d" ] || { echo "$1: $d indexes on the target, $s on the source" >&2; exit 1; }
}

run_raw() {
	pg_dump -h 127.0.0.1 -p "$SRC_PORT" -U postgres --schema-only --section=pre-data bench | psql_dst >/dev/null
	printf '%s\n' $TABLES | xargs -P 2 -I '{}' sh -c \
		"psql -X -q '$SRC' -c 'COPY public.{} TO STDOUT (FORMAT binary)' | psql -X -q '$DST' -c 'COPY public.{} FROM STDIN (FORMAT binary)'"
	pg_dump -h 127.0.0.1 -p "$SRC_PORT" -U postgres --schema-only --section=post-data bench | psql_dst >/dev/null
}

run_pgcopydb() {
	rm -rf "$WORK/pgcopydb"
	pgcopydb clone --source "postgres://postgres@127.0.0.1:$SRC_PORT/bench" \
		--target "postgres://postgres@127.0.0.1:$DST_PORT/bench" \
		--table-jobs 2 --index-jobs 2 --no-owner --no-acl --dir "$WORK/pgcopydb" \
		>"$WORK/pgcopydb.log" 2>&1 || { tail -20 "$WORK/pgcopydb.log" >&2; exit 1; }
}

run_ferry() { # options...
	"$DRIVER" --source "$SRC" --target "$DST" --workers 2 --partition-rows "$PARTITION_ROWS" \
		"$@" >"$WORK/ferry.log" 2>&1 || { cat "$WORK/ferry.log" >&2; exit 1; }
}

declare -A TIMES
LABELS=(raw)
command -v pgcopydb >/dev/null && LABELS+=(pgcopydb) || echo "   pgcopydb not installed: skipped (apt-get install -y pgcopydb)"
LABELS+=(ferry)
IFS=';' read -r -a VARIANTS <<<"$FERRY_VARIANTS"
for v in "${VARIANTS[@]}"; do [ -n "$v" ] && LABELS+=("ferry $v"); done

timed() { # label command...
	local label=$1 t0 t1; shift
	reset_target
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	verify "$label"
	TIMES[$label]="${TIMES[$label]:-} $(echo "$t1 - $t0" | bc)"
	printf '   %-28s %8.2f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}

for run in $(seq 1 "$RUNS"); do
	echo "== run $run"
	for label in "${LABELS[@]}"; do
		case $label in
		raw) timed raw run_raw ;;
		pgcopydb) timed pgcopydb run_pgcopydb ;;
		ferry) timed ferry run_ferry $FERRY_OPTS ;;
		"ferry "*) timed "$label" run_ferry $FERRY_OPTS ${label#ferry } ;;
		esac
	done
done
echo "== ferry's last run, per partition"
cat "$WORK/ferry.log"

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "== medians of $RUNS ($ROWS rows, $SIZE)"
declare -A MED
for label in "${LABELS[@]}"; do
	MED[$label]=$(echo "${TIMES[$label]}" | median)
	printf '   %-28s %8.2f s %10.0f rows/s   runs:%s\n' "$label" "${MED[$label]}" \
		"$(echo "$ROWS / ${MED[$label]}" | bc -l)" "${TIMES[$label]}"
done
f=${MED[ferry]}
printf '   ferry throughput / raw pipe throughput = %.2f (target >= 0.9)\n' "$(echo "${MED[raw]} / $f" | bc -l)"
if [ -n "${MED[pgcopydb]:-}" ]; then
	printf '   ferry time / pgcopydb time             = %.2f (target <= 0.8)\n' "$(echo "$f / ${MED[pgcopydb]}" | bc -l)"
fi
