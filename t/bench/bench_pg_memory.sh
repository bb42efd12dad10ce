#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq text is single-quoted on purpose
# PostgreSQL -> PostgreSQL through ferryd: memory and spill while it catches up a backlog.
# Not a test: prints figures (with the load average: the machine may be shared).
#
#   memory  a backlog of $MEM_CHANGES changes (pgbench TPC-B transactions: 3 updates + 1
#           insert each, 10 to a pipeline) made while ferryd is stopped, then caught up by a
#           full-load-and-cdc task with $APPLY_WORKERS apply workers and ring_size
#           $RING_MB MB. The peak RSS (VmHWM, which counts the shared rings a process
#           touched) and the peak anonymous RSS of every ferry process, sampled until the
#           task has applied the backlog, against ring_size + 64 MB.
#   spill   per spill codec (zstd, lz4, none), spill bytes per change while apply is held
#           back by a lock on the target ($CODEC_TXNS transactions each, ring_size 1MB so
#           nearly all of it spills): the slope of spill_bytes over changes captured.
#
# Run from a build directory (after make), or set top_builddir. Environment:
#   SCALE=10 MEM_CHANGES=5000000 APPLY_WORKERS=4 RING_MB=64 CODEC_TXNS=50000
#   PARTS="memory spill" (which parts to run), KEEP_TMP=1 keeps the servers (t/lib.sh)
set -uo pipefail

. "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

SCALE=${SCALE:-10}
MEM_CHANGES=${MEM_CHANGES:-5000000}
APPLY_WORKERS=${APPLY_WORKERS:-4}
RING_MB=${RING_MB:-64}
CODEC_TXNS=${CODEC_TXNS:-50000}
PARTS=${PARTS:-memory spill}

