/* pgoutput message decoding (PostgreSQL docs: "Logical Replication Message Formats").
 * All integers are big-endian; strings are NUL-terminated inside the message. */
#include "workers/pgoutput.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A read position in one message; the first failure sticks and names its offset. */
typedef struct cursor {
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	char *err;
	size_t errlen;
	bool failed;
	bool nomem;
} cursor;

static void fail(cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(cursor *c, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	int n = snprintf(c->err, c->errlen, "pgoutput: at byte %zu: ", (size_t)(c->p - c->start));
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool need(cursor *c, size_t n, const char *what)
{
	if (c->failed)
		return false;
	if ((size_t)(c->end - c->p) < n) {
		fail(c, "message ends inside %s (%zu bytes needed, %zu left)", what, n, (size_t)(c->end - c->p));
		return false;
	}
	return true;
}

static uint8_t get_u8(cursor *c, const char *what)
{
	if (!need(c, 1, what))
		return 0;
	return *c->p++;
}

static uint64_t get_be(cursor *c, int bytes, const char *what)
{
	if (!need(c, (size_t)bytes, what))
		return 0;
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = (v << 8) | c->p[i];
	c->p += bytes;
	return v;
}

static uint16_t get_u16(cursor *c, const char *what) { return (uint16_t)get_be(c, 2, what); }
static uint32_t get_u32(cursor *c, const char *what) { return (uint32_t)get_be(c, 4, what); }
static uint64_t get_u64(cursor *c, const char *what) { return get_be(c, 8, what); }

static int64_t get_time(cursor *c, const char *what)
{
	return (int64_t)get_u64(c, what) + PGO_EPOCH_OFFSET_US;
}

static const char *get_string(cursor *c, const char *what)
{
	if (c->failed)
		return "";
	const unsigned char *nul = memchr(c->p, '\0', (size_t)(c->end - c->p));
	if (!nul) {
		fail(c, "%s is not NUL-terminated", what);
		return "";
	}
	const char *s = (const char *)c->p;
	c->p = nul + 1;
	return s;
}

static bool grow(void **array, int *cap, int want, size_t elem, cursor *c)
{
	if (want <= *cap)
		return true;
	int n = *cap ? *cap : 16;
	while (n < want)
		n *= 2;
	void *p = realloc(*array, (size_t)n * elem);
	if (!p) {
		c->nomem = true;
		fail(c, "out of memory");
		return false;
	}
	*array = p;
	*cap = n;
	return true;
}

/* TupleData. Uses the decoder's column array from offset base on, so an UPDATE can hold
 * its old and new tuples at once. */
static void get_tuple(cursor *c, pgo_decoder *d, int base, pgo_tuple *t)
{
	int n = get_u16(c, "tuple column count");
	t->ncols = 0;
	t->cols = NULL;
	if (c->failed || !grow((void **)&d->cols, &d->cols_cap, base + n, sizeof *d->cols, c))
		return;
	for (int i = 0; i < n && !c->failed; i++) {
		pgo_column *col = &d->cols[base + i];
		col->kind = (pgo_col_kind)get_u8(c, "column kind");
		col->data = NULL;
		col->len = 0;
		switch (col->kind) {
		case PGO_COL_NULL:
		case PGO_COL_UNCHANGED:
			break;
		case PGO_COL_TEXT:
		case PGO_COL_BINARY:
			col->len = get_u32(c, "column length");
			if (need(c, col->len, "column value")) {
				col->data = (const char *)c->p;
				c->p += col->len;
			}
			break;
		default:
			if (!c->failed) {
				c->p--;
				fail(c, "unknown tuple column kind 0x%02x in column %d", (unsigned)col->kind, i + 1);
			}
		}
	}
	t->ncols = n;
	t->cols = d->cols + base;
}

/* Transaction-scoped messages carry the xid first while a streamed block is open. */
static void get_stream_xid(cursor *c, pgo_decoder *d, pgo_message *m)
{
	m->in_stream = d->in_stream;
	m->xid = d->in_stream ? get_u32(c, "streamed xid") : 0;
}

static void decode_relation(cursor *c, pgo_decoder *d, pgo_message *m)
{
	get_stream_xid(c, d, m);
	m->relation.oid = get_u32(c, "relation oid");
	m->relation.nspname = get_string(c, "namespace");
	m->relation.relname = get_string(c, "relation name");
	m->relation.replident = (char)get_u8(c, "replica identity");
	int n = get_u16(c, "relation column count");
	m->relation.ncols = 0;
	m->relation.cols = NULL;
	if (c->failed || !grow((void **)&d->relcols, &d->relcols_cap, n, sizeof *d->relcols, c))
		return;
	for (int i = 0; i < n && !c->failed; i++) {
		pgo_relcol *col = &d->relcols[i];
		col->key = (get_u8(c, "column flags") & 1) != 0;
		col->name = get_string(c, "column name");
		col->type_oid = get_u32(c, "column type oid");
		col->typmod = (int32_t)get_u32(c, "column type modifier");
	}
	m->relation.ncols = n;
	m->relation.cols = d->relcols;
}

static pgo_old_kind get_old_marker(cursor *c, bool required, uint8_t *next)
{
	uint8_t marker = get_u8(c, "tuple marker");
	*next = marker;
	if (marker == PGO_OLD_KEY || marker == PGO_OLD_FULL)
		return (pgo_old_kind)marker;
	if (required && !c->failed) {
		c->p--;
		fail(c, "expected old tuple marker 'K' or 'O', got 0x%02x", (unsigned)marker);
	}
	return PGO_OLD_NONE;
}

static void expect_new_marker(cursor *c, uint8_t marker)
{
	if (!c->failed && marker != 'N') {
		c->p--;
		fail(c, "expected new tuple marker 'N', got 0x%02x", (unsigned)marker);
	}
}

static void decode_update(cursor *c, pgo_decoder *d, pgo_message *m)
{
	get_stream_xid(c, d, m);
	m->update.relid = get_u32(c, "relation oid");
	uint8_t marker;
	m->update.old_kind = get_old_marker(c, false, &marker);
	m->update.oldtup.ncols = 0;
	m->update.oldtup.cols = NULL;
	int base = 0;
	if (m->update.old_kind != PGO_OLD_NONE) {
		get_tuple(c, d, 0, &m->update.oldtup);
		base = m->update.oldtup.ncols;
		marker = get_u8(c, "tuple marker");
	}
	expect_new_marker(c, marker);
	get_tuple(c, d, base, &m->update.newtup);
	/* get_tuple may have moved the column array: re-point the old tuple. */
	if (m->update.old_kind != PGO_OLD_NONE)
		m->update.oldtup.cols = d->cols;
}

static void decode_truncate(cursor *c, pgo_decoder *d, pgo_message *m)
{
	get_stream_xid(c, d, m);
	uint32_t n = get_u32(c, "truncate relation count");
	m->truncate.options = get_u8(c, "truncate options");
	m->truncate.nrels = 0;
	m->truncate.relids = NULL;
	if (c->failed)
		return;
	if (n > (size_t)(c->end - c->p) / 4) {
		fail(c, "truncate names %" PRIu32 " relations, more than the message holds", n);
		return;
	}
	if (!grow((void **)&d->relids, &d->relids_cap, (int)n, sizeof *d->relids, c))
		return;
	for (uint32_t i = 0; i < n; i++)
		d->relids[i] = get_u32(c, "truncated relation oid");
	m->truncate.nrels = (int)n;
	m->truncate.relids = d->relids;
}

static void decode_message(cursor *c, pgo_decoder *d, pgo_message *m)
{
	get_stream_xid(c, d, m);
	m->message.flags = get_u8(c, "message flags");
	m->message.lsn = get_u64(c, "message lsn");
	m->message.prefix = get_string(c, "message prefix");
	m->message.len = get_u32(c, "message length");
	m->message.content = NULL;
	if (need(c, m->message.len, "message content")) {
		m->message.content = (const char *)c->p;
		c->p += m->message.len;
	}
}

static void decode_stream(cursor *c, pgo_decoder *d, pgo_message *m)
{
	switch (m->type) {
	case PGO_STREAM_START:
		if (d->in_stream)
			fail(c, "stream start inside an open stream block");
		m->stream_start.xid = get_u32(c, "stream xid");
		m->stream_start.first_segment = get_u8(c, "stream first-segment flag") == 1;
		if (!c->failed)
			d->in_stream = true;
		break;
	case PGO_STREAM_STOP:
		if (!d->in_stream)
			fail(c, "stream stop without stream start");
		d->in_stream = false;
		break;
	case PGO_STREAM_COMMIT:
		m->stream_commit.xid = get_u32(c, "stream xid");
		m->stream_commit.flags = get_u8(c, "commit flags");
		m->stream_commit.commit_lsn = get_u64(c, "commit lsn");
		m->stream_commit.end_lsn = get_u64(c, "end lsn");
		m->stream_commit.commit_time_us = get_time(c, "commit time");
		break;
	default: /* PGO_STREAM_ABORT */
		m->stream_abort.xid = get_u32(c, "stream xid");
		m->stream_abort.subxid = get_u32(c, "stream subtransaction xid");
		/* Protocol 4 (parallel apply) adds abort LSN and time; not requested by ferry. */
		break;
	}
}

static void decode_body(cursor *c, pgo_decoder *d, pgo_message *m)
{
	uint8_t marker;
	switch (m->type) {
	case PGO_BEGIN:
		m->begin.final_lsn = get_u64(c, "final lsn");
		m->begin.commit_time_us = get_time(c, "commit time");
		m->begin.xid = get_u32(c, "xid");
		break;
	case PGO_COMMIT:
		m->commit.flags = get_u8(c, "commit flags");
		m->commit.commit_lsn = get_u64(c, "commit lsn");
		m->commit.end_lsn = get_u64(c, "end lsn");
		m->commit.commit_time_us = get_time(c, "commit time");
		break;
	case PGO_ORIGIN:
		m->origin.commit_lsn = get_u64(c, "origin lsn");
		m->origin.name = get_string(c, "origin name");
		break;
	case PGO_RELATION:
		decode_relation(c, d, m);
		break;
	case PGO_TYPE:
		get_stream_xid(c, d, m);
		m->type_info.oid = get_u32(c, "type oid");
		m->type_info.nspname = get_string(c, "type namespace");
		m->type_info.typname = get_string(c, "type name");
		break;
	case PGO_INSERT:
		get_stream_xid(c, d, m);
		m->insert.relid = get_u32(c, "relation oid");
		expect_new_marker(c, get_u8(c, "tuple marker"));
		get_tuple(c, d, 0, &m->insert.newtup);
		break;
	case PGO_UPDATE:
		decode_update(c, d, m);
		break;
	case PGO_DELETE:
		get_stream_xid(c, d, m);
		m->del.relid = get_u32(c, "relation oid");
		m->del.old_kind = get_old_marker(c, true, &marker);
		get_tuple(c, d, 0, &m->del.oldtup);
		break;
	case PGO_TRUNCATE:
		decode_truncate(c, d, m);
		break;
	case PGO_MESSAGE:
		decode_message(c, d, m);
		break;
	case PGO_STREAM_START:
	case PGO_STREAM_STOP:
	case PGO_STREAM_COMMIT:
	case PGO_STREAM_ABORT:
		decode_stream(c, d, m);
		break;
	default:
		c->p--;
		fail(c, "unknown message type 0x%02x", (unsigned)m->type);
	}
}

int pgo_decode(pgo_decoder *d, const char *buf, size_t len, pgo_message *out, char *err, size_t errlen)
{
	cursor c = {.start = (const unsigned char *)buf,
		    .p = (const unsigned char *)buf,
		    .end = (const unsigned char *)buf + len,
		    .err = err,
		    .errlen = errlen};
	memset(out, 0, sizeof *out);
	if (errlen)
		err[0] = '\0';
	out->type = (pgo_type)get_u8(&c, "message type");
	if (!c.failed)
		decode_body(&c, d, out);
	if (!c.failed && c.p != c.end)
		fail(&c, "%zu unexpected bytes after a '%c' message", (size_t)(c.end - c.p), (char)out->type);
	if (c.failed)
		return c.nomem ? -2 : -1;
	return 0;
}

void pgo_decoder_init(pgo_decoder *d)
{
	memset(d, 0, sizeof *d);
}

void pgo_decoder_free(pgo_decoder *d)
{
	free(d->cols);
	free(d->relcols);
	free(d->relids);
	memset(d, 0, sizeof *d);
}

void pgo_format_lsn(uint64_t lsn, char *buf, size_t size)
{
	snprintf(buf, size, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

int pgo_parse_lsn(const char *text, uint64_t *lsn)
{
	char *end;
	unsigned long long hi = strtoull(text, &end, 16);
	if (end == text || *end != '/' || hi > UINT32_MAX)
		return -1;
	const char *lo_text = end + 1;
	unsigned long long lo = strtoull(lo_text, &end, 16);
	if (end == lo_text || *end != '\0' || lo > UINT32_MAX)
		return -1;
	*lsn = ((uint64_t)hi << 32) | lo;
	return 0;
}
