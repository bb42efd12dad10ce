/* Changes into SQL statements for MySQL/MariaDB, gathered in multi-statement packets, and
 * the check of every statement's result (see workers/my_apply.h). */
#include "workers/my_apply_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/my_target.h"

#define KEY_TEXT_MAX 80     /* bytes of one key value shown in messages */
#define INVALID_LOGGED_MAX 20

/* ---- the packet ----------------------------------------------------------------------------- */

static const char *op_label(record_op op)
{
	switch (op) {
	case RECORD_OP_INSERT: return "INSERT";
	case RECORD_OP_UPDATE: return "UPDATE";
	case RECORD_OP_DELETE: return "DELETE";
	case RECORD_OP_TRUNCATE: return "TRUNCATE";
	default: return record_op_name(op);
	}
}

void my_packet_init(my_packet *pk)
{
	memset(pk, 0, sizeof *pk);
	strbuf_init(&pk->sql);
	strbuf_init(&pk->keys);
}

void my_packet_free(my_packet *pk)
{
	strbuf_free(&pk->sql);
	strbuf_free(&pk->keys);
	free(pk->stmts);
	free(pk->rows);
	memset(pk, 0, sizeof *pk);
}

static void packet_reset(my_packet *pk)
{
	strbuf_reset(&pk->sql);
	strbuf_reset(&pk->keys);
	pk->n = pk->nrows = 0;
	pk->insert_open = false;
	pk->insert_table = NULL;
}

int my_apply_oom(my_apply *a)
{
	my_target_set_transient(false);
	return my_apply_fail(a, NULL, "out of memory");
}

/* A new statement: its separator written, its text to follow. */
my_stmt *my_packet_stmt(my_apply *a, record_op op, const my_apply_table *t, my_expect expect, uint64_t rows)
{
	my_packet *pk = &a->pk;
	if (pk->n == pk->cap) {
		int cap = pk->cap ? pk->cap * 2 : 64;
		my_stmt *p = realloc(pk->stmts, (size_t)cap * sizeof *p);
		if (p == NULL)
			return NULL;
		pk->stmts = p;
		pk->cap = cap;
	}
	if (pk->n > 0)
		strbuf_append(&pk->sql, ";\n");
	my_stmt *s = &pk->stmts[pk->n++];
	*s = (my_stmt){.op = op, .table = t, .expect = expect, .expect_rows = rows, .start = pk->sql.len,
		       .first_row = pk->nrows, .nrows = 0};
	return s;
}

/* A row of the statement s (the last one): its source position and key text. */
my_row *my_packet_row(my_apply *a, my_stmt *s, uint64_t position, const strbuf *key)
{
	my_packet *pk = &a->pk;
	if (pk->nrows == pk->cap_rows) {
		int cap = pk->cap_rows ? pk->cap_rows * 2 : 256;
		my_row *p = realloc(pk->rows, (size_t)cap * sizeof *p);
		if (p == NULL)
			return NULL;
		pk->rows = p;
		pk->cap_rows = cap;
	}
	my_row *r = &pk->rows[pk->nrows++];
	*r = (my_row){.start = pk->sql.len, .position = position, .key_off = pk->keys.len, .key_len = key->len};
	strbuf_append_len(&pk->keys, strbuf_str(key), key->len);
	s->nrows++;
	return r;
}

/* Ends an open multi-row INSERT: an upsert gets its ON DUPLICATE KEY UPDATE clause. */
void my_apply_close_insert(my_apply *a)
{
	my_packet *pk = &a->pk;
	if (!pk->insert_open)
		return;
	pk->insert_open = false;
	my_stmt *s = &pk->stmts[pk->n - 1];
	s->expect_rows = s->expect == MY_EXPECT_AFFECTED ? (uint64_t)s->nrows : 0;
	if (!pk->insert_upsert)
		return;
	const my_apply_table *t = pk->insert_table;
	s->suffix_start = pk->sql.len;
	strbuf_append(&pk->sql, " ON DUPLICATE KEY UPDATE ");
	int n = 0;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (t->rel.cols[i].key && i + 1 < t->rel.ncols)
			continue; /* keys equal by definition; at least one assignment is written */
		strbuf_append(&pk->sql, n++ ? ", " : "");
		sql_append_mysql_ident(&pk->sql, t->rel.cols[i].name);
		strbuf_append(&pk->sql, " = VALUES(");
		sql_append_mysql_ident(&pk->sql, t->rel.cols[i].name);
		strbuf_append_char(&pk->sql, ')');
	}
}

