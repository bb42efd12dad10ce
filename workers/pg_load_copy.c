/* Copying one partition: COPY ... TO STDOUT on the source streamed chunk by chunk into
 * COPY ... FROM STDIN on the target, inside a target transaction that also records the
 * partition (see workers/pg_load.h for the exactly-once rules).
 *
 * The loop never holds more than one chunk: rows are read while the source has them
 * buffered and the target accepts them; when the target's send buffer is full, reading
 * stops until it drains (the source server then waits on its socket), so memory is
 * bounded whatever the partition's size. libpq hands out each row in its own allocation
 * (PQgetCopyData has no other form); the rows are gathered into one chunk so the target
 * gets few large CopyData messages instead of one per row. */
#include "workers/pg_load.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sqlquote.h"
#include "workers/pg_conn.h"
#include "workers/pg_load_internal.h"

#define DEFAULT_CHUNK (64 * 1024)
/* Binary COPY's last message is the 2-byte trailer; the header shares the first row's
 * message, and an empty result sends header and trailer (19 + 2 bytes) together. */
#define BINARY_TRAILER_LEN 2
#define BINARY_EMPTY_LEN 21

struct pg_load_copy {
	pg_load_source *src;
	PGconn *tgt;
	const pg_load_table *lt;
	pg_load_partition part;
	pg_load_copy_options opt;
	char label[256];      /* "table a.b partition 2/4 (...)" for messages */
	bool reload_whole;    /* every row of the table: a ctid partition under a fresh
			       * snapshot, or whole_table */
	bool target_txn;      /* the target transaction is open */
	bool target_copying;  /* the target is in COPY FROM STDIN */
	bool source_copying;  /* the source is in COPY TO STDOUT */
	bool flush_pending;   /* the target's send buffer is not empty yet */
	bool done;
	bool first_message;
	char *chunk;
	size_t chunk_len, chunk_cap;
	int64_t rows;
	bool has_position;
	uint64_t position;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static int copy_fail(pg_load_copy *c, char **err, const char *side, PGconn *conn,
		     const PGresult *res, const char *what)
{
	char context[512];
	if (conn == c->src->conn)
		c->src->aborted = true; /* a failed statement ends the source transaction */
	snprintf(context, sizeof context, "%s: %s: %s", c->label, side, what);
	return pg_load_fail_pg(err, context, conn, res);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The partition's rows: a WHERE clause body, or an empty string for every row. The
 * integer key is named as the source or the target calls it. */
static void append_range_of(strbuf *sb, const pg_load_table *lt, const pg_load_partition *p, bool whole,
			    bool target_side)
{
	const char *col;
	const char *cast = "";
	char lo[64], hi[64];
	if (whole)
		return;
	if (p->kind == PG_LOAD_PART_INT_RANGE) {
		col = target_side ? lt->key_target : lt->key_source;
		snprintf(lo, sizeof lo, "%" PRId64, p->lo);
		snprintf(hi, sizeof hi, "%" PRId64, p->hi);
	} else if (p->kind == PG_LOAD_PART_CTID_RANGE) {
		col = "ctid";
		cast = "::pg_catalog.tid";
		snprintf(lo, sizeof lo, "'(%" PRId64 ",0)'", p->lo);
		snprintf(hi, sizeof hi, "'(%" PRId64 ",0)'", p->hi);
	} else {
		return;
	}
	if (!p->open_lo)
		strbuf_appendf(sb, "%s >= %s%s", col, lo, cast);
	if (!p->open_hi)
		strbuf_appendf(sb, "%s%s < %s%s", p->open_lo ? "" : " AND ", col, hi, cast);
}

static void append_range(strbuf *sb, const pg_load_copy *c, bool target_side)
{
	append_range_of(sb, c->lt, &c->part, c->reload_whole, target_side);
}

void pg_load_source_copy_sql(strbuf *sb, const pg_load_table *lt, const pg_load_partition *p, bool whole,
			     bool binary)
{
	strbuf where = STRBUF_INIT;
	append_range_of(&where, lt, p, whole, false);
	if (lt->filter != NULL)
		strbuf_appendf(&where, "%s%s", where.len > 0 ? " AND " : "", lt->filter);
	if (where.len == 0 && !lt->partitioned) {
		/* a plain table read whole: COPY's own heap scan, no executor */
		strbuf_appendf(sb, "COPY %s (%s) TO STDOUT", lt->source_name, lt->select_list);
	} else {
		/* ONLY: legacy inheritance children are tables of their own in the catalog */
		strbuf_appendf(sb, "COPY (SELECT %s FROM %s%s", lt->select_list,
			       lt->partitioned ? "" : "ONLY ", lt->source_name);
		if (where.len > 0)
			strbuf_appendf(sb, " WHERE %s", strbuf_str(&where));
		strbuf_append(sb, ") TO STDOUT");
	}
	strbuf_append(sb, binary && lt->binary ? " (FORMAT binary)" : " (FORMAT text)");
	if (strbuf_failed(&where))
		sb->failed = true;
	strbuf_free(&where);
}

static void append_source_copy(strbuf *sb, const pg_load_copy *c)
{
	pg_load_source_copy_sql(sb, c->lt, &c->part, c->reload_whole, true);
}

/* ---- preparing the target ------------------------------------------------------------------ */

/* Which partitions of the table the target has recorded: mine, and whether any. */
static int read_recorded(pg_load_copy *c, bool *mine, bool *any, char **err)
{
	char number[16];
	snprintf(number, sizeof number, "%d", c->part.number);
	const char *params[3] = {c->opt.task, c->lt->source_name, number};
	PGresult *res = PQexecParams(c->tgt,
				     "SELECT COALESCE(bool_or(partition = $3::int), false), count(*)"
				     " FROM " PG_LOAD_PROGRESS_TABLE
				     " WHERE task = $1 AND source_table = $2 AND partition > 0",
				     3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		copy_fail(c, err, "target", c->tgt, res, "reading the load progress");
		PQclear(res);
		return -1;
	}
	*mine = PQgetvalue(res, 0, 0)[0] == 't';
	*any = strtoll(PQgetvalue(res, 0, 1), NULL, 10) > 0;
	PQclear(res);
	return 0;
}

static int target_sql(pg_load_copy *c, const strbuf *sb, const char *what, char **err)
{
	if (strbuf_failed(sb))
		return pg_load_fail(err, "%s: out of memory", c->label);
	PGresult *res = PQexec(c->tgt, strbuf_str(sb));
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0
							  : copy_fail(c, err, "target", c->tgt, res, what);
	PQclear(res);
	return rc;
}

/* Empties what this partition will hold (see pg_load.h); *freeze when COPY FREEZE may run. */
static int prepare_range(pg_load_copy *c, bool any_recorded, bool *freeze, char **err)
{
	const pg_load_table *lt = c->lt;
	bool whole = c->reload_whole || c->part.kind == PG_LOAD_PART_WHOLE;
	strbuf sb = STRBUF_INIT;
	int rc = 0;
	*freeze = false;
	if (whole && lt->target_owned) {
		strbuf_appendf(&sb, "TRUNCATE %s", lt->target_name);
		rc = target_sql(c, &sb, "emptying the table", err);
		*freeze = rc == 0 && !lt->partitioned && !c->opt.no_freeze;
	} else if (whole && any_recorded) {
		rc = pg_load_fail(err,
				  "%s: the table was partly loaded under another snapshot and must be "
				  "reloaded whole, but target_table_prep = nothing forbids emptying it: "
				  "empty %s on the target and restart the task",
				  c->label, lt->target_name);
	} else if (c->part.kind == PG_LOAD_PART_INT_RANGE && lt->target_owned && any_recorded) {
		strbuf_appendf(&sb, "DELETE FROM %s WHERE ", lt->target_name);
		append_range(&sb, c, true);
		if (c->part.open_lo && c->part.open_hi)
			strbuf_append(&sb, "true");
		rc = target_sql(c, &sb, "deleting the partition's key range", err);
	}
	if (rc == 0 && c->reload_whole) {
		strbuf_reset(&sb);
		strbuf_append(&sb, "DELETE FROM " PG_LOAD_PROGRESS_TABLE " WHERE task = ");
		sql_append_pg_literal(&sb, c->opt.task);
		strbuf_append(&sb, " AND source_table = ");
		sql_append_pg_literal(&sb, lt->source_name);
		strbuf_append(&sb, " AND partition > 0");
		rc = target_sql(c, &sb, "forgetting the table's earlier partitions", err);
	}
	strbuf_free(&sb);
	return rc;
}

/* BEGIN, the skip check and the range preparation: 1 = go on, 0 = recorded, -1 = error. */
static int open_target(pg_load_copy *c, bool *freeze, char **err)
{
	PGresult *res = PQexec(c->tgt, "BEGIN");
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		copy_fail(c, err, "target", c->tgt, res, "BEGIN");
	PQclear(res);
	if (!ok)
		return -1;
	c->target_txn = true;
	if (c->reload_whole) {
		/* serialises workers reloading this table: the later one then finds its
		 * partition recorded by the earlier one */
		strbuf sb = STRBUF_INIT;
		strbuf_appendf(&sb, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", c->lt->target_name);
		int rc = target_sql(c, &sb, "locking the table", err);
		strbuf_free(&sb);
		if (rc < 0)
			return -1;
	}
	bool mine = false, any = false;
	if (read_recorded(c, &mine, &any, err) < 0)
		return -1;
	if (mine && !c->opt.whole_table)
		return 0;
	return prepare_range(c, any, freeze, err) < 0 ? -1 : 1;
}

static int start_copies(pg_load_copy *c, bool freeze, char **err)
{
	const pg_load_table *lt = c->lt;
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "COPY %s (%s) FROM STDIN (FORMAT %s%s)", lt->target_name,
		       lt->target_list, lt->binary ? "binary" : "text", freeze ? ", FREEZE" : "");
	if (strbuf_failed(&sb)) {
		strbuf_free(&sb);
		return pg_load_fail(err, "%s: out of memory", c->label);
	}
	PGresult *res = PQexec(c->tgt, strbuf_str(&sb));
	int rc = 0;
	if (PQresultStatus(res) == PGRES_COPY_IN)
		c->target_copying = true;
	else
		rc = copy_fail(c, err, "target", c->tgt, res, "starting COPY FROM STDIN");
	PQclear(res);
	strbuf_reset(&sb);
	if (rc == 0)
		append_source_copy(&sb, c);
	if (rc == 0 && strbuf_failed(&sb))
		rc = pg_load_fail(err, "%s: out of memory", c->label);
	if (rc == 0) {
		res = PQexec(c->src->conn, strbuf_str(&sb));
		if (PQresultStatus(res) == PGRES_COPY_OUT)
			c->source_copying = c->src->in_copy = true;
		else
			rc = copy_fail(c, err, "source", c->src->conn, res, "starting COPY TO STDOUT");
		PQclear(res);
	}
	strbuf_free(&sb);
	if (rc == 0 && PQsetnonblocking(c->tgt, 1) != 0)
		rc = copy_fail(c, err, "target", c->tgt, NULL, "setting non-blocking mode");
	return rc;
}

pg_load_status pg_load_copy_start(pg_load_source *src, PGconn *target, const pg_load_table *lt,
				  const pg_load_partition *p, const pg_load_copy_options *o,
				  pg_load_copy **out, char **err)
{
	*out = NULL;
	pg_load_copy *c = calloc(1, sizeof *c);
	size_t cap = o->chunk_bytes > 0 ? o->chunk_bytes : DEFAULT_CHUNK;
	char *chunk = malloc(cap);
	if (c == NULL || chunk == NULL) {
		free(c);
		free(chunk);
		return pg_load_fail(err, "table %s: out of memory", lt->source_name), PG_LOAD_ERROR;
	}
	*c = (pg_load_copy){.src = src, .tgt = target, .lt = lt, .part = *p, .opt = *o,
			    .chunk = chunk, .chunk_cap = cap, .first_message = true};
	char where[160];
	if (o->whole_table)
		snprintf(c->label, sizeof c->label, "table %s partitions 1-%d/%d (whole table)",
			 lt->source_name, p->count, p->count);
	else
		snprintf(c->label, sizeof c->label, "table %s %s", lt->source_name,
			 pg_load_partition_label(lt, p, where, sizeof where));
	c->reload_whole = (p->kind == PG_LOAD_PART_CTID_RANGE && !src->exported) || o->whole_table;
	if ((p->kind == PG_LOAD_PART_INT_RANGE && lt->key_column < 0) ||
	    (p->kind == PG_LOAD_PART_CTID_RANGE && lt->partitioned)) {
		/* a stored plan from before the table changed on the source */
		pg_load_fail(err, "%s: the table no longer fits its stored load plan: forget its "
				  "progress and load it again from zero", c->label);
		pg_load_copy_free(c);
		return PG_LOAD_ERROR;
	}
	if (src->in_copy || src->aborted || src->conn == NULL) {
		pg_load_fail(err, "%s: the source transaction is %s", c->label,
			     src->in_copy ? "still copying another partition" : "not open");
		pg_load_copy_free(c);
		return PG_LOAD_ERROR;
	}
	bool freeze = false;
	int rc = open_target(c, &freeze, err);
	if (rc > 0)
		rc = start_copies(c, freeze, err) < 0 ? -1 : 1;
	if (rc <= 0) {
		pg_load_copy_free(c); /* rolls back; a recorded partition had nothing to undo */
		return rc == 0 ? PG_LOAD_SKIPPED : PG_LOAD_ERROR;
	}
	*out = c;
	return PG_LOAD_MORE;
}

/* ---- streaming ---------------------------------------------------------------------------------- */

/* Queues data for the target and tries to send it: -1 on error. */
static int put_data(pg_load_copy *c, const char *data, size_t len, char **err)
{
	if (len == 0)
		return 0;
	if (PQputCopyData(c->tgt, data, (int)len) != 1)
		return copy_fail(c, err, "target", c->tgt, NULL, "sending rows");
	int f = PQflush(c->tgt);
	if (f < 0)
		return copy_fail(c, err, "target", c->tgt, NULL, "sending rows");
	c->flush_pending = f == 1;
	return 0;
}

static int put_chunk(pg_load_copy *c, char **err)
{
	int rc = put_data(c, c->chunk, c->chunk_len, err);
	c->chunk_len = 0;
	return rc;
}

/* One CopyData message from the source. */
static int take_row(pg_load_copy *c, const char *row, int n, char **err)
{
	bool not_a_row = c->lt->binary && (n == BINARY_TRAILER_LEN ||
					   (c->first_message && n == BINARY_EMPTY_LEN));
	c->first_message = false;
	if (!not_a_row)
		c->rows++;
	size_t len = (size_t)n;
	if (c->chunk_len + len > c->chunk_cap && put_chunk(c, err) < 0)
		return -1;
	if (len >= c->chunk_cap)
		return put_data(c, row, len, err); /* a large row goes as it is */
	memcpy(c->chunk + c->chunk_len, row, len);
	c->chunk_len += len;
	return c->chunk_len >= c->chunk_cap ? put_chunk(c, err) : 0;
}

/* Reads the rows libpq has buffered: 1 = the source finished, 0 = needs input (or the
 * target is full), -1 = error. */
static int drain_source(pg_load_copy *c, char **err)
{
	while (!c->flush_pending) {
		char *row = NULL;
		int n = PQgetCopyData(c->src->conn, &row, 1);
		if (n > 0) {
			int rc = take_row(c, row, n, err);
			PQfreemem(row);
			if (rc < 0)
				return -1;
			continue;
		}
		if (n == 0) /* nothing complete buffered: pass on what we have meanwhile */
			return put_chunk(c, err);
		if (n == -1) {
			c->source_copying = false;
			return put_chunk(c, err) < 0 ? -1 : 1;
		}
		return copy_fail(c, err, "source", c->src->conn, NULL, "reading rows");
	}
	return 0;
}

/* Waits until a socket can move data or the deadline: 0 ready / timed out, -1 error. */
static int wait_sockets(pg_load_copy *c, int64_t deadline, char **err)
{
	struct pollfd fd = {.events = c->flush_pending ? POLLOUT : POLLIN};
	fd.fd = c->flush_pending ? PQsocket(c->tgt) : PQsocket(c->src->conn);
	int64_t left = deadline - now_ms();
	if (left < 0)
		left = 0;
	int n = poll(&fd, 1, (int)left);
	if (n < 0 && errno != EINTR)
		return pg_load_fail(err, "%s: poll: %s", c->label, strerror(errno));
	if (n <= 0)
		return 0;
	if (c->flush_pending) {
		int f = PQflush(c->tgt);
		if (f < 0)
			return copy_fail(c, err, "target", c->tgt, NULL, "sending rows");
		c->flush_pending = f == 1;
	} else if (!PQconsumeInput(c->src->conn)) {
		return copy_fail(c, err, "source", c->src->conn, NULL, "reading rows");
	}
	return 0;
}

/* ---- finishing ------------------------------------------------------------------------------------ */

/* The one result a finished COPY leaves (then NULL): its row count, or -1 with *err. */
static int64_t copy_result(pg_load_copy *c, PGconn *conn, const char *side, char **err)
{
	int64_t rows = -1;
	bool failed = false;
	PGresult *res;
	while ((res = PQgetResult(conn)) != NULL) {
		if (!failed && PQresultStatus(res) == PGRES_COMMAND_OK && rows == -1) {
			rows = strtoll(PQcmdTuples(res), NULL, 10);
		} else if (!failed) {
			copy_fail(c, err, side, conn, res, "finishing COPY");
			failed = true;
		}
		PQclear(res);
	}
	if (!failed && rows < 0)
		copy_fail(c, err, side, conn, NULL, "finishing COPY");
	return failed ? -1 : rows;
}

static int record_partition(pg_load_copy *c, char **err)
{
	char num[16], first[16], last[16], rows[24], pos[24];
	snprintf(num, sizeof num, "%d", c->part.number);
	snprintf(first, sizeof first, "%d", c->reload_whole ? 1 : c->part.number);
	snprintf(last, sizeof last, "%d", c->reload_whole ? c->part.count : c->part.number);
	snprintf(rows, sizeof rows, "%" PRId64, c->rows);
	c->has_position = !c->src->exported;
	c->position = c->src->snapshot_lsn;
	snprintf(pos, sizeof pos, "%" PRIu64, c->position);
	const char *params[7] = {c->opt.task, c->lt->source_name, num, rows,
				 c->has_position ? pos : NULL, first, last};
	/* a whole-table reload records every partition of the table: only this one has rows */
	PGresult *res = PQexecParams(
		c->tgt,
		"INSERT INTO " PG_LOAD_PROGRESS_TABLE
		" (task, source_table, partition, rows, finish_position)"
		" SELECT $1, $2, g, CASE WHEN g = $3::int THEN $4::int8 ELSE 0 END, $5::int8"
		" FROM pg_catalog.generate_series($6::int, $7::int) g",
		7, NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK
			 ? 0
			 : copy_fail(c, err, "target", c->tgt, res, "recording the partition");
	PQclear(res);
	if (rc == 0) {
		res = PQexec(c->tgt, "COMMIT");
		rc = PQresultStatus(res) == PGRES_COMMAND_OK
			     ? 0
			     : copy_fail(c, err, "target", c->tgt, res, "COMMIT");
		PQclear(res);
		c->target_txn = false; /* committed, or rolled back by the failed COMMIT */
	}
	return rc;
}

/* The source has sent everything: end the target's COPY, compare the counts, commit. */
static int finish_copy(pg_load_copy *c, char **err)
{
	int64_t source_rows = copy_result(c, c->src->conn, "source", err);
	c->src->in_copy = false;
	if (source_rows < 0)
		return -1;
	if (pg_conn_set_blocking(c->tgt) != 0 || PQputCopyEnd(c->tgt, NULL) != 1 ||
	    PQflush(c->tgt) != 0)
		return copy_fail(c, err, "target", c->tgt, NULL, "ending COPY FROM STDIN");
	c->target_copying = false;
	int64_t target_rows = copy_result(c, c->tgt, "target", err);
	if (target_rows < 0)
		return -1;
	if (target_rows != source_rows)
		return pg_load_fail(err, "%s: the source sent %" PRId64 " rows, the target took %" PRId64,
				    c->label, source_rows, target_rows);
	c->rows = source_rows;
	if (record_partition(c, err) < 0)
		return -1;
	c->done = true;
	return 0;
}

pg_load_status pg_load_copy_step(pg_load_copy *c, int timeout_ms, char **err)
{
	if (c->done)
		return PG_LOAD_DONE;
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		int rc = drain_source(c, err);
		if (rc < 0)
			return PG_LOAD_ERROR;
		if (rc > 0)
			return finish_copy(c, err) < 0 ? PG_LOAD_ERROR : PG_LOAD_DONE;
		if (now_ms() >= deadline)
			return PG_LOAD_MORE;
		if (wait_sockets(c, deadline, err) < 0)
			return PG_LOAD_ERROR;
	}
}

int64_t pg_load_copy_rows(const pg_load_copy *c)
{
	return c->rows;
}

bool pg_load_copy_position(const pg_load_copy *c, uint64_t *position)
{
	if (c->has_position && position != NULL)
		*position = c->position;
	return c->has_position;
}

/* ---- abandoning --------------------------------------------------------------------------------- */

static void cancel_source(pg_load_copy *c)
{
	pg_load_source_cancel(c->src);
	c->source_copying = false;
}

void pg_load_source_cancel(pg_load_source *src)
{
	PGconn *conn = src->conn;
	PGcancel *cancel = PQgetCancel(conn);
	char buf[256];
	if (cancel != NULL) {
		PQcancel(cancel, buf, sizeof buf);
		PQfreeCancel(cancel);
	}
	pg_conn_set_blocking(conn);
	char *row = NULL;
	int n;
	while ((n = PQgetCopyData(conn, &row, 0)) > 0)
		PQfreemem(row);
	PGresult *res;
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	src->in_copy = false;
	src->aborted = true;
}

void pg_load_copy_free(pg_load_copy *c)
{
	if (c == NULL)
		return;
	if (c->source_copying)
		cancel_source(c);
	if (c->target_copying) {
		pg_conn_set_blocking(c->tgt);
		PQputCopyEnd(c->tgt, "load of the partition abandoned");
		PGresult *res;
		while ((res = PQgetResult(c->tgt)) != NULL)
			PQclear(res);
	}
	pg_conn_set_blocking(c->tgt);
	if (c->target_txn)
		PQclear(PQexec(c->tgt, "ROLLBACK"));
	free(c->chunk);
	free(c);
}

pg_load_status pg_load_copy_partition(pg_load_source *src, PGconn *target,
				      const pg_load_table *lt, const pg_load_partition *p,
				      const pg_load_copy_options *o, int64_t *rows, char **err)
{
	pg_load_copy *c = NULL;
	pg_load_status st = pg_load_copy_start(src, target, lt, p, o, &c, err);
	while (st == PG_LOAD_MORE)
		st = pg_load_copy_step(c, 1000, err);
	if (rows != NULL)
		*rows = st == PG_LOAD_DONE ? c->rows : 0;
	pg_load_copy_free(c);
	return st;
}
