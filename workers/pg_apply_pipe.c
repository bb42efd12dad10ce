/* The apply pipeline: send without waiting, read results as they arrive, check each
 * against what its statement had to do, and fail with a message naming the change. */
#include "workers/pg_apply_pipe.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/record.h"
#include "workers/pg_conn.h"

/* Ring entries kept free for the sync and rollback that end a failed pipeline. */
#define PIPE_RESERVE 4
/* libpq's output buffer is pushed to the socket each time this much was queued. */
#define PIPE_FLUSH_BYTES 65536
/* How often a wait for the server wakes up to ask the caller's hook. */
#define PIPE_WAIT_SLICE_MS 1000

void apply_format_lsn(char *buf, size_t size, uint64_t position)
{
	snprintf(buf, size, "%" PRIX32 "/%" PRIX32, (uint32_t)(position >> 32), (uint32_t)position);
}

int apply_pipe_init(apply_pipe *p, PGconn *conn, size_t cap)
{
	memset(p, 0, sizeof *p);
	p->conn = conn;
	p->ring = calloc(cap, sizeof *p->ring);
	if (p->ring == NULL)
		return -1;
	p->cap = cap;
	strbuf_init(&p->error);
	strbuf_init(&p->copy_buf);
	return 0;
}

void apply_pipe_free(apply_pipe *p)
{
	free(p->ring);
	free(p->failed_table);
	p->failed_table = NULL;
	strbuf_free(&p->error);
	strbuf_free(&p->copy_buf);
	p->ring = NULL;
}

/* The server's or libpq's message, first line only. */
static void append_conn_message(strbuf *sb, PGconn *conn)
{
	const char *m = PQerrorMessage(conn);
	strbuf_append_len(sb, m, strcspn(m, "\n"));
}

static int fail_begin(apply_pipe *p)
{
	if (p->failed)
		return -1;
	p->failed = true;
	strbuf_reset(&p->error);
	return 0;
}

int apply_pipe_fail(apply_pipe *p, const char *fmt, ...)
{
	if (fail_begin(p) < 0)
		return -1;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	strbuf_append(&p->error, buf);
	return -1;
}

int apply_pipe_fail_conn(apply_pipe *p, const char *doing)
{
	if (fail_begin(p) < 0)
		return -1;
	strbuf_appendf(&p->error, "target connection failed while %s: ", doing);
	append_conn_message(&p->error, p->conn);
	return -1;
}

const char *apply_op_label(int op)
{
	switch (op) {
	case RECORD_OP_INSERT: return "INSERT";
	case RECORD_OP_UPDATE: return "UPDATE";
	case RECORD_OP_DELETE: return "DELETE";
	case RECORD_OP_TRUNCATE: return "TRUNCATE";
	default: return "change";
	}
}

/* "table "s"."t": UPDATE at source position 0/16B3F28, key (id=5)" */
static void describe_entry(strbuf *sb, const pipe_entry *e)
{
	if (e->table)
		strbuf_appendf(sb, "table %s: ", *e->table);
	if (e->kind == PIPE_CHANGE)
		strbuf_append(sb, apply_op_label(e->op));
	else
		strbuf_append(sb, e->what ? e->what : "statement");
	if (e->position) {
		char lsn[32];
		apply_format_lsn(lsn, sizeof lsn, e->position);
		strbuf_appendf(sb, " at source position %s", lsn);
	}
	if (e->rows > 1)
		strbuf_appendf(sb, " (%" PRIu32 "-row statement)", e->rows);
	if (e->key[0])
		strbuf_appendf(sb, "%s key (%s)", e->rows != 1 ? ", first" : ",", e->key);
}