int my_apply_queue_command(my_apply *a, const char *sql, my_expect expect, const char *what)
{
	my_apply_close_insert(a);
	my_stmt *s = my_packet_stmt(a, 0, NULL, expect, 1);
	if (s == NULL)
		return my_apply_oom(a);
	s->what = what;
	strbuf_append(&a->pk.sql, sql);
	return strbuf_failed(&a->pk.sql) ? my_apply_oom(a) : 0;
}

/* ---- values ---------------------------------------------------------------------------------- */

/* Value i of a change as an SQL literal into sb; -1 when the task refuses an invalid one. */
int my_apply_append_value(my_apply *a, my_apply_table *t, const record_view *v, int i,
			const record_value *val, strbuf *sb)
{
	char why[200];
	my_out_form f = my_out_convert(&t->cols[i], val, &a->value, why, sizeof why);
	if (f == MY_OUT_INVALID) {
		char pos[32];
		my_apply_format_position(pos, sizeof pos, v->hdr.position);
		if (a->invalid == INVALID_VALUES_ERROR) {
			my_target_set_transient(false);
			return my_apply_fail(a, t, "table %s, column %s: %s at source position %s: %s (invalid_values = "
					     "error; set it to null or substitute to write such values)", t->qname,
					     t->rel.cols[i].name, op_label(v->hdr.op), pos, why);
		}
		f = a->invalid == INVALID_VALUES_NULL ? MY_OUT_NULL : my_out_substitute(&t->cols[i], val, &a->value);
		t->invalid_pending++;
		if (a->stats.invalid++ < INVALID_LOGGED_MAX)
			log_warning("table %s, column %s at source position %s: %s: written as %s", t->qname,
				    t->rel.cols[i].name, pos, why, f == MY_OUT_NULL ? "NULL" : strbuf_str(&a->value));
	}
	my_out_append_sql(sb, f, strbuf_str(&a->value), a->value.len);
	return 0;
}

/* "id=42" (the key columns of the values that find the row) for messages. */
void my_apply_key_text(my_apply *a, const my_apply_table *t, const record_value *m, strbuf *out)
{
	char why[64];
	strbuf_reset(out);
	for (int i = 0, n = 0; i < t->rel.ncols && out->len < 200; i++) {
		if ((t->keyed && !t->rel.cols[i].key) || (!t->keyed && n >= 3) || m[i].kind == RECORD_KIND_UNCHANGED)
			continue;
		my_out_form f = my_out_convert(&t->cols[i], &m[i], &a->value, why, sizeof why);
		strbuf_appendf(out, "%s%s=", n++ ? ", " : "", t->rel.cols[i].name);
		if (f == MY_OUT_NULL)
			strbuf_append(out, "NULL");
		else if (f == MY_OUT_BINARY)
			strbuf_appendf(out, "(%zu bytes)", a->value.len);
		else
			strbuf_appendf(out, "%.*s", a->value.len > KEY_TEXT_MAX ? KEY_TEXT_MAX : (int)a->value.len,
				       strbuf_str(&a->value));
	}
	if (!t->keyed)
		strbuf_append(out, out->len ? ", ... (no key)" : "(no key)");
}

/* ---- statements ------------------------------------------------------------------------------- */

