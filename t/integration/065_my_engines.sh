#!/bin/bash
# The MySQL/MariaDB engine tests that need live servers (catalog reading and the DDL it
# leads to, the snapshot and load of the full-load path, the binlog decoder on real
# events) run here against a throwaway MariaDB and PostgreSQL 15: each is a Check
# binary that runs its live cases only with FERRY_TEST_MYSQL_SOCKET and
# FERRY_TEST_PGCONNINFO set.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"

engines=(check_my_catalog check_my_preflight check_my_load check_my_binlog)
plan $((2 + ${#engines[@]}))

ok "MariaDB server starts" start_mariadb my
ok "PostgreSQL server starts" start_pg pg

# Root over the MariaDB socket and the PostgreSQL superuser over its socket: the tests
# create databases and schemas of their own.
export FERRY_TEST_MYSQL_SOCKET="$MY_SOCKDIR/sock"
export FERRY_TEST_PGCONNINFO="host=$PG_SOCKDIR port=$PG_PORT user=postgres dbname=app"
for t in "${engines[@]}"; do
	log=$TEST_TMP/$t.log
	if timeout 300 "$top_builddir/t/unit/$t" >"$log" 2>&1; then
		pass "$t passes against live servers"
	else
		fail "$t passes against live servers" "$(tail -n 30 "$log")"
	fi
	grep -q '^live: yes' "$log" || fail "$t ran its live cases" "$(tail -n 5 "$log")"
done

done_testing
