/* ferryctl cutover TASK [--wait-for-quiet] [--timeout SECONDS] [--json]: the last steps
 * before the applications move to the target, and a go/no-go report.
 *   1. the task is streaming (phase cdc; a full-load task: finished), every table in sync;
 *   2. --wait-for-quiet: the source shows no writes for QUIET_MS (no captured change of
 *      the task's tables, no transaction holding a transaction id in the database; a
 *      MySQL source: a binlog position that stays put);
 *   3. lag zero: a marker is written to the source's log (pg_logical_emit_message: an
 *      idle source's stream otherwise need not move past its last commit; a MySQL
 *      source's current binlog position, which its heartbeats carry the stream to) and
 *      the target must hold every change before it (the task's applied_position);
 *   4. every sequence owned by a migrated column (serial, identity) is set on the target
 *      past the migrated maximum: the larger of the source's last_value and the target
 *      column's maximum; with MySQL on a side, AUTO_INCREMENT counters and the identity
 *      sequences of AUTO_INCREMENT columns likewise (ferryctl_db_counters.c);
 *   5. a final validation of every table.
 * Go when all of that holds. Exit status: 0 go, 1 no-go, 2 error. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/ferryctl_db_int.h"
#include "workers/pg_catalog.h"
#include "workers/pg_ddl.h"
#include "workers/my_validate.h"
#include "workers/pg_validate.h"

#define QUIET_MS 5000
#define DEFAULT_TIMEOUT_S 300

int fc_cutover_main(fc_ctx *c, int argc, char **argv);

typedef struct cutover {
	fc_ctx *c;
	bool wait_quiet, json;
	int timeout_s;
	uint64_t deadline;
	vd_pg_pool pool;   /* one lane: position, quiet, sequences */
	vd_pg_task vt;
	char *reasons[16]; /* why no-go */
	int n_reasons;
	bool quiet;
	uint64_t quiet_ms;
	uint64_t binlog_seen; /* MySQL source: the binlog position at the last look */
	bool lag_zero, lag_applies;
	uint64_t marker, applied;
	double lag_wait_s;
	fc_counter *seqs;
	int n_seqs;
	fc_validation v;
	bool validated;
} cutover;

