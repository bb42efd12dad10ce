#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq strings are single-quoted on purpose
# A MariaDB source's GTIDs: capture keeps the GTID state as it reads and stores, with
# each resume position in ferry.source_position, the state that belongs to that
# position (what the source itself says for that file:pos, BINLOG_GTID_POS), across
# transactions in several replication domains (one of them starting mid-stream). A
# SIGKILL of capture and a restart of ferryd while writes go on resume by GTID, and
# every row arrives exactly once (a keyless insert-only table would show a duplicate;
# counts and sums asked of each server). A position stored by an older ferry (no gtid
# column) resumes by file:position and gets its GTID state from then on. status
# --json's applied_gtid is the source's @@gtid_binlog_pos once the task has drained.
# Then a replica (log_slave_updates: the same GTIDs at other positions) as the source:
# with an apply worker past the stored position the task refuses to move onto it (an
# error that says why); after a switchover of a drained task it moves onto the new
# primary by its GTID state and loses and repeats nothing, also across a restart there.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_mariadb src || BAIL_OUT "cannot start MariaDB"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"
# a replica of src (its binlog has the same GTIDs at other positions): from here on
start_mariadb replica --log-slave-updates || BAIL_OUT "cannot start the replica"
my_sql replica "RESET MASTER; SET GLOBAL gtid_slave_pos = '$(my_sql src 'SELECT @@gtid_binlog_pos')';
	CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $SRC_PORT, MASTER_USER = 'ferry',
	MASTER_PASSWORD = '$SRC_PASSWORD', MASTER_USE_GTID = slave_pos; START SLAVE" || BAIL_OUT "cannot start replication"

srv=src  # the server the task reads (a replica becomes the primary below)
my() { my_sql "$srv" "$*"; }
# MariaDB lists a state's domains in no particular order; ferry sorts them
sorted() { tr ',' '\n' | sort -t- -k1,1n | paste -sd,; }
# ev: one row per write, no key (a change applied twice would be a second row);
# t: keyed rows, inserted and updated.
my "CREATE TABLE ev (dom int NOT NULL, n int NOT NULL);
    CREATE TABLE t (id int PRIMARY KEY, dom int NOT NULL, v int NOT NULL);
    INSERT INTO t SELECT seq, 0, seq FROM seq_1_to_500;
    SET SESSION gtid_domain_id = 1;
    INSERT INTO ev VALUES (1, 0)" >/dev/null || BAIL_OUT "cannot create the source tables"
domains() { my "SELECT @@gtid_binlog_pos" | tr ',' '\n' | grep -c .; }
is "$(domains)" 2 "the source has GTIDs in two domains before the task starts"

