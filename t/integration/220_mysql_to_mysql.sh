#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq strings are single-quoted on purpose
# MariaDB -> MariaDB end to end under ferryd: the tables created as the source declares
# them (column types, charsets and collations, NOT NULL, defaults, ON UPDATE,
# AUTO_INCREMENT, keys, secondary indexes, JSON's check), an edge-value table of every MySQL type (extremes, NULLs, empty
# values, emoji, 1 MB values) through the full load and through CDC, compared row by row
# with the same query on both servers, zero and partial dates included; sysbench oltp_write_only writing during the load
# and the start of CDC; SIGKILL of capture and of an apply worker mid-run; a table
# without a key, a primary-key update, a 100k-row transaction; a ferryd restart that
# resumes from the position stored on the target.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries
command -v sysbench >/dev/null || skip_all "sysbench is not installed (contrib/install-deps.sh installs it)"

start_mariadb src || BAIL_OUT "cannot start the source MariaDB"
start_mariadb dst || BAIL_OUT "cannot start the target MariaDB"
_my_admin dst "GRANT ALL ON ferry.* TO 'ferry'@'%'" || BAIL_OUT "cannot grant on the target"

my() { my_sql src "SET time_zone = '+00:00', SESSION group_concat_max_len = 1073741824; $*"; }
dst() { my_sql dst "SET time_zone = '+00:00', SESSION group_concat_max_len = 1073741824; $*"; }

