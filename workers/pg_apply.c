/* The PostgreSQL apply engine: session setup and the progress row, source transaction
 * boundaries, skipping what is already applied, and commits. Changes become statements
 * in pg_apply_change.c; the pipeline is pg_apply_pipe.c. */
#include "workers/pg_apply.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/pg_apply_int.h"

#define SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"

/* ---- errors ------------------------------------------------------------------------- */

int apply_fail(pg_apply *a)
{
	a->failed = true;
	apply_pipe_rollback(&a->pipe);
	a->target_open = false;
	return -1;
}

static int fail_with(pg_apply *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_with(pg_apply *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	apply_pipe_fail(&a->pipe, "%s", buf);
	return apply_fail(a);
}

static int report(pg_apply *a, char **err)
{
	if (err)
		*err = strdup(a->pipe.error.len ? a->pipe.error.data : "apply failed");
	return -1;
}

static int refuse(pg_apply *a, char **err)
{
	if (err && asprintf(err, "apply stopped after an earlier error: %s", strbuf_str(&a->pipe.error)) < 0)
		*err = NULL;
	return -1;
}

/* ---- opening: session, bookkeeping table, position ------------------------------------- */

/* Runs one statement outside the pipeline; *res (when wanted) holds a TUPLES_OK result.
 * On failure *err says why and state (when given, 6 bytes) holds the SQLSTATE. */
static int run_state(PGconn *c, const char *sql, int nparams, const char *const *values, PGresult **res,
		     char **err, char *state)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, values, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	const char *m = PQresultErrorMessage(r);
	const char *st_text = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state)
		snprintf(state, 6, "%s", st_text ? st_text : "");
	if (err && asprintf(err, "target: %s: %.*s", sql, (int)strcspn(m, "\n"), m) < 0)
		*err = NULL;
	PQclear(r);
	return -1;
}

static int run(PGconn *c, const char *sql, int nparams, const char *const *values, PGresult **res, char **err)
{
	return run_state(c, sql, nparams, values, res, err, NULL);
}

/* Value text is produced for these settings (pg_value.h); generic plans skip replanning
 * statements that only ever look up one row by key. */
static int set_session(pg_apply *a, char **err)
{
	if (run(a->conn, "SET DateStyle = ISO", 0, NULL, NULL, err) < 0 ||
	    run(a->conn, "SET TimeZone = 'UTC'", 0, NULL, NULL, err) < 0 ||
	    run(a->conn, "SET IntervalStyle = postgres", 0, NULL, NULL, err) < 0 ||
	    run(a->conn, "SET extra_float_digits = 3", 0, NULL, NULL, err) < 0 ||
	    run(a->conn, "SET bytea_output = hex", 0, NULL, NULL, err) < 0)
		return -1;
	if (PQserverVersion(a->conn) >= 120000 &&
	    run(a->conn, "SET plan_cache_mode = force_generic_plan", 0, NULL, NULL, err) < 0)
		return -1;
	PGresult *r = PQexec(a->conn, "SET session_replication_role = replica");
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	a->replica_role = PQresultStatus(r) == PGRES_COMMAND_OK;
	bool denied = state && strcmp(state, SQLSTATE_INSUFFICIENT_PRIVILEGE) == 0;
	PQclear(r);
	if (!a->replica_role && !denied)
		return run(a->conn, "SET session_replication_role = replica", 0, NULL, NULL, err);
	return 0;
}

/* Creates schema ferry and the progress table unless they exist. Another worker may be
 * creating them at the same moment: a lost race shows as a duplicate error and the
 * second attempt finds them. */
static int ensure_progress_table(pg_apply *a, char **err)
{
	for (int attempt = 0;; attempt++) {
		PGresult *r = NULL;
		if (run(a->conn, "SELECT to_regclass('\"ferry\".\"apply_progress\"') IS NOT NULL", 0, NULL, &r, err) < 0)
			return -1;
		bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		if (exists)
			return 0;
		char *why = NULL, state[6] = "";
		if (run_state(a->conn, "CREATE SCHEMA IF NOT EXISTS \"ferry\"", 0, NULL, NULL, &why, state) == 0 &&
		    run_state(a->conn,
			"CREATE TABLE IF NOT EXISTS \"ferry\".\"apply_progress\" (\"task\" text, \"worker\" int, "
			"\"position\" bigint NOT NULL, \"updated_at\" timestamptz NOT NULL DEFAULT now(), "
			"PRIMARY KEY (\"task\", \"worker\"))",
			0, NULL, NULL, &why, state) == 0)
			return 0;
		bool lost_race = strcmp(state, "23505") == 0 || strcmp(state, "42P06") == 0 || strcmp(state, "42P07") == 0;
		if (attempt > 0 || !lost_race) {
			bool denied = strcmp(state, SQLSTATE_INSUFFICIENT_PRIVILEGE) == 0;
			if (err && asprintf(err, "%s%s", why ? why : "target: cannot create ferry.apply_progress",
					    denied ? " (grant the target user CREATE on the database, or create schema "
						     "ferry and its tables beforehand)" : "") < 0)
				*err = NULL;
			free(why);
			return -1;
		}
		free(why);
	}
}

