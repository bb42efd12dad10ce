/* The MySQL apply engine: session and progress row, table descriptions, source
 * transaction boundaries, skipping what is already applied, and commits. Changes become
 * statements in my_apply_sql.c. */
#include "workers/my_apply_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/my_target.h"

/* ---- errors ------------------------------------------------------------------------------ */

void my_apply_format_position(char *buf, size_t size, uint64_t position)
{
	snprintf(buf, size, "%X/%X", (unsigned)(position >> 32), (unsigned)position);
}

/* Fails the engine (once: the first failure is the one reported) and rolls the target
 * transaction back. */
int my_apply_fail(my_apply *a, const my_apply_table *t, const char *fmt, ...)
{
	if (!a->failed) {
		char buf[1024];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, sizeof buf, fmt, ap);
		va_end(ap);
		strbuf_reset(&a->error);
		strbuf_append(&a->error, buf);
		a->failed = true;
		a->failed_table = t ? t->sname : NULL;
	}
	if (a->target_open) {
		bool transient = my_target_transient();
		mysql_query(a->conn, "ROLLBACK"); /* the failure is what gets reported */
		my_target_set_transient(transient);
		a->target_open = false;
	}
	return -1;
}

static int report(my_apply *a, char **err)
{
	if (err)
		*err = strdup(a->error.len ? a->error.data : "apply failed");
	return -1;
}

static int refuse(my_apply *a, char **err)
{
	if (err && asprintf(err, "apply stopped after an earlier error: %s", strbuf_str(&a->error)) < 0)
		*err = NULL;
	return -1;
}

/* ---- opening ----------------------------------------------------------------------------- */

static void append_progress_where(my_apply *a, strbuf *sb)
{
	strbuf_append(sb, " WHERE `task` = ");
	my_target_append_literal(sb, a->conn, a->task, strlen(a->task));
	strbuf_appendf(sb, " AND `worker` = %d", a->worker);
}

static int read_position(my_apply *a, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "INSERT IGNORE INTO `" MY_TARGET_DB "`.`apply_progress` (`task`, `worker`, `position`) VALUES (");
	my_target_append_literal(&sb, a->conn, a->task, strlen(a->task));
	strbuf_appendf(&sb, ", %d, 0)", a->worker);
	int rc = strbuf_failed(&sb) ? -1 : my_target_exec(a->conn, sb.data, "target: creating the progress row", err);
	strbuf_reset(&sb);
	strbuf_append(&sb, "SELECT `position` FROM `" MY_TARGET_DB "`.`apply_progress`");
	append_progress_where(a, &sb);
	MYSQL_RES *res = rc == 0 && !strbuf_failed(&sb)
				 ? my_target_query(a->conn, sb.data, "target: reading the progress row", err)
				 : NULL;
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	bool ok = row != NULL && row[0] != NULL;
	if (ok)
		a->committed = a->complete = strtoull(row[0], NULL, 10);
	mysql_free_result(res);
	if (!ok && err && asprintf(err, "target: no progress row for task %s worker %d", a->task, a->worker) < 0)
		*err = NULL;
	return ok ? 0 : -1;
}

my_apply *my_apply_open(MYSQL *conn, const char *task, int worker, engine_kind source, invalid_values_kind invalid,
			char **err)
{
	if (err)
		*err = NULL;
	my_apply *a = calloc(1, sizeof *a);
	if (a == NULL || (a->task = strdup(task)) == NULL) {
		free(a);
		if (err)
			*err = strdup("out of memory");
		return NULL;
	}
	a->conn = conn;
	a->worker = worker;
	a->source = source;
	a->invalid = invalid;
	my_packet_init(&a->pk);
	strbuf_init(&a->error);
	strbuf_init(&a->value);
	if (my_target_session(conn, err) < 0 || my_target_bookkeeping_init(conn, err) < 0 ||
	    read_position(a, err) < 0) {
		my_apply_close(a);
		return NULL;
	}
	return a;
}

