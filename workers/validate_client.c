/* Requests answered over canonical values, hashed on the client (see the header). */
#include "workers/validate_client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct client_conn {
	vd_conn inner;
	void (*free_inner)(void *impl);
	vd_request asked;   /* the request as asked (valid while it runs) */
	bool translate;     /* its answer is turned canonical here */
} client_conn;

/* ---- building a vd_rows from text ---------------------------------------------------- */

typedef struct rows_builder {
	strbuf text;    /* every cell's text, each NUL-terminated */
	size_t *at;     /* [cell]: offset in text, SIZE_MAX = NULL */
	int n_rows, n_cols, cap_rows;
} rows_builder;

static int rb_row(rows_builder *b)
{
	if (b->n_rows == b->cap_rows) {
		int cap = b->cap_rows ? b->cap_rows * 2 : 64;
		size_t *g = realloc(b->at, (size_t)cap * (size_t)(b->n_cols ? b->n_cols : 1) * sizeof *g);
		if (g == NULL)
			return -1;
		b->at = g;
		b->cap_rows = cap;
	}
	b->n_rows++;
	return 0;
}

/* The cell c of the last row: the text appended since mark (NUL added), or NULL. */
static void rb_set(rows_builder *b, int c, size_t mark, bool null)
{
	size_t i = (size_t)(b->n_rows - 1) * (size_t)b->n_cols + (size_t)c;
	if (null) {
		b->text.len = mark;
		b->at[i] = SIZE_MAX;
		return;
	}
	strbuf_append_char(&b->text, '\0');
	b->at[i] = mark;
}

