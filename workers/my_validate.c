/* MySQL/MariaDB validation requests (see the header). */
#include "workers/my_validate.h"

#include <ctype.h>
#include <errmsg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/record.h"
#include "workers/my_sql.h"
#include "workers/validate_range.h"

#define MY_ER_PARSE_ERROR 1064

typedef struct my_vd_conn {
	MYSQL *conn;
	vd_request req; /* the request under way (its pointers are the caller's) */
	bool pending;
	bool lost;
} my_vd_conn;

/* ---- SQL text -------------------------------------------------------------------------- */

static void col(strbuf *sb, const vd_table *t, vd_side side, int c)
{
	sql_append_mysql_ident(sb, t->cols[side][c]);
}

/* A value column as the comparison reads it (the header says why). */
static void value_col(strbuf *sb, const vd_table *t, vd_side side, int c)
{
	vd_canon_kind k = t->canon ? t->canon[c] : VD_CANON_RAW;
	const char *open = k == VD_CANON_BYTES ? "HEX(" : k == VD_CANON_BIT ? "BIN(" : "(";
	const char *close = k == VD_CANON_BIT ? " + 0)" : k == VD_CANON_FLOAT4 || k == VD_CANON_FLOAT8 ? " + 0E0)" : ")";
	if (k != VD_CANON_BYTES && k != VD_CANON_BIT && k != VD_CANON_FLOAT4 && k != VD_CANON_FLOAT8) {
		col(sb, t, side, c);
		return;
	}
	strbuf_append(sb, open);
	col(sb, t, side, c);
	strbuf_append(sb, close);
}

static void key_col(strbuf *sb, const vd_table *t, vd_side side, int k)
{
	bool binary = t->key_collate_c && t->key_collate_c[k];
	if (binary)
		strbuf_append(sb, "CAST(");
	col(sb, t, side, t->key[k]);
	if (binary)
		strbuf_append(sb, " AS BINARY)");
}

static void key_expr(strbuf *sb, const vd_table *t, vd_side side)
{
	if (t->n_key > 1)
		strbuf_append(sb, "(");
	for (int k = 0; k < t->n_key; k++) {
		if (k)
			strbuf_append(sb, ", ");
		key_col(sb, t, side, k);
	}
	if (t->n_key > 1)
		strbuf_append(sb, ")");
}

/* A key value: an integer key as a number (a quoted one would compare as a double),
 * anything else as an escaped string. */
static void key_value(strbuf *sb, MYSQL *conn, const vd_table *t, char *const *vals)
{
	if (t->n_key > 1)
		strbuf_append(sb, "(");
	for (int k = 0; k < t->n_key; k++) {
		int64_t n;
		if (k)
			strbuf_append(sb, ", ");
		if (t->int_key && vd_parse_int64(vals[k], &n) == 0)
			strbuf_appendf(sb, "%" PRId64, n);
		else
			my_sql_append_literal(sb, conn, vals[k]);
	}
	if (t->n_key > 1)
		strbuf_append(sb, ")");
}

static void order_by(strbuf *sb, const vd_table *t, vd_side side)
{
	strbuf_append(sb, " ORDER BY ");
	for (int k = 0; k < t->n_key; k++) {
		if (k)
			strbuf_append(sb, ", ");
		key_col(sb, t, side, k);
	}
}

static void from(strbuf *sb, const vd_table *t, vd_side side)
{
	strbuf_append(sb, " FROM ");
	sql_append_mysql_qualified(sb, t->schema[side], t->name[side]);
}

/* WHERE: extra (may be NULL), the source's filter, the range or the key list. */
static void where(strbuf *sb, MYSQL *conn, const vd_request *req, const char *extra)
{
	const vd_table *t = req->table;
	strbuf_append(sb, " WHERE ");
	if (extra)
		strbuf_appendf(sb, "%s AND ", extra);
	if (req->side == VD_SOURCE && t->filter)
		strbuf_appendf(sb, "(%s) AND ", t->filter);
	if (req->keys) {
		key_expr(sb, t, req->side);
		strbuf_append(sb, " IN (");
		for (int i = 0; i < req->n_keys; i++) {
			if (i)
				strbuf_append(sb, ", ");
			key_value(sb, conn, t, req->keys + (size_t)i * (size_t)t->n_key);
		}
		strbuf_append(sb, ")");
		return;
	}
	const vd_range *r = req->range;
	if (r && r->lo) {
		key_expr(sb, t, req->side);
		strbuf_append(sb, " >= ");
		key_value(sb, conn, t, r->lo);
		strbuf_append(sb, " AND ");
	}
	if (r && r->hi) {
		key_expr(sb, t, req->side);
		strbuf_append(sb, " < ");
		key_value(sb, conn, t, r->hi);
		strbuf_append(sb, " AND ");
	}
	strbuf_append(sb, "TRUE");
}

