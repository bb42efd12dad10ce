/* Row-by-row comparison of small ranges (see the header). */
#include "workers/validate_rows.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "workers/validate_range.h"

vd_layout vd_layout_rows(const vd_table *t, bool with_version)
{
	vd_layout l = {.version = with_version ? 0 : -1, .first = with_version ? 1 : 0, .n_key = t->n_key};
	for (int k = 0; k < t->n_key && k < 32; k++)
		l.key[k] = l.first + t->key[k];
	return l;
}

vd_layout vd_layout_versions(const vd_table *t)
{
	vd_layout l = {.version = 0, .first = -1, .n_key = t->n_key};
	for (int k = 0; k < t->n_key && k < 32; k++)
		l.key[k] = 1 + k;
	return l;
}

void vd_keys_free(vd_keys *k)
{
	for (int i = 0; i < k->n * k->n_key; i++)
		free(k->vals[i]);
	free(k->vals);
	k->vals = NULL;
	k->n = k->cap = 0;
}

int vd_keys_add(vd_keys *k, const vd_rows *rows, int row, const vd_layout *lay)
{
	if (k->n == k->cap) {
		int cap = k->cap ? k->cap * 2 : 64;
		char **grown = realloc(k->vals, (size_t)cap * (size_t)k->n_key * sizeof *grown);
		if (grown == NULL)
			return -1;
		k->vals = grown;
		k->cap = cap;
	}
	char **dst = k->vals + (size_t)k->n * (size_t)k->n_key;
	for (int i = 0; i < k->n_key; i++) {
		const char *v = vd_cell(rows, row, lay->key[i]);
		if ((dst[i] = strdup(v ? v : "")) == NULL) {
			for (int j = 0; j < i; j++)
				free(dst[j]);
			return -1;
		}
	}
	k->n++;
	return 0;
}

/* ---- ordering by key ------------------------------------------------------------- */

typedef struct sorted {
	const vd_rows *rows;
	const vd_layout *lay;
	int *order;
	int pos;
} sorted;

static int key_cmp(const vd_rows *ra, const vd_layout *la, int a, const vd_rows *rb, const vd_layout *lb, int b)
{
	for (int k = 0; k < la->n_key; k++) {
		const char *x = vd_cell(ra, a, la->key[k]), *y = vd_cell(rb, b, lb->key[k]);
		int c = strcmp(x ? x : "", y ? y : "");
		if (c != 0)
			return c;
	}
	return 0;
}

static int order_cmp(const void *pa, const void *pb, void *arg)
{
	const sorted *s = arg;
	return key_cmp(s->rows, s->lay, *(const int *)pa, s->rows, s->lay, *(const int *)pb);
}

static int sorted_init(sorted *s, const vd_rows *rows, const vd_layout *lay)
{
	*s = (sorted){.rows = rows, .lay = lay};
	if (rows == NULL)
		return 0;
	s->order = malloc(((size_t)rows->n_rows + 1) * sizeof *s->order);
	if (s->order == NULL)
		return -1;
	for (int i = 0; i < rows->n_rows; i++)
		s->order[i] = i;
	qsort_r(s->order, (size_t)rows->n_rows, sizeof *s->order, order_cmp, s);
	return 0;
}

static int head(const sorted *s)
{
	return s->rows && s->pos < s->rows->n_rows ? s->order[s->pos] : -1;
}

/* The row of s at the smallest key (given by row m of rows/lay), consumed; -1 if s's
 * head has another key. */
static int take_if(sorted *s, const vd_rows *rows, const vd_layout *lay, int m)
{
	int h = head(s);
	if (h < 0 || key_cmp(s->rows, s->lay, h, rows, lay, m) != 0)
		return -1;
	s->pos++;
	return h;
}

/* ---- one key ----------------------------------------------------------------------- */

typedef struct cmp_ctx {
	const vd_table *t;
	int max_report;
	vd_table_result *res;
	vd_keys *unsettled;
	char *key[32];
} cmp_ctx;

static void fill_key(cmp_ctx *cx, const vd_rows *rows, const vd_layout *lay, int row)
{
	for (int k = 0; k < lay->n_key; k++)
		cx->key[k] = (char *)vd_cell(rows, row, lay->key[k]);
}

/* Source row ia against target row it (either may be -1). */
static int compare_pair(cmp_ctx *cx, const vd_rows *a, const vd_layout *la, int ia, const vd_rows *tg,
			const vd_layout *lt, int it)
{
	vd_table_result *res = cx->res;
	int n_key = cx->t->n_key;
	if (ia < 0 || it < 0) {
		vd_diff_kind kind = ia < 0 ? VD_DIFF_EXTRA : VD_DIFF_MISSING;
		*(ia < 0 ? &res->rows_extra : &res->rows_missing) += 1;
		res->rows_differing++;
		return vd_result_add_diff(res, cx->max_report, kind, cx->key, n_key, -1, NULL, NULL);
	}
	bool differs = false;
	for (int c = 0; c < cx->t->n_cols; c++) {
		const char *x = vd_cell(a, ia, la->first + c), *y = vd_cell(tg, it, lt->first + c);
		if ((x == NULL) == (y == NULL) && (x == NULL || strcmp(x, y) == 0))
			continue;
		differs = true;
		if (vd_result_add_diff(res, cx->max_report, VD_DIFF_CHANGED, cx->key, n_key, c, x, y) < 0)
			return -1;
	}
	if (differs) {
		res->rows_changed++;
		res->rows_differing++;
	}
	return 0;
}

