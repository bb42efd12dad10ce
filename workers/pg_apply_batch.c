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
	free(b->seen);
	free(b->shape);
	free(b);
}

void apply_batch_clear(apply_batch *b)
{
	if (b->rows > 0 && b->seen)
		memset(b->seen, 0, b->seen_cap * sizeof *b->seen);
	b->rows = 0;
	apply_params_reset(&b->params);
}

static struct apply_batch_key *find_slot(struct apply_batch_key *seen, size_t cap, uint64_t hash)
{
	size_t i = hash & (cap - 1);
	while (seen[i].hash != 0 && seen[i].hash != hash)
		i = (i + 1) & (cap - 1);
	return &seen[i];
}

/* Room for keys: the table at most half full once `keys` are in it. */
static int seen_fit(apply_batch *b, size_t keys)
{
	if (2 * keys <= b->seen_cap)
		return 0;
	size_t cap = b->seen_cap ? b->seen_cap : 2 * APPLY_BATCH_ROWS;
	while (cap < 2 * keys)
		cap *= 2;
	struct apply_batch_key *seen = calloc(cap, sizeof *seen);
	if (seen == NULL)
		return -1;
	for (size_t i = 0; i < b->seen_cap; i++)
		if (b->seen[i].hash != 0)
			*find_slot(seen, cap, b->seen[i].hash) = b->seen[i];
	free(b->seen);
	b->seen = seen;
	b->seen_cap = cap;
	return 0;
}

int apply_batch_note_key(apply_batch *b, uint64_t hash, int row)
{
	if (seen_fit(b, (size_t)row + 1) < 0)
		return -2;
	struct apply_batch_key *slot = find_slot(b->seen, b->seen_cap, hash);
	if (slot->hash == hash)
		return slot->row;
	slot->hash = hash;
	slot->row = row;
	return -1;
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
