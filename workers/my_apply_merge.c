/* The net change per key of a table within the open target transaction, for MySQL/MariaDB
 * targets. A statement per change costs the server a parse, an execution and a result
 * packet each; merged, a burst of changes becomes one DELETE of the keys that were there
 * and one multi-row INSERT of the rows that are there at the end. Both keep exact mode's
 * checks: the DELETE must take every key whose first change found a row, the INSERT must
 * add every row, so a target that does not hold what the source changed still stops the
 * task. A change the merged state contradicts (an INSERT of a key that is there, an
 * UPDATE or DELETE of one that is not) flushes the merge and goes as its own statement,
 * whose result names it. Order between tables does not matter: the target session runs
 * with foreign_key_checks off and commits them together. */
#include "workers/my_apply_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/my_sql.h"
#include "workers/my_target.h"

#define MERGE_KEYS_MAX 4096              /* keys merged per table before they are written */
#define MERGE_BYTES_MAX (4 * 1024 * 1024) /* bytes of row text ... */
#define DELETE_KEYS_MAX 500              /* keys per DELETE (an IN list of 1000 or more
					    becomes a derived table in MariaDB) */

bool my_merge_eligible(const my_apply_table *t)
{
	if (!t->keyed)
		return false;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!t->rel.cols[i].key)
			continue;
		switch (t->cols[i].cls) {
		case CATALOG_TYPE_BOOL: case CATALOG_TYPE_INT1: case CATALOG_TYPE_INT2: case CATALOG_TYPE_INT3:
		case CATALOG_TYPE_INT4: case CATALOG_TYPE_INT8: case CATALOG_TYPE_UINT1: case CATALOG_TYPE_UINT2:
		case CATALOG_TYPE_UINT3: case CATALOG_TYPE_UINT4: case CATALOG_TYPE_UINT8: case CATALOG_TYPE_DATE:
		case CATALOG_TYPE_YEAR: case CATALOG_TYPE_UUID:
			break;
		default:
			return false;
		}
	}
	return true;
}

/* Whether the target table holds nothing a DELETE and INSERT of a row would change
 * beyond what an UPDATE does: no columns the changes do not write (an INSERT would reset
 * them to their defaults) and no triggers (they would see other events). */
bool my_merge_target_fits(my_apply *a, const my_apply_table *t)
{
	strbuf q = STRBUF_INIT;
	strbuf_append(&q, "SELECT (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ");
	my_sql_append_literal(&q, a->conn, t->rel.target_schema);
	strbuf_append(&q, " AND TABLE_NAME = ");
	my_sql_append_literal(&q, a->conn, t->rel.target_name);
	strbuf_append(&q, " AND EXTRA NOT LIKE '%VIRTUAL GENERATED%' AND EXTRA NOT LIKE '%STORED GENERATED%'),"
			  " (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ");
	my_sql_append_literal(&q, a->conn, t->rel.target_schema);
	strbuf_append(&q, " AND EVENT_OBJECT_TABLE = ");
	my_sql_append_literal(&q, a->conn, t->rel.target_name);
	strbuf_append_char(&q, ')');
	char *err = NULL;
	MYSQL_RES *res = strbuf_failed(&q) ? NULL : my_sql_query(a->conn, q.data, "target: reading the table's columns", &err);
	strbuf_free(&q);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	bool fits = row && row[0] && row[1] && strtol(row[0], NULL, 10) == t->rel.ncols && strtol(row[1], NULL, 10) == 0;
	if (res == NULL)
		log_warning("table %s: changes go one statement each: %s", t->qname, err ? err : "out of memory");
	else if (!fits)
		log_info("table %s: changes go one statement each (the target table has other columns than the source "
			 "sends, or triggers)", t->qname);
	if (res)
		mysql_free_result(res);
	free(err);
	return fits;
}

void my_merge_free(my_merge *m)
{
	free(m->rows);
	free(m->slots);
	strbuf_free(&m->keys);
	strbuf_free(&m->tuples);
	strbuf_free(&m->texts);
	memset(m, 0, sizeof *m);
}

static void merge_reset(my_merge *m)
{
	m->n = 0;
	if (m->slots)
		memset(m->slots, 0, (size_t)m->nslots * sizeof *m->slots);
	strbuf_reset(&m->keys);
	strbuf_reset(&m->tuples);
	strbuf_reset(&m->texts);
}

/* ---- the key table -------------------------------------------------------------------------- */

