/* The MySQL/MariaDB target engine behind workers/target.h: my_ddl, my_infile, my_apply,
 * for a PostgreSQL source and for a MySQL/MariaDB one (whose tables arrive already in
 * their target shape, workers/my_pgmap.h).
 * Each entry point a worker calls first on its connection (check for capture, the copy
 * and finish calls for load, apply_open for apply) sets the session up (my_target.h). */
#include "workers/target.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "workers/my_apply.h"
#include "workers/my_ddl.h"
#include "workers/my_infile.h"
#include "workers/my_load.h"
#include "workers/my_sql.h"
#include "workers/my_target.h"
#include "workers/pg_load_internal.h"

static my_ddl_options ddl_options(MYSQL *conn, const pg_task_tables *tt, const task_config *task)
{
	return (my_ddl_options){.names = &tt->map, .prep = task->target_table_prep, .create_tables = task->create_tables,
				.collation = my_target_collation(conn), .mariadb = mariadb_connection(conn)};
}

/* ---- planning -------------------------------------------------------------------------------- */

/* The full load feeds LOAD DATA LOCAL INFILE: the server must allow it. */
static int check_local_infile(MYSQL *conn, const task_config *task, char **err)
{
	char value[16];
	if (task->migration_type == MIGRATION_CDC)
		return 0;
	if (my_sql_value(conn, "SELECT @@GLOBAL.local_infile", value, sizeof value, "target: reading local_infile",
			 err) < 0)
		return -1;
	if (strcmp(value, "1") == 0 || strcasecmp(value, "ON") == 0)
		return 0;
	my_target_set_transient(false);
	return pg_load_fail(err, "the server has local_infile = OFF, and the full load feeds LOAD DATA LOCAL INFILE "
			    "from memory: SET GLOBAL local_infile = ON (or local-infile = 1 in the server's "
			    "configuration); nothing was created");
}

/* Every selected table's names and types, before anything is created. */
static int check(endpoint_conn *target, const pg_task_tables *tt, const task_config *task, char **err)
{
	if (my_target_session(target->mysql, err) < 0 || check_local_infile(target->mysql, task, err) < 0)
		return -1;
	my_ddl_options o = ddl_options(target->mysql, tt, task);
	strbuf problems = STRBUF_INIT;
	int bad = 0;
	for (int i = 0; i < tt->cat->n_tables; i++)
		if (pg_task_table_selected(tt, i))
			bad += my_ddl_check_table(tt->cat->tables[i], &o, &problems);
	int rc = 0;
	if (bad > 0) {
		while (problems.len > 0 && problems.data[problems.len - 1] == '\n')
			problems.data[--problems.len] = '\0';
		for (size_t i = 0; i < problems.len; i++)
			if (problems.data[i] == '\n')
				problems.data[i] = ';';
		my_target_set_transient(false);
		rc = pg_load_fail(err, "the MySQL target cannot take %d thing%s of the source, nothing was created: %s",
				  bad, bad == 1 ? "" : "s", strbuf_str(&problems));
	}
	strbuf_free(&problems);
	return rc;
}

static int bookkeeping_init(endpoint_conn *target, char **err)
{
	return my_target_bookkeeping_init(target->mysql, err);
}

static int progress_read(endpoint_conn *target, const char *task, const pg_load_table *lt,
			 pg_load_table_progress *out, char **err)
{
	return my_infile_progress_read(target->mysql, task, lt->source_name, out, err);
}

/* MySQL's DDL commits by itself: the progress is forgotten first, so a crash in between
 * leaves a table that is prepared again on the next start, never one with stale
 * progress. */
static int prepare_table(endpoint_conn *target, const catalog_table *t, const catalog_name_map *names,
			 const pg_load_table *lt, const task_config *task, char **err)
{
	MYSQL *conn = target->mysql;
	my_ddl_options o = {.names = names, .prep = task->target_table_prep, .create_tables = task->create_tables,
			    .collation = my_target_collation(conn), .mariadb = mariadb_connection(conn)};
	pg_ddl_script script = {0};
	int rc = my_ddl_before_load(t, &o, &script, err);
	if (rc < 0)
		my_target_set_transient(false);
	if (rc == 0 && task->migration_type != MIGRATION_CDC)
		rc = my_infile_progress_forget(conn, task->name, lt->source_name, err);
	for (int i = 0; rc == 0 && i < script.n_statements; i++) {
		char context[300];
		snprintf(context, sizeof context, "target: preparing %s", lt->source_name);
		rc = my_target_exec(conn, script.statements[i], context, err);
	}
	for (int i = 0; rc == 0 && i < script.n_notes; i++)
		log_warning("%s", script.notes[i]);
	pg_ddl_script_free(&script);
	return rc;
}

