#!/bin/bash
# shellcheck disable=SC2016 # eval strings are single-quoted on purpose
# ferryd's life cycle against real servers: config check (-t), start in the foreground
# with two tasks (PostgreSQL -> PostgreSQL, PostgreSQL -> MariaDB), every worker ready
# with its log file and process title, no password anywhere visible, a second ferryd
# refused, SIGTERM stopping everything cleanly, then daemon mode and `ferryctl stop`.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"
start_mariadb mdst || BAIL_OUT "cannot start MariaDB"

ini=$TEST_TMP/life.ini
write_ferry_ini "$ini" shutdown_timeout=10s
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
ini_endpoint "$ini" mydst mdst
ini_task "$ini" orders pgsrc pgdst load_workers=1 apply_workers=2
ini_task "$ini" items pgsrc mydst load_workers=1 apply_workers=1 validation=yes
logdir=$(ferry_log_dir "$ini")

# --- ferryd -t ------------------------------------------------------------------------
out=$("$FERRYD" -t -c "$ini" 2>&1)
is "$?" 0 "ferryd -t accepts a good config"

bad=$TEST_TMP/bad.ini
cp "$ini" "$bad"
sed -i 's/^log_level = info$/log_level = loud/' "$bad"
printf '\n[task broken]\nsource = pgsrc\ntarget = nowhere\nbogus_key = 1\n' >>"$bad"
level_line=$(grep -n '^log_level = loud' "$bad" | cut -d: -f1)
target_line=$(grep -n '^target = nowhere' "$bad" | cut -d: -f1)
bogus_line=$(grep -n '^bogus_key' "$bad" | cut -d: -f1)
out=$("$FERRYD" -t -c "$bad" 2>&1)
is "$?" 1 "ferryd -t rejects a bad config with exit 1"
diag "$out"
like "$out" "bad\.ini:$level_line:.*log_level" "bad value reported with file:line and key"
like "$out" "bad\.ini:$bogus_line:.*bogus_key" "unknown key reported with file:line and key"
like "$out" "bad\.ini:$target_line:.*nowhere" "undefined endpoint reported with file:line"
"$FERRYD" -t -c "$TEST_TMP/missing.ini" >/dev/null 2>&1
is "$?" 1 "ferryd -t on a missing file exits 1"
ok "ferryd -t started nothing (no pid file)" test ! -e "$(ferry_pid_file "$ini")"

# --- foreground start -----------------------------------------------------------------
ok "ferryd -f starts and answers on its control socket" start_ferryd "$ini"
ok "every worker reaches ready" wait_until 30 all_ready "$ini"

expected_workers="apply items.1
apply orders.1
apply orders.2
capture items
capture orders
load items.1
load orders.1
validate items"
is "$(worker_names "$ini" | sort)" "$expected_workers" \
	"one capture, load_workers load, apply_workers apply, validate when asked"

is "$(jq_status "$ini" .ferryd.pid)" "$FERRYD_PID" "status names ferryd's pid"
is "$(jq_status "$ini" .ferryd.config)" "$ini" "status names the config's absolute path"
is "$(jq_status "$ini" .ferryd.log_level)" info "status shows the log level"
is "$(jq_status "$ini" '[.tasks[].phase] | map(select(. == "error")) | length')" 0 \
	"no task is in error"
out=$(ferryctl -c "$ini" status 2>&1)
is "$?" 0 "ferryctl status (text) exits 0"
like "$out" "orders" "ferryctl status (text) names the tasks"
diag "$out"

is "$(proc_title "$FERRYD_PID")" "ferryd: supervisor" "supervisor's process title"
ok "supervisor.log exists" test -s "$logdir/supervisor.log"
like_file "$logdir/supervisor.log" \
	"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ INFO supervisor\[$FERRYD_PID\]: " \
	"supervisor.log lines carry time, level, process name and pid"