/* One row of values "(v1, v2)" of every column. */
int my_apply_append_tuple(my_apply *a, my_apply_table *t, const record_view *v, const record_value *vals,
			  strbuf *sql)
{
	strbuf_append_char(sql, '(');
	for (int i = 0; i < t->rel.ncols; i++) {
		if (i > 0)
			strbuf_append(sql, ", ");
		if (my_apply_append_value(a, t, v, i, &vals[i], sql) < 0)
			return -1;
	}
	strbuf_append_char(sql, ')');
	return 0;
}

/* Starts a multi-row INSERT of t taking rows: "INSERT INTO t (c1, c2) VALUES ". */
my_stmt *my_apply_open_insert(my_apply *a, const my_apply_table *t, bool upsert)
{
	my_packet *pk = &a->pk;
	my_apply_close_insert(a);
	my_stmt *s = my_packet_stmt(a, RECORD_OP_INSERT, t, upsert ? MY_EXPECT_ANY : MY_EXPECT_AFFECTED, 0);
	if (s == NULL)
		return NULL;
	strbuf_append(&pk->sql, "INSERT INTO ");
	strbuf_append(&pk->sql, t->qname);
	strbuf_append(&pk->sql, " (");
	for (int i = 0; i < t->rel.ncols; i++) {
		strbuf_append(&pk->sql, i ? ", " : "");
		sql_append_mysql_ident(&pk->sql, t->rel.cols[i].name);
	}
	strbuf_append(&pk->sql, ") VALUES ");
	s->prefix_len = pk->sql.len - s->start;
	pk->insert_open = true;
	pk->insert_table = t;
	pk->insert_upsert = upsert;
	return s;
}

/* An INSERT (upsert: ON DUPLICATE KEY UPDATE) of the new row, joining the open
 * multi-row INSERT of the table when there is one. */
static int queue_insert(my_apply *a, my_apply_table *t, const record_view *v, bool upsert, const strbuf *key)
{
	my_packet *pk = &a->pk;
	bool join = pk->insert_open && pk->insert_table == t && pk->insert_upsert == upsert &&
		    pk->stmts[pk->n - 1].nrows < MY_APPLY_INSERT_ROWS;
	my_stmt *s;
	if (join) {
		s = &pk->stmts[pk->n - 1];
		strbuf_append(&pk->sql, ", ");
	} else if ((s = my_apply_open_insert(a, t, upsert)) == NULL) {
		return my_apply_oom(a);
	}
	my_row *r = my_packet_row(a, s, v->hdr.position, key);
	if (r == NULL)
		return my_apply_oom(a);
	if (my_apply_append_tuple(a, t, v, a->newv, &pk->sql) < 0)
		return -1;
	r->len = pk->sql.len - r->start;
	return strbuf_failed(&pk->sql) || strbuf_failed(&pk->keys) ? my_apply_oom(a) : 0;
}

/* "`c` = v AND `d` IS NULL" over the columns that find the row: the key columns, or
 * every column with a value (keyless). */
static int append_match(my_apply *a, my_apply_table *t, const record_view *v, const record_value *m)
{
	strbuf *sql = &a->pk.sql;
	bool mariadb = mariadb_connection(a->conn);
	int n = 0;
	for (int i = 0; i < t->rel.ncols; i++) {
		if ((t->keyed && !t->rel.cols[i].key) || m[i].kind == RECORD_KIND_UNCHANGED)
			continue;
		strbuf_append(sql, n++ ? " AND " : " WHERE ");
		sql_append_mysql_ident(sql, t->rel.cols[i].name);
		if (m[i].kind == RECORD_KIND_NULL) {
			strbuf_append(sql, " IS NULL");
			continue;
		}
		/* a float column holds the single-precision value; MySQL's JSON compares as JSON */
		catalog_type_class cls = t->cols[i].cls;
		const char *cast = cls == CATALOG_TYPE_FLOAT4 ? "FLOAT"
				   : !mariadb && (cls == CATALOG_TYPE_JSON || cls == CATALOG_TYPE_JSONB ||
						  cls == CATALOG_TYPE_ARRAY) ? "JSON" : NULL;
		strbuf_append(sql, cast ? " = CAST(" : " = ");
		if (my_apply_append_value(a, t, v, i, &m[i], sql) < 0)
			return -1;
		if (cast)
			strbuf_appendf(sql, " AS %s)", cast);
	}
	if (n == 0) {
		my_target_set_transient(false);
		return my_apply_fail(a, t, "table %s: the record has no value to find the row by", t->qname);
	}
	if (!t->keyed)
		strbuf_append(sql, " LIMIT 1");
	return 0;
}

