#!/bin/bash
# shellcheck disable=SC2016 # jq filters and eval strings are single-quoted on purpose
# Pre-migration assessment (`ferryd --assess`, `ferryctl assess`): a good PostgreSQL ->
# PostgreSQL setup passes (exit 0) with the same report from both commands; a user
# without REPLICATION, a table without key, a target table of another shape kept by
# target_table_prep = nothing, a row filter the source cannot run, and wal_level =
# replica are each a FAIL naming what to fix (exit 1); a full-load task does not need
# logical replication; an unreachable MySQL source is a FAIL (its own checks are in
# 165_assess_mysql.sh); a broken file exits 2; and nothing was created on either
# server: no slot, no publication, no schema, no table.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"
src_sql() { pg_sql src "SET ROLE ferry; $*"; }
src_sql "CREATE TABLE orders (id int PRIMARY KEY, note text, amount numeric(10,2));
         INSERT INTO orders SELECT g, 'n' || g, g FROM generate_series(1, 2000) g;
         CREATE TABLE items (id bigint PRIMARY KEY, name text);
         INSERT INTO items SELECT g, 'i' || g FROM generate_series(1, 100) g;
         CREATE TABLE bad_nokey (a int, b text);
         CREATE TABLE bad_shaped (id int PRIMARY KEY, name text)" >/dev/null || BAIL_OUT "cannot create the source tables"
pg_sql src "ANALYZE" >/dev/null
# A role without REPLICATION that may read the tables, with ferry's password.
pg_sql src "CREATE ROLE norepl LOGIN PASSWORD '$SRC_PASSWORD'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO norepl" \
	>/dev/null
# On the target, a table with the source's name but another shape, owned by ferry.
pg_sql dst "SET ROLE ferry; CREATE TABLE bad_shaped (id bigint PRIMARY KEY, name varchar(5), extra int NOT NULL)" >/dev/null

# config FILE [task key=value...]: a file with one task mig from src (as $SRC_USER,
# ferry by default) to dst.
config() {
	local file=$1
	shift
	write_ferry_ini "$file"
	ini_endpoint "$file" pgsrc src "user=${SRC_USER:-ferry}"
	ini_endpoint "$file" pgdst dst
	ini_task "$file" mig pgsrc pgdst "$@"
}
assess() {  # assess FILE: ferryd --assess; output in $out, exit status in $rc
	out=$(timeout 60 "$FERRYD" --assess -c "$1" 2>&1)
	rc=$?
}
# line CHECK LEVEL: the report lines of one check at one level ("FAIL", "OK", ...).
line() { grep -E "^  $2 +$1 " <<<"$out"; }

# --- a good setup ------------------------------------------------------------------------
good=$TEST_TMP/good.ini
config "$good" target_table_prep=drop 'include=public.*' 'exclude=public.bad_*'
assess "$good"
is "$rc" 0 "a good setup: exit 0"
like "$out" 'assessment: nothing fails \(1 task\)' "a good setup: nothing fails"
unlike "$out" '^  (FAIL|N/A) ' "a good setup: no FAIL, no N/A"
like "$(line wal_level OK)" 'wal_level = logical' "wal_level is checked"
like "$(line 'REPLICATION privilege' OK)" 'user "ferry"' "REPLICATION is checked"
like "$(line 'replication slot' OK)" 'slot "ferry_mig" will be created' "the slot is checked, not created"
like "$(line 'tables selected' OK)" '2 tables, about 2100 rows' "the selection: count and estimated rows"
like "$out" '"public"\."orders" -> "public"\."orders": about 2000 rows' "each selected table with its target"
like "$(line 'target tables' OK)" '2 will be created' "target tables: what will happen"
ctl_out=$(ferryctl -c "$good" assess 2>&1)
is "$?" 0 "ferryctl assess: exit 0 too"
is "$ctl_out" "$out" "ferryctl assess prints the same report"

# --- what must be fixed --------------------------------------------------------------------
bad=$TEST_TMP/bad.ini
SRC_USER=norepl config "$bad" target_table_prep=nothing create_tables=yes 'include=public.*' \
	'filter=public.orders: no_such_column > 0'
assess "$bad"
is "$rc" 1 "problems: exit 1"
like "$(line 'REPLICATION privilege' FAIL)" 'user "norepl" lacks the REPLICATION privilege: ALTER ROLE "norepl" REPLICATION' \
	"a user without REPLICATION: named, with the statement that fixes it"
