/* Apply's part of validation's re-checks (see the header). */
#include "workers/apply_touch.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ipc/record.h"
#include "ipc/relmsg.h"

#define TOUCH_BUCKETS (TASKSTATE_TOUCH_WORDS * 64)

int apply_touch_init(apply_touch *t, int n_tables)
{
	t->n_tables = n_tables;
	t->key_col = malloc(sizeof *t->key_col * (size_t)(n_tables > 0 ? n_tables : 1));
	if (t->key_col == NULL)
		return -1;
	for (int i = 0; i < n_tables; i++)
		t->key_col[i] = -1;
	return 0;
}

void apply_touch_free(apply_touch *t)
{
	free(t->key_col);
	t->key_col = NULL;
	t->n_tables = 0;
}

int apply_touch_bucket(int64_t key, int64_t lo, int64_t step, int buckets)
{
	if (key <= lo || step <= 0)
		return 0;
	/* (key - lo) may overflow int64 for far-apart keys: unsigned arithmetic is exact */
	uint64_t b = ((uint64_t)key - (uint64_t)lo) / (uint64_t)step;
	return b >= (uint64_t)buckets ? buckets - 1 : (int)b;
}

static void learn_relation(apply_touch *t, const record_view *v)
{
	relmsg rel;
	const char *what = NULL;
	if (relmsg_decode(v, &rel, &what) < 0)
		return;
	if (rel.table_id >= 1 && (int)rel.table_id <= t->n_tables) {
		int col = -1;
		if (relmsg_key_count(&rel) == 1)
			for (int i = 0; i < rel.ncols; i++)
				if (rel.cols[i].key)
					col = i;
		t->key_col[rel.table_id - 1] = col;
	}
	relmsg_free(&rel);
}

/* Marks the key of tuple tp in tt; false when it is no integer key. */
static bool mark_key(taskstate_table *tt, const record_tuple *tp, int col)
{
	if (tp->data == NULL || (uint32_t)col >= tp->ncols)
		return false;
	record_iter it;
	record_value val;
	record_iter_init(&it, tp);
	for (int i = 0; i <= col; i++)
		if (!record_iter_next(&it, &val))
			return false;
	int64_t key;
	if (val.kind == RECORD_KIND_INT64)
		key = val.i64;
	else if (val.kind == RECORD_KIND_UINT64)
		key = val.u64 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)val.u64;
	else
		return false;
	int b = apply_touch_bucket(key, atomic_load(&tt->touch_lo), atomic_load(&tt->touch_step), TOUCH_BUCKETS);
	uint64_t bit = UINT64_C(1) << (b % 64);
	/* a plain load first: hot buckets are set already, and a write would bounce the line */
	if ((atomic_load_explicit(&tt->touched[b / 64], memory_order_relaxed) & bit) == 0)
		atomic_fetch_or(&tt->touched[b / 64], bit);
	return true;
}

void apply_touch_note(apply_touch *t, taskstate *ts, uint64_t table_id, const void *rec, size_t len)
{
	const uint8_t *p = rec;
	if (len < 2)
		return;
	bool relation = p[0] == RECORD_OP_RELATION;
	if (!relation) {
		if (p[0] < RECORD_OP_INSERT || p[0] > RECORD_OP_TRUNCATE || table_id < 1 ||
		    table_id > (uint64_t)t->n_tables || table_id > (uint64_t)ts->n_tables ||
		    !atomic_load_explicit(&ts->tables[table_id - 1].touch_on, memory_order_relaxed))
			return;
	}
	record_view v;
	record_error e;
	if (record_decode(rec, len, &v, &e) < 0)
		return; /* the engine itself reports a broken record */
	if (relation) {
		learn_relation(t, &v);
		return;
	}
	taskstate_table *tt = &ts->tables[table_id - 1];
	int col = t->key_col[table_id - 1];
	bool placed = p[0] != RECORD_OP_TRUNCATE && col >= 0;
	if (placed && v.hdr.old_image != RECORD_IMAGE_NONE)
		placed = mark_key(tt, &v.old_tuple, col);
	if (placed && v.hdr.has_new)
		placed = mark_key(tt, &v.new_tuple, col);
	if (!placed)
		atomic_store(&tt->touched_all, 1);
}