/* ---- tables ------------------------------------------------------------------------------ */

static my_apply_table *find_table(const my_apply *a, uint32_t id)
{
	for (int i = 0; i < a->n_tables; i++)
		if (a->tables[i]->table_id == id)
			return a->tables[i];
	return NULL;
}

static my_apply_table *get_table(my_apply *a, uint32_t id)
{
	my_apply_table *t = find_table(a, id);
	if (t != NULL)
		return t;
	if (a->n_tables == a->cap_tables) {
		int cap = a->cap_tables ? a->cap_tables * 2 : 16;
		my_apply_table **p = realloc(a->tables, (size_t)cap * sizeof *p);
		if (p == NULL)
			return NULL;
		a->tables = p;
		a->cap_tables = cap;
	}
	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->table_id = id;
	a->tables[a->n_tables++] = t;
	return t;
}

static void table_clear(my_apply_table *t)
{
	if (t->described)
		relmsg_free(&t->rel);
	free(t->qname);
	free(t->sname);
	free(t->cols);
	my_merge_free(&t->merge);
	t->qname = t->sname = NULL;
	t->cols = NULL;
	t->described = false;
}

static int scratch_fit(my_apply *a, int ncols)
{
	if (ncols <= a->scratch_cols)
		return 0;
	record_value *nv = realloc(a->newv, (size_t)ncols * sizeof *nv);
	if (nv)
		a->newv = nv;
	record_value *ov = realloc(a->oldv, (size_t)ncols * sizeof *ov);
	if (ov)
		a->oldv = ov;
	if (!nv || !ov)
		return -1;
	a->scratch_cols = ncols;
	return 0;
}

/* Installs a description, taking over rel. Waiting statements were built with the old
 * one and stay valid: they are complete SQL text. */
static int describe(my_apply *a, my_apply_table *t, relmsg *rel)
{
	strbuf q = STRBUF_INIT, sn = STRBUF_INIT;
	sql_append_mysql_qualified(&q, rel->target_schema, rel->target_name);
	sql_append_pg_qualified(&sn, rel->target_schema, rel->target_name);
	my_out_col *cols = calloc((size_t)rel->ncols + 1, sizeof *cols);
	char *qname = strbuf_detach(&q), *sname = strbuf_detach(&sn);
	if (cols == NULL || qname == NULL || sname == NULL || scratch_fit(a, rel->ncols) < 0) {
		free(cols);
		free(qname);
		free(sname);
		relmsg_free(rel);
		return -1;
	}
	for (int i = 0; i < rel->ncols; i++) {
		if (a->source == ENGINE_MYSQL)
			my_out_col_from_mysql(&cols[i], rel->cols[i].type_name);
		else
			my_out_col_from_pg(&cols[i], rel->cols[i].type_oid, rel->cols[i].typmod, rel->cols[i].type_name);
	}
	if (a->pk.insert_table == t)
		my_apply_close_insert(a); /* its ON DUPLICATE KEY clause names the old columns */
	if (t->described && my_merge_flush(a, t) < 0) { /* rows of the old columns */
		free(cols);
		free(qname);
		free(sname);
		relmsg_free(rel);
		return -1;
	}
	table_clear(t);
	t->rel = *rel;
	memset(rel, 0, sizeof *rel);
	t->qname = qname;
	t->sname = sname;
	t->cols = cols;
	/* replica identity FULL may mark every column as key: then no column set is unique */
	int keys = relmsg_key_count(&t->rel);
	t->keyed = keys > 0 && !(t->rel.replident == 'f' && keys == t->rel.ncols);
	t->mergeable = my_merge_eligible(t) && my_merge_target_fits(a, t);
	t->described = true;
	return 0;
}

/* ---- records ----------------------------------------------------------------------------- */

