/* Change record encoder and validating, zero-copy decoder (format: record.h). */
#include "ipc/record.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VARINT_MAX_BYTES 10
#define FLAGS_OLD_MASK 0x03u
#define FLAGS_HAS_NEW 0x04u
#define FLAGS_KNOWN (FLAGS_OLD_MASK | FLAGS_HAS_NEW)

/* ---- output buffer ----------------------------------------------------------------- */

void record_buf_init(record_buf *b)
{
	memset(b, 0, sizeof *b);
}

void record_buf_free(record_buf *b)
{
	free(b->data);
	record_buf_init(b);
}

static bool buf_reserve(record_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra <= b->cap - b->len)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

static void put_raw(record_buf *b, const void *p, size_t n)
{
	if (n && buf_reserve(b, n)) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	}
}

static void put_u8(record_buf *b, uint8_t v)
{
	put_raw(b, &v, 1);
}

static void put_varint(record_buf *b, uint64_t v)
{
	uint8_t tmp[VARINT_MAX_BYTES];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	put_raw(b, tmp, n);
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)-(uint64_t)(v < 0);
}

static int64_t unzigzag(uint64_t u)
{
	return (int64_t)((u >> 1) ^ (uint64_t)-(int64_t)(u & 1));
}

/* ---- encoder ----------------------------------------------------------------------- */

static bool images_valid(record_op op, record_image old, bool has_new)
{
	switch (op) {
	case RECORD_OP_INSERT: return old == RECORD_IMAGE_NONE && has_new;
	case RECORD_OP_UPDATE: return has_new;
	case RECORD_OP_DELETE: return old != RECORD_IMAGE_NONE && !has_new;
	case RECORD_OP_TRUNCATE:
	case RECORD_OP_BEGIN:
	case RECORD_OP_COMMIT: return old == RECORD_IMAGE_NONE && !has_new;
	case RECORD_OP_RELATION: return old == RECORD_IMAGE_NONE && has_new;
	}
	return false;
}

void record_encode_begin(record_encoder *e, record_buf *buf, const record_header *h)
{
	e->buf = buf;
	e->hdr = *h;
	e->cols_left = 0;
	e->bad = !images_valid(h->op, h->old_image, h->has_new) || (unsigned)h->old_image > RECORD_IMAGE_FULL;
	e->tuples_left = (h->old_image != RECORD_IMAGE_NONE) + (h->has_new ? 1 : 0);
	buf->len = 0;
	buf->failed = false;
	put_u8(buf, (uint8_t)h->op);
	put_u8(buf, (uint8_t)(((unsigned)h->old_image & FLAGS_OLD_MASK) | (h->has_new ? FLAGS_HAS_NEW : 0)));
	put_varint(buf, h->table_id);
	put_varint(buf, h->position);
	put_varint(buf, h->xid);
	put_varint(buf, zigzag(h->commit_time_us));
}

void record_encode_tuple(record_encoder *e, uint32_t ncols)
{
	if (e->cols_left != 0 || e->tuples_left <= 0) {
		e->bad = true;
		return;
	}
	e->tuples_left--;
	e->cols_left = ncols;
	put_varint(e->buf, ncols);
}

/* Writes the kind byte of the next column; false when the tuple has no column left. */
static bool put_kind(record_encoder *e, record_kind kind)
{
	if (e->cols_left == 0) {
		e->bad = true;
		return false;
	}
	e->cols_left--;
	put_u8(e->buf, (uint8_t)kind);
	return true;
}

static void put_lenbytes(record_encoder *e, record_kind kind, const void *p, size_t len)
{
	if (put_kind(e, kind)) {
		put_varint(e->buf, len);
		put_raw(e->buf, p, len);
	}
}

static void put_signed(record_encoder *e, record_kind kind, int64_t v)
{
	if (put_kind(e, kind))
		put_varint(e->buf, zigzag(v));
}

void record_put_null(record_encoder *e) { put_kind(e, RECORD_KIND_NULL); }
void record_put_unchanged(record_encoder *e) { put_kind(e, RECORD_KIND_UNCHANGED); }

void record_put_bool(record_encoder *e, bool v)
{
	if (put_kind(e, RECORD_KIND_BOOL))
		put_u8(e->buf, v ? 1 : 0);
}

void record_put_int64(record_encoder *e, int64_t v) { put_signed(e, RECORD_KIND_INT64, v); }

void record_put_uint64(record_encoder *e, uint64_t v)
{
	if (put_kind(e, RECORD_KIND_UINT64))
		put_varint(e->buf, v);
}

