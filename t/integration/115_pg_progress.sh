#!/bin/bash
# shellcheck disable=SC2016 # SQL text is single-quoted on purpose
# PostgreSQL -> PostgreSQL: rows_loaded moves while one big partition streams, and ends
# exactly at the rows loaded, also after the load worker was killed mid-partition.
#
# The partition is held in the middle by the target itself: a trigger on the target
# table waits for an advisory lock the test holds when it meets one row, so status can
# be read while the copy is certainly under way, however fast the machine is.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

ROWS=600000
GATE_ID=100000
pg_sql src "SET ROLE ferry;
CREATE TABLE big (id bigint PRIMARY KEY, pad text);
INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, $ROWS) g;
ANALYZE big" >/dev/null || BAIL_OUT "cannot create the source table"
pg_sql dst "SET ROLE ferry;
CREATE TABLE big (id bigint PRIMARY KEY, pad text);
CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.id = $GATE_ID THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER gate BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION gate()" >/dev/null ||
	BAIL_OUT "cannot create the target table"

# The gate: closed while this session holds the lock.
PGAPPNAME=gate_keeper pg_sql dst "SELECT pg_advisory_lock(4242); SELECT pg_sleep(600)" >/dev/null 2>&1 &
gate_pid=$!
gate_held() { [[ $(pg_sql dst "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted") == 1 ]]; }
ok "the gate is closed" wait_until 20 gate_held

ini=$TEST_TMP/progress.ini
write_ferry_ini "$ini" restart_delay=3s restart_delay_max=3s
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" prog pgsrc pgdst migration_type=full-load load_workers=1 apply_workers=1 partition_rows=0 \
	target_table_prep=nothing create_tables=no 'include=public.big'
watch_log "$(ferry_log_dir "$ini")"/*.log

table_field() { jq_status "$ini" '.tasks[0].tables[] | select(.name == "\"public\".\"big\"") | .[$f]' --arg f "$1"; }
at_gate() { [[ $(pg_sql dst "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted") -ge 1 ]]; }
moving() { (($(table_field rows_loaded) > 0)); }

ok "ferryd starts" start_ferryd "$ini"
ok "the load reaches the gate in the middle of the table" wait_until 60 at_gate
ok "status shows the rows the partition has sent" wait_until 10 moving
loaded=$(table_field rows_loaded)
ok "rows_loaded $loaded is between 0 and $ROWS while the one partition loads" \
	test "$loaded" -gt 0 -a "$loaded" -lt "$ROWS"
ok "at least the rows before the gate are counted" test "$loaded" -ge $((GATE_ID - 1))
is "$(table_field rows_in_flight)" "$loaded" "none of them committed: all in flight"
is "$(table_field partitions)" 1 "the table is one partition"
is "$(table_field partitions_done)" 0 "no partition done"
is "$(table_field state)" loading "the table is loading"

# A load worker killed mid-partition: its rows were never committed and leave the count
# when ferryd reaps it, before its restart (restart_delay) copies the partition again.
old=$(worker_pid "$ini" "load prog.1")
ok "the load worker is killed mid-partition" kill -KILL "$old"
reaped() { [[ -z $(worker_pid "$ini" "load prog.1") ]]; }
ok "ferryd reaps it" wait_until 10 reaped
is "$(table_field rows_loaded)" 0 "rows_loaded no longer counts the dead worker's $loaded rows"
restarted() { worker_restarted "$ini" "load prog.1" "$old"; }
ok "the load worker restarts" wait_until 30 restarted

# Open the gate: the dead worker's transaction ends, the new copy completes.
pg_sql dst "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gate_keeper'" >/dev/null
wait "$gate_pid" 2>/dev/null
done_loading() { [[ $(task_field "$ini" prog phase) == stopped ]]; }
ok "the full load ends" wait_until 90 done_loading
count=$(pg_sql dst "SELECT count(*) FROM big")
is "$count" "$ROWS" "the target holds every row once"
is "$(table_field rows_loaded)" "$count" "rows_loaded ends equal to the rows loaded"
is "$(table_field rows_in_flight)" 0 "nothing left in flight"
is "$(table_field partitions_done)" 1 "the partition is done"
is "$(pg_sql dst "SELECT rows FROM ferry.load_progress WHERE source_table LIKE '%big%' AND partition = 1")" "$ROWS" \
	"the progress row records the partition's rows"

stop_ferryd "$ini"
done_testing
