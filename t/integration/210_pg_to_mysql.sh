#!/bin/bash
# shellcheck disable=SC2016 # SQL and jq text is single-quoted on purpose
# PostgreSQL -> MariaDB end to end under ferryd: an edge-value table of every PostgreSQL
# type the map takes through the full load and through CDC, a keyless table, pgbench
# writing during the load and the start of CDC, SIGKILL of a load worker mid-load and of
# an apply worker mid-CDC, key changes, a 100k-row transaction, invalid values with
# invalid_values = substitute; each table compared value by value with a canonical text
# per row that each server computes with its own functions; then a change the target
# refuses, and a full-load-only task. First the MySQL target's Check binaries run their
# live cases (DDL, apply engine) against the same MariaDB.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_mariadb dst || BAIL_OUT "cannot start MariaDB"

# The engine's Check binaries with live cases, against this MariaDB as root.
for t in check_my_ddl check_my_apply; do
	log=$TEST_TMP/$t.log
	if FERRY_TEST_MYSQL_SOCKET="$DST_SOCKDIR/sock" timeout 120 "$top_builddir/t/unit/$t" >"$log" 2>&1 &&
		grep -q '^live: yes' "$log"; then
		pass "$t passes against MariaDB"
	else
		fail "$t passes against MariaDB" "$(tail -n 20 "$log")"
	fi
done

src_sql() { pg_sql src "SET ROLE ferry; $*"; }
pgbench_src() {
	PGPASSWORD=$SRC_PASSWORD "$PG_BIN/pgbench" -h 127.0.0.1 -p "$SRC_PORT" -U ferry "$@" app
}
# The bookkeeping database and the full-load task's database are ferry's too.
_my_admin dst "CREATE DATABASE fl; GRANT ALL ON ferry.* TO 'ferry'@'%'; GRANT ALL ON fl.* TO 'ferry'@'%';" \
	|| BAIL_OUT "cannot grant on MariaDB"

. "$top_srcdir/t/corpus/pg_edge.sh"
src_sql "$PG_EDGE_SQL
CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
INSERT INTO nokey SELECT g % 50, CASE WHEN g % 7 = 0 THEN NULL ELSE 'r' || (g % 20) END FROM generate_series(1, 2000) g;
CREATE TABLE bulk (id bigint PRIMARY KEY, v text);
CREATE TABLE inval (id int PRIMARY KEY, f float8, d date, n numeric);
INSERT INTO inval VALUES (1, 'Infinity', 'infinity', 'NaN'), (2, '-Infinity', '-infinity', 1.5), (3, 'NaN', '2000-01-01', 2);
" >/dev/null || BAIL_OUT "cannot create the source tables"
pgbench_src -i -s 1 -q >/dev/null 2>&1 || BAIL_OUT "pgbench -i failed"
src_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" >/dev/null
pg_sql src "ANALYZE" >/dev/null

ini=$TEST_TMP/pg2my.ini
write_ferry_ini "$ini"
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" mydst dst
# partition_rows splits pgbench_accounts (100k rows) into key ranges; the source schema
# public becomes the target database app.
ini_task "$ini" mig pgsrc mydst load_workers=2 apply_workers=2 partition_rows=30000 commit_rows=500 \
	ring_size=1MB target_table_prep=drop create_tables=yes invalid_values=substitute \
	'include=public.*' 'rename_schema=public:app'
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

# ---- independent comparison: a canonical text per row, computed by each server --------
# Floats travel as "F:<text>" and JSON as "J:<text>"; jq reads both sides' texts the same
# way (a double, a JSON value) so spelling differences (1e+308 / 1e308, spacing) vanish.
trimdec() { echo "IF(LOCATE('.', CAST($1 AS CHAR)) > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST($1 AS CHAR))), CAST($1 AS CHAR))"; }
pg_edge='SELECT json_build_array(id::text, i2::text, i4::text, i8::text, trim_scale(num)::text,
	trim_scale(num2)::text, '"'F:'"' || f4::float8::text, '"'F:'"' || f8::text, t, vc, rtrim(ch),
	encode(b, '"'hex'"'), flag::int::text, to_char(d, '"'YYYY-MM-DD'"'),
	to_char(ts, '"'YYYY-MM-DD HH24:MI:SS.US'"'), to_char(tstz AT TIME ZONE '"'UTC'"', '"'YYYY-MM-DD HH24:MI:SS.US'"'),
	to_char(tm::interval, '"'HH24:MI:SS.US'"'), u::text, '"'J:'"' || j::text, '"'J:'"' || jb::text, m::text,
	'"'J:'"' || to_json(ai)::text, '"'J:'"' || to_json(at)::text, iv::text, bt::text, abbrev(ip))
	FROM edge ORDER BY id'
