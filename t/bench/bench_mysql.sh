#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq text is single-quoted on purpose
# MySQL/MariaDB source through ferryd, side by side with what a DBA would use instead, on
# the same data in one run (absolute times drift between runs and machines: read the
# ratios). Not a test: prints figures, with the load average at each measurement (the
# machine may be shared). Each part is repeated ROUNDS times with the tools interleaved
# (their order rotates per round); medians and ratios at the end.
#
# Data: `sysbench oltp_read_write prepare`, $SB_TABLES tables x $SB_ROWS rows, in
# database app of a MariaDB source (binlog ROW, FULL images).
#
#   pg_load  MySQL -> PostgreSQL full load into an emptied database each time:
#            - ferryd, migration_type = full-load, load_workers = 2: from its start
#              until the task's phase is stopped (every table loaded, keys built)
#            - pgloader --with 'prefetch rows = 10000' (with its defaults it runs out
#              of heap on this data), heap $PGLOADER_HEAP MB
#            Target: ferry's rows/s >= 3 x pgloader's.
#   my_load  MySQL -> MySQL full load into a second MariaDB, database emptied each time:
#            - ferryd as above
#            - mydumper -t 2 into a directory, then myloader -t 2 (timed together)
#            Target: ferry's rows/s >= 1 x mydumper + myloader's.
#   my_cdc   MySQL -> MySQL CDC catch-up: a backlog of $CDC_EVENTS sysbench
#            oltp_write_only transactions made while both consumers are stopped, then
#            timed until caught up:
#            - a native MariaDB replica (a third server, CHANGE MASTER TO the source, its
#              SQL thread stopped while the backlog is made and its relay log holds all
#              of it; log_slave_updates on, so that it writes the binlog of what it
#              applies as ferry's target server does, unless REPLICA_LOG_UPDATES=0):
#              START SLAVE SQL_THREAD until Exec_Master_Log_Pos reaches the backlog's
#              end (MASTER_POS_WAIT)
#            - ferryd (a full-load-and-cdc task with its default 4 apply workers,
#              stopped for the backlog), until applied_position in its status reaches it
#            Row changes counted by the source's Handler_write, _update and _delete.
#            Target: ferry's row changes/s >= 1.5 x the replica's.
# Each run also prints the CPU seconds it cost, split between the source server, the
# target server and the tool (ferry's processes, or pgloader / mydumper + myloader): on a
# loaded machine a better guide than wall time, and where ferry's time goes.
#
# MySQL -> MySQL needs a ferryd that runs that pair: FERRYD_MYSQL=PATH names one (its
# ferryctl beside it; default: the ferryd built here). A short probe load tells whether it
# can; the MySQL -> MySQL parts are skipped with the reason when it cannot, the rest runs.
#
# Tools: pgloader, mydumper, myloader and sysbench (contrib/install-bench-deps.sh installs
# them); a part whose tool is missing is skipped with the reason.
#
# Run from a build directory (after make), or set top_builddir. Environment:
#   SB_TABLES=4 SB_ROWS=500000 ROUNDS=3 CDC_EVENTS=100000 PARTS="pg_load my_load my_cdc"
#   PGLOADER_HEAP=4096 (MB, its --dynamic-space-size) FERRYD_MYSQL=PATH (see above)
#   REPLICA_LOG_UPDATES=1 (see my_cdc)
#   FERRY_TASK_OPTS="key=value ..." extra keys for ferry's full-load tasks, CDC_TASK_OPTS
#   for its CDC task; ONLY_LOAD_TOOLS="ferry" only these full-load tools, ONLY_CDC_TOOLS=
#   "native" only these catch-up tools (no ratio then; without ferry, no probe either);
#   PERF_OUT=FILE records a system-wide perf profile of each ferry run into FILE.NAME
#   (FILE.NAME.pids names the processes); KEEP_TMP=1 keeps the servers' directories
#   (t/lib.sh)
# Servers: MariaDB 10.11 from t/lib.sh (binlog ROW, FULL images, no flush at commit) with a
# 1 GB buffer pool and 512 MB redo log; PostgreSQL 15 tuned as in bench_pg_to_pg.sh.
set -uo pipefail

