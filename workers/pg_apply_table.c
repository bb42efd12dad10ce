/* Table descriptions and per-table statement caches of the apply engine. */
#include "workers/pg_apply_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/sqlquote.h"

void apply_tables_init(apply_tables *ts)
{
	memset(ts, 0, sizeof *ts);
}

static void forget_stmts(apply_table *t)
{
	for (int i = 0; i < t->nstmts; i++)
		free(t->stmts[i].shape);
	t->nstmts = 0;
}

static void forget_types(apply_table *t)
{
	for (int i = 0; t->target_types && i < t->rel.ncols; i++)
		free(t->target_types[i]);
	free(t->target_types);
	t->target_types = NULL;
	t->types_state = 0;
}

void apply_table_set_types(apply_table *t, char **types)
{
	forget_types(t);
	t->target_types = types;
	t->types_state = types ? 1 : -1;
	for (int i = 0; types && i < t->rel.ncols; i++)
		if (types[i] == NULL)
			t->types_state = -1;
}

static void table_free(apply_table *t)
{
	forget_stmts(t);
	forget_types(t);
	free(t->stmts);
	apply_batch_free(t->batch);
	relmsg_free(&t->rel);
	free(t->qname);
	free(t->text_compare);
	free(t);
}

void apply_tables_free(apply_tables *ts)
{
	for (size_t i = 0; i < ts->cap; i++)
		if (ts->slots[i])
			table_free(ts->slots[i]);
	free(ts->slots);
	apply_tables_init(ts);
}

static size_t slot_of(uint32_t id, size_t cap)
{
	return (size_t)((id * UINT32_C(2654435761)) & (cap - 1));
}

apply_table *apply_tables_find(const apply_tables *ts, uint32_t table_id)
{
	if (ts->cap == 0)
		return NULL;
	for (size_t i = slot_of(table_id, ts->cap);; i = (i + 1) & (ts->cap - 1)) {
		apply_table *t = ts->slots[i];
		if (t == NULL || t->table_id == table_id)
			return t;
	}
}

static void place(apply_table **slots, size_t cap, apply_table *t)
{
	size_t i = slot_of(t->table_id, cap);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = t;
}

/* Keeps the map at most half full so probes stay short. */
static int grow(apply_tables *ts)
{
	size_t cap = ts->cap ? ts->cap * 2 : 16;
	apply_table **slots = calloc(cap, sizeof *slots);
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < ts->cap; i++)
		if (ts->slots[i])
			place(slots, cap, ts->slots[i]);
	free(ts->slots);
	ts->slots = slots;
	ts->cap = cap;
	return 0;
}

apply_table *apply_tables_get(apply_tables *ts, uint32_t table_id)
{
	apply_table *t = apply_tables_find(ts, table_id);
	if (t)
		return t;
	if ((ts->count + 1) * 2 > ts->cap && grow(ts) < 0)
		return NULL;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->table_id = table_id;
	place(ts->slots, ts->cap, t);
	ts->count++;
	return t;
}

bool apply_type_needs_text_compare(const char *type_name)
{
	static const char *const no_equality[] = {"json", "xml", "point", "line", "lseg", "box",
						   "path", "polygon", "circle", "txid_snapshot", "pg_snapshot"};
	size_t n = strcspn(type_name, "([");
	for (size_t i = 0; i < sizeof no_equality / sizeof no_equality[0]; i++)
		if (strlen(no_equality[i]) == n && strncmp(type_name, no_equality[i], n) == 0)
			return true;
	return false;
}

/* A table is matched on its key unless it has none, or replica identity FULL marks
 * every column as key (then no column set is known to be unique). */
static bool is_keyed(const relmsg *r)
{
	int keys = relmsg_key_count(r);
	return keys > 0 && !(r->replident == 'f' && keys == r->ncols);
}

int apply_table_describe(apply_tables *ts, apply_table *t, relmsg *rel)
{
	strbuf q = STRBUF_INIT;
	sql_append_pg_qualified(&q, rel->target_schema, rel->target_name);
	char *qname = strbuf_detach(&q);
	uint8_t *tc = calloc((size_t)rel->ncols + 1, 1);
	apply_batch *batch = apply_batch_new(rel->ncols);
	if (qname == NULL || tc == NULL || batch == NULL) {
		free(qname);
		free(tc);
		apply_batch_free(batch);
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < rel->ncols; i++)
		tc[i] = apply_type_needs_text_compare(rel->cols[i].type_name);
	forget_stmts(t);
	forget_types(t);
	apply_batch_free(t->batch);
	relmsg_free(&t->rel);
	free(t->qname);
	free(t->text_compare);
	t->batch = batch;
	t->rel = *rel;
	memset(rel, 0, sizeof *rel);
	t->qname = qname;
	t->text_compare = tc;
	t->keyed = is_keyed(&t->rel);
	t->described = true;
	if (t->rel.ncols > ts->max_cols)
		ts->max_cols = t->rel.ncols;
	return 0;
}

apply_stmt *apply_table_find_stmt(apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape)
{
	size_t n = (size_t)t->rel.ncols;
	for (int i = 0; i < t->nstmts; i++) {
		apply_stmt *s = &t->stmts[i];
		if (s->kind == kind && s->nrows == nrows && memcmp(s->shape, shape, n) == 0)
			return s;
	}
	return NULL;
}

apply_stmt *apply_table_add_stmt(apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape,
				 int row_params, const char *name)
{
	if (t->nstmts == t->cap_stmts) {
		int cap = t->cap_stmts ? t->cap_stmts * 2 : 8;
		apply_stmt *s = realloc(t->stmts, (size_t)cap * sizeof *s);
		if (s == NULL)
			return NULL;
		t->stmts = s;
		t->cap_stmts = cap;
	}
	size_t n = (size_t)t->rel.ncols;
	uint8_t *copy = malloc(n + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, shape, n);
	apply_stmt *s = &t->stmts[t->nstmts++];
	*s = (apply_stmt){.kind = kind, .nrows = nrows, .row_params = row_params, .shape = copy};
	size_t len = strlen(name);
	if (len >= sizeof s->name)
		len = sizeof s->name - 1;
	memcpy(s->name, name, len);
	s->name[len] = '\0';
	return s;
}

int apply_table_lru_stmt(const apply_table *t)
{
	int best = -1;
	for (int i = 0; i < t->nstmts; i++)
		if (best < 0 || t->stmts[i].last_used < t->stmts[best].last_used)
			best = i;
	return best;
}

void apply_table_remove_stmt(apply_table *t, int index)
{
	free(t->stmts[index].shape);
	t->stmts[index] = t->stmts[--t->nstmts];
}