static int on_relation(my_apply *a, const record_view *v)
{
	relmsg rel;
	const char *what = NULL;
	if (relmsg_decode(v, &rel, &what) < 0) {
		my_target_set_transient(false);
		return my_apply_fail(a, NULL, "RELATION record: %s", what);
	}
	my_apply_table *t = get_table(a, rel.table_id);
	if (t == NULL || describe(a, t, &rel) < 0) {
		if (t == NULL)
			relmsg_free(&rel);
		if (a->failed)
			return -1; /* writing the merged rows failed: that is the report */
		my_target_set_transient(false);
		return my_apply_fail(a, NULL, "out of memory");
	}
	return 0;
}

static int on_begin(my_apply *a, const record_view *v)
{
	char pos[32];
	my_apply_format_position(pos, sizeof pos, v->hdr.position);
	my_target_set_transient(false);
	if (a->in_source_txn)
		return my_apply_fail(a, NULL, "BEGIN at source position %s inside an open source transaction", pos);
	a->skipping = v->hdr.position <= a->committed;
	if (!a->skipping && v->hdr.position <= a->complete)
		return my_apply_fail(a, NULL, "source position went backwards (BEGIN at %s after a later transaction)", pos);
	a->in_source_txn = true;
	a->txn_position = v->hdr.position;
	return 0;
}

static int commit_target(my_apply *a);

static int on_commit(my_apply *a, const record_view *v)
{
	char pos[32];
	my_apply_format_position(pos, sizeof pos, v->hdr.position);
	my_target_set_transient(false);
	if (!a->in_source_txn)
		return my_apply_fail(a, NULL, "COMMIT at source position %s without BEGIN", pos);
	a->in_source_txn = false;
	if (a->skipping) {
		a->skipping = false;
		return 0;
	}
	if (v->hdr.position != a->txn_position)
		return my_apply_fail(a, NULL, "COMMIT at source position %s does not match its BEGIN", pos);
	a->complete = v->hdr.position;
	a->pending_txns++;
	return a->flush_deferred ? commit_target(a) : 0;
}

static int ensure_txn(my_apply *a)
{
	if (a->target_open)
		return 0;
	if (my_apply_queue_command(a, "START TRANSACTION", MY_EXPECT_ANY, "START TRANSACTION") < 0)
		return -1;
	a->target_open = true;
	return 0;
}

static int on_change(my_apply *a, const record_view *v)
{
	char pos[32];
	my_apply_format_position(pos, sizeof pos, v->hdr.position);
	my_target_set_transient(false);
	if (!a->in_source_txn)
		return my_apply_fail(a, NULL, "change at source position %s outside a source transaction", pos);
	if (a->skipping)
		return 0;
	if (v->hdr.position != a->txn_position)
		return my_apply_fail(a, NULL, "change at source position %s inside another source transaction", pos);
	my_apply_table *t = find_table(a, v->hdr.table_id);
	if (t == NULL || !t->described)
		return my_apply_fail(a, NULL, "%s at source position %s for table id %" PRIu32
				     ", which no RELATION record described", record_op_name(v->hdr.op), pos,
				     v->hdr.table_id);
	if (ensure_txn(a) < 0)
		return -1;
	int rc = v->hdr.op == RECORD_OP_TRUNCATE ? my_apply_queue_truncate(a, t, v) : my_apply_queue_change(a, t, v);
	if (rc == 0)
		a->pending++;
	return rc < 0 ? -1 : my_apply_send_if_full(a);
}

int my_apply_record(my_apply *a, const void *rec, size_t len, char **err)
{
	if (a->failed)
		return refuse(a, err);
	record_view v;
	record_error re;
	int rc;
	if (record_decode(rec, len, &v, &re) < 0) {
		my_target_set_transient(false);
		rc = my_apply_fail(a, NULL, "undecodable record (byte %zu: %s)", re.offset, re.what);
	} else if (v.hdr.op == RECORD_OP_RELATION) {
		rc = on_relation(a, &v);
	} else if (v.hdr.op == RECORD_OP_BEGIN) {
		rc = on_begin(a, &v);
	} else if (v.hdr.op == RECORD_OP_COMMIT) {
		rc = on_commit(a, &v);
	} else {
		rc = on_change(a, &v);
	}
	return rc < 0 ? report(a, err) : 0;
}