like "$(line 'replica identity' FAIL)" '"public"\."bad_nokey" has no primary key.*add a primary key' \
	"a table without key: named, with what to do"
like "$(line 'primary keys' WARNING)" '1 table without a primary or unique key \("public"\."bad_nokey"\)' \
	"and listed among the tables without key"
shape=$(grep -A4 -E '^  FAIL +target tables +"public"\."bad_shaped" exists with another shape' <<<"$out")
like "$shape" 'target_table_prep = nothing it is kept as it is: change it to match, or use target_table_prep = drop' \
	"a target table of another shape under nothing: named, with what to do"
like "$shape" 'column id: type integer on the source, bigint on the target' "the shape's differences are listed (type)"
like "$shape" 'column extra: only on the target, NOT NULL' "the shape's differences are listed (extra column)"
like "$(line 'row filters' FAIL)" 'the filter on "public"\."orders" does not work on the source: .*no_such_column' \
	"a filter the source cannot run: named, with the server's reason"
like "$out" 'assessment: 1 of 1 task would fail' "the summary says it fails"

none=$TEST_TMP/none.ini
config "$none" 'include=nosuchschema.*'
assess "$none"
is "$rc" 1 "rules that select nothing: exit 1"
like "$(line 'tables selected' FAIL)" 'no table of the source is selected: check the task.s include and exclude rules' \
	"rules that select nothing: said once, with what to check"
is "$(grep -c '^  FAIL ' <<<"$out")" 1 "and nothing else fails for it"

# wal_level = replica needs a restart of the source.
ok "the source restarts with wal_level = replica" restart_pg src wal_level=replica
is "$(pg_sql src "SHOW wal_level")" replica "the source has wal_level = replica"
assess "$good"
is "$rc" 1 "wal_level = replica: exit 1"
like "$(line wal_level FAIL)" 'wal_level is "replica": set wal_level = logical .* and restart the source server' \
	"wal_level = replica: what to set, and that a restart is needed"
fl=$TEST_TMP/fl.ini
config "$fl" migration_type=full-load target_table_prep=drop 'include=public.orders'
assess "$fl"
is "$rc" 0 "a full-load task needs no logical replication: exit 0"
like "$(line wal_level SKIP)" 'not needed' "its wal_level check is skipped"

# --- what cannot be assessed ---------------------------------------------------------------
my=$TEST_TMP/my.ini
write_ferry_ini "$my"
ini_endpoint "$my" pgdst dst
cat >>"$my" <<EOF

[endpoint mysrc]
engine = mysql
host = 127.0.0.1
port = $(closed_port)
user = ferry
password_file = $TEST_TMP/src.pass

[task frommysql]
source = mysrc
target = pgdst
server_id = 4711
EOF
assess "$my"
is "$rc" 1 "an unreachable MySQL source: exit 1"
like "$(line 'source reachable' FAIL)" 'source endpoint mysrc \([A-Za-z/]+ at 127\.0\.0\.1:' "an unreachable MySQL source: said clearly"
like "$(line 'target reachable' OK)" 'PostgreSQL' "its PostgreSQL target is still checked"
broken=$TEST_TMP/broken.ini
config "$broken"
echo "no_such_key = 1" >>"$broken"
assess "$broken"
is "$rc" 2 "a broken file: exit 2"
like "$out" 'no_such_key' "a broken file: the problem is named"

# --- nothing was created -----------------------------------------------------------------
is "$(pg_sql src "SELECT count(*) FROM pg_replication_slots")" 0 "no slot on the source"
is "$(pg_sql src "SELECT count(*) FROM pg_publication")" 0 "no publication on the source"
is "$(pg_sql dst "SELECT count(*) FROM pg_namespace WHERE nspname = 'ferry'")" 0 "no schema ferry on the target"
is "$(pg_sql dst "SELECT string_agg(relname, ',') FROM pg_class WHERE relkind IN ('r', 'p', 'S')
                  AND relnamespace = 'public'::regnamespace")" bad_shaped "no table on the target but the test's own"
like "$(pg_sql src "SELECT count(*) FROM pg_stat_database WHERE datname = 'app'")" '^1$' "the source still answers"

done_testing
