/* PostgreSQL validation requests: SQL text per request, run with libpq's asynchronous
 * calls so the pool can keep several connections busy (see the header). */
#include "workers/pg_validate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settings every validation session runs with (the header says why). Parallel query and
 * JIT off: the pool already keeps several connections busy, and a range's query is too
 * short for either to pay off (parallel workers made it three times slower). */
static const char session_sql[] =
	"SET DateStyle = ISO; SET TimeZone = 'UTC'; SET bytea_output = hex; SET extra_float_digits = 3; "
	"SET IntervalStyle = postgres; SET lc_monetary = 'C'; SET search_path = ''; "
	"SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
	"SET max_parallel_workers_per_gather = 0; SET jit = off";

typedef struct pg_vd_conn {
	PGconn *conn;
	vd_req_kind kind;
	bool with_position;
	int tuples_seen;      /* result sets with rows received so far */
	PGresult *main;       /* the request's answer */
	char *position;       /* with_position: the position's text */
	char error[512];      /* the first error of the request */
} pg_vd_conn;

/* ---- SQL text -------------------------------------------------------------------- */

static void append_col(strbuf *sb, const vd_table *t, vd_side side, int col)
{
	sql_append_pg_ident(sb, t->cols[side][col]);
}

/* A value column as the comparison reads it: an array compared with MySQL's JSON it
 * became is read as JSON (validate_canon.h). */
static void append_value_col(strbuf *sb, const vd_table *t, vd_side side, int col)
{
	bool json = t->canon && t->canon[col] == VD_CANON_ARRAY;
	if (json)
		strbuf_append(sb, "pg_catalog.to_jsonb(");
	append_col(sb, t, side, col);
	if (json)
		strbuf_append(sb, ")::text");
}

static void append_key_col(strbuf *sb, const vd_table *t, vd_side side, int k)
{
	append_col(sb, t, side, t->key[k]);
	if (t->key_collate_c && t->key_collate_c[k])
		strbuf_append(sb, " COLLATE \"C\"");
}

/* "k" or ROW("k1", "k2"), each with its collation. */
static void append_key_expr(strbuf *sb, const vd_table *t, vd_side side)
{
	if (t->n_key > 1)
		strbuf_append(sb, "ROW(");
	for (int k = 0; k < t->n_key; k++) {
		if (k)
			strbuf_append(sb, ", ");
		append_key_col(sb, t, side, k);
	}
	if (t->n_key > 1)
		strbuf_append(sb, ")");
}

static void append_key_value(strbuf *sb, const vd_table *t, char *const *vals)
{
	if (t->n_key > 1)
		strbuf_append(sb, "ROW(");
	for (int k = 0; k < t->n_key; k++) {
		if (k)
			strbuf_append(sb, ", ");
		sql_append_pg_literal(sb, vals[k]);
	}
	if (t->n_key > 1)
		strbuf_append(sb, ")");
}

static void append_order(strbuf *sb, const vd_table *t, vd_side side)
{
	strbuf_append(sb, " ORDER BY ");
	for (int k = 0; k < t->n_key; k++) {
		if (k)
			strbuf_append(sb, ", ");
		append_key_col(sb, t, side, k);
	}
}

static void append_from(strbuf *sb, const vd_table *t, vd_side side)
{
	strbuf_append(sb, " FROM ");
	/* ONLY: inheritance children are tables of their own; partitions belong to the parent. */
	if (!t->partitioned)
		strbuf_append(sb, "ONLY ");
	sql_append_pg_qualified(sb, t->schema[side], t->name[side]);
}

