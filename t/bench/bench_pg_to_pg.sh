#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq text is single-quoted on purpose
# PostgreSQL -> PostgreSQL through ferryd, side by side with what a DBA would use instead,
# on the same data in one run (absolute times drift between runs and machines: read the
# ratios). Not a test: prints figures, with the load average at each measurement (the
# machine may be shared). Full load and CDC are repeated ROUNDS times with the tools
# interleaved (their order rotates per round); medians and ratios at the end:
#
#   full load   pgbench -i -s $SCALE plus a table of varied types ($VARIED_ROWS rows):
#               - raw pipe: COPY t TO STDOUT (FORMAT binary) | COPY t FROM STDIN, two
#                 tables at a time, tables from pg_dump's pre-data, keys after (post-data)
#               - pgcopydb clone --table-jobs 2 --index-jobs 2 --no-owner --no-acl
#               - ferryd, migration_type = full-load, load_workers = 2: from its start
#                 until the task's phase is stopped (every table loaded, keys built)
#               into an emptied target database each time. Targets: ferry's time <= 0.8 x
#               pgcopydb's, ferry's throughput >= 0.9 x the raw pipe's.
#   CDC         a backlog of $CDC_TXNS pgbench TPC-B transactions made while both
#               consumers are stopped, then timed until caught up:
#               - native logical replication: a disabled subscription enabled, until the
#                 slot's confirmed_flush_lsn reaches the backlog's end
#               - ferryd (full-load-and-cdc task with its default 4 apply workers,
#                 stopped for the backlog), until applied_position in its status
#                 reaches the backlog's end
#               - decode: pg_recvlogical reading the same backlog from a third pgoutput
#                 slot into /dev/null, until the backlog's end: how fast the source's
#                 walsender decodes, a ceiling no consumer of one slot can pass
#               Also the CPU time each catch-up took (both servers' processes and
#               ferry's), a figure less at the mercy of other load on the machine.
#               Changes counted: 3 updates + 1 insert per transaction. Target: ferry's
#               changes/s >= 2 x native's.
# Memory (peak RSS while a 5M-change backlog is caught up) and spill bytes per change
# per codec: bench_pg_memory.sh.
#
# Run from a build directory (after make), or set top_builddir. Environment:
#   SCALE=30 VARIED_ROWS=500000 ROUNDS=3 CDC_TXNS=100000
#   PARTS="load cdc" (which parts to run)
#   CDC_TRACE=1 prints ferry's received and applied positions while it catches up, the
#   CPU seconds of each process of a catch-up (ferry's, its walsender and target
#   sessions; the native apply worker) and the commits on each target database
#   FERRY_TASK_OPTS="key=value ..." extra keys for ferry's full-load task, CDC_TASK_OPTS
#   for its CDC task
#   ONLY_LOAD_TOOLS="ferry" only these full-load tools; PERF_OUT=FILE records a system-wide
#   perf profile of each ferry run (full load, catch-up) into FILE.NAME, with
#   FILE.NAME.pids naming the processes (PERF_FREQ samples per second, 299)
#   KEEP_TMP=1 keeps the servers' directories (t/lib.sh)
# Servers: PostgreSQL 15 from t/lib.sh (wal_level logical, synchronous_commit off, fsync
# off) with shared_buffers 1GB, max_wal_size 8GB, checkpoint_timeout 30min on both sides.
set -uo pipefail

. "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

SCALE=${SCALE:-30}
VARIED_ROWS=${VARIED_ROWS:-500000}
ROUNDS=${ROUNDS:-3}
CDC_TXNS=${CDC_TXNS:-100000}
PARTS=${PARTS:-load cdc}
FERRY_TASK_OPTS=${FERRY_TASK_OPTS:-}
CDC_TASK_OPTS=${CDC_TASK_OPTS:-}

start_pg src && tune_pg src || die "cannot start the source server"
start_pg dst && tune_pg dst || die "cannot start the target server"
src_sql() { pg_sql src "$@"; }
dst_sql() { local db=$1; shift; PGDATABASE=$db pg_sql dst "$@"; }
dst_psql() { psql -X -q -v ON_ERROR_STOP=1 -h "$DST_SOCKDIR" -p "$DST_PORT" -U postgres -d "$1"; }  # DB < SQL
pgbench_src() { PGPASSWORD=$SRC_PASSWORD pgbench -h 127.0.0.1 -p "$SRC_PORT" -U ferry "$@" app; }
SRC_LSN_SQL="SELECT (pg_catalog.pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8"

