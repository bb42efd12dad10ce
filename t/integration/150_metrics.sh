#!/bin/bash
# shellcheck disable=SC2016 # jq filters and eval strings are single-quoted on purpose
# Visibility: the metrics endpoint answers /metrics (Prometheus text) and /status (the
# JSON of `ferryctl status --json`), 404/405/400 otherwise; for a quiet, caught-up
# PostgreSQL -> PostgreSQL task its numbers (rows loaded, changes applied by operation
# after known inserts, updates, deletes and a truncate, worker restarts after a kill) are
# the ones status shows and the ones the test made; a reload moves it to another port,
# a port in use keeps it where it is, and at start a port in use is a clear error;
# `ferryctl status --watch` into a file prints frames and ends when ferryd stops; every
# member of the status JSON is documented in doc/status.md.
# HTTP goes through bash's /dev/tcp (no client program needed).
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"
src_sql() { pg_sql src "SET ROLE ferry; $*"; }
src_sql "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g;
         CREATE TABLE t2 (id int PRIMARY KEY);
         INSERT INTO t2 SELECT generate_series(1, 10)" >/dev/null || BAIL_OUT "cannot create the source tables"
pg_sql src "ANALYZE" >/dev/null

ini=$TEST_TMP/metrics.ini
port=$(free_port) || BAIL_OUT "no free port"
write_config() {  # write_config METRICS_LISTEN
	write_ferry_ini "$ini" "metrics_listen=$1"
	ini_endpoint "$ini" pgsrc src
	ini_endpoint "$ini" pgdst dst
	ini_task "$ini" mig pgsrc pgdst target_table_prep=drop create_tables=yes 'include=public.*'
}
write_config "127.0.0.1:$port"
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

# http PORT METHOD PATH: the whole response, head and body, CRs removed.
http() {
	local fd rc
	exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" "$3" >&"$fd"
	timeout 10 cat <&"$fd" | tr -d '\r'
	rc=${PIPESTATUS[0]}
	exec {fd}>&-
	return "$rc"
}
http_status() { http "$@" 2>/dev/null | head -n 1; }
http_body() { http "$@" 2>/dev/null | sed '1,/^$/d'; }
answers() { [[ $(http_status "$1" GET /metrics) == "HTTP/1.1 200 OK" ]]; }
# metric TEXT NAME LABELS: the value of the sample NAME{LABELS}, as the page prints it.
metric() {
	want="$2{$3} " awk 'index($0, ENVIRON["want"]) == 1 { print substr($0, length(ENVIRON["want"]) + 1) }' <<<"$1"
}

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
like "$(cat "$logdir/supervisor.log")" "metrics endpoint listening on 127.0.0.1:$port" "the log names the address"