/* WHERE: the source's filter, the range or the key list; "TRUE" when none applies. */
static void append_where(strbuf *sb, const vd_request *req)
{
	const vd_table *t = req->table;
	strbuf_append(sb, " WHERE ");
	if (req->side == VD_SOURCE && t->filter)
		strbuf_appendf(sb, "(%s) AND ", t->filter);
	if (req->keys) {
		append_key_expr(sb, t, req->side);
		strbuf_append(sb, " IN (");
		for (int i = 0; i < req->n_keys; i++) {
			if (i)
				strbuf_append(sb, ", ");
			append_key_value(sb, t, req->keys + (size_t)i * (size_t)t->n_key);
		}
		strbuf_append(sb, ")");
		return;
	}
	const vd_range *r = req->range;
	if (r && r->lo) {
		append_key_expr(sb, t, req->side);
		strbuf_append(sb, " >= ");
		append_key_value(sb, t, r->lo);
		strbuf_append(sb, " AND ");
	}
	if (r && r->hi) {
		append_key_expr(sb, t, req->side);
		strbuf_append(sb, " < ");
		append_key_value(sb, t, r->hi);
		strbuf_append(sb, " AND ");
	}
	strbuf_append(sb, "TRUE");
}

static void append_row_hash(strbuf *sb, const vd_table *t, vd_side side)
{
	strbuf_append(sb, "pg_catalog.hashtextextended(ROW(");
	for (int c = 0; c < t->n_cols; c++) {
		if (c)
			strbuf_append(sb, ", ");
		append_col(sb, t, side, c);
	}
	strbuf_append(sb, ")::text, 0)");
}

static const char version_expr[] = "pg_catalog.concat_ws(':', tableoid::oid, ctid, xmin)";

/* ROWS: [version,] every column; VERSIONS: version, the key columns. Key order. */
static void build_rows(const vd_request *req, strbuf *sb)
{
	const vd_table *t = req->table;
	bool versions = req->kind == VD_REQ_VERSIONS;
	strbuf_append(sb, "SELECT ");
	if (versions || req->with_version)
		strbuf_appendf(sb, "%s, ", version_expr);
	int n = versions ? t->n_key : t->n_cols;
	for (int i = 0; i < n; i++) {
		if (i)
			strbuf_append(sb, ", ");
		if (versions)
			append_col(sb, t, req->side, t->key[i]);
		else
			append_value_col(sb, t, req->side, i);
	}
	append_from(sb, t, req->side);
	append_where(sb, req);
	if (t->n_key > 0)
		append_order(sb, t, req->side);
	if (req->limit > 0)
		strbuf_appendf(sb, " LIMIT %" PRId64, req->limit);
}

/* The key of every step-th row in key order. Aliases "0".."n" cannot clash with each
 * other, whatever the columns are called. */
static void build_sample(const vd_request *req, strbuf *sb)
{
	const vd_table *t = req->table;
	strbuf_append(sb, "SELECT ");
	for (int k = 0; k < t->n_key; k++)
		strbuf_appendf(sb, "%s\"%d\"", k ? ", " : "", k + 1);
	strbuf_append(sb, " FROM (SELECT ");
	for (int k = 0; k < t->n_key; k++) {
		append_col(sb, t, req->side, t->key[k]);
		strbuf_appendf(sb, " AS \"%d\", ", k + 1);
	}
	strbuf_append(sb, "pg_catalog.row_number() OVER (");
	append_order(sb, t, req->side);
	strbuf_append(sb, ") AS \"0\"");
	append_from(sb, t, req->side);
	append_where(sb, req);
	strbuf_appendf(sb, ") s WHERE \"0\" %% %" PRId64 " = 0 ORDER BY \"0\"", req->step > 0 ? req->step : 1);
}