# ---- the source ------------------------------------------------------------------------------
EDGE_COLS="id int NOT NULL AUTO_INCREMENT PRIMARY KEY, i8 tinyint, u8 tinyint unsigned, i16 smallint,
	u16 smallint unsigned, i24 mediumint, u24 mediumint unsigned, i32 int, u32 int unsigned, i64 bigint,
	u64 bigint unsigned, b tinyint(1), d65 decimal(65,30), d10 decimal(10,2) NOT NULL DEFAULT 1.50, f float,
	g double, b1 bit(1), b9 bit(9) DEFAULT b'101', b64 bit(64), c char(10) COLLATE utf8mb4_bin,
	v varchar(300) NOT NULL DEFAULT 'it''s', t longtext, bn binary(4), vb varbinary(16), bl longblob,
	e enum('a','b c','\xc3\xa9') DEFAULT 'b c', s set('x','y z','w'), j json, dt date DEFAULT '2000-01-01',
	tm time(6), dtm datetime(6) DEFAULT current_timestamp(6), ts timestamp(6) NULL, y year,
	l1 varchar(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci,
	KEY by_v (v(20)), UNIQUE KEY by_i32_id (i32, id), KEY by_dt (dt DESC)"
# ids 1..6: extremes, the other extremes, zero/empty values, NULLs, emoji, 1 MB values
EDGE_ROWS="
(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808,
 18446744073709551615, 5, -0.000000000000000000000000000001, -99999999.99, 3.4028234663852886e38,
 -1.7976931348623157e308, b'1', b'111111111', b'1111111111111111111111111111111111111111111111111111111111111111',
 'char', 'tab\there\nnewline \\\\\\\\ back it''s', 'longtext', 'ab', 0x00ff00, 0x00, 'b c', 'x,w',
 '{\"a\": [1, 2.5, null]}', '1000-01-01', '-838:59:59.000000', '9999-12-31 23:59:59.999999',
 '2038-01-19 03:14:07.999999', 2155, 'caf\xc3\xa9'),
(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, -1,
 99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99, -1.17549e-38,
 4.9406564584124654e-324, b'0', b'0', b'0', 'x', 'y', 'z', 'abcd', 0xdeadbeef, 0xdeadbeef, 'a', 'x,y z,w',
 '[]', '9999-12-31', '838:59:59', '1000-01-01 00:00:00', '1970-01-01 00:00:01', 1901, ''),
(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', b'0', b'0', '', '', '', '', '', '', '\xc3\xa9', '', '{}',
 '2024-02-29', '-00:00:00.000001', '2024-02-29 00:00:00', '2001-02-03 04:05:06', 0, 'x'),
(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL,
 NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.5, 1.5, 0.1, 0.1, b'1', b'101', b'101', '\xf0\x9f\x98\x80',
 REPEAT('\xf0\x9f\x98\x80', 300), CONCAT('emoji \xf0\x9f\x98\x80 ', REPEAT('\xc3\xbc', 1000)), 'a', 'b', 'c', 'a', 'x',
 '\"\xf0\x9f\x98\x80\"', '2000-01-01', '123:34:56.789', '2000-01-01 12:34:56.789', '2000-01-01 12:34:56.789', 2000,
 'abc'),
(6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2, NULL, NULL, NULL, NULL, NULL,
 NULL, 'm', REPEAT('m', 1048576), NULL, NULL, REPEAT(0xab, 1048576), NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL)"
EDGE_ROWS=$(printf "%b" "$EDGE_ROWS")
EDGE_COLS=$(printf "%b" "$EDGE_COLS")
EDGE_LIST="i8, u8, i16, u16, i24, u24, i32, u32, i64, u64, b, d65, d10, f, g, b1, b9, b64, c, v, t, bn, vb, bl, e, s,
	j, dt, tm, dtm, ts, y, l1"

my "CREATE TABLE edge ($EDGE_COLS);
    INSERT INTO edge VALUES $EDGE_ROWS;
    INSERT INTO edge (id, d10) VALUES (7, 3);
    CREATE TABLE nokey (a int, b varchar(20));
    INSERT INTO nokey SELECT seq % 50, CONCAT('r', seq % 7) FROM seq_1_to_1000;
    CREATE TABLE bulk (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, k int NOT NULL, pad char(60));
    CREATE TABLE zd (id int PRIMARY KEY, d date, dt datetime(6), ts timestamp NULL ON UPDATE current_timestamp());
    ANALYZE TABLE edge, nokey;" >/dev/null || BAIL_OUT "cannot create the source tables"
# zero and partial dates need a permissive sql_mode; MySQL holds them, so they go over as they are
my "SET sql_mode = ''; INSERT INTO zd VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
    (2, '2024-00-10', '2024-05-00 01:02:03.5', NULL), (3, '2024-05-06', '2024-05-06 07:08:09', '2024-05-06 07:08:09')" ||
	BAIL_OUT "cannot write zero dates"
SB=(sysbench oltp_write_only --db-driver=mysql --mysql-socket="$SRC_SOCKDIR/sock" --mysql-user=root
	--mysql-db=app --tables=2 --table-size=10000 --threads=2 --rand-seed=42)
"${SB[@]}" prepare >"$TEST_TMP/sysbench-prepare.log" 2>&1 || BAIL_OUT "sysbench prepare failed: $(tail -n 5 "$TEST_TMP/sysbench-prepare.log")"
my "ANALYZE TABLE sbtest1, sbtest2" >/dev/null

# ---- comparison: the same query on both servers, row by row ---------------------------------
# One line per row: the key and every column in an exact text (floats as doubles, bits,
# binary strings and latin1 text in hex, big values as digests, NULL as ~).
EDGE_EXPR="CONCAT_WS('|', id, IFNULL(i8,'~'), IFNULL(u8,'~'), IFNULL(i16,'~'), IFNULL(u16,'~'), IFNULL(i24,'~'),
	IFNULL(u24,'~'), IFNULL(i32,'~'), IFNULL(u32,'~'), IFNULL(i64,'~'), IFNULL(u64,'~'), IFNULL(b,'~'),
	IFNULL(d65,'~'), IFNULL(d10,'~'), IFNULL(CAST(f AS DOUBLE),'~'), IFNULL(g,'~'), IFNULL(HEX(b1),'~'),
	IFNULL(HEX(b9),'~'), IFNULL(HEX(b64),'~'), IFNULL(HEX(c),'~'), IFNULL(MD5(v),'~'), IFNULL(MD5(t),'~'),
	IFNULL(HEX(bn),'~'), IFNULL(HEX(vb),'~'), IFNULL(MD5(bl),'~'), IFNULL(e,'~'), IFNULL(s,'~'),
	IFNULL(HEX(j),'~'), IFNULL(dt,'~'), IFNULL(tm,'~'), IFNULL(dtm,'~'), IFNULL(ts,'~'), IFNULL(y,'~'),
	IFNULL(HEX(l1),'~'))"
edge_rows() { "$1" "SELECT $EDGE_EXPR FROM app.edge ORDER BY id"; }
sb_sum() {  # sb_sum TABLE: the query
	echo "SELECT '$1', COUNT(*), IFNULL(MD5(GROUP_CONCAT(id, ':', k, ':', c, ':', pad ORDER BY id SEPARATOR ',')), '-') FROM app.$1;"
}
CONTENT_SQL="SELECT $EDGE_EXPR FROM app.edge ORDER BY id;
	$(sb_sum sbtest1) $(sb_sum sbtest2)
	SELECT 'bulk', COUNT(*), IFNULL(SUM(id), 0), IFNULL(SUM(k), 0), IFNULL(MD5(GROUP_CONCAT(id, k, pad ORDER BY id)), '-') FROM app.bulk;
	SELECT 'nokey', a, b, COUNT(*) FROM app.nokey GROUP BY a, b ORDER BY a, b;
	SELECT 'zd', id, IFNULL(CAST(d AS CHAR), '~'), IFNULL(CAST(dt AS CHAR), '~'), IFNULL(CAST(ts AS CHAR), '~') FROM app.zd ORDER BY id"