start_pg src || die "cannot start the source server"
start_pg dst || die "cannot start the target server"
src_sql() { pg_sql src "$@"; }
dst_sql() { PGDATABASE=cdc pg_sql dst "$@"; }
pgbench_src() { PGPASSWORD=$SRC_PASSWORD pgbench -h 127.0.0.1 -p "$SRC_PORT" -U ferry "$@" app; }
SRC_LSN_SQL="SELECT (pg_catalog.pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8"
ferry_caught_up() {  # INI: applied_position reached the backlog's end
	local doc
	doc=$(status_raw "$1")
	[[ $doc =~ \"applied_position\":\ ?([0-9]+) ]] && ((BASH_REMATCH[1] >= END_LSN))
}
in_sync() { [[ $(jq_status "$1" '[.tasks[0].tables[] | select(.state != "in-sync")] | length') == 0 ]]; }

echo "== ferry PG -> PG memory and spill: $(nproc) cores, load average $(loadavg) at the start"
pgbench_src -i -q -s "$SCALE" >"$TEST_TMP/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -3 "$TEST_TMP/pgbench-init.log")"
src_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" >/dev/null
pg_sql dst "CREATE DATABASE cdc OWNER ferry" >/dev/null || die "cannot create the target database"

ini=$TEST_TMP/cdc.ini
write_ferry_ini "$ini"
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst dbname=cdc
ini_task "$ini" cdc pgsrc pgdst migration_type=full-load-and-cdc load_workers=2 "apply_workers=$APPLY_WORKERS" \
	"ring_size=${RING_MB}MB" target_table_prep=drop create_tables=yes 'include=public.pgbench_*'
echo "== setup: full load of pgbench -s $SCALE, then every table in-sync"
start_ferryd "$ini" || die "ferryd did not start"
wait_until 600 in_sync "$ini" || die "the tables did not reach in-sync: $(task_field "$ini" cdc error)"
stop_ferryd "$ini"

# pgbench's TPC-B transaction (its SELECT left out: it changes nothing), PER_RUN of them
# in one pipeline: the same changes with a round trip per PER_RUN transactions, so that
# millions of them are made in minutes on a busy machine.
PER_RUN=10
backlog_script() {
	local i
	echo '\startpipeline'
	for ((i = 0; i < PER_RUN; i++)); do
		cat <<-'SQL'
			\set aid random(1, 100000 * :scale)
			\set bid random(1, 1 * :scale)
			\set tid random(1, 10 * :scale)
			\set delta random(-5000, 5000)
			BEGIN;
			UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
			UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
			UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
			INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
			END;
		SQL
	done
	echo '\endpipeline'
}
backlog_script >"$TEST_TMP/backlog.sql"

# A backlog of N transactions (ferryd stopped), then one more as an end marker: every
# backlog commit lies before END_LSN, and the marker's commit after it.
make_backlog() {  # N CLIENTS
	local t0 t1 c=$2 runs=$(($1 / PER_RUN / $2))
	t0=$(now)
	pgbench_src -n -M extended -f "$TEST_TMP/backlog.sql" -s "$SCALE" -c "$c" -j 2 -t "$runs" >"$TEST_TMP/pgbench.log" 2>&1 ||
		die "pgbench failed: $(tail -3 "$TEST_TMP/pgbench.log")"
	t1=$(now)
	END_LSN=$(src_sql "$SRC_LSN_SQL")
	pgbench_src -n -c 1 -t 1 >/dev/null 2>&1 || die "pgbench (marker) failed"
	BACKLOG_CHANGES=$(((runs * c * PER_RUN + 1) * 4))
	printf '   backlog: %d transactions (%d changes) made in %s s by pgbench\n' \
		$((runs * c * PER_RUN + 1)) "$BACKLOG_CHANGES" "$(elapsed "$t0" "$t1")"
}

verify() {  # the target has the source's history and balances
	local q="SELECT count(*) || ':' || sum(delta) || ':' || (SELECT sum(abalance) FROM pgbench_accounts) FROM pgbench_history"
	local s d
	s=$(src_sql "$q")
	d=$(dst_sql "$q")
	[[ $s == "$d" ]] || die "the target differs: source $s, target $d"
	echo "   target equal to the source (history rows:sum(delta):sum(abalance) = $s)"
}

# ---- memory ---------------------------------------------------------------------------------
declare -A HWM=() ANON=()
sample_rss() {  # the peak of every process of ferryd $1 so far
	local pid f hwm anon name
	for pid in "$1" $(child_pids "$1"); do
		f=/proc/$pid/status
		[[ -r $f ]] || continue
		name=$(proc_title "$pid")
		name=${name#ferryd: }
		[[ -n $name ]] || continue
		hwm=$(awk '/^VmHWM:/ { print $2 }' "$f")
		anon=$(awk '/^RssAnon:/ { print $2 }' "$f")
		[[ -n $hwm ]] || continue
		((hwm > ${HWM[$name]:-0})) && HWM[$name]=$hwm
		((anon > ${ANON[$name]:-0})) && ANON[$name]=$anon
	done
}

memory_run() {
	local t0 t1 spill_peak=0 s limit=$(((RING_MB + 64) * 1024)) name over=0
	echo "== memory: ferryd catching up a backlog of $MEM_CHANGES changes, ring_size ${RING_MB}MB, $APPLY_WORKERS apply workers"
	make_backlog $((MEM_CHANGES / 4)) 4
	t0=$(now)
	start_ferryd "$ini" || die "ferryd did not start"
	until ferry_caught_up "$ini"; do
		sample_rss "$FERRYD_PID"
		s=$(jq_status "$ini" '.tasks[0].spill_bytes // 0')
		[[ -n $s ]] && ((s > spill_peak)) && spill_peak=$s
		[[ $(task_field "$ini" cdc phase) == error ]] && die "ferry: $(task_field "$ini" cdc error)"
		sleep 0.2
	done
	t1=$(now)
	sample_rss "$FERRYD_PID"
	stop_ferryd "$ini"
	printf '   caught up in %s s (%.0f changes/s; load average %s), spill peak %d MB\n' "$(elapsed "$t0" "$t1")" \
		"$(awk -v c="$BACKLOG_CHANGES" -v s="$(elapsed "$t0" "$t1")" 'BEGIN { print c / s }')" "$(loadavg)" \
		$((spill_peak / 1048576))
	verify
	printf '   %-22s %12s %14s   limit ring_size + 64 MB = %d MB\n' process "peak RSS" "peak anon RSS" $((limit / 1024))
	while IFS= read -r name; do
		printf '   %-22s %9d MB %11d MB   %s\n' "$name" $((HWM[$name] / 1024)) $((ANON[$name] / 1024)) \
			"$( ((HWM[$name] <= limit)) && echo within || echo OVER)"
		((HWM[$name] > limit)) && over=1
	done < <(printf '%s\n' "${!HWM[@]}" | sort)
	if ((over)); then
		echo "   some process peaked above ring_size + 64 MB"
	else
		echo "   every process stayed within ring_size + 64 MB"
	fi
}

# ---- spill ----------------------------------------------------------------------------------
# Apply is held back by a lock on the target, so capture spills; bytes per change is the
# slope of spill_bytes over changes captured once spilling began.
codec_run() {  # CODEC
	local cini=$TEST_TMP/cdc-$1.ini lockpid c0=-1 s0=0 c s p
	write_ferry_ini "$cini" "data_dir=$(ferry_data_dir "$ini")" "log_dir=$(ferry_log_dir "$ini")" \
		"pid_file=$(ferry_pid_file "$ini")"
	ini_endpoint "$cini" pgsrc src
	ini_endpoint "$cini" pgdst dst dbname=cdc
	ini_task "$cini" cdc pgsrc pgdst migration_type=full-load-and-cdc load_workers=2 "apply_workers=$APPLY_WORKERS" \
		ring_size=1MB "spill_compression=$1" target_table_prep=drop create_tables=yes 'include=public.pgbench_*'
	make_backlog "$CODEC_TXNS" 2 >/dev/null
	PGAPPNAME=bench_lock PGDATABASE=cdc pg_sql dst "BEGIN; LOCK TABLE pgbench_accounts, pgbench_tellers,
		pgbench_branches, pgbench_history IN EXCLUSIVE MODE; SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	lockpid=$!
	wait_until 20 eval '[[ $(dst_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'bench_lock'"' AND wait_event = '"'PgSleep'"'") == 1 ]]' ||
		die "the lock on the target was not taken"
	start_ferryd "$cini" || die "ferryd did not start"
	local stable=0 last=-1
	while ((stable < 5)); do
		c=$(jq_status "$cini" '.tasks[0].changes_captured // 0')
		s=$(jq_status "$cini" '.tasks[0].spill_bytes // 0')
		p=$(jq_status "$cini" '.tasks[0].received_position // 0')
		[[ -n $c && -n $s && -n $p ]] || continue
		((c0 < 0 && s > 0)) && { c0=$c; s0=$s; }
		if ((p > END_LSN && c == last)); then stable=$((stable + 1)); else stable=0; fi
		last=$c
		sleep 0.3
	done
	dst_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench_lock'" >/dev/null
	wait "$lockpid" 2>/dev/null
	wait_until 600 ferry_caught_up "$cini" || die "ferry did not catch up after the lock"
	stop_ferryd "$cini"
	printf '   %-5s %6.1f bytes/change (%d MB for %d changes spilled)\n' "$1" \
		"$(awk -v s="$((s - s0))" -v c="$((c - c0))" 'BEGIN { printf "%.1f", (c > 0 ? s / c : 0) }')" \
		$(((s - s0) / 1048576)) $((c - c0))
}

has_part memory && memory_run
if has_part spill; then
	echo "== spill bytes per change ($CODEC_TXNS transactions per codec, apply held back)"
	for codec in zstd lz4 none; do codec_run "$codec"; done
	verify
fi
exit 0