static int queue_update(my_apply *a, my_apply_table *t, const record_view *v, const record_value *match,
			bool moved, bool exact, const strbuf *key)
{
	my_apply_close_insert(a);
	my_stmt *s = my_packet_stmt(a, RECORD_OP_UPDATE, t, exact ? MY_EXPECT_MATCHED_ONE : MY_EXPECT_ANY, 1);
	my_row *r = s ? my_packet_row(a, s, v->hdr.position, key) : NULL;
	if (r == NULL)
		return my_apply_oom(a);
	strbuf *sql = &a->pk.sql;
	strbuf_appendf(sql, "UPDATE %s SET ", t->qname);
	int n = 0;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (a->newv[i].kind == RECORD_KIND_UNCHANGED || (t->keyed && t->rel.cols[i].key && !moved))
			continue;
		strbuf_append(sql, n++ ? ", " : "");
		sql_append_mysql_ident(sql, t->rel.cols[i].name);
		strbuf_append(sql, " = ");
		if (my_apply_append_value(a, t, v, i, &a->newv[i], sql) < 0)
			return -1;
	}
	for (int i = 0; n == 0 && i < t->rel.ncols; i++) {
		/* nothing but the key: an assignment that changes nothing still finds the row */
		sql_append_mysql_ident(sql, t->rel.cols[i].name);
		strbuf_append(sql, " = ");
		sql_append_mysql_ident(sql, t->rel.cols[i].name);
		n++;
	}
	if (append_match(a, t, v, match) < 0)
		return -1;
	r->len = sql->len - r->start;
	return strbuf_failed(sql) ? my_apply_oom(a) : 0;
}

static int queue_delete(my_apply *a, my_apply_table *t, const record_view *v, const record_value *match,
			bool exact, const strbuf *key)
{
	my_apply_close_insert(a);
	my_stmt *s = my_packet_stmt(a, RECORD_OP_DELETE, t, exact ? MY_EXPECT_AFFECTED : MY_EXPECT_ANY, 1);
	my_row *r = s ? my_packet_row(a, s, v->hdr.position, key) : NULL;
	if (r == NULL)
		return my_apply_oom(a);
	strbuf_appendf(&a->pk.sql, "DELETE FROM %s", t->qname);
	if (append_match(a, t, v, match) < 0)
		return -1;
	r->len = a->pk.sql.len - r->start;
	return strbuf_failed(&a->pk.sql) ? my_apply_oom(a) : 0;
}

/* ---- changes into statements ---------------------------------------------------------------- */

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

bool my_apply_same_value(const record_value *x, const record_value *y)
{
	if (x->kind != y->kind)
		return false;
	switch (x->kind) {
	case RECORD_KIND_NULL: case RECORD_KIND_UNCHANGED: return true;
	case RECORD_KIND_BOOL: return x->b == y->b;
	case RECORD_KIND_UINT64: return x->u64 == y->u64;
	case RECORD_KIND_FLOAT64: return memcmp(&x->f64, &y->f64, sizeof x->f64) == 0;
	case RECORD_KIND_DATE: return x->date == y->date;
	case RECORD_KIND_UUID: return memcmp(x->uuid, y->uuid, 16) == 0;
	case RECORD_KIND_DECIMAL: case RECORD_KIND_TEXT: case RECORD_KIND_BYTES: case RECORD_KIND_JSON:
	case RECORD_KIND_TEXTREP:
		return x->str.len == y->str.len && memcmp(x->str.ptr, y->str.ptr, x->str.len) == 0;
	default: return x->i64 == y->i64;
	}
}