. "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

SB_TABLES=${SB_TABLES:-4}
SB_ROWS=${SB_ROWS:-500000}
ROUNDS=${ROUNDS:-3}
CDC_EVENTS=${CDC_EVENTS:-100000}
PARTS=${PARTS:-pg_load my_load my_cdc}
PGLOADER_HEAP=${PGLOADER_HEAP:-4096}
FERRY_TASK_OPTS=${FERRY_TASK_OPTS:-}
CDC_TASK_OPTS=${CDC_TASK_OPTS:-}
FERRYD_MYSQL=${FERRYD_MYSQL:-$FERRYD}
FERRYCTL_MYSQL=$(dirname "$FERRYD_MYSQL")/ferryctl
CLK_TCK=$(getconf CLK_TCK)

declare -A SKIPPED=()  # part -> why it did not run
skip_part() {  # PART REASON
	SKIPPED[$1]=$2
	PARTS=" $PARTS "
	PARTS=${PARTS// $1 / }
	echo "   $1 skipped: $2"
}
need_tool() {  # PART TOOL...: skips PART unless every tool is installed
	local part=$1 t
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null && continue
		skip_part "$part" "$t is not installed (contrib/install-bench-deps.sh)"
		return 1
	done
}
command -v sysbench >/dev/null || die "sysbench is not installed (contrib/install-bench-deps.sh)"
has_part pg_load && need_tool pg_load pgloader
has_part my_load && need_tool my_load mydumper myloader
[[ -x $FERRYD_MYSQL && -x $FERRYCTL_MYSQL ]] || {
	for p in my_load my_cdc; do has_part $p && skip_part $p "no ferryd and ferryctl at $FERRYD_MYSQL"; done
}

# ---- servers -----------------------------------------------------------------------------------
tune_my() {  # NAME: room for the data in memory, a redo log that need not checkpoint mid-load
	my_sql "$1" "SET GLOBAL innodb_buffer_pool_size = 1073741824;
	             SET GLOBAL innodb_log_file_size = 536870912" >/dev/null
}
start_mariadb src && tune_my src || die "cannot start the source server"
if has_part pg_load; then start_pg dst && tune_pg dst || die "cannot start the PostgreSQL target"; fi
if has_part my_load || has_part my_cdc; then
	start_mariadb mydst && tune_my mydst || die "cannot start the MariaDB target"
	# ferry keeps its bookkeeping (stream position, progress) in database ferry on a MySQL target
	my_sql mydst "GRANT ALL ON ferry.* TO 'ferry'@'%'" || die "cannot grant on the MariaDB target"
fi
if has_part my_cdc; then
	# Its SQL thread writes the binlog as ferry's target server does for ferry's changes
	# (REPLICA_LOG_UPDATES=0: it does not, as MariaDB's default has it)
	replica_opts=()
	[[ ${REPLICA_LOG_UPDATES:-1} == 1 ]] && replica_opts=(--log-slave-updates)
	start_mariadb replica "${replica_opts[@]}" && tune_my replica || die "cannot start the replica"
fi
src_sql() { my_sql src "$@"; }
mydst_sql() { my_sql mydst "$@"; }
replica_sql() { my_sql replica "$@"; }
dst_sql() { local db=$1; shift; PGDATABASE=$db pg_sql dst "$@"; }
src_binlog() { src_sql "SHOW MASTER STATUS" | awk '{ print $1, $2 }'; }  # "FILE POS"

echo "== ferry MySQL benchmark: $(nproc) cores, load average $(loadavg) at the start"
echo "   data: sysbench oltp_read_write prepare, $SB_TABLES tables x $SB_ROWS rows; $ROUNDS rounds; parts:$PARTS"
has_part my_cdc && echo "   replica: log_slave_updates $(replica_sql "SELECT @@log_slave_updates")"

# The replica follows the source from before the data is made: it replays the prepare,
# so both start equal without a copy of their own.
setup_replica() {
	local file pos
	read -r file pos <<<"$(src_binlog)"
	replica_sql "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $SRC_PORT, MASTER_USER = 'ferry',
	             MASTER_PASSWORD = '$SRC_PASSWORD', MASTER_LOG_FILE = '$file', MASTER_LOG_POS = $pos;
	             START SLAVE" || return 1
}
has_part my_cdc && { setup_replica || die "cannot set up the replica"; }

# ---- data --------------------------------------------------------------------------------------
sysbench_src() {  # TEST ARGS...
	local t=$1
	shift
	sysbench "$t" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$SRC_PORT" --mysql-user=ferry \
		--mysql-password="$SRC_PASSWORD" --mysql-db=app --tables="$SB_TABLES" --table-size="$SB_ROWS" "$@"
}
t0=$(now)
sysbench_src oltp_read_write prepare --threads=2 >"$TEST_TMP/sysbench-prepare.log" 2>&1 ||
	die "sysbench prepare failed: $(tail -3 "$TEST_TMP/sysbench-prepare.log")"
src_sql "ANALYZE TABLE $(seq -f 'sbtest%g' -s, 1 "$SB_TABLES")" >/dev/null
TABLES=$(seq -f 'sbtest%g' 1 "$SB_TABLES")
ROWS=0
for t in $TABLES; do ROWS=$((ROWS + $(src_sql "SELECT count(*) FROM $t"))); done
SIZE=$(src_sql "SELECT round(sum(data_length + index_length) / 1048576) FROM information_schema.tables WHERE table_schema = 'app'")
echo "   $ROWS rows, $SIZE MB (data and indexes), made in $(elapsed "$t0" "$(now)") s"

replica_status() {  # FIELD...: the replica's SHOW SLAVE STATUS fields, space-separated
	mariadb --no-defaults -uroot --socket="$REPLICA_SOCKDIR/sock" -e "SHOW SLAVE STATUS\G" |
		awk -v want=" $* " '{ k = $1; sub(/:$/, "", k); if (index(want, " " k " ")) v[k] = $2 }
			END { n = split(want, w, " "); for (i = 1; i <= n; i++) printf "%s%s", v[w[i]], (i < n ? " " : "\n") }'
}
replica_at() {  # FILE POS [Exec|Read]: the replica's SQL (or IO) thread has reached the source's FILE:POS
	local f p
	if [[ ${3:-Exec} == Read ]]; then
		read -r f p <<<"$(replica_status Master_Log_File Read_Master_Log_Pos)"
	else
		read -r f p <<<"$(replica_status Relay_Master_Log_File Exec_Master_Log_Pos)"
	fi
	[[ -n $f && -n $p ]] && { [[ $f > $1 ]] || { [[ $f == "$1" ]] && ((p >= $2)); }; }
}
if has_part my_cdc; then
	read -r f p <<<"$(src_binlog)"
	wait_until 1800 replica_at "$f" "$p" || die "the replica did not catch up with the prepare: $(replica_status Last_Error)"
	echo "   the replica replayed the prepare"
fi

# ---- measuring ---------------------------------------------------------------------------------
# A run's CPU: the source's and target's server processes, and the tool's: our own reaped
# children (the tool and ferryd are children of this shell; status polls count, a little).
self_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"; }
cpu_snapshot() {  # TARGET-SERVER-PID: "source target tool" clock ticks so far
	echo "$(cpu_ticks "$SRC_PID") $(cpu_ticks "$1") $(self_ticks)"
}
cpu_split() {  # BEFORE AFTER: "source/target/tool CPU s" between two snapshots
	awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "CPU s source %.1f target %.1f tool %.1f", (y[1] - x[1]) / hz, (y[2] - x[2]) / hz, (y[3] - x[3]) / hz }'
}