content() { "$1" "$CONTENT_SQL"; }  # every table, one client call per server
all_equal() { [[ $(content my) == "$(content dst)" ]]; }
report_differences() {
	diff <(content my) <(content dst) | head -n 30 | while IFS= read -r line; do diag "${line:0:400}"; done
}

# (the comparison sees every row: 7 edge rows, 2 sysbench sums, bulk, 50+ nokey groups, 3 zd rows)
ok "the comparison covers the source's rows" test "$(content my | wc -l)" -ge 60

ini=$TEST_TMP/my2my.ini
write_ferry_ini "$ini" restart_delay=200ms restart_delay_max=2s
ini_endpoint "$ini" mysrc src
ini_endpoint "$ini" mydst dst
ini_task "$ini" mig mysrc mydst load_workers=2 apply_workers=2 partition_rows=4000 commit_rows=500 \
	ring_size=1MB target_table_prep=drop create_tables=yes
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

lag_zero() {  # one status call: phase cdc, no lag, every table in sync
	[[ $(jq_status "$ini" '.tasks[] | select(.name == "mig") |
		"\(.phase) \(.lag_bytes) \([.tables[] | select(.state != "in-sync")] | length)"') == "cdc 0 0" ]]
}
synced() { lag_zero && all_equal; }
in_phase() { [[ $(task_field "$ini" mig phase) == "$1" ]]; }
restarted() { worker_restarted "$ini" "$@"; }  # restarted WORKER OLDPID

# ---- full load with sysbench writing, then SIGKILL of capture and of an apply worker ----------
"${SB[@]}" --time=15 --rate=150 --report-interval=0 run >"$TEST_TMP/sysbench-run.log" 2>&1 &
sb_pid=$!
ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "the task reaches cdc while sysbench writes" wait_until 60 in_phase cdc
cap=$(worker_pid "$ini" "capture mig")
remember_worker "$cap"
kill -KILL "$cap"
ok "capture killed mid-run restarts" wait_until 20 restarted "capture mig" "$cap"
sleep 1
ap=$(worker_pid "$ini" "apply mig.1")
remember_worker "$ap"
kill -KILL "$ap"
ok "apply mig.1 killed mid-run restarts" wait_until 20 restarted "apply mig.1" "$ap"
wait "$sb_pid"
is "$?" 0 "sysbench oltp_write_only ran against the source"
like "$(grep -E 'transactions:' "$TEST_TMP/sysbench-run.log")" "transactions: +[1-9]" "sysbench committed transactions"
ok "after the write load and the kills: lag 0 and every value equal (full load + CDC)" wait_until 90 synced ||
	report_differences

# 10k sysbench rows with partition_rows = 4000: three key ranges, each its own LOAD DATA
is "$(dst "SELECT GROUP_CONCAT(kind, ':', IFNULL(lo, '-'), '-', IFNULL(hi, '-') ORDER BY \`partition\`) FROM ferry.load_plan
	WHERE task = 'mig' AND source_table = '\"app\".\"sbtest1\"'")" "int:--3334,int:3334-6667,int:6667--" \
	"sbtest1 was loaded in three primary-key ranges"
loads=$(dst "SHOW GLOBAL STATUS LIKE 'Com_load'" | cut -f2)
parts=$(dst "SELECT COUNT(*) FROM ferry.load_progress WHERE task = 'mig' AND \`partition\` > 0")
ok "every partition went through LOAD DATA LOCAL INFILE ($loads for $parts partitions)" test "$loads" -ge "$parts" -a "$parts" -ge 8

# ---- the tables as the source declares them --------------------------------------------------
shape() {  # every column's declaration and every index, as information_schema has them
	"$1" "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, IFNULL(COLUMN_DEFAULT, '~'),
		EXTRA, IFNULL(CHARACTER_SET_NAME, '~'), IFNULL(COLLATION_NAME, '~') FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = 'app' ORDER BY TABLE_NAME, ORDINAL_POSITION;
	      SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, IFNULL(SUB_PART, '~'),
		IFNULL(COLLATION, '~') FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'app'
		ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX;
	      SELECT TABLE_NAME, CONSTRAINT_NAME, LEVEL, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = 'app' ORDER BY TABLE_NAME, CONSTRAINT_NAME"
}
is "$(shape dst)" "$(shape my)" "columns (types, charsets, collations, defaults, ON UPDATE, AUTO_INCREMENT), indexes and checks as on the source"
like "$(dst "SHOW CREATE TABLE app.edge")" "ENGINE=InnoDB.*CHARSET=utf8mb4" "InnoDB, utf8mb4"
dst "INSERT INTO app.edge (d10) VALUES (9)" >/dev/null
is "$(dst "SELECT id, v, e, HEX(b9), dt FROM app.edge WHERE d10 = 9" | tr '\t' ' ')" "8 it's b c 5 2000-01-01" \
	"the target's AUTO_INCREMENT and defaults work"
dst "DELETE FROM app.edge WHERE d10 = 9" >/dev/null

# ---- CDC of every type, a key update, a 100k-row transaction, a keyless table -----------------
my "INSERT INTO edge (id, $EDGE_LIST) SELECT id + 100, $EDGE_LIST FROM edge WHERE id <= 7;
    UPDATE edge SET id = 1000 WHERE id = 2;
    UPDATE edge SET v = 'changed', bl = NULL, j = '{\"k\": \"v\"}', b = 7, s = 'y z' WHERE id = 105;
    DELETE FROM edge WHERE id = 103;
    INSERT INTO bulk (k, pad) SELECT seq % 1000, CONCAT('tx ', seq) FROM seq_1_to_100000;
    DELETE FROM nokey WHERE a = 7;
    UPDATE nokey SET b = 'same' WHERE a = 8;
    SET sql_mode = '';
    INSERT INTO zd VALUES (11, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
	(12, '2024-00-10', '2024-05-00 01:02:03.5', NULL);
    UPDATE zd SET d = '0000-00-00' WHERE id = 3;" >/dev/null || fail "CDC statements on the source"
ok "CDC of every type, a key update, a 100k-row transaction: lag 0 and every value equal" wait_until 90 synced ||
	report_differences
is "$(dst "SELECT COUNT(*) FROM app.edge WHERE id IN (2, 1000)")" 1 "the primary-key update moved the row"
is "$(dst "SELECT COUNT(*) FROM app.bulk")" 100000 "the 100k-row transaction arrived whole"
is "$(dst "SELECT COUNT(*) FROM app.edge WHERE id > 100 AND id < 200")" 6 "CDC inserted the edge rows"
is "$(dst "SELECT CONCAT_WS(' ', d, dt) FROM app.zd WHERE id = 12")" "2024-00-10 2024-05-00 01:02:03.500000" \
	"zero and partial dates went over as they are, in the load and in CDC"
ok "changes were counted" test "$(jq_status "$ini" '[.tasks[].tables[].changes_applied] | add')" -ge 100000

# ---- ferryd restart: resumes from ferry.source_position on the target ----------------------------
stop_ferryd "$ini"
is "$?" 0 "ferryd stops"
# as an older ferry left it: no gtid column (the restart adds it, resumes by file:position
# and stores the GTID state from then on)
dst "ALTER TABLE ferry.source_position DROP COLUMN gtid" >/dev/null
my "INSERT INTO bulk (k, pad) VALUES (1, 'while ferryd was down'); UPDATE edge SET i32 = 42 WHERE id = 1;
    DELETE FROM nokey WHERE a = 9 LIMIT 3" >/dev/null
ok "ferryd starts again" start_ferryd "$ini"
ok "after the restart: the changes made while it was down arrive, every value equal" wait_until 60 synced ||
	report_differences
like_file "$logdir/capture-mig.log" "resumes by binlog file:position binlog\.[0-9]+:[0-9]+: no GTID state is stored with it" \
	"the stream resumed from the stored position (by file:position: no GTID state stored)"
stored_gtid_is_source() {  # the gtid stored on the target is the source's at the stored position
	local file pos gtid want
	IFS=$'\t' read -r file pos gtid <<<"$(dst "SELECT file, position, IFNULL(gtid, '') FROM ferry.source_position WHERE task = 'mig'")"
	want=$(my "SELECT BINLOG_GTID_POS('$file', $((pos % 4294967296)))" | tr ',' '\n' | sort -t- -k1,1n | paste -sd,)
	[[ -n $gtid && $gtid == "$want" ]]
}
ok "the gtid column is back with the source's GTID state at the stored position" wait_until 10 stored_gtid_is_source
is "$(grep -c 'new task: the change stream starts' "$logdir/capture-mig.log")" 1 "not as a new task"
is "$(dst "SELECT COUNT(*) FROM ferry.source_position WHERE task = 'mig'")" 1 "the stream position is kept on the target"
isnt "$(task_field "$ini" mig phase)" error "the task is not in error"
stop_ferryd "$ini"

done_testing
