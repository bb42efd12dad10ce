#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq strings are single-quoted on purpose
# MariaDB -> PostgreSQL end to end under ferryd: an edge-value table of every mapped
# type (extremes, NULLs, empty values, emoji, 1 MB values) through the full load and
# through CDC, compared value by value with independent queries on each server (each
# renders its own values in one text form); a table without a key, a primary-key
# update, a 100k-row transaction, TRUNCATE, DDL logged, zero dates under
# invalid_values = substitute; SIGKILL of a load worker, of capture and of an apply
# worker; a restart of the source server and of ferryd, both resuming from the stored
# position; a full-load-only task into a renamed schema. Then bad input, each a
# clear error: binlog_format = STATEMENT, a user without REPLICATION SLAVE, an
# unsupported column type.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_mariadb src || BAIL_OUT "cannot start MariaDB"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

my() { my_sql src "SET time_zone = '+00:00', SESSION group_concat_max_len = 1073741824; $*"; }

# ---- the source ------------------------------------------------------------------------------
. "$top_srcdir/t/corpus/mysql_edge.sh"

my "CREATE TABLE edge ($EDGE_COLS);
    INSERT INTO edge VALUES $EDGE_ROWS;
    CREATE TABLE nokey (a int, b varchar(20));
    INSERT INTO nokey SELECT seq % 50, CONCAT('r', seq % 7) FROM seq_1_to_1000;
    CREATE TABLE big (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, k int, pad varchar(64), KEY by_k (k));
    INSERT INTO big (k, pad) SELECT seq % 1000, MD5(seq) FROM seq_1_to_150000;
    CREATE TABLE zd (id int PRIMARY KEY, d date, dt datetime);
    CREATE TABLE gone (id int PRIMARY KEY);
    INSERT INTO gone SELECT seq FROM seq_1_to_10;
    ANALYZE TABLE edge, nokey, big;" >/dev/null || BAIL_OUT "cannot create the source tables"
# zero dates need a permissive sql_mode
my "SET sql_mode = ''; INSERT INTO zd VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2024-05-06', '2024-05-06 07:08:09')" ||
	BAIL_OUT "cannot write zero dates"

# ---- value-by-value comparison: each server renders its own values ---------------------------
# One line per row: the key, then every column in one text form both servers can produce
# (floats as shortest round-trip decimal, times and timestamps in microseconds, bytes in
# hex, NULL as \N); the lines are compared as a whole.
MY_EDGE_EXPR="CONCAT_WS('|', id, IFNULL(i8,'~'), IFNULL(u8,'~'), IFNULL(i16,'~'), IFNULL(u16,'~'),
	IFNULL(i24,'~'), IFNULL(u24,'~'), IFNULL(i32,'~'), IFNULL(u32,'~'), IFNULL(i64,'~'),
	IFNULL(u64,'~'), IF(b IS NULL, '~', IF(b, 'true', 'false')), IFNULL(d65,'~'), IFNULL(d10,'~'),
	IFNULL(CAST(f AS DOUBLE),'~'), IFNULL(g,'~'), IFNULL(LPAD(BIN(b1), 1, '0'),'~'),
	IFNULL(LPAD(BIN(b64), 64, '0'),'~'), IFNULL(c,'~'), IFNULL(MD5(v),'~'), IFNULL(MD5(t),'~'),
	IFNULL(HEX(bn),'~'), IFNULL(HEX(vb),'~'), IFNULL(MD5(HEX(bl)),'~'), IFNULL(e,'~'),
	IFNULL(s,'~'), IFNULL(j,'~'), IFNULL(dt,'~'),
	IFNULL(CAST(TIME_TO_SEC(tm) * 1000000 AS SIGNED),'~'),
	IFNULL(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', dtm),'~'),
	IFNULL(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', ts),'~'), IFNULL(y+0,'~'), IFNULL(CAST(u AS CHAR),'~'),
	IFNULL(MD5(CONVERT(l1 USING utf8mb4)),'~'))"
PG_EDGE_EXPR="concat_ws('|', id, coalesce(i8::text,'~'), coalesce(u8::text,'~'), coalesce(i16::text,'~'),
	coalesce(u16::text,'~'), coalesce(i24::text,'~'), coalesce(u24::text,'~'), coalesce(i32::text,'~'),
	coalesce(u32::text,'~'), coalesce(i64::text,'~'), coalesce(u64::text,'~'), coalesce(b::text,'~'),
	coalesce(d65::text,'~'), coalesce(d10::text,'~'), coalesce(replace(f::float8::text, 'e+', 'e'),'~'),
	coalesce(replace(g::text, 'e+', 'e'),'~'), coalesce(b1::text,'~'), coalesce(b64::text,'~'),
	coalesce(c::text,'~'), coalesce(md5(v),'~'), coalesce(md5(t),'~'), coalesce(upper(encode(bn, 'hex')),'~'),
	coalesce(upper(encode(vb, 'hex')),'~'), coalesce(md5(upper(encode(bl, 'hex'))),'~'), coalesce(e::text,'~'),
	coalesce(array_to_string(s, ','),'~'), coalesce(j::text,'~'), coalesce(dt::text,'~'),
	coalesce(round(extract(epoch FROM tm) * 1000000)::text,'~'),
	coalesce(round(extract(epoch FROM dtm) * 1000000)::text,'~'),
	coalesce(round(extract(epoch FROM ts) * 1000000)::text,'~'), coalesce(y::text,'~'), coalesce(u::text,'~'),
	coalesce(md5(l1),'~'))"
