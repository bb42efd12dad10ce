#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq text is single-quoted on purpose
# Validation and cutover with MySQL/MariaDB, against running tasks, both heterogeneous
# pairs (MariaDB -> PostgreSQL, PostgreSQL -> MariaDB): values compare by their
# canonical text through the type map, so
# - an equal copy of every type is reported equal (by ferryctl validate and by the
#   validate worker), also while the source is written to;
# - cutover on a quiet source says go and every AUTO_INCREMENT / identity sequence ends
#   past the migrated maximum;
# - differences planted on the target (a changed integer, decimal, text with emoji,
#   blob/bytea, datetime/timestamp, JSON and enum value, a missing row, an extra row, a
#   row in the middle of a 50k-row table, a table without a key) are each found and
#   named (table, key, column, both values), exit 1.
# Then the MySQL engine's server-side hash of a MariaDB -> MariaDB pair, compared once.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_mariadb my || BAIL_OUT "cannot start MariaDB"
start_pg pg || BAIL_OUT "cannot start PostgreSQL"
# the second task's target: its own server, so its bookkeeping writes do not move the
# first task's source binlog (cutover waits for a still binlog)
start_mariadb myt || BAIL_OUT "cannot start MariaDB"

fctl() { timeout 100 "$FERRYCTL_BIN" "$@"; }
mysrc() { my_sql my "SET time_zone = '+00:00'; $*"; }
_my_admin my "CREATE DATABASE back; GRANT ALL ON back.* TO 'ferry'@'%'; GRANT ALL ON ferry.* TO 'ferry'@'%';" ||
	BAIL_OUT "cannot grant on MariaDB"

# ---- MariaDB -> PostgreSQL ---------------------------------------------------------------------
# test 200's table of every mapped type at its extremes (1 MB values, emoji, NULLs)
. "$top_srcdir/t/corpus/mysql_edge.sh"
mysrc "CREATE TABLE edge ($EDGE_COLS); INSERT INTO edge VALUES $EDGE_ROWS;" || BAIL_OUT "cannot create edge"
mysrc "
CREATE TABLE typed (id int PRIMARY KEY, i int, d decimal(12,3), t varchar(100), bl blob, dt datetime(6),
	ts timestamp(3) NULL, j json, e enum('red','green','blue'), s set('x','y','z'), f float, g double,
	b tinyint(1), tm time(6), bt bit(10), ch char(6), y year, u bigint unsigned, dd date);
INSERT INTO typed SELECT seq, CAST(seq AS SIGNED) * 7 - 100, seq / 8, CONCAT('row ', seq, ' 😀 café'),
	UNHEX(MD5(seq)), '2024-02-29 12:00:00' + INTERVAL seq * 61 SECOND + INTERVAL seq MICROSECOND,
	FROM_UNIXTIME(1700000000 + seq * 3600.125), JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', seq / 4), 'ok', seq % 2 = 0),
	ELT(1 + seq % 3, 'red', 'green', 'blue'), ELT(1 + seq % 4, '', 'x', 'y,z', 'z,x'), seq / 3, seq / 7,
	seq % 2, SEC_TO_TIME(CAST(seq AS SIGNED) * 4000 - 20000), IF(seq % 2 = 0, seq * 3, NULL), IF(seq % 5 = 0, '', LEFT(MD5(seq), 1 + seq % 6)),
	1990 + seq, 18446744073709551615 - seq, '2000-01-01' + INTERVAL seq DAY
FROM seq_1_to_40;
UPDATE typed SET i = NULL, d = NULL, t = NULL, bl = NULL, dt = NULL, ts = NULL, j = NULL, e = NULL, s = NULL,
	f = NULL, g = NULL, b = NULL, tm = NULL, bt = NULL, ch = NULL, y = NULL, u = NULL, dd = NULL WHERE id = 40;