static void build_main(const vd_request *req, strbuf *sb)
{
	const vd_table *t = req->table;
	vd_side s = req->side;
	switch (req->kind) {
	case VD_REQ_HASH:
		strbuf_append(sb, "SELECT pg_catalog.count(*)::text, COALESCE(pg_catalog.sum(");
		append_row_hash(sb, t, s);
		strbuf_append(sb, "), 0)::text");
		append_from(sb, t, s);
		append_where(sb, req);
		break;
	case VD_REQ_ROWS:
	case VD_REQ_VERSIONS:
		build_rows(req, sb);
		break;
	case VD_REQ_BOUNDS:
		strbuf_append(sb, "SELECT pg_catalog.min(");
		append_col(sb, t, s, t->key[0]);
		strbuf_append(sb, ")::text, pg_catalog.max(");
		append_col(sb, t, s, t->key[0]);
		strbuf_append(sb, ")::text");
		append_from(sb, t, s);
		append_where(sb, req);
		break;
	case VD_REQ_SAMPLE:
		build_sample(req, sb);
		break;
	case VD_REQ_SAMPLE_TABLE:
		strbuf_append(sb, "SELECT ");
		for (int k = 0; k < t->n_key; k++) {
			if (k)
				strbuf_append(sb, ", ");
			append_col(sb, t, s, t->key[k]);
		}
		append_from(sb, t, s);
		strbuf_appendf(sb, " TABLESAMPLE SYSTEM (%.6f)", req->percent);
		append_where(sb, req);
		append_order(sb, t, s);
		break;
	case VD_REQ_ROW_HASHES:
		strbuf_append(sb, "SELECT h::text, pg_catalog.count(*)::text FROM (SELECT ");
		append_row_hash(sb, t, s);
		strbuf_append(sb, " AS h");
		append_from(sb, t, s);
		append_where(sb, req);
		strbuf_append(sb, ") s GROUP BY h ORDER BY h");
		break;
	case VD_REQ_NUDGE:
		strbuf_append(sb, "SELECT pg_catalog.pg_logical_emit_message(false, 'ferry', 'validation marker')::text");
		break;
	}
}

int pg_vd_build_sql(const vd_request *req, strbuf *out)
{
	bool txn = req->with_position && req->side == VD_SOURCE && req->kind != VD_REQ_NUDGE;
	if (txn)
		strbuf_append(out, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
				   "SELECT pg_catalog.pg_current_wal_insert_lsn()::text; ");
	build_main(req, out);
	if (txn)
		strbuf_append(out, "; COMMIT");
	return strbuf_failed(out) ? -1 : 0;
}

int pg_vd_parse_lsn(const char *text, uint64_t *out)
{
	unsigned hi, lo;
	char extra;
	if (text == NULL || sscanf(text, "%X/%X%c", &hi, &lo, &extra) != 2)
		return -1;
	*out = (uint64_t)hi << 32 | lo;
	return 0;
}

/* ---- connection ------------------------------------------------------------------ */

void *pg_vd_conn_new(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, session_sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "setting up the validation session: %s", PQerrorMessage(conn));
	PQclear(res);
	pg_vd_conn *c = ok ? calloc(1, sizeof *c) : NULL;
	if (ok && c == NULL)
		snprintf(err, errlen, "out of memory");
	if (c)
		c->conn = conn;
	return c;
}

static void reset_request(pg_vd_conn *c)
{
	PQclear(c->main);
	free(c->position);
	c->main = NULL;
	c->position = NULL;
	c->tuples_seen = 0;
	c->error[0] = '\0';
}

void pg_vd_conn_free(void *impl)
{
	pg_vd_conn *c = impl;
	if (c == NULL)
		return;
	reset_request(c);
	free(c);
}

static void first_line(const char *text, char *buf, size_t size)
{
	size_t n = strcspn(text ? text : "", "\n");
	snprintf(buf, size, "%.*s", (int)n, text ? text : "");
}

static int pg_start(void *impl, const vd_request *req, char *err, size_t errlen)
{
	pg_vd_conn *c = impl;
	reset_request(c);
	c->kind = req->kind;
	c->with_position = req->with_position && req->side == VD_SOURCE && req->kind != VD_REQ_NUDGE;
	strbuf sql = STRBUF_INIT;
	int rc = pg_vd_build_sql(req, &sql);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	else if (!PQsendQuery(c->conn, strbuf_str(&sql))) {
		first_line(PQerrorMessage(c->conn), err, errlen);
		rc = -1;
	}
	strbuf_free(&sql);
	return rc;
}

static int pg_socket(void *impl)
{
	return PQsocket(((pg_vd_conn *)impl)->conn);
}

static short pg_events(void *impl)
{
	(void)impl;
	return POLLIN;
}

/* Keeps what the request answers: the position's row (first result with rows when
 * asked), then the main result; remembers the first error. */
