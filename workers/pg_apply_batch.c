/* Parameter buffers and multi-row batches of the apply engine. */
#include "workers/pg_apply_batch.h"

#include <stdlib.h>
#include <string.h>

#include "workers/pg_value.h"

/* A parameter buffer bigger than this is released after use rather than kept. */
#define PARAMS_KEEP_BYTES (2 * APPLY_BATCH_BYTES)

int apply_params_fit(apply_params *ps, int more)
{
	if (ps->count + more <= ps->cap)
		return 0;
	int cap = ps->cap ? ps->cap : 64;
	while (cap < ps->count + more)
		cap *= 2;
	int *off = realloc(ps->offset, (size_t)cap * sizeof *off);
	if (off)
		ps->offset = off;
	const char **vals = realloc(ps->values, (size_t)cap * sizeof *vals);
	if (vals)
		ps->values = vals;
	if (!off || !vals)
		return -1;
	ps->cap = cap;
	return 0;
}

void apply_params_add(apply_params *ps, const record_value *v)
{
	if (v->kind == RECORD_KIND_NULL) {
		ps->offset[ps->count++] = -1;
		return;
	}
	ps->offset[ps->count++] = (int)ps->text.len;
	(void)pg_value_append_text(&ps->text, v);
	strbuf_append_char(&ps->text, '\0');
}

void apply_params_set(apply_params *ps, int index, const record_value *v)
{
	if (v->kind == RECORD_KIND_NULL) {
		ps->offset[index] = -1;
		return;
	}
	ps->offset[index] = (int)ps->text.len;
	(void)pg_value_append_text(&ps->text, v);
	strbuf_append_char(&ps->text, '\0');
}

void apply_params_resolve(apply_params *ps)
{
	for (int i = 0; i < ps->count; i++)
		ps->values[i] = ps->offset[i] < 0 ? NULL : ps->text.data + ps->offset[i];
}

void apply_params_reset(apply_params *ps)
{
	ps->count = 0;
	if (ps->text.cap > PARAMS_KEEP_BYTES)
		strbuf_free(&ps->text);
	else
		strbuf_reset(&ps->text);
}

void apply_params_free(apply_params *ps)
{
	strbuf_free(&ps->text);
	free(ps->offset);
	free(ps->values);
	memset(ps, 0, sizeof *ps);
}

apply_batch *apply_batch_new(int ncols)
{
	apply_batch *b = calloc(1, sizeof *b);
	if (b == NULL)
		return NULL;
	b->shape = calloc((size_t)ncols + 1, 1);
	if (b->shape == NULL) {
		free(b);
		return NULL;
	}
	strbuf_init(&b->params.text);
	return b;
}

void apply_batch_free(apply_batch *b)
{
	if (b == NULL)
		return;
	apply_params_free(&b->params);
	free(b->shape);
	free(b);
}

void apply_batch_clear(apply_batch *b)
{
	if (b->rows > 0)
		memset(b->seen, 0, sizeof b->seen);
	b->rows = 0;
	apply_params_reset(&b->params);
}

int apply_batch_note_key(apply_batch *b, uint64_t hash, int row)
{
	size_t n = sizeof b->seen / sizeof b->seen[0];
	for (size_t i = hash & (n - 1);; i = (i + 1) & (n - 1)) {
		if (b->seen[i].hash == hash)
			return b->seen[i].row;
		if (b->seen[i].hash == 0) {
			b->seen[i].hash = hash;
			b->seen[i].row = row;
			return -1;
		}
	}
}

/* FNV-1a over each value's kind and bytes. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * UINT64_C(1099511628211);
	return h;
}

uint64_t apply_key_hash(const record_value *vals, const relmsg_column *cols, int ncols)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (int i = 0; i < ncols; i++) {
		if (!cols[i].key)
			continue;
		const record_value *v = &vals[i];
		uint8_t k = (uint8_t)v->kind;
		h = mix(h, &k, 1);
		switch (v->kind) {
		case RECORD_KIND_NULL:
		case RECORD_KIND_UNCHANGED: break;
		case RECORD_KIND_BOOL: h = mix(h, &v->b, sizeof v->b); break;
		case RECORD_KIND_DATE: h = mix(h, &v->date, sizeof v->date); break;
		case RECORD_KIND_UUID: h = mix(h, v->uuid, 16); break;
		case RECORD_KIND_DECIMAL:
		case RECORD_KIND_TEXT:
		case RECORD_KIND_BYTES:
		case RECORD_KIND_JSON:
		case RECORD_KIND_TEXTREP: h = mix(h, v->str.ptr, v->str.len); break;
		default: h = mix(h, &v->i64, sizeof v->i64); break; /* 8-byte kinds */
		}
	}
	return h ? h : 1;
}
