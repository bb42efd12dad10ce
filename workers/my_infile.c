/* Loading one partition into MySQL/MariaDB: LOAD DATA LOCAL INFILE fed by a local-infile
 * handler from the row source, inside a transaction that also records the partition (see
 * workers/my_infile.h for the exactly-once rules).
 *
 * The handler's read callback pulls rows from the source only when the server asks for
 * more bytes, converts them and hands out at most what was asked, so memory stays at one
 * row plus the server's request size whatever the partition's size. The statement runs
 * as one client call: the callback looks at the interrupt hook about every 200 ms and
 * abandons the stream when asked to stop. */
#include "workers/my_infile.h"

#include <errmsg.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/typemap.h"
#include "workers/my_ddl.h"
#include "workers/my_target.h"
#include "workers/my_out.h"
#include "workers/pg_load_internal.h"

#define INTERRUPT_CHECK_MS 200
#define INVALID_LOGGED_MAX 5
#define WARNINGS_SHOWN 3

struct my_infile_copy {
	MYSQL *conn;
	const pg_load_table *lt;
	pg_load_partition part;
	my_infile_options opt;
	my_infile_source source;
	bool has_source, source_open;
	bool reload_whole, txn, done, interrupted;
	char label[300];
	strbuf target;        /* `db`.`name` */
	strbuf load_sql;
	my_out_col *cols;   /* per copied column */
	const char **names;   /* their target names, for messages */
	int ncols;
	int key_col;          /* copied column of a single-column key, for messages; -1 */
	strbuf pending;       /* converted rows not handed to the server yet */
	size_t pending_off;
	strbuf value;
	int64_t rows;
	int64_t invalid;
	char *error;          /* why the stream stopped: for the handler's error callback */
	uint64_t last_check_ms;
	bool has_position;
	uint64_t position;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int copy_fail(my_infile_copy *c, char **err, const char *what)
{
	char context[600];
	snprintf(context, sizeof context, "%s: target: %s", c->label, what);
	return my_target_fail(c->conn, context, err);
}

static int target_sql(my_infile_copy *c, const strbuf *sb, const char *what, char **err)
{
	if (strbuf_failed(sb)) {
		my_target_set_transient(false);
		return pg_load_fail(err, "%s: out of memory", c->label);
	}
	if (mysql_real_query(c->conn, sb->data, (unsigned long)sb->len) != 0)
		return copy_fail(c, err, what);
	MYSQL_RES *res = mysql_store_result(c->conn);
	if (res != NULL)
		mysql_free_result(res);
	return 0;
}

/* ---- the statement and the columns ------------------------------------------------------ */

static int build_columns(my_infile_copy *c)
{
	const catalog_table *t = c->lt->source;
	c->cols = calloc((size_t)t->n_columns + 1, sizeof *c->cols);
	c->names = calloc((size_t)t->n_columns + 1, sizeof *c->names);
	if (c->cols == NULL || c->names == NULL)
		return -1;
	strbuf sets = STRBUF_INIT;
	strbuf_append(&c->load_sql, "LOAD DATA LOCAL INFILE 'ferry' INTO TABLE ");
	strbuf_append_len(&c->load_sql, c->target.data, c->target.len);
	/* utf8mb4: MySQL 8's JSON refuses binary strings; bytes for BLOB columns pass as they are */
	strbuf_append(&c->load_sql, " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\'"
		      " LINES TERMINATED BY '\\n' (");
	for (int i = 0; i < t->n_columns; i++) {
		const char *name = catalog_map_column(c->opt.names, t, i);
		if (name == NULL || t->columns[i].generated_expr != NULL)
			continue;
		int k = c->ncols++;
		my_out_col_init(&c->cols[k], &t->columns[i].type);
		c->names[k] = name;
		if (c->lt->key_column == i || (t->n_key_columns == 1 && t->key_columns[0] == i))
			c->key_col = k;
		strbuf_append(&c->load_sql, k ? ", " : "");
		bool bit = (c->cols[k].cls == CATALOG_TYPE_BIT || c->cols[k].cls == CATALOG_TYPE_VARBIT) &&
			   c->cols[k].bits >= 1 && c->cols[k].bits <= 64;
		if (!bit) {
			sql_append_mysql_ident(&c->load_sql, name);
			continue;
		}
		/* LOAD DATA reads BIT columns as bytes: the number goes through a variable */
		strbuf_appendf(&c->load_sql, "@v%d", k);
		strbuf_append(&sets, sets.len ? ", " : " SET ");
		sql_append_mysql_ident(&sets, name);
		strbuf_appendf(&sets, " = CAST(@v%d AS UNSIGNED)", k);
	}
	strbuf_append_char(&c->load_sql, ')');
	strbuf_append_len(&c->load_sql, strbuf_str(&sets), sets.len);
	bool failed = strbuf_failed(&sets);
	strbuf_free(&sets);
	return failed || strbuf_failed(&c->load_sql) ? -1 : 0;
}

/* ---- rows into LOAD DATA fields --------------------------------------------------------- */

/* "id=42" or "row 17", for messages. */
static void row_key(my_infile_copy *c, const record_tuple *row, char *buf, size_t size)
{
	record_iter it;
	record_value v;
	char why[64];
	record_iter_init(&it, row);
	for (int i = 0; record_iter_next(&it, &v); i++) {
		if (i != c->key_col)
			continue;
		strbuf text = STRBUF_INIT;
		my_out_form f = my_out_convert(&c->cols[i], &v, &text, why, sizeof why);
		snprintf(buf, size, "%s=%.60s", c->names[i], f == MY_OUT_BINARY ? "(bytes)" : strbuf_str(&text));
		strbuf_free(&text);
		return;
	}
	snprintf(buf, size, "row %" PRId64, c->rows + 1);
}

/* The task's invalid_values for one value: the form to write, or INVALID to stop. */
static my_out_form invalid_value(my_infile_copy *c, int i, const record_value *v, const record_tuple *row,
				   const char *why)
{
	char key[100];
	row_key(c, row, key, sizeof key);
	if (c->opt.invalid == INVALID_VALUES_ERROR) {
		free(c->error);
		if (asprintf(&c->error, "%s, column %s, %s: %s (invalid_values = error; set it to null or "
			     "substitute to load such values)", c->label, c->names[i], key, why) < 0)
			c->error = NULL;
		return MY_OUT_INVALID;
	}
	my_out_form f = c->opt.invalid == INVALID_VALUES_NULL ? MY_OUT_NULL
								 : my_out_substitute(&c->cols[i], v, &c->value);
	if (c->invalid++ < INVALID_LOGGED_MAX)
		log_warning("%s, column %s, %s: %s: written as %s", c->label, c->names[i], key, why,
			    f == MY_OUT_NULL ? "NULL" : strbuf_str(&c->value));
	return f;
}

static int append_row(my_infile_copy *c, const record_tuple *row)
{
	record_iter it;
	record_value v;
	char why[200];
	if (row->ncols != (uint32_t)c->ncols) {
		free(c->error);
		c->error = NULL;
		if (asprintf(&c->error, "%s: a row of %u columns for %d", c->label, row->ncols, c->ncols) < 0)
			c->error = NULL;
		return -1;
	}
	record_iter_init(&it, row);
	for (int i = 0; record_iter_next(&it, &v); i++) {
		my_out_form f = my_out_convert(&c->cols[i], &v, &c->value, why, sizeof why);
		if (f == MY_OUT_INVALID && (f = invalid_value(c, i, &v, row, why)) == MY_OUT_INVALID)
			return -1;
		if (i > 0)
			strbuf_append_char(&c->pending, '\t');
		my_out_append_infile(&c->pending, f, strbuf_str(&c->value), c->value.len);
	}
	strbuf_append_char(&c->pending, '\n');
	c->rows++;
	return strbuf_failed(&c->pending) || strbuf_failed(&c->value) ? -1 : 0;
}

static bool interrupted(my_infile_copy *c)
{
	uint64_t now = now_ms();
	if (c->opt.interrupt == NULL || now - c->last_check_ms < INTERRUPT_CHECK_MS)
		return false;
	c->last_check_ms = now;
	if (c->opt.interrupt(c->opt.interrupt_arg) == 0)
		return false;
	c->interrupted = true;
	free(c->error);
	c->error = strdup("the load of the partition was interrupted");
	return true;
}

/* One step of the source: a row converted, the end, or a wait. -1 stops the stream. */
static int fill(my_infile_copy *c)
{
	record_tuple row;
	char *err = NULL;
	if (interrupted(c))
		return -1;
	int r = c->source.next_line ? c->source.next_line(c->source.arg, &c->pending, &err)
				    : c->source.next(c->source.arg, INTERRUPT_CHECK_MS, &row, &err);
	if (r == 1 && c->source.next_line) {
		c->rows++;
		return 0;
	}
	if (r < 0) {
		free(c->error);
		c->error = err ? err : strdup("the source failed");
		return -1;
	}
	if (r == 0)
		c->source_open = false;
	if (r == 1 && append_row(c, &row) < 0) {
		if (c->error == NULL)
			c->error = strdup("out of memory");
		return -1;
	}
	return 0;
}

/* ---- the local-infile handler ----------------------------------------------------------- */

static int infile_init(void **ptr, const char *filename, void *userdata)
{
	(void)filename; /* never a file: the data is ours, whatever name the server asks for */
	*ptr = userdata;
	return 0;
}

static int infile_read(void *ptr, char *buf, unsigned int len)
{
	my_infile_copy *c = ptr;
	while (c->pending.len - c->pending_off < len && c->source_open) {
		if (c->pending_off > 0 && c->pending_off >= c->pending.len / 2) {
			memmove(c->pending.data, c->pending.data + c->pending_off, c->pending.len - c->pending_off);
			c->pending.len -= c->pending_off;
			c->pending_off = 0;
		}
		if (fill(c) < 0)
			return -1;
	}
	size_t n = c->pending.len - c->pending_off;
	if (n > len)
		n = len;
	if (n > 0)
		memcpy(buf, c->pending.data + c->pending_off, n);
	c->pending_off += n;
	if (c->pending_off == c->pending.len) {
		strbuf_reset(&c->pending);
		c->pending_off = 0;
	}
	return (int)n;
}

static void infile_end(void *ptr)
{
	(void)ptr;
}

static int infile_error(void *ptr, char *msg, unsigned int len)
{
	my_infile_copy *c = ptr;
	snprintf(msg, len, "%s", c->error ? c->error : "the load of the partition stopped");
	return CR_UNKNOWN_ERROR;
}


/* ---- opening the target transaction ------------------------------------------------------ */

static void append_where_table(strbuf *sb, my_infile_copy *c)
{
	strbuf_append(sb, " WHERE `task` = ");
	my_target_append_literal(sb, c->conn, c->opt.task, strlen(c->opt.task));
	strbuf_append(sb, " AND `source_table` = ");
	my_target_append_literal(sb, c->conn, c->lt->source_name, strlen(c->lt->source_name));
}

/* Which partitions of the table are recorded: mine, and whether any. */
static int read_recorded(my_infile_copy *c, bool *mine, bool *any, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "SELECT COALESCE(MAX(`partition` = %d), 0), COUNT(*) FROM `" MY_TARGET_DB "`.`load_progress`",
		       c->part.number);
	append_where_table(&sb, c);
	strbuf_append(&sb, " AND `partition` > 0");
	MYSQL_RES *res = strbuf_failed(&sb) ? NULL
					    : my_target_query(c->conn, sb.data, "target: reading the load progress", err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	*mine = row && row[0] && atoi(row[0]) > 0;
	*any = row && row[1] && atoll(row[1]) > 0;
	mysql_free_result(res);
	return 0;
}

/* Serialises the workers reloading one table whole: the later one then finds its
 * partition recorded by the earlier one. */
static int lock_table_plan(my_infile_copy *c, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT `partition` FROM `" MY_TARGET_DB "`.`load_plan`");
	append_where_table(&sb, c);
	strbuf_append(&sb, " FOR UPDATE");
	int rc = target_sql(c, &sb, "locking the table's load plan", err);
	strbuf_free(&sb);
	return rc;
}

/* Empties what this partition will hold (see my_infile.h). */
static int prepare_range(my_infile_copy *c, bool any_recorded, char **err)
{
	bool whole = c->reload_whole || c->part.kind == PG_LOAD_PART_WHOLE;
	strbuf sb = STRBUF_INIT;
	int rc = 0;
	if (whole && c->opt.target_owned) {
		strbuf_append(&sb, "DELETE FROM ");
		strbuf_append_len(&sb, c->target.data, c->target.len);
		rc = target_sql(c, &sb, "emptying the table", err);
	} else if (whole && any_recorded) {
		my_target_set_transient(false);
		rc = pg_load_fail(err, "%s: the table was partly loaded under another snapshot and must be reloaded "
				  "whole, but target_table_prep = nothing forbids emptying it: empty %s on the target "
				  "and restart the task", c->label, strbuf_str(&c->target));
	} else if (c->part.kind == PG_LOAD_PART_INT_RANGE && c->opt.target_owned && any_recorded) {
		const char *key = catalog_map_column(c->opt.names, c->lt->source, c->lt->key_column);
		strbuf_append(&sb, "DELETE FROM ");
		strbuf_append_len(&sb, c->target.data, c->target.len);
		strbuf_append(&sb, " WHERE TRUE");
		if (!c->part.open_lo) {
			strbuf_append(&sb, " AND ");
			sql_append_mysql_ident(&sb, key);
			strbuf_appendf(&sb, " >= %" PRId64, c->part.lo);
		}
		if (!c->part.open_hi) {
			strbuf_append(&sb, " AND ");
			sql_append_mysql_ident(&sb, key);
			strbuf_appendf(&sb, " < %" PRId64, c->part.hi);
		}
		rc = target_sql(c, &sb, "deleting the partition's key range", err);
	}
	if (rc == 0 && c->reload_whole) {
		strbuf_reset(&sb);
		strbuf_append(&sb, "DELETE FROM `" MY_TARGET_DB "`.`load_progress`");
		append_where_table(&sb, c);
		strbuf_append(&sb, " AND `partition` > 0");
		rc = target_sql(c, &sb, "forgetting the table's earlier partitions", err);
	}
	strbuf_free(&sb);
	return rc;
}

/* BEGIN, the skip check and the range: 1 = go on, 0 = recorded, -1 = error. */
static int open_target(my_infile_copy *c, char **err)
{
	/* READ COMMITTED: the progress check sees what other workers committed, and inserting
	 * progress rows takes no gap locks two workers could deadlock on. A long gap between
	 * source rows (a filter that matches little) must not time the server out. */
	if (my_target_exec(c->conn, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; "
			   "SET SESSION net_read_timeout = 3600", "target: setting up the load session", err) < 0 ||
	    my_target_exec(c->conn, "START TRANSACTION", "target: START TRANSACTION", err) < 0)
		return -1;
	c->txn = true;
	if (c->reload_whole && lock_table_plan(c, err) < 0)
		return -1;
	bool mine = false, any = false;
	if (read_recorded(c, &mine, &any, err) < 0)
		return -1;
	if (mine)
		return 0;
	return prepare_range(c, any, err) < 0 ? -1 : 1;
}

pg_load_status my_infile_copy_start(MYSQL *conn, const pg_load_table *lt, const pg_load_partition *p,
				  const my_infile_options *o, my_infile_copy **out, bool *whole, char **err)
{
	*out = NULL;
	my_infile_copy *c = calloc(1, sizeof *c);
	if (c == NULL)
		return pg_load_fail(err, "table %s: out of memory", lt->source_name), PG_LOAD_ERROR;
	*c = (my_infile_copy){.conn = conn, .lt = lt, .part = *p, .opt = *o, .key_col = -1};
	strbuf_init(&c->target);
	strbuf_init(&c->load_sql);
	strbuf_init(&c->pending);
	strbuf_init(&c->value);
	char where[160];
	snprintf(c->label, sizeof c->label, "table %s %s", lt->source_name,
		 pg_load_partition_label(lt, p, where, sizeof where));
	c->reload_whole = p->kind == PG_LOAD_PART_CTID_RANGE && !o->exported;
	*whole = c->reload_whole;
	my_ddl_append_table(&c->target, lt->source, o->names);
	int rc = build_columns(c) < 0 ? pg_load_fail(err, "%s: out of memory", c->label) : 0;
	if (rc == 0 && p->kind == PG_LOAD_PART_INT_RANGE && lt->key_column < 0)
		rc = pg_load_fail(err, "%s: the table no longer fits its stored load plan: forget its progress and "
				  "load it again from zero", c->label);
	if (rc < 0)
		my_target_set_transient(false);
	if (rc == 0)
		rc = open_target(c, err);
	if (rc <= 0) {
		my_infile_copy_free(c); /* rolls back; a recorded partition had nothing to undo */
		return rc == 0 ? PG_LOAD_SKIPPED : PG_LOAD_ERROR;
	}
	*out = c;
	return PG_LOAD_MORE;
}

void my_infile_copy_set_source(my_infile_copy *c, const my_infile_source *source)
{
	c->source = *source;
	c->has_source = c->source_open = true;
}

/* ---- finishing ------------------------------------------------------------------------------ */

/* The first warnings the server kept, on one line. */
static void append_warnings(my_infile_copy *c, strbuf *sb)
{
	char sql[64];
	snprintf(sql, sizeof sql, "SHOW WARNINGS LIMIT %d", WARNINGS_SHOWN);
	MYSQL_RES *res = mysql_query(c->conn, sql) == 0 ? mysql_store_result(c->conn) : NULL;
	MYSQL_ROW row;
	for (int n = 0; res && (row = mysql_fetch_row(res)) != NULL; n++)
		strbuf_appendf(sb, "%s%s", n ? "; " : "", row[2] ? row[2] : "?");
	if (res)
		mysql_free_result(res);
}

static int check_loaded(my_infile_copy *c, char **err)
{
	uint64_t affected = mysql_affected_rows(c->conn);
	unsigned warnings = mysql_warning_count(c->conn);
	if (warnings == 0 && affected == (uint64_t)c->rows)
		return 0;
	strbuf w = STRBUF_INIT;
	append_warnings(c, &w);
	my_target_set_transient(false);
	int rc = pg_load_fail(err, "%s: the target took %" PRIu64 " of %" PRId64 " rows with %u warning%s (%s); "
			      "nothing of the partition is kept", c->label, affected, c->rows, warnings,
			      warnings == 1 ? "" : "s", w.len ? strbuf_str(&w) : "none shown");
	strbuf_free(&w);
	return rc;
}

static int record_partition(my_infile_copy *c, char **err)
{
	c->has_position = !c->opt.exported;
	c->position = c->opt.snapshot_position;
	int first = c->reload_whole ? 1 : c->part.number, last = c->reload_whole ? c->part.count : c->part.number;
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "INSERT INTO `" MY_TARGET_DB "`.`load_progress` (`task`, `source_table`, `partition`, `rows`,"
		      " `finish_position`) VALUES ");
	for (int n = first; n <= last; n++) {
		/* a whole-table reload records every partition of the table: only this one has rows */
		strbuf_append(&sb, n > first ? ", (" : "(");
		my_target_append_literal(&sb, c->conn, c->opt.task, strlen(c->opt.task));
		strbuf_append(&sb, ", ");
		my_target_append_literal(&sb, c->conn, c->lt->source_name, strlen(c->lt->source_name));
		strbuf_appendf(&sb, ", %d, %" PRId64 ", ", n, n == c->part.number ? c->rows : 0);
		if (c->has_position)
			strbuf_appendf(&sb, "%" PRIu64 ")", c->position);
		else
			strbuf_append(&sb, "NULL)");
	}
	int rc = target_sql(c, &sb, "recording the partition", err);
	strbuf_free(&sb);
	if (rc == 0) {
		rc = my_target_exec(c->conn, "COMMIT", "target: COMMIT", err);
		c->txn = false; /* committed, or rolled back by the failed COMMIT */
	}
	return rc;
}

