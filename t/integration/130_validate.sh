#!/bin/bash
# shellcheck disable=SC2016 # jq filters are single-quoted on purpose
# Validation and cutover, PostgreSQL -> PostgreSQL, against a running task:
# - an equal copy is reported equal, also while pgbench writes to the source (the live
#   comparison re-checks what the target had not applied yet);
# - validation = yes: the validate worker's results show in status, and the key ranges
#   CDC touched are checked again;
# - cutover on a quiet source says go, and every sequence ends past the target's maximum;
# - differences planted on the target (a changed value in each column type, NULL versus
#   '', a missing row, an extra row, one row in the middle of a 200k-row table, a
#   composite text key, a table without a key) are each found and named; the same
#   without ferryd (compared once); cutover then says no-go.
. "${top_srcdir:-$(dirname "$0")/../..}/t/lib.sh"
require_ferry_binaries

start_pg src || BAIL_OUT "cannot start PostgreSQL"
start_pg dst || BAIL_OUT "cannot start PostgreSQL"

src_sql() { pg_sql src "SET ROLE ferry; $*"; }
pgbench_src() {
	PGPASSWORD=$SRC_PASSWORD "$PG_BIN/pgbench" -h 127.0.0.1 -p "$SRC_PORT" -U ferry "$@" app
}
# validate and cutover may take longer than lib.sh's 30 s bound under load.
fctl() { timeout 150 "$FERRYCTL_BIN" "$@"; }

src_sql "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE varied (
	id bigint PRIMARY KEY, n numeric(20,5), t text, b bytea, ts timestamptz, u uuid, j jsonb,
	arr int[], m mood, flag boolean, d date, f float8, iv interval,
	doubled bigint GENERATED ALWAYS AS (id * 2) STORED);
INSERT INTO varied (id, n, t, b, ts, u, j, arr, m, flag, d, f, iv)
SELECT g, g * 1.5, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('x', g % 50) END,
	decode(md5(g::text), 'hex'), '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
	md5(g::text)::uuid, jsonb_build_object('g', g, 'a', ARRAY[g, g + 1]), ARRAY[g, NULL, 3],
	(ARRAY['sad','ok','happy'])[1 + g % 3]::mood, g % 2 = 0, DATE '2020-01-01' + g, g / 3.0,
	g * interval '1 second'