echo "== ferry PG -> PG benchmark: $(nproc) cores, load average $(loadavg) at the start"
echo "   data: pgbench -i -s $SCALE + $VARIED_ROWS rows of varied types; $ROUNDS rounds"

# ---- data --------------------------------------------------------------------------------
pgbench_src -i -q -s "$SCALE" >"$TEST_TMP/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -3 "$TEST_TMP/pgbench-init.log")"
src_sql "SET ROLE ferry;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE varied (
	id bigint PRIMARY KEY, n numeric(20,5), t text, b bytea, ts timestamptz, u uuid, j jsonb,
	arr int[], m mood, flag boolean, d date, f float8,
	doubled bigint GENERATED ALWAYS AS (id * 2) STORED);
INSERT INTO varied (id, n, t, b, ts, u, j, arr, m, flag, d, f)
SELECT g, g * 1.5, CASE WHEN g % 7 = 0 THEN NULL ELSE 'label ' || md5(g::text) END,
	decode(repeat(md5(g::text), 64), 'hex'),
	'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
	md5(g::text)::uuid, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', 'b'), 'note', md5(g::text)),
	CASE WHEN g % 5 = 0 THEN NULL ELSE ARRAY[g, g + 1, 3] END,
	(ARRAY['sad','ok','happy'])[1 + g % 3]::mood, g % 2 = 0, DATE '2020-01-01' + (g % 3000), g / 3.0
FROM generate_series(1, $VARIED_ROWS) g;
ALTER TABLE pgbench_history REPLICA IDENTITY FULL;" >/dev/null || die "cannot create the varied table"
src_sql "VACUUM ANALYZE" >/dev/null
src_sql "CHECKPOINT" >/dev/null
ROWS=$(src_sql "SELECT sum(n_live_tup) FROM pg_stat_user_tables")
SIZE=$(src_sql "SELECT pg_size_pretty(pg_database_size('app'))")
# Largest first: the raw pipe starts the two big tables together, as the anchor did.
TABLES=$(src_sql "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_relation_size(c.oid) DESC")
echo "   $ROWS rows, database $SIZE, tables: $(echo $TABLES)"

# ---- full load -----------------------------------------------------------------------------
# pgcopydb logs in as ferry over TCP, as ferry does (it owns the tables and the target database).
PGCOPYDB_SRC="postgres://ferry:$SRC_PASSWORD@127.0.0.1:$SRC_PORT/app"
reset_target() {  # empty database "load" owned by ferry, nothing left to write back
	dst_sql postgres "DROP DATABASE IF EXISTS load WITH (FORCE)" >/dev/null 2>&1
	dst_sql postgres "CREATE DATABASE load OWNER ferry" >/dev/null || die "cannot create the target database"
	dst_sql postgres "CHECKPOINT" >/dev/null
	sync
}

