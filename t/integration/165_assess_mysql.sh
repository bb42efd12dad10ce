#!/bin/bash
# shellcheck disable=SC2016 # SQL strings are single-quoted on purpose
# Pre-migration assessment of MySQL/MariaDB endpoints: a good MariaDB -> PostgreSQL
# setup passes (exit 0) with the checks a MySQL source's start runs; a user without
# REPLICATION SLAVE, binlog_format = STATEMENT, a GEOMETRY column and a row filter the
# source cannot run are each a FAIL naming the fix (exit 1); a full-load task does not
# need the binary log checks; a kept PostgreSQL table of the mapped shape passes. A
# MariaDB -> MariaDB task checks its target: local_infile, privileges on database
# ferry, a missing table that will not be created; so does a PostgreSQL -> MariaDB
# task (no grants on its target database). And nothing changed: no database or schema
# ferry on any server, no table on the targets, no slot, the source's binary log
# position unchanged.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_mariadb src || BAIL_OUT "cannot start MariaDB"
start_mariadb mydst || BAIL_OUT "cannot start MariaDB"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"
my_sql src "CREATE TABLE orders (id int PRIMARY KEY, note text, amount decimal(10,2));
            INSERT INTO orders SELECT seq, CONCAT('n', seq), seq FROM seq_1_to_2000;
            CREATE TABLE items (id bigint PRIMARY KEY, name varchar(40));
            INSERT INTO items SELECT seq, CONCAT('i', seq) FROM seq_1_to_100;
            CREATE TABLE bad_geo (id int PRIMARY KEY, g GEOMETRY);
            ANALYZE TABLE orders, items" >/dev/null || BAIL_OUT "cannot create the source tables"
# A user who may read the tables and the log position, but not the log.
my_sql src "CREATE USER 'norepl'@'%' IDENTIFIED BY '$SRC_PASSWORD';
            GRANT SELECT ON app.* TO 'norepl'@'%'; GRANT REPLICATION CLIENT ON *.* TO 'norepl'@'%'" \
	>/dev/null || BAIL_OUT "cannot create user norepl"
binlog_before=$(my_sql src "SHOW MASTER STATUS" | cut -f1,2)
databases_before=$(my_sql src "SHOW DATABASES" | sort | tr '\n' ' ')

# config FILE TARGET [task key=value...]: task mig from src (as $SRC_USER, ferry by
# default) to the server TARGET.
config() {
	local file=$1 target=$2
	shift 2
	write_ferry_ini "$file"
	ini_endpoint "$file" mysrc src "user=${SRC_USER:-ferry}"
	ini_endpoint "$file" tgt "$target"
	ini_task "$file" mig mysrc tgt "$@"
}
assess() {  # assess FILE: ferryd --assess; output in $out, exit status in $rc
	out=$(timeout 60 "$FERRYD" --assess -c "$1" 2>&1)
	rc=$?
}
# line CHECK LEVEL: the report lines of one check at one level ("FAIL", "OK", ...).
line() { grep -E "^  $2 +$1 " <<<"$out"; }

# --- a good setup ------------------------------------------------------------------------
good=$TEST_TMP/good.ini
config "$good" dst target_table_prep=drop 'exclude=app.bad_*'
assess "$good"
is "$rc" 0 "a good setup: exit 0"
like "$out" 'assessment: nothing fails \(1 task\)' "a good setup: nothing fails"
unlike "$out" '^  (FAIL|N/A) ' "a good setup: no FAIL, no N/A"
like "$(line 'source reachable' OK)" 'MariaDB' "the source is reached"
like "$(line binlog_format OK)" 'binlog_format = ROW' "binlog_format is checked"
like "$(line binlog_row_image OK)" 'binlog_row_image = FULL' "binlog_row_image is checked"
like "$(line 'replication grants' OK)" 'REPLICATION SLAVE' "the replication grants are checked"
like "$(line 'SELECT privilege' OK)" '2 selected tables' "SELECT on the tables is tried"
like "$(line 'tables selected' OK)" '2 tables, about 2100 rows' "the selection: count and estimated rows"
like "$out" '"app"\."orders" -> "app"\."orders"' "each selected table with its target"
like "$(line 'target tables' OK)" '2 will be created' "the PostgreSQL target is checked against the catalog"
ctl_out=$(ferryctl -c "$good" assess 2>&1)
is "$?" 0 "ferryctl assess: exit 0 too"
is "$(grep -v '^  OK .*binary logs' <<<"$ctl_out")" "$(grep -v '^  OK .*binary logs' <<<"$out")" \
	"ferryctl assess: the same report"