static uint32_t hash_bytes(const char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

static bool key_equal(const my_merge *m, const my_merge_row *r, const char *key, size_t len)
{
	return r->key_len == len && memcmp(m->keys.data + r->key_off, key, len) == 0;
}

/* The row of the key, or -1; *slot is where a new one goes. */
static int find_key(const my_merge *m, const char *key, size_t len, uint32_t h, int *slot)
{
	int mask = m->nslots - 1;
	for (int i = (int)(h & (uint32_t)mask);; i = (i + 1) & mask) {
		int r = m->slots[i] - 1;
		if (r < 0) {
			*slot = i;
			return -1;
		}
		if (m->rows[r].hash == h && key_equal(m, &m->rows[r], key, len))
			return r;
	}
}

/* Room for one more row: the row array and a slot table at most half full. */
static int merge_room(my_merge *m)
{
	if (m->n == m->cap) {
		int cap = m->cap ? m->cap * 2 : 64;
		my_merge_row *p = realloc(m->rows, (size_t)cap * sizeof *p);
		if (p == NULL)
			return -1;
		m->rows = p;
		m->cap = cap;
	}
	if (2 * (m->n + 1) <= m->nslots)
		return 0;
	int nslots = m->nslots ? m->nslots * 2 : 256;
	int *slots = calloc((size_t)nslots, sizeof *slots);
	if (slots == NULL)
		return -1;
	for (int r = 0; r < m->n; r++) {
		int i = (int)(m->rows[r].hash & (uint32_t)(nslots - 1));
		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = r + 1;
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
	return 0;
}

/* ---- taking changes --------------------------------------------------------------------------- */

/* "42" or "(1, 'a')": the key columns of vals as SQL, into out. */
static int key_sql(my_apply *a, my_apply_table *t, const record_view *v, const record_value *vals, strbuf *out)
{
	int nkeys = relmsg_key_count(&t->rel), n = 0;
	strbuf_reset(out);
	if (nkeys > 1)
		strbuf_append_char(out, '(');
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!t->rel.cols[i].key)
			continue;
		if (vals[i].kind == RECORD_KIND_UNCHANGED || vals[i].kind == RECORD_KIND_NULL)
			return 0; /* not a key value to find a row by */
		strbuf_append(out, n++ ? ", " : "");
		if (my_apply_append_value(a, t, v, i, &vals[i], out) < 0)
			return -1;
	}
	if (nkeys > 1)
		strbuf_append_char(out, ')');
	return strbuf_failed(out) ? my_apply_oom(a) : 1;
}

/* One step of a key's history. */
typedef struct merge_step {
	record_op op;                 /* INSERT (the row is there after) or DELETE (it is not) */
	record_op first_op;           /* what it means for a key the merge does not hold yet */
	const record_value *vals;     /* the key (DELETE) or the whole new row (INSERT) */
	strbuf key;
	uint32_t hash;                /* of key */
} merge_step;

/* The merge row of the step's key, or -1 (*slot: where a new one goes); -2 failed. */
static int lookup(my_apply *a, my_merge *m, const merge_step *st, int *slot)
{
	if (merge_room(m) < 0) {
		my_apply_oom(a);
		return -2;
	}
	return find_key(m, st->key.data, st->key.len, st->hash, slot);
}

/* 1 when the step fits the merged state: a key the merge holds must be there for an
 * UPDATE or DELETE and not be there for an INSERT (exact mode; idempotent mode takes
 * anything); 0 when not, -1 failed. */
static int step_fits(my_apply *a, my_apply_table *t, const record_view *v, merge_step *st, bool idem)
{
	int rc = key_sql(a, t, v, st->vals, &st->key), slot;
	if (rc <= 0)
		return rc;
	st->hash = hash_bytes(st->key.data, st->key.len);
	int row = lookup(a, &t->merge, st, &slot);
	if (row < -1)
		return -1;
	if (row < 0 || idem)
		return 1;
	return t->merge.rows[row].present == (st->first_op != RECORD_OP_INSERT);
}

static int apply_step(my_apply *a, my_apply_table *t, const record_view *v, const merge_step *st, bool idem)
{
	my_merge *m = &t->merge;
	int slot, row = lookup(a, m, st, &slot);
	if (row < -1)
		return -1;
	my_merge_row *r;
	if (row < 0) {
		r = &m->rows[m->n];
		*r = (my_merge_row){.hash = st->hash,
				    .existed = st->first_op != RECORD_OP_INSERT, .exact = !idem, .first_op = st->first_op,
				    .key_off = m->keys.len, .key_len = st->key.len, .text_off = m->texts.len,
				    .first_position = v->hdr.position};
		strbuf_append_len(&m->keys, st->key.data, st->key.len);
		strbuf text = STRBUF_INIT;
		my_apply_key_text(a, t, st->vals, &text);
		strbuf_append_len(&m->texts, strbuf_str(&text), text.len);
		r->text_len = text.len;
		strbuf_free(&text);
		m->slots[slot] = ++m->n;
	} else {
		r = &m->rows[row];
	}
	r->last_position = v->hdr.position;
	r->present = st->op == RECORD_OP_INSERT;
	if (r->present) {
		r->tuple_off = m->tuples.len;
		if (my_apply_append_tuple(a, t, v, st->vals, &m->tuples) < 0)
			return -1;
		r->tuple_len = m->tuples.len - r->tuple_off;
	}
	return strbuf_failed(&m->keys) || strbuf_failed(&m->tuples) || strbuf_failed(&m->texts) ? my_apply_oom(a) : 0;
}