status_worker_pids "$ini" >/dev/null
while read -r name; do
	pid=$(worker_pid "$ini" "$name")
	kind=${name%% *}
	rest=${name#* }
	file=$kind-${rest/./-}.log
	is "$(proc_title "$pid")" "ferryd: $name" "process title of $name"
	is "$(ps -o ppid= -p "$pid" | tr -d ' ')" "$FERRYD_PID" "$name is a child of the supervisor"
	like_file "$logdir/$file" "INFO ${name//./\\.}\[$pid\]: .*ready" "$file has a ready line from pid $pid"
done <<<"$expected_workers"

# --- no password visible ---------------------------------------------------------------
for server in src dst mdst; do
	pw=$(cat "$TEST_TMP/$server.pass")
	nok "$server's password appears in no log file" \
		grep -rqF -- "$pw" "$logdir" "$TEST_TMP/life.d/ferryd.out"
	nok "$server's password appears in no ps output (args and environment)" \
		grep -qF -- "$pw" <<<"$(ps axeww -o args)"
done
leak=
for pid in $FERRYD_PID $(status_worker_pids "$ini"); do
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qF -e "$SRC_PASSWORD" -e "$DST_PASSWORD" \
		-e "$MDST_PASSWORD" && leak="$leak $pid"
done
is "$leak" "" "no ferry process has a password in its environment"

# --- a second ferryd on the same config ------------------------------------------------
out=$(timeout 15 "$FERRYD" -c "$ini" -f </dev/null 2>&1)
rc=$?
ok "a second ferryd refuses to start" test "$rc" -ne 0 -a "$rc" -ne 124
like "$out" "\b$FERRYD_PID\b" "the refusal names the running pid"
ok "the first ferryd still runs" _alive "$FERRYD_PID"
is "$(head -n 1 "$(ferry_pid_file "$ini")" 2>/dev/null)" "$FERRYD_PID" "the pid file still names it"
is "$(jq_status "$ini" .ferryd.pid)" "$FERRYD_PID" "its control socket still answers"

# --- SIGTERM ---------------------------------------------------------------------------
status_worker_pids "$ini" >/dev/null
t0=$SECONDS
stop_ferryd "$ini" TERM 20
rc=$?
is "$rc" 0 "SIGTERM: ferryd exits 0"
ok "SIGTERM: stopped within shutdown_timeout (10s)" test $((SECONDS - t0)) -le 11
ok "SIGTERM: no worker is left" wait_until 5 no_worker_left
ok "SIGTERM: pid file removed" test ! -e "$(ferry_pid_file "$ini")"
ok "SIGTERM: control socket removed" test ! -e "$(ferry_socket "$ini")"

# --- daemon mode -----------------------------------------------------------------------
ok "ferryd without -f daemonizes and answers" start_ferryd_daemon "$ini"
isnt "$(ps -o ppid= -p "$FERRYD_PID" | tr -d ' ')" "$$" "the daemon is not a child of the shell"
is "$(proc_title "$FERRYD_PID")" "ferryd: supervisor" "the daemon's process title"
ok "daemon: every worker reaches ready" wait_until 30 all_ready "$ini"
status_worker_pids "$ini" >/dev/null
out=$(ferryctl -c "$ini" stop 2>&1)
is "$?" 0 "ferryctl stop exits 0"
ok "ferryctl stop: ferryd exits" _wait_gone "$FERRYD_PID" 20
ok "ferryctl stop: no worker is left" wait_until 5 no_worker_left
ok "ferryctl stop: pid file removed" test ! -e "$(ferry_pid_file "$ini")"
ok "ferryctl stop: control socket removed" test ! -e "$(ferry_socket "$ini")"
ferryctl -c "$ini" status >/dev/null 2>&1
is "$?" 2 "ferryctl status exits 2 when no ferryd runs"

# --- SIGINT (fast), SIGQUIT (immediate), and the SIGTERM deadline ----------------------
ini=$TEST_TMP/fast.ini
write_ferry_ini "$ini" shutdown_timeout=2s
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" fast pgsrc pgdst load_workers=1 apply_workers=1
start_ready() { start_ferryd "$ini" && wait_until 30 all_ready "$ini"; }
for sig in INT QUIT; do
	ok "SIG$sig test: ferryd starts, its workers reach ready" start_ready
	status_worker_pids "$ini" >/dev/null
	t0=$SECONDS
	stop_ferryd "$ini" "$sig" 10
	rc=$?
	isnt "$rc" 124 "SIG$sig: ferryd exits (status $rc)"
	ok "SIG$sig: within 3s" test $((SECONDS - t0)) -le 3
	ok "SIG$sig: no worker is left" wait_until 5 no_worker_left
	ok "SIG$sig: pid file removed" test ! -e "$(ferry_pid_file "$ini")"
done

# SIGKILL to the supervisor: its workers notice and exit; the stale pid file and socket
# it leaves do not stop the next ferryd.
ok "SIGKILL test: ferryd starts, its workers reach ready" start_ready
status_worker_pids "$ini" >/dev/null
old_pid=$FERRYD_PID
stop_ferryd "$ini" KILL 10
ok "SIGKILL to the supervisor: its workers exit too" wait_until 5 no_worker_left
is "$(head -n 1 "$(ferry_pid_file "$ini")" 2>/dev/null)" "$old_pid" "a stale pid file is left behind"
ok "a new ferryd starts despite the stale pid file and socket" start_ferryd "$ini"
ok "... and its workers reach ready" wait_until 30 all_ready "$ini"
is "$(head -n 1 "$(ferry_pid_file "$ini")" 2>/dev/null)" "$FERRYD_PID" "the pid file names the new ferryd"
status_worker_pids "$ini" >/dev/null
stop_ferryd "$ini"
is "$?" 0 "the new ferryd stops with exit 0"

# A worker that cannot act on SIGTERM (stopped) is killed when shutdown_timeout runs out.
ok "deadline test: ferryd starts, its workers reach ready" start_ready
status_worker_pids "$ini" >/dev/null
stuck=$(worker_pid "$ini" "apply fast.1")
kill -STOP "$stuck"
t0=$SECONDS
stop_ferryd "$ini" TERM 15
is "$?" 0 "deadline: ferryd exits 0 after SIGTERM"
took=$((SECONDS - t0))
ok "deadline: it waited for shutdown_timeout (2s), not much longer (took ${took}s)" \
	test "$took" -ge 1 -a "$took" -le 5
ok "deadline: the stopped worker was killed" wait_until 5 eval '! _alive "$stuck"'
like_file "$(ferry_log_dir "$ini")/supervisor.log" "apply fast\.1 .*$stuck.*SIGKILL" \
	"deadline: supervisor.log says the worker got SIGKILL"
ok "deadline: no worker is left" wait_until 5 no_worker_left

done_testing