/* ---- commits ----------------------------------------------------------------------------- */

/* The progress row goes last in the packet; COMMIT follows once every result of the
 * packet was checked, so it only runs when every change was taken as expected. */
static int commit_target(my_apply *a)
{
	a->flush_deferred = false;
	if (!a->target_open && a->complete == a->committed)
		return a->pk.n > 0 ? my_apply_send(a) : 0;
	if (ensure_txn(a) < 0 || my_merge_flush_all(a) < 0)
		return -1;
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "UPDATE `" MY_TARGET_DB "`.`apply_progress` SET `position` = %" PRIu64
		       ", `updated_at` = CURRENT_TIMESTAMP(6)", a->complete);
	append_progress_where(a, &sb);
	int rc = strbuf_failed(&sb) ? my_apply_fail(a, NULL, "out of memory")
				    : my_apply_queue_command(a, sb.data, MY_EXPECT_MATCHED_ONE, "updating the progress row");
	strbuf_free(&sb);
	/* COMMIT in a packet of its own: it must not run before every result was checked */
	if (rc == 0)
		rc = my_apply_send(a);
	if (rc == 0)
		rc = my_apply_queue_command(a, "COMMIT", MY_EXPECT_ANY, "COMMIT");
	if (rc == 0)
		rc = my_apply_send(a);
	if (rc < 0)
		return -1;
	a->target_open = false;
	a->committed = a->complete;
	for (int i = 0; i < a->n_tables; i++) {
		a->tables[i]->invalid_committed += a->tables[i]->invalid_pending;
		a->tables[i]->invalid_pending = 0;
	}
	a->stats.changes += a->pending;
	a->stats.transactions += a->pending_txns;
	a->stats.commits++;
	a->pending = 0;
	a->pending_txns = 0;
	return 0;
}

int my_apply_flush(my_apply *a, char **err)
{
	if (a->failed)
		return refuse(a, err);
	if (a->in_source_txn && !a->skipping) {
		a->flush_deferred = true;
		return 1;
	}
	return commit_target(a) < 0 ? report(a, err) : 0;
}

/* ---- state and teardown ------------------------------------------------------------------ */

uint64_t my_apply_position(const my_apply *a) { return a->committed; }
uint64_t my_apply_pending_changes(const my_apply *a) { return a->pending; }
bool my_apply_in_source_txn(const my_apply *a) { return a->in_source_txn; }
const char *my_apply_failed_table(const my_apply *a) { return a->failed_table; }
void my_apply_get_stats(const my_apply *a, my_apply_stats *out) { *out = a->stats; }

uint64_t my_apply_take_invalid(my_apply *a, uint32_t table_id)
{
	my_apply_table *t = find_table(a, table_id);
	uint64_t n = t ? t->invalid_committed : 0;
	if (t)
		t->invalid_committed = 0;
	return n;
}

int my_apply_set_idempotent(my_apply *a, uint32_t table_id, uint64_t until_position)
{
	my_apply_table *t = get_table(a, table_id);
	if (t == NULL)
		return -1;
	t->idempotent_until = until_position;
	return 0;
}

void my_apply_close(my_apply *a)
{
	if (a == NULL)
		return;
	if (a->target_open)
		mysql_query(a->conn, "ROLLBACK"); /* uncommitted work is redone from the progress row */
	for (int i = 0; i < a->n_tables; i++) {
		table_clear(a->tables[i]);
		free(a->tables[i]);
	}
	free(a->tables);
	my_packet_free(&a->pk);
	strbuf_free(&a->error);
	strbuf_free(&a->value);
	free(a->newv);
	free(a->oldv);
	free(a->task);
	free(a);
}
