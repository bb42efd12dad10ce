/* One change record into a plan: which statement (kind and column shape) applies it,
 * which values find its row, and whether it must match exactly one row. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/pg_apply_int.h"
#include "workers/pg_apply_sql.h"

/* ---- scratch --------------------------------------------------------------------------- */

int apply_scratch_fit(pg_apply *a, int ncols)
{
	if (ncols <= a->scratch_cols)
		return 0;
	size_t n = (size_t)ncols;
	record_value *nv = realloc(a->newv, n * sizeof *nv);
	if (nv)
		a->newv = nv;
	record_value *ov = realloc(a->oldv, n * sizeof *ov);
	if (ov)
		a->oldv = ov;
	uint8_t *sh = realloc(a->shape, n);
	if (sh)
		a->shape = sh;
	uint8_t *cs = realloc(a->copy_shape, n);
	if (cs)
		a->copy_shape = cs;
	if (!nv || !ov || !sh || !cs)
		return -1;
	a->scratch_cols = ncols;
	return 0;
}

void apply_scratch_free(pg_apply *a)
{
	free(a->newv);
	free(a->oldv);
	free(a->shape);
	free(a->copy_shape);
	free(a->waiting);
	apply_params_free(&a->params);
}

/* Fails the engine with a message about this change. */
static int change_fail(pg_apply *a, const apply_table *t, const record_view *v, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int change_fail(pg_apply *a, const apply_table *t, const record_view *v, const char *fmt, ...)
{
	char why[256], lsn[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	apply_format_lsn(lsn, sizeof lsn, v->hdr.position);
	apply_pipe_fail(&a->pipe, "table %s: %s at source position %s: %s", t ? t->qname : "?",
			apply_op_label(v->hdr.op), lsn, why);
	return apply_fail(a);
}

/* ---- planning --------------------------------------------------------------------------- */

static bool value_equal(const record_value *x, const record_value *y)
{
	if (x->kind != y->kind)
		return false;
	switch (x->kind) {
	case RECORD_KIND_NULL:
	case RECORD_KIND_UNCHANGED: return true;
	case RECORD_KIND_BOOL: return x->b == y->b;
	case RECORD_KIND_UINT64: return x->u64 == y->u64;
	case RECORD_KIND_FLOAT64: return memcmp(&x->f64, &y->f64, sizeof x->f64) == 0;
	case RECORD_KIND_DATE: return x->date == y->date;
	case RECORD_KIND_UUID: return memcmp(x->uuid, y->uuid, 16) == 0;
	case RECORD_KIND_DECIMAL:
	case RECORD_KIND_TEXT:
	case RECORD_KIND_BYTES:
	case RECORD_KIND_JSON:
	case RECORD_KIND_TEXTREP:
		return x->str.len == y->str.len && memcmp(x->str.ptr, y->str.ptr, x->str.len) == 0;
	default: return x->i64 == y->i64; /* INT64, TIME, TIMESTAMP, TIMESTAMPTZ */
	}
}

static uint8_t match_bit(const record_value *v)
{
	if (v->kind == RECORD_KIND_UNCHANGED)
		return 0; /* no value to compare with */
	return v->kind == RECORD_KIND_NULL ? APPLY_COL_MATCH_NULL : APPLY_COL_MATCH;
}

static int mark_key_match(pg_apply *a, const apply_table *t, const record_view *v, const record_value *m)
{
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!t->rel.cols[i].key)
			continue;
		if (m[i].kind == RECORD_KIND_UNCHANGED)
			return change_fail(a, t, v, "key column \"%s\" has no value in the record", t->rel.cols[i].name);
		a->shape[i] |= match_bit(&m[i]);
	}
	return 0;
}

/* Keyless tables: every column of the old image that has a value. */
static int mark_all_match(pg_apply *a, const apply_table *t, const record_view *v)
{
	if (v->hdr.old_image != RECORD_IMAGE_FULL)
		return change_fail(a, t, v, "no old row image to find the row by (a table without a key needs "
					    "REPLICA IDENTITY FULL on the source)");
	bool any = false;
	for (int i = 0; i < t->rel.ncols; i++) {
		a->shape[i] |= match_bit(&a->oldv[i]);
		any |= match_bit(&a->oldv[i]) != 0;
	}
	return any ? 0 : change_fail(a, t, v, "the old row image has no value to match on");
}

static void plan_insert(pg_apply *a, const apply_table *t, bool idem, apply_plan *pl)
{
	for (int i = 0; i < t->rel.ncols; i++)
		a->shape[i] = a->newv[i].kind == RECORD_KIND_UNCHANGED ? 0 : APPLY_COL_SET;
	pl->kind = idem && t->keyed ? APPLY_UPSERT : APPLY_INSERT;
	pl->exact = !idem;
	pl->match = a->newv;
}

/* Exact: UPDATE the row with the (old) key, writing every column that has a value (the
 * key too when it changed). Idempotent with a complete new image: upsert the new row
 * (after deleting the old key's row when the key changed), so a missing row is
 * inserted. Idempotent with unchanged TOAST columns: UPDATE where present; a missing
 * row cannot be built without those values, and in catch-up a missing row is one a
 * later change of the stream deletes or moves anyway. */