int apply_pipe_fail_entry(apply_pipe *p, const pipe_entry *e, const PGresult *r, const char *why)
{
	if (fail_begin(p) < 0)
		return -1;
	describe_entry(&p->error, e);
	strbuf_append(&p->error, ": ");
	if (e->table && p->failed_table == NULL)
		p->failed_table = strdup(*e->table);
	if (why) {
		strbuf_append(&p->error, why);
		return -1;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	if (msg == NULL)
		msg = PQresultErrorMessage(r);
	const char *context = PQresultErrorField(r, PG_DIAG_CONTEXT);
	strbuf_appendf(&p->error, "%s (SQLSTATE %s)", msg, state ? state : "?");
	if (detail)
		strbuf_appendf(&p->error, ": %s", detail);
	if (context && e->kind == PIPE_COMMAND) /* e.g. the line of a COPY */
		strbuf_appendf(&p->error, " (%.*s)", (int)strcspn(context, "\n"), context);
	return -1;
}

/* A multi-row UPDATE or DELETE returned the keys it found no row for: the first is named. */
static int fail_missing(apply_pipe *p, const pipe_entry *e, const PGresult *r)
{
	pipe_entry named = *e;
	strbuf k = STRBUF_INIT;
	for (int f = 0; f < PQnfields(r); f++) {
		const char *v = PQgetisnull(r, 0, f) ? "NULL" : PQgetvalue(r, 0, f);
		strbuf_appendf(&k, "%s%s=%.40s", f ? ", " : "", PQfname(r, f), v);
	}
	snprintf(named.key, sizeof named.key, "%s", strbuf_str(&k));
	strbuf_free(&k);
	char why[128];
	snprintf(why, sizeof why, "no row matched on the target (%d of the %" PRIu32 " rows of one statement)",
		 PQntuples(r), e->rows);
	named.rows = 1; /* the key named is the one missing, not the statement's first */
	return apply_pipe_fail_entry(p, &named, r, why);
}

/* Whether a failed result means the session ended (the server shut down or terminated
 * it, or the socket broke) rather than the statement failing. */
static bool connection_gone(const apply_pipe *p, const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	return PQstatus(p->conn) == CONNECTION_BAD || state == NULL || strncmp(state, "08", 2) == 0 ||
	       strncmp(state, "57P", 3) == 0;
}

static int fail_lost(apply_pipe *p, const PGresult *r)
{
	if (fail_begin(p) < 0)
		return -1;
	const char *m = PQresultErrorMessage(r);
	strbuf_append(&p->error, "target connection lost: ");
	strbuf_append_len(&p->error, m, strcspn(m, "\n"));
	return -1;
}

static int check_result(apply_pipe *p, const pipe_entry *e, PGresult *r)
{
	if (p->failed || p->draining)
		return 0; /* reading what is left after a failure */
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_PIPELINE_ABORTED)
		return apply_pipe_fail_entry(p, e, r, "skipped after an earlier error");
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return connection_gone(p, r) ? fail_lost(p, r) : apply_pipe_fail_entry(p, e, r, NULL);
	if (e->expect_rows >= 0) {
		long long got = atoll(PQcmdTuples(r));
		if (got != e->expect_rows) {
			char why[96];
			if (got == 0)
				snprintf(why, sizeof why, "no row matched on the target");
			else
				snprintf(why, sizeof why, "%lld rows matched on the target, expected %d", got,
					 (int)e->expect_rows);
			return apply_pipe_fail_entry(p, e, r, why);
		}
	}
	if (e->expect_none && PQntuples(r) > 0)
		return fail_missing(p, e, r);
	if (e->expect_tag && strcmp(PQcmdStatus(r), e->expect_tag) != 0) {
		char why[96];
		snprintf(why, sizeof why, "ended with \"%s\"", PQcmdStatus(r));
		return apply_pipe_fail_entry(p, e, r, why);
	}
	return 0;
}

static void pop(apply_pipe *p)
{
	p->head = (p->head + 1) % p->cap;
	p->count--;
}

/* Whether the pipeline may go on: no failure, or one being cleaned up. */
static bool usable(const apply_pipe *p)
{
	return !p->failed || p->draining;
}

/* Takes every complete result libpq has, in statement order; a result that is not what
 * its statement had to give records the failure. libpq ends each statement's results
 * with a NULL, except a sync's. -1 only when the stream itself is out of step. */