static void take_result(pg_vd_conn *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK) {
		if (c->with_position && c->tuples_seen == 0) {
			if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
				c->position = strdup(PQgetvalue(res, 0, 0));
		} else if (c->main == NULL) {
			c->main = res;
			res = NULL;
		}
		c->tuples_seen++;
	} else if (st != PGRES_COMMAND_OK && c->error[0] == '\0') {
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		char msg[400];
		first_line(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), msg, sizeof msg);
		snprintf(c->error, sizeof c->error, "%s%s%s", msg[0] ? msg : "query failed", detail ? ": " : "",
			 detail ? detail : "");
	}
	PQclear(res);
}

/* Copies a PGresult into a vd_rows (one allocation for the strings). */
static int copy_rows(const PGresult *res, vd_rows *out)
{
	int n = PQntuples(res), m = PQnfields(res);
	size_t bytes = 0;
	for (int r = 0; r < n; r++)
		for (int f = 0; f < m; f++)
			if (!PQgetisnull(res, r, f))
				bytes += (size_t)PQgetlength(res, r, f) + 1;
	out->n_rows = n;
	out->n_cols = m;
	out->cells = calloc((size_t)n * (size_t)m + 1, sizeof *out->cells);
	out->arena = malloc(bytes + 1);
	if (out->cells == NULL || out->arena == NULL) {
		vd_rows_free(out);
		return -1;
	}
	char *p = out->arena;
	for (int r = 0; r < n; r++) {
		for (int f = 0; f < m; f++) {
			if (PQgetisnull(res, r, f))
				continue;
			size_t len = (size_t)PQgetlength(res, r, f);
			memcpy(p, PQgetvalue(res, r, f), len + 1);
			out->cells[(size_t)r * (size_t)m + (size_t)f] = p;
			p += len + 1;
		}
	}
	return 0;
}

/* The request is over: hands its answer out, or the error. 1 or -1. */
static int complete(pg_vd_conn *c, vd_answer *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (c->error[0] == '\0' && c->main == NULL)
		snprintf(c->error, sizeof c->error, "the server sent no rows");
	if (c->error[0] == '\0' && c->with_position) {
		if (c->position == NULL || pg_vd_parse_lsn(c->position, &out->position) < 0)
			snprintf(c->error, sizeof c->error, "the server sent no position");
		out->has_position = true;
	}
	if (c->error[0] == '\0' && copy_rows(c->main, &out->rows) < 0)
		snprintf(c->error, sizeof c->error, "out of memory");
	if (c->error[0] == '\0' && c->kind == VD_REQ_NUDGE) {
		out->has_position = pg_vd_parse_lsn(vd_cell(&out->rows, 0, 0), &out->position) == 0;
	}
	if (c->error[0]) {
		snprintf(err, errlen, "%s", c->error);
		vd_answer_free(out);
		/* A failed statement inside the request's transaction leaves it aborted. */
		if (PQstatus(c->conn) == CONNECTION_OK && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
			PQclear(PQexec(c->conn, "ROLLBACK"));
		reset_request(c);
		return -1;
	}
	reset_request(c);
	return 1;
}

static int pg_step(void *impl, vd_answer *out, char *err, size_t errlen)
{
	pg_vd_conn *c = impl;
	if (!PQconsumeInput(c->conn)) {
		first_line(PQerrorMessage(c->conn), err, errlen);
		reset_request(c);
		return -1;
	}
	while (!PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		if (res == NULL)
			return complete(c, out, err, errlen);
		take_result(c, res);
	}
	return 0;
}

static void pg_cancel(void *impl)
{
	pg_vd_conn *c = impl;
	PGcancel *cancel = PQgetCancel(c->conn);
	char buf[256];
	if (cancel) {
		PQcancel(cancel, buf, sizeof buf);
		PQfreeCancel(cancel);
	}
}

static bool pg_alive(void *impl)
{
	return PQstatus(((pg_vd_conn *)impl)->conn) == CONNECTION_OK;
}

const vd_conn_ops pg_vd_ops = {
	.start = pg_start,
	.socket = pg_socket,
	.events = pg_events,
	.step = pg_step,
	.cancel = pg_cancel,
	.alive = pg_alive,
};