static void no_go(cutover *cu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void no_go(cutover *cu, const char *fmt, ...)
{
	if (cu->n_reasons >= (int)(sizeof cu->reasons / sizeof cu->reasons[0]))
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	cu->reasons[cu->n_reasons++] = strdup(buf);
}

static PGconn *src_conn(cutover *cu) { return cu->pool.ep[VD_SOURCE][0]->pg; }
static PGconn *dst_conn(cutover *cu) { return cu->pool.ep[VD_TARGET][0]->pg; }
static MYSQL *src_my(cutover *cu) { return cu->pool.ep[VD_SOURCE][0]->mysql; }
static bool my_source(const cutover *cu) { return cu->pool.ep[VD_SOURCE][0]->engine == ENGINE_MYSQL; }

/* A source position as operators read it: a PostgreSQL LSN, or binlog file and offset. */
static const char *pos_text(const cutover *cu, uint64_t pos, char *buf, size_t size)
{
	if (my_source(cu))
		snprintf(buf, size, "binlog file %u offset %u", (unsigned)(pos >> 32), (unsigned)pos);
	else
		snprintf(buf, size, "%X/%X", (unsigned)(pos >> 32), (unsigned)pos);
	return buf;
}

/* One value of a one-row query, malloc'd; NULL on failure (err set). */
static char *query_value(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	char *v = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	else
		snprintf(err, errlen, "%s", PQresultStatus(res) == PGRES_TUPLES_OK ? "no value" : PQerrorMessage(conn));
	PQclear(res);
	return v;
}

/* ---- 1. the task ------------------------------------------------------------------- */

/* 0 to go on (reasons may have been added), -1 error (printed). */
static int check_task(cutover *cu)
{
	fc_ctx *c = cu->c;
	char err[512];
	int st = fc_refresh_status(c, err, sizeof err);
	bool full_load = c->task->migration_type == MIGRATION_FULL_LOAD;
	cu->lag_applies = !full_load;
	if (st < 0 || (st == 1 && !full_load)) {
		fprintf(stderr, "ferryctl: %s\n", st < 0 ? err : "ferryd is not running: cutover needs the running task");
		return -1;
	}
	const char *phase = c->task_status ? json_get_string(c->task_status, "phase") : NULL;
	if (!full_load && (phase == NULL || strcmp(phase, "cdc") != 0))
		no_go(cu, "task %s is in phase %s, not cdc", c->task->name, phase ? phase : "unknown");
	if (full_load && phase && strcmp(phase, "stopped") != 0)
		no_go(cu, "task %s (full-load) has not finished: phase %s", c->task->name, phase);
	const json_value *tables = json_get(c->task_status, "tables");
	for (int i = 0; tables && tables->type == JSON_ARRAY && i < tables->count; i++) {
		const char *state = json_get_string(&tables->items[i], "state");
		if (state && strcmp(state, "in-sync") != 0)
			no_go(cu, "table %s is %s", json_get_string(&tables->items[i], "name"), state);
	}
	return 0;
}

/* ---- 2. quiet ---------------------------------------------------------------------- */

static const char writers_sql[] =
	"SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity WHERE datname = pg_catalog.current_database()"
	" AND backend_xid IS NOT NULL AND pid <> pg_catalog.pg_backend_pid()";

/* A MySQL source wrote since the last look: its binlog moved (any write of any table
 * goes there; reading transactions in progress needs the PROCESS privilege). */
static int binlog_moved(cutover *cu, bool *seen)
{
	char err[512];
	uint64_t pos;
	if (my_vd_current_position(src_my(cu), &pos, err, sizeof err) < 0) {
		fprintf(stderr, "ferryctl: source: %s\n", err);
		return -1;
	}
	*seen = cu->binlog_seen != 0 && pos != cu->binlog_seen;
	cu->binlog_seen = pos;
	return 0;
}

/* Writes seen now: transactions holding an xid (PostgreSQL) or a binlog that moved
 * (MySQL), or changes captured since last time. */
static int writes_seen(cutover *cu, double *captured, bool *seen)
{
	char err[512];
	if (my_source(cu)) {
		if (binlog_moved(cu, seen) < 0)
			return -1;
	} else {
		char *writers = query_value(src_conn(cu), writers_sql, err, sizeof err);
		if (writers == NULL) {
			fprintf(stderr, "ferryctl: source: reading pg_stat_activity: %s\n", err);
			return -1;
		}
		*seen = atoi(writers) > 0;
		free(writers);
	}
	if (cu->lag_applies && fc_refresh_status(cu->c, err, sizeof err) == 0) {
		double now = json_get_number(cu->c->task_status, "changes_captured", 0);
		*seen |= now != *captured;
		*captured = now;
	}
	return 0;
}

static int wait_quiet(cutover *cu)
{
	double captured = -1;
	uint64_t since = fc_now_ms();
	bool seen;
	if (writes_seen(cu, &captured, &seen) < 0)
		return -1;
	if (!cu->json)
		printf("waiting for the source to be quiet (no writes for %d s)...\n", QUIET_MS / 1000);
	while (fc_now_ms() < cu->deadline && !fc_interrupted()) {
		fc_sleep_ms(500);
		if (writes_seen(cu, &captured, &seen) < 0)
			return -1;
		if (seen)
			since = fc_now_ms();
		if (fc_now_ms() - since >= QUIET_MS) {
			cu->quiet = true;
			cu->quiet_ms = fc_now_ms() - since;
			return 0;
		}
	}
	no_go(cu, "the source did not stop writing within the timeout");
	return 0;
}

/* ---- 3. lag ------------------------------------------------------------------------ */

/* The position the target must reach: a marker written to PostgreSQL's WAL, or a MySQL
 * source's current binlog position (its stream reaches it with the heartbeats). */
static int take_marker(cutover *cu)
{
	char err[512];
	if (my_source(cu)) {
		if (my_vd_current_position(src_my(cu), &cu->marker, err, sizeof err) == 0)
			return 0;
		fprintf(stderr, "ferryctl: source: %s\n", err);
		return -1;
	}
	char *marker = query_value(src_conn(cu),
				   "SELECT pg_catalog.pg_logical_emit_message(false, 'ferry', 'cutover')::text", err,
				   sizeof err);
	int rc = marker && pg_vd_parse_lsn(marker, &cu->marker) == 0 ? 0 : -1;
	if (rc < 0)
		fprintf(stderr, "ferryctl: source: writing the cutover marker: %s\n", marker ? marker : err);
	free(marker);
	return rc;
}

static int wait_lag(cutover *cu)
{
	char err[512];
	if (take_marker(cu) < 0)
		return -1;
	uint64_t start = fc_now_ms();
	while (!fc_interrupted()) {
		uint64_t pos = 0;
		if (cu->c->env.target_position(cu->c->env.arg, &pos, err, sizeof err) < 0) {
			fprintf(stderr, "ferryctl: %s\n", err);
			return -1;
		}
		cu->applied = pos;
		if (pos >= cu->marker) {
			cu->lag_zero = true;
			break;
		}
		if (fc_now_ms() >= cu->deadline)
			break;
		fc_sleep_ms(200);
	}
	cu->lag_wait_s = (double)(fc_now_ms() - start) / 1000.0;
	char a[64], m[64];
	if (!cu->lag_zero)
		no_go(cu, "lag: the target holds the changes before %s, the source is at %s (%" PRIu64
			  " bytes behind) after %.0f s", pos_text(cu, cu->applied, a, sizeof a),
		      pos_text(cu, cu->marker, m, sizeof m), cu->marker - cu->applied, cu->lag_wait_s);
	return 0;
}

/* ---- 4. sequences ------------------------------------------------------------------ */

static void set_one(cutover *cu, int i, const catalog_sequence *seq, fc_counter *out)
{
	const catalog_table *ct = cu->vt.cat[i];
	char name[512], *err = NULL;
	pg_task_quoted_name(seq->schema, seq->name, name, sizeof name);
	out->name = strdup(name);
	snprintf(name, sizeof name, "%s.%s", cu->vt.tables[i].label,
		 seq->column >= 0 ? ct->columns[seq->column].name : "?");
	out->column = strdup(name);
	bool called = false;
	strbuf sql = STRBUF_INIT;
	pg_ddl_options o = {.names = &cu->vt.tt.map};
	if (pg_catalog_sequence_state(src_conn(cu), seq, &out->source_last, &called, &err) < 0 ||
	    pg_ddl_setval(ct, seq, &o, out->source_last, called, &sql, &err) < 0) {
		out->error = err ? err : strdup("failed");
	} else {
		char qerr[512];
		out->set_to = query_value(dst_conn(cu), strbuf_str(&sql), qerr, sizeof qerr);
		if (out->set_to == NULL)
			out->error = strdup(qerr);
	}
	strbuf_free(&sql);
	if (out->error) {
		out->error[strcspn(out->error, "\n")] = '\0';
		no_go(cu, "sequence %s: %s", out->name ? out->name : "?", out->error);
	}
}

static int set_sequences(cutover *cu)
{
	int n = 0;
	for (int i = 0; i < cu->vt.n; i++)
		for (int s = 0; s < cu->vt.cat[i]->n_sequences; s++)
			n += cu->vt.cat[i]->sequences[s].column >= 0 &&
			     catalog_map_column(&cu->vt.tt.map, cu->vt.cat[i], cu->vt.cat[i]->sequences[s].column);
	cu->seqs = calloc((size_t)n + 1, sizeof *cu->seqs);
	if (cu->seqs == NULL)
		return -1;
	for (int i = 0; i < cu->vt.n; i++) {
		const catalog_table *ct = cu->vt.cat[i];
		for (int s = 0; s < ct->n_sequences; s++) {
			const catalog_sequence *seq = &ct->sequences[s];
			/* A sequence of a column the task leaves out has nothing to follow. */
			if (seq->column >= 0 && catalog_map_column(&cu->vt.tt.map, ct, seq->column))
				set_one(cu, i, seq, &cu->seqs[cu->n_seqs++]);
		}
	}
	return 0;
}

/* ---- report ------------------------------------------------------------------------ */

static void report_text(const cutover *cu)
{
	printf("\ncutover of task %s: %s\n", cu->c->task->name, cu->n_reasons == 0 ? "GO" : "NO-GO");
	for (int i = 0; i < cu->n_reasons; i++)
		printf("  no-go: %s\n", cu->reasons[i]);
	if (cu->wait_quiet)
		printf("  quiet: %s\n", cu->quiet ? "the source had no writes for 5 s" : "not reached");
	char a[64], m[64];
	if (cu->lag_applies)
		printf("  lag: %s (target holds the changes before %s, marker at %s; waited %.1f s)\n",
		       cu->lag_zero ? "zero" : "not zero", pos_text(cu, cu->applied, a, sizeof a),
		       pos_text(cu, cu->marker, m, sizeof m), cu->lag_wait_s);
	printf("  sequences and AUTO_INCREMENT counters: %d set\n", cu->n_seqs);
	for (int i = 0; i < cu->n_seqs; i++) {
		const fc_counter *s = &cu->seqs[i];
		if (s->error)
			printf("    %s (%s): failed: %s\n", s->name, s->column, s->error);
		else
			printf("    %s (%s): source last value %" PRId64 ", target set to %s\n", s->name, s->column,
			       s->source_last, s->set_to);
	}
	if (cu->validated)
		printf("  validation: %d tables, %lld rows compared, %lld differ (%.2f s)\n", cu->v.vt.n,
		       (long long)cu->v.rows, (long long)cu->v.differing, cu->v.seconds);
}

static void report_json(cutover *cu)
{
	jsonbuf jb;
	jsonbuf_init(&jb);
	json_object_begin(&jb);
	json_member_string(&jb, "task", cu->c->task->name);
	json_member_string(&jb, "decision", cu->n_reasons == 0 ? "go" : "no-go");
	json_key(&jb, "reasons");
	json_array_begin(&jb);
	for (int i = 0; i < cu->n_reasons; i++)
		json_string(&jb, cu->reasons[i]);
	json_array_end(&jb);
	json_key(&jb, "quiet");
	json_object_begin(&jb);
	json_key(&jb, "asked");
	json_bool(&jb, cu->wait_quiet);
	json_key(&jb, "reached");
	json_bool(&jb, cu->quiet);
	json_object_end(&jb);
	json_key(&jb, "lag");
	json_object_begin(&jb);
	json_key(&jb, "applies");
	json_bool(&jb, cu->lag_applies);
	json_key(&jb, "zero");
	json_bool(&jb, cu->lag_zero);
	json_member_int(&jb, "marker_position", (int64_t)cu->marker);
	json_member_int(&jb, "applied_position", (int64_t)cu->applied);
	json_member_int(&jb, "bytes", cu->lag_zero || cu->marker < cu->applied ? 0 : (int64_t)(cu->marker - cu->applied));
	json_member_int(&jb, "waited_milliseconds", (int64_t)(cu->lag_wait_s * 1000.0));
	json_object_end(&jb);
	json_key(&jb, "sequences");
	json_array_begin(&jb);
	for (int i = 0; i < cu->n_seqs; i++) {
		const fc_counter *s = &cu->seqs[i];
		json_object_begin(&jb);
		json_member_string(&jb, "sequence", s->name);
		json_member_string(&jb, "column", s->column);
		json_member_int(&jb, "source_last_value", s->source_last);
		json_key(&jb, "set_to");
		if (s->set_to)
			json_int(&jb, strtoll(s->set_to, NULL, 10));
		else
			json_null(&jb);
		json_member_string(&jb, "error", s->error);
		json_object_end(&jb);
	}
	json_array_end(&jb);
	json_key(&jb, "validation");
	if (cu->validated)
		fc_validation_json(cu->c, &cu->v, &jb);
	else
		json_null(&jb);
	json_object_end(&jb);
	jsonbuf_append(&jb, "\n");
	fputs(jb.failed ? "{}\n" : jb.data, stdout);
	jsonbuf_free(&jb);
}

/* ---- the command ------------------------------------------------------------------- */

static int parse(int argc, char **argv, cutover *cu, const char **task)
{
	*task = NULL;
	cu->timeout_s = DEFAULT_TIMEOUT_S;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cu->json = true;
		} else if (strcmp(argv[i], "--wait-for-quiet") == 0) {
			cu->wait_quiet = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < 1 || n > 86400) {
				fprintf(stderr, "ferryctl: --timeout wants seconds, 1..86400\n");
				return -1;
			}
			cu->timeout_s = (int)n;
		} else if (argv[i][0] != '-' && *task == NULL) {
			*task = argv[i];
		} else {
			fprintf(stderr, "ferryctl: unknown argument '%s' for cutover\nusage: ferryctl -c FILE cutover TASK "
					"[--wait-for-quiet] [--timeout SECONDS] [--json]\n", argv[i]);
			return -1;
		}
	}
	if (*task == NULL)
		fprintf(stderr, "ferryctl: cutover needs the task's name\n");
	return *task ? 0 : -1;
}