/* MD5 of the row's text (the header). */
static void row_md5(strbuf *sb, const vd_table *t, vd_side side)
{
	strbuf_append(sb, "MD5(CONCAT_WS(0x1f");
	for (int c = 0; c < t->n_cols; c++) {
		strbuf_append(sb, ", ISNULL(");
		col(sb, t, side, c);
		strbuf_append(sb, "), CAST(");
		value_col(sb, t, side, c);
		strbuf_append(sb, " AS BINARY)");
	}
	strbuf_append(sb, "))");
}

static void build_rows(MYSQL *conn, const vd_request *req, strbuf *sb)
{
	const vd_table *t = req->table;
	bool versions = req->kind == VD_REQ_VERSIONS;
	strbuf_append(sb, "SELECT ");
	if (versions || req->with_version) {
		row_md5(sb, t, req->side);
		strbuf_append(sb, ", ");
	}
	int n = versions ? t->n_key : t->n_cols;
	for (int i = 0; i < n; i++) {
		if (i)
			strbuf_append(sb, ", ");
		value_col(sb, t, req->side, versions ? t->key[i] : i);
	}
	from(sb, t, req->side);
	where(sb, conn, req, NULL);
	if (t->n_key > 0)
		order_by(sb, t, req->side);
	if (req->limit > 0)
		strbuf_appendf(sb, " LIMIT %" PRId64, req->limit);
}

static void build_sample(MYSQL *conn, const vd_request *req, strbuf *sb)
{
	const vd_table *t = req->table;
	strbuf_append(sb, "SELECT ");
	for (int k = 0; k < t->n_key; k++)
		strbuf_appendf(sb, "%s`%d`", k ? ", " : "", k + 1);
	strbuf_append(sb, " FROM (SELECT ");
	for (int k = 0; k < t->n_key; k++) {
		col(sb, t, req->side, t->key[k]);
		strbuf_appendf(sb, " AS `%d`, ", k + 1);
	}
	strbuf_append(sb, "ROW_NUMBER() OVER (");
	order_by(sb, t, req->side);
	strbuf_append(sb, ") AS `0`");
	from(sb, t, req->side);
	where(sb, conn, req, NULL);
	strbuf_appendf(sb, ") s WHERE `0` %% %" PRId64 " = 0 ORDER BY `0`", req->step > 0 ? req->step : 1);
}

static void build_keys(MYSQL *conn, const vd_request *req, strbuf *sb)
{
	const vd_table *t = req->table;
	strbuf_append(sb, "SELECT ");
	for (int k = 0; k < t->n_key; k++) {
		if (k)
			strbuf_append(sb, ", ");
		col(sb, t, req->side, t->key[k]);
	}
	from(sb, t, req->side);
	/* no TABLESAMPLE in MySQL: every row is read, about percent % kept */
	char rand[64];
	snprintf(rand, sizeof rand, "RAND() < %.8f", req->percent / 100.0);
	where(sb, conn, req, rand);
	order_by(sb, t, req->side);
}