# --- the endpoint -------------------------------------------------------------------------
resp=$(http "$port" GET /metrics)
like "$(head -n 1 <<<"$resp")" '^HTTP/1\.1 200 OK$' "GET /metrics: 200"
like "$resp" $'\nContent-Type: text/plain; version=0\\.0\\.4; charset=utf-8\n' "GET /metrics: Prometheus content type"
like "$resp" $'\nConnection: close\n' "Connection: close"
body=$(sed '1,/^$/d' <<<"$resp")
is "$(printf '%s\n' "$body" | wc -c)" "$(sed -n 's/^Content-Length: //p' <<<"$resp")" "Content-Length is the body's"
# Every sample belongs to a family announced by HELP and TYPE before it.
bad_lines=$(awk '/^# HELP /{help[$3]=1; next} /^# TYPE /{type[$3]=$4; next}
	{ name=$1; sub(/\{.*/, "", name); if (!(name in type) || !(name in help)) print }' <<<"$body")
is "$bad_lines" "" "every sample follows the HELP and TYPE lines of its family"
is "$(grep -c '^ferry_uptime_seconds [0-9.]*$' <<<"$body")" 1 "ferry_uptime_seconds is there"
is "$(http_status "$port" GET /nope)" "HTTP/1.1 404 Not Found" "another path: 404"
is "$(http_status "$port" POST /metrics)" "HTTP/1.1 405 Method Not Allowed" "POST: 405"
is "$(http_body "$port" HEAD /status)" "" "HEAD: no body"
is "$(http_status "$port" GET /status)" "HTTP/1.1 200 OK" "GET /status: 200"
garbage=$( { exec {fd}<>"/dev/tcp/127.0.0.1/$port" && printf 'hello\r\n\r\n' >&"$fd" && timeout 10 cat <&"$fd"; } 2>/dev/null | head -n 1 | tr -d '\r')
is "$garbage" "HTTP/1.1 400 Bad Request" "a malformed request: 400"
# A client that connects and says nothing must not hold up anything else.
exec {idle}<>"/dev/tcp/127.0.0.1/$port"
is "$(http_status "$port" GET /metrics)" "HTTP/1.1 200 OK" "answers while another client stalls"
exec {idle}>&-

# --- a quiet task: the endpoint's numbers are status's and the test's -------------------
in_sync() {
	[[ $(jq_status "$ini" '[.tasks[] | select(.phase == "cdc") | .tables[] | select(.state == "in-sync")] | length') == 2 ]]
}
ok "the task reaches cdc with both tables in sync" wait_until 60 in_sync
src_sql "INSERT INTO t SELECT g, 'n' || g FROM generate_series(501, 530) g;
         UPDATE t SET v = 'u' WHERE id <= 20;
         DELETE FROM t WHERE id > 520;
         TRUNCATE t2" >/dev/null
tq='.tasks[] | select(.name == "mig") | .tables[] | select(.name == "\"public\".\"t\"")'
t2q='.tasks[] | select(.name == "mig") | .tables[] | select(.name == "\"public\".\"t2\"")'
quiet() {
	[[ $(jq_status "$ini" "[$tq | .changes_by_op | .insert, .update, .delete] | join(\" \")") == "30 20 10" ]] &&
		[[ $(jq_status "$ini" "$t2q | .changes_by_op.truncate") == 1 ]] &&
		[[ $(task_field "$ini" mig lag_bytes) == 0 ]]
}
ok "the changes are applied and the lag is 0" wait_until 60 quiet
doc=$(status_json "$ini")
m=$(http_body "$port" GET /metrics)
lt='task="mig",table="\"public\".\"t\""'
lt2='task="mig",table="\"public\".\"t2\""'
is "$(metric "$m" ferry_table_rows_loaded "$lt")" 500 "rows loaded of t: 500"
is "$(metric "$m" ferry_table_rows_loaded "$lt2")" 10 "rows loaded of t2: 10"
is "$(metric "$m" ferry_table_changes_applied_total "$lt,op=\"insert\"")" 30 "t: 30 inserts applied"
is "$(metric "$m" ferry_table_changes_applied_total "$lt,op=\"update\"")" 20 "t: 20 updates applied"
is "$(metric "$m" ferry_table_changes_applied_total "$lt,op=\"delete\"")" 10 "t: 10 deletes applied"
is "$(metric "$m" ferry_table_changes_applied_total "$lt2,op=\"truncate\"")" 1 "t2: 1 truncate applied"
is "$(metric "$m" ferry_table_state "$lt,state=\"in-sync\"")" 1 "t: state in-sync is 1"
is "$(metric "$m" ferry_table_state "$lt,state=\"loading\"")" 0 "t: state loading is 0"
is "$(metric "$m" ferry_task_phase 'task="mig",phase="cdc"')" 1 "phase cdc is 1"
is "$(metric "$m" ferry_table_validation_state "$lt,state=\"none\"")" 1 "validation none (validation = no)"
# Every table figure the page has, against status taken just before.
mismatch=""
for table in '"public"."t"' '"public"."t2"'; do
	labels="task=\"mig\",table=\"${table//\"/\\\"}\""
	for pair in rows_loaded:.rows_loaded rows_estimated:.rows_estimated partitions:.partitions \
		partitions_done:.partitions_done rows_validated:.validation.rows_validated \
		rows_differing:.validation.rows_differing; do
		want=$(jq -r --arg t "$table" ".tasks[].tables[] | select(.name == \$t) | ${pair#*:}" <<<"$doc")
		got=$(metric "$m" "ferry_table_${pair%%:*}" "$labels")
		[[ $got == "$want" ]] || mismatch+=" $table ${pair%%:*}: metrics $got, status $want;"
	done
	for op in insert update delete truncate; do
		want=$(jq -r --arg t "$table" ".tasks[].tables[] | select(.name == \$t) | .changes_by_op.$op" <<<"$doc")
		got=$(metric "$m" ferry_table_changes_applied_total "$labels,op=\"$op\"")
		[[ $got == "$want" ]] || mismatch+=" $table $op: metrics $got, status $want;"
	done
done
for f in lag_bytes lag_seconds spill_bytes changes_captured; do
	name=ferry_task_$f
	[[ $f == changes_captured ]] && name=ferry_task_changes_captured_total
	want=$(jq -r ".tasks[0].$f" <<<"$doc")
	got=$(metric "$m" "$name" 'task="mig"')
	[[ $got == "$want" ]] || mismatch+=" $f: metrics $got, status $want;"
done
is "$mismatch" "" "every table and task figure of /metrics equals ferryctl status --json"
is "$(jq -r '.tasks[0].changes_captured' <<<"$doc")" 61 "61 changes captured (30 + 20 + 10 + 1)"

# /status is the document of ferryctl status --json (the stable parts of a quiet task).
stable='{pid: .ferryd.pid, config: .ferryd.config, tasks: [.tasks[] | {name, phase, error, tables,
	workers: [.workers[] | {name, kind, index, pid, state, restarts}]}]}'