void record_put_float64(record_encoder *e, double v)
{
	uint64_t bits;
	uint8_t le[8];
	memcpy(&bits, &v, sizeof bits);
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(bits >> (8 * i));
	if (put_kind(e, RECORD_KIND_FLOAT64))
		put_raw(e->buf, le, sizeof le);
}

void record_put_date(record_encoder *e, int32_t days) { put_signed(e, RECORD_KIND_DATE, days); }
void record_put_time(record_encoder *e, int64_t us) { put_signed(e, RECORD_KIND_TIME, us); }
void record_put_timestamp(record_encoder *e, int64_t us) { put_signed(e, RECORD_KIND_TIMESTAMP, us); }
void record_put_timestamptz(record_encoder *e, int64_t us) { put_signed(e, RECORD_KIND_TIMESTAMPTZ, us); }

void record_put_uuid(record_encoder *e, const uint8_t uuid[16])
{
	if (put_kind(e, RECORD_KIND_UUID))
		put_raw(e->buf, uuid, 16);
}

void record_put_decimal(record_encoder *e, const char *t, size_t n) { put_lenbytes(e, RECORD_KIND_DECIMAL, t, n); }
void record_put_text(record_encoder *e, const char *t, size_t n) { put_lenbytes(e, RECORD_KIND_TEXT, t, n); }
void record_put_bytes(record_encoder *e, const void *d, size_t n) { put_lenbytes(e, RECORD_KIND_BYTES, d, n); }
void record_put_json(record_encoder *e, const char *t, size_t n) { put_lenbytes(e, RECORD_KIND_JSON, t, n); }
void record_put_textrep(record_encoder *e, const char *t, size_t n) { put_lenbytes(e, RECORD_KIND_TEXTREP, t, n); }

void record_put_value(record_encoder *e, const record_value *v)
{
	switch (v->kind) {
	case RECORD_KIND_NULL: record_put_null(e); return;
	case RECORD_KIND_UNCHANGED: record_put_unchanged(e); return;
	case RECORD_KIND_BOOL: record_put_bool(e, v->b); return;
	case RECORD_KIND_INT64: record_put_int64(e, v->i64); return;
	case RECORD_KIND_UINT64: record_put_uint64(e, v->u64); return;
	case RECORD_KIND_FLOAT64: record_put_float64(e, v->f64); return;
	case RECORD_KIND_DATE: record_put_date(e, v->date); return;
	case RECORD_KIND_TIME:
	case RECORD_KIND_TIMESTAMP:
	case RECORD_KIND_TIMESTAMPTZ: put_signed(e, v->kind, v->i64); return;
	case RECORD_KIND_UUID: record_put_uuid(e, v->uuid); return;
	case RECORD_KIND_DECIMAL:
	case RECORD_KIND_TEXT:
	case RECORD_KIND_BYTES:
	case RECORD_KIND_JSON:
	case RECORD_KIND_TEXTREP: put_lenbytes(e, v->kind, v->str.ptr, v->str.len); return;
	}
	e->bad = true;
}