int my_vd_build_sql(MYSQL *conn, const vd_request *req, strbuf *sb)
{
	const vd_table *t = req->table;
	vd_side s = req->side;
	switch (req->kind) {
	case VD_REQ_HASH:
		strbuf_append(sb, "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(");
		row_md5(sb, t, s);
		strbuf_append(sb, ", 1, 15), 16, 10) AS UNSIGNED)), 0)");
		from(sb, t, s);
		where(sb, conn, req, NULL);
		break;
	case VD_REQ_ROWS:
	case VD_REQ_VERSIONS:
		build_rows(conn, req, sb);
		break;
	case VD_REQ_BOUNDS:
		strbuf_append(sb, "SELECT MIN(");
		col(sb, t, s, t->key[0]);
		strbuf_append(sb, "), MAX(");
		col(sb, t, s, t->key[0]);
		strbuf_append(sb, ")");
		from(sb, t, s);
		where(sb, conn, req, NULL);
		break;
	case VD_REQ_SAMPLE:
		build_sample(conn, req, sb);
		break;
	case VD_REQ_SAMPLE_TABLE:
		build_keys(conn, req, sb);
		break;
	case VD_REQ_ROW_HASHES:
		strbuf_append(sb, "SELECT h, COUNT(*) FROM (SELECT CAST(CONV(SUBSTRING(");
		row_md5(sb, t, s);
		strbuf_append(sb, ", 1, 15), 16, 10) AS SIGNED) AS h");
		from(sb, t, s);
		where(sb, conn, req, NULL);
		strbuf_append(sb, ") s GROUP BY h ORDER BY h");
		break;
	case VD_REQ_NUDGE:
		break; /* no statement: the current position is read */
	}
	return strbuf_failed(sb) ? -1 : 0;
}

/* ---- positions ------------------------------------------------------------------------- */

int my_vd_parse_position(const char *file, const char *offset, uint64_t *out)
{
	const char *dot = file ? strrchr(file, '.') : NULL;
	char *end;
	if (dot == NULL || !isdigit((unsigned char)dot[1]) || offset == NULL)
		return -1;
	unsigned long long no = strtoull(dot + 1, &end, 10), off;
	if (*end != '\0' || no > UINT32_MAX)
		return -1;
	off = strtoull(offset, &end, 10);
	if (*end != '\0' || end == offset || off > UINT32_MAX)
		return -1;
	*out = record_mysql_position((uint32_t)no, (uint32_t)off);
	return 0;
}

static void first_error(MYSQL *conn, const char *context, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s (error %u)", context, mysql_error(conn), mysql_errno(conn));
}

int my_vd_current_position(MYSQL *conn, uint64_t *out, char *err, size_t errlen)
{
	/* MySQL 8.4 knows only the new name; older servers only the old one */
	int rc = mysql_query(conn, "SHOW MASTER STATUS");
	if (rc != 0 && mysql_errno(conn) == MY_ER_PARSE_ERROR)
		rc = mysql_query(conn, "SHOW BINARY LOG STATUS");
	MYSQL_RES *res = rc == 0 ? mysql_store_result(conn) : NULL;
	if (res == NULL) {
		first_error(conn, "reading the binlog position", err, errlen);
		return -1;
	}
	MYSQL_ROW row = mysql_fetch_row(res);
	rc = row && mysql_num_fields(res) >= 2 ? my_vd_parse_position(row[0], row[1], out) : -1;
	if (rc < 0)
		snprintf(err, errlen, "reading the binlog position: %s", row ? "an unexpected answer"
								  : "the binlog is off (log_bin)");
	mysql_free_result(res);
	return rc;
}

/* ---- connection ------------------------------------------------------------------------ */

void *my_vd_conn_new(MYSQL *conn, char *err, size_t errlen)
{
	static const char *const setup[] = {
		"SET time_zone = '+00:00', NAMES utf8mb4",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	};
	for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
		if (mysql_query(conn, setup[i]) != 0) {
			first_error(conn, "setting up the validation session", err, errlen);
			return NULL;
		}
	}
	/* no statement time limit: MariaDB's name first, MySQL's if that is unknown */
	if (mysql_query(conn, "SET SESSION max_statement_time = 0") != 0)
		(void)mysql_query(conn, "SET SESSION max_execution_time = 0");
	my_vd_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		snprintf(err, errlen, "out of memory");
	else
		c->conn = conn;
	return c;
}

void my_vd_conn_free(void *impl)
{
	free(impl);
}

/* A whole result into a vd_rows (one allocation for the strings). -1 on memory. */
static int copy_result(MYSQL_RES *res, vd_rows *out)
{
	int n = (int)mysql_num_rows(res), m = (int)mysql_num_fields(res);
	size_t bytes = 1;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		unsigned long *len = mysql_fetch_lengths(res);
		for (int f = 0; f < m; f++)
			bytes += row[f] ? len[f] + 1 : 0;
	}
	out->n_rows = n;
	out->n_cols = m;
	out->cells = calloc((size_t)n * (size_t)m + 1, sizeof *out->cells);
	out->arena = malloc(bytes);
	if (out->cells == NULL || out->arena == NULL) {
		vd_rows_free(out);
		return -1;
	}
	mysql_data_seek(res, 0);
	char *p = out->arena;
	for (int r = 0; (row = mysql_fetch_row(res)) != NULL && r < n; r++) {
		unsigned long *len = mysql_fetch_lengths(res);
		for (int f = 0; f < m; f++) {
			if (row[f] == NULL)
				continue;
			memcpy(p, row[f], len[f]);
			p[len[f]] = '\0';
			out->cells[(size_t)r * (size_t)m + (size_t)f] = p;
			p += len[f] + 1;
		}
	}
	return 0;
}

