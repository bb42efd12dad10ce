#!/bin/bash
# A first look at ferry on a fresh Debian 12 machine (as root, or a user with sudo):
# installs the packages needed, builds ferry, starts throwaway servers (a PostgreSQL
# source, a PostgreSQL target and a MariaDB target) in a temp dir on free loopback ports,
# loads a little sample data, writes a config, starts ferryd and shows what runs.
# Everything is stopped and removed at the end (or on Ctrl-C).
#
#   contrib/quickstart.sh           run the demo and stop
#   contrib/quickstart.sh --wait    leave it running until Enter or Ctrl-C
#
# BUILD_DIR=dir builds out of tree there (default: the source tree).
set -o pipefail

wait_for_user=
case ${1:-} in
--wait) wait_for_user=1 ;;
"") ;;
*) echo "usage: $0 [--wait]" >&2; exit 2 ;;
esac

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILD_DIR:-$srcdir}
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() { echo "quickstart: $*" >&2; exit 1; }

say "Installing the Debian packages ferry needs"
"$srcdir/contrib/install-deps.sh" || die "installing packages failed"

if [[ ! -x $builddir/ferryd || ! -x $builddir/ferryctl ]]; then
	say "Building ferry in $builddir"
	(
		set -e
		cd "$srcdir"
		[[ -x configure ]] || autoreconf -fi
		mkdir -p "$builddir"
		cd "$builddir"
		[[ -f Makefile ]] || "$srcdir/configure" -q
		make -j"$(nproc)" ferryd ferryctl
	) || die "build failed"
fi

# The test harness starts and stops the servers; it also stops everything it started
# when this script exits, however it exits.
top_srcdir=$srcdir top_builddir=$builddir TEST_TIMEOUT=86400
export top_srcdir top_builddir
# shellcheck source=../t/lib.sh
. "$srcdir/t/lib.sh"

say "Starting throwaway servers in $TEST_TMP"
start_pg source || die "PostgreSQL did not start"
echo "PostgreSQL source  127.0.0.1:$SOURCE_PORT (wal_level = logical)"
start_pg target || die "PostgreSQL did not start"
echo "PostgreSQL target  127.0.0.1:$TARGET_PORT"
start_mariadb mtarget || die "MariaDB did not start"
echo "MariaDB target     127.0.0.1:$MTARGET_PORT (binlog ROW)"

say "Loading sample data into the source"
pg_sql source "
	CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text);
	CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers,
	                     amount numeric(10,2), created_at timestamptz DEFAULT now());
	INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com'
	  FROM generate_series(1, 1000) g;
	INSERT INTO orders (id, customer_id, amount) SELECT g, 1 + g % 1000, (g % 500) + 0.99
	  FROM generate_series(1, 10000) g;
	ALTER TABLE customers OWNER TO ferry;
	ALTER TABLE orders OWNER TO ferry;" || die "loading sample data failed"
pg_sql source "SELECT 'customers: ' || count(*) FROM customers UNION ALL
	SELECT 'orders:    ' || count(*) FROM orders"

ini=$TEST_TMP/ferry.ini
# The defaults for restarts and shutdown (the tests use shorter ones).
write_ferry_ini "$ini" restart_delay=@unset restart_delay_max=@unset restart_stable=@unset \
	crash_loop_max=@unset crash_loop_window=@unset shutdown_timeout=@unset
ini_endpoint "$ini" pgsrc source
ini_endpoint "$ini" pgdst target
ini_endpoint "$ini" mydst mtarget
ini_task "$ini" orders pgsrc pgdst load_workers=2 apply_workers=2 validation=yes
ini_task "$ini" orders_to_mariadb pgsrc mydst load_workers=1 apply_workers=1
say "The config ($ini)"
grep -v '^;' "$ini"

say "Checking it: ferryd -t -c $ini"
"$FERRYD" -t -c "$ini" || die "the config was rejected"

say "Starting ferryd -f -c $ini"
start_ferryd "$ini" || die "ferryd did not start: $(tail -n 5 "$TEST_TMP/ferry.d/ferryd.out" 2>/dev/null)"
if ! wait_until 30 all_ready "$ini"; then
	echo "not every worker is ready after 30s; status follows"
fi

say "ferryctl -c $ini status"
ferryctl -c "$ini" status

say "The processes (ps): one supervisor, one process per worker"
ps -o pid,ppid,args --ppid "$FERRYD_PID" -p "$FERRYD_PID"

say "The log files in $(ferry_log_dir "$ini")"
for f in "$(ferry_log_dir "$ini")"/*.log; do
	echo "--- ${f##*/}"
	tail -n 3 "$f"
done

say "What this shows, honestly"
cat <<'EOF'
This build has ferry's foundation: the supervisor, its worker processes (capture, load,
apply, validate), restarts with backoff, config checking and reload, logs, the control
socket and the shared-memory queues. Migrations themselves (full load, change data
capture, validation) are not implemented yet: each worker connects to its endpoints,
reports "ready" and waits. The sample data above is not copied to the targets yet.
EOF

if [[ -n $wait_for_user ]]; then
	say "ferryd is running. Try: $FERRYCTL_BIN -c $ini status --json"
	echo "Press Enter (or Ctrl-C) to stop everything."
	read -r _ </dev/tty || true
fi

say "Stopping: ferryctl -c $ini stop"
ferryctl -c "$ini" stop >/dev/null && echo "ferryd asked to stop"
if _wait_gone "$FERRYD_PID" 40; then
	wait "$FERRYD_PID" 2>/dev/null
	echo "ferryd and its workers have stopped"
else
	echo "ferryd did not stop within 40s; it will be killed"
fi
echo "the throwaway servers are stopped and $TEST_TMP removed on exit"