# MariaDB's JSON_ARRAY refuses arguments of different collations: each one in the same.
my_edge_exprs=("CAST(id AS CHAR)" "CAST(i2 AS CHAR)" "CAST(i4 AS CHAR)" "CAST(i8 AS CHAR)" "$(trimdec num)"
	"$(trimdec num2)" "CONCAT('F:', CAST(CAST(f4 AS DOUBLE) AS CHAR))" "CONCAT('F:', CAST(f8 AS CHAR))" t vc ch
	"LOWER(HEX(b))" "CAST(flag AS CHAR)" "DATE_FORMAT(d, '%Y-%m-%d')" "DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f')"
	"DATE_FORMAT(tstz, '%Y-%m-%d %H:%i:%s.%f')" "TIME_FORMAT(tm, '%H:%i:%s.%f')" u "CONCAT('J:', j)"
	"CONCAT('J:', jb)" m "CONCAT('J:', ai)" "CONCAT('J:', at)" iv "LPAD(BIN(bt + 0), 9, '0')" ip)
my_edge=$(
	sep=""
	printf 'SELECT JSON_ARRAY('
	for e in "${my_edge_exprs[@]}"; do
		printf '%sCONVERT(%s USING utf8mb4) COLLATE utf8mb4_bin' "$sep" "$e"
		sep=", "
	done
	printf ') FROM edge ORDER BY id'
)
# Raw output: the batch mode's escaping would change JSON's backslashes.
my_raw() { mariadb --no-defaults -uroot --socket="$DST_SOCKDIR/sock" --default-character-set=utf8mb4 -N -B -r -D app -e "$1"; }
canon() {
	jq -cS 'map(if type == "string" and startswith("F:") then (.[2:] | tonumber)
	            elif type == "string" and startswith("J:") then (.[2:] | fromjson) else . end)'
}
# Plain tables: the columns joined with | (NULL as <null>), sorted: keyless tables are
# multisets.
declare -A cols=(
	[pgbench_accounts]='aid bid abalance filler' [pgbench_branches]='bid bbalance filler'
	[pgbench_tellers]='tid bid tbalance filler' [pgbench_history]='tid bid aid delta mtime filler'
	[nokey]='a b' [bulk]='id v' [inval]='id f d n')
pg_line() {
	local c out=()
	for c in ${cols[$1]}; do
		case $c in
		filler) out+=("coalesce(rtrim($c), '<null>')") ;;
		mtime) out+=("to_char($c, 'YYYY-MM-DD HH24:MI:SS.US')") ;;
		*) out+=("coalesce($c::text, '<null>')") ;;
		esac
	done
	local IFS=,
	echo "SELECT concat_ws('|', ${out[*]}) FROM $1"
}
my_line() {
	local c out=()
	for c in ${cols[$1]}; do
		case $c in
		mtime) out+=("DATE_FORMAT($c, '%Y-%m-%d %H:%i:%s.%f')") ;;
		*) out+=("COALESCE(CAST($c AS CHAR), '<null>')") ;;
		esac
	done
	local IFS=,
	echo "SELECT CONCAT_WS('|', ${out[*]}) FROM $1"
}
dump() {  # dump SIDE TABLE: the canonical rows of one side into a file, printed
	local f=$TEST_TMP/$1.$2
	if [[ $2 == edge ]]; then
		if [[ $1 == src ]]; then pg_sql src "$pg_edge"; else my_raw "$my_edge"; fi | canon >"$f"
	elif [[ $1 == src ]]; then
		pg_sql src "$(pg_line "$2")" | LC_ALL=C sort >"$f"
	else
		my_raw "$(my_line "$2")" | LC_ALL=C sort >"$f"
	fi
	echo "$f"
}
compared=(edge nokey bulk pgbench_accounts pgbench_branches pgbench_tellers pgbench_history)
table_equal() {
	local a b
	a=$(dump src "$1") && b=$(dump dst "$1") && [[ -s $a ]] && cmp -s "$a" "$b"
}
tables_equal() {
	local t
	for t in "${compared[@]}"; do table_equal "$t" || return 1; done
}
report_differences() {
	local t
	diag "phase $(task_field "$ini" mig phase), lag $(task_field "$ini" mig lag_bytes) bytes, tables not in sync: $(jq_status "$ini" '[.tasks[] | select(.name == "mig") | .tables[] | select(.state != "in-sync") | .name] | join(" ")')"
	for t in "${compared[@]}"; do
		table_equal "$t" && continue
		if [[ $t == edge ]]; then
			# the columns that differ, row by row
			diag "edge differs:" "$(jq -nc --slurpfile a "$TEST_TMP/src.edge" --slurpfile b "$TEST_TMP/dst.edge" \
				'[$a, $b] | transpose[] | select(.[0] != .[1]) | . as [$x, $y]
				 | {id: $x[0], columns: [range(0; $x | length) | select($x[.] != $y[.])
				    | {column: ., source: ($x[.] | tostring | .[0:60]), target: ($y[.] | tostring | .[0:60])}]}' |
				head -n 10)"
			continue
		fi
		diag "$t differs (source <, target >):" "$(diff "$TEST_TMP/src.$t" "$TEST_TMP/dst.$t" | cut -c1-300 | head -n 12)"
	done
}
lag_zero() {
	[[ $(task_field "$ini" mig phase) == cdc ]] &&
		[[ $(task_field "$ini" mig lag_bytes) == 0 ]] &&
		[[ $(jq_status "$ini" '[.tasks[] | select(.name == "mig") | .tables[] | select(.state != "in-sync")] | length') == 0 ]]
}
synced() { lag_zero && tables_equal; }
in_phase() { [[ $(task_field "$1" "$2" phase) == "$3" ]]; }
restarted() { worker_restarted "$ini" "$@"; }  # restarted WORKER OLDPID