# A PostgreSQL target table of the mapped shape, kept (truncate): not another shape.
pg_sql dst "SET ROLE ferry; CREATE SCHEMA app; CREATE TABLE app.items (id bigint PRIMARY KEY, name varchar(40))" \
	>/dev/null
keep=$TEST_TMP/keep.ini
config "$keep" dst target_table_prep=truncate 'include=app.items'
assess "$keep"
is "$rc" 0 "a kept PostgreSQL table of the mapped shape: exit 0"
like "$(line 'target tables' OK)" '1 kept' "a kept PostgreSQL table of the mapped shape: kept"
pg_sql dst "DROP SCHEMA app CASCADE" >/dev/null

# --- a GEOMETRY column -------------------------------------------------------------------
geo=$TEST_TMP/geo.ini
config "$geo" dst target_table_prep=drop
assess "$geo"
is "$rc" 1 "a GEOMETRY column: exit 1"
like "$(line 'column types' FAIL)" 'bad_geo column g: type geometry.*exclude_column' "a GEOMETRY column: FAIL naming exclude_column"

# --- row filters: one the source cannot run, one it can -----------------------------------
filt=$TEST_TMP/filt.ini
config "$filt" dst target_table_prep=drop 'include=app.orders' 'filter=app.orders: no_such_column > 0'
assess "$filt"
is "$rc" 1 "a filter the source cannot run: exit 1"
like "$(line 'row filters' FAIL)" 'filter on app\.orders does not work on the source: .*no_such_column' \
	"a filter the source cannot run: FAIL with the server's error"
config "$filt" dst target_table_prep=drop 'include=app.orders' 'filter=app.orders: id > 1000'
assess "$filt"
is "$rc" 0 "a valid filter: exit 0"
like "$(line 'row filters' OK)" '1 filter valid' "a valid filter: OK"

# --- a user without REPLICATION SLAVE ----------------------------------------------------
norepl=$TEST_TMP/norepl.ini
SRC_USER=norepl config "$norepl" dst target_table_prep=drop 'exclude=app.bad_*'
assess "$norepl"
is "$rc" 1 "no REPLICATION SLAVE: exit 1"
like "$(line 'replication grants' FAIL)" 'lacks REPLICATION SLAVE.*GRANT REPLICATION SLAVE ON' \
	"no REPLICATION SLAVE: FAIL naming the grant"
unlike "$(line 'replication grants' FAIL)" 'REPLICATION CLIENT' "REPLICATION CLIENT is seen as granted"
fullload=$TEST_TMP/fullload.ini
SRC_USER=norepl config "$fullload" dst target_table_prep=drop 'exclude=app.bad_*' migration_type=full-load
assess "$fullload"
is "$rc" 0 "a full-load task needs no REPLICATION SLAVE: exit 0"
like "$(line 'replication grants' SKIP)" 'full-load' "a full-load task: the binary log checks are SKIP"

# --- binlog_format = STATEMENT -----------------------------------------------------------
my_sql src "SET GLOBAL binlog_format = 'STATEMENT'" >/dev/null
assess "$good"
my_sql src "SET GLOBAL binlog_format = 'ROW'" >/dev/null
is "$rc" 1 "binlog_format = STATEMENT: exit 1"
like "$(line binlog_format FAIL)" 'binlog_format = STATEMENT: ferry needs ROW' "binlog_format = STATEMENT: FAIL naming ROW"