static int plan_table(PGconn *source, endpoint_conn *target, const pg_load_table *lt, int table,
		      const pg_load_plan_options *o, pg_load_plan *plan, char **err)
{
	return my_infile_plan_table(source, target->mysql, lt, table, o, plan, err);
}

/* ---- load ----------------------------------------------------------------------------------- */

/* The partition's rows: a PostgreSQL source's COPY, or a MySQL source's SELECT. */
static int row_source(const target_copy_args *a, bool whole, my_infile_source *source, char **err)
{
	if (a->my_src != NULL)
		return my_infile_my_source(a->my_src, a->my_lt, a->p, source, err);
	return my_infile_pg_source(a->src, a->lt, &a->tables->map, a->p, whole, source, err);
}

static pg_load_status copy_start(const target_copy_args *a, void **copy, char **err)
{
	*copy = NULL;
	MYSQL *conn = a->target->mysql;
	if (my_target_session(conn, err) < 0)
		return PG_LOAD_ERROR;
	/* a MySQL source's table model carries the target names already */
	bool my = a->my_src != NULL;
	my_infile_options o = {.task = a->task->name, .names = my ? NULL : &a->tables->map,
			     .invalid = a->task->invalid_values,
			     .target_owned = a->task->target_table_prep != TABLE_PREP_NOTHING,
			     .exported = my ? !a->my_src->has_position : a->src->exported,
			     .snapshot_position = my ? a->my_src->position : a->src->snapshot_lsn,
			     .interrupt = a->interrupt, .interrupt_arg = a->interrupt_arg};
	my_infile_copy *c = NULL;
	bool whole = false;
	pg_load_status st = my_infile_copy_start(conn, a->lt, a->p, &o, &c, &whole, err);
	if (st != PG_LOAD_MORE)
		return st;
	my_infile_source source;
	if (row_source(a, whole, &source, err) < 0) {
		my_infile_copy_free(c);
		my_target_set_transient(false);
		return PG_LOAD_ERROR;
	}
	my_infile_copy_set_source(c, &source);
	*copy = c;
	return PG_LOAD_MORE;
}

static pg_load_status copy_step(void *c, int timeout_ms, char **err)
{
	(void)timeout_ms; /* LOAD DATA runs as one call; the interrupt hook bounds it instead */
	return my_infile_copy_step(c, err);
}

static int64_t copy_rows(const void *c) { return my_infile_copy_rows(c); }
static uint64_t copy_invalid(const void *c) { return my_infile_copy_invalid(c); }
static bool copy_position(const void *c, uint64_t *pos) { return my_infile_copy_position(c, pos); }
static void copy_free(void *c) { my_infile_copy_free(c); }

static int finish_table(endpoint_conn *target, const pg_load_table *lt, const catalog_name_map *names,
			const task_config *task, char **err)
{
	if (my_target_session(target->mysql, err) < 0)
		return -1;
	return my_infile_finish_table(target->mysql, lt, names, task, err);
}

/* ---- a source without a slot ----------------------------------------------------------------- */

static int plan_store(endpoint_conn *target, const pg_load_table *lt, int table, const pg_load_plan_options *o,
		      const pg_load_partition *parts, int n, pg_load_plan *plan, char **err)
{
	return my_infile_plan_store(target->mysql, lt, table, o, parts, n, plan, err);
}

static void append_task(strbuf *sb, MYSQL *conn, const char *task)
{
	my_target_append_literal(sb, conn, task, strlen(task));
}

/* The gtid column came after the table: an older ferry's table gets it (NULL =
 * unknown). Asked first: MySQL has no ADD COLUMN IF NOT EXISTS. */
static int position_gtid_column(MYSQL *conn, char **err)
{
	char n[16];
	if (my_sql_value(conn, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" MY_TARGET_DB "'"
			 " AND TABLE_NAME = 'source_position' AND COLUMN_NAME = 'gtid'", n, sizeof n,
			 "target: reading the columns of ferry.source_position", err) < 0)
		return -1;
	if (strcmp(n, "0") != 0)
		return 0;
	return my_target_exec(conn, "ALTER TABLE `" MY_TARGET_DB "`.`source_position` ADD COLUMN `gtid` text NULL",
			      "target: adding the gtid column to ferry.source_position", err);
}