/* Exact: UPDATE the row of the (old) key. Idempotent with a complete new row: upsert it
 * (deleting the old key's row first when the key changed), so a missing row is
 * inserted; with unchanged TOAST values the row cannot be built: UPDATE where present. */
static int plan_update(my_apply *a, my_apply_table *t, const record_view *v, bool idem, strbuf *key)
{
	if (!t->keyed) {
		if (v->hdr.old_image != RECORD_IMAGE_FULL) {
			my_target_set_transient(false);
			return my_apply_fail(a, t, "table %s: no old row image to find the row by (a table without a key "
					     "needs REPLICA IDENTITY FULL on the source)", t->qname);
		}
		my_apply_key_text(a, t, a->oldv, key);
		return queue_update(a, t, v, a->oldv, false, !idem, key);
	}
	bool moved = false, complete = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		complete &= a->newv[i].kind != RECORD_KIND_UNCHANGED;
		if (v->hdr.old_image != RECORD_IMAGE_NONE && t->rel.cols[i].key)
			moved |= !my_apply_same_value(&a->oldv[i], &a->newv[i]);
	}
	const record_value *match = moved ? a->oldv : a->newv;
	my_apply_key_text(a, t, match, key);
	if (idem && complete) {
		if (moved && queue_delete(a, t, v, a->oldv, false, key) < 0)
			return -1;
		my_apply_key_text(a, t, a->newv, key);
		return queue_insert(a, t, v, true, key);
	}
	return queue_update(a, t, v, match, moved, !idem, key);
}

int my_apply_queue_change(my_apply *a, my_apply_table *t, const record_view *v)
{
	int n = t->rel.ncols;
	if ((v->hdr.has_new && load_tuple(&v->new_tuple, a->newv, n) < 0) ||
	    (v->hdr.old_image != RECORD_IMAGE_NONE && load_tuple(&v->old_tuple, a->oldv, n) < 0)) {
		my_target_set_transient(false);
		return my_apply_fail(a, t, "table %s: the record's columns do not match the table's description (%d "
				     "columns)", t->qname, n);
	}
	bool idem = t->idempotent_until != 0 && v->hdr.position <= t->idempotent_until;
	if (t->mergeable) {
		int taken = my_merge_take(a, t, v, idem);
		if (taken != 0)
			return taken < 0 ? -1 : 0;
		if (my_merge_flush(a, t) < 0) /* what came before goes first */
			return -1;
	}
	strbuf key = STRBUF_INIT;
	int rc;
	if (v->hdr.op == RECORD_OP_INSERT) {
		my_apply_key_text(a, t, a->newv, &key);
		rc = queue_insert(a, t, v, idem && t->keyed, &key);
	} else if (v->hdr.op == RECORD_OP_UPDATE) {
		rc = plan_update(a, t, v, idem, &key);
	} else if (v->hdr.old_image == RECORD_IMAGE_NONE || (!t->keyed && v->hdr.old_image != RECORD_IMAGE_FULL)) {
		my_target_set_transient(false);
		rc = my_apply_fail(a, t, "table %s: DELETE without the old %s in the record", t->qname,
				   t->keyed ? "key" : "row (a table without a key needs REPLICA IDENTITY FULL)");
	} else {
		my_apply_key_text(a, t, a->oldv, &key);
		rc = queue_delete(a, t, v, a->oldv, !idem, &key);
	}
	strbuf_free(&key);
	return rc;
}