/* Runs sql and keeps its rows (rows NULL: result dropped). 0, or -1 with err. */
static int run(my_vd_conn *c, const char *sql, vd_rows *rows, char *err, size_t errlen)
{
	if (mysql_real_query(c->conn, sql, (unsigned long)strlen(sql)) != 0) {
		first_error(c->conn, "validation query", err, errlen);
		return -1;
	}
	MYSQL_RES *res = mysql_store_result(c->conn);
	if (res == NULL && mysql_field_count(c->conn) > 0) {
		first_error(c->conn, "reading a validation answer", err, errlen);
		return -1;
	}
	int rc = 0;
	if (res && rows && copy_result(res, rows) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (res)
		mysql_free_result(res);
	return rc;
}

/* The answer of NUDGE: one cell, the position. */
static int one_cell(vd_rows *rows, uint64_t pos, char *err, size_t errlen)
{
	rows->cells = calloc(2, sizeof *rows->cells);
	rows->arena = malloc(32);
	if (rows->cells == NULL || rows->arena == NULL) {
		vd_rows_free(rows);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(rows->arena, 32, "%" PRIu64, pos);
	rows->cells[0] = rows->arena;
	rows->n_rows = rows->n_cols = 1;
	return 0;
}

/* The request, start to end: [snapshot, position,] main statement [, commit]. */
static int run_request(my_vd_conn *c, vd_answer *out, char *err, size_t errlen)
{
	const vd_request *req = &c->req;
	memset(out, 0, sizeof *out);
	if (req->kind == VD_REQ_NUDGE) {
		if (my_vd_current_position(c->conn, &out->position, err, errlen) < 0)
			return -1;
		out->has_position = true;
		return one_cell(&out->rows, out->position, err, errlen);
	}
	strbuf sql = STRBUF_INIT;
	if (my_vd_build_sql(c->conn, req, &sql) < 0) {
		snprintf(err, errlen, "out of memory");
		strbuf_free(&sql);
		return -1;
	}
	bool txn = req->with_position && req->side == VD_SOURCE;
	int rc = 0;
	if (txn) {
		rc = run(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", NULL, err, errlen);
		if (rc == 0)
			rc = my_vd_current_position(c->conn, &out->position, err, errlen);
		out->has_position = rc == 0;
	}
	if (rc == 0)
		rc = run(c, strbuf_str(&sql), &out->rows, err, errlen);
	if (txn)
		(void)mysql_query(c->conn, rc == 0 ? "COMMIT" : "ROLLBACK");
	strbuf_free(&sql);
	if (rc < 0)
		vd_answer_free(out);
	return rc;
}

static int my_start(void *impl, const vd_request *req, char *err, size_t errlen)
{
	my_vd_conn *c = impl;
	(void)err;
	(void)errlen;
	c->req = *req;
	c->pending = true;
	return 0;
}

static int myv_socket(void *impl)
{
	return (int)mysql_get_socket(((my_vd_conn *)impl)->conn);
}

static short my_events(void *impl)
{
	(void)impl;
	return POLLOUT;
}

static int my_step(void *impl, vd_answer *out, char *err, size_t errlen)
{
	my_vd_conn *c = impl;
	if (!c->pending)
		return 0;
	c->pending = false;
	int rc = run_request(c, out, err, errlen);
	if (rc < 0) {
		unsigned e = mysql_errno(c->conn);
		c->lost = e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST;
		return -1;
	}
	return 1;
}

static void my_cancel(void *impl)
{
	(void)impl;
}

static bool my_alive(void *impl)
{
	return !((my_vd_conn *)impl)->lost;
}

const vd_conn_ops my_vd_ops = {
	.start = my_start,
	.socket = myv_socket,
	.events = my_events,
	.step = my_step,
	.cancel = my_cancel,
	.alive = my_alive,
};