ini=$TEST_TMP/gtid.ini
write_ferry_ini "$ini" restart_delay=200ms restart_delay_max=1s
ini_endpoint "$ini" mysrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" mig mysrc pgdst apply_workers=2 commit_rows=50 target_table_prep=drop create_tables=yes
logdir=$(ferry_log_dir "$ini")
caplog=$logdir/capture-mig.log
watch_log "$logdir"/*.log

src_sums() { my "SELECT COUNT(*), SUM(n), SUM(dom) FROM ev; SELECT COUNT(*), SUM(v), SUM(dom) FROM t" | tr '\t\n' '  '; }
dst_sums() {
	pg_sql dst "SELECT count(*), sum(n), sum(dom) FROM app.ev; SELECT count(*), sum(v), sum(dom) FROM app.t" |
		tr '|\n' '  '
}
cfg=$ini  # the configuration ferryd runs with
synced() {
	[[ $(task_field "$cfg" mig phase) == cdc && $(task_field "$cfg" mig lag_bytes) == 0 && $(src_sums) == "$(dst_sums)" ]]
}
# The stored row and what the source says the GTID state is at its file:pos.
stored() { pg_sql dst "SELECT file, position, coalesce(gtid, '') FROM ferry.source_position WHERE task = 'mig'"; }
check_stored() {  # check_stored DESCRIPTION: the stored gtid is the source's at the stored position
	local row file pos gtid want
	row=$(stored)
	IFS='|' read -r file pos gtid <<<"$row"
	want=$(my "SELECT BINLOG_GTID_POS('$file', $((pos % 4294967296)))" | sorted)
	if [[ -n $gtid && $gtid == "$want" ]]; then
		pass "$1"
	else
		fail "$1"
		diag "stored: $row; BINLOG_GTID_POS there: $want"
	fi
}
check_stored_quiet() {  # the stored gtid is the source's at the stored position
	local file pos gtid
	IFS='|' read -r file pos gtid <<<"$(stored)"
	[[ -n $gtid && $gtid == "$(my "SELECT BINLOG_GTID_POS('$file', $((pos % 4294967296)))" | sorted)" ]]
}
applied_is_source_fo() { [[ $(task_field "$fo" mig applied_gtid) == "$(my 'SELECT @@gtid_binlog_pos' | sorted)" ]]; }
# writes N..N+COUNT-1, round robin over domains 0, 1 and 2; each a transaction of its
# own in that domain (domain 2 appears only once the task runs)
writes() {  # writes FROM COUNT [PAUSE]
	local i d
	for ((i = $1; i < $1 + $2; i++)); do
		d=$((i % 3))
		my "SET SESSION gtid_domain_id = $d;
		    BEGIN; INSERT INTO ev VALUES ($d, $i); INSERT INTO t VALUES ($i, $d, $i); COMMIT;
		    UPDATE t SET v = v + 1 WHERE id = $((i % 500 + 1))" >/dev/null || return 1
		[[ -n ${3:-} ]] && sleep "$3"
	done
	return 0
}

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "the full load arrives" wait_until 60 synced
like_file "$caplog" 'new task: the GTID state at the start position is "0-[0-9]+-[0-9]+,1-[0-9]+-[0-9]+"' \
	"the new task takes the GTID state of its start position from the source (both domains)"
check_stored "the stored GTID state is the source's at the stored position (idle)"

# ---- changes in three domains; the stored state follows the position as it moves -----------------
writes 1000 60 0.02 &
writer=$!
mid_ok=0 mid_seen=0 mid_positions=""
for _ in 1 2 3 4 5; do
	sleep 0.5
	row=$(stored)
	IFS='|' read -r file pos gtid <<<"$row"
	want=$(my "SELECT BINLOG_GTID_POS('$file', $((pos % 4294967296)))" | sorted)
	mid_seen=$((mid_seen + 1))
	mid_positions+="$pos "
	if [[ -n $gtid && $gtid == "$want" ]]; then
		mid_ok=$((mid_ok + 1))
	else
		diag "stored $row, source there: $want"
	fi
done
wait "$writer"
is "$mid_ok/$mid_seen" "$mid_seen/$mid_seen" "while writes go on, every stored GTID state is the source's at its position"
ok "the stored position moved while they went on" test "$(tr ' ' '\n' <<<"$mid_positions" | sort -u | grep -c .)" -ge 2
ok "the changes of three domains arrive" wait_until 60 synced
is "$(domains)" 3 "the source now has three domains"
check_stored "the stored GTID state is the source's at the stored position (three domains)"

# ---- SIGKILL of capture, then a ferryd restart, while writes go on --------------------------------
writes 2000 150 &
writer=$!
sleep 1
cap=$(worker_pid "$ini" "capture mig")
remember_worker "$cap"
kill -KILL "$cap"
restarted() { worker_restarted "$ini" "capture mig" "$cap"; }
ok "capture restarts after SIGKILL" wait_until 20 restarted
resumed() { [[ $(grep -c 'reading the binlog from GTID' "$caplog") -ge "$1" ]]; }
ok "the restarted capture resumes by GTID" wait_until 20 resumed 1
sleep 1
stop_ferryd "$ini"
is "$?" 0 "ferryd stops while the writes go on"
ok "ferryd starts again" start_ferryd "$ini"
wait "$writer"
is "$?" 0 "the writes all committed"
ok "after the kill and the restart the task catches up" wait_until 90 synced
ok "ferryd's restart resumed by GTID too" resumed 2
like_file "$caplog" 'the stream resumes by GTID: the state "[0-9-]+(,[0-9-]+)*" stored with position binlog\.[0-9]+:[0-9]+' \
	"the log says why it resumes by GTID"
like_file "$caplog" 'reading the binlog from GTID [0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)* \(binlog\.[0-9]+:[0-9]+\)' \
	"the log names the GTID state and the file:pos it belongs to"
is "$(src_sums)" "$(dst_sums)" "counts and sums equal on both servers"
is "$(pg_sql dst "SELECT count(*) - count(DISTINCT (dom, n)) FROM app.ev")" 0 "no change applied twice (keyless table)"
is "$(pg_sql dst "SELECT count(*) FROM app.ev")" "$(my "SELECT COUNT(*) FROM ev")" "no change lost"
check_stored "after the restarts the stored GTID state is the source's at the stored position"
source_gtid() { my 'SELECT @@gtid_binlog_pos' | sorted; }
applied_is_source() { [[ $(task_field "$ini" mig applied_gtid) == "$(source_gtid)" ]]; }
ok "status applied_gtid is the source's @@gtid_binlog_pos once drained" wait_until 20 applied_is_source ||
	diag "applied_gtid $(task_field "$ini" mig applied_gtid), source $(source_gtid)"
like "$(ferryctl -c "$ini" status)" "applied GTID $(source_gtid)" "the text status shows it"
stop_ferryd "$ini"

# ---- a position stored by an older ferry: no gtid column ---------------------------------------
pg_sql dst "ALTER TABLE ferry.source_position DROP COLUMN gtid" >/dev/null
my "SET SESSION gtid_domain_id = 1; INSERT INTO ev VALUES (1, 5000)" >/dev/null
ok "ferryd starts on an older ferry's table" start_ferryd "$ini"
ok "the change made meanwhile arrives" wait_until 60 synced
like_file "$caplog" 'resumes by binlog file:position binlog\.[0-9]+:[0-9]+: no GTID state is stored with it' \
	"without a stored state it resumes by file:position and says why"
has_gtid() { [[ -n $(stored | cut -d'|' -f3) ]]; }
ok "the gtid column is back and a state is stored again" wait_until 10 has_gtid
check_stored "that state is the source's at the stored position"
stop_ferryd "$ini"

# ---- the source fails over to its replica: positions there are not the task's -------------------
replica_caught_up() { [[ $(my_sql replica 'SELECT @@gtid_slave_pos' | sorted) == "$(source_gtid)" ]]; }
ok "the replica has every transaction of the source" wait_until 30 replica_caught_up
isnt "$(my_sql replica 'SHOW MASTER STATUS' | cut -f2)" "$(my 'SHOW MASTER STATUS' | cut -f2)" \
	"the replica's binlog positions differ from the source's"
fo=$TEST_TMP/failover.ini
write_ferry_ini "$fo" restart_delay=200ms restart_delay_max=1s
ini_endpoint "$fo" mysrc replica
ini_endpoint "$fo" pgdst dst
ini_task "$fo" mig mysrc pgdst apply_workers=2 commit_rows=50 target_table_prep=drop create_tables=yes
fo_log=$(ferry_log_dir "$fo")/capture-mig.log
watch_log "$(ferry_log_dir "$fo")"/*.log
fo_error() { jq_status "$fo" '.tasks[] | select(.name == "mig") | .error // empty'; }
fo_failed() { [[ -n $(fo_error) ]]; }

# An apply worker that committed past the stored position: the GTID state cannot say
# which transactions after it the target has, so the task must not move.
rows_before=$(dst_sums)
pg_sql dst "UPDATE ferry.apply_progress SET position = position + 4294967296 WHERE task = 'mig' AND worker = 1" >/dev/null
ok "ferryd starts against the replica" start_ferryd "$fo"
ok "with a worker past the stored position the task stops with an error" wait_until 30 fo_failed
like "$(fo_error)" "is not a position of this server.*another server.*cannot move onto it: an apply worker committed binlog\.[0-9]+:[0-9]+, past it.*start the task over" \
	"the error says the positions belong to another server, why the task cannot move, and what to do"
is "$(dst_sums)" "$rows_before" "nothing was applied from the replica"
stop_ferryd "$fo"
pg_sql dst "UPDATE ferry.apply_progress SET position = position - 4294967296 WHERE task = 'mig' AND worker = 1" >/dev/null

# A switchover: the task had drained, the replica becomes the primary and takes the
# writes; the task moves onto it by its GTID state and loses and repeats nothing.
my_sql replica "STOP SLAVE; RESET SLAVE ALL" >/dev/null
srv=replica cfg=$fo
ok "ferryd starts against the new primary" start_ferryd "$fo"
writes 3000 30
ok "the writes on the new primary arrive" wait_until 60 synced
like_file "$fo_log" "another server than the one the task read.*the task moves onto this server" "the log says the task moved onto the new server"
like_file "$fo_log" "is not a position of this server: its file has no event boundary there|is not a position of this server: it says the GTID state there is" \
	"and why the stored position is not this server's"
like_file "$fo_log" "reading the binlog from GTID [0-9,-]+ \(a task moved onto this server" "and that it reads after the GTID state"
is "$(src_sums)" "$(dst_sums)" "counts and sums equal on the new primary and the target"
is "$(pg_sql dst "SELECT count(*) - count(DISTINCT (dom, n)) FROM app.ev")" 0 "no change applied twice (keyless table)"
ok "the stored position is the new primary's, with its GTID state there" wait_until 10 check_stored_quiet
stop_ferryd "$fo"
writes 3100 6
ok "ferryd starts again on the new primary" start_ferryd "$fo"
ok "the writes made meanwhile arrive" wait_until 60 synced
is "$(grep -c 'the task moves onto this server' "$fo_log")" 1 "the task moved once"
ok "and resumes by GTID on the new primary" grep -Eq 'reading the binlog from GTID [0-9,-]+ \(binlog\.[0-9]+:[0-9]+\)' "$fo_log"
is "$(pg_sql dst "SELECT count(*) - count(DISTINCT (dom, n)) FROM app.ev")" 0 "still no change applied twice"
ok "applied_gtid is the new primary's @@gtid_binlog_pos" wait_until 20 applied_is_source_fo
stop_ferryd "$fo"

done_testing
