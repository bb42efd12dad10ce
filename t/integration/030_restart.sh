#!/bin/bash
# shellcheck disable=SC2016 # eval strings are single-quoted on purpose
# Restarts: a worker killed with SIGKILL comes back (new pid) after the restart delay,
# which doubles on the next crash; crashes are counted in status. A crash loop
# (crash_loop_max crashes within crash_loop_window) puts the task in error with one clear
# line in supervisor.log, while the other task and ferryd itself carry on.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

ini=$TEST_TMP/restart.ini
write_ferry_ini "$ini" restart_delay=300ms restart_delay_max=5s restart_stable=60s \
	crash_loop_max=3 crash_loop_window=1min
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" alpha pgsrc pgdst load_workers=1 apply_workers=1
ini_task "$ini" beta pgsrc pgdst load_workers=1 apply_workers=1
logdir=$(ferry_log_dir "$ini")
victim="apply alpha.1"

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "every worker reaches ready" wait_until 30 all_ready "$ini"
status_worker_pids "$ini" >/dev/null
beta_before=$(jq_status "$ini" '.tasks[] | select(.name == "beta") | .workers[] | "\(.name) \(.pid)"')

# restarted PID: the victim runs with a pid other than PID and is ready again.
restarted() {
	local pid
	pid=$(worker_pid "$ini" "$victim")
	[[ -n $pid && $pid != "$1" && $(worker_field "$ini" "$victim" state) == ready ]]
}

# kill_victim: SIGKILLs the victim; sets old_pid and killed_at (seconds since boot).
kill_victim() {
	old_pid=$(worker_pid "$ini" "$victim")
	remember_worker "$old_pid"
	killed_at=$(uptime_s)
	kill -KILL "$old_pid"
}

# --- one crash: restarted after restart_delay ------------------------------------------
kill_victim
ok "killed worker is restarted and ready again" wait_until 20 restarted "$old_pid"
new_pid=$(worker_pid "$ini" "$victim")
remember_worker "$new_pid"
delay=$(awk -v a="$(proc_start_s "$new_pid")" -v b="$killed_at" 'BEGIN { printf "%.2f", a - b }')
ok "first restart waited restart_delay (300ms; measured ${delay}s)" float_ge "$delay" 0.28
is "$(proc_title "$new_pid")" "ferryd: $victim" "the restarted worker has its title"
is "$(worker_field "$ini" "$victim" restarts)" 1 "status counts 1 restart"
like "$(worker_field "$ini" "$victim" last_exit)" "signal 9|SIGKILL|KILL" \
	"status shows how the worker died"
like_file "$logdir/supervisor.log" "$old_pid" "supervisor.log names the dead worker's pid"
like_file "$logdir/apply-alpha-1.log" "\[$new_pid\]: .*ready" "the new worker logs ready"

# --- a second crash: the delay doubles --------------------------------------------------
kill_victim
ok "killed again, restarted again" wait_until 20 restarted "$old_pid"
new_pid=$(worker_pid "$ini" "$victim")
remember_worker "$new_pid"
delay=$(awk -v a="$(proc_start_s "$new_pid")" -v b="$killed_at" 'BEGIN { printf "%.2f", a - b }')
ok "second restart waited twice as long (600ms; measured ${delay}s)" float_ge "$delay" 0.58
is "$(worker_field "$ini" "$victim" restarts)" 2 "status counts 2 restarts"

# --- crash loop -------------------------------------------------------------------------
# Two crashes so far within the window; keep killing the victim whenever it is back.
# The task must go to error at crash_loop_max (3) crashes, or at the latest one later.
crashes=2
while ((crashes < 6)); do
	[[ $(task_field "$ini" alpha phase) == error ]] && break
	kill_victim
	crashes=$((crashes + 1))
	wait_until 20 eval '[[ $(task_field "$ini" alpha phase) == error ]] || restarted "$old_pid"'
done
is "$(task_field "$ini" alpha phase)" error "crash loop puts the task in error"
ok "it took crash_loop_max (3) crashes, or one more (took $crashes)" \
	test "$crashes" -ge 3 -a "$crashes" -le 4
like "$(task_field "$ini" alpha error)" "$victim|crash" "the task's error names the worker or the crash loop"
# One line says it all (worker, count, window); the task's phase change may repeat the
# reason, but nothing more is logged at ERROR for this one event.
is "$(grep -Ec " ERROR supervisor\[$FERRYD_PID\]: apply alpha\.1 crashed $crashes times within 1min" \
	"$logdir/supervisor.log")" 1 "one ERROR line names the worker, the crash count and the window"
ok "at most two ERROR lines about task alpha" \
	test "$(grep ' ERROR supervisor\[' "$logdir/supervisor.log" | grep -c alpha)" -le 2
grep ' ERROR supervisor\[' "$logdir/supervisor.log" | while read -r line; do diag "seen: $line"; done

sleep 2  # longer than any backoff: a restart, if one were to come, would be here by now
pid=$(worker_pid "$ini" "$victim")
ok "the victim is not restarted any more" test -z "$pid" -o "$pid" = "$old_pid" -a ! -d "/proc/$old_pid"
ok "ferryd still answers" test "$(jq_status "$ini" .ferryd.pid)" = "$FERRYD_PID"
isnt "$(task_field "$ini" beta phase)" error "the other task is not in error"
beta_after=$(jq_status "$ini" '.tasks[] | select(.name == "beta") | .workers[] | "\(.name) \(.pid)"')
is "$beta_after" "$beta_before" "the other task's workers kept their pids"
ok "the other task's workers are all ready" all_ready "$ini" beta
is "$(jq_status "$ini" '[.tasks[] | select(.name == "beta") | .workers[].restarts] | add')" 0 \
	"the other task's workers never restarted"

status_worker_pids "$ini" >/dev/null
stop_ferryd "$ini"
is "$?" 0 "ferryd stops with exit 0 after SIGTERM"
ok "no worker is left" wait_until 5 no_worker_left

done_testing
