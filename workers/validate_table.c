/* Validation of one table: ranges, their hashes, and cutting the ones that differ (the
 * method is described in the header). */
#include "workers/validate_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/validate_int.h"

typedef vd_range_state range_state;

/* Count and hash of a HASH answer. -1 (table error) when malformed. */
static int hash_of(vd_run *r, const vd_job *job, int64_t *count, const char **hash)
{
	const vd_rows *rows = &job->answer.rows;
	if (rows->n_rows != 1 || rows->n_cols < 2 || vd_parse_int64(vd_cell(rows, 0, 0), count) < 0 ||
	    vd_cell(rows, 0, 1) == NULL) {
		vd_result_set_reason(r->res, VD_ERROR, "the %s's answer to a range hash is malformed",
				     job->req.side == VD_SOURCE ? "source" : "target");
		r->outcome = VD_TABLE_ERROR;
		return -1;
	}
	*hash = vd_cell(rows, 0, 1);
	return 0;
}

/* Fills st[i] from the source job a, the target job t and the source's second read b. */
static int judge(vd_run *r, const vd_job *a, const vd_job *t, const vd_job *b, range_state *st)
{
	const char *ha, *ht, *hb;
	int64_t cb = 0;
	if (hash_of(r, a, &st->count[VD_SOURCE], &ha) < 0 || hash_of(r, t, &st->count[VD_TARGET], &ht) < 0)
		return -1;
	if (b && hash_of(r, b, &cb, &hb) < 0)
		return -1;
	st->equal = st->count[VD_SOURCE] == st->count[VD_TARGET] && strcmp(ha, ht) == 0;
	st->stable = b == NULL || (cb == st->count[VD_SOURCE] && strcmp(ha, hb) == 0);
	return 0;
}

/* Both sides at once (the first pass, and every pass without a live target). */
static int hash_plain(vd_run *r, const vd_range_list *l, range_state *st)
{
	vd_batch b;
	if (vd_batch_init(r, &b, 2 * l->n) < 0)
		return -1;
	for (int i = 0; i < l->n; i++) {
		b.jobs[2 * i].req = vd_req(r, VD_REQ_HASH, VD_SOURCE, &l->items[i]);
		b.jobs[2 * i + 1].req = vd_req(r, VD_REQ_HASH, VD_TARGET, &l->items[i]);
	}
	int rc = vd_batch_run(r, &b, "hashing key ranges");
	for (int i = 0; rc == 0 && i < l->n; i++)
		rc = judge(r, &b.jobs[2 * i], &b.jobs[2 * i + 1], NULL, &st[i]);
	vd_batch_free(&b);
	return rc;
}

/* A live target: source (with its position), the target once it has that position, then
 * the source again. The second source read starts after the target read ended, so what
 * the target showed lies between the two source reads. */
static int hash_ordered(vd_run *r, const vd_range_list *l, range_state *st)
{
	vd_batch a, t = {0}, b = {0};
	if (vd_batch_init(r, &a, l->n) < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < l->n; i++) {
		a.jobs[i].req = vd_req(r, VD_REQ_HASH, VD_SOURCE, &l->items[i]);
		a.jobs[i].req.with_position = true;
	}
	rc = vd_batch_run(r, &a, "hashing key ranges");
	if (rc == 0)
		rc = vd_wait_target(r, vd_batch_max_position(&a));
	if (rc == 0)
		rc = vd_batch_init(r, &t, l->n) < 0 || vd_batch_init(r, &b, l->n) < 0 ? -1 : 0;
	for (int i = 0; rc == 0 && i < l->n; i++) {
		t.jobs[i].req = vd_req(r, VD_REQ_HASH, VD_TARGET, &l->items[i]);
		b.jobs[i].req = vd_req(r, VD_REQ_HASH, VD_SOURCE, &l->items[i]);
	}
	if (rc == 0)
		rc = vd_batch_run(r, &t, "hashing key ranges");
	if (rc == 0)
		rc = vd_batch_run(r, &b, "hashing key ranges");
	for (int i = 0; rc == 0 && i < l->n; i++)
		rc = judge(r, &a.jobs[i], &t.jobs[i], &b.jobs[i], &st[i]);
	r->res->rechecks++;
	vd_batch_free(&a);
	vd_batch_free(&t);
	vd_batch_free(&b);
	return rc;
}

