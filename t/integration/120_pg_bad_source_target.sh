#!/bin/bash
# shellcheck disable=SC2016 # eval strings are single-quoted on purpose
# PostgreSQL -> PostgreSQL tasks that cannot start: a source with wal_level = replica, a
# source user without REPLICATION, a source user without SELECT on a selected table, a
# target table of another shape kept by target_table_prep = nothing, a missing target
# table with create_tables = no. Each puts its task in error with a message that says
# what to change, is not retried, and leaves nothing behind: no replication slot, no
# publication on the source, no bookkeeping schema or table on the target. (A wrong
# password and a closed port are in 050_bad_endpoints.sh.) The good task next to them
# migrates as usual.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"
start_pg rep || BAIL_OUT "cannot start PostgreSQL"
restart_pg rep wal_level=replica || BAIL_OUT "cannot restart PostgreSQL with wal_level = replica"

for s in src rep; do
	pg_sql "$s" "SET ROLE ferry;
		CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));
		INSERT INTO items SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, 1000) g;
		CREATE TABLE secret (id int PRIMARY KEY, v text);
		INSERT INTO secret VALUES (1, 'x');" >/dev/null || BAIL_OUT "cannot create the source tables on $s"
done
# A login that may read items but lacks REPLICATION; one with REPLICATION but no SELECT on secret.
pg_sql src "CREATE ROLE norepl LOGIN PASSWORD '$SRC_PASSWORD';
	GRANT SELECT ON items, secret TO norepl;
	CREATE ROLE noselect LOGIN REPLICATION PASSWORD '$SRC_PASSWORD';
	GRANT SELECT ON items TO noselect;" >/dev/null || BAIL_OUT "cannot create roles"
# Target schemas, one database each, so one task's leftovers cannot hide another's.
for db in d_repl d_norepl d_nosel d_shape d_missing d_filter d_good; do
	pg_sql dst "CREATE DATABASE $db OWNER ferry" >/dev/null || BAIL_OUT "cannot create database $db"
done
PGDATABASE=d_shape pg_sql dst "SET ROLE ferry;
	CREATE TABLE items (id int PRIMARY KEY, name varchar(20), price float8, extra int NOT NULL)" >/dev/null ||
	BAIL_OUT "cannot create the mismatching target table"

ini=$TEST_TMP/bad2.ini
write_ferry_ini "$ini" restart_delay=300ms restart_delay_max=1s crash_loop_max=100 crash_loop_window=1min
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgrep rep
ini_endpoint "$ini" pgnorepl src user=norepl
ini_endpoint "$ini" pgnosel src user=noselect
for db in d_repl d_norepl d_nosel d_shape d_missing d_filter d_good; do
	ini_endpoint "$ini" "t_$db" dst "dbname=$db"
done
sel=("include=public.items" "include=public.secret")
ini_task "$ini" repl pgrep t_d_repl "${sel[@]}"
ini_task "$ini" norepl pgnorepl t_d_norepl "${sel[@]}"
ini_task "$ini" nosel pgnosel t_d_nosel "${sel[@]}"
ini_task "$ini" shape pgsrc t_d_shape "include=public.items" target_table_prep=nothing create_tables=no
ini_task "$ini" missing pgsrc t_d_missing "include=public.items" target_table_prep=truncate create_tables=no
# A row filter on a column outside the replica identity: the source would refuse UPDATE
# and DELETE on items once the publication has it.
ini_task "$ini" filter pgsrc t_d_filter "include=public.items" "filter=public.items: price > 10"
ini_task "$ini" good pgsrc t_d_good "include=public.items"
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"

in_phase() { [[ $(task_field "$ini" "$1" phase) == "$2" ]]; }

# nothing_left TASK SOURCE-SERVER TARGET-DB: no slot, no publication, no ferry schema.
nothing_left() {
	local task=$1 server=$2 db=$3
	is "$(pg_sql "$server" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ferry_$task'")" 0 \
		"$task: no replication slot on the source"
	is "$(pg_sql "$server" "SELECT count(*) FROM pg_publication WHERE pubname = 'ferry_$task'")" 0 \
		"$task: no publication on the source"
	is "$(PGDATABASE=$db pg_sql dst "SELECT count(*) FROM pg_namespace WHERE nspname = 'ferry'")" 0 \
		"$task: no bookkeeping schema on the target"
}

# check_refused TASK SOURCE-SERVER TARGET-DB ERROR-REGEX...: in error, not retried, nothing left.
check_refused() {
	local task=$1 server=$2 db=$3 re err
	shift 3
	ok "$task: the task goes to error" wait_until 30 in_phase "$task" error
	err=$(task_field "$ini" "$task" error)
	for re in "$@"; do
		like "$err" "$re" "$task: the error says $re"
	done
	ok "$task: the error is one line" test "$(printf '%s' "$err" | wc -l)" -eq 0
	is "$(jq_status "$ini" ".tasks[] | select(.name == \"$task\") | [.workers[].restarts] | add")" 0 \
		"$task: no worker was retried"
	nothing_left "$task" "$server" "$db"
}

check_refused repl rep d_repl "wal_level" "logical" "restart"
check_refused norepl src d_norepl "REPLICATION" "norepl"
check_refused nosel src d_nosel "SELECT" "secret"
check_refused shape src d_shape '"public"."items"' "another shape" "target_table_prep = drop"
like_file "$logdir/capture-shape.log" "ERROR .*column extra: only on the target" "shape: the log names every difference"
is "$(PGDATABASE=d_shape pg_sql dst "SELECT count(*) FROM items")" 0 "shape: the target table was left as it was"
check_refused missing src d_missing "Target table \"public\".\"items\" does not exist" "create_tables = no"

check_refused filter src d_filter "filter on public.items" "REPLICA IDENTITY FULL"
ok "filter: the source still takes UPDATE and DELETE on items" \
	pg_sql src "UPDATE items SET price = price WHERE id = 1; DELETE FROM items WHERE id = -1"
ok "good: the task next to them reaches cdc" wait_until 60 in_phase good cdc
good_synced() {
	[[ $(PGDATABASE=d_good pg_sql dst "SELECT count(*) FROM items") == 1000 ]]
}
ok "good: every row is on the target" wait_until 30 good_synced

stop_ferryd "$ini"
is "$?" 0 "ferryd stops"
done_testing