edge_my() { my "SELECT $MY_EDGE_EXPR FROM edge ORDER BY id"; }
edge_pg() { pg_sql dst "SELECT $PG_EDGE_EXPR FROM app.edge ORDER BY id"; }
big_my() { my "SELECT COUNT(*), IFNULL(SUM(id), 0), IFNULL(SUM(k), 0), IFNULL(MD5(GROUP_CONCAT(id, ':', k, ':', pad ORDER BY id SEPARATOR ',')), '-') FROM big"; }
big_pg() { pg_sql dst "SELECT count(*), coalesce(sum(id), 0), coalesce(sum(k), 0), coalesce(md5(string_agg(id || ':' || k || ':' || pad, ',' ORDER BY id)), '-') FROM app.big" | tr '|' '\t'; }
nokey_my() { my "SELECT a, b, COUNT(*) FROM nokey GROUP BY a, b ORDER BY a, b"; }
nokey_pg() { pg_sql dst "SELECT a, b, count(*) FROM app.nokey GROUP BY a, b ORDER BY a, b" | tr '|' '\t'; }
edge_equal() { [[ $(edge_my) == "$(edge_pg)" ]]; }
all_equal() {
	edge_equal && [[ $(big_my) == "$(big_pg)" ]] && [[ $(nokey_my) == "$(nokey_pg)" ]]
}
report_differences() {
	diff <(edge_my) <(edge_pg) | head -n 20 | while IFS= read -r line; do diag "edge: ${line:0:400}"; done
	[[ $(big_my) == "$(big_pg)" ]] || diag "big differs: source $(big_my), target $(big_pg)"
	diff <(nokey_my) <(nokey_pg) | head -n 10 | while IFS= read -r line; do diag "nokey: $line"; done
}

ini=$TEST_TMP/my2pg.ini
write_ferry_ini "$ini" restart_delay=200ms restart_delay_max=2s
ini_endpoint "$ini" mysrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" mig mysrc pgdst load_workers=2 apply_workers=2 partition_rows=15000 commit_rows=500 \
	ring_size=1MB target_table_prep=drop create_tables=yes invalid_values=substitute 'exclude=app.gone'
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

lag_zero() {
	[[ $(task_field "$ini" mig phase) == cdc ]] &&
		[[ $(task_field "$ini" mig lag_bytes) == 0 ]] &&
		[[ $(jq_status "$ini" '[.tasks[] | select(.name == "mig") | .tables[] | select(.state != "in-sync")] | length') == 0 ]]
}
synced() { lag_zero && all_equal; }
in_phase() { [[ $(task_field "$ini" mig phase) == "$1" ]]; }
restarted() { worker_restarted "$ini" "$@"; }  # restarted WORKER OLDPID
# A write load on the source while the task runs: inserts, updates and deletes.
write_load() {  # write_load SECONDS
	local end=$((SECONDS + $1)) i=0
	while ((SECONDS < end)); do
		i=$((i + 1))
		my "INSERT INTO big (k, pad) VALUES ($i, 'load $i'), ($((i + 1)), 'load $i b');
		    UPDATE big SET pad = CONCAT(pad, '+') WHERE id = $((i * 37 % 150000 + 1));
		    DELETE FROM big WHERE id = $((i * 53 % 150000 + 1));
		    UPDATE nokey SET b = CONCAT('u', $i) WHERE a = $((i % 50)) LIMIT 1" >/dev/null 2>&1 || return 1
	done
}

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
write_load 8 &
load_pid=$!
big_loading() {
	[[ $(jq_status "$ini" '.tasks[].tables[] | select(.name == "\"app\".\"big\"") | .state') == loading ]]
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
ok "the task reaches cdc" wait_until 90 in_phase cdc
wait "$load_pid"
ok "after the write load: lag 0 and every value equal (full load + CDC)" wait_until 90 synced || report_differences
is "$(jq_status "$ini" '.tasks[] | select(.name == "mig") | .tables | length')" 4 "status lists the 4 selected tables"
is "$(pg_sql dst "SELECT d::text || ' ' || dt::text FROM app.zd WHERE id = 1")" "-infinity -infinity" \
	"zero dates became the documented substitute"
is "$(jq_status "$ini" '.tasks[].tables[] | select(.name == "\"app\".\"zd\"") | .invalid_values')" 2 \
	"the zero dates are counted in the status"