is "$(http_body "$port" GET /status | jq -cS "$stable")" "$(status_json "$ini" | jq -cS "$stable")" \
	"GET /status gives the document of ferryctl status --json"

# Worker restarts: kill an apply worker; the endpoint counts what status counts.
victim=$(worker_pid "$ini" "apply mig.1")
remember_worker "$victim"
kill -KILL "$victim"
restarted() { [[ $(worker_field "$ini" "apply mig.1" restarts) -ge 1 && -n $(worker_pid "$ini" "apply mig.1") ]]; }
ok "apply mig.1 is restarted" wait_until 30 restarted
status_restarts=$(jq_status "$ini" '[.tasks[].workers[] | "\(.name)=\(.restarts)"] | sort | join(" ")')
m=$(http_body "$port" GET /metrics)
metric_restarts=$(sed -n 's/^ferry_worker_restarts_total{.*,worker="\([^"]*\)",.*} \([0-9]*\)$/\1=\2/p' <<<"$m" |
	sort | paste -sd ' ')
is "$metric_restarts" "$status_restarts" "ferry_worker_restarts_total equals status restarts for every worker"
is "$(metric "$m" ferry_worker_up 'task="mig",worker="capture mig",kind="capture"')" 1 "capture mig is up"

# --- status --watch into a file: frames, and the end when ferryd stops ------------------
watch_out=$TEST_TMP/watch.out
"$FERRYCTL_BIN" -c "$ini" status --watch >"$watch_out" 2>&1 &
watch_pid=$!
frames() { grep -c '^ferryctl status --watch' "$watch_out"; }
ok "status --watch prints frames" wait_until 10 eval '(( $(frames) >= 2 ))'
like "$(cat "$watch_out")" '"public"\."t" +in-sync +500 / ' "a frame shows table t in sync with its 500 rows"
like "$(cat "$watch_out")" 'task mig +phase cdc +lag 0 s' "a frame shows the task's phase and lag"
unlike "$(cat "$watch_out")" $'\033' "no terminal escapes into a file"

# --- reload: another port; then a port in use keeps it --------------------------------------
port2=$(free_port)
write_config "127.0.0.1:$port2"
out=$(ferryctl -c "$ini" reload 2>&1)
is "$?" 0 "reload with another metrics_listen"
ok "the endpoint answers on the new port" wait_until 5 answers "$port2"
nok "the old port is closed" answers "$port"
write_config "127.0.0.1:$SRC_PORT"  # PostgreSQL listens there
out=$(ferryctl -c "$ini" reload 2>&1)
like "$out" "cannot listen on 127\\.0\\.0\\.1:$SRC_PORT: Address already in use.*stays on 127\\.0\\.0\\.1:$port2" \
	"a port in use: the reload says so and where the endpoint stays"
like_file "$logdir/supervisor.log" "metrics_listen = 127\\.0\\.0\\.1:$SRC_PORT: cannot listen" "and the log"
ok "the endpoint still answers on its port" answers "$port2"

# --- at start, a port in use is a clear error ---------------------------------------------
ini_b=$TEST_TMP/second.ini
write_ferry_ini "$ini_b" "metrics_listen=127.0.0.1:$port2"
out=$(timeout 20 "$FERRYD" -c "$ini_b" -f 2>&1 </dev/null)
is "$?" 1 "a second ferryd on the same metrics port does not start"
like "$out" "metrics_listen = 127\\.0\\.0\\.1:$port2: cannot listen on 127\\.0\\.0\\.1:$port2: Address already in use" \
	"and names the address in use"

# --- every status member is documented -----------------------------------------------------
paths=$(status_json "$ini" | jq -r '[paths | select(.[-1] | type == "string") | map(if type == "number" then "[]" else . end)
	| reduce .[] as $p (""; if $p == "[]" then . + "[]" elif . == "" then $p else . + "." + $p end)] | unique[]')
undocumented=""
for p in $paths; do
	grep -qF "| \`$p\` |" "$top_srcdir/doc/status.md" || undocumented+=" $p"
done
is "$undocumented" "" "doc/status.md documents every member of the status JSON"
for fam in $(awk '/^# TYPE /{print $3}' <<<"$m"); do
	grep -qF "| \`$fam\` |" "$top_srcdir/doc/metrics.md" || undocumented+=" $fam"
done
is "$undocumented" "" "doc/metrics.md documents every metric family"

stop_ferryd "$ini"
is "$?" 0 "ferryd stops"
ok "status --watch ends when ferryd stops" wait_until 10 eval '! kill -0 $watch_pid 2>/dev/null'
wait "$watch_pid"
is "$?" 0 "status --watch exits 0"
like "$(tail -n 1 "$watch_out")" 'ferryd stopped answering' "its last line says why it ended"

done_testing