int record_encode_finish(record_encoder *e)
{
	if (e->bad || e->tuples_left != 0 || e->cols_left != 0) {
		errno = EINVAL;
		return -1;
	}
	if (e->buf->failed) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- decoder ----------------------------------------------------------------------- */

typedef struct reader {
	const uint8_t *base;
	const uint8_t *p;
	const uint8_t *end;
	record_error *err; /* NULL while iterating an already validated tuple */
} reader;

__attribute__((format(printf, 2, 3))) static bool fail(reader *r, const char *fmt, ...)
{
	if (r->err) {
		va_list ap;
		va_start(ap, fmt);
		r->err->offset = (size_t)(r->p - r->base);
		vsnprintf(r->err->what, sizeof r->err->what, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool get_u8(reader *r, uint8_t *out, const char *what)
{
	if (r->p >= r->end)
		return fail(r, "truncated: %s missing", what);
	*out = *r->p++;
	return true;
}

static bool get_varint(reader *r, uint64_t *out, const char *what)
{
	uint64_t v = 0;
	for (int i = 0; i < VARINT_MAX_BYTES; i++) {
		if (r->p >= r->end)
			return fail(r, "truncated: %s cut short", what);
		uint8_t byte = *r->p;
		if (i == VARINT_MAX_BYTES - 1 && byte > 1)
			return fail(r, "%s: varint overflows 64 bits", what);
		r->p++;
		v |= (uint64_t)(byte & 0x7f) << (7 * i);
		if (!(byte & 0x80)) {
			*out = v;
			return true;
		}
	}
	return fail(r, "%s: varint longer than 10 bytes", what); /* not reached */
}

static bool get_span(reader *r, size_t n, const uint8_t **out, const char *what)
{
	if ((size_t)(r->end - r->p) < n)
		return fail(r, "truncated: %s needs %zu bytes, %zu left", what, n, (size_t)(r->end - r->p));
	*out = r->p;
	r->p += n;
	return true;
}

static bool get_lenbytes(reader *r, record_value *out)
{
	uint64_t len = 0;
	const uint8_t *p = NULL;
	if (!get_varint(r, &len, "value length"))
		return false;
	if (len > (uint64_t)(r->end - r->p))
		return fail(r, "value length %llu runs past the end (%zu bytes left)",
		            (unsigned long long)len, (size_t)(r->end - r->p));
	if (!get_span(r, (size_t)len, &p, "value"))
		return false;
	out->str.ptr = (const char *)p;
	out->str.len = (size_t)len;
	return true;
}

static bool get_fixed_value(reader *r, record_value *out)
{
	const uint8_t *p = NULL;
	if (out->kind == RECORD_KIND_UUID) {
		if (!get_span(r, 16, &p, "uuid"))
			return false;
		out->uuid = p;
		return true;
	}
	/* FLOAT64 */
	if (!get_span(r, 8, &p, "float64"))
		return false;
	uint64_t bits = 0;
	for (int i = 0; i < 8; i++)
		bits |= (uint64_t)p[i] << (8 * i);
	memcpy(&out->f64, &bits, sizeof bits);
	return true;
}

static bool get_value(reader *r, record_value *out)
{
	uint8_t kind = 0, b = 0;
	uint64_t u = 0;
	if (!get_u8(r, &kind, "column kind"))
		return false;
	out->kind = (record_kind)kind;
	switch ((record_kind)kind) {
	case RECORD_KIND_NULL:
	case RECORD_KIND_UNCHANGED: return true;
	case RECORD_KIND_BOOL:
		if (!get_u8(r, &b, "bool"))
			return false;
		if (b > 1) {
			r->p--;
			return fail(r, "bool value %u is neither 0 nor 1", b);
		}
		out->b = b;
		return true;
	case RECORD_KIND_UINT64: return get_varint(r, &out->u64, "uint64");
	case RECORD_KIND_INT64:
	case RECORD_KIND_TIME:
	case RECORD_KIND_TIMESTAMP:
	case RECORD_KIND_TIMESTAMPTZ:
		if (!get_varint(r, &u, record_kind_name(out->kind)))
			return false;
		out->i64 = unzigzag(u);
		return true;
	case RECORD_KIND_DATE:
		if (!get_varint(r, &u, "date"))
			return false;
		if (unzigzag(u) < INT32_MIN || unzigzag(u) > INT32_MAX)
			return fail(r, "date %lld out of range", (long long)unzigzag(u));
		out->date = (int32_t)unzigzag(u);
		return true;
	case RECORD_KIND_FLOAT64:
	case RECORD_KIND_UUID: return get_fixed_value(r, out);
	case RECORD_KIND_DECIMAL:
	case RECORD_KIND_TEXT:
	case RECORD_KIND_BYTES:
	case RECORD_KIND_JSON:
	case RECORD_KIND_TEXTREP: return get_lenbytes(r, out);
	}
	r->p--;
	return fail(r, "unknown column kind %u", kind);
}

static bool get_tuple(reader *r, record_tuple *t, const char *which)
{
	uint64_t ncols = 0;
	record_value v;
	if (!get_varint(r, &ncols, which))
		return false;
	/* Every column takes at least its kind byte: bounds ncols before looping. */
	if (ncols > UINT32_MAX || ncols > (uint64_t)(r->end - r->p))
		return fail(r, "%s: column count %llu larger than the record", which, (unsigned long long)ncols);
	t->data = r->p;
	t->ncols = (uint32_t)ncols;
	for (uint64_t i = 0; i < ncols; i++)
		if (!get_value(r, &v))
			return false;
	t->len = (size_t)(r->p - t->data);
	return true;
}

static bool get_header(reader *r, record_header *h)
{
	uint8_t op = 0, flags = 0;
	uint64_t table_id = 0, ts = 0;
	if (!get_u8(r, &op, "op") || !get_u8(r, &flags, "flags"))
		return false;
	if (op < RECORD_OP_INSERT || op > RECORD_OP_MAX) {
		r->p -= 2;
		return fail(r, "unknown operation %u", op);
	}
	if ((flags & ~FLAGS_KNOWN) || (flags & FLAGS_OLD_MASK) > RECORD_IMAGE_FULL) {
		r->p--;
		return fail(r, "invalid flags 0x%02x", flags);
	}
	h->op = (record_op)op;
	h->old_image = (record_image)(flags & FLAGS_OLD_MASK);
	h->has_new = (flags & FLAGS_HAS_NEW) != 0;
	if (!images_valid(h->op, h->old_image, h->has_new)) {
		r->p--;
		return fail(r, "%s record with invalid images (flags 0x%02x)", record_op_name(h->op), flags);
	}
	if (!get_varint(r, &table_id, "table id") || !get_varint(r, &h->position, "position") ||
	    !get_varint(r, &h->xid, "xid") || !get_varint(r, &ts, "commit time"))
		return false;
	if (table_id > UINT32_MAX)
		return fail(r, "table id %llu out of range", (unsigned long long)table_id);
	h->table_id = (uint32_t)table_id;
	h->commit_time_us = unzigzag(ts);
	return true;
}

int record_decode(const void *data, size_t len, record_view *view, record_error *err)
{
	reader r = {.base = data, .p = data, .end = (const uint8_t *)data + len, .err = err};
	memset(view, 0, sizeof *view);
	if (!get_header(&r, &view->hdr))
		return -1;
	if (view->hdr.old_image != RECORD_IMAGE_NONE && !get_tuple(&r, &view->old_tuple, "old image"))
		return -1;
	if (view->hdr.has_new && !get_tuple(&r, &view->new_tuple, "new image"))
		return -1;
	if (r.p != r.end) {
		fail(&r, "%zu trailing bytes after the record", (size_t)(r.end - r.p));
		return -1;
	}
	return 0;
}

void record_iter_init(record_iter *it, const record_tuple *t)
{
	it->p = t->data;
	it->end = t->data ? t->data + t->len : NULL;
	it->left = t->ncols;
}

bool record_iter_next(record_iter *it, record_value *out)
{
	if (it->left == 0)
		return false;
	reader r = {.base = it->p, .p = it->p, .end = it->end, .err = NULL};
	if (!get_value(&r, out)) {
		it->left = 0; /* cannot happen after record_decode(); stop rather than loop */
		return false;
	}
	it->p = r.p;
	it->left--;
	return true;
}

const char *record_op_name(record_op op)
{
	static const char *names[] = {"?", "insert", "update", "delete", "truncate", "begin", "commit", "relation"};
	return (unsigned)op <= RECORD_OP_MAX ? names[op] : "?";
}

const char *record_kind_name(record_kind kind)
{
	static const char *names[] = {"null", "unchanged", "bool", "int64", "uint64", "float64",
	                              "decimal", "text", "bytes", "date", "time", "timestamp",
	                              "timestamptz", "json", "uuid", "textrep"};
	return (unsigned)kind <= RECORD_KIND_MAX ? names[kind] : "?";
}

int record_rewrite_txn(record_buf *out, const void *rec, size_t len, uint64_t position, uint64_t xid,
		       int64_t commit_time_us, uint32_t *table_id_out, record_error *err)
{
	reader r = {.base = rec, .p = rec, .end = (const uint8_t *)rec + len, .err = err};
	uint8_t op = 0, flags = 0;
	uint64_t table_id = 0, ignored;
	if (!get_u8(&r, &op, "operation") || !get_u8(&r, &flags, "flags") || !get_varint(&r, &table_id, "table id") ||
	    !get_varint(&r, &ignored, "position") || !get_varint(&r, &ignored, "xid") ||
	    !get_varint(&r, &ignored, "commit time"))
		return -1;
	if (table_id > UINT32_MAX)
		return fail(&r, "table id %llu out of range", (unsigned long long)table_id) ? 0 : -1;
	if (table_id_out)
		*table_id_out = (uint32_t)table_id;
	out->len = 0;
	out->failed = false;
	put_u8(out, op);
	put_u8(out, flags);
	put_varint(out, table_id);
	put_varint(out, position);
	put_varint(out, xid);
	put_varint(out, zigzag(commit_time_us));
	put_raw(out, r.p, (size_t)(r.end - r.p));
	if (out->failed) {
		err->offset = 0;
		snprintf(err->what, sizeof err->what, "out of memory");
		return -1;
	}
	return 0;
}
