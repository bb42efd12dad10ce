#!/bin/bash
# shellcheck disable=SC2016 # eval strings are single-quoted on purpose
# PostgreSQL -> PostgreSQL change cases under ferryd, each compared with an independent
# query after the stream drains: an UPDATE that leaves TOASTed columns unchanged (their
# target values must stay, never a placeholder), a partitioned table (migrated as its
# parent, rows moving between partitions), primary-key updates, TRUNCATE, one
# transaction updating 1M rows, a row filter (full load and CDC: rows outside it never
# reach the target) (capture and apply memory stays bounded), then a restart
# of the source server and of the target server while changes go on.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

src_sql() { pg_sql src "SET ROLE ferry; $*"; }
src_sql "
CREATE TABLE toasty (id int PRIMARY KEY, small int, doc text, blob bytea);
ALTER TABLE toasty ALTER doc SET STORAGE EXTERNAL, ALTER blob SET STORAGE EXTERNAL;
INSERT INTO toasty SELECT g, g,
	(SELECT string_agg(md5(g::text || '-' || i::text), '') FROM generate_series(1, 400) i),
	(SELECT decode(string_agg(md5(i::text || '/' || g::text), ''), 'hex') FROM generate_series(1, 400) i)
FROM generate_series(1, 40) g;
CREATE TABLE parted (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu');
CREATE TABLE parted_us PARTITION OF parted FOR VALUES IN ('us');
INSERT INTO parted SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 2000) g;
CREATE TABLE keyed (id int PRIMARY KEY, v text UNIQUE);
INSERT INTO keyed SELECT g, 'k' || g FROM generate_series(1, 1000) g;
CREATE TABLE trunc_me (id int PRIMARY KEY, v text);
INSERT INTO trunc_me SELECT g, 't' || g FROM generate_series(1, 500) g;
CREATE TABLE filtered (id int PRIMARY KEY, v text);
INSERT INTO filtered SELECT g, 'f' || g FROM generate_series(1, 1000) g;
CREATE TABLE fixed (id int PRIMARY KEY, c char(6), b bit(10), vb varbit(12), n numeric(8,3));
INSERT INTO fixed SELECT g, 'c' || g % 10, B'0000000001', B'1', g / 7.0 FROM generate_series(1, 1000) g;
CREATE TABLE huge (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO huge SELECT g, 0 FROM generate_series(1, 1000000) g;
ANALYZE;
" >/dev/null || BAIL_OUT "cannot create the source tables"
ok "toasty's values live out of line (TOAST)" \
	test "$(pg_sql src "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'toasty'")" -gt 500000

ring_mb=4
ini=$TEST_TMP/cases.ini
write_ferry_ini "$ini"
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" cases pgsrc pgdst load_workers=2 apply_workers=2 "ring_size=${ring_mb}MB" 'include=public.*' \
	'filter=public.filtered: id % 2 = 0'
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

tables=(toasty parted keyed trunc_me huge filtered fixed)
table_md5() {  # table_md5 SERVER TABLE
	local where=""
	[[ $1 == src && $2 == filtered ]] && where="WHERE id % 2 = 0"
	pg_sql "$1" "SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-')
	             FROM (SELECT * FROM $2 $where) r"
}
tables_equal() {
	local t
	for t in "${tables[@]}"; do
		[[ $(table_md5 src "$t") == "$(table_md5 dst "$t")" ]] || return 1
	done
}
report_differences() {
	local t a b
	for t in "${tables[@]}"; do
		a=$(table_md5 src "$t")
		b=$(table_md5 dst "$t")
		[[ $a == "$b" ]] || diag "$t differs: source $a, target $b"
	done
}
in_phase() { [[ $(task_field "$ini" cases phase) == "$1" ]]; }
# Drained: the target committed everything up to the source's current position.
drained() {
	local want
	want=$(pg_sql src "SELECT pg_current_wal_lsn() - '0/0'")
	in_phase cdc && (($(task_field "$ini" cases applied_position) >= want))
}
synced() { drained && tables_equal; }

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "the task reaches cdc" wait_until 90 in_phase cdc
all_in_sync() {
	[[ $(jq_status "$ini" '[.tasks[].tables[] | select(.state != "in-sync")] | length') == 0 ]]
}
ok "every table is in sync" wait_until 60 all_in_sync
is "$(pg_sql dst "SELECT count(*) FROM filtered")" 500 "filtered: the full load took the rows inside the filter"
is "$(jq_status "$ini" '.tasks[].tables | length')" 7 "the partitioned table is one table (its parent)"
is "$(jq_status "$ini" '.tasks[].tables[] | select(.name == "\"public\".\"parted\"") | .rows_loaded')" 2000 \
	"parted: its partitions' rows loaded as the parent's"
is "$(pg_sql dst "SELECT count(*) FROM pg_inherits WHERE inhparent = 'parted'::regclass")" 2 \
	"parted: the target has its partitions"