static int read_position(pg_apply *a, char **err)
{
	char worker[16];
	snprintf(worker, sizeof worker, "%d", a->worker);
	const char *vals[2] = {a->task, worker};
	if (run(a->conn,
		"INSERT INTO \"ferry\".\"apply_progress\" (\"task\", \"worker\", \"position\") VALUES ($1, $2, 0) "
		"ON CONFLICT DO NOTHING",
		2, vals, NULL, err) < 0)
		return -1;
	PGresult *r = NULL;
	if (run(a->conn, "SELECT \"position\" FROM \"ferry\".\"apply_progress\" WHERE \"task\" = $1 AND \"worker\" = $2",
		2, vals, &r, err) < 0)
		return -1;
	int64_t pos = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	PQclear(r);
	if (pos < 0) {
		if (err && asprintf(err, "target: no valid progress row for task %s worker %d", a->task, a->worker) < 0)
			*err = NULL;
		return -1;
	}
	a->committed = a->complete = (uint64_t)pos;
	return 0;
}

static int prepare_progress(pg_apply *a, char **err)
{
	static unsigned engine_seq; /* distinct statement names when a session is reused */
	snprintf(a->prefix, sizeof a->prefix, "ferry_apply_%u_", ++engine_seq);
	snprintf(a->progress_stmt, sizeof a->progress_stmt, "%sprogress", a->prefix);
	PGresult *r = PQprepare(a->conn, a->progress_stmt,
				"UPDATE \"ferry\".\"apply_progress\" SET \"position\" = $1, \"updated_at\" = now() "
				"WHERE \"task\" = $2 AND \"worker\" = $3",
				3, NULL);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc < 0 && err && asprintf(err, "target: preparing the progress update: %s", PQresultErrorMessage(r)) < 0)
		*err = NULL;
	PQclear(r);
	return rc;
}

pg_apply *pg_apply_open(PGconn *target, const char *task, int worker, char **err)
{
	if (err)
		*err = NULL;
	if (PQstatus(target) != CONNECTION_OK || PQtransactionStatus(target) != PQTRANS_IDLE ||
	    PQpipelineStatus(target) != PQ_PIPELINE_OFF) {
		if (err)
			*err = strdup("target connection is not open and idle");
		return NULL;
	}
	pg_apply *a = calloc(1, sizeof *a);
	if (a == NULL || (a->task = strdup(task)) == NULL ||
	    apply_pipe_init(&a->pipe, target, APPLY_PIPE_DEPTH) < 0) {
		if (err)
			*err = strdup("out of memory");
		pg_apply_free(a);
		return NULL;
	}
	a->conn = target;
	a->worker = worker;
	a->batch_rows = APPLY_BATCH_ROWS;
	apply_tables_init(&a->tables);
	strbuf_init(&a->sql);
	strbuf_init(&a->keytext);
	strbuf_init(&a->params.text);
	if (set_session(a, err) < 0 || ensure_progress_table(a, err) < 0 || read_position(a, err) < 0 ||
	    prepare_progress(a, err) < 0) {
		pg_apply_free(a);
		return NULL;
	}
	if (apply_pipe_start(&a->pipe) < 0) {
		if (err)
			*err = strdup(strbuf_str(&a->pipe.error));
		apply_pipe_stop(&a->pipe);
		pg_apply_free(a);
		return NULL;
	}
	return a;
}

/* ---- records ------------------------------------------------------------------------- */

int apply_ensure_txn(pg_apply *a)
{
	if (a->target_open)
		return 0;
	pipe_entry ctx = {.kind = PIPE_COMMAND, .expect_rows = -1, .what = "BEGIN"};
	if (apply_pipe_command(&a->pipe, &ctx, "BEGIN") < 0)
		return apply_fail(a);
	a->target_open = true;
	return 0;
}

static bool same_str(const char *x, const char *y)
{
	return strcmp(x ? x : "", y ? y : "") == 0;
}