/* The rows of one key: ia/ib from the two source reads, it from the target. */
static int compare_key(cmp_ctx *cx, const vd_rows *a, const vd_layout *la, int ia, const vd_rows *tg,
		       const vd_layout *lt, int it, const vd_rows *b, const vd_layout *lb, int ib)
{
	if (b != NULL) {
		const char *va = ia >= 0 ? vd_cell(a, ia, la->version) : NULL;
		const char *vb = ib >= 0 ? vd_cell(b, ib, lb->version) : NULL;
		bool settled = (ia < 0 && ib < 0) || (ia >= 0 && ib >= 0 && va && vb && strcmp(va, vb) == 0);
		if (!settled) {
			if (ia >= 0)
				return vd_keys_add(cx->unsettled, a, ia, la);
			if (ib >= 0)
				return vd_keys_add(cx->unsettled, b, ib, lb);
			return vd_keys_add(cx->unsettled, tg, it, lt);
		}
	}
	if (ia < 0 && it < 0)
		return 0; /* cannot happen: a settled key is in A or on the target; kept as a guard */
	return compare_pair(cx, a, la, ia, tg, lt, it);
}

int vd_compare_rows(const vd_table *t, const vd_rows *a, const vd_layout *la, const vd_rows *tg,
		    const vd_layout *lt, const vd_rows *b, const vd_layout *lb, int max_report,
		    vd_table_result *res, vd_keys *unsettled)
{
	sorted sa, st, sb;
	int rc = sorted_init(&sa, a, la);
	rc |= sorted_init(&st, tg, lt);
	rc |= sorted_init(&sb, b, lb);
	cmp_ctx cx = {.t = t, .max_report = max_report, .res = res, .unsettled = unsettled};
	while (rc == 0) {
		/* The smallest key at the three heads. */
		const vd_rows *mr = NULL;
		const vd_layout *ml = NULL;
		int m = -1;
		sorted *all[3] = {&sa, &st, &sb};
		for (int i = 0; i < 3; i++) {
			int h = head(all[i]);
			if (h >= 0 && (m < 0 || key_cmp(all[i]->rows, all[i]->lay, h, mr, ml, m) < 0)) {
				mr = all[i]->rows;
				ml = all[i]->lay;
				m = h;
			}
		}
		if (m < 0)
			break;
		fill_key(&cx, mr, ml, m);
		int ia = take_if(&sa, mr, ml, m), it = take_if(&st, mr, ml, m), ib = take_if(&sb, mr, ml, m);
		rc = compare_key(&cx, a, la, ia, tg, lt, it, b, lb, ib);
	}
	free(sa.order);
	free(st.order);
	free(sb.order);
	return rc;
}

/* ---- keyless ------------------------------------------------------------------------ */

typedef struct hash_count {
	int64_t hash, count;
} hash_count;

static int hc_cmp(const void *pa, const void *pb)
{
	const hash_count *x = pa, *y = pb;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static hash_count *parse_counts(const vd_rows *r)
{
	hash_count *hc = malloc(((size_t)r->n_rows + 1) * sizeof *hc);
	for (int i = 0; hc && i < r->n_rows; i++) {
		if (r->n_cols < 2 || vd_parse_int64(vd_cell(r, i, 0), &hc[i].hash) < 0 ||
		    vd_parse_int64(vd_cell(r, i, 1), &hc[i].count) < 0) {
			free(hc);
			return NULL;
		}
	}
	if (hc)
		qsort(hc, (size_t)r->n_rows, sizeof *hc, hc_cmp);
	return hc;
}

int vd_multiset_diff(const vd_rows *src, const vd_rows *tgt, int64_t *missing, int64_t *extra)
{
	hash_count *s = parse_counts(src), *t = parse_counts(tgt);
	*missing = *extra = 0;
	if (s == NULL || t == NULL) {
		free(s);
		free(t);
		return -1;
	}
	int i = 0, j = 0;
	while (i < src->n_rows || j < tgt->n_rows) {
		if (j >= tgt->n_rows || (i < src->n_rows && s[i].hash < t[j].hash)) {
			*missing += s[i++].count;
		} else if (i >= src->n_rows || t[j].hash < s[i].hash) {
			*extra += t[j++].count;
		} else {
			int64_t d = s[i].count - t[j].count;
			*(d > 0 ? missing : extra) += d > 0 ? d : -d;
			i++;
			j++;
		}
	}
	free(s);
	free(t);
	return 0;
}
