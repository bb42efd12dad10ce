#!/bin/bash
# shellcheck disable=SC2016 # eval strings are single-quoted on purpose
# PostgreSQL -> PostgreSQL end to end under ferryd: full load while pgbench writes, CDC
# until the lag is 0, every table compared with an independent query (md5 of its rows in
# key order, computed by each server); then SIGKILL of capture and of an apply worker
# mid-CDC, still equal at the end; and a full-load-only task that ends by itself.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

# As the ferry role (it owns database app): the publication needs table ownership.
src_sql() { pg_sql src "SET ROLE ferry; $*"; }
pgbench_src() {
	PGPASSWORD=$SRC_PASSWORD "$PG_BIN/pgbench" -h 127.0.0.1 -p "$SRC_PORT" -U ferry "$@" app
}

src_sql "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE varied (
	id bigint PRIMARY KEY, n numeric(20,5), t text, b bytea, ts timestamptz, u uuid, j jsonb,
	arr int[], m mood, flag boolean, d date, f float8,
	doubled bigint GENERATED ALWAYS AS (id * 2) STORED);
INSERT INTO varied (id, n, t, b, ts, u, j, arr, m, flag, d, f)
SELECT g, g * 1.5, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('x', g % 50) END,
	decode(md5(g::text), 'hex'), '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
	md5(g::text)::uuid, jsonb_build_object('g', g, 'a', ARRAY[g, g + 1]), ARRAY[g, NULL, 3],
	(ARRAY['sad','ok','happy'])[1 + g % 3]::mood, g % 2 = 0, DATE '2020-01-01' + g, g / 3.0
FROM generate_series(1, 3000) g;
INSERT INTO varied (id, t) VALUES (100000, repeat('long text ', 2000));
CREATE TABLE \"Odd Name\" (\"Key\" int PRIMARY KEY, \"vAl ü\" text);
INSERT INTO \"Odd Name\" SELECT g, 'v' || g FROM generate_series(1, 500) g;
CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
INSERT INTO nokey SELECT g % 100, 'r' || g FROM generate_series(1, 1000) g;
CREATE TABLE big (id bigint PRIMARY KEY, pad text);
INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 400000) g;
" >/dev/null || BAIL_OUT "cannot create the source tables"
pgbench_src -i -s 1 -q >/dev/null 2>&1 || BAIL_OUT "pgbench -i failed"
src_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" >/dev/null
pg_sql src "ANALYZE" >/dev/null

ini=$TEST_TMP/pg2pg.ini
write_ferry_ini "$ini" restart_delay=200ms restart_delay_max=2s
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
# partition_rows splits pgbench_accounts (100k rows) into key ranges.
ini_task "$ini" mig pgsrc pgdst load_workers=2 apply_workers=2 partition_rows=30000 commit_rows=500 \
	ring_size=1MB target_table_prep=drop create_tables=yes 'include=public.*'
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

# Independent comparison: per table, md5 of its rows as text in key order, on each side.
table_md5() {  # table_md5 SERVER TABLE
	pg_sql "$1" "SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-')
	             FROM (SELECT * FROM $2) r"
}
tables_equal() {
	local t
	for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history varied '"Odd Name"' nokey big; do
		[[ $(table_md5 src "$t") == "$(table_md5 dst "$t")" ]] || return 1
	done
}
report_differences() {
	local t
	for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history varied '"Odd Name"' nokey big; do
		local a b
		a=$(table_md5 src "$t")
		b=$(table_md5 dst "$t")
		[[ $a == "$b" ]] || diag "$t differs: source $a, target $b"
	done
}
lag_zero() {
	[[ $(task_field "$ini" mig phase) == cdc ]] &&
		[[ $(task_field "$ini" mig lag_bytes) == 0 ]] &&
		[[ $(jq_status "$ini" '[.tasks[] | select(.name == "mig") | .tables[] | select(.state != "in-sync")] | length') == 0 ]]
}
# Caught up and equal; tables are compared again until equal (the lag is read first).
synced() { lag_zero && tables_equal; }

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
# Writes during the whole full load and the start of CDC.
pgbench_src -n -c 2 -T 10 >/dev/null 2>&1 &
bench_pid=$!
# SIGKILL of a load worker while big loads: the restarted one loads the rest under a
# fresh snapshot and apply runs big idempotently up to where that load finished.
big_loading() {
	[[ $(jq_status "$ini" '.tasks[].tables[] | select(.name == "\"public\".\"big\"") | .state') == loading ]]
}
wait_until 30 big_loading
victim=$(worker_pid "$ini" "load mig.1")
if [[ -n $victim ]]; then
	remember_worker "$victim"
	kill -KILL "$victim"
	pass "load mig.1 killed while big was loading"
else
	skip 1 "load mig.1 had finished before it could be killed"
fi
src_sql "UPDATE big SET pad = 'changed' WHERE id % 1000 = 0; DELETE FROM big WHERE id % 997 = 0" >/dev/null
src_sql "UPDATE varied SET n = n + 1 WHERE id % 10 = 0; DELETE FROM nokey WHERE a = 5;
         UPDATE nokey SET b = b || '!' WHERE a = 6; UPDATE \"Odd Name\" SET \"Key\" = \"Key\" + 1000 WHERE \"Key\" <= 10;
         UPDATE varied SET n = 0 WHERE id = 100000" >/dev/null
