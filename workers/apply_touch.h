/* Apply's part of validation's re-checks: which key ranges CDC touched (see
 * taskstate_table.touch_on). Apply learns each table's key column from its RELATION
 * records and, for tables the validate worker tracks, marks the bucket of every changed
 * key in the task state. Untracked tables cost one atomic load per change. */
#ifndef FERRY_APPLY_TOUCH_H
#define FERRY_APPLY_TOUCH_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/taskstate.h"

typedef struct apply_touch {
	int n_tables;
	int32_t *key_col; /* [table_id - 1]: the single key column's index; -1 none known */
} apply_touch;

/* 0, or -1 when memory runs out. */
int apply_touch_init(apply_touch *t, int n_tables);
void apply_touch_free(apply_touch *t);

/* The bucket of key in a table tracked from lo in steps of step (> 0): 0..buckets-1,
 * keys below lo in the first, keys past the last bucket in the last. */
int apply_touch_bucket(int64_t key, int64_t lo, int64_t step, int buckets);

/* A record the engine took (any op): RELATION records teach the key column, changes
 * (INSERT, UPDATE, DELETE, TRUNCATE; table_id from the record's header) of tracked
 * tables mark their keys in ts. */
void apply_touch_note(apply_touch *t, taskstate *ts, uint64_t table_id, const void *rec, size_t len);

#endif
