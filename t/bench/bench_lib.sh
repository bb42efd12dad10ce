# shellcheck shell=bash
# shellcheck disable=SC2016 # jq text is single-quoted on purpose
# What ferry's benchmark scripts share (bench_pg_to_pg.sh, bench_mysql.sh, bench_pg_memory.sh),
# sourced right after `set -uo pipefail`: t/lib.sh's throwaway servers and ferryd control
# (run from a build directory, after make, or set top_builddir), timing and median
# helpers, the PostgreSQL tuning for a 1 GB load, per-tool time records, status polling
# that spares the measured tools' CPU, and the optional perf profile (PERF_OUT).
# The tools the benchmarks compare against (pgcopydb, pgloader, mydumper, sysbench):
# contrib/install-bench-deps.sh.
# Not a test: benchmarks are never run by make check.

if [[ -z ${top_builddir:-} && -x ./ferryd ]]; then
	top_builddir=$PWD
fi
TEST_TIMEOUT=${TEST_TIMEOUT:-14400}
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/t/lib.sh"
require_ferry_binaries

die() { echo "$(basename "$0" .sh): $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
has_part() { [[ " $PARTS " == *" $1 "* ]]; }

# The servers: t/lib.sh's, with room for a 1 GB load.
tune_pg() {  # tune_pg NAME
	local data=$TEST_TMP/pg-$1/data s
	for s in "shared_buffers = '1GB'" "max_wal_size = '8GB'" "checkpoint_timeout = '30min'"; do
		pg_sql "$1" "ALTER SYSTEM SET $s" >/dev/null || return 1
	done
	_as_pg pg_ctl -D "$data" -w -t 120 -m fast restart >"$TEST_TMP/pg-$1/restart.log" 2>&1 || return 1
	_pg_pid[$1]=$(head -n 1 "$data/postmaster.pid")
}

# Every measurement of a tool: TIMES["what tool"] holds its runs, space-separated.
declare -A TIMES=()
record() { TIMES[$1]="${TIMES[$1]:-} $2"; }

rotate() {  # ROUND WORD...: the words, starting at position ROUND mod count
	local r=$1 n
	shift
	n=$#
	local -a w=("$@")
	for ((i = 0; i < n; i++)); do echo "${w[(r + i) % n]}"; done
}

task_phase() { task_field "$1" "$2" phase; }
# Polling costs CPU the measured tools need (2 cores): one ferryctl call, no jq, per poll.
status_raw() { "$FERRYCTL_BIN" -c "$1" status --json 2>/dev/null; }
wait_phase() {  # INI TASK PHASE SECONDS: polls every 0.1 s; an error phase fails at once
	local deadline=$((SECONDS + $4)) doc
	while ((SECONDS < deadline)); do
		doc=$(status_raw "$1")
		[[ $doc =~ \"phase\":\ ?\"$3\" ]] && [[ $(jq -r --arg t "$2" '.tasks[] | select(.name == $t) | .phase' <<<"$doc") == "$3" ]] && return 0
		[[ $doc =~ \"phase\":\ ?\"error\" ]] && { echo "task $2: $(task_field "$1" "$2" error)" >&2; return 1; }
		sleep 0.1
	done
	return 1
}
# CPU time (clock ticks) of a process tree: the process, its reaped children (cutime,
# cstime) and its live children. Wall times swing with what else runs on the machine;
# the CPU a run costs much less.
cpu_ticks() {  # PID...
	local pid c sum=0
	for pid in "$@"; do
		for c in "$pid" $(child_pids "$pid"); do
			[[ -r /proc/$c/stat ]] || continue
			sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$c/stat")))
		done
	done
	echo "$sum"
}

# With PERF_OUT=FILE, a system-wide perf profile of each ferry run goes to FILE.NAME, and
# FILE.NAME.pids names the processes (perf knows them by pid only).
perf_pid= pids_pid=
perf_start() {  # NAME
	[[ -n ${PERF_OUT:-} ]] || return 0
	perf record -a -g -F "${PERF_FREQ:-299}" -o "$PERF_OUT.$1" >/dev/null 2>&1 &
	perf_pid=$!
	while sleep 0.5; do ps -eo pid=,args= | grep -E 'postgres: |ferryd: |mariadbd '; done >"$PERF_OUT.$1.pids" 2>/dev/null &
	pids_pid=$!
	sleep 1
}
perf_stop() {
	[[ -n $perf_pid ]] || return 0
	kill -INT "$perf_pid"
	wait "$perf_pid"
	kill "$pids_pid"
	wait "$pids_pid" 2>/dev/null
	perf_pid= pids_pid=
}