static int finish_copy(my_infile_copy *c, char **err)
{
	if (check_loaded(c, err) < 0)
		return -1;
	int64_t sent = c->source.finish(c->source.arg, err);
	if (sent < 0) {
		my_target_set_transient(false);
		return -1;
	}
	if (sent != c->rows) {
		my_target_set_transient(false);
		return pg_load_fail(err, "%s: the source sent %" PRId64 " rows, the target took %" PRId64, c->label,
				    sent, c->rows);
	}
	return record_partition(c, err);
}

pg_load_status my_infile_copy_step(my_infile_copy *c, char **err)
{
	if (c->done)
		return PG_LOAD_DONE;
	if (!c->has_source || c->interrupted || !c->txn) {
		my_target_set_transient(false);
		return pg_load_fail(err, "%s: the copy is %s", c->label, c->interrupted ? "abandoned" : "not ready"),
		       PG_LOAD_ERROR;
	}
	c->last_check_ms = now_ms();
	mysql_set_local_infile_handler(c->conn, infile_init, infile_read, infile_end, infile_error, c);
	int q = mysql_real_query(c->conn, c->load_sql.data, (unsigned long)c->load_sql.len);
	my_target_refuse_local_infile(c->conn); /* a server asking for a file again gets nothing */
	if (q != 0 && c->interrupted)
		return PG_LOAD_MORE;
	if (q != 0 && c->error != NULL) {
		/* the stream stopped on our side: the source's or a value's message says why */
		my_target_set_transient(false);
		return pg_load_fail(err, "%s", c->error), PG_LOAD_ERROR;
	}
	if (q != 0)
		return copy_fail(c, err, "LOAD DATA"), PG_LOAD_ERROR;
	if (c->invalid > 0)
		log_warning("%s: %" PRId64 " invalid value%s written as %s", c->label, c->invalid, c->invalid == 1 ? "" : "s",
			    c->opt.invalid == INVALID_VALUES_NULL ? "NULL" : "substitutes");
	if (finish_copy(c, err) < 0)
		return PG_LOAD_ERROR;
	c->done = true;
	return PG_LOAD_DONE;
}

int64_t my_infile_copy_rows(const my_infile_copy *c)
{
	return c->rows;
}

uint64_t my_infile_copy_invalid(const my_infile_copy *c)
{
	return (uint64_t)c->invalid;
}

bool my_infile_copy_position(const my_infile_copy *c, uint64_t *position)
{
	if (c->done && c->has_position && position != NULL)
		*position = c->position;
	return c->done && c->has_position;
}

void my_infile_copy_free(my_infile_copy *c)
{
	if (c == NULL)
		return;
	if (c->has_source)
		c->source.free(c->source.arg); /* drops the stream unless it was finished */
	if (c->txn)
		mysql_query(c->conn, "ROLLBACK"); /* nothing more to say: the error was reported */
	strbuf_free(&c->target);
	strbuf_free(&c->load_sql);
	strbuf_free(&c->pending);
	strbuf_free(&c->value);
	free(c->cols);
	free(c->names);
	free(c->error);
	free(c);
}