# --- the changes --------------------------------------------------------------------------
src_sql "UPDATE toasty SET small = small + 1000" >/dev/null
src_sql "UPDATE parted SET v = v + 1 WHERE id % 10 = 0;
	UPDATE parted SET region = 'us' WHERE id IN (2, 4, 6);
	DELETE FROM parted WHERE id BETWEEN 100 AND 120;
	INSERT INTO parted VALUES (5001, 'eu', 1), (5002, 'us', 2)" >/dev/null
src_sql "UPDATE keyed SET id = id + 100000 WHERE id <= 100;
	UPDATE keyed SET id = -id, v = v || '!' WHERE id BETWEEN 500 AND 510;
	UPDATE keyed SET v = 'k' || id WHERE id = -505" >/dev/null
src_sql "INSERT INTO filtered SELECT g, 'new' FROM generate_series(1001, 1100) g;
	UPDATE filtered SET v = v || '*' WHERE id <= 100; DELETE FROM filtered WHERE id BETWEEN 200 AND 219" >/dev/null
src_sql "TRUNCATE trunc_me; INSERT INTO trunc_me VALUES (1, 'after the truncate')" >/dev/null
ok "one transaction updates 1M rows" src_sql "UPDATE huge SET v = v + 1"
# Multi-row UPDATEs of types with a length: the values must reach their columns whole.
src_sql "UPDATE fixed SET c = 'abcdef', b = B'1010101010', vb = B'110011001100', n = n + 0.001 WHERE id <= 600" >/dev/null
ok "the stream drains and every table is equal" wait_until 120 synced || report_differences
is "$(pg_sql dst "SELECT count(*) FROM toasty WHERE small > 1000 AND length(doc) = 12800 AND length(blob) = 6400")" 40 \
	"toasty: unchanged TOASTed values stayed as they were"
is "$(pg_sql dst "SELECT count(*) FROM filtered WHERE id % 2 = 1")" 0 "filtered: no change outside the filter arrived"
is "$(pg_sql dst "SELECT count(*) FROM keyed WHERE id > 100000")" 100 "keyed: the key updates moved the rows"
is "$(pg_sql dst "SELECT string_agg(v, ',') FROM trunc_me")" "after the truncate" "trunc_me: truncated, then the new row"
is "$(pg_sql dst "SELECT count(*) FROM huge WHERE v = 1")" 1000000 "huge: every row of the 1M-row transaction"
is "$(pg_sql dst "SELECT count(*) FROM fixed WHERE c = 'abcdef' AND b = B'1010101010' AND vb = B'110011001100'")" 600 \
	"fixed: char(6), bit(10) and varbit values updated in batches arrive whole"
is "$(jq_status "$ini" '.tasks[].tables[] | select(.name == "\"public\".\"huge\"") | .changes_by_op.update')" 1000000 \
	"huge: status counts 1M updates"
ok "trunc_me: status counts the truncate" \
	test "$(jq_status "$ini" '.tasks[].tables[] | select(.name == "\"public\".\"trunc_me\"") | .changes_by_op.truncate')" -ge 1

# Peak memory of the streaming workers through the 1M-row transaction: bounded by the ring,
# not by the transaction (VmHWM includes the touched shared memory).
limit_kb=$(((ring_mb + 64) * 1024))
for w in "capture cases" "apply cases.1" "apply cases.2"; do
	pid=$(worker_pid "$ini" "$w")
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	ok "$w: peak RSS ${hwm:-?} kB <= ring_size + 64 MB ($limit_kb kB)" test "${hwm:-999999999}" -le "$limit_kb"
done

# --- the source restarts while changes go on ----------------------------------------------
cap=$(worker_pid "$ini" "capture cases")
src_sql "UPDATE keyed SET v = v || '+' WHERE id % 7 = 0" >/dev/null
ok "the source server restarts" restart_pg src
src_sql "INSERT INTO trunc_me SELECT g, 'post-restart' FROM generate_series(2, 300) g;
	UPDATE parted SET v = -v WHERE id % 3 = 0" >/dev/null
ok "after the source restart: drained and every table equal" wait_until 60 synced || report_differences
isnt "$(worker_pid "$ini" "capture cases")" "$cap" "capture reconnected as a new process"
like_file "$logdir/supervisor.log" "capture cases.*(exited with exit code 1|transient)" \
	"the lost source was a transient exit"

# --- the target restarts while changes go on ----------------------------------------------
ok "the target server restarts" restart_pg dst
src_sql "DELETE FROM huge WHERE id % 1000 = 0; UPDATE toasty SET small = 0 WHERE id < 10" >/dev/null
ok "after the target restart: drained and every table equal" wait_until 60 synced || report_differences
isnt "$(task_field "$ini" cases phase)" error "the task never went to error"

stop_ferryd "$ini"
is "$?" 0 "ferryd stops"
done_testing
