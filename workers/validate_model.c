/* Validation model: ownership of tables, ranges, text tables and results. */
#include "workers/validate_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/validate_engine.h"

void vd_table_free(vd_table *t)
{
	free(t->label);
	free(t->target_label);
	for (int s = 0; s < 2; s++) {
		free(t->schema[s]);
		free(t->name[s]);
		for (int i = 0; t->cols[s] && i < t->n_cols; i++)
			free(t->cols[s][i]);
		free(t->cols[s]);
	}
	free(t->key);
	free(t->key_collate_c);
	free(t->filter);
	free(t->canon);
	memset(t, 0, sizeof *t);
}

void vd_bound_free(char **b, int n_key)
{
	for (int i = 0; b && i < n_key; i++)
		free(b[i]);
	free(b);
}

int vd_bound_copy(char ***dst, char *const *src, int n_key)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	char **b = calloc((size_t)n_key + 1, sizeof *b);
	if (b == NULL)
		return -1;
	for (int i = 0; i < n_key; i++) {
		if ((b[i] = strdup(src[i] ? src[i] : "")) == NULL) {
			vd_bound_free(b, n_key);
			return -1;
		}
	}
	*dst = b;
	return 0;
}

void vd_range_free(vd_range *r)
{
	/* The bounds' length is not kept here: both are NULL-terminated (calloc n + 1). */
	for (int i = 0; r->lo && r->lo[i]; i++)
		free(r->lo[i]);
	for (int i = 0; r->hi && r->hi[i]; i++)
		free(r->hi[i]);
	free(r->lo);
	free(r->hi);
	r->lo = r->hi = NULL;
}

void vd_rows_free(vd_rows *r)
{
	free(r->cells);
	free(r->arena);
	memset(r, 0, sizeof *r);
}

void vd_answer_free(vd_answer *a)
{
	vd_rows_free(&a->rows);
	a->has_position = false;
	a->position = 0;
}

static void diff_free(vd_diff *d, int n_key)
{
	vd_bound_free(d->key, n_key);
	free(d->value[0]);
	free(d->value[1]);
}

void vd_result_free(vd_table_result *r)
{
	/* A diff's key is NULL-terminated too (vd_bound_copy). */
	for (int i = 0; i < r->n_diffs; i++) {
		int n = 0;
		while (r->diffs[i].key && r->diffs[i].key[n])
			n++;
		diff_free(&r->diffs[i], n);
	}
	free(r->diffs);
	free(r->reason);
	memset(r, 0, sizeof *r);
}

int vd_result_add_diff(vd_table_result *r, int max, vd_diff_kind kind, char *const *key, int n_key, int column,
		       const char *source_value, const char *target_value)
{
	if (r->n_diffs >= max) {
		r->truncated = true;
		return 0;
	}
	if (r->n_diffs == r->cap_diffs) {
		int cap = r->cap_diffs ? r->cap_diffs * 2 : 16;
		vd_diff *grown = realloc(r->diffs, (size_t)cap * sizeof *grown);
		if (grown == NULL)
			return -1;
		r->diffs = grown;
		r->cap_diffs = cap;
	}
	vd_diff d = {.kind = kind, .column = column};
	bool ok = vd_bound_copy(&d.key, key, n_key) == 0;
	if (ok && source_value && (d.value[0] = strdup(source_value)) == NULL)
		ok = false;
	if (ok && target_value && (d.value[1] = strdup(target_value)) == NULL)
		ok = false;
	if (!ok) {
		diff_free(&d, n_key);
		return -1;
	}
	r->diffs[r->n_diffs++] = d;
	return 0;
}

void vd_result_set_reason(vd_table_result *r, vd_status status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(r->reason);
	r->reason = strdup(buf);
	r->status = status;
}

const char *vd_status_name(vd_status s)
{
	switch (s) {
	case VD_EQUAL: return "equal";
	case VD_DIFFERENT: return "different";
	case VD_SKIPPED: return "skipped";
	case VD_ERROR: return "error";
	}
	return "unknown";
}

const char *vd_diff_kind_name(vd_diff_kind k)
{
	switch (k) {
	case VD_DIFF_CHANGED: return "changed";
	case VD_DIFF_MISSING: return "missing";
	case VD_DIFF_EXTRA: return "extra";
	}
	return "unknown";
}
