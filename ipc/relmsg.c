/* Relation descriptions as records: a fixed five-value head, then five values a column. */
#include "ipc/relmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_VALUES 5
#define COLUMN_VALUES 5

static void put_str(record_encoder *e, const char *s)
{
	record_put_text(e, s ? s : "", s ? strlen(s) : 0);
}

int relmsg_encode(record_buf *buf, uint64_t position, const relmsg *d)
{
	if (d->ncols < 0 || d->ncols > 65535) {
		errno = EINVAL;
		return -1;
	}
	record_header h = {.op = RECORD_OP_RELATION, .table_id = d->table_id, .position = position, .has_new = true};
	record_encoder e;
	record_encode_begin(&e, buf, &h);
	record_encode_tuple(&e, (uint32_t)(HEAD_VALUES + COLUMN_VALUES * d->ncols));
	put_str(&e, d->source_schema);
	put_str(&e, d->source_name);
	put_str(&e, d->target_schema);
	put_str(&e, d->target_name);
	record_put_text(&e, &d->replident, 1);
	for (int i = 0; i < d->ncols; i++) {
		const relmsg_column *c = &d->cols[i];
		put_str(&e, c->name);
		record_put_uint64(&e, c->type_oid);
		record_put_int64(&e, c->typmod);
		record_put_bool(&e, c->key);
		put_str(&e, c->type_name);
	}
	return record_encode_finish(&e);
}

/* The next value as an owned string; NULL when it is missing or not TEXT. */
static char *take_text(record_iter *it)
{
	record_value v;
	if (!record_iter_next(it, &v) || v.kind != RECORD_KIND_TEXT)
		return NULL;
	char *s = malloc(v.str.len + 1);
	if (s) {
		memcpy(s, v.str.ptr, v.str.len);
		s[v.str.len] = '\0';
	}
	return s;
}

static bool take_kind(record_iter *it, record_kind kind, record_value *v)
{
	return record_iter_next(it, v) && v->kind == kind;
}

static int decode_column(record_iter *it, relmsg_column *c)
{
	record_value v;
	c->name = take_text(it);
	if (!c->name || !take_kind(it, RECORD_KIND_UINT64, &v) || v.u64 > UINT32_MAX)
		return -1;
	c->type_oid = (uint32_t)v.u64;
	if (!take_kind(it, RECORD_KIND_INT64, &v) || v.i64 < INT32_MIN || v.i64 > INT32_MAX)
		return -1;
	c->typmod = (int32_t)v.i64;
	if (!take_kind(it, RECORD_KIND_BOOL, &v))
		return -1;
	c->key = v.b;
	c->type_name = take_text(it);
	return c->type_name ? 0 : -1;
}

int relmsg_decode(const record_view *view, relmsg *out, const char **what)
{
	memset(out, 0, sizeof *out);
	uint32_t n = view->new_tuple.ncols;
	if (view->hdr.op != RECORD_OP_RELATION || n < HEAD_VALUES || (n - HEAD_VALUES) % COLUMN_VALUES) {
		*what = "not a relation description (wrong operation or value count)";
		return -1;
	}
	record_iter it;
	record_iter_init(&it, &view->new_tuple);
	out->table_id = view->hdr.table_id;
	out->source_schema = take_text(&it);
	out->source_name = take_text(&it);
	out->target_schema = take_text(&it);
	out->target_name = take_text(&it);
	char *ident = take_text(&it);
	bool ok = out->source_schema && out->source_name && out->target_schema && out->target_name && ident &&
		  strlen(ident) == 1 && strchr("dfin", ident[0]);
	out->replident = ok ? ident[0] : 0;
	free(ident);
	out->ncols = (int)((n - HEAD_VALUES) / COLUMN_VALUES);
	out->cols = ok ? calloc((size_t)out->ncols + 1, sizeof *out->cols) : NULL;
	for (int i = 0; ok && i < out->ncols; i++)
		ok = out->cols && decode_column(&it, &out->cols[i]) == 0;
	if (!ok) {
		*what = "malformed relation description";
		relmsg_free(out);
		return -1;
	}
	return 0;
}

void relmsg_free(relmsg *r)
{
	for (int i = 0; r->cols && i < r->ncols; i++) {
		free(r->cols[i].name);
		free(r->cols[i].type_name);
	}
	free(r->cols);
	free(r->source_schema);
	free(r->source_name);
	free(r->target_schema);
	free(r->target_name);
	memset(r, 0, sizeof *r);
}

int relmsg_key_count(const relmsg *r)
{
	int n = 0;
	for (int i = 0; i < r->ncols; i++)
		n += r->cols[i].key;
	return n;
}