/* ---- cutting --------------------------------------------------------------------- */

/* Smallest and largest integer key of BOUNDS answers; false when all are empty. */
static bool bounds_of(const vd_job *jobs, int n, int64_t *lo, int64_t *hi)
{
	bool any = false;
	for (int i = 0; i < n; i++) {
		const vd_rows *rows = &jobs[i].answer.rows;
		int64_t mn, mx;
		if (rows->n_rows != 1 || vd_parse_int64(vd_cell(rows, 0, 0), &mn) < 0 ||
		    vd_parse_int64(vd_cell(rows, 0, 1), &mx) < 0)
			continue;
		if (!any || mn < *lo)
			*lo = mn;
		if (!any || mx > *hi)
			*hi = mx;
		any = true;
	}
	return any;
}

/* Cuts each range of l (the larger side has big[i] rows) into out; a range that cannot
 * be cut goes to leaves. l is emptied. */
static int cut_ranges(vd_run *r, vd_range_list *l, const int64_t *big, const vd_side *bigger,
		      vd_range_list *out, vd_range_list *leaves)
{
	const vd_table *t = r->t;
	int per = t->int_key ? 2 : 1;
	vd_batch b;
	if (vd_batch_init(r, &b, per * l->n) < 0)
		return -1;
	for (int i = 0; i < l->n; i++) {
		if (t->int_key) {
			b.jobs[2 * i].req = vd_req(r, VD_REQ_BOUNDS, VD_SOURCE, &l->items[i]);
			b.jobs[2 * i + 1].req = vd_req(r, VD_REQ_BOUNDS, VD_TARGET, &l->items[i]);
		} else {
			b.jobs[i].req = vd_req(r, VD_REQ_SAMPLE, bigger[i], &l->items[i]);
			b.jobs[i].req.step = (big[i] + VD_SPLIT_WAYS - 1) / VD_SPLIT_WAYS;
		}
	}
	int rc = vd_batch_run(r, &b, "cutting key ranges");
	for (int i = 0; rc == 0 && i < l->n; i++) {
		vd_range_list pieces = {0};
		int n = 1;
		int64_t lo = 0, hi = 0;
		if (t->int_key && bounds_of(&b.jobs[2 * i], 2, &lo, &hi))
			n = vd_split_int(&l->items[i], lo, hi, VD_SPLIT_WAYS, &pieces);
		else if (!t->int_key && b.jobs[i].answer.rows.n_rows > 0)
			n = vd_split_at(&l->items[i], b.jobs[i].answer.rows.cells, b.jobs[i].answer.rows.n_rows,
					t->n_key, &pieces);
		if (n < 0) {
			rc = -1;
		} else if (n <= 1) {
			rc = vd_range_list_take(leaves, &l->items[i]);
		} else {
			for (int k = 0; k < pieces.n && rc == 0; k++)
				rc = vd_range_list_take(out, &pieces.items[k]);
		}
		vd_range_list_free(&pieces);
	}
	if (rc < 0 && r->outcome == VD_GO_ON) {
		vd_result_set_reason(r->res, VD_ERROR, "out of memory");
		r->outcome = VD_TABLE_ERROR;
	}
	vd_batch_free(&b);
	vd_range_list_free(l);
	return rc;
}

/* ---- the passes ------------------------------------------------------------------ */

typedef struct pass {
	vd_range_list next, cut, leaves;
	int64_t *big;
	vd_side *bigger;
} pass;