static int position_read(endpoint_conn *target, const char *task, char *file, size_t file_size, uint64_t *position,
			 char *gtid, size_t gtid_size, bool *found, char **err)
{
	MYSQL *conn = target->mysql;
	if (my_target_session(conn, err) < 0 || my_target_bookkeeping_init(conn, err) < 0 ||
	    position_gtid_column(conn, err) < 0)
		return -1;
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT `file`, `position`, IFNULL(`gtid`, '') FROM `" MY_TARGET_DB "`.`source_position`"
		      " WHERE `task` = ");
	append_task(&sb, conn, task);
	MYSQL_RES *res = strbuf_failed(&sb) ? NULL
					    : my_target_query(conn, sb.data, "target: reading ferry.source_position", err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	*found = row != NULL && row[0] != NULL && row[1] != NULL;
	if (*found) {
		snprintf(file, file_size, "%s", row[0]);
		*position = strtoull(row[1], NULL, 10);
		/* a text longer than any state ferry writes is not one: unknown, never cut short */
		snprintf(gtid, gtid_size, "%s", row[2] && strlen(row[2]) < gtid_size ? row[2] : "");
	}
	mysql_free_result(res);
	return 0;
}

static void append_gtid(strbuf *sb, MYSQL *conn, const char *gtid)
{
	if (gtid == NULL || *gtid == '\0')
		strbuf_append(sb, "NULL");
	else
		my_target_append_literal(sb, conn, gtid, strlen(gtid));
}

static int position_store(endpoint_conn *target, const char *task, const char *file, uint64_t position,
			  const char *gtid, bool insert, char **err)
{
	MYSQL *conn = target->mysql;
	strbuf sb = STRBUF_INIT;
	if (insert) {
		strbuf_append(&sb, "INSERT INTO `" MY_TARGET_DB "`.`source_position` (`task`, `file`, `position`, `gtid`)"
			      " VALUES (");
		append_task(&sb, conn, task);
		strbuf_append(&sb, ", ");
		my_target_append_literal(&sb, conn, file, strlen(file));
		strbuf_appendf(&sb, ", %" PRIu64 ", ", position);
		append_gtid(&sb, conn, gtid);
		strbuf_append(&sb, ")");
	} else {
		strbuf_append(&sb, "UPDATE `" MY_TARGET_DB "`.`source_position` SET `file` = ");
		my_target_append_literal(&sb, conn, file, strlen(file));
		strbuf_appendf(&sb, ", `position` = %" PRIu64 ", `gtid` = ", position);
		append_gtid(&sb, conn, gtid);
		strbuf_append(&sb, ", `updated_at` = CURRENT_TIMESTAMP(6) WHERE `task` = ");
		append_task(&sb, conn, task);
	}
	int rc = strbuf_failed(&sb) ? pg_load_fail(err, "out of memory")
				    : my_target_exec(conn, sb.data, "target: storing the stream position", err);
	strbuf_free(&sb);
	return rc;
}

static int64_t my_count(MYSQL *conn, strbuf *sb, const char *context, char **err, bool *ok)
{
	char v[32] = "";
	*ok = !strbuf_failed(sb) && my_sql_value(conn, sb->data, v, sizeof v, context, err) == 0;
	if (strbuf_failed(sb))
		*err = strdup("out of memory");
	strbuf_free(sb);
	return strtoll(v, NULL, 10);
}

/* Whether the task may move (the bookkeeping tables exist: position_read made them). */
static int rebase_check(MYSQL *conn, const char *task, uint64_t *highest, int64_t *unloaded, char **err)
{
	bool ok;
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT IFNULL(MAX(`position`), 0) FROM `" MY_TARGET_DB "`.`apply_progress` WHERE `task` = ");
	append_task(&sb, conn, task);
	*highest = (uint64_t)my_count(conn, &sb, "target: reading ferry.apply_progress", err, &ok);
	if (!ok)
		return -1;
	strbuf_init(&sb);
	strbuf_append(&sb, "SELECT COUNT(DISTINCT p.`source_table`) FROM `" MY_TARGET_DB "`.`load_plan` p WHERE p.`task` = ");
	append_task(&sb, conn, task);
	strbuf_append(&sb, " AND NOT EXISTS (SELECT 1 FROM `" MY_TARGET_DB "`.`load_progress` l WHERE l.`task` = p.`task`"
		      " AND l.`source_table` = p.`source_table` AND l.`partition` = 0)");
	*unloaded = my_count(conn, &sb, "target: reading ferry.load_progress", err, &ok);
	return ok ? 0 : -1;
}