static bool row_complete(const my_apply_table *t, const record_value *vals)
{
	for (int i = 0; i < t->rel.ncols; i++)
		if (vals[i].kind == RECORD_KIND_UNCHANGED)
			return false;
	return true;
}

/* A change as at most two steps: an UPDATE that moves the key deletes the old key's row
 * and inserts the new one; otherwise an UPDATE replaces the row. 0: not mergeable. */
static int change_steps(const my_apply *a, const my_apply_table *t, const record_view *v, merge_step st[2])
{
	record_op op = v->hdr.op;
	if (op == RECORD_OP_DELETE) {
		if (v->hdr.old_image == RECORD_IMAGE_NONE)
			return 0;
		st[0] = (merge_step){.op = RECORD_OP_DELETE, .first_op = RECORD_OP_DELETE, .vals = a->oldv};
		return 1;
	}
	if (!v->hdr.has_new || !row_complete(t, a->newv))
		return 0; /* an unchanged TOAST value: the row cannot be written whole */
	bool moved = false;
	for (int i = 0; op == RECORD_OP_UPDATE && v->hdr.old_image != RECORD_IMAGE_NONE && i < t->rel.ncols; i++)
		moved |= t->rel.cols[i].key && !my_apply_same_value(&a->oldv[i], &a->newv[i]);
	int n = 0;
	if (moved)
		st[n++] = (merge_step){.op = RECORD_OP_DELETE, .first_op = RECORD_OP_UPDATE, .vals = a->oldv};
	/* the new key of a moved row was not there before */
	st[n++] = (merge_step){.op = RECORD_OP_INSERT, .first_op = moved ? RECORD_OP_INSERT : op, .vals = a->newv};
	return n;
}

int my_merge_take(my_apply *a, my_apply_table *t, const record_view *v, bool idempotent)
{
	merge_step st[2];
	int n = change_steps(a, t, v, st), rc = n > 0 ? 1 : 0;
	for (int i = 0; i < n; i++)
		st[i].key = (strbuf)STRBUF_INIT;
	for (int i = 0; i < n && rc > 0; i++)
		rc = step_fits(a, t, v, &st[i], idempotent);
	for (int i = 0; i < n && rc > 0; i++)
		if (apply_step(a, t, v, &st[i], idempotent) < 0)
			rc = -1;
	for (int i = 0; i < n; i++)
		strbuf_free(&st[i].key);
	if (rc > 0 && (t->merge.n >= MERGE_KEYS_MAX || t->merge.tuples.len >= MERGE_BYTES_MAX) &&
	    my_merge_flush(a, t) < 0)
		return -1;
	return rc;
}

/* ---- writing them ------------------------------------------------------------------------------ */

/* A view of bytes [off, off + len) of sb, for my_packet_row's key text. */
static strbuf slice(const strbuf *sb, size_t off, size_t len)
{
	return (strbuf){.data = sb->data ? sb->data + off : NULL, .len = len, .cap = len, .failed = false};
}

/* "`id`" or "(`a`, `b`)": what the key values are compared with. */
static void append_key_columns(const my_apply_table *t, strbuf *sql)
{
	int nkeys = relmsg_key_count(&t->rel), n = 0;
	if (nkeys > 1)
		strbuf_append_char(sql, '(');
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!t->rel.cols[i].key)
			continue;
		strbuf_append(sql, n++ ? ", " : "");
		sql_append_mysql_ident(sql, t->rel.cols[i].name);
	}
	if (nkeys > 1)
		strbuf_append_char(sql, ')');
}

static my_stmt *open_delete(my_apply *a, const my_apply_table *t, bool exact)
{
	my_apply_close_insert(a);
	my_stmt *s = my_packet_stmt(a, RECORD_OP_DELETE, t, exact ? MY_EXPECT_AFFECTED : MY_EXPECT_ANY, 0);
	if (s == NULL)
		return NULL;
	s->merged = true;
	strbuf_appendf(&a->pk.sql, "DELETE FROM %s WHERE ", t->qname);
	append_key_columns(t, &a->pk.sql);
	strbuf_append(&a->pk.sql, " IN (");
	return s;
}

static int close_delete(my_apply *a, my_stmt *s)
{
	strbuf_append_char(&a->pk.sql, ')');
	s->expect_rows = (uint64_t)s->nrows;
	return strbuf_failed(&a->pk.sql) ? my_apply_oom(a) : my_apply_send_if_full(a);
}