/* Whether a description changes nothing the statements depend on (the stream resends
 * descriptions, e.g. after a reconnect). */
static bool same_description(const relmsg *x, const relmsg *y)
{
	if (x->ncols != y->ncols || x->replident != y->replident || !same_str(x->target_schema, y->target_schema) ||
	    !same_str(x->target_name, y->target_name))
		return false;
	for (int i = 0; i < x->ncols; i++)
		if (!same_str(x->cols[i].name, y->cols[i].name) || x->cols[i].key != y->cols[i].key ||
		    !same_str(x->cols[i].type_name, y->cols[i].type_name))
			return false;
	return true;
}

static int on_relation(pg_apply *a, const record_view *v)
{
	relmsg rel;
	const char *what = NULL;
	if (relmsg_decode(v, &rel, &what) < 0)
		return fail_with(a, "RELATION record: %s", what);
	apply_table *t = apply_tables_get(&a->tables, rel.table_id);
	int rc = t && apply_scratch_fit(a, rel.ncols) == 0 ? 0 : fail_with(a, "%s", "out of memory");
	if (rc == 0 && t->described && same_description(&t->rel, &rel)) {
		relmsg_free(&rel);
		return 0;
	}
	/* Rows waiting under the old description are sent first, then its statements are
	 * dropped on the server. */
	if (rc == 0 && t->described)
		rc = apply_send_before(a, t);
	if (rc == 0 && t->described && t->nstmts > 0)
		rc = apply_ensure_txn(a) < 0 || apply_forget_table_stmts(a, t) < 0 ? -1 : 0;
	if (rc == 0 && apply_table_describe(&a->tables, t, &rel) < 0)
		rc = fail_with(a, "%s", "out of memory");
	relmsg_free(&rel);
	return rc;
}

static int on_begin(pg_apply *a, const record_view *v)
{
	uint64_t pos = v->hdr.position;
	char lsn[32];
	apply_format_lsn(lsn, sizeof lsn, pos);
	if (a->in_source_txn)
		return fail_with(a, "BEGIN at source position %s inside an open source transaction", lsn);
	if (pos > INT64_MAX)
		return fail_with(a, "source position %s is out of range", lsn);
	a->skipping = pos <= a->committed;
	if (!a->skipping && pos <= a->complete)
		return fail_with(a, "source position went backwards (BEGIN at %s after a later transaction)", lsn);
	a->in_source_txn = true;
	a->txn_position = pos;
	return 0;
}

static int commit_target(pg_apply *a);

static int on_commit(pg_apply *a, const record_view *v)
{
	char lsn[32];
	apply_format_lsn(lsn, sizeof lsn, v->hdr.position);
	if (!a->in_source_txn)
		return fail_with(a, "COMMIT at source position %s without BEGIN", lsn);
	a->in_source_txn = false;
	if (a->skipping) {
		a->skipping = false;
		return 0;
	}
	if (v->hdr.position != a->txn_position)
		return fail_with(a, "COMMIT at source position %s does not match its BEGIN", lsn);
	a->complete = v->hdr.position;
	a->pending_txns++;
	return a->flush_deferred ? commit_target(a) : 0;
}

static int on_change(pg_apply *a, const record_view *v)
{
	char lsn[32];
	apply_format_lsn(lsn, sizeof lsn, v->hdr.position);
	if (!a->in_source_txn)
		return fail_with(a, "change at source position %s outside a source transaction", lsn);
	if (a->skipping)
		return 0;
	if (v->hdr.position != a->txn_position)
		return fail_with(a, "change at source position %s inside another source transaction", lsn);
	if (apply_ensure_txn(a) < 0)
		return -1;
	return v->hdr.op == RECORD_OP_TRUNCATE ? apply_truncate(a, v) : apply_change(a, v);
}

int pg_apply_record(pg_apply *a, const void *rec, size_t len, char **err)
{
	if (a->failed)
		return refuse(a, err);
	record_view v;
	record_error re;
	int rc;
	if (record_decode(rec, len, &v, &re) < 0) {
		apply_pipe_fail(&a->pipe, "undecodable record (byte %zu: %s)", re.offset, re.what);
		rc = apply_fail(a);
	} else if (v.hdr.op == RECORD_OP_RELATION) {
		rc = on_relation(a, &v);
	} else if (v.hdr.op == RECORD_OP_BEGIN) {
		rc = on_begin(a, &v);
	} else if (v.hdr.op == RECORD_OP_COMMIT) {
		rc = on_commit(a, &v);
	} else {
		rc = on_change(a, &v);
	}
	return rc < 0 ? report(a, err) : 0;
}

