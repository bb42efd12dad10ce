#!/bin/bash
# The PostgreSQL engine tests that need a live server (catalog reading and DDL, the
# replication client and pgoutput decoding, ...) run here against a throwaway
# PostgreSQL 15: each is a Check binary that skips itself without FERRY_TEST_PGCONNINFO.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"

engines=(check_pg_catalog check_pg_repl check_pg_load check_pg_capture check_pg_apply)
plan $((1 + ${#engines[@]}))

ok "PostgreSQL server starts" start_pg src

# The superuser over the unix socket (trust): the tests create schemas, publications
# and slots of their own.
export FERRY_TEST_PGCONNINFO="host=$SRC_SOCKDIR port=$SRC_PORT user=postgres dbname=app"
for t in "${engines[@]}"; do
	log=$TEST_TMP/$t.log
	if timeout 300 "$top_builddir/t/unit/$t" >"$log" 2>&1; then
		pass "$t passes against a live server"
	else
		fail "$t passes against a live server" "$(tail -n 30 "$log")"
	fi
	# A skip (77) would mean the server was not handed over: that is a failure here.
	grep -q '100%: Checks' "$log" || diag "$t output:" "$(tail -n 5 "$log")"
done

done_testing
