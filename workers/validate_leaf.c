/* Validation of one table: small ranges and re-checked keys row by row, ranges with rows
 * on one side only, and tables without a key (see validate_table.h). */
#include <stdlib.h>
#include <string.h>

#include "workers/validate_int.h"

/* Small ranges read at once; keys per re-check request. */
#define LEAF_CHUNK 32
#define KEY_BATCH 500

/* What one row-by-row comparison covers: a range, or a list of keys. */
typedef struct scope {
	const vd_range *range;
	char *const *keys;
	int n_keys;
} scope;

static vd_request scoped(const vd_run *r, vd_req_kind kind, vd_side side, const scope *sc)
{
	vd_request q = vd_req(r, kind, side, sc->range);
	q.keys = sc->keys;
	q.n_keys = sc->n_keys;
	return q;
}

static int out_of_memory(vd_run *r)
{
	vd_result_set_reason(r->res, VD_ERROR, "out of memory");
	r->outcome = VD_TABLE_ERROR;
	return -1;
}

/* Without a live target: both sides at once, one comparison. */
static int rows_static(vd_run *r, const scope *sc, int n, vd_keys *unsettled)
{
	vd_batch b;
	if (vd_batch_init(r, &b, 2 * n) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		b.jobs[2 * i].req = scoped(r, VD_REQ_ROWS, VD_SOURCE, &sc[i]);
		b.jobs[2 * i + 1].req = scoped(r, VD_REQ_ROWS, VD_TARGET, &sc[i]);
	}
	int rc = vd_batch_run(r, &b, "reading rows");
	vd_layout l = vd_layout_rows(r->t, false);
	for (int i = 0; rc == 0 && i < n; i++) {
		rc = vd_compare_rows(r->t, &b.jobs[2 * i].answer.rows, &l, &b.jobs[2 * i + 1].answer.rows, &l, NULL,
				     NULL, r->env->max_report, r->res, unsettled);
		if (rc < 0)
			out_of_memory(r);
	}
	vd_batch_free(&b);
	return rc;
}

/* A live target: source rows with versions and position; the target once it has that
 * position; the source's versions again. */
static int rows_live(vd_run *r, const scope *sc, int n, vd_keys *unsettled)
{
	vd_batch a, t = {0}, b = {0};
	if (vd_batch_init(r, &a, n) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		a.jobs[i].req = scoped(r, VD_REQ_ROWS, VD_SOURCE, &sc[i]);
		a.jobs[i].req.with_version = a.jobs[i].req.with_position = true;
	}
	int rc = vd_batch_run(r, &a, "reading rows");
	if (rc == 0)
		rc = vd_wait_target(r, vd_batch_max_position(&a));
	if (rc == 0)
		rc = vd_batch_init(r, &t, n) < 0 || vd_batch_init(r, &b, n) < 0 ? -1 : 0;
	for (int i = 0; rc == 0 && i < n; i++) {
		t.jobs[i].req = scoped(r, VD_REQ_ROWS, VD_TARGET, &sc[i]);
		b.jobs[i].req = scoped(r, VD_REQ_VERSIONS, VD_SOURCE, &sc[i]);
	}
	if (rc == 0)
		rc = vd_batch_run(r, &t, "reading rows");
	if (rc == 0)
		rc = vd_batch_run(r, &b, "reading row versions");
	vd_layout la = vd_layout_rows(r->t, true), lt = vd_layout_rows(r->t, false), lb = vd_layout_versions(r->t);
	for (int i = 0; rc == 0 && i < n; i++) {
		rc = vd_compare_rows(r->t, &a.jobs[i].answer.rows, &la, &t.jobs[i].answer.rows, &lt,
				     &b.jobs[i].answer.rows, &lb, r->env->max_report, r->res, unsettled);
		if (rc < 0)
			out_of_memory(r);
	}
	vd_batch_free(&a);
	vd_batch_free(&t);
	vd_batch_free(&b);
	return rc;
}

static int rows_compare(vd_run *r, const scope *sc, int n, vd_keys *unsettled)
{
	return r->env->live ? rows_live(r, sc, n, unsettled) : rows_static(r, sc, n, unsettled);
}

/* Rows that changed while compared, read again up to env->retries times. */
static int recheck(vd_run *r, vd_keys *keys)
{
	for (int round = 0; round < r->env->retries && keys->n > 0; round++) {
		vd_keys next = {.n_key = keys->n_key};
		int n = (keys->n + KEY_BATCH - 1) / KEY_BATCH;
		scope *sc = calloc((size_t)n + 1, sizeof *sc);
		if (sc == NULL)
			return out_of_memory(r);
		for (int i = 0; i < n; i++) {
			int first = i * KEY_BATCH, count = keys->n - first < KEY_BATCH ? keys->n - first : KEY_BATCH;
			sc[i] = (scope){.keys = keys->vals + (size_t)first * (size_t)keys->n_key, .n_keys = count};
		}
		int rc = 0;
		for (int i = 0; rc == 0 && i < n; i += LEAF_CHUNK)
			rc = rows_compare(r, sc + i, n - i < LEAF_CHUNK ? n - i : LEAF_CHUNK, &next);
		free(sc);
		r->res->rechecks++;
		vd_keys_free(keys);
		*keys = next;
		if (rc < 0)
			return -1;
	}
	r->res->rows_unsettled += keys->n;
	return 0;
}

