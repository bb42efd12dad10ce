/* Validation: the rows of a small range (or a list of keys) compared one by one.
 *
 * The answers are merged by key (the key texts compared column by column: any order
 * both sides share will do, it need not be the server's). With a live target the
 * source is read twice around the target read (A before, B after, the target caught up
 * with A's position in between): a row whose version is the same in A and B did not
 * change while the target was read, so the target must show exactly A's row; a row
 * whose version moved is "unsettled" and re-checked later. Pure functions: no I/O. */
#ifndef FERRY_VALIDATE_ROWS_H
#define FERRY_VALIDATE_ROWS_H

#include <stdint.h>

#include "workers/validate_model.h"

/* Where the parts of a row sit in an answer. */
typedef struct vd_layout {
	int version;    /* column of the row version; -1 none */
	int first;      /* column of the table's first column (ROWS answers); -1 none */
	int key[32];    /* columns of the key parts (PostgreSQL allows 32) */
	int n_key;
} vd_layout;

/* ROWS of table t, with a version column first or not. */
vd_layout vd_layout_rows(const vd_table *t, bool with_version);
/* VERSIONS: version, then the key parts. */
vd_layout vd_layout_versions(const vd_table *t);

/* Keys to look at again: flat, n_key copies per key. */
typedef struct vd_keys {
	char **vals;
	int n, cap, n_key;
} vd_keys;

void vd_keys_free(vd_keys *k);
int vd_keys_add(vd_keys *k, const vd_rows *rows, int row, const vd_layout *lay);

/* Compares source rows a (layout la), target rows tg (lt) and, with a live target, the
 * source's versions b read after tg (lb; b NULL = the source did not change: every row
 * settled). Differences go to res (at most max_report listed, all counted); rows whose
 * version moved go to unsettled. 0, or -1 when memory runs out. */
int vd_compare_rows(const vd_table *t, const vd_rows *a, const vd_layout *la, const vd_rows *tg,
		    const vd_layout *lt, const vd_rows *b, const vd_layout *lb, int max_report,
		    vd_table_result *res, vd_keys *unsettled);

/* Keyless tables: the answers of ROW_HASHES (hash, count per row hash) of both sides;
 * counts the rows only the source has (*missing) and only the target has (*extra).
 * 0, or -1 on memory or a malformed answer. */
int vd_multiset_diff(const vd_rows *src, const vd_rows *tgt, int64_t *missing, int64_t *extra);

#endif