static int rebase_apply(MYSQL *conn, const char *task, const char *gtid, char **err)
{
	static const char *const sql[3] = {
		"UPDATE `" MY_TARGET_DB "`.`apply_progress` SET `position` = 0, `updated_at` = CURRENT_TIMESTAMP(6) WHERE `task` = ",
		"UPDATE `" MY_TARGET_DB "`.`load_progress` SET `finish_position` = NULL WHERE `task` = ",
		"UPDATE `" MY_TARGET_DB "`.`source_position` SET `file` = '', `position` = 0, `updated_at` = CURRENT_TIMESTAMP(6), `gtid` = "};
	for (int i = 0; i < 3; i++) {
		strbuf sb = STRBUF_INIT;
		strbuf_append(&sb, sql[i]);
		if (i == 2) {
			append_gtid(&sb, conn, gtid);
			strbuf_append(&sb, " WHERE `task` = ");
		}
		append_task(&sb, conn, task);
		int rc = strbuf_failed(&sb) ? pg_load_fail(err, "out of memory")
					    : my_target_exec(conn, sb.data, "target: moving the task's positions", err);
		strbuf_free(&sb);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int position_rebase(endpoint_conn *target, const char *task, uint64_t upto, const char *gtid,
			   uint64_t *ahead, int64_t *unloaded, char **err)
{
	MYSQL *conn = target->mysql;
	uint64_t highest = 0;
	*ahead = 0;
	if (my_target_exec(conn, "START TRANSACTION", "target: moving the task's positions", err) < 0)
		return -1;
	int rc = rebase_check(conn, task, &highest, unloaded, err) < 0 ? -1 : highest > upto || *unloaded > 0 ? 0 : 1;
	if (rc == 0 && highest > upto)
		*ahead = highest;
	if (rc == 1 && (rebase_apply(conn, task, gtid, err) < 0 ||
			my_target_exec(conn, "COMMIT", "target: moving the task's positions", err) < 0))
		rc = -1;
	if (rc != 1)
		mysql_query(conn, "ROLLBACK");
	return rc;
}

/* ---- apply ---------------------------------------------------------------------------------- */

static void *apply_open(endpoint_conn *target, const task_config *task, int worker, char **err)
{
	return my_apply_open(target->mysql, task->name, worker, task->source_ep->engine, task->invalid_values, err);
}

static uint64_t apply_position(const void *a) { return my_apply_position(a); }
static int apply_set_idempotent(void *a, uint32_t id, uint64_t until) { return my_apply_set_idempotent(a, id, until); }
static int apply_record(void *a, const void *rec, size_t len, char **err) { return my_apply_record(a, rec, len, err); }
static int apply_flush(void *a, char **err) { return my_apply_flush(a, err); }
static int apply_push(void *a, char **err) { (void)a; (void)err; return 0; } /* statements go out as batches fill */
static uint64_t apply_pending(const void *a) { return my_apply_pending_changes(a); }
static bool apply_in_source_txn(const void *a) { return my_apply_in_source_txn(a); }
static void apply_close(void *a) { my_apply_close(a); }
static uint64_t apply_take_invalid(void *a, uint32_t id) { return my_apply_take_invalid(a, id); }
static const char *apply_failed_table(const void *a) { return my_apply_failed_table(a); }

static bool transient(endpoint_conn *target)
{
	(void)target;
	return my_target_transient();
}

const target_ops target_my_ops = {
	.name = "MySQL",
	.check = check,
	.bookkeeping_init = bookkeeping_init,
	.progress_read = progress_read,
	.prepare_table = prepare_table,
	.plan_table = plan_table,
	.copy_start = copy_start,
	.copy_step = copy_step,
	.copy_rows = copy_rows,
	.copy_invalid = copy_invalid,
	.copy_position = copy_position,
	.copy_free = copy_free,
	.finish_table = finish_table,
	.plan_store = plan_store,
	.position_read = position_read,
	.position_store = position_store,
	.position_rebase = position_rebase,
	.apply_open = apply_open,
	.apply_position = apply_position,
	.apply_set_idempotent = apply_set_idempotent,
	.apply_record = apply_record,
	.apply_flush = apply_flush,
	.apply_push = apply_push,
	.apply_pending = apply_pending,
	.apply_in_source_txn = apply_in_source_txn,
	.apply_close = apply_close,
	.apply_take_invalid = apply_take_invalid,
	.apply_failed_table = apply_failed_table,
	.transient = transient,
};