static int plan_update_keyed(pg_apply *a, const apply_table *t, const record_view *v, bool idem, apply_plan *pl)
{
	int n = t->rel.ncols;
	bool moved = false, complete = true;
	for (int i = 0; i < n; i++) {
		complete &= a->newv[i].kind != RECORD_KIND_UNCHANGED;
		if (v->hdr.old_image != RECORD_IMAGE_NONE && t->rel.cols[i].key)
			moved |= !value_equal(&a->oldv[i], &a->newv[i]);
	}
	pl->match = moved ? a->oldv : a->newv;
	if (idem && complete) {
		memset(a->shape, APPLY_COL_SET, (size_t)n);
		pl->kind = moved ? APPLY_UPSERT_MOVE : APPLY_UPSERT;
		pl->exact = !idem;
		return moved ? mark_key_match(a, t, v, a->oldv) : 0;
	}
	for (int i = 0; i < n; i++)
		a->shape[i] = a->newv[i].kind != RECORD_KIND_UNCHANGED && (moved || !t->rel.cols[i].key)
				      ? APPLY_COL_SET : 0;
	pl->kind = APPLY_UPDATE;
	pl->exact = !idem;
	return mark_key_match(a, t, v, pl->match);
}

static int plan_update_keyless(pg_apply *a, const apply_table *t, const record_view *v, bool idem, apply_plan *pl)
{
	for (int i = 0; i < t->rel.ncols; i++)
		a->shape[i] = a->newv[i].kind == RECORD_KIND_UNCHANGED ? 0 : APPLY_COL_SET;
	pl->kind = APPLY_UPDATE_ONE;
	pl->exact = !idem;
	pl->match = a->oldv;
	return mark_all_match(a, t, v);
}

static int plan_delete(pg_apply *a, const apply_table *t, const record_view *v, bool idem, apply_plan *pl)
{
	memset(a->shape, 0, (size_t)t->rel.ncols);
	pl->exact = !idem;
	pl->match = a->oldv;
	if (!t->keyed) {
		pl->kind = APPLY_DELETE_ONE;
		return mark_all_match(a, t, v);
	}
	pl->kind = APPLY_DELETE;
	if (v->hdr.old_image == RECORD_IMAGE_NONE)
		return change_fail(a, t, v, "no old key image in the record");
	return mark_key_match(a, t, v, a->oldv);
}

/* ---- entry points ----------------------------------------------------------------------- */

static int load_tuple(const record_tuple *tup, record_value *out, int ncols)
{
	if (tup->ncols != (uint32_t)ncols)
		return -1;
	record_iter it;
	record_iter_init(&it, tup);
	for (int i = 0; i < ncols; i++)
		if (!record_iter_next(&it, &out[i]))
			return -1;
	return 0;
}

static apply_table *described_table(pg_apply *a, const record_view *v)
{
	apply_table *t = apply_tables_find(&a->tables, v->hdr.table_id);
	if (t && t->described)
		return t;
	char lsn[32];
	apply_format_lsn(lsn, sizeof lsn, v->hdr.position);
	apply_pipe_fail(&a->pipe, "%s at source position %s for table id %" PRIu32 ", which no RELATION record described",
			apply_op_label(v->hdr.op), lsn, v->hdr.table_id);
	apply_fail(a);
	return NULL;
}

int apply_change(pg_apply *a, const record_view *v)
{
	apply_table *t = described_table(a, v);
	if (t == NULL)
		return -1;
	int n = t->rel.ncols;
	if ((v->hdr.has_new && load_tuple(&v->new_tuple, a->newv, n) < 0) ||
	    (v->hdr.old_image != RECORD_IMAGE_NONE && load_tuple(&v->old_tuple, a->oldv, n) < 0))
		return change_fail(a, t, v, "the record's columns do not match the table's description (%d columns)", n);
	bool idem = t->idempotent_until != 0 && v->hdr.position <= t->idempotent_until;
	apply_plan pl;
	int rc;
	switch (v->hdr.op) {
	case RECORD_OP_INSERT: plan_insert(a, t, idem, &pl); rc = 0; break;
	case RECORD_OP_UPDATE:
		rc = t->keyed ? plan_update_keyed(a, t, v, idem, &pl) : plan_update_keyless(a, t, v, idem, &pl);
		break;
	default: rc = plan_delete(a, t, v, idem, &pl); break;
	}
	if (rc < 0)
		return -1;
	return apply_send_change(a, t, &pl, v);
}

int apply_truncate(pg_apply *a, const record_view *v)
{
	apply_table *t = described_table(a, v);
	if (t == NULL || apply_send_before(a, t) < 0)
		return -1;
	a->run_table = NULL;
	strbuf_reset(&a->sql);
	apply_sql_truncate(&a->sql, t);
	if (strbuf_failed(&a->sql))
		return apply_oom(a);
	pipe_entry ctx = {.kind = PIPE_COMMAND, .op = RECORD_OP_TRUNCATE, .expect_rows = -1, .what = "TRUNCATE",
			  .table = &t->qname, .position = v->hdr.position};
	if (apply_pipe_command(&a->pipe, &ctx, a->sql.data) < 0)
		return apply_fail(a);
	a->stats.statements++;
	a->pending++;
	return 0;
}