UPDATE typed SET t = '', bl = '', j = '[]', f = -0.1, g = 1e300, tm = '-838:59:59', dd = '1000-01-01' WHERE id = 39;
CREATE TABLE big (id int AUTO_INCREMENT PRIMARY KEY, k int, pad varchar(40));
INSERT INTO big (k, pad) SELECT seq % 100, MD5(seq) FROM seq_1_to_50000;
CREATE TABLE nokey (a int, b varchar(10));
INSERT INTO nokey SELECT seq % 20, CONCAT('r', seq % 3) FROM seq_1_to_300;
CREATE TABLE ck (region varchar(10), n int, v varchar(40), PRIMARY KEY (region, n));
INSERT INTO ck SELECT ELT(1 + seq % 5, 'Äx', 'ay', 'B', 'z', 'éq'), seq, MD5(seq) FROM seq_1_to_6000;
ANALYZE TABLE typed, big, nokey, ck;" >/dev/null || BAIL_OUT "cannot create the MariaDB tables"

ini=$TEST_TMP/m2p.ini
write_ferry_ini "$ini"
ini_endpoint "$ini" mysrc my
ini_endpoint "$ini" pgdst pg
ini_task "$ini" m2p mysrc pgdst load_workers=2 apply_workers=2 target_table_prep=drop create_tables=yes validation=yes
watch_log "$(ferry_log_dir "$ini")"/*.log

synced() {  # synced INI TASK: cdc, lag 0, every table in sync
	[[ $(task_field "$1" "$2" phase) == cdc ]] && [[ $(task_field "$1" "$2" lag_bytes) == 0 ]] &&
		[[ $(jq_status "$1" '[.tasks[] | select(.name == $t) | .tables[] | select(.state != "in-sync")] | length' \
			--arg t "$2") == 0 ]]
}

ok "ferryd starts (MariaDB -> PostgreSQL)" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
m2p_pid=$FERRYD_PID

# ---- PostgreSQL -> MariaDB ----------------------------------------------------------------------
_my_admin myt "CREATE DATABASE pgm; GRANT ALL ON pgm.* TO 'ferry'@'%'; GRANT ALL ON ferry.* TO 'ferry'@'%';" ||
	BAIL_OUT "cannot grant on MariaDB"
pg_sql pg "CREATE DATABASE src OWNER ferry" >/dev/null || BAIL_OUT "cannot create the source database"
pgsrc() { PGDATABASE=src pg_sql pg "SET ROLE ferry; $*"; }
# test 210's table of every mapped PostgreSQL type at its extremes first
. "$top_srcdir/t/corpus/pg_edge.sh"
pgsrc "$PG_EDGE_SQL
CREATE TABLE typed (id int PRIMARY KEY, i int, n numeric(12,3), t text, b bytea, ts timestamp(6), tz timestamptz,
	j jsonb, m mood, flag boolean, f real, g float8, d date, tm time(3), ai int[], u uuid, iv interval, c char(4),
	vc varchar(30));
INSERT INTO typed SELECT g, g * 7 - 100, g / 8.0, 'row ' || g || ' 😀 café', decode(md5(g::text), 'hex'),
	'2024-02-29 12:00:00'::timestamp + g * interval '61.000001 s', to_timestamp(1700000000 + g * 3600.125),
	jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g / 4.0), 'ok', g % 2 = 0),
	(ARRAY['sad','ok','happy'])[1 + g % 3]::mood, g % 2 = 0, g / 3.0, g / 7.0, DATE '2000-01-01' + g,
	TIME '00:00:00' + g * interval '1001.5 s', ARRAY[g, NULL, -g], md5(g::text)::uuid,
	g * interval '1 day 1 hour 1.5 second', left(md5(g::text), g % 5), 'v' || g
FROM generate_series(1, 39) g;
INSERT INTO typed (id) VALUES (40);
CREATE TABLE big (id serial PRIMARY KEY, k int, pad text);
INSERT INTO big (k, pad) SELECT g % 100, md5(g::text) FROM generate_series(1, 50000) g;
CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
INSERT INTO nokey SELECT g % 20, 'r' || g % 3 FROM generate_series(1, 300) g;
ANALYZE;" >/dev/null || BAIL_OUT "cannot create the PostgreSQL tables"

ini2=$TEST_TMP/p2m.ini
write_ferry_ini "$ini2"
ini_endpoint "$ini2" pgsrc pg dbname=src
ini_endpoint "$ini2" mydst myt
ini_task "$ini2" p2m pgsrc mydst load_workers=2 apply_workers=2 target_table_prep=drop create_tables=yes \
	'include=public.*' 'rename_schema=public:pgm'
watch_log "$(ferry_log_dir "$ini2")"/*.log
ok "ferryd starts (PostgreSQL -> MariaDB)" start_ferryd "$ini2" || BAIL_OUT "ferryd did not start"
p2m_pid=$FERRYD_PID

ok "the task is in sync" wait_until 90 synced "$ini" m2p || BAIL_OUT "the task did not get in sync"

validated() {
	[[ $(jq_status "$ini" '[.tasks[] | select(.name == "m2p") | .tables[] | .validation.state == "equal"] | all') == true ]]
}
ok "the validate worker (validation = yes) finds every table equal" wait_until 60 validated ||
	diag "$(jq_status "$ini" '.tasks[].tables[] | {name, validation}' -c)"
out=$TEST_TMP/m2p-equal.json
fctl -c "$ini" validate m2p --json >"$out" 2>"$TEST_TMP/m2p-equal.err"
is "$?" 0 "an equal copy of every type is equal (exit 0)" || diag "$(cat "$TEST_TMP/m2p-equal.err")" \
	"$(jq -c '.tables[] | select(.result != "equal") | {table, reason, differences: .differences[:6]}' "$out")"
is "$(jq -r '[.tables[].table] | sort | join(" ")' "$out")" '"app"."big" "app"."ck" "app"."edge" "app"."nokey" "app"."typed"' \
	"every table was compared"
is "$(jq -r '.rows' "$out")" 56346 "every row was counted"

# --- no false alarm while the source is written to -------------------------------------------
# (odd ids only in typed: the change stream of a BIT(10) value fails the apply today)
my_writer() {  # keeps changing rows the comparison reads, until killed
	while :; do
		mysrc "UPDATE big SET pad = MD5(RAND()) WHERE id = 1 + FLOOR(RAND() * 50000);
			INSERT INTO big (k, pad) VALUES (7, 'new');
			UPDATE typed SET i = i + 1, j = JSON_SET(j, '$.n', RAND()) WHERE id = 1 + 2 * FLOOR(RAND() * 19);
			DELETE FROM nokey WHERE a = FLOOR(RAND() * 20) LIMIT 1; INSERT INTO nokey VALUES (FLOOR(RAND() * 20), 'w');" \
			>/dev/null 2>&1
	done
}
my_writer &
writer=$!
sleep 1
out=$TEST_TMP/m2p-live.json
fctl -c "$ini" validate m2p --json >"$out" 2>"$TEST_TMP/m2p-live.err"
rc=$?
kill "$writer" && wait "$writer" 2>/dev/null
is "$rc" 0 "no difference reported while the source is written to" || diag "$(cat "$TEST_TMP/m2p-live.err")" \
	"$(jq -c '.tables[] | select(.result != "equal") | {table, reason, differences: .differences[:6]}' "$out")"
is "$(jq -r .live "$out")" true "the comparison ran against the live task"

# --- cutover on a quiet source ------------------------------------------------------------------
ok "the task catches up" wait_until 60 synced "$ini" m2p
json=$(fctl -c "$ini" cutover m2p --wait-for-quiet --timeout 60 --json)
is "$?" 0 "cutover (MariaDB -> PostgreSQL) on a quiet source: exit 0" || diag "$json"
is "$(jq -r .decision <<<"$json")" go "cutover: go"
is "$(jq -r '.lag.zero' <<<"$json")" true "cutover: lag zero"
is "$(jq -r '[.sequences[] | select(.error == null)] | length' <<<"$json")" 1 \
	"cutover: the identity sequence of the AUTO_INCREMENT column was set" || diag "$json"
is "$(pg_sql pg "SELECT pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('app.big', 'id')) > max(id) FROM app.big")" t \
	"the target's next id is past the migrated maximum"
is "$(jq -r '.validation.result' <<<"$json")" equal "cutover's final validation: equal"

# --- differences planted on the target ------------------------------------------------------------
pg_sql pg "SET session_replication_role = replica;
UPDATE app.typed SET i = i + 1 WHERE id = 3;
UPDATE app.typed SET d = d + 0.001 WHERE id = 5;
UPDATE app.typed SET t = 'row 7 😃 café' WHERE id = 7;
UPDATE app.typed SET bl = '\\x00' WHERE id = 9;
UPDATE app.typed SET dt = dt + interval '1 microsecond' WHERE id = 11;
UPDATE app.typed SET j = j || '{\"ok\": \"maybe\"}' WHERE id = 13;
UPDATE app.typed SET e = 'blue' WHERE id = 15;
UPDATE app.typed SET ts = ts + interval '1 second' WHERE id = 17;
DELETE FROM app.typed WHERE id = 20;
INSERT INTO app.typed (id, i) VALUES (1000, 1);
UPDATE app.big SET pad = 'changed' WHERE id = 25000;
UPDATE app.ck SET v = 'changed' WHERE region = 'éq' AND n = 3004;
DELETE FROM app.ck WHERE region = 'B' AND n = 4002;
INSERT INTO app.nokey VALUES (99, 'extra');" >/dev/null || BAIL_OUT "cannot plant the differences"

out=$TEST_TMP/m2p-diff.json
fctl -c "$ini" validate m2p --json >"$out" 2>"$TEST_TMP/m2p-diff.err"
is "$?" 1 "planted differences: exit 1" || diag "$(cat "$TEST_TMP/m2p-diff.err")"
typed='.tables[] | select(.table == "\"app\".\"typed\"")'
for kc in 3:i 5:d 7:t 9:bl 11:dt 13:j 15:e 17:ts; do
	is "$(jq -r --arg k "${kc%%:*}" --arg c "${kc#*:}" \
		"[$typed | .differences[] | select(.kind == \"changed\" and .key.id == \$k and .column == \$c)] | length" "$out")" 1 \
		"changed ${kc#*:} of typed id ${kc%%:*} is found and named"
done
is "$(jq -r "$typed | .differences[] | select(.key.id == \"7\") | .source + \" / \" + .target" "$out")" \
	"row 7 😀 café / row 7 😃 café" "the text difference shows both values"
is "$(jq -r "$typed | .differences[] | select(.key.id == \"20\") | .kind" "$out")" missing "the deleted row is missing"
is "$(jq -r "$typed | .differences[] | select(.key.id == \"1000\") | .kind" "$out")" extra "the inserted row is extra"
is "$(jq -r "$typed | .rows_differing" "$out")" 10 "typed: 10 rows differ, no more"
is "$(jq -c '.tables[] | select(.table == "\"app\".\"big\"") | [.rows_differing, .differences[0].key.id, .differences[0].column, .differences[0].target]' "$out")" \
	'[1,"25000","pad","changed"]' "the changed row in the middle of the 50k-row table is found"
is "$(jq -c '.tables[] | select(.table == "\"app\".\"nokey\"") | [.result, .rows_missing, .rows_extra]' "$out")" \
	'["different",0,1]' "the table without a key: one extra row"
is "$(jq -c '[.tables[] | select(.table == "\"app\".\"ck\"") | .differences[] | [.kind, .key.region, .key.n, .column]] | sort' "$out")" \
	'[["changed","éq","3004","v"],["missing","B","4002",null]]' \
	"a composite text key (MySQL and PostgreSQL collations apart): both differences found"
kill -TERM "$m2p_pid" && wait "$m2p_pid"

# ---- PostgreSQL -> MariaDB ----------------------------------------------------------------------
ok "the task is in sync" wait_until 90 synced "$ini2" p2m || BAIL_OUT "the task did not get in sync"

out=$TEST_TMP/p2m-equal.json
fctl -c "$ini2" validate p2m --json >"$out" 2>"$TEST_TMP/p2m-equal.err"
is "$?" 0 "PostgreSQL -> MariaDB: an equal copy of every type is equal (exit 0)" ||
	diag "$(cat "$TEST_TMP/p2m-equal.err")" \
		"$(jq -c '.tables[] | select(.result != "equal") | {table, reason, differences: .differences[:6]}' "$out")"
is "$(jq -r '.rows' "$out")" 50344 "every row was counted"

pg_writer() {
	while :; do
		pgsrc "UPDATE big SET pad = md5(random()::text) WHERE id = 1 + floor(random() * 50000)::int;
			INSERT INTO big (k, pad) VALUES (7, 'new');
			UPDATE typed SET i = i + 1, j = j || jsonb_build_object('n', random()) WHERE id = 1 + floor(random() * 39)::int;
			INSERT INTO nokey VALUES (floor(random() * 20)::int, 'w');" >/dev/null 2>&1
	done
}
pg_writer &
writer=$!
sleep 1
out=$TEST_TMP/p2m-live.json
fctl -c "$ini2" validate p2m --json >"$out" 2>"$TEST_TMP/p2m-live.err"
rc=$?
kill "$writer" && wait "$writer" 2>/dev/null
is "$rc" 0 "PostgreSQL -> MariaDB: no difference reported while the source is written to" ||
	diag "$(cat "$TEST_TMP/p2m-live.err")" \
		"$(jq -c '.tables[] | select(.result != "equal") | {table, reason, differences: .differences[:6]}' "$out")"

ok "the task catches up" wait_until 60 synced "$ini2" p2m
json=$(fctl -c "$ini2" cutover p2m --wait-for-quiet --timeout 60 --json)
is "$?" 0 "cutover (PostgreSQL -> MariaDB) on a quiet source: exit 0" || diag "$json"
is "$(jq -r .decision <<<"$json")" go "cutover: go"
is "$(jq -r '[.sequences[] | select(.error == null)] | length' <<<"$json")" 1 \
	"cutover: the AUTO_INCREMENT of the serial column's table was set" || diag "$json"
is "$(MYDATABASE=pgm my_sql myt "SELECT AUTO_INCREMENT > (SELECT MAX(id) FROM big) FROM information_schema.TABLES
	WHERE TABLE_SCHEMA = 'pgm' AND TABLE_NAME = 'big'")" 1 "the target's AUTO_INCREMENT is past the migrated maximum"

MYDATABASE=pgm my_sql myt "
UPDATE typed SET i = i + 1 WHERE id = 3;
UPDATE typed SET n = n + 0.001 WHERE id = 5;
UPDATE typed SET t = 'row 7 😃 café' WHERE id = 7;
UPDATE typed SET b = UNHEX('00') WHERE id = 9;
UPDATE typed SET ts = ts + INTERVAL 1 MICROSECOND WHERE id = 11;
UPDATE typed SET j = JSON_SET(j, '$.ok', 'maybe') WHERE id = 13;
UPDATE typed SET m = 'happy' WHERE id = 15;
UPDATE typed SET tz = tz + INTERVAL 1 SECOND WHERE id = 17;
DELETE FROM typed WHERE id = 20;
INSERT INTO typed (id, i) VALUES (1000, 1);
UPDATE big SET pad = 'changed' WHERE id = 25000;
INSERT INTO nokey VALUES (99, 'extra');" || BAIL_OUT "cannot plant the differences"
out=$TEST_TMP/p2m-diff.json
fctl -c "$ini2" validate p2m --json >"$out" 2>"$TEST_TMP/p2m-diff.err"
is "$?" 1 "PostgreSQL -> MariaDB: planted differences: exit 1" || diag "$(cat "$TEST_TMP/p2m-diff.err")"
typed='.tables[] | select(.table == "\"public\".\"typed\"")'
for kc in 3:i 5:n 7:t 9:b 11:ts 13:j 15:m 17:tz; do
	is "$(jq -r --arg k "${kc%%:*}" --arg c "${kc#*:}" \
		"[$typed | .differences[] | select(.kind == \"changed\" and .key.id == \$k and .column == \$c)] | length" "$out")" 1 \
		"changed ${kc#*:} of typed id ${kc%%:*} is found and named"
done
is "$(jq -r "$typed | [.rows_differing, .rows_missing, .rows_extra] | @csv" "$out")" 10,1,1 \
	"typed: 10 rows differ (one missing, one extra), no more"
is "$(jq -c '.tables[] | select(.table == "\"public\".\"big\"") | [.rows_differing, .differences[0].key.id, .differences[0].column, .differences[0].target]' "$out")" \
	'[1,"25000","pad","changed"]' "the changed row in the middle of the 50k-row table is found"
is "$(jq -c '.tables[] | select(.table == "\"public\".\"nokey\"") | [.result, .rows_missing, .rows_extra]' "$out")" \
	'["different",0,1]' "the table without a key: one extra row"
kill -TERM "$p2m_pid" && wait "$p2m_pid"

# ---- MariaDB -> MariaDB: hashed on the server, compared once (no ferryd) --------------------------
_my_admin my "CREATE TABLE back.typed LIKE app.typed; INSERT INTO back.typed SELECT * FROM app.typed;
	CREATE TABLE back.big LIKE app.big; INSERT INTO back.big SELECT * FROM app.big;
	CREATE TABLE back.nokey LIKE app.nokey; INSERT INTO back.nokey SELECT * FROM app.nokey;
	CREATE TABLE back.edge LIKE app.edge; INSERT INTO back.edge SELECT * FROM app.edge;
	CREATE TABLE back.ck LIKE app.ck; INSERT INTO back.ck SELECT * FROM app.ck;" ||
	BAIL_OUT "cannot copy the tables"
ini3=$TEST_TMP/m2m.ini
write_ferry_ini "$ini3"
ini_endpoint "$ini3" mysrc my
ini_endpoint "$ini3" mydst my dbname=back
ini_task "$ini3" m2m mysrc mydst 'rename_schema=app:back'
out=$TEST_TMP/m2m-equal.json
fctl -c "$ini3" validate m2m --json >"$out" 2>"$TEST_TMP/m2m.err"
is "$?" 0 "MariaDB -> MariaDB: an equal copy is equal (exit 0)" || diag "$(cat "$TEST_TMP/m2m.err")" "$(cat "$out")"
is "$(jq -r '[.live, .tables_equal] | @csv' "$out")" false,5 "compared once, every table equal"
MYDATABASE=back my_sql my "UPDATE typed SET i = i + 1 WHERE id = 3; UPDATE typed SET bl = 'x' WHERE id = 9;
	DELETE FROM typed WHERE id = 20; INSERT INTO typed (id) VALUES (1000);
	UPDATE big SET pad = 'changed' WHERE id = 25000; INSERT INTO nokey VALUES (99, 'extra');
	UPDATE ck SET v = 'changed' WHERE region = 'ay' AND n = 5001;" ||
	BAIL_OUT "cannot plant the differences"
out=$TEST_TMP/m2m-diff.json
fctl -c "$ini3" validate m2m --json >"$out" 2>"$TEST_TMP/m2m.err"
is "$?" 1 "MariaDB -> MariaDB: planted differences: exit 1" || diag "$(cat "$TEST_TMP/m2m.err")"
is "$(jq -c '[.tables[] | .differences[] | [.kind, .key.id // .key.n, .column]] | sort' "$out")" \
	'[["changed","25000","pad"],["changed","3","i"],["changed","5001","v"],["changed","9","bl"],["extra","1000",null],["missing","20",null]]' \
	"each difference is found and named"
is "$(jq -c '.tables[] | select(.table == "\"app\".\"nokey\"") | [.rows_missing, .rows_extra]' "$out")" '[0,1]' \
	"the table without a key: one extra row"

done_testing