in_phase() { [[ $(task_field "$1" "$2" phase) == "$3" ]]; }
# restarted WORKER OLDPID: the worker runs again under another pid.
restarted() { worker_restarted "$ini" "$@"; }  # restarted WORKER OLDPID
ok "the task reaches cdc" wait_until 60 in_phase "$ini" mig cdc
is "$(jq_status "$ini" '.tasks[] | select(.name == "mig") | .tables | length')" 8 "status lists the 8 tables"
wait "$bench_pid"
ok "after pgbench stops, lag 0 and every table equal" wait_until 60 synced || report_differences
is "$(jq_status "$ini" '.tasks[] | select(.name == "mig") | .tables[] | select(.name == "\"public\".\"pgbench_accounts\"") | .rows_loaded')" \
	100000 "pgbench_accounts: 100000 rows loaded"
ok "changes were applied" test "$(jq_status "$ini" '[.tasks[].tables[].changes_applied] | add')" -gt 0
like "$(ferryctl -c "$ini" status)" "pgbench_accounts\" +in-sync" "text status shows the tables"
is "$(pg_sql dst "SELECT doubled FROM varied WHERE id = 21")" 42 "the generated column is computed on the target"

# --- SIGKILL of capture and of an apply worker mid-CDC ----------------------------------
pgbench_src -n -c 2 -T 8 >/dev/null 2>&1 &
bench_pid=$!
sleep 2
cap=$(worker_pid "$ini" "capture mig")
remember_worker "$cap"
kill -KILL "$cap"
ok "capture restarts" wait_until 20 restarted "capture mig" "$cap"
sleep 2
ap=$(worker_pid "$ini" "apply mig.1")
remember_worker "$ap"
kill -KILL "$ap"
ok "apply mig.1 restarts" wait_until 20 restarted "apply mig.1" "$ap"
wait "$bench_pid"
ok "after the kills: lag 0 and every table equal" wait_until 60 synced || report_differences
isnt "$(task_field "$ini" mig phase)" error "the task is not in error"

# --- ferryd restart: the task resumes from the slot and the progress rows ---------------
stop_ferryd "$ini"
is "$?" 0 "ferryd stops"
pgbench_src -n -c 2 -t 300 >/dev/null 2>&1  # written while ferry is down
ok "ferryd starts again" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "after the restart: lag 0 and every table equal" wait_until 60 synced || report_differences
like_file "$logdir/capture-mig.log" "slot ferry_mig exists" "the restart reused the slot"
is "$(jq_status "$ini" '.tasks[] | select(.name == "mig") | .tables[] | select(.name == "\"public\".\"pgbench_accounts\"") | .rows_loaded')" \
	100000 "nothing was reloaded (rows_loaded from the target's progress rows)"

# --- a change the target refuses stops the task, naming table, key and position -------
pg_sql dst 'ALTER TABLE "Odd Name" ADD CONSTRAINT no_boom CHECK ("vAl ü" <> '"'boom'"')' >/dev/null
src_sql "INSERT INTO \"Odd Name\" VALUES (424242, 'boom')" >/dev/null
ok "a refused change puts the task in error" wait_until 30 in_phase "$ini" mig error
like "$(task_field "$ini" mig error)" 'Odd Name.*424242' "the task's error names the table and the key"
is "$(pg_sql dst 'SELECT count(*) FROM "Odd Name" WHERE "Key" = 424242')" 0 "the refused row is not on the target"
odd='.tasks[] | select(.name == "mig") | .tables[] | select(.name == "\"public\".\"Odd Name\"")'
is "$(jq_status "$ini" "$odd | .state")" error "status puts the refused table in error"
like "$(jq_status "$ini" "$odd | .error")" 'no_boom' "the table's error names the violated constraint"
stop_ferryd "$ini"

# --- full-load only ------------------------------------------------------------------------
pg_sql dst "DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION ferry; DROP SCHEMA ferry CASCADE" >/dev/null
ini2=$TEST_TMP/fl.ini
write_ferry_ini "$ini2"
ini_endpoint "$ini2" pgsrc src
ini_endpoint "$ini2" pgdst dst
ini_task "$ini2" fl pgsrc pgdst load_workers=2 apply_workers=1 migration_type=full-load partition_rows=30000
ok "full-load: ferryd starts" start_ferryd "$ini2" || BAIL_OUT "ferryd did not start"
ok "full-load: the task stops by itself" wait_until 60 in_phase "$ini2" fl stopped
ok "full-load: every table equal" tables_equal || report_differences
is "$(pg_sql src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ferry_fl'")" 0 "full-load: no slot"
stop_ferryd "$ini2"

# --- cdc only: the target has the rows already; changes from now on --------------------
ini3=$TEST_TMP/cdc.ini
write_ferry_ini "$ini3"
ini_endpoint "$ini3" pgsrc src
ini_endpoint "$ini3" pgdst dst
ini_task "$ini3" cdc pgsrc pgdst apply_workers=2 migration_type=cdc target_table_prep=nothing create_tables=no
ok "cdc: ferryd starts" start_ferryd "$ini3" || BAIL_OUT "ferryd did not start"
ok "cdc: the task streams" wait_until 30 in_phase "$ini3" cdc cdc
cdc_synced() {
	[[ $(task_field "$ini3" cdc lag_bytes) == 0 ]] && tables_equal
}
wait_until 20 eval '[[ $(jq_status "$ini3" ".tasks[0].workers[0].state") == running ]]'
pgbench_src -n -c 2 -t 100 >/dev/null 2>&1
ok "cdc: lag 0 and every table equal" wait_until 60 cdc_synced || report_differences
stop_ferryd "$ini3"

done_testing