timed_load() {  # PART LABEL FUNCTION TARGET-PID: one full load, verified
	local la t0 t1 c0 c1 s
	"reset_$1" || die "$1: cannot empty the target"
	la=$(loadavg)
	c0=$(cpu_snapshot "$4")
	t0=$(now)
	"$3" || die "$1 $2 failed"
	t1=$(now)
	c1=$(cpu_snapshot "$4")
	"verify_$1" "$2"
	s=$(elapsed "$t0" "$t1")
	record "$1 $2" "$s"
	printf '   %-9s %8.2f s %9.0f rows/s   %s   (load average %s)\n' "$2" "$s" \
		"$(awk -v r="$ROWS" -v s="$s" 'BEGIN { print r / s }')" "$(cpu_split "$c0" "$c1")" "$la"
}

# ferry's full load: a full-load task with 2 load workers, from ferryd's start until the
# task has stopped by itself.
ferry_run=0
ferry_load() {  # TARGET-SERVER DBNAME FERRYD
	ferry_run=$((ferry_run + 1))
	local ini=$TEST_TMP/load$ferry_run.ini
	write_ferry_ini "$ini"
	ini_endpoint "$ini" mysrc src
	ini_endpoint "$ini" dst "$1" "dbname=$2"
	# shellcheck disable=SC2086 # FERRY_TASK_OPTS is a list of key=value words
	ini_task "$ini" fl mysrc dst migration_type=full-load load_workers=2 apply_workers=1 \
		target_table_prep=drop create_tables=yes 'include=app.*' $FERRY_TASK_OPTS
	perf_start "load$ferry_run"
	FERRYD=$3 start_ferryd "$ini" || return 1
	FERRYCTL_BIN=$(dirname "$3")/ferryctl wait_phase "$ini" fl stopped 900 ||
		{ tail -5 "$(ferry_log_dir "$ini")"/*.log >&2; perf_stop; stop_ferryd "$ini"; return 1; }
	perf_stop
	stop_ferryd "$ini"
	cp "$(ferry_log_dir "$ini")"/load-fl-*.log "$TEST_TMP/" 2>/dev/null
	return 0
}

# Per table: count and a checksum of every column, computed by each server in its own SQL.
MY_SUM="SELECT count(*), coalesce(sum(crc32(concat_ws('|', id, k, c, pad))), 0) FROM"
src_table_sums() { local t; for t in $TABLES; do echo "$t $(src_sql "$MY_SUM $t")"; done; }

# ---- MySQL -> PostgreSQL full load ---------------------------------------------------------------
reset_pg_load() {
	dst_sql postgres "DROP DATABASE IF EXISTS load WITH (FORCE)" >/dev/null 2>&1
	dst_sql postgres "CREATE DATABASE load OWNER ferry" >/dev/null || return 1
	dst_sql postgres "CHECKPOINT" >/dev/null
	sync
}
verify_pg_load() {  # LABEL: every table's rows are there, and its keys
	local t s d
	for t in $TABLES; do
		s=$(src_sql "SELECT count(*) FROM $t")
		d=$(dst_sql load "SELECT count(*) FROM app.$t")
		[[ $s == "$d" ]] || die "pg_load $1: $t has '$d' rows on the target, $s on the source"
	done
	d=$(dst_sql load "SELECT count(*) FROM pg_indexes WHERE schemaname = 'app'")
	((d >= 2 * SB_TABLES)) || die "pg_load $1: $d indexes on the target, expected primary keys and k_N"
}
pg_load_ferry() { ferry_load dst load "$FERRYD"; }
pg_load_pgloader() {
	# MySQL database app becomes schema app, as with ferry
	pgloader --dynamic-space-size "$PGLOADER_HEAP" --with 'prefetch rows = 10000' \
		"mysql://ferry:$SRC_PASSWORD@127.0.0.1:$SRC_PORT/app" \
		"pgsql://ferry:$DST_PASSWORD@127.0.0.1:$DST_PORT/load" >"$TEST_TMP/pgloader.log" 2>&1 ||
		{ tail -20 "$TEST_TMP/pgloader.log" >&2; return 1; }
	! grep -q 'ERROR\|FATAL' "$TEST_TMP/pgloader.log" || { grep 'ERROR\|FATAL' "$TEST_TMP/pgloader.log" | head >&2; return 1; }
}

# ---- MySQL -> MySQL full load --------------------------------------------------------------------
reset_my_load() {
	mydst_sql "DROP DATABASE IF EXISTS app; CREATE DATABASE app" >/dev/null || return 1
	rm -rf "$TEST_TMP/dump"
	sync
}
verify_my_load() {  # LABEL: every table equal, column by column
	local t s d
	for t in $TABLES; do
		s=$(src_sql "$MY_SUM $t")
		d=$(mydst_sql "$MY_SUM $t")
		[[ $s == "$d" ]] || die "my_load $1: $t is '$d' (count, checksum) on the target, '$s' on the source"
	done
	d=$(mydst_sql "SELECT count(DISTINCT table_name, index_name) FROM information_schema.statistics WHERE table_schema = 'app'")
	((d >= 2 * SB_TABLES)) || die "my_load $1: $d indexes on the target, expected primary keys and k_N"
}
my_load_ferry() { ferry_load mydst app "$FERRYD_MYSQL"; }
my_load_mydumper() {
	mydumper -h 127.0.0.1 -P "$SRC_PORT" -u ferry -p "$SRC_PASSWORD" -B app -t 2 \
		-o "$TEST_TMP/dump" >"$TEST_TMP/mydumper.log" 2>&1 || { tail -20 "$TEST_TMP/mydumper.log" >&2; return 1; }
	myloader -h 127.0.0.1 -P "$MYDST_PORT" -u ferry -p "$MYDST_PASSWORD" -d "$TEST_TMP/dump" -s app -B app \
		-t 2 -o >"$TEST_TMP/myloader.log" 2>&1 || { tail -20 "$TEST_TMP/myloader.log" >&2; return 1; }
}

# Can this ferryd load MySQL into MySQL? A one-table load of a small copy, bounded in time.
probe_my_to_my() {
	local ini=$TEST_TMP/probe.ini why
	src_sql "CREATE DATABASE IF NOT EXISTS probe; CREATE TABLE probe.t LIKE app.sbtest1;
	         INSERT INTO probe.t SELECT * FROM app.sbtest1 LIMIT 1000" >/dev/null || return 1
	mydst_sql "DROP DATABASE IF EXISTS probe; CREATE DATABASE probe" >/dev/null
	mydst_sql "GRANT ALL ON probe.* TO 'ferry'@'%'" >/dev/null
	src_sql "GRANT ALL ON probe.* TO 'ferry'@'%'" >/dev/null
	write_ferry_ini "$ini"
	ini_endpoint "$ini" mysrc src dbname=probe
	ini_endpoint "$ini" dst mydst dbname=probe
	ini_task "$ini" probe mysrc dst migration_type=full-load target_table_prep=drop create_tables=yes 'include=probe.*'
	FERRYD=$FERRYD_MYSQL start_ferryd "$ini" || { PROBE_WHY="ferryd did not start"; return 1; }
	if ! FERRYCTL_BIN=$FERRYCTL_MYSQL wait_phase "$ini" probe stopped 60 2>"$TEST_TMP/probe.err"; then
		why=$(FERRYCTL_BIN=$FERRYCTL_MYSQL task_field "$ini" probe error)
		[[ -n $why ]] || why=$(grep -h ERROR "$(ferry_log_dir "$ini")"/*.log | sort | tail -n 1 | cut -d' ' -f3-)
		PROBE_WHY="a 1000-row load did not finish within 60 s (phase $(FERRYCTL_BIN=$FERRYCTL_MYSQL task_phase "$ini" probe)${why:+: $why})"
		stop_ferryd "$ini"
		return 1
	fi
	stop_ferryd "$ini"
	[[ $(mydst_sql "SELECT count(*) FROM probe.t") == 1000 ]] || { PROBE_WHY="the probe load left the wrong row count"; return 1; }
	src_sql "DROP DATABASE probe" >/dev/null
}
# ONLY_LOAD_TOOLS / ONLY_CDC_TOOLS without ferry measure the other tools alone: no probe.
ferry_in() { [[ " ${1:-ferry} " == *" ferry "* ]]; }
if { has_part my_load && ferry_in "${ONLY_LOAD_TOOLS:-}"; } || { has_part my_cdc && ferry_in "${ONLY_CDC_TOOLS:-}"; }; then
	PROBE_WHY=
	if ! probe_my_to_my; then
		for p in my_load my_cdc; do has_part $p && skip_part $p "$FERRYD_MYSQL cannot run MySQL -> MySQL: $PROBE_WHY"; done
		src_sql "DROP DATABASE IF EXISTS probe" >/dev/null
	fi
fi

run_loads() {  # PART TARGET-PID TOOL...
	local part=$1 pid=$2 r tool
	shift 2
	# shellcheck disable=SC2086 # a list of words
	[[ -n ${ONLY_LOAD_TOOLS:-} ]] && set -- $ONLY_LOAD_TOOLS
	echo "== $part full load"
	for ((r = 1; r <= ROUNDS; r++)); do
		echo "-- round $r"
		for tool in $(rotate "$r" "$@"); do timed_load "$part" "$tool" "${part}_$tool" "$pid"; done
	done
	echo "   ferry's last load, per table (snapshot taken, rows copied, keys built):"
	grep -h "snapshot\|copied\|loaded:" "$TEST_TMP"/load-fl-*.log 2>/dev/null | sort | sed 's/^/     /'
	rm -f "$TEST_TMP"/load-fl-*.log
}
has_part pg_load && run_loads pg_load "${_pg_pid[dst]}" ferry pgloader
has_part my_load && run_loads my_load "$MYDST_PID" ferry mydumper

# ---- MySQL -> MySQL CDC catch-up -----------------------------------------------------------------
cdc_ini=$TEST_TMP/cdc.ini
setup_cdc() {
	write_ferry_ini "$cdc_ini"
	ini_endpoint "$cdc_ini" mysrc src
	ini_endpoint "$cdc_ini" dst mydst dbname=app
	# shellcheck disable=SC2086 # CDC_TASK_OPTS is a list of key=value words
	# apply_workers: ferry's default. It must stay the same for every run of the task.
	ini_task "$cdc_ini" cdc mysrc dst migration_type=full-load-and-cdc load_workers=2 apply_workers=4 \
		ring_size=64MB target_table_prep=drop create_tables=yes 'include=app.*' $CDC_TASK_OPTS
	replica_sql "STOP SLAVE SQL_THREAD" || return 1
	ferry_in "${ONLY_CDC_TOOLS:-}" || return 0
	FERRYD=$FERRYD_MYSQL start_ferryd "$cdc_ini" || return 1
	FERRYCTL_BIN=$FERRYCTL_MYSQL wait_phase "$cdc_ini" cdc cdc 900 || return 1
	wait_until 120 eval '[[ $(FERRYCTL_BIN=$FERRYCTL_MYSQL jq_status "$cdc_ini" "[.tasks[0].tables[] | select(.state != \"in-sync\")] | length") == 0 ]]' || return 1
	stop_ferryd "$cdc_ini"
}

source_row_ops() {  # rows inserted, updated and deleted on the source so far (not temporary tables')
	src_sql "SELECT sum(variable_value) FROM information_schema.global_status
	         WHERE variable_name IN ('HANDLER_WRITE', 'HANDLER_UPDATE', 'HANDLER_DELETE')"
}
# A backlog of CDC_EVENTS transactions (both consumers stopped), in the replica's relay log
# before anything is timed. END_FILE:END_POS is the binlog's end after it.
make_backlog() {
	local t0 t1 r0 f n
	r0=$(source_row_ops)
	t0=$(now)
	sysbench_src oltp_write_only run --threads=2 --events="$CDC_EVENTS" --time=0 --rand-seed=$RANDOM \
		>"$TEST_TMP/sysbench-run.log" 2>&1 || die "sysbench run failed: $(tail -3 "$TEST_TMP/sysbench-run.log")"
	t1=$(now)
	BACKLOG_CHANGES=$(($(source_row_ops) - r0))
	read -r END_FILE END_POS <<<"$(src_binlog)"
	f=${END_FILE##*.}
	END_PACKED=$(((10#$f << 32) | END_POS))  # ferry's position: binlog file number, offset
	wait_until 600 replica_at "$END_FILE" "$END_POS" Read || die "the replica's IO thread did not receive the backlog"
	printf '   backlog: %d transactions, %d row changes made in %s s by sysbench (%.0f changes/s)\n' \
		"$CDC_EVENTS" "$BACKLOG_CHANGES" "$(elapsed "$t0" "$t1")" \
		"$(awk -v c="$BACKLOG_CHANGES" -v s="$(elapsed "$t0" "$t1")" 'BEGIN { print c / s }')"
}

cdc_native() {
	replica_sql "START SLAVE SQL_THREAD" || return 1
	# MASTER_POS_WAIT returns as the SQL thread reaches the position: no polling to pay for
	local w
	w=$(replica_sql "SELECT MASTER_POS_WAIT('$END_FILE', $END_POS, 1800)")
	[[ $w =~ ^[0-9]+$ ]] || { echo "MASTER_POS_WAIT: $w; $(replica_status Last_SQL_Error)" >&2; return 1; }
	CDC_T1=$(now)
	CDC_C1=$(echo "$(cpu_ticks "$SRC_PID") $(cpu_ticks "$REPLICA_PID") $(self_ticks)")
	replica_sql "STOP SLAVE SQL_THREAD"
}
ferry_caught_up() {
	local doc
	doc=$("$FERRYCTL_MYSQL" -c "$cdc_ini" status --json 2>/dev/null)
	[[ $doc =~ \"applied_position\":\ ?([0-9]+) ]] && ((BASH_REMATCH[1] >= END_PACKED))
}
ferry_worker_cpu() {  # FERRYD-PID: "capture X apply Y" CPU s of its live workers so far
	local p t sum_c=0 sum_a=0
	for p in $(child_pids "$1"); do
		t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || continue
		case $(proc_title "$p") in
		*capture*) sum_c=$((sum_c + t)) ;;
		*apply*) sum_a=$((sum_a + t)) ;;
		esac
	done
	awk -v c="$sum_c" -v a="$sum_a" -v hz="$CLK_TCK" 'BEGIN { printf "ferry: capture %.1f apply %.1f", c / hz, a / hz }'
}
cdc_run=0
cdc_ferry() {
	cdc_run=$((cdc_run + 1))
	perf_start "cdc$cdc_run"
	FERRYD=$FERRYD_MYSQL start_ferryd "$cdc_ini" || return 1
	# every 0.2 s: a status call costs ferryd and ferryctl some CPU the catch-up needs
	wait_until 1800 ferry_caught_up || { echo "ferry did not catch up: phase $(FERRYCTL_BIN=$FERRYCTL_MYSQL task_phase "$cdc_ini" cdc)" >&2; return 1; }
	CDC_T1=$(now)
	CDC_C1=$(echo "$(cpu_ticks "$SRC_PID") $(cpu_ticks "$MYDST_PID") $(($(self_ticks) + $(cpu_ticks "$FERRYD_PID")))")
	FERRY_SPLIT=$(ferry_worker_cpu "$FERRYD_PID")
	perf_stop
	stop_ferryd "$cdc_ini"
}
verify_cdc() {  # TOOL...: the replica's and ferry's copies equal the source, table by table
	local t s n f
	for t in $TABLES; do
		s=$(src_sql "$MY_SUM $t")
		if [[ " $* " == *" native "* ]]; then
			n=$(replica_sql "$MY_SUM $t")
			[[ $s == "$n" ]] || die "the replica's $t differs: source '$s', replica '$n'"
		fi
		if [[ " $* " == *" ferry "* ]]; then
			f=$(mydst_sql "$MY_SUM $t")
			[[ $s == "$f" ]] || die "ferry's $t differs: source '$s', target '$f'"
		fi
	done
}
timed_cdc() {  # TOOL
	local la t0 c0 s tp=$MYDST_PID
	[[ $1 == native ]] && tp=$REPLICA_PID
	la=$(loadavg)
	c0=$(cpu_snapshot "$tp")
	t0=$(now)
	"cdc_$1" || die "$1 catch-up failed"
	s=$(elapsed "$t0" "$CDC_T1")
	record "my_cdc $1" "$(awk -v c="$BACKLOG_CHANGES" -v s="$s" 'BEGIN { printf "%.0f", c / s }')"
	printf '   %-9s %8.2f s %9.0f changes/s   %s%s   (load average %s)\n' "$1" "$s" \
		"$(awk -v c="$BACKLOG_CHANGES" -v s="$s" 'BEGIN { print c / s }')" "$(cpu_split "$c0" "$CDC_C1")" \
		"$([[ $1 == ferry ]] && echo " ($FERRY_SPLIT)")" "$la"
}

if has_part my_cdc; then
	echo "== my_cdc setup: ferry full-load-and-cdc into the MariaDB target, replica's SQL thread stopped"
	CDC_TOOLS=(native ferry)
	# shellcheck disable=SC2206 # a list of words
	[[ -n ${ONLY_CDC_TOOLS:-} ]] && CDC_TOOLS=($ONLY_CDC_TOOLS)
	setup_cdc || die "CDC setup failed"
	echo "== my_cdc catch-up"
	for ((r = 1; r <= ROUNDS; r++)); do
		echo "-- round $r"
		make_backlog
		for tool in $(rotate "$r" "${CDC_TOOLS[@]}"); do timed_cdc "$tool"; done
		verify_cdc "${CDC_TOOLS[@]}"
	done
fi

# ---- summary -------------------------------------------------------------------------------------
echo "== medians of $ROUNDS rounds (load average now $(loadavg))"
declare -A MED=()
while IFS= read -r k; do
	[[ -n $k ]] || continue
	MED[$k]=$(echo "${TIMES[$k]}" | median)
	case $k in
	my_cdc*) printf '   %-16s %10.0f changes/s   runs:%s\n' "$k" "${MED[$k]}" "${TIMES[$k]}" ;;
	*) printf '   %-16s %8.2f s %10.0f rows/s   runs:%s\n' "$k" "${MED[$k]}" "$(awk -v r="$ROWS" -v s="${MED[$k]}" 'BEGIN { print r / s }')" "${TIMES[$k]}" ;;
	esac
done < <(printf '%s\n' "${!TIMES[@]}" | sort)
[[ -n ${MED[pg_load ferry]:-} && -n ${MED[pg_load pgloader]:-} ]] &&
	printf '   MySQL -> PostgreSQL full load: ferry / pgloader rows/s = %s (target >= 3)\n' "$(ratio "${MED[pg_load pgloader]}" "${MED[pg_load ferry]}")"
[[ -n ${MED[my_load ferry]:-} && -n ${MED[my_load mydumper]:-} ]] &&
	printf '   MySQL -> MySQL full load: ferry / mydumper + myloader rows/s = %s (target >= 1)\n' "$(ratio "${MED[my_load mydumper]}" "${MED[my_load ferry]}")"
[[ -n ${MED[my_cdc ferry]:-} && -n ${MED[my_cdc native]:-} ]] &&
	printf '   MySQL -> MySQL CDC catch-up: ferry / native replica row changes/s = %s (target >= 1.5)\n' "$(ratio "${MED[my_cdc ferry]}" "${MED[my_cdc native]}")"
for p in "${!SKIPPED[@]}"; do echo "   $p skipped: ${SKIPPED[$p]}"; done
exit 0
