#!/bin/bash
# The harness itself: throwaway PostgreSQL and MariaDB servers start on free loopback
# ports, accept the ferry user's login with its password, are configured for logical
# decoding / ROW binlog, and are stopped by pid.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"

plan 16

ok "PostgreSQL server starts" start_pg src
ok "MariaDB server starts" start_mariadb msrc

port_re='^[0-9]+$'
like "$SRC_PORT" "$port_re" "SRC_PORT is set"
like "$MSRC_PORT" "$port_re" "MSRC_PORT is set"
isnt "$SRC_PORT" "$MSRC_PORT" "each server has its own port"
like "$(ss -Htln "sport = :$SRC_PORT")" '127\.0\.0\.1:' "PostgreSQL listens on loopback only"

is "$(pg_login src)" ferry "PostgreSQL: ferry logs in over TCP with its password"
PGPASSWORD=wrong-password "$PG_BIN/psql" -X -h 127.0.0.1 -p "$SRC_PORT" -U ferry -d app \
	-c 'SELECT 1' >/dev/null 2>&1
isnt $? 0 "PostgreSQL: a wrong password is refused"
is "$(pg_sql src 'SHOW wal_level')" logical "PostgreSQL: wal_level is logical"
is "$(pg_sql src "SELECT rolreplication FROM pg_roles WHERE rolname = 'ferry'")" t \
	"PostgreSQL: ferry has REPLICATION"

is "$(my_login msrc)" "ferry@%" "MariaDB: ferry logs in over TCP with its password"
MYSQL_PWD=wrong-password mariadb --no-defaults -h 127.0.0.1 -P "$MSRC_PORT" -u ferry \
	-e 'SELECT 1' >/dev/null 2>&1
isnt $? 0 "MariaDB: a wrong password is refused"
is "$(my_sql msrc 'SELECT @@binlog_format, @@log_bin')" "ROW	1" "MariaDB: binlog on, format ROW"

pg_pid=$SRC_PID my_pid=$MSRC_PID
stop_pg src
stop_mariadb msrc
nok "PostgreSQL postmaster is gone after stop_pg" _alive "$pg_pid"
nok "mariadbd is gone after stop_mariadb" _alive "$my_pid"
is "$(ss -Htln "( sport = :$SRC_PORT or sport = :$MSRC_PORT )")" "" "both ports are closed again"

done_testing