/* Where range i goes after its hashes: done, again, cut, row by row, or one-sided. */
static int route(vd_run *r, pass *p, vd_range *range, const range_state *st, bool first)
{
	if (first) {
		r->res->rows_source += st->count[VD_SOURCE];
		r->res->rows_target += st->count[VD_TARGET];
		r->res->ranges++;
		r->res->ranges_differing += !st->equal;
	}
	if (st->equal)
		return 0;
	/* With a live target the first pass read both sides at once: a difference there may
	 * be lag only. Its pieces (or rows) are compared in order, which tells; cutting right
	 * away costs no more than hashing the whole range again in order would. */
	bool unchecked = first && r->env->live;
	int64_t s = st->count[VD_SOURCE], t = st->count[VD_TARGET], big = s > t ? s : t;
	if (big <= r->env->leaf_rows || range->depth >= VD_MAX_DEPTH)
		return vd_range_list_take(&p->leaves, range);
	if (st->stable && !unchecked && (s == 0 || t == 0))
		return vd_one_sided(r, range, s == 0 ? VD_TARGET : VD_SOURCE, big);
	p->big[p->cut.n] = big;
	p->bigger[p->cut.n] = s >= t ? VD_SOURCE : VD_TARGET;
	return vd_range_list_take(&p->cut, range);
}

/* One level: hashes of level, then each range routed. level is emptied into next. */
static int one_level(vd_run *r, vd_range_list *level, bool first, vd_range_list *leaves, vd_range_list *next)
{
	range_state *st = calloc((size_t)level->n + 1, sizeof *st);
	pass p = {.big = calloc((size_t)level->n + 1, sizeof *p.big),
		  .bigger = calloc((size_t)level->n + 1, sizeof *p.bigger)};
	int rc = st && p.big && p.bigger ? 0 : -1;
	if (rc == 0)
		rc = vd_hash_ranges(r, level, !first && r->env->live, st);
	for (int i = 0; rc == 0 && i < level->n; i++)
		rc = route(r, &p, &level->items[i], &st[i], first);
	if (rc == 0 && p.cut.n > 0)
		rc = cut_ranges(r, &p.cut, p.big, p.bigger, &p.next, &p.leaves);
	for (int i = 0; rc == 0 && i < p.leaves.n; i++)
		rc = vd_range_list_take(leaves, &p.leaves.items[i]);
	if (rc == 0) {
		*next = p.next;
		memset(&p.next, 0, sizeof p.next);
	}
	if (rc < 0 && r->outcome == VD_GO_ON) {
		vd_result_set_reason(r->res, VD_ERROR, "out of memory");
		r->outcome = VD_TABLE_ERROR;
	}
	vd_range_list_free(&p.next);
	vd_range_list_free(&p.cut);
	vd_range_list_free(&p.leaves);
	vd_range_list_free(level);
	free(st);
	free(p.big);
	free(p.bigger);
	return rc;
}

/* ---- the first ranges -------------------------------------------------------------- */

static int plan_int(vd_run *r, vd_range_list *out)
{
	vd_batch b;
	if (vd_batch_init(r, &b, 2) < 0)
		return -1;
	b.jobs[0].req = vd_req(r, VD_REQ_BOUNDS, VD_SOURCE, NULL);
	b.jobs[1].req = vd_req(r, VD_REQ_BOUNDS, VD_TARGET, NULL);
	int rc = vd_batch_run(r, &b, "reading the key's extremes");
	int64_t lo = 0, hi = 0;
	vd_range root = {0};
	if (rc == 0 && bounds_of(b.jobs, 2, &lo, &hi))
		rc = vd_split_int(&root, lo, hi, vd_plan_count(r->t->est_rows), out) < 0 ? -1 : 0;
	else if (rc == 0)
		rc = vd_range_list_take(out, &root);
	vd_batch_free(&b);
	return rc;
}

/* Boundaries sampled from the source (a few hundred keys per range). */
static int plan_sampled(vd_run *r, vd_range_list *out)
{
	int n = vd_plan_count(r->t->est_rows);
	vd_range root = {0};
	if (n <= 1 || r->t->est_rows <= VD_RANGE_ROWS)
		return vd_range_list_take(out, &root);
	vd_batch b;
	if (vd_batch_init(r, &b, 1) < 0)
		return -1;
	b.jobs[0].req = vd_req(r, VD_REQ_SAMPLE_TABLE, VD_SOURCE, NULL);
	double percent = 100.0 * 200.0 * n / (double)r->t->est_rows;
	b.jobs[0].req.percent = percent < 100.0 ? percent : 100.0;
	int rc = vd_batch_run(r, &b, "sampling the key");
	int *idx = rc == 0 ? calloc((size_t)n + 1, sizeof *idx) : NULL;
	char **bounds = idx ? calloc((size_t)n * (size_t)r->t->n_key + 1, sizeof *bounds) : NULL;
	if (rc == 0 && bounds == NULL)
		rc = -1;
	if (rc == 0) {
		const vd_rows *s = &b.jobs[0].answer.rows;
		int m = vd_pick_samples(s->n_rows, n, idx);
		for (int i = 0; i < m; i++)
			for (int k = 0; k < r->t->n_key; k++)
				bounds[(size_t)i * (size_t)r->t->n_key + (size_t)k] = (char *)vd_cell(s, idx[i], k);
		rc = vd_split_at(&root, bounds, m, r->t->n_key, out) < 0 ? -1 : 0;
	}
	free(idx);
	free(bounds);
	vd_batch_free(&b);
	return rc;
}