/* ---- commits ------------------------------------------------------------------------- */

/* The progress row goes last; every result is checked before COMMIT is sent (an UPDATE
 * that matched no row is an error only the client sees), then COMMIT makes it all
 * durable at once. */
static int commit_target(pg_apply *a)
{
	a->flush_deferred = false;
	if (apply_send_waiting(a) < 0)
		return -1;
	if (!a->target_open && a->complete == a->committed)
		return 0;
	if (apply_ensure_txn(a) < 0)
		return -1;
	char pos[24], worker[16];
	snprintf(pos, sizeof pos, "%" PRId64, (int64_t)a->complete);
	snprintf(worker, sizeof worker, "%d", a->worker);
	const char *vals[3] = {pos, a->task, worker};
	pipe_entry ctx = {.kind = PIPE_COMMAND, .expect_rows = 1, .what = "updating the progress row",
			  .position = a->complete};
	if (apply_pipe_prepared(&a->pipe, &ctx, a->progress_stmt, 3, vals, 64) < 0 || apply_pipe_sync(&a->pipe) < 0 ||
	    apply_pipe_wait_all(&a->pipe) < 0)
		return apply_fail(a);
	ctx = (pipe_entry){.kind = PIPE_COMMAND, .expect_rows = -1, .what = "COMMIT", .expect_tag = "COMMIT",
			   .position = a->complete};
	if (apply_pipe_command(&a->pipe, &ctx, "COMMIT") < 0 || apply_pipe_sync(&a->pipe) < 0 ||
	    apply_pipe_wait_all(&a->pipe) < 0)
		return apply_fail(a);
	a->target_open = false;
	a->committed = a->complete;
	a->stats.changes += a->pending;
	a->stats.transactions += a->pending_txns;
	a->stats.commits++;
	a->pending = 0;
	a->pending_txns = 0;
	return 0;
}

int pg_apply_flush(pg_apply *a, char **err)
{
	if (a->failed)
		return refuse(a, err);
	if (a->in_source_txn && !a->skipping) {
		a->flush_deferred = true;
		return 1;
	}
	return commit_target(a) < 0 ? report(a, err) : 0;
}

int pg_apply_push(pg_apply *a, char **err)
{
	if (a->failed)
		return refuse(a, err);
	if (apply_pipe_service(&a->pipe) < 0) {
		apply_fail(a);
		return report(a, err);
	}
	return 0;
}

/* ---- state and teardown ------------------------------------------------------------- */

uint64_t pg_apply_position(const pg_apply *a) { return a->committed; }
const char *pg_apply_failed_table(const pg_apply *a) { return a->pipe.failed_table; }
uint64_t pg_apply_pending_changes(const pg_apply *a) { return a->pending; }
bool pg_apply_in_source_txn(const pg_apply *a) { return a->in_source_txn; }
bool pg_apply_replica_role(const pg_apply *a) { return a->replica_role; }

int pg_apply_set_idempotent(pg_apply *a, uint32_t table_id, uint64_t until_position)
{
	apply_table *t = apply_tables_get(&a->tables, table_id);
	if (t == NULL)
		return -1;
	t->idempotent_until = until_position;
	return 0;
}

void pg_apply_set_batch_rows(pg_apply *a, int rows)
{
	int r = 1;
	while (r * APPLY_BATCH_STEP <= rows && r * APPLY_BATCH_STEP <= APPLY_BATCH_ROWS)
		r *= APPLY_BATCH_STEP;
	a->batch_rows = r;
}

void pg_apply_set_wait_hook(pg_apply *a, int (*hook)(void *arg), void *arg)
{
	a->pipe.hook = hook;
	a->pipe.hook_arg = arg;
}

void pg_apply_get_stats(const pg_apply *a, pg_apply_stats *out)
{
	*out = a->stats;
}

void pg_apply_close(pg_apply *a)
{
	if (a == NULL)
		return;
	if (PQstatus(a->conn) == CONNECTION_OK) {
		apply_pipe_rollback(&a->pipe);
		apply_pipe_stop(&a->pipe);
	}
	pg_apply_free(a);
}

void pg_apply_free(pg_apply *a)
{
	if (a == NULL)
		return;
	apply_tables_free(&a->tables);
	apply_pipe_free(&a->pipe);
	apply_scratch_free(a);
	strbuf_free(&a->sql);
	strbuf_free(&a->keytext);
	free(a->task);
	free(a);
}
