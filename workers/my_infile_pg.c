/* A PostgreSQL partition's COPY ... TO STDOUT (text) as a row source for the MySQL
 * loader (workers/my_infile.h): each row's fields unescaped and read into canonical values
 * by the same code capture uses for the change stream (pg_value_put_text), so a value
 * reaches MySQL the same way whether it was loaded or changed later. */
#include "workers/my_infile.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/pg_load_internal.h"
#include "workers/pg_value.h"

typedef struct pg_rows {
	pg_load_source *src;
	const pg_load_table *lt;
	uint32_t *oids;        /* per copied column */
	int ncols;
	bool copying;          /* COPY OUT is running */
	bool finished;         /* its result was read (rows_finish) */
	record_buf rec;
	strbuf field;          /* one unescaped field */
	int64_t rows;
} pg_rows;

/* The copied columns in order (pg_load_table's select list: not excluded, not generated). */
static int column_oids(pg_rows *r, const catalog_table *t, const catalog_name_map *names)
{
	r->oids = calloc((size_t)t->n_columns + 1, sizeof *r->oids);
	if (r->oids == NULL)
		return -1;
	for (int i = 0; i < t->n_columns; i++)
		if (catalog_map_column(names, t, i) != NULL && t->columns[i].generated_expr == NULL)
			r->oids[r->ncols++] = t->columns[i].type_oid;
	return 0;
}

static int octal(char c) { return c >= '0' && c <= '7' ? c - '0' : -1; }

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One field of COPY's text format (backslash escapes as COPY documents them). Returns
 * where the field ends (its tab, newline or the end). */
static const char *unescape(const char *p, const char *end, strbuf *out)
{
	strbuf_reset(out);
	strbuf_reserve(out, 64);
	for (; p < end && *p != '\t' && *p != '\n'; p++) {
		if (*p != '\\' || p + 1 >= end) {
			strbuf_append_char(out, *p);
			continue;
		}
		char c = *++p;
		int v;
		switch (c) {
		case 'b': strbuf_append_char(out, '\b'); break;
		case 'f': strbuf_append_char(out, '\f'); break;
		case 'n': strbuf_append_char(out, '\n'); break;
		case 'r': strbuf_append_char(out, '\r'); break;
		case 't': strbuf_append_char(out, '\t'); break;
		case 'v': strbuf_append_char(out, '\v'); break;
		case 'x':
			if (p + 1 < end && (v = hexdigit(p[1])) >= 0) {
				p++;
				if (p + 1 < end && hexdigit(p[1]) >= 0)
					v = v * 16 + hexdigit(*++p);
				strbuf_append_char(out, (char)v);
			} else {
				strbuf_append_char(out, 'x');
			}
			break;
		default:
			if ((v = octal(c)) >= 0) {
				for (int k = 0; k < 2 && p + 1 < end && octal(p[1]) >= 0; k++)
					v = v * 8 + octal(*++p);
				strbuf_append_char(out, (char)v);
			} else {
				strbuf_append_char(out, c);
			}
		}
	}
	return p;
}

/* A COPY text row into a record (INSERT with the row as its new image). */
static int encode_row(pg_rows *r, const char *row, int n, record_tuple *out, char **err)
{
	record_header h = {.op = RECORD_OP_INSERT, .table_id = 1, .has_new = true};
	record_encoder e;
	record_encode_begin(&e, &r->rec, &h);
	record_encode_tuple(&e, (uint32_t)r->ncols);
	const char *p = row, *end = row + n;
	char why[200];
	for (int i = 0; i < r->ncols; i++) {
		if (p > end || (i > 0 && (p == end || *p++ != '\t')))
			return pg_load_fail(err, "table %s: a COPY row has fewer fields than its %d columns",
					    r->lt->source_name, r->ncols);
		if (end - p >= 2 && p[0] == '\\' && p[1] == 'N' && (p + 2 == end || p[2] == '\t' || p[2] == '\n')) {
			record_put_null(&e);
			p += 2;
			continue;
		}
		p = unescape(p, end, &r->field);
		if (strbuf_failed(&r->field) ||
		    pg_value_put_text(&e, r->oids[i], r->field.data ? r->field.data : "", r->field.len, why,
				      sizeof why) < 0)
			return pg_load_fail(err, "table %s, column %d: %s", r->lt->source_name, i + 1,
					    strbuf_failed(&r->field) ? "out of memory" : why);
	}
	record_view v;
	record_error re;
	if (record_encode_finish(&e) < 0 || record_decode(r->rec.data, r->rec.len, &v, &re) < 0)
		return pg_load_fail(err, "table %s: a row could not be encoded", r->lt->source_name);
	*out = v.new_tuple;
	return 0;
}