FROM generate_series(1, 3000) g;
CREATE TABLE big (id bigint PRIMARY KEY, pad text);
INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
CREATE TABLE ck (region text, n int, v text, secret text, PRIMARY KEY (region, n));
INSERT INTO ck SELECT 'r' || (g % 13), g, md5(g::text), 'hidden' FROM generate_series(1, 5000) g;
CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
INSERT INTO nokey SELECT g % 100, 'r' || g FROM generate_series(1, 1000) g;
INSERT INTO nokey SELECT 1, 'dup' FROM generate_series(1, 3);
CREATE TABLE flt (id int PRIMARY KEY, v text);
INSERT INTO flt SELECT g, 'v' || g FROM generate_series(1, 100) g;
CREATE TABLE s (id serial PRIMARY KEY, v text);
INSERT INTO s (v) SELECT 'x' FROM generate_series(1, 120);
CREATE TABLE idt (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
INSERT INTO idt (v) SELECT 'y' FROM generate_series(1, 70);
" >/dev/null || BAIL_OUT "cannot create the source tables"
pgbench_src -i -s 1 -q >/dev/null 2>&1 || BAIL_OUT "pgbench -i failed"
src_sql "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" >/dev/null
pg_sql src "ANALYZE" >/dev/null

ini=$TEST_TMP/val.ini
write_ferry_ini "$ini"
ini_endpoint "$ini" pgsrc src
ini_endpoint "$ini" pgdst dst
ini_task "$ini" mig pgsrc pgdst load_workers=2 apply_workers=2 commit_rows=500 ring_size=1MB \
	validation=yes validation_interval=1s 'include=public.*' 'rename_column=public.varied.f:f_target' \
	'exclude_column=public.ck.secret' 'filter=public.flt: id % 2 = 0'
logdir=$(ferry_log_dir "$ini")
watch_log "$logdir"/*.log

in_phase() { [[ $(task_field "$ini" mig phase) == "$1" ]]; }
all_in_sync() {
	in_phase cdc && [[ $(jq_status "$ini" '[.tasks[0].tables[] | select(.state != "in-sync")] | length') == 0 ]]
}
# The worker has checked every table (its states), with this result.
validation_states() { jq_status "$ini" '[.tasks[0].tables[].validation.state] | unique | join(",")'; }
table_validation() {  # table_validation TABLE FIELD
	jq_status "$ini" '.tasks[0].tables[] | select(.name == $t) | .validation[$f]' --arg t "$1" --arg f "$2"
}

ok "ferryd starts" start_ferryd "$ini" || BAIL_OUT "ferryd did not start"
ok "every table in sync" wait_until 90 all_in_sync || BAIL_OUT "the task did not reach cdc"

# --- an equal copy ------------------------------------------------------------------------
out=$(fctl -c "$ini" validate mig)
is "$?" 0 "validate: equal copy, exit 0"
like "$out" 'compared against the running task' "validate knows the task is live"
like "$out" '"public"."big" +200000 +0 .*equal' "one line per table: big, 200000 rows, equal"
like "$out" '"public"."flt" +50 +0 .*equal' "the row filter applies to the source side"
like "$out" '"public"."nokey" +1003 +0 .*equal' "the table without a key is counted and hashed"
ok "validate worker: every table equal in status" wait_until 30 eval '[[ $(validation_states) == equal ]]'
is "$(table_validation '"public"."big"' rows_validated)" 200000 "status: big's rows_validated"
ok "status: validated_at_us is set" test "$(table_validation '"public"."varied"' validated_at_us)" -gt 0

# --- under a live write load ----------------------------------------------------------------
pgbench_src -n -c 2 -R 150 -T 25 >/dev/null 2>&1 &
bench_pid=$!
sleep 2
json=$(fctl -c "$ini" validate mig --json)
rc=$?
is "$rc" 0 "validate under pgbench load: exit 0"
is "$(jq -r .result <<<"$json")" equal "under load: result equal"
is "$(jq -r .rows_differing <<<"$json")" 0 "under load: no row reported as differing"
ok "under load: the target was re-checked after catching up" \
	test "$(jq '[.tables[].rechecks] | add' <<<"$json")" -gt 0
note "under load: $(jq -c '[.tables[] | {table, milliseconds, rechecks, rows_unsettled}]' <<<"$json")"
wait "$bench_pid"
ok "after the load: the validate worker still finds every table equal" \
	wait_until 60 eval '[[ $(validation_states) == equal ]]'

# --- cutover on a quiet source ----------------------------------------------------------------
pg_sql dst 'SELECT setval(pg_get_serial_sequence($$public.s$$, $$id$$), 1, false)' >/dev/null
json=$(fctl -c "$ini" cutover mig --wait-for-quiet --timeout 90 --json)
is "$?" 0 "cutover on a quiet source: exit 0"
is "$(jq -r .decision <<<"$json")" go "cutover: go"
is "$(jq -r .lag.zero <<<"$json")" true "cutover: lag zero"
is "$(jq -r .quiet.reached <<<"$json")" true "cutover: the source was quiet"
is "$(jq -r '.validation.result' <<<"$json")" equal "cutover: final validation equal"
is "$(jq -r '[.sequences[].sequence] | sort | join(" ")' <<<"$json")" \
	'"public"."idt_id_seq" "public"."s_id_seq"' \
	"cutover: the owned sequences (serial, identity) are set" || note "$json"
past_max() {  # past_max TABLE: the target's next id is past its largest one
	local next max
	next=$(pg_sql dst "SELECT nextval(pg_get_serial_sequence('public.$1', 'id'))")
	max=$(pg_sql dst "SELECT max(id) FROM public.$1")
	((next > max)) || { diag "$1: nextval $next, max $max"; return 1; }
}
ok "sequence of s ends past the maximum" past_max s
ok "identity sequence of idt ends past the maximum" past_max idt
is "$(jq -r '.sequences[] | select(.sequence == "\"public\".\"s_id_seq\"") | .set_to' <<<"$json")" 120 \
	"s's sequence set to the source's last value"
out=$(fctl -c "$ini" cutover mig --timeout 60)
like "$out" 'cutover of task mig: GO' "text cutover report says GO"

# --- planted differences ----------------------------------------------------------------------
pg_sql dst "
UPDATE varied SET n = n + 1 WHERE id = 11;
UPDATE varied SET t = 'changed' WHERE id = 12;
UPDATE varied SET b = '\\x00ff' WHERE id = 13;
UPDATE varied SET ts = ts + interval '1 microsecond' WHERE id = 15;
UPDATE varied SET u = '00000000-0000-0000-0000-000000000000' WHERE id = 16;
UPDATE varied SET j = '{\"g\": 0}' WHERE id = 17;
UPDATE varied SET arr = ARRAY[1, 2] WHERE id = 18;
UPDATE varied SET m = 'happy' WHERE id = 19;
UPDATE varied SET flag = NOT flag WHERE id = 20;
UPDATE varied SET d = d + 1 WHERE id = 22;
UPDATE varied SET f_target = f_target + 1e-9 WHERE id = 23;
UPDATE varied SET iv = iv + interval '1 day' WHERE id = 24;
UPDATE varied SET t = '' WHERE id = 14;
DELETE FROM varied WHERE id = 30;
INSERT INTO varied (id, t) VALUES (5000, 'extra');
UPDATE big SET pad = 'changed' WHERE id = 100000;
UPDATE ck SET v = 'changed' WHERE region = 'r3' AND n = 42;
DELETE FROM nokey WHERE ctid = (SELECT ctid FROM nokey WHERE b = 'dup' LIMIT 1);
INSERT INTO nokey VALUES (-1, 'new');
" >/dev/null || BAIL_OUT "cannot plant differences"
json=$(fctl -c "$ini" validate mig --json)
is "$?" 1 "validate with planted differences: exit 1"
changed() {  # changed ID COLUMN: varied's row ID differs in COLUMN
	jq -e --arg id "$1" --arg c "$2" '.tables[] | select(.table == "\"public\".\"varied\"") | .differences[]
		| select(.kind == "changed" and .key.id == $id and .column == $c)' <<<"$json" >/dev/null
}
for pair in 11:n 12:t 13:b 15:ts 16:u 17:j 18:arr 19:m 20:flag 22:d 23:f 24:iv 14:t; do
	ok "varied id ${pair%%:*}: column ${pair#*:} found" changed "${pair%%:*}" "${pair#*:}"
done
is "$(jq -r '.tables[] | select(.table == "\"public\".\"varied\"") | .differences[]
	| select(.key.id == "14") | "\(.source)|\(.target)"' <<<"$json")" "null|" "NULL on the source, '' on the target"
is "$(jq -r '.tables[] | select(.table == "\"public\".\"varied\"") | .differences[]
	| select(.key.id == "23") | .target_column' <<<"$json")" f_target "a renamed column is named on both sides"
is "$(jq -r '.tables[] | select(.table == "\"public\".\"varied\"") | .differences[] | select(.kind == "missing") | .key.id' <<<"$json")" \
	30 "varied: the missing row is named"
is "$(jq -r '.tables[] | select(.table == "\"public\".\"varied\"") | .differences[] | select(.kind == "extra") | .key.id' <<<"$json")" \
	5000 "varied: the extra row is named"
is "$(jq -r '.tables[] | select(.table == "\"public\".\"varied\"") | "\(.rows_changed) \(.rows_missing) \(.rows_extra)"' <<<"$json")" \
	"13 1 1" "varied: 13 changed, 1 missing, 1 extra"
is "$(jq -r '.tables[] | select(.table == "\"public\".\"big\"") | .differences[] | "\(.key.id) \(.column) \(.target)"' <<<"$json")" \
	"100000 pad changed" "big: the row in the middle is found"
is "$(jq -r '.tables[] | select(.table == "\"public\".\"ck\"") | .differences[] | "\(.key.region) \(.key.n) \(.column)"' <<<"$json")" \
	"r3 42 v" "composite text key: the row is named"
is "$(jq -r '.tables[] | select(.table == "\"public\".\"nokey\"") | "\(.rows_missing) \(.rows_extra)"' <<<"$json")" \
	"1 1" "no key: one row on each side only"
is "$(jq -r '[.tables[] | select(.result == "different") | .table] | sort | join(" ")' <<<"$json")" \
	'"public"."big" "public"."ck" "public"."nokey" "public"."varied"' "exactly the planted tables differ"
out=$(fctl -c "$ini" validate mig --table public.varied --limit 3)
is "$?" 1 "validate --table: exit 1"
like "$out" 'id=11: column n: source .16\.50000., target .17\.50000.' "text report names key, column and both values"
like "$out" 'more differences are not listed' "--limit cuts the list"
unlike "$out" '"public"."big"' "--table compares that table only"

# The validate worker re-checks the key ranges of varied that CDC touched: a change of
# id 10 brings back the range around it, where the planted ids 11 and 12 differ; the
# other planted rows lie outside it and wait for a whole comparison.
src_sql "UPDATE varied SET n = 0 WHERE id = 10" >/dev/null
ok "validate worker: varied re-checked after a change, different in status" \
	wait_until 30 eval '[[ $(table_validation "\"public\".\"varied\"" state) == different ]]'
diffs=$(table_validation '"public"."varied"' rows_differing)
ok "status: varied's rows_differing counts the touched range only ($diffs of the 15)" \
	test "$diffs" -ge 1 -a "$diffs" -lt 15
like_file "$logdir/validate-mig.log" '"public"."varied": re-checked only the key ranges CDC touched \(1\)' \
	"the worker re-checks the touched range, not the table"
like_file "$logdir/validate-mig.log" 'id=11: column n' "the worker logs the difference found there"
unlike_file "$logdir/validate-mig.log" 'id=30: missing on the target' "a row outside the touched range is not compared"

json=$(fctl -c "$ini" cutover mig --timeout 30 --json)
is "$?" 1 "cutover with differences: exit 1 (no-go)"
like "$(jq -r '.reasons[]' <<<"$json")" 'validation: .* rows differ' "no-go names the differences"

# --- without ferryd: compared once ------------------------------------------------------------
stop_ferryd "$ini"
out=$(fctl -c "$ini" validate mig)
is "$?" 1 "ferryd stopped: validate still finds the differences"
like "$out" 'ferryd is not running: source and target compared once' "it says it compared once"
like "$out" 'id=100000: column pad' "and names them"
fctl -c "$ini" validate mig --table nosuch >/dev/null 2>&1
is "$?" 2 "an unknown table: exit 2"

done_testing