/* Row r into statement s: bytes [off, off + len) of src (its key in a DELETE, its values
 * in an INSERT), with the position and change that messages name. */
static int add_row(my_apply *a, my_stmt *s, const my_merge *m, const my_merge_row *r, const strbuf *src, size_t off,
		   size_t len)
{
	bool deleting = s->op == RECORD_OP_DELETE;
	strbuf text = slice(&m->texts, r->text_off, r->text_len);
	my_row *pr = my_packet_row(a, s, deleting ? r->first_position : r->last_position, &text);
	if (pr == NULL)
		return my_apply_oom(a);
	if (deleting)
		pr->op = r->first_op;
	strbuf_append_len(&a->pk.sql, src->data + off, len);
	pr->len = a->pk.sql.len - pr->start;
	return 0;
}

/* Exact: one DELETE of the keys whose first change found a row, which must take them
 * all. Idempotent: one of every key, whatever it takes (the INSERT that follows then
 * never meets a row the snapshot already had). */
static int write_deletes(my_apply *a, my_apply_table *t, bool exact)
{
	my_merge *m = &t->merge;
	my_stmt *s = NULL;
	for (int i = 0; i < m->n; i++) {
		const my_merge_row *r = &m->rows[i];
		if (exact ? !(r->exact && r->existed) : r->exact)
			continue;
		if (s != NULL && s->nrows >= DELETE_KEYS_MAX) {
			if (close_delete(a, s) < 0)
				return -1;
			s = NULL;
		}
		if (s != NULL)
			strbuf_append(&a->pk.sql, ", ");
		else if ((s = open_delete(a, t, exact)) == NULL)
			return my_apply_oom(a);
		if (add_row(a, s, m, r, &m->keys, r->key_off, r->key_len) < 0)
			return -1;
	}
	return s ? close_delete(a, s) : 0;
}

/* The rows there at the end, in multi-row INSERTs that must add each one. */
static int write_inserts(my_apply *a, my_apply_table *t)
{
	my_merge *m = &t->merge;
	my_stmt *s = NULL;
	for (int i = 0; i < m->n; i++) {
		const my_merge_row *r = &m->rows[i];
		if (!r->present)
			continue;
		if (s != NULL && (s->nrows >= MY_APPLY_INSERT_ROWS || a->pk.sql.len - s->start >= MY_APPLY_PACKET_BYTES)) {
			my_apply_close_insert(a);
			if (my_apply_send_if_full(a) < 0)
				return -1;
			s = NULL;
		}
		if (s != NULL)
			strbuf_append(&a->pk.sql, ", ");
		else if ((s = my_apply_open_insert(a, t, false)) == NULL)
			return my_apply_oom(a);
		if (add_row(a, s, m, r, &m->tuples, r->tuple_off, r->tuple_len) < 0)
			return -1;
	}
	if (s != NULL)
		my_apply_close_insert(a);
	return strbuf_failed(&a->pk.sql) ? my_apply_oom(a) : my_apply_send_if_full(a);
}

int my_merge_flush(my_apply *a, my_apply_table *t)
{
	if (t->merge.n == 0)
		return 0;
	a->stats.merged_keys += (uint64_t)t->merge.n;
	int rc = write_deletes(a, t, true);
	if (rc == 0)
		rc = write_deletes(a, t, false);
	if (rc == 0)
		rc = write_inserts(a, t);
	merge_reset(&t->merge);
	return rc;
}

int my_merge_flush_all(my_apply *a)
{
	for (int i = 0; i < a->n_tables; i++)
		if (my_merge_flush(a, a->tables[i]) < 0)
			return -1;
	return 0;
}

int my_merge_find_missing(my_apply *a, const my_stmt *s)
{
	/* the DELETE took what it found: only the state before it tells which key is missing */
	mysql_query(a->conn, "ROLLBACK");
	a->target_open = false;
	strbuf q = STRBUF_INIT;
	int missing = -1;
	for (int k = 0; k < s->nrows && missing < 0; k++) {
		const my_row *r = &a->pk.rows[s->first_row + k];
		strbuf_reset(&q);
		strbuf_appendf(&q, "SELECT 1 FROM %s WHERE ", s->table->qname);
		append_key_columns(s->table, &q);
		strbuf_append(&q, " = ");
		strbuf_append_len(&q, a->pk.sql.data + r->start, r->len);
		strbuf_append(&q, " LIMIT 1");
		if (strbuf_failed(&q) || mysql_real_query(a->conn, q.data, (unsigned long)q.len) != 0)
			break;
		MYSQL_RES *res = mysql_store_result(a->conn);
		if (res == NULL)
			break;
		if (mysql_num_rows(res) == 0)
			missing = s->first_row + k;
		mysql_free_result(res);
	}
	strbuf_free(&q);
	return missing;
}