# ---- full load while pgbench writes, then CDC ------------------------------------------
ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
pgbench_src -n -c 2 -T 12 >/dev/null 2>&1 &
bench_pid=$!
# SIGKILL of a load worker while pgbench_accounts loads: its uncommitted partition left
# nothing on the target; the restarted worker loads it again under a fresh snapshot and
# apply runs the table idempotently up to where that load finished.
accounts_loading() {
	[[ $(jq_status "$ini" '.tasks[].tables[] | select(.name == "\"public\".\"pgbench_accounts\"") | .state') == loading ]]
}
wait_until 30 accounts_loading
victim=$(worker_pid "$ini" "load mig.1")
if [[ -n $victim ]] && accounts_loading; then
	remember_worker "$victim"
	kill -KILL "$victim"
	pass "load mig.1 killed while pgbench_accounts was loading"
else
	skip 1 "load mig.1 had finished before it could be killed"
fi
ok "the task reaches cdc" wait_until 90 in_phase "$ini" mig cdc
is "$(jq_status "$ini" '.tasks[] | select(.name == "mig") | .tables | length')" 8 "status lists the 8 tables"
is "$(my_sql dst "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'edge'
	AND COLUMN_NAME IN ('num', 'f4', 't', 'b', 'tstz', 'u', 'ai', 'bt') ORDER BY ORDINAL_POSITION" | tr '\n' ' ')" \
	"decimal(65,30) float longtext longblob datetime(6) char(36) longtext bit(9) " \
	"the target columns follow the type map"
like "$(my_sql dst "SHOW CREATE TABLE edge")" "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin" \
	"InnoDB, utf8mb4, binary no-pad collation"
ok "invalid values are logged" grep -qE 'inval.*written as' "$logdir"/load-mig-*.log

# CDC: the edge rows again under new keys, changes of every kind, keyless duplicates.
src_sql "INSERT INTO edge SELECT id + 100, i2, i4, i8, num, num2, f4, f8, t, vc, ch, b, flag, d, ts, tstz, tm, u,
	j, jb, m, ai, at, iv, bt, ip FROM edge;
	UPDATE edge SET t = t || ' changed', f8 = -f8, d = d - 1 WHERE id = 102;
	UPDATE edge SET id = 1000 WHERE id = 101;
	UPDATE edge SET jb = '{\"x\": [1, {\"y\": \"z\"}]}', ai = '{7}', flag = NOT flag WHERE id = 2;
	DELETE FROM edge WHERE id = 103;
	DELETE FROM nokey WHERE ctid IN (SELECT ctid FROM nokey WHERE a = 5 LIMIT 3);
	UPDATE nokey SET b = 'upd' WHERE a = 6 AND b IS NULL;
	UPDATE nokey SET a = a + 1000 WHERE a = 7;
	INSERT INTO inval VALUES (4, 'Infinity', '0044-03-15 BC', 'NaN');" >/dev/null
src_sql "INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, 100000) g" >/dev/null
sleep 1
ap=$(worker_pid "$ini" "apply mig.1")
remember_worker "$ap"
kill -KILL "$ap"
ok "apply mig.1 restarts after SIGKILL" wait_until 20 restarted "apply mig.1" "$ap"
wait "$bench_pid"
ok "after pgbench stops: lag 0 and every table equal, value by value" wait_until 90 synced || report_differences
is "$(jq_status "$ini" '.tasks[] | select(.name == "mig") | .tables[] | select(.name == "\"public\".\"pgbench_accounts\"") | .rows_loaded')" \
	100000 "pgbench_accounts: 100000 rows loaded"
