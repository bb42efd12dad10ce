#!/bin/bash
# shellcheck disable=SC2016 # eval strings are single-quoted on purpose
# Bad endpoints. Fatal ones (wrong password on PostgreSQL and MariaDB, a role without
# LOGIN, an unknown database) put their task in error at once with a clear message naming
# the endpoint, and are never retried. An unreachable one (closed port) is retried with
# backoff, logged with its host:port, and reaches ready once a server listens there.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"
start_mariadb mdst || BAIL_OUT "cannot start MariaDB"

wrong_pw=$TEST_TMP/wrong.pass
(umask 077 && echo "WrongPassword$RANDOM$RANDOM" >"$wrong_pw")
pg_sql src "CREATE ROLE ferry_nologin NOLOGIN PASSWORD '$SRC_PASSWORD'" || BAIL_OUT "cannot create role"
down_port=$(closed_port)
late_pw=$TEST_TMP/late.pass
(umask 077 && echo "not-started-yet" >"$late_pw")

ini=$TEST_TMP/bad.ini
write_ferry_ini "$ini" restart_delay=300ms restart_delay_max=1s crash_loop_max=100 crash_loop_window=1min
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
ini_endpoint "$ini" pgbadpw src "password_file=$wrong_pw"
ini_endpoint "$ini" mybadpw mdst "password_file=$wrong_pw"
ini_endpoint "$ini" pgnologin src user=ferry_nologin
ini_endpoint "$ini" pgnodb src dbname=no_such_db
ini_endpoint "$ini" pgdown src "port=$down_port" "password_file=$late_pw"
ini_task "$ini" badpw pgbadpw pgdst load_workers=1 apply_workers=1
ini_task "$ini" mybadpw pgsrc mybadpw load_workers=1 apply_workers=1
ini_task "$ini" nologin pgnologin pgdst load_workers=1 apply_workers=1
ini_task "$ini" nodb pgsrc pgnodb load_workers=1 apply_workers=1
ini_task "$ini" down pgsrc pgdown load_workers=1 apply_workers=1
logdir=$(ferry_log_dir "$ini")

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"

# --- fatal: task in error, named endpoint, no retry -------------------------------------
# check_fatal TASK ENDPOINT WHAT-REGEX
check_fatal() {
	local task=$1 ep=$2 what=$3 err
	ok "$task: task goes to error" wait_until 20 eval "[[ \$(task_field \"\$ini\" $task phase) == error ]]"
	err=$(task_field "$ini" "$task" error)
	like "$err" "$ep" "$task: the error names the endpoint ($ep)"
	like "$err" "$what" "$task: the error says what is wrong"
	ok "$task: the error is one line" test "$(printf '%s' "$err" | wc -l)" -eq 0
	like_file "$logdir/supervisor.log" "ERROR .*$task.*$ep|ERROR .*$ep.*$task" \
		"$task: supervisor.log has an ERROR line naming task and endpoint"
}
check_fatal badpw pgbadpw 'password'
check_fatal mybadpw mybadpw 'password|[Aa]ccess denied'
check_fatal nologin pgnologin 'log in|login|LOGIN'
check_fatal nodb pgnodb 'no_such_db'

sleep 3  # several restart delays: a retry, if there were one, would have happened
for task in badpw mybadpw nologin nodb; do
	is "$(jq_status "$ini" ".tasks[] | select(.name == \"$task\") | [.workers[].restarts] | add")" 0 \
		"$task: no worker was ever restarted"
	is "$(task_field "$ini" "$task" phase)" error "$task: still in error"
done
nok "the wrong password appears in no log file" grep -rqF -- "$(cat "$wrong_pw")" "$logdir"

# --- transient: closed port, retried with backoff ---------------------------------------
isnt "$(task_field "$ini" down phase)" error "down: the task is not in error"
ok "down: the apply worker is retried (restarts >= 2)" \
	wait_until 20 eval '(( $(worker_field "$ini" "apply down.1" restarts) >= 2 ))'
ok "down: the apply worker's log names 127.0.0.1:$down_port" \
	wait_until 5 grep -q "127\.0\.0\.1:$down_port" "$logdir/apply-down-1.log"
like "$(grep "127\.0\.0\.1:$down_port" "$logdir/apply-down-1.log" | tail -n 1)" \
	'unreachable|refused|could not connect|not reachable|cannot connect' \
	"down: the log says the server cannot be reached"
ok "down: the source-only capture worker is ready meanwhile" \
	wait_until 10 eval '[[ $(worker_field "$ini" "capture down" state) == ready ]]'
ok "down: a server comes up on that port" start_pg late "$down_port"
ok "down: the workers reach ready once it is there" wait_until 20 all_ready "$ini" down
isnt "$(task_field "$ini" down phase)" error "down: the task never went to error"

ok "ferryd still answers" test "$(jq_status "$ini" .ferryd.pid)" = "$FERRYD_PID"
status_worker_pids "$ini" >/dev/null
stop_ferryd "$ini"
is "$?" 0 "ferryd stops with exit 0 after SIGTERM"
ok "no worker is left" wait_until 5 no_worker_left

done_testing