/* Steps 1-5; -1 on an error (printed). */
static int run(cutover *cu)
{
	fc_ctx *c = cu->c;
	char msg[ENDPOINT_MESSAGE_MAX], *err = NULL;
	if (check_task(cu) < 0)
		return -1;
	fc_env_init(c, cu->lag_applies);
	if (vd_pg_pool_open(&cu->pool, c->task, 1, "ferryctl cutover", &c->env, msg, sizeof msg) != ENDPOINT_OK) {
		fprintf(stderr, "ferryctl: task %s: %s\n", c->task->name, msg);
		return -1;
	}
	if (vd_pg_task_read(&cu->pool, c->task, &cu->vt, &err) < 0) {
		fprintf(stderr, "ferryctl: task %s: reading the source catalog: %s\n", c->task->name, err ? err : "?");
		free(err);
		return -1;
	}
	if (cu->wait_quiet && wait_quiet(cu) < 0)
		return -1;
	if (cu->lag_applies && wait_lag(cu) < 0)
		return -1;
	if (fc_interrupted())
		return -1;
	bool pg_pair = !my_source(cu) && cu->pool.ep[VD_TARGET][0]->engine == ENGINE_POSTGRESQL;
	if ((pg_pair ? set_sequences(cu) : fc_counters_mysql(&cu->pool, &cu->vt, &cu->seqs, &cu->n_seqs)) < 0)
		return -1;
	for (int i = 0; !pg_pair && i < cu->n_seqs; i++)
		if (cu->seqs[i].error)
			no_go(cu, "%s: %s", cu->seqs[i].name ? cu->seqs[i].name : "?", cu->seqs[i].error);
	int vrc = fc_validate_task(c, NULL, 2, 100, &cu->v);
	cu->validated = true; /* freed at the end whatever it returned */
	if (vrc < 0)
		return -1;
	if (strcmp(fc_validation_result(&cu->v), "equal") != 0)
		no_go(cu, "validation: %lld rows differ, %d tables not compared, %d failed", (long long)cu->v.differing,
		      cu->v.n_skipped, cu->v.n_error);
	if (cu->v.unsettled > 0)
		no_go(cu, "validation: %lld rows kept changing and could not be compared", (long long)cu->v.unsettled);
	return 0;
}

int fc_cutover_main(fc_ctx *c, int argc, char **argv)
{
	cutover cu = {.c = c};
	const char *task;
	if (parse(argc, argv, &cu, &task) < 0 || fc_pick_task(c, task) < 0 || fc_check_pair(c, c->task) < 0)
		return FC_EXIT_ERROR;
	c->json = cu.json;
	cu.deadline = fc_now_ms() + (uint64_t)cu.timeout_s * 1000u;
	int rc = run(&cu);
	if (rc == 0 && cu.json)
		report_json(&cu);
	else if (rc == 0) {
		fc_validation_print_diffs(&cu.v);
		report_text(&cu);
	}
	int code = rc < 0 ? FC_EXIT_ERROR : cu.n_reasons == 0 ? FC_EXIT_OK : FC_EXIT_NOT_OK;
	for (int i = 0; i < cu.n_reasons; i++)
		free(cu.reasons[i]);
	for (int i = 0; i < cu.n_seqs; i++)
		fc_counter_free(&cu.seqs[i]);
	free(cu.seqs);
	if (cu.validated)
		fc_validation_free(&cu.v);
	vd_pg_task_free(&cu.vt);
	vd_pg_pool_close(&cu.pool);
	return code;
}