# --- a MariaDB target --------------------------------------------------------------------
mytgt=$TEST_TMP/mytgt.ini
config "$mytgt" mydst target_table_prep=drop 'exclude=app.bad_*'
assess "$mytgt"
is "$rc" 1 "a MariaDB target without privileges on database ferry: exit 1"
like "$(line 'target privileges' FAIL)" 'lacks CREATE, INSERT on database `ferry`.*GRANT CREATE, INSERT ON `ferry`' \
	"no privileges on the bookkeeping database: FAIL naming the grant"
my_sql mydst "GRANT ALL ON ferry.* TO 'ferry'@'%'" >/dev/null
assess "$mytgt"
is "$rc" 0 "a MariaDB target: exit 0"
like "$(line local_infile OK)" 'local_infile = ON' "the target's local_infile is checked"
like "$(line 'target privileges' OK)" 'create and fill tables' "the target's privileges are checked"
like "$(line 'target tables' OK)" '2 will be created' "the MariaDB target tables: what will happen"
my_sql mydst "CREATE TABLE items (id bigint PRIMARY KEY, name varchar(40))" >/dev/null
my_sql mydst "SET GLOBAL local_infile = 0" >/dev/null
config "$mytgt" mydst target_table_prep=nothing create_tables=no 'exclude=app.bad_*'
assess "$mytgt"
my_sql mydst "SET GLOBAL local_infile = 1" >/dev/null
is "$rc" 1 "a MariaDB target without local_infile: exit 1"
like "$(line local_infile FAIL)" 'SET GLOBAL local_infile = ON' "local_infile = OFF: FAIL naming the fix"
like "$(line 'target tables' FAIL)" '`app`.`orders` does not exist and create_tables = no' \
	"a missing table that will not be created: FAIL"
like "$(line 'target tables' WARNING)" '1 existing table will be kept' "an existing kept table is said"

# --- a PostgreSQL source into MariaDB: the target database needs its grants --------------
pg_sql dst "SET ROLE ferry; CREATE TABLE pgt (id int PRIMARY KEY, v text)" >/dev/null
pgmy=$TEST_TMP/pgmy.ini
write_ferry_ini "$pgmy"
ini_endpoint "$pgmy" pgsrc dst
ini_endpoint "$pgmy" tgt mydst
ini_task "$pgmy" frompg pgsrc tgt target_table_prep=drop 'include=public.pgt'
assess "$pgmy"
is "$rc" 1 "PostgreSQL -> MariaDB without privileges on the target database: exit 1"
like "$(line 'target privileges' FAIL)" 'lacks CREATE, INSERT, DROP on database `public`' \
	"no privileges on the target database: FAIL naming the grant"
like "$(line 'target tables' OK)" '1 will be created' "PostgreSQL -> MariaDB: the target tables are checked"
pg_sql dst "DROP TABLE public.pgt" >/dev/null

# --- nothing changed ---------------------------------------------------------------------
is "$(my_sql src "SHOW MASTER STATUS" | cut -f1,2)" "$binlog_before" "the source's binary log position is unchanged"
is "$(my_sql src "SHOW DATABASES" | sort | tr '\n' ' ')" "$databases_before" "no database created on the source"
is "$(my_sql mydst "SELECT GROUP_CONCAT(CONCAT(table_schema, '.', table_name)) FROM information_schema.TABLES
                    WHERE table_schema IN ('app', 'ferry', 'public')")" app.items "no table or database ferry on the MariaDB target"
is "$(my_sql mydst "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE schema_name IN ('ferry', 'public')")" 0 \
	"no database created on the MariaDB target"
is "$(pg_sql dst "SELECT count(*) FROM pg_namespace WHERE nspname IN ('ferry', 'app')")" 0 \
	"no schema on the PostgreSQL target"
is "$(pg_sql dst "SELECT count(*) FROM pg_replication_slots")" 0 "no slot on the PostgreSQL source"

done_testing