static int collect(apply_pipe *p)
{
	while (p->count > 0 && !PQisBusy(p->conn)) {
		pipe_entry *e = &p->ring[p->head];
		PGresult *r = PQgetResult(p->conn);
		if (r == NULL) {
			if (!e->got_result) /* cannot happen: every statement has a result */
				return apply_pipe_fail(p, "target pipeline out of step (no result for a statement)");
			pop(p);
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			if (e->kind != PIPE_SYNC)
				return apply_pipe_fail(p, "target pipeline out of step (unexpected sync)");
			pop(p);
			continue;
		}
		if (e->kind == PIPE_SYNC || e->got_result) {
			PQclear(r);
			return apply_pipe_fail(p, "target pipeline out of step (unexpected result)");
		}
		e->got_result = true;
		(void)check_result(p, e, r);
		if (e->keep && PQresultStatus(r) == PGRES_TUPLES_OK && *e->keep == NULL)
			*e->keep = r;
		else
			PQclear(r);
	}
	return 0;
}

/* Flushes, reads and collects without waiting. -1 when the connection or the result
 * stream broke; a statement's failure shows in p->failed. */
static int service(apply_pipe *p)
{
	int f = PQflush(p->conn);
	if (f < 0)
		return apply_pipe_fail_conn(p, "sending");
	p->out_pending = f == 1;
	if (!PQconsumeInput(p->conn))
		return apply_pipe_fail_conn(p, "reading results");
	return collect(p);
}

int apply_pipe_service(apply_pipe *p)
{
	if (p->in_copy)
		return apply_pipe_copy_push(p, true);
	return service(p) < 0 || !usable(p) ? -1 : 0;
}

/* Sleeps until the socket can be read (or written, while output is pending), asking
 * the caller's hook every slice whether to give up. */
int apply_pipe_wait_socket(apply_pipe *p)
{
	struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN | (p->out_pending ? POLLOUT : 0)};
	if (pfd.fd < 0)
		return apply_pipe_fail_conn(p, "waiting");
	for (;;) {
		int r = poll(&pfd, 1, PIPE_WAIT_SLICE_MS);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return apply_pipe_fail(p, "waiting for the target server: %s", strerror(errno));
		if (p->hook && p->hook(p->hook_arg))
			return apply_pipe_fail(p, "interrupted while waiting for the target server");
	}
}

int apply_pipe_wait_all(apply_pipe *p)
{
	if (p->in_copy && apply_pipe_copy_end(p) < 0)
		return -1;
	for (;;) {
		if (apply_pipe_service(p) < 0)
			return -1;
		if (p->count == 0)
			return 0;
		if (apply_pipe_wait_socket(p) < 0)
			return -1;
	}
}

/* Waits for a free entry: asks the server to send what it has (its results may sit in
 * its output buffer until a sync or a flush request), then reads. */
static int make_room(apply_pipe *p, size_t reserve)
{
	bool asked = false;
	while (p->count + reserve >= p->cap) {
		if (!asked && !PQsendFlushRequest(p->conn))
			return apply_pipe_fail_conn(p, "asking for results");
		asked = true;
		if (apply_pipe_service(p) < 0)
			return -1;
		if (p->count + reserve < p->cap)
			break;
		if (apply_pipe_wait_socket(p) < 0)
			return -1;
	}
	return 0;
}

/* Pushes libpq's buffer to the socket once enough has been queued, reading results
 * meanwhile so the server never blocks on us while we block on it. */
static int flush_output(apply_pipe *p)
{
	for (;;) {
		if (apply_pipe_service(p) < 0)
			return -1;
		if (!p->out_pending)
			break;
		if (apply_pipe_wait_socket(p) < 0)
			return -1;
	}
	p->unflushed = 0;
	return 0;
}

static pipe_entry *reserve(apply_pipe *p, const pipe_entry *ctx, size_t reserve_n)
{
	if (!usable(p))
		return NULL;
	if (p->in_copy && apply_pipe_copy_end(p) < 0)
		return NULL;
	if (make_room(p, reserve_n) < 0)
		return NULL;
	pipe_entry *e = &p->ring[(p->head + p->count) % p->cap];
	*e = *ctx;
	e->got_result = false;
	return e;
}

static int queued(apply_pipe *p, size_t bytes, bool sync)
{
	p->count++;
	p->unsynced = !sync;
	p->unflushed += bytes;
	if (p->unflushed >= PIPE_FLUSH_BYTES)
		return flush_output(p);
	return 0;
}