int vd_hash_ranges(vd_run *r, const vd_range_list *l, bool ordered, vd_range_state *st)
{
	return ordered ? hash_ordered(r, l, st) : hash_plain(r, l, st);
}

/* start: the ranges to begin with (taken over); NULL = the whole key space. */
static int compare_keyed(vd_run *r, vd_range_list *start)
{
	vd_range_list level = {0}, leaves = {0};
	int rc = 0;
	if (start) {
		level = *start;
		*start = (vd_range_list){0};
	} else {
		rc = r->t->int_key ? plan_int(r, &level) : plan_sampled(r, &level);
	}
	if (rc < 0 && r->outcome == VD_GO_ON) {
		vd_result_set_reason(r->res, VD_ERROR, "out of memory");
		r->outcome = VD_TABLE_ERROR;
	}
	for (bool first = true; rc == 0 && level.n > 0; first = false) {
		vd_range_list next = {0};
		rc = one_level(r, &level, first, &leaves, &next);
		level = next;
	}
	vd_range_list_free(&level);
	if (rc == 0)
		return vd_compare_leaves(r, &leaves);
	vd_range_list_free(&leaves);
	return rc;
}

static int validate(vd_pool *pool, const vd_table *t, vd_range_list *first, vd_table_result *res)
{
	memset(res, 0, sizeof *res);
	vd_run r = {.pool = pool, .env = pool->env, .t = t, .res = res, .outcome = VD_GO_ON};
	uint64_t start = vd_now_ms();
	if (t->n_key == 0)
		vd_compare_keyless(&r);
	else
		compare_keyed(&r, first);
	res->seconds = (double)(vd_now_ms() - start) / 1000.0;
	switch (r.outcome) {
	case VD_GO_ON:
		res->status = res->rows_differing > 0 ? VD_DIFFERENT : VD_EQUAL;
		return 0;
	case VD_TABLE_ERROR:
		res->status = VD_ERROR;
		return 0;
	case VD_STOPPED:
		return 1;
	case VD_BROKEN:
		res->status = VD_ERROR;
		return -1;
	}
	return -1;
}

int vd_validate_table(vd_pool *pool, const vd_table *t, vd_table_result *res)
{
	return validate(pool, t, NULL, res);
}

int vd_validate_ranges(vd_pool *pool, const vd_table *t, vd_range_list *ranges, vd_table_result *res)
{
	int rc = validate(pool, t, t->n_key > 0 ? ranges : NULL, res);
	vd_range_list_free(ranges);
	return rc;
}

int vd_int_key_bounds(vd_pool *pool, const vd_table *t, int64_t *lo, int64_t *hi, bool *found)
{
	vd_table_result res = {0};
	vd_run r = {.pool = pool, .env = pool->env, .t = t, .res = &res, .outcome = VD_GO_ON};
	vd_batch b;
	*found = false;
	if (!t->int_key || vd_batch_init(&r, &b, 2) < 0)
		return -1;
	b.jobs[0].req = vd_req(&r, VD_REQ_BOUNDS, VD_SOURCE, NULL);
	b.jobs[1].req = vd_req(&r, VD_REQ_BOUNDS, VD_TARGET, NULL);
	int rc = vd_batch_run(&r, &b, "reading the key's extremes");
	if (rc == 0)
		*found = bounds_of(b.jobs, 2, lo, hi);
	vd_batch_free(&b);
	vd_result_free(&res);
	return rc;
}
