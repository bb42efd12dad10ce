/* Validation: the engine-neutral model shared by the comparison (validate_table.c), the
 * engines (pg_validate.c; a MySQL engine plugs in through validate_engine.h), the
 * report (validate_report.c), ferryctl and the validate worker.
 *
 * A table is compared as its selected columns (exclude_column left out, rename_column
 * applied on the target side), in source column order, split into ranges of its key.
 * Every value travels as text: the form each engine prints for it in the session the
 * engine sets up, which for a same-engine pair is equal on both sides for equal values. */
#ifndef FERRY_VALIDATE_MODEL_H
#define FERRY_VALIDATE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/validate_canon.h"

typedef enum vd_side { VD_SOURCE = 0, VD_TARGET = 1 } vd_side;

/* One table to compare. Owns every string and array (vd_table_free). */
typedef struct vd_table {
	char *label;        /* source, as reports name it: "public"."users" */
	char *target_label; /* target: "app"."customers" */
	char *schema[2];    /* [side] */
	char *name[2];
	bool partitioned;   /* read the partitions too (else the table alone, not its children) */
	int n_cols;
	char **cols[2];     /* [side][i]: column names, source order; key columns among them */
	int n_key;          /* 0 = no key: counts and an order-free hash of all rows */
	int *key;           /* [i]: index into cols of the i-th key column, key order */
	bool *key_collate_c; /* [i]: compare this key column bytewise (the sides' collations differ) */
	bool int_key;       /* one integer key column: ranges split by value */
	char *filter;       /* source rows meet this (filter rule, source dialect); NULL = all */
	int64_t est_rows;   /* source estimate; < 0 unknown */
	engine_kind engine[2];       /* [side] */
	vd_canon_kind *canon;        /* [i]: column i's kind (validate_canon.h); NULL = PostgreSQL pair */
	bool client_hash;            /* engines differ: rows hashed on the client, values canonical */
	vd_canon_side canon_side[2]; /* how each side prints (client_hash) */
} vd_table;

void vd_table_free(vd_table *t);

/* A key range [lo, hi): lo NULL = open below, hi NULL = open above; otherwise n_key
 * text values each. With an integer key ilo/ihi hold the same bounds as numbers. */
typedef struct vd_range {
	char **lo, **hi;
	int64_t ilo, ihi;
	int depth;
} vd_range;

void vd_range_free(vd_range *r);
/* Deep copy of bounds (n_key values each); -1 when memory runs out. */
int vd_bound_copy(char ***dst, char *const *src, int n_key);
void vd_bound_free(char **b, int n_key);

/* A small text table: what every engine request returns. cells[r * n_cols + c], NULL
 * = SQL NULL. One allocation holds the strings (arena). */
typedef struct vd_rows {
	int n_rows, n_cols;
	char **cells;
	char *arena;
} vd_rows;

void vd_rows_free(vd_rows *r);
static inline const char *vd_cell(const vd_rows *r, int row, int col)
{
	return r->cells[(size_t)row * (size_t)r->n_cols + (size_t)col];
}

/* One reported difference. */
typedef enum vd_diff_kind {
	VD_DIFF_CHANGED, /* the row is on both sides; column differs */
	VD_DIFF_MISSING, /* on the source only */
	VD_DIFF_EXTRA    /* on the target only */
} vd_diff_kind;

typedef struct vd_diff {
	vd_diff_kind kind;
	char **key;        /* n_key values */
	int column;        /* CHANGED: index into the table's cols; else -1 */
	char *value[2];    /* CHANGED: [side] text, NULL = SQL NULL */
} vd_diff;

typedef enum vd_status {
	VD_EQUAL = 0,
	VD_DIFFERENT,
	VD_SKIPPED, /* not compared (reason says why) */
	VD_ERROR
} vd_status;

/* What one table's comparison found. */
typedef struct vd_table_result {
	vd_status status;
	int64_t rows_source, rows_target; /* rows counted on each side */
	int64_t rows_differing;           /* keyed: rows with a difference; keyless: rows on one side only */
	int64_t rows_missing, rows_extra, rows_changed;
	int64_t rows_unsettled;  /* kept changing through every re-check: not compared */
	int64_t ranges, ranges_differing;
	int rechecks;            /* rounds of re-checks after the target caught up */
	double seconds;
	char *reason;            /* SKIPPED / ERROR: why; NULL otherwise */
	vd_diff *diffs;          /* the first max_report differences */
	int n_diffs, cap_diffs;
	bool truncated;          /* more differences than listed */
} vd_table_result;

void vd_result_free(vd_table_result *r);
/* Appends a difference (copies key and values) unless max already listed, which sets
 * truncated. 0, or -1 when memory runs out. */
int vd_result_add_diff(vd_table_result *r, int max, vd_diff_kind kind, char *const *key, int n_key, int column,
		       const char *source_value, const char *target_value);
void vd_result_set_reason(vd_table_result *r, vd_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *vd_status_name(vd_status s);
const char *vd_diff_kind_name(vd_diff_kind k);

#endif