ok "the invalid values are logged" grep -q "2 invalid values (invalid_values = substitute); the first: column d: DATE value '0000-00-00' written as -infinity" "$logdir"/load-mig-*.log
is "$(pg_sql dst "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'app.edge'::regclass AND attname IN ('u64', 'b', 'tm', 'ts', 'e', 's', 'j') ORDER BY attnum" | tr '\n' ',')" \
	"numeric(20,0),boolean,app.edge_e,text[],jsonb,interval(6),timestamp(3) with time zone," "the target columns have the mapped types"

# ---- CDC of every type, a key update, a big transaction, TRUNCATE, DDL --------------------------
my "INSERT INTO edge SELECT id + 100, i8, u8, i16, u16, i24, u24, i32, u32, i64, u64, b, d65, d10, f, g, b1, b64, c, v,
	t, bn, vb, bl, e, s, j, dt, tm, dtm, ts, y, u, l1 FROM edge WHERE id <= 6;
    UPDATE edge SET id = 1000 WHERE id = 2;
    UPDATE edge SET v = 'changed', bl = NULL, j = '{\"k\": \"v\"}' WHERE id = 105;
    DELETE FROM edge WHERE id = 103;
    INSERT INTO big (k, pad) SELECT seq % 1000, CONCAT('tx ', seq) FROM seq_1_to_100000;
    DELETE FROM nokey WHERE a = 7;
    UPDATE nokey SET b = 'same' WHERE a = 8;
    TRUNCATE TABLE zd;
    CREATE TABLE later (id int);
    ALTER TABLE gone ADD COLUMN x int" >/dev/null || fail "CDC statements on the source"
ok "CDC of every type, a key update, a 100k-row transaction: lag 0 and every value equal" wait_until 90 synced ||
	report_differences
is "$(pg_sql dst "SELECT count(*) FROM app.edge WHERE id IN (2, 1000)")" 1 "the primary-key update moved the row"
is "$(pg_sql dst "SELECT count(*) FROM app.zd")" 0 "TRUNCATE was applied"
like_file "$logdir/capture-mig.log" "DDL in the change stream, not replicated.*CREATE TABLE later" "DDL is detected and logged"
ok "changes were counted" test "$(jq_status "$ini" '[.tasks[].tables[].changes_applied] | add')" -ge 100000

# ---- SIGKILL of capture and of an apply worker mid-CDC ---------------------------------------------
write_load 6 &
load_pid=$!
sleep 1
cap=$(worker_pid "$ini" "capture mig")
remember_worker "$cap"
kill -KILL "$cap"
ok "capture restarts" wait_until 20 restarted "capture mig" "$cap"
sleep 1
ap=$(worker_pid "$ini" "apply mig.1")
remember_worker "$ap"
kill -KILL "$ap"
ok "apply mig.1 restarts" wait_until 20 restarted "apply mig.1" "$ap"
wait "$load_pid"
ok "after the kills: lag 0 and every value equal" wait_until 90 synced || report_differences
isnt "$(task_field "$ini" mig phase)" error "the task is not in error"

# ---- the source server restarts: capture reconnects and resumes where apply needs -------------
restart_source() {  # the same server (data, port, options) stopped and started again
	local pid=${_my_pid[src]} args
	mapfile -d '' args <"/proc/$pid/cmdline"
	kill -TERM "$pid" && _wait_gone "$pid" 30
	wait "$pid" 2>/dev/null
	"${args[@]}" </dev/null >>"${_my_dir[src]}/server.log" 2>&1 &
	_my_pid[src]=$!
	wait_until 60 _my_ready "${_my_dir[src]}" "${_my_pid[src]}"
}
my "INSERT INTO big (k, pad) VALUES (7, 'before the source restart')" >/dev/null
ok "the source server restarts" restart_source
my "INSERT INTO big (k, pad) VALUES (8, 'after the source restart'); UPDATE edge SET v = 'restarted' WHERE id = 101" >/dev/null
ok "after the source restart: lag 0 and every value equal" wait_until 90 synced || report_differences
like_file "$logdir/capture-mig.log" "the binlog stream ended|the binlog cannot be read|connection" \
	"capture saw the source go away"