static int wait_input(pg_rows *r, int wait_ms, char **err)
{
	struct pollfd fd = {.fd = PQsocket(r->src->conn), .events = POLLIN};
	int n = poll(&fd, 1, wait_ms);
	if (n < 0 && errno != EINTR)
		return pg_load_fail(err, "table %s: poll: %s", r->lt->source_name, strerror(errno));
	if (n > 0 && !PQconsumeInput(r->src->conn)) {
		r->src->aborted = true;
		return pg_load_fail_pg(err, "source: reading rows", r->src->conn, NULL);
	}
	return 0;
}

static int rows_next(void *arg, int wait_ms, record_tuple *row, char **err)
{
	pg_rows *r = arg;
	for (int round = 0; round < 2; round++) {
		char *data = NULL;
		int n = PQgetCopyData(r->src->conn, &data, 1);
		if (n > 0) {
			int rc = encode_row(r, data, n, row, err);
			PQfreemem(data);
			r->rows++;
			return rc < 0 ? -1 : 1;
		}
		if (n == -1) {
			r->copying = false;
			return 0;
		}
		if (n < -1) {
			r->src->aborted = true;
			return pg_load_fail_pg(err, "source: reading rows", r->src->conn, NULL);
		}
		if (round == 0 && wait_input(r, wait_ms, err) < 0)
			return -1;
	}
	return 2;
}

static int64_t rows_finish(void *arg, char **err)
{
	pg_rows *r = arg;
	int64_t sent = -1;
	bool failed = false;
	PGresult *res;
	r->src->in_copy = false;
	r->finished = true;
	while ((res = PQgetResult(r->src->conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK && sent < 0 && !failed)
			sent = strtoll(PQcmdTuples(res), NULL, 10);
		else if (!failed) {
			pg_load_fail_pg(err, "source: finishing COPY", r->src->conn, res);
			failed = true;
		}
		PQclear(res);
	}
	if (failed || sent < 0) {
		r->src->aborted = true;
		if (!failed)
			pg_load_fail(err, "source: COPY ended without a row count");
		return -1;
	}
	return sent;
}

static void rows_abandon(void *arg)
{
	pg_rows *r = arg;
	if (r->copying) {
		pg_load_source_cancel(r->src);
	} else if (!r->finished && r->src->in_copy) {
		/* the rows ended but their result was never read: read it so the connection
		 * takes commands again; the transaction goes on */
		PGresult *res;
		while ((res = PQgetResult(r->src->conn)) != NULL)
			PQclear(res);
		r->src->in_copy = false;
	}
	r->copying = false;
	r->finished = true;
}

static void rows_free(void *arg)
{
	pg_rows *r = arg;
	if (r == NULL)
		return;
	rows_abandon(r);
	record_buf_free(&r->rec);
	strbuf_free(&r->field);
	free(r->oids);
	free(r);
}

int my_infile_pg_source(pg_load_source *src, const pg_load_table *lt, const catalog_name_map *names,
		      const pg_load_partition *p, bool whole, my_infile_source *out, char **err)
{
	if (src->in_copy || src->aborted || src->conn == NULL)
		return pg_load_fail(err, "table %s: the source transaction is %s", lt->source_name,
				    src->in_copy ? "still copying another partition" : "not open");
	pg_rows *r = calloc(1, sizeof *r);
	if (r == NULL || column_oids(r, lt->source, names) < 0) {
		rows_free(r);
		return pg_load_fail(err, "table %s: out of memory", lt->source_name);
	}
	r->src = src;
	r->lt = lt;
	record_buf_init(&r->rec);
	strbuf_init(&r->field);
	strbuf sql = STRBUF_INIT;
	pg_load_source_copy_sql(&sql, lt, p, whole, false);
	PGresult *res = strbuf_failed(&sql) ? NULL : PQexec(src->conn, strbuf_str(&sql));
	strbuf_free(&sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		src->aborted = true;
		pg_load_fail_pg(err, "source: starting COPY TO STDOUT", src->conn, res);
		PQclear(res);
		rows_free(r);
		return -1;
	}
	PQclear(res);
	r->copying = src->in_copy = true;
	*out = (my_infile_source){.next = rows_next, .finish = rows_finish, .abandon = rows_abandon,
				.free = rows_free, .arg = r};
	return 0;
}
