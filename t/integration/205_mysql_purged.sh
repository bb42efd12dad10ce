#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq strings are single-quoted on purpose
# A MySQL/MariaDB source whose binlog moved on without ferry: while ferryd is down the
# source purges the binlog file holding the position the task resumes from. The task
# must stop with one clear, fatal error naming the missing GTID state and file and what
# to do; it is not retried, nothing is skipped silently, the stored position is kept,
# and the rows the target already holds stay as they were.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_mariadb src || BAIL_OUT "cannot start MariaDB"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

my() { my_sql src "$*"; }
my "CREATE TABLE t (id int PRIMARY KEY, v varchar(20));
    INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_100" >/dev/null || BAIL_OUT "cannot create the source table"

ini=$TEST_TMP/purged.ini
write_ferry_ini "$ini" restart_delay=200ms restart_delay_max=1s
ini_endpoint "$ini" mysrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" mig mysrc pgdst apply_workers=1 target_table_prep=drop create_tables=yes
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

target_rows() { pg_sql dst "SELECT count(*) FROM app.t"; }
synced() {
	[[ $(task_field "$ini" mig phase) == cdc && $(task_field "$ini" mig lag_bytes) == 0 && $(target_rows) == "$1" ]]
}
stored_position() { pg_sql dst "SELECT position FROM ferry.source_position WHERE task = 'mig'"; }

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
my "INSERT INTO t VALUES (101, 'cdc')" >/dev/null
ok "the full load and a first change arrive" wait_until 60 synced 101
position=$(stored_position)
ok "a stream position is stored" test -n "$position"
stop_ferryd "$ini"
is "$?" 0 "ferryd stops"

# While ferryd is down: changes the task has not read, then the file holding them purged.
my "INSERT INTO t VALUES (102, 'lost'); FLUSH BINARY LOGS; FLUSH BINARY LOGS" >/dev/null
current=$(my "SHOW MASTER STATUS" | cut -f1)
# (the server keeps a file a replica's dump thread still reads until it notices the
# replica gone, so the purge is tried until it takes)
purged() {
	my "PURGE BINARY LOGS TO '$current'" >/dev/null 2>&1
	[[ $(my "SHOW BINARY LOGS" | head -n 1 | cut -f1) == "$current" ]]
}
ok "the source purged every older binlog file" wait_until 30 purged

task_error() { jq_status "$ini" '.tasks[] | select(.name == "mig") | .error // empty'; }
has_error() { [[ -n $(task_error) ]]; }
ok "ferryd starts again" start_ferryd "$ini"
ok "the task stops with an error" wait_until 30 has_error
err=$(task_error)
like "$err" "binlog" "the error is about the binlog"
like "$err" "purged|gone|no longer" "the error says the position is gone"
like "$err" "[Ss]tart the task over" "the error says what to do"
is "$(task_field "$ini" mig phase)" error "the task is in error"
cap=$(worker_pid "$ini" "capture mig")
sleep 3
is "$(worker_pid "$ini" "capture mig")" "$cap" "capture is not restarted in a loop (the error is fatal)"
is "$(stored_position)" "$position" "the stored position is kept"
is "$(target_rows)" 101 "the target keeps what it had, nothing skipped past silently"
# (a MariaDB source stores a GTID state with its position and resumes by it: the error
# names that state, the file:pos it belongs to and the oldest binlog the source has)
like_file "$logdir/capture-mig.log" "GTID state \"[0-9]+-[0-9]+-[0-9]+\" \(binlog binlog\.[0-9]+:[0-9]+\), where the task's stream resumes, is no longer on the source.*oldest binlog it has, binlog\.[0-9]+" \
	"capture's log names the missing GTID state, its file and the oldest binlog"
stop_ferryd "$ini"

# The way out the error gives: forget the stored position, start again: a new full load.
pg_sql dst "DELETE FROM ferry.source_position WHERE task = 'mig'" >/dev/null
ok "ferryd starts after the position is deleted" start_ferryd "$ini"
ok "the task starts over: every row arrives, the purged change too" wait_until 60 synced 102
is "$(pg_sql dst "SELECT v FROM app.t WHERE id = 102")" lost "the change made while the binlog was purged is there"
stop_ferryd "$ini"

done_testing