int my_apply_queue_truncate(my_apply *a, my_apply_table *t, const record_view *v)
{
	if (my_merge_flush(a, t) < 0)
		return -1;
	my_apply_close_insert(a);
	strbuf none = STRBUF_INIT;
	my_stmt *s = my_packet_stmt(a, RECORD_OP_TRUNCATE, t, MY_EXPECT_ANY, 1);
	my_row *r = s ? my_packet_row(a, s, v->hdr.position, &none) : NULL;
	if (r == NULL)
		return my_apply_oom(a);
	/* DELETE, not TRUNCATE: MySQL's TRUNCATE would commit the open transaction */
	strbuf_appendf(&a->pk.sql, "DELETE FROM %s", t->qname);
	r->len = a->pk.sql.len - r->start;
	return strbuf_failed(&a->pk.sql) ? my_apply_oom(a) : 0;
}

/* ---- sending and checking ---------------------------------------------------------------------- */


/* "UPDATE at source position 0/16B3F20, key id=42" */
static void describe_row(const my_apply *a, const my_stmt *s, int row, char *buf, size_t size)
{
	const my_row *r = &a->pk.rows[row];
	char pos[32];
	my_apply_format_position(pos, sizeof pos, r->position);
	if (r->key_len > 0)
		snprintf(buf, size, "%s at source position %s, key %.*s", op_label(r->op ? r->op : s->op), pos, (int)r->key_len,
			 a->pk.keys.data + r->key_off);
	else
		snprintf(buf, size, "%s at source position %s", op_label(r->op ? r->op : s->op), pos);
}

/* A multi-row INSERT failed: its rows one by one (the statements before it in the packet
 * were executed and stay; the failed statement left nothing) to name the row the server
 * refuses. The row's index, or -1 when none fails alone. */
static int find_refused_row(my_apply *a, const my_stmt *s, unsigned *err_no, char *msg, size_t size)
{
	const char *text = a->pk.sql.data;
	size_t suffix_len = s->suffix_start ? strlen(text + s->suffix_start) : 0;
	const char *suffix_end = s->suffix_start ? strstr(text + s->suffix_start, ";\n") : NULL;
	if (suffix_end)
		suffix_len = (size_t)(suffix_end - (text + s->suffix_start));
	strbuf one = STRBUF_INIT;
	int found = -1;
	for (int k = 0; k < s->nrows && found < 0; k++) {
		const my_row *r = &a->pk.rows[s->first_row + k];
		strbuf_reset(&one);
		strbuf_append_len(&one, text + s->start, s->prefix_len);
		strbuf_append_len(&one, text + r->start, r->len);
		if (s->suffix_start)
			strbuf_append_len(&one, text + s->suffix_start, suffix_len);
		if (strbuf_failed(&one))
			break;
		if (mysql_real_query(a->conn, one.data, (unsigned long)one.len) != 0) {
			*err_no = mysql_errno(a->conn);
			snprintf(msg, size, "%s", mysql_error(a->conn));
			found = s->first_row + k;
		}
	}
	strbuf_free(&one);
	return found;
}

/* Statement i failed on the server. */
static int statement_failed(my_apply *a, int i)
{
	const my_stmt *s = &a->pk.stmts[i];
	unsigned err_no = mysql_errno(a->conn);
	char msg[512], where[400];
	snprintf(msg, sizeof msg, "%s", mysql_error(a->conn));
	bool transient = my_target_errno_transient(err_no);
	my_target_set_transient(transient);
	if (s->op == 0)
		return my_apply_fail(a, NULL, "target: %s: %s (error %u)", s->what, msg, err_no);
	int row = s->first_row;
	if (s->op == RECORD_OP_INSERT && s->nrows > 1 && !transient) {
		unsigned e2 = err_no;
		int found = find_refused_row(a, s, &e2, msg, sizeof msg);
		if (found >= 0) {
			row = found;
			err_no = e2;
		}
	}
	describe_row(a, s, row, where, sizeof where);
	return my_apply_fail(a, s->table, "table %s: %s: %s (error %u)", s->table->qname, where, msg, err_no);
}