ok "changes were applied" test "$(jq_status "$ini" '[.tasks[].tables[].changes_applied] | add')" -gt 100000
is "$(my_sql dst "SELECT CONCAT_WS(',', id, COALESCE(CAST(f AS CHAR), 'null'), d, COALESCE(CAST(n AS CHAR), 'null'))
	FROM inval ORDER BY id" | tr '\n' ' ')" \
	"1,1.7976931348623157e308,9999-12-31,null 2,-1.7976931348623157e308,0001-01-01,1.500000000000000000000000000000 3,null,2000-01-01,2.000000000000000000000000000000 4,1.7976931348623157e308,0001-01-01,null " \
	"invalid values became the documented substitutes (load and CDC)"
is "$(jq_status "$ini" '.tasks[] | select(.name == "mig") | .tables[] | select(.name == "\"public\".\"inval\"") | .invalid_values')" \
	9 "status counts them: 6 in the load, 3 in CDC"
is "$(my_sql dst "SELECT COUNT(*) FROM ferry.apply_progress WHERE task = 'mig' AND position > 0")" 2 \
	"each apply worker has its progress row on the target"

# ---- a change the target refuses stops the task, naming table, key and position -------
my_sql dst "ALTER TABLE edge ADD CONSTRAINT no_boom CHECK (t IS NULL OR t <> 'boom')"
src_sql "INSERT INTO edge (id, t) VALUES (424242, 'boom')" >/dev/null
ok "a refused change puts the task in error" wait_until 30 in_phase "$ini" mig error
like "$(task_field "$ini" mig error)" '`app`.`edge`.*source position [0-9A-F]+/[0-9A-F]+.*id=424242' \
	"the error names the table, the key and the source position"
is "$(my_sql dst 'SELECT COUNT(*) FROM edge WHERE id = 424242')" 0 "the refused row is not on the target"
stop_ferryd "$ini"

# ---- full-load only: the task ends by itself ---------------------------------------------
ini2=$TEST_TMP/fl.ini
write_ferry_ini "$ini2"
ini_endpoint "$ini2" pgsrc src
ini_endpoint "$ini2" mydst dst
# first match wins: every table without a b (not pgbench_*, not bulk)
ini_task "$ini2" fl pgsrc mydst migration_type=full-load load_workers=2 'exclude=public.*b*' \
	'include=public.*' 'rename_schema=public:fl' invalid_values=null
ok "full-load: ferryd starts" start_ferryd "$ini2" || BAIL_OUT "ferryd did not start"
ok "full-load: the task stops by itself" wait_until 60 in_phase "$ini2" fl stopped
is "$(MYDATABASE=fl my_sql dst "SELECT COUNT(*) FROM edge") $(MYDATABASE=fl my_sql dst "SELECT COUNT(*) FROM nokey")" \
	"$(pg_sql src "SELECT COUNT(*) FROM edge") $(pg_sql src "SELECT COUNT(*) FROM nokey")" "full-load: every row is there"
is "$(MYDATABASE=fl my_sql dst "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'fl'")" 3 \
	"full-load: only the included tables"
stop_ferryd "$ini2"

# ---- refused before anything is created: local_infile off, a type MySQL cannot hold ----
pg_sql src "CREATE SCHEMA other AUTHORIZATION ferry" >/dev/null
src_sql "CREATE TABLE other.fine (id int PRIMARY KEY); CREATE TABLE other.badtz (id int PRIMARY KEY, t timetz)" >/dev/null
_my_admin dst "SET GLOBAL local_infile = OFF; GRANT ALL ON bad.* TO 'ferry'@'%'"
ini3=$TEST_TMP/bad.ini
write_ferry_ini "$ini3"
ini_endpoint "$ini3" pgsrc src
ini_endpoint "$ini3" mydst dst
ini_task "$ini3" bad pgsrc mydst migration_type=full-load 'include=other.*' 'rename_schema=other:bad'
ok "local_infile off: ferryd starts" start_ferryd "$ini3" || BAIL_OUT "ferryd did not start"
ok "local_infile off: the task stops in error" wait_until 30 in_phase "$ini3" bad error
like "$(task_field "$ini3" bad error)" "local_infile = OFF.*SET GLOBAL local_infile = ON" "the error says what to change"
stop_ferryd "$ini3"
_my_admin dst "SET GLOBAL local_infile = ON"
ok "unmapped type: ferryd starts" start_ferryd "$ini3" || BAIL_OUT "ferryd did not start"
ok "unmapped type: the task stops in error" wait_until 30 in_phase "$ini3" bad error
like "$(task_field "$ini3" bad error)" "badtz, column t: no MySQL type .*exclude_column" \
	"the error names the table and column and what to do"
is "$(my_sql dst "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'bad'")" 0 \
	"nothing was created on the target"
stop_ferryd "$ini3"

done_testing