verify_load() {  # LABEL: row counts of every table and the number of indexes agree
	local t s d
	for t in $TABLES; do
		s=$(src_sql "SELECT count(*) FROM public.$t")
		d=$(dst_sql load "SELECT count(*) FROM public.$t")
		[[ $s == "$d" ]] || die "$1: $t has $d rows on the target, $s on the source"
	done
	s=$(src_sql "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
	d=$(dst_sql load "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
	[[ $s == "$d" ]] || die "$1: $d indexes on the target, $s on the source"
}

load_raw() {
	local dump="pg_dump -h $SRC_SOCKDIR -p $SRC_PORT -U postgres --schema-only --no-owner --no-acl"
	$dump --section=pre-data app | dst_psql load >/dev/null || return 1
	printf '%s\n' $TABLES | xargs -P 2 -I '{}' sh -c \
		"psql -X -q -h '$SRC_SOCKDIR' -p $SRC_PORT -U postgres -d app -c 'COPY public.{} TO STDOUT (FORMAT binary)' |
		 psql -X -q -v ON_ERROR_STOP=1 -h '$DST_SOCKDIR' -p $DST_PORT -U postgres -d load -c 'COPY public.{} FROM STDIN (FORMAT binary)'" || return 1
	$dump --section=post-data app | dst_psql load >/dev/null
}

load_pgcopydb() {
	rm -rf "$TEST_TMP/pgcopydb"
	pgcopydb clone --source "$PGCOPYDB_SRC" --target "postgres://ferry:$DST_PASSWORD@127.0.0.1:$DST_PORT/load" \
		--table-jobs 2 --index-jobs 2 --no-owner --no-acl --dir "$TEST_TMP/pgcopydb" \
		>"$TEST_TMP/pgcopydb.log" 2>&1 || { tail -20 "$TEST_TMP/pgcopydb.log" >&2; return 1; }
}

load_run=0
load_ferry() {
	load_run=$((load_run + 1))
	local ini=$TEST_TMP/load$load_run.ini
	write_ferry_ini "$ini"
	ini_endpoint "$ini" pgsrc src
	ini_endpoint "$ini" pgdst dst dbname=load
	# shellcheck disable=SC2086 # FERRY_TASK_OPTS is a list of key=value words
	ini_task "$ini" fl pgsrc pgdst migration_type=full-load load_workers=2 apply_workers=1 \
		target_table_prep=drop create_tables=yes 'include=public.*' $FERRY_TASK_OPTS
	perf_start "load$load_run"
	start_ferryd "$ini" || return 1
	wait_phase "$ini" fl stopped 600 || { tail -5 "$(ferry_log_dir "$ini")"/*.log >&2; return 1; }
	perf_stop
	stop_ferryd "$ini"
	cp "$(ferry_log_dir "$ini")"/load-fl-*.log "$TEST_TMP/" 2>/dev/null
}

timed_load() {  # LABEL FUNCTION
	reset_target
	local la t0 t1
	la=$(loadavg)
	t0=$(now)
	"$2" || die "$1 failed"
	t1=$(now)
	verify_load "$1"
	record "load $1" "$(elapsed "$t0" "$t1")"
	printf '   %-10s %8.2f s   (load average %s)\n' "$1" "$(elapsed "$t0" "$t1")" "$la"
}

if has_part load; then
	LOAD_TOOLS=(raw)
	if command -v pgcopydb >/dev/null; then LOAD_TOOLS+=(pgcopydb); else echo "   pgcopydb not installed (apt-get install pgcopydb): left out"; fi
	LOAD_TOOLS+=(ferry)
	[[ -n ${ONLY_LOAD_TOOLS:-} ]] && read -r -a LOAD_TOOLS <<<"$ONLY_LOAD_TOOLS"
	echo "== full load"
	for ((r = 1; r <= ROUNDS; r++)); do
		echo "-- round $r"
		for tool in $(rotate "$r" "${LOAD_TOOLS[@]}"); do timed_load "$tool" "load_$tool"; done
	done
	echo "   ferry's last load, per partition:"
	grep -h "copied\|loaded:" "$TEST_TMP"/load-fl-*.log | sed 's/^/     /'
fi

# ---- CDC catch-up -----------------------------------------------------------------------------
SUB_CONNINFO="host=127.0.0.1 port=$SRC_PORT user=ferry password=$SRC_PASSWORD dbname=app"
slot_active() { [[ $(src_sql "SELECT active FROM pg_replication_slots WHERE slot_name = '$1'") == t ]]; }
slot_idle() { ! slot_active "$1"; }
cdc_ini=$TEST_TMP/cdc.ini

setup_cdc() {
	src_sql "SET ROLE ferry; CREATE PUBLICATION bench_native FOR TABLE pgbench_accounts, pgbench_branches,
	         pgbench_tellers, pgbench_history" >/dev/null || return 1
	local db
	for db in native cdc; do
		dst_sql postgres "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
		dst_sql postgres "CREATE DATABASE $db OWNER ferry" >/dev/null || return 1
	done
	pg_dump -h "$SRC_SOCKDIR" -p "$SRC_PORT" -U postgres --schema-only --no-owner --no-acl -t 'public.pgbench_*' app |
		dst_psql native >/dev/null || return 1
	dst_sql native "CREATE SUBSCRIPTION bench_native CONNECTION '$SUB_CONNINFO' PUBLICATION bench_native
	                WITH (copy_data = true)" >/dev/null || return 1
	wait_until 600 eval '[[ $(dst_sql native "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> '"'r'"'") == 0 ]]' ||
		return 1
	dst_sql native "ALTER SUBSCRIPTION bench_native DISABLE" >/dev/null
	wait_until 60 slot_idle bench_native || return 1
	src_sql "SELECT pg_catalog.pg_create_logical_replication_slot('bench_decode', 'pgoutput')" >/dev/null || return 1
	write_ferry_ini "$cdc_ini"
	ini_endpoint "$cdc_ini" pgsrc src
	ini_endpoint "$cdc_ini" pgdst dst dbname=cdc
	# shellcheck disable=SC2086 # CDC_TASK_OPTS is a list of key=value words
	# apply_workers: ferry's default. It must stay the same for every run of the task.
	ini_task "$cdc_ini" cdc pgsrc pgdst migration_type=full-load-and-cdc load_workers=2 apply_workers=4 \
		ring_size=64MB target_table_prep=drop create_tables=yes 'include=public.pgbench_*' $CDC_TASK_OPTS
	start_ferryd "$cdc_ini" || return 1
	wait_phase "$cdc_ini" cdc cdc 600 || return 1
	wait_until 120 eval '[[ $(jq_status "$cdc_ini" "[.tasks[0].tables[] | select(.state != \"in-sync\")] | length") == 0 ]]' || return 1
	stop_ferryd "$cdc_ini"
	# warmed, and no autovacuum of the fresh copies during the first round
	for db in native cdc; do dst_sql "$db" "VACUUM ANALYZE" >/dev/null; done
	dst_sql postgres "CHECKPOINT" >/dev/null
}

# A backlog of N transactions (both consumers stopped), then one more as an end marker:
# every backlog commit lies before END_LSN, and the marker's commit after it.
make_backlog() {  # N [CLIENTS]
	local t0 t1 c=${2:-2}
	t0=$(now)
	pgbench_src -n -c "$c" -j 2 -t $(($1 / c)) >"$TEST_TMP/pgbench.log" 2>&1 || die "pgbench failed: $(tail -3 "$TEST_TMP/pgbench.log")"
	t1=$(now)
	END_LSN=$(src_sql "$SRC_LSN_SQL")
	pgbench_src -n -c 1 -t 1 >/dev/null 2>&1 || die "pgbench (marker) failed"
	BACKLOG_CHANGES=$(((($1 / c) * c + 1) * 4))
	printf '   backlog: %d transactions (%d changes) made in %s s by pgbench (%.0f changes/s)\n' \
		$((($1 / c) * c + 1)) "$BACKLOG_CHANGES" "$(elapsed "$t0" "$t1")" \
		"$(awk -v c="$BACKLOG_CHANGES" -v s="$(elapsed "$t0" "$t1")" 'BEGIN { print c / s }')"
}

native_caught_up() {
	[[ $(src_sql "SELECT confirmed_flush_lsn - '0/0'::pg_lsn >= $END_LSN FROM pg_replication_slots
	              WHERE slot_name = 'bench_native'") == t ]]
}
ferry_applied() {  # the first task's applied_position, without jq (see status_raw)
	local doc
	doc=$(status_raw "$1")
	[[ $doc =~ \"applied_position\":\ ?([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}
ferry_caught_up() {
	local doc p
	doc=$(status_raw "$1")
	[[ $doc =~ \"applied_position\":\ ?([0-9]+) ]] || return 1
	p=${BASH_REMATCH[1]}
	if [[ -n ${CDC_TRACE:-} ]]; then  # where the catch-up is: received and applied, per poll
		[[ $doc =~ \"received_position\":\ ?([0-9]+) ]] &&
			printf '     %s received %d MB behind, applied %d MB behind\n' "$(date +%T.%N | cut -c1-12)" \
				$(((END_LSN - BASH_REMATCH[1]) / 1048576)) $(((END_LSN - p) / 1048576)) >&2
	fi
	((p >= END_LSN))
}
poll() {  # SECONDS COMMAND...: like wait_until, every 0.05 s
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS >= deadline)) && return 1
		sleep 0.05
	done
}

# CPU time of both servers (cpu_ticks: bench_lib.sh).
servers_cpu() { cpu_ticks "${_pg_pid[src]}" "${_pg_pid[dst]}"; }

# With CDC_TRACE: the CPU seconds of every process that started with ferryd's run (its
# own, its walsender, its target sessions), the largest first.
cpu_breakdown() {  # PID...: the ferryd and the two postmasters
	local pid c t hz
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do
		for c in $(child_pids "$pid"); do
			[[ -r /proc/$c/stat ]] || continue
			t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$c/stat")
			((t > 0)) && printf '%d %s\n' "$t" "$(proc_title "$c" | cut -c1-60)"
		done
	done | sort -rn | awk -v hz="$hz" '{ t = $1; $1 = ""; printf "     %7.2f CPU s %s\n", t / hz, $0 }' >&2
}

# With CDC_TRACE: the target database's commits during a catch-up (the statistics lag
# by up to a second: read after the catch-up's end).
target_commits() { dst_sql "$1" "SELECT xact_commit FROM pg_catalog.pg_stat_database WHERE datname = '$1'"; }
trace_commits() {  # DB COMMITS-BEFORE
	[[ -n ${CDC_TRACE:-} ]] || return 0
	sleep 1.5
	echo "     $(($(target_commits "$1") - $2)) commits on the target database $1" >&2
}

cdc_native() {
	local c0
	[[ -n ${CDC_TRACE:-} ]] && c0=$(target_commits native)
	CDC_CPU0=$(servers_cpu)
	dst_sql native "ALTER SUBSCRIPTION bench_native ENABLE" >/dev/null || return 1
	poll 1200 native_caught_up || return 1
	CDC_T1=$(now)
	CDC_CPU=$(($(servers_cpu) - CDC_CPU0))
	[[ -n ${CDC_TRACE:-} ]] && cpu_breakdown "${_pg_pid[src]}" "${_pg_pid[dst]}"
	dst_sql native "ALTER SUBSCRIPTION bench_native DISABLE" >/dev/null
	wait_until 60 slot_idle bench_native
	trace_commits native "${c0:-0}"
}

# The walsender's decoding alone: pgoutput as ferry asks for it, nothing applied.
lsn_text() { printf '%X/%X' $(($1 >> 32)) $(($1 & 0xffffffff)); }
cdc_decode() {
	CDC_CPU0=$(servers_cpu)
	"$PG_BIN/pg_recvlogical" -h "$SRC_SOCKDIR" -p "$SRC_PORT" -U postgres -d app -S bench_decode --start \
		-E "$(lsn_text "$END_LSN")" -o proto_version=2 -o publication_names=bench_native -o streaming=on \
		-s 1 -F 1 -f /dev/null 2>"$TEST_TMP/recvlogical.log" || { cat "$TEST_TMP/recvlogical.log" >&2; return 1; }
	CDC_T1=$(now)
	CDC_CPU=$(($(servers_cpu) - CDC_CPU0))
	wait_until 60 slot_idle bench_decode
}

cdc_run=0
cdc_ferry() {
	cdc_run=$((cdc_run + 1))
	local c0
	[[ -n ${CDC_TRACE:-} ]] && c0=$(target_commits cdc)
	perf_start "cdc$cdc_run"
	CDC_CPU0=$(servers_cpu)
	start_ferryd "$cdc_ini" || return 1
	poll 1200 ferry_caught_up "$cdc_ini" || { echo "ferry did not catch up: phase $(task_phase "$cdc_ini" cdc)" >&2; return 1; }
	CDC_T1=$(now)
	CDC_CPU=$(($(servers_cpu) + $(cpu_ticks "$FERRYD_PID") - CDC_CPU0))
	[[ -n ${CDC_TRACE:-} ]] && cpu_breakdown "$FERRYD_PID" "${_pg_pid[src]}" "${_pg_pid[dst]}"
	perf_stop
	stop_ferryd "$cdc_ini"
	trace_commits cdc "${c0:-0}"
}

verify_cdc() {  # every copy has the source's history and balances
	local q="SELECT count(*) || ':' || sum(delta) || ':' || (SELECT sum(abalance) FROM pgbench_accounts) FROM pgbench_history"
	local s n f
	s=$(src_sql "$q")
	n=$(dst_sql native "$q")
	f=$(dst_sql cdc "$q")
	[[ $s == "$n" ]] || die "native copy differs: source $s, target $n"
	[[ $s == "$f" ]] || die "ferry copy differs: source $s, target $f"
}

timed_cdc() {  # LABEL
	local la t0
	la=$(loadavg)
	t0=$(now)
	"cdc_$1" || die "$1 catch-up failed"
	local s cpu
	s=$(elapsed "$t0" "$CDC_T1")
	cpu=$(awk -v t="$CDC_CPU" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
	record "cdc $1" "$(awk -v c="$BACKLOG_CHANGES" -v s="$s" 'BEGIN { printf "%.0f", c / s }')"
	record "cdc-cpu $1" "$(awk -v c="$BACKLOG_CHANGES" -v s="$cpu" 'BEGIN { printf "%.0f", c / s }')"
	printf '   %-10s %8.2f s %10.0f changes/s   %6.2f CPU s (servers + ferry) %8.0f changes per CPU s   (load average %s)\n' \
		"$1" "$s" "$(awk -v c="$BACKLOG_CHANGES" -v s="$s" 'BEGIN { print c / s }')" "$cpu" \
		"$(awk -v c="$BACKLOG_CHANGES" -v s="$cpu" 'BEGIN { print c / s }')" "$la"
}

if has_part cdc; then
	echo "== CDC setup: native subscription initial sync, ferry full-load-and-cdc of the pgbench tables"
	setup_cdc || die "CDC setup failed"
fi
if has_part cdc; then
	echo "== CDC catch-up"
	for ((r = 1; r <= ROUNDS; r++)); do
		echo "-- round $r"
		make_backlog "$CDC_TXNS"
		for tool in $(rotate "$r" native ferry decode); do timed_cdc "$tool"; done
		verify_cdc
	done
fi

# ---- summary --------------------------------------------------------------------------------------
echo "== medians of $ROUNDS rounds (load average now $(loadavg))"
declare -A MED=()
while IFS= read -r k; do
	[[ -n $k ]] || continue
	MED[$k]=$(echo "${TIMES[$k]}" | median)
	case $k in
	load*) printf '   %-16s %8.2f s %10.0f rows/s   runs:%s\n' "$k" "${MED[$k]}" "$(awk -v r="$ROWS" -v s="${MED[$k]}" 'BEGIN { print r / s }')" "${TIMES[$k]}" ;;
	cdc-cpu*) printf '   %-16s %10.0f changes per CPU second   runs:%s\n' "$k" "${MED[$k]}" "${TIMES[$k]}" ;;
	cdc*) printf '   %-16s %10.0f changes/s   runs:%s\n' "$k" "${MED[$k]}" "${TIMES[$k]}" ;;
	esac
done < <(printf '%s\n' "${!TIMES[@]}" | sort)
if [[ -n ${MED[load ferry]:-} && -n ${MED[load raw]:-} ]]; then
	printf '   full load: ferry throughput / raw pipe = %s (target >= 0.9)\n' "$(ratio "${MED[load raw]}" "${MED[load ferry]}")"
	[[ -n ${MED[load pgcopydb]:-} ]] &&
		printf '   full load: ferry time / pgcopydb time = %s (target <= 0.8)\n' "$(ratio "${MED[load ferry]}" "${MED[load pgcopydb]}")"
fi
[[ -n ${MED[cdc ferry]:-} ]] &&
	printf '   CDC catch-up: ferry / native changes/s = %s (target >= 2); changes per CPU second: %s\n' \
		"$(ratio "${MED[cdc ferry]}" "${MED[cdc native]}")" "$(ratio "${MED[cdc-cpu ferry]}" "${MED[cdc-cpu native]}")"
[[ -n ${MED[cdc decode]:-} ]] &&
	printf '   CDC catch-up: the source decode ceiling / native = %s, ferry / the ceiling = %s\n' \
		"$(ratio "${MED[cdc decode]}" "${MED[cdc native]}")" "$(ratio "${MED[cdc ferry]}" "${MED[cdc decode]}")"
exit 0
