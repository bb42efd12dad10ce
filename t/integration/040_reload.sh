#!/bin/bash
# shellcheck disable=SC2016 # eval strings are single-quoted on purpose
# Reload: SIGHUP with log_level changed to debug takes effect in the supervisor and the
# workers; a changed restart-only key is named; a broken file keeps the old config and
# says where it is broken (by SIGHUP and by `ferryctl reload`); a log moved away by
# logrotate is recreated after SIGHUP.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

ini=$TEST_TMP/reload.ini
# write_config LOG_LEVEL APPLY_WORKERS: the whole file, as an operator would edit it.
write_config() {
	write_ferry_ini "$ini" "log_level=$1"
	ini_endpoint "$ini" pgsrc src
	ini_endpoint "$ini" pgdst dst
	ini_task "$ini" orders pgsrc pgdst load_workers=1 apply_workers="$2"
}
write_config info 1
logdir=$(ferry_log_dir "$ini")
sup=$logdir/supervisor.log
apply_log=$logdir/apply-orders-1.log

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "every worker reaches ready" wait_until 30 all_ready "$ini"
pids_before=$(status_worker_pids "$ini" | sort)
unlike "$(cat "$sup" "$apply_log")" " DEBUG " "no debug lines at log_level = info"

# --- log_level = debug ------------------------------------------------------------------
write_config debug 1
kill -HUP "$FERRYD_PID"
ok "after SIGHUP, status shows log_level debug" \
	wait_until 10 eval '[[ $(jq_status "$ini" .ferryd.log_level) == debug ]]'
# Give the supervisor something to say at debug level: a status request. (The idle
# workers say nothing more until they stop; their debug lines are checked at the end.)
ferryctl -c "$ini" status >/dev/null 2>&1
ok "debug lines appear in supervisor.log" wait_until 10 grep -q ' DEBUG supervisor\[' "$sup"
apply_pid=$(worker_pid "$ini" "apply orders.1")
is "$(status_worker_pids "$ini" | sort)" "$pids_before" "a live reload restarts no worker"

# --- a restart-only key -----------------------------------------------------------------
write_config debug 2
kill -HUP "$FERRYD_PID"
ok "a changed restart-only key is named in supervisor.log" \
	wait_until 10 grep -q 'apply_workers' "$sup"
grep 'apply_workers' "$sup" | head -n 2 | while read -r line; do diag "seen: $line"; done
is "$(worker_names "$ini" orders | grep -c '^apply')" 1 "the running worker set is unchanged"
out=$(ferryctl -c "$ini" reload 2>&1)
is "$?" 0 "ferryctl reload exits 0 on a good file"
like "$out" 'apply_workers' "ferryctl reload (text) names the key that needs a restart"
diag "$out"
out=$(ferryctl -c "$ini" reload --json 2>&1)
is "$?" 0 "ferryctl reload --json exits 0 on a good file"
is "$(jq -r .ok <<<"$out" 2>/dev/null)" true "ferryctl reload answers ok:true"
like "$(jq -r '.restart_needed[]' <<<"$out" 2>/dev/null)" '^\[task orders\] apply_workers$' \
	"ferryctl reload lists the key that needs a restart"

# --- a broken file ----------------------------------------------------------------------
echo "this line is not ini" >>"$ini"
broken_line=$(wc -l <"$ini")
kill -HUP "$FERRYD_PID"
ok "a broken file is reported in supervisor.log with file:line" \
	wait_until 10 grep -Eq " ERROR .*reload\.ini:$broken_line:" "$sup"
sleep 0.5
ok "ferryd still runs" _alive "$FERRYD_PID"
is "$(jq_status "$ini" .ferryd.log_level)" debug "the old config is kept"
is "$(status_worker_pids "$ini" | sort)" "$pids_before" "the workers were not touched"
out=$(ferryctl -c "$ini" reload 2>&1)
is "$?" 1 "ferryctl reload exits 1 on a broken file"
like "$out" "reload\.ini:$broken_line:" "ferryctl reload (text) names file:line of the error"
diag "$out"
out=$(ferryctl -c "$ini" reload --json 2>&1)
is "$?" 1 "ferryctl reload --json exits 1 on a broken file"
is "$(jq -r .ok <<<"$out" 2>/dev/null)" false "ferryctl reload answers ok:false"
like "$(jq -r '.errors[]' <<<"$out" 2>/dev/null)" "reload\.ini:$broken_line:" \
	"ferryctl reload names file:line of the error"
ok "ferryd still answers" test "$(jq_status "$ini" .ferryd.pid)" = "$FERRYD_PID"

# --- logrotate: move the logs away, SIGHUP reopens them ---------------------------------
write_config debug 1
mv "$sup" "$sup.1"
mv "$apply_log" "$apply_log.1"
kill -HUP "$FERRYD_PID"
ok "a new supervisor.log is created and written" wait_until 10 test -s "$sup"
ok "a new apply-orders-1.log is created" wait_until 10 test -e "$apply_log"
size_old=$(stat -c %s "$sup.1")
kill -HUP "$FERRYD_PID"
ferryctl -c "$ini" status >/dev/null 2>&1
wait_until 5 eval '(( $(stat -c %s "$sup") > 0 ))'
sleep 0.5
is "$(stat -c %s "$sup.1")" "$size_old" "nothing more is written to the rotated file"
ok "ferryd still runs after the rotation" _alive "$FERRYD_PID"

stop_ferryd "$ini"
is "$?" 0 "ferryd stops with exit 0 after SIGTERM"
like_file "$apply_log" " DEBUG apply orders\.1\[$apply_pid\]: " \
	"the apply worker started before the reload logs at debug level"
ok "no worker is left" wait_until 5 no_worker_left

done_testing