static int rb_finish(rows_builder *b, vd_rows *out)
{
	memset(out, 0, sizeof *out);
	size_t n = (size_t)b->n_rows * (size_t)b->n_cols;
	out->cells = calloc(n + 1, sizeof *out->cells);
	bool failed = strbuf_failed(&b->text);
	out->arena = failed ? NULL : strbuf_detach(&b->text);
	if (out->cells == NULL || out->arena == NULL) {
		vd_rows_free(out);
		strbuf_free(&b->text);
		free(b->at);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		out->cells[i] = b->at[i] == SIZE_MAX ? NULL : out->arena + b->at[i];
	out->n_rows = b->n_rows;
	out->n_cols = b->n_cols;
	free(b->at);
	return 0;
}

static void rb_free(rows_builder *b)
{
	strbuf_free(&b->text);
	free(b->at);
}

/* ---- canonical values ------------------------------------------------------------------ */

/* The kind of answer column c: ROWS [version,] columns; VERSIONS version, key columns. */
static vd_canon_kind kind_at(const vd_table *t, int c, bool with_version, bool versions)
{
	if (versions)
		return c == 0 ? VD_CANON_RAW : t->canon[t->key[c - 1]];
	int first = with_version ? 1 : 0;
	return c < first ? VD_CANON_RAW : t->canon[c - first];
}

int vd_client_canon_rows(const vd_table *t, vd_side side, const vd_rows *in, bool with_version, bool versions,
			 vd_rows *out)
{
	rows_builder b = {.n_cols = in->n_cols};
	strbuf_init(&b.text);
	for (int r = 0; r < in->n_rows; r++) {
		if (rb_row(&b) < 0) {
			rb_free(&b);
			return -1;
		}
		for (int c = 0; c < in->n_cols; c++) {
			const char *v = vd_cell(in, r, c);
			size_t mark = b.text.len;
			bool null = v == NULL;
			if (v && vd_canon_value(kind_at(t, c, with_version, versions), &t->canon_side[side], v, strlen(v),
						&b.text, &null) < 0) {
				rb_free(&b);
				return -1;
			}
			rb_set(&b, c, mark, null);
		}
	}
	return rb_finish(&b, out);
}

/* Row r's hash over its canonical values; scratch is reused. -1 on memory. */
static int row_hash(const vd_table *t, vd_side side, const vd_rows *in, int r, strbuf *scratch, uint64_t *h)
{
	vd_row_hasher rh;
	vd_row_hash_init(&rh);
	for (int c = 0; c < in->n_cols && c < t->n_cols; c++) {
		const char *v = vd_cell(in, r, c);
		bool null = v == NULL;
		strbuf_reset(scratch);
		if (v && vd_canon_value(t->canon[c], &t->canon_side[side], v, strlen(v), scratch, &null) < 0)
			return -1;
		vd_row_hash_cell(&rh, null ? NULL : strbuf_str(scratch), null ? 0 : scratch->len);
	}
	*h = vd_row_hash_finish(&rh);
	return 0;
}

static int text_rows(vd_rows *out, int n_rows, const char *const *cells)
{
	rows_builder b = {.n_cols = 2};
	strbuf_init(&b.text);
	for (int r = 0; r < n_rows; r++) {
		if (rb_row(&b) < 0) {
			rb_free(&b);
			return -1;
		}
		for (int c = 0; c < 2; c++) {
			size_t mark = b.text.len;
			strbuf_append(&b.text, cells[r * 2 + c]);
			rb_set(&b, c, mark, false);
		}
	}
	return rb_finish(&b, out);
}

int vd_client_hash_rows(const vd_table *t, vd_side side, const vd_rows *in, vd_rows *out)
{
	strbuf scratch = STRBUF_INIT;
	uint64_t sum = 0, h;
	for (int r = 0; r < in->n_rows; r++) {
		if (row_hash(t, side, in, r, &scratch, &h) < 0) {
			strbuf_free(&scratch);
			return -1;
		}
		sum += h; /* wraps: the sum is taken modulo 2^64 on both sides */
	}
	strbuf_free(&scratch);
	char count[32], hash[32];
	snprintf(count, sizeof count, "%d", in->n_rows);
	snprintf(hash, sizeof hash, "%" PRIu64, sum);
	const char *cells[2] = {count, hash};
	return text_rows(out, 1, cells);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ROW_HASHES: (hash, count) per distinct row hash, ordered by hash. */
static int row_hashes(const vd_table *t, vd_side side, const vd_rows *in, vd_rows *out)
{
	uint64_t *hs = malloc(((size_t)in->n_rows + 1) * sizeof *hs);
	char *texts = malloc(((size_t)in->n_rows + 1) * 48);
	const char **cells = malloc(((size_t)in->n_rows + 1) * 2 * sizeof *cells);
	strbuf scratch = STRBUF_INIT;
	int rc = hs && texts && cells ? 0 : -1, n = 0;
	for (int r = 0; rc == 0 && r < in->n_rows; r++)
		rc = row_hash(t, side, in, r, &scratch, &hs[r]);
	if (rc == 0) {
		qsort(hs, (size_t)in->n_rows, sizeof *hs, cmp_u64);
		for (int r = 0; r < in->n_rows;) {
			int same = 1;
			while (r + same < in->n_rows && hs[r + same] == hs[r])
				same++;
			char *p = texts + (size_t)n * 48;
			snprintf(p, 24, "%" PRId64, (int64_t)hs[r]); /* the comparison reads int64 */
			snprintf(p + 24, 24, "%d", same);
			cells[n * 2] = p;
			cells[n * 2 + 1] = p + 24;
			n++;
			r += same;
		}
		rc = text_rows(out, n, cells);
	}
	strbuf_free(&scratch);
	free(hs);
	free(texts);
	free(cells);
	return rc;
}

/* ---- the wrapper ------------------------------------------------------------------------ */

void *vd_client_new(vd_conn inner, void (*free_inner)(void *impl))
{
	client_conn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		free_inner(inner.impl);
		return NULL;
	}
	c->inner = inner;
	c->free_inner = free_inner;
	return c;
}

void vd_client_free(void *impl)
{
	client_conn *c = impl;
	if (c == NULL)
		return;
	c->free_inner(c->inner.impl);
	free(c);
}

static int client_start(void *impl, const vd_request *req, char *err, size_t errlen)
{
	client_conn *c = impl;
	c->asked = *req;
	vd_req_kind k = req->kind;
	c->translate = req->table && req->table->client_hash &&
		       (k == VD_REQ_HASH || k == VD_REQ_ROW_HASHES || k == VD_REQ_ROWS || k == VD_REQ_VERSIONS);
	if (!c->translate || (k != VD_REQ_HASH && k != VD_REQ_ROW_HASHES))
		return c->inner.ops->start(c->inner.impl, req, err, errlen);
	vd_request rows = *req;
	rows.kind = VD_REQ_ROWS;
	rows.with_version = false;
	rows.limit = 0;
	return c->inner.ops->start(c->inner.impl, &rows, err, errlen);
}

static int client_socket(void *impl) { return ((client_conn *)impl)->inner.ops->socket(((client_conn *)impl)->inner.impl); }
static short client_events(void *impl) { return ((client_conn *)impl)->inner.ops->events(((client_conn *)impl)->inner.impl); }
static void client_cancel(void *impl) { ((client_conn *)impl)->inner.ops->cancel(((client_conn *)impl)->inner.impl); }
static bool client_alive(void *impl) { return ((client_conn *)impl)->inner.ops->alive(((client_conn *)impl)->inner.impl); }

static int client_step(void *impl, vd_answer *out, char *err, size_t errlen)
{
	client_conn *c = impl;
	int rc = c->inner.ops->step(c->inner.impl, out, err, errlen);
	if (rc != 1 || !c->translate)
		return rc;
	const vd_request *q = &c->asked;
	vd_rows canon;
	int built;
	if (q->kind == VD_REQ_HASH)
		built = vd_client_hash_rows(q->table, q->side, &out->rows, &canon);
	else if (q->kind == VD_REQ_ROW_HASHES)
		built = row_hashes(q->table, q->side, &out->rows, &canon);
	else
		built = vd_client_canon_rows(q->table, q->side, &out->rows, q->kind == VD_REQ_ROWS && q->with_version,
					     q->kind == VD_REQ_VERSIONS, &canon);
	vd_rows_free(&out->rows);
	if (built < 0) {
		vd_answer_free(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	out->rows = canon;
	return 1;
}

const vd_conn_ops vd_client_ops = {
	.start = client_start,
	.socket = client_socket,
	.events = client_events,
	.step = client_step,
	.cancel = client_cancel,
	.alive = client_alive,
};
