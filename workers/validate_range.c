/* Key ranges: planning and cutting (see the header). */
#include "workers/validate_range.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vd_range_list_free(vd_range_list *l)
{
	for (int i = 0; i < l->n; i++)
		vd_range_free(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof *l);
}

int vd_range_list_take(vd_range_list *l, vd_range *r)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		vd_range *grown = realloc(l->items, (size_t)cap * sizeof *grown);
		if (grown == NULL) {
			vd_range_free(r);
			return -1;
		}
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->n++] = *r;
	memset(r, 0, sizeof *r);
	return 0;
}

int vd_plan_count(int64_t est_rows)
{
	if (est_rows < 0)
		return 16;
	int64_t n = (est_rows + VD_RANGE_ROWS - 1) / VD_RANGE_ROWS;
	return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int vd_int_cuts(int64_t lo, int64_t hi, int n, int64_t *cuts)
{
	if (n < 2 || hi <= lo)
		return 0;
	/* 128 bits: the width of [INT64_MIN, INT64_MAX] does not fit 64. */
	unsigned __int128 width = (unsigned __int128)((__int128)hi - (__int128)lo) + 1;
	int m = 0;
	int64_t prev = lo;
	for (int i = 1; i < n; i++) {
		int64_t c = (int64_t)((__int128)lo + (__int128)(width * (unsigned)i / (unsigned)n));
		if (c > prev && c <= hi)
			cuts[m++] = prev = c;
	}
	return m;
}

int vd_pick_samples(int n_samples, int n, int *idx)
{
	int m = 0, prev = 0;
	for (int i = 1; i < n && n_samples > 0; i++) {
		int k = (int)((int64_t)i * n_samples / n);
		if (k > prev && k < n_samples)
			idx[m++] = prev = k;
	}
	return m;
}

static char **int_bound(int64_t v)
{
	char **b = calloc(2, sizeof *b);
	char text[32];
	snprintf(text, sizeof text, "%" PRId64, v);
	if (b && (b[0] = strdup(text)) == NULL) {
		free(b);
		b = NULL;
	}
	return b;
}

/* Appends [lo, hi) (bounds taken over) at depth. -1 on memory. */
static int add_piece(vd_range_list *out, char **lo, char **hi, int64_t ilo, int64_t ihi, int depth)
{
	vd_range piece = {.lo = lo, .hi = hi, .ilo = ilo, .ihi = ihi, .depth = depth};
	return vd_range_list_take(out, &piece);
}

static int bound_length(char *const *b)
{
	int n = 0;
	while (b && b[n])
		n++;
	return n;
}

int vd_split_int(const vd_range *r, int64_t lo, int64_t hi, int n, vd_range_list *out)
{
	int64_t *cuts = malloc(((size_t)(n > 1 ? n : 1)) * sizeof *cuts);
	if (cuts == NULL)
		return -1;
	int m = vd_int_cuts(lo, hi, n, cuts);
	int rc = m + 1;
	for (int i = 0; i <= m && rc > 0; i++) {
		char **plo = NULL, **phi = NULL;
		int bad = 0;
		if (i == 0)
			bad |= vd_bound_copy(&plo, r->lo, bound_length(r->lo));
		else
			bad |= (plo = int_bound(cuts[i - 1])) == NULL;
		if (i == m)
			bad |= vd_bound_copy(&phi, r->hi, bound_length(r->hi));
		else
			bad |= (phi = int_bound(cuts[i])) == NULL;
		int64_t ilo = i == 0 ? r->ilo : cuts[i - 1], ihi = i == m ? r->ihi : cuts[i];
		if (bad) {
			vd_bound_free(plo, 1);
			vd_bound_free(phi, 1);
			rc = -1;
		} else if (add_piece(out, plo, phi, ilo, ihi, r->depth + 1) < 0) {
			rc = -1;
		}
	}
	free(cuts);
	return rc;
}

int vd_split_at(const vd_range *r, char *const *bounds, int n_bounds, int n_key, vd_range_list *out)
{
	for (int i = 0; i <= n_bounds; i++) {
		char **plo = NULL, **phi = NULL;
		int bad = vd_bound_copy(&plo, i == 0 ? r->lo : bounds + (size_t)(i - 1) * (size_t)n_key,
					i == 0 ? bound_length(r->lo) : n_key);
		bad |= vd_bound_copy(&phi, i == n_bounds ? r->hi : bounds + (size_t)i * (size_t)n_key,
				     i == n_bounds ? bound_length(r->hi) : n_key);
		if (bad) {
			vd_bound_free(plo, n_key);
			vd_bound_free(phi, n_key);
			return -1;
		}
		if (add_piece(out, plo, phi, 0, 0, r->depth + 1) < 0)
			return -1;
	}
	return n_bounds + 1;
}

int vd_parse_int64(const char *text, int64_t *out)
{
	if (text == NULL || *text == '\0')
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

int vd_int_piece(vd_range_list *out, int64_t lo, int64_t hi, bool open_lo, bool open_hi)
{
	char **plo = open_lo ? NULL : int_bound(lo), **phi = open_hi ? NULL : int_bound(hi);
	if ((!open_lo && plo == NULL) || (!open_hi && phi == NULL)) {
		vd_bound_free(plo, 1);
		vd_bound_free(phi, 1);
		return -1;
	}
	return add_piece(out, plo, phi, lo, hi, 0);
}