/* "Rows matched: N" of an UPDATE's info. */
static uint64_t rows_matched(MYSQL *conn)
{
	const char *info = mysql_info(conn);
	const char *p = info ? strstr(info, "Rows matched:") : NULL;
	return p ? strtoull(p + 13, NULL, 10) : 0;
}

/* Whether statement i's result is what it must be; false with why. */
static bool result_expected(my_apply *a, const my_stmt *s, char *why, size_t size)
{
	uint64_t got;
	switch (s->expect) {
	case MY_EXPECT_MATCHED_ONE:
		got = rows_matched(a->conn);
		if (got == 1)
			return true;
		snprintf(why, size, "%s", s->op == 0 ? "no row matched"
					  : s->table && s->table->keyed ? "no row with this key on the target"
									: "no row equal to the old row on the target");
		return false;
	case MY_EXPECT_AFFECTED:
		got = mysql_affected_rows(a->conn);
		if (got == s->expect_rows)
			return true;
		if (s->merged)
			snprintf(why, size, "%" PRIu64 " of the %" PRIu64 " keys its changes found on the source are on the "
				 "target", got, s->expect_rows);
		else if (s->op == RECORD_OP_DELETE)
			snprintf(why, size, "%s", s->table && s->table->keyed ? "no row with this key on the target"
										: "no row equal to the old row on the target");
		else
			snprintf(why, size, "%" PRIu64 " rows taken of %" PRIu64, got, s->expect_rows);
		return false;
	default: return true;
	}
}

static int mismatch(my_apply *a, int i, const char *why)
{
	const my_stmt *s = &a->pk.stmts[i];
	char where[400];
	my_target_set_transient(false);
	if (s->op == 0)
		return my_apply_fail(a, NULL, "target: %s: %s", s->what, why);
	if (s->merged) {
		int row = my_merge_find_missing(a, s);
		if (row >= 0)
			describe_row(a, s, row, where, sizeof where);
		else
			snprintf(where, sizeof where, "DELETE of %d merged keys", s->nrows);
		return my_apply_fail(a, s->table, "table %s: %s: no row with this key on the target (%s; exact mode: "
				     "the target does not hold what the source changed)", s->table->qname, where, why);
	}
	describe_row(a, s, s->first_row, where, sizeof where);
	return my_apply_fail(a, s->table, "table %s: %s: %s (exact mode: the target does not hold what the source "
			     "changed)", s->table->qname, where, why);
}

int my_apply_send(my_apply *a)
{
	my_apply_close_insert(a);
	my_packet *pk = &a->pk;
	if (pk->n == 0)
		return 0;
	if (strbuf_failed(&pk->sql))
		return my_apply_oom(a);
	a->stats.packets++;
	a->stats.statements += (uint64_t)pk->n;
	if (mysql_real_query(a->conn, pk->sql.data, (unsigned long)pk->sql.len) != 0)
		return statement_failed(a, 0);
	int bad = -1, i = 0;
	char why[200] = "";
	for (;; i++) {
		MYSQL_RES *res = mysql_store_result(a->conn);
		if (res != NULL)
			mysql_free_result(res);
		if (bad < 0 && i < pk->n && !result_expected(a, &pk->stmts[i], why, sizeof why))
			bad = i; /* the later results are read all the same: the connection must be idle */
		int next = mysql_next_result(a->conn);
		if (next < 0)
			break;
		if (next > 0)
			return bad >= 0 ? mismatch(a, bad, why) : statement_failed(a, i + 1);
	}
	if (bad >= 0)
		return mismatch(a, bad, why);
	if (i != pk->n - 1) {
		my_target_set_transient(false);
		return my_apply_fail(a, NULL, "target: %d results for %d statements", i + 1, pk->n);
	}
	packet_reset(pk);
	return 0;
}

int my_apply_send_if_full(my_apply *a)
{
	if (a->pk.sql.len >= MY_APPLY_PACKET_BYTES || a->pk.n >= MY_APPLY_PACKET_STMTS)
		return my_apply_send(a);
	return 0;
}