int vd_compare_leaves(vd_run *r, vd_range_list *leaves)
{
	vd_keys unsettled = {.n_key = r->t->n_key};
	scope sc[LEAF_CHUNK];
	int rc = 0;
	for (int start = 0; rc == 0 && start < leaves->n; start += LEAF_CHUNK) {
		int n = leaves->n - start < LEAF_CHUNK ? leaves->n - start : LEAF_CHUNK;
		for (int i = 0; i < n; i++)
			sc[i] = (scope){.range = &leaves->items[start + i]};
		rc = rows_compare(r, sc, n, &unsettled);
	}
	vd_range_list_free(leaves);
	if (rc == 0)
		rc = recheck(r, &unsettled);
	vd_keys_free(&unsettled);
	return rc;
}

int vd_one_sided(vd_run *r, const vd_range *range, vd_side side, int64_t count)
{
	vd_table_result *res = r->res;
	*(side == VD_SOURCE ? &res->rows_missing : &res->rows_extra) += count;
	res->rows_differing += count;
	int room = r->env->max_report - res->n_diffs;
	if (room <= 0) {
		res->truncated = true;
		return 0;
	}
	vd_batch b;
	if (vd_batch_init(r, &b, 1) < 0)
		return -1;
	b.jobs[0].req = vd_req(r, VD_REQ_ROWS, side, range);
	b.jobs[0].req.limit = room;
	int rc = vd_batch_run(r, &b, "listing rows");
	const vd_rows *rows = &b.jobs[0].answer.rows;
	vd_layout l = vd_layout_rows(r->t, false);
	vd_diff_kind kind = side == VD_SOURCE ? VD_DIFF_MISSING : VD_DIFF_EXTRA;
	for (int i = 0; rc == 0 && i < rows->n_rows; i++) {
		char *key[32];
		for (int k = 0; k < l.n_key; k++)
			key[k] = (char *)vd_cell(rows, i, l.key[k]);
		if (vd_result_add_diff(res, r->env->max_report, kind, key, l.n_key, -1, NULL, NULL) < 0)
			rc = out_of_memory(r);
	}
	if (count > room)
		res->truncated = true;
	vd_batch_free(&b);
	return rc;
}

/* ---- tables without a key ---------------------------------------------------------- */

/* Rows on one side only, from the multisets of row hashes. */
static int keyless_rows(vd_run *r)
{
	vd_batch b;
	if (vd_batch_init(r, &b, 2) < 0)
		return -1;
	b.jobs[0].req = vd_req(r, VD_REQ_ROW_HASHES, VD_SOURCE, NULL);
	b.jobs[1].req = vd_req(r, VD_REQ_ROW_HASHES, VD_TARGET, NULL);
	int rc;
	if (r->env->live) {
		/* The source first (with its position), the target once caught up. */
		b.n = 1;
		b.jobs[0].req.with_position = true;
		rc = vd_batch_run(r, &b, "reading row hashes");
		b.n = 2;
		if (rc == 0)
			rc = vd_wait_target(r, b.jobs[0].answer.position);
		vd_job *target = &b.jobs[1];
		vd_batch one = {.jobs = target, .ptrs = &target, .n = 1};
		if (rc == 0)
			rc = vd_batch_run(r, &one, "reading row hashes");
	} else {
		rc = vd_batch_run(r, &b, "reading row hashes");
	}
	int64_t missing = 0, extra = 0;
	if (rc == 0 && vd_multiset_diff(&b.jobs[0].answer.rows, &b.jobs[1].answer.rows, &missing, &extra) < 0)
		rc = out_of_memory(r);
	r->res->rows_missing = missing;
	r->res->rows_extra = extra;
	r->res->rows_differing = missing + extra;
	vd_batch_free(&b);
	return rc;
}

int vd_compare_keyless(vd_run *r)
{
	vd_range whole = {0};
	vd_range_list l = {.items = &whole, .n = 1, .cap = 1};
	vd_range_state st;
	if (vd_hash_ranges(r, &l, false, &st) < 0)
		return -1;
	r->res->rows_source = st.count[VD_SOURCE];
	r->res->rows_target = st.count[VD_TARGET];
	r->res->ranges = 1;
	r->res->ranges_differing = !st.equal;
	if (st.equal)
		return 0;
	if (!r->env->live)
		return keyless_rows(r);
	for (int round = 0; round <= r->env->retries; round++) {
		if (vd_hash_ranges(r, &l, true, &st) < 0)
			return -1;
		if (st.equal)
			return 0;
		if (st.stable)
			return keyless_rows(r);
	}
	/* Written to all along: its rows cannot be compared now. */
	r->res->rows_unsettled = st.count[VD_SOURCE];
	return 0;
}