int apply_pipe_prepared(apply_pipe *p, const pipe_entry *ctx, const char *stmt, int nparams,
			const char *const *values, size_t bytes)
{
	if (reserve(p, ctx, PIPE_RESERVE) == NULL)
		return -1;
	if (!PQsendQueryPrepared(p->conn, stmt, nparams, values, NULL, NULL, 0))
		return apply_pipe_fail_conn(p, "sending a statement");
	p->statements++;
	return queued(p, bytes + 16 + (size_t)nparams * 4, false);
}

int apply_pipe_prepare(apply_pipe *p, const pipe_entry *ctx, const char *name, const char *sql)
{
	if (reserve(p, ctx, PIPE_RESERVE) == NULL)
		return -1;
	if (!PQsendPrepare(p->conn, name, sql, 0, NULL))
		return apply_pipe_fail_conn(p, "preparing a statement");
	return queued(p, strlen(sql) + 16, false);
}

int apply_pipe_command(apply_pipe *p, const pipe_entry *ctx, const char *sql)
{
	/* A rollback after a failure may use the reserved entries. */
	if (reserve(p, ctx, p->draining ? 1 : PIPE_RESERVE) == NULL)
		return -1;
	if (!PQsendQueryParams(p->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		return apply_pipe_fail_conn(p, "sending a command");
	return queued(p, strlen(sql) + 16, false);
}

int apply_pipe_sync(apply_pipe *p)
{
	pipe_entry ctx = {.kind = PIPE_SYNC, .expect_rows = -1, .what = "sync"};
	if (reserve(p, &ctx, p->draining ? 1 : PIPE_RESERVE) == NULL)
		return -1;
	if (!PQpipelineSync(p->conn))
		return apply_pipe_fail_conn(p, "ending a pipeline segment");
	return queued(p, 8, true);
}

int apply_pipe_query(apply_pipe *p, const char *what, const char *sql, int nparams, const char *const *values,
		     PGresult **out)
{
	*out = NULL;
	pipe_entry ctx = {.kind = PIPE_QUERY, .expect_rows = -1, .what = what, .keep = out};
	pipe_entry *e = reserve(p, &ctx, PIPE_RESERVE);
	if (e == NULL)
		return -1;
	if (!PQsendQueryParams(p->conn, sql, nparams, NULL, values, NULL, NULL, 0) || !PQsendFlushRequest(p->conn)) {
		e->keep = NULL;
		return apply_pipe_fail_conn(p, "sending a query");
	}
	int rc = queued(p, strlen(sql) + 16, false);
	while (rc == 0 && *out == NULL && !p->failed) {
		if (apply_pipe_service(p) < 0)
			break;
		if (*out == NULL && apply_pipe_wait_socket(p) < 0)
			break;
	}
	/* the entry may outlive this call (its end is read later): it must not point here;
	 * its ring slot holds it until then and is not reused before */
	e->keep = NULL;
	if (*out == NULL || p->failed) {
		PQclear(*out);
		*out = NULL;
		return apply_pipe_fail(p, "%s: no result", what);
	}
	return 0;
}

int apply_pipe_start(apply_pipe *p)
{
	if (PQsetnonblocking(p->conn, 1) != 0 || !PQenterPipelineMode(p->conn))
		return apply_pipe_fail_conn(p, "entering pipeline mode");
	return 0;
}

void apply_pipe_stop(apply_pipe *p)
{
	if (PQpipelineStatus(p->conn) != PQ_PIPELINE_OFF)
		(void)PQexitPipelineMode(p->conn);
	(void)pg_conn_set_blocking(p->conn);
}

void apply_pipe_rollback(apply_pipe *p)
{
	if (PQstatus(p->conn) != CONNECTION_OK)
		return;
	p->draining = true;
	if (p->in_copy && apply_pipe_copy_end(p) < 0)
		goto out;
	if (PQpipelineStatus(p->conn) == PQ_PIPELINE_OFF)
		goto out;
	if (p->unsynced && apply_pipe_sync(p) < 0)
		goto out;
	if (apply_pipe_wait_all(p) < 0)
		goto out;
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
		pipe_entry ctx = {.kind = PIPE_COMMAND, .expect_rows = -1, .what = "ROLLBACK"};
		if (apply_pipe_command(p, &ctx, "ROLLBACK") == 0 && apply_pipe_sync(p) == 0)
			(void)apply_pipe_wait_all(p);
	}
out:
	p->draining = false;
}