# ---- ferryd restart: resumes from ferry.source_position, nothing reloaded -----------------------
stop_ferryd "$ini"
is "$?" 0 "ferryd stops"
my "INSERT INTO big (k, pad) VALUES (1, 'while ferryd was down'); UPDATE edge SET i32 = 42 WHERE id = 1" >/dev/null
ok "ferryd starts again" start_ferryd "$ini"
ok "after the restart: the changes made while it was down arrive, every value equal" wait_until 90 synced ||
	report_differences
like_file "$logdir/capture-mig.log" "reading the binlog from GTID [0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)* \(binlog\.[0-9]+:[0-9]+\)" \
	"the stream resumed from a stored position (by its GTID state)"
is "$(grep -c 'new task: the change stream starts' "$logdir/capture-mig.log")" 1 "not as a new task"
stop_ferryd "$ini"

# ---- full load only, into another schema: the task ends by itself ------------------------------
fl=$TEST_TMP/fl.ini
write_ferry_ini "$fl"
ini_endpoint "$fl" mysrc src
ini_endpoint "$fl" pgdst dst
# (a task section takes one include: app.*g* is edge, big and gone)
ini_task "$fl" fl mysrc pgdst migration_type=full-load partition_rows=50000 'include=app.*g*' 'rename_schema=app:copy'
fl_stopped() { [[ $(task_field "$fl" fl phase) == stopped ]]; }
ok "full-load: ferryd starts" start_ferryd "$fl"
ok "full-load: the task stops by itself" wait_until 60 fl_stopped
is "$(pg_sql dst "SELECT $PG_EDGE_EXPR FROM copy.edge ORDER BY id")" "$(edge_my)" "full-load: every value equal in the renamed schema"
is "$(pg_sql dst "SELECT count(*), sum(id) FROM copy.big" | tr '|' ' ')" "$(my "SELECT COUNT(*), SUM(id) FROM big" | tr '\t' ' ')" \
	"full-load: big copied"
is "$(pg_sql dst "SELECT count(*) FROM ferry.source_position WHERE task = 'fl'")" 0 "full-load: no stream position"
stop_ferryd "$fl"

# ---- bad input: each a clear error, nothing migrated ---------------------------------------------
my_sql src "CREATE USER 'norepl'@'%' IDENTIFIED BY 'NoReplPw1'; GRANT SELECT ON app.* TO 'norepl'@'%';
	CREATE TABLE app.geo (id int PRIMARY KEY, g geometry)" >/dev/null
norepl_pw=$TEST_TMP/norepl.pass
(umask 077 && echo NoReplPw1 >"$norepl_pw")
bad=$TEST_TMP/bad.ini
write_ferry_ini "$bad"
ini_endpoint "$bad" mysrc src
ini_endpoint "$bad" norepl src user=norepl "password_file=$norepl_pw"
ini_endpoint "$bad" pgdst dst
ini_task "$bad" geo mysrc pgdst 'include=app.geo'
ini_task "$bad" nr norepl pgdst 'include=app.big'
task_error() { jq_status "$bad" '.tasks[] | select(.name == $t) | .error // empty' --arg t "$1"; }
has_error() { [[ -n $(task_error "$1") ]]; }
ok "ferryd with bad tasks starts" start_ferryd "$bad"
ok "the unsupported type stops its task" wait_until 30 has_error geo
like "$(task_error geo)" "app.geo column g: type geometry has no mapping.*exclude_column" \
	"the error names the column and what to do"
ok "the user without REPLICATION SLAVE stops its task" wait_until 30 has_error nr
like "$(task_error nr)" "user norepl lacks REPLICATION SLAVE.*GRANT REPLICATION SLAVE" "the error names the privilege to grant"
stop_ferryd "$bad"
my_sql src "SET GLOBAL binlog_format = 'STATEMENT'" >/dev/null
stmt=$TEST_TMP/stmt.ini
write_ferry_ini "$stmt"
ini_endpoint "$stmt" mysrc src
ini_endpoint "$stmt" pgdst dst
ini_task "$stmt" st mysrc pgdst 'include=app.big'
ok "ferryd with a STATEMENT-format source starts" start_ferryd "$stmt"
st_error() { jq_status "$stmt" '.tasks[] | select(.name == "st") | .error // empty'; }
st_failed() { [[ -n $(st_error) ]]; }
ok "binlog_format = STATEMENT stops the task" wait_until 30 st_failed
like "$(st_error)" "binlog_format = STATEMENT: ferry needs ROW" "the error says to use ROW"
is "$(pg_sql dst "SELECT count(*) FROM ferry.source_position WHERE task IN ('st', 'nr', 'geo')")" 0 \
	"the refused tasks stored no position"
stop_ferryd "$stmt"
my_sql src "SET GLOBAL binlog_format = 'ROW'" >/dev/null

done_testing
