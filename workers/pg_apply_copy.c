/* COPY ... FROM STDIN inside the apply pipeline. A long run of INSERTs into one table
 * loads faster as COPY data than as multi-row INSERTs, but libpq runs no COPY in
 * pipeline mode: the pipeline is drained and left for the COPY, and entered again when
 * it ends. The target transaction goes on across both. */
#include <stdlib.h>
#include <string.h>

#include "workers/pg_apply_pipe.h"

/* COPY data is handed to libpq in pieces of about this size. */
#define COPY_PUSH_BYTES 65536

/* Pushes libpq's output buffer to the socket (so it never grows past a piece), reading
 * what the server sends meanwhile. */
static int copy_flush(apply_pipe *p)
{
	for (;;) {
		int f = PQflush(p->conn);
		if (f < 0)
			return apply_pipe_fail_conn(p, "sending COPY data");
		if (f == 0)
			return 0;
		if (!PQconsumeInput(p->conn))
			return apply_pipe_fail_conn(p, "sending COPY data");
		p->out_pending = true;
		if (apply_pipe_wait_socket(p) < 0)
			return -1;
	}
}

/* The next result once libpq has it whole; NULL when there is none left or the wait
 * failed (*broken then). */
static PGresult *next_result(apply_pipe *p, bool *broken)
{
	*broken = false;
	for (;;) {
		if (!PQconsumeInput(p->conn)) {
			*broken = true;
			apply_pipe_fail_conn(p, "reading a COPY result");
			return NULL;
		}
		if (!PQisBusy(p->conn))
			return PQgetResult(p->conn);
		p->out_pending = false;
		if (apply_pipe_wait_socket(p) < 0) {
			*broken = true;
			return NULL;
		}
	}
}

/* Reads what is left of the current command's results and enters pipeline mode again. */
static int back_to_pipeline(apply_pipe *p)
{
	bool broken = false;
	PGresult *r;
	while ((r = next_result(p, &broken)) != NULL)
		PQclear(r);
	if (broken)
		return -1;
	if (!PQenterPipelineMode(p->conn))
		return apply_pipe_fail_conn(p, "entering pipeline mode");
	return 0;
}

int apply_pipe_copy_begin(apply_pipe *p, const pipe_entry *ctx, const char *sql)
{
	if (p->in_copy && apply_pipe_copy_end(p) < 0)
		return -1;
	if ((p->unsynced && apply_pipe_sync(p) < 0) || apply_pipe_wait_all(p) < 0)
		return -1;
	if (!PQexitPipelineMode(p->conn))
		return apply_pipe_fail_conn(p, "leaving pipeline mode");
	if (!PQsendQueryParams(p->conn, sql, 0, NULL, NULL, NULL, NULL, 0)) {
		apply_pipe_fail_conn(p, "starting COPY");
		(void)back_to_pipeline(p);
		return -1;
	}
	bool broken = false;
	PGresult *r = copy_flush(p) < 0 ? NULL : next_result(p, &broken);
	if (r && PQresultStatus(r) == PGRES_COPY_IN) {
		PQclear(r);
		p->in_copy = true;
		p->copy_ctx = *ctx;
		strbuf_reset(&p->copy_buf);
		return 0;
	}
	if (r)
		apply_pipe_fail_entry(p, ctx, r, NULL);
	else if (!p->failed)
		apply_pipe_fail(p, "COPY did not start");
	PQclear(r);
	if (!broken)
		(void)back_to_pipeline(p);
	return -1;
}

static int put_buffer(apply_pipe *p)
{
	if (strbuf_failed(&p->copy_buf))
		return apply_pipe_fail(p, "out of memory for COPY data");
	if (p->copy_buf.len == 0)
		return 0;
	int r;
	while ((r = PQputCopyData(p->conn, p->copy_buf.data, (int)p->copy_buf.len)) == 0)
		if (copy_flush(p) < 0)
			return -1;
	if (r < 0)
		return apply_pipe_fail_conn(p, "sending COPY data");
	strbuf_reset(&p->copy_buf);
	return copy_flush(p);
}

int apply_pipe_copy_push(apply_pipe *p, bool all)
{
	if (!p->in_copy || (p->copy_buf.len < COPY_PUSH_BYTES && !all))
		return 0;
	return put_buffer(p);
}

int apply_pipe_copy_end(apply_pipe *p)
{
	if (!p->in_copy)
		return 0;
	p->in_copy = false;
	/* while rolling back, the server is told to abandon the rows it got */
	bool abandon = p->draining || put_buffer(p) < 0;
	strbuf_reset(&p->copy_buf);
	int r;
	while ((r = PQputCopyEnd(p->conn, abandon ? "apply rolled back" : NULL)) == 0)
		if (copy_flush(p) < 0)
			break;
	if (r < 0)
		apply_pipe_fail_conn(p, "ending COPY");
	if (r <= 0 || copy_flush(p) < 0)
		return -1;
	bool broken = false;
	PGresult *res = next_result(p, &broken);
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK && !p->draining)
		apply_pipe_fail_entry(p, &p->copy_ctx, res, NULL); /* the first failure wins */
	PQclear(res);
	if (broken || back_to_pipeline(p) < 0)
		return -1;
	return p->failed && !p->draining ? -1 : 0;
}
