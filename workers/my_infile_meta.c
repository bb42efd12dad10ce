/* The MySQL loader's per-table work around the partitions: recorded progress, the stored
 * partition plan and the after-load step (see workers/my_infile.h). */
#include "workers/my_infile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/my_ddl.h"
#include "workers/my_target.h"
#include "workers/pg_load_internal.h"

static const char *const kind_names[] = {"whole", "int", "ctid"};

static void append_where(strbuf *sb, MYSQL *conn, const char *task, const char *source_table)
{
	strbuf_append(sb, " WHERE `task` = ");
	my_target_append_literal(sb, conn, task, strlen(task));
	strbuf_append(sb, " AND `source_table` = ");
	my_target_append_literal(sb, conn, source_table, strlen(source_table));
}

static MYSQL_RES *query(MYSQL *conn, strbuf *sb, const char *context, char **err)
{
	if (strbuf_failed(sb)) {
		my_target_set_transient(false);
		pg_load_fail(err, "%s: out of memory", context);
		return NULL;
	}
	return my_target_query(conn, sb->data, context, err);
}

static int command(MYSQL *conn, strbuf *sb, const char *context, char **err)
{
	if (strbuf_failed(sb)) {
		my_target_set_transient(false);
		return pg_load_fail(err, "%s: out of memory", context);
	}
	return my_target_exec(conn, sb->data, context, err);
}

/* ---- progress ------------------------------------------------------------------------------ */

int my_infile_progress_read(MYSQL *conn, const char *task, const char *source_table, pg_load_table_progress *out,
			  char **err)
{
	memset(out, 0, sizeof *out);
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT COALESCE(SUM(`partition` > 0), 0),"
		      " COALESCE(SUM(CASE WHEN `partition` > 0 THEN `rows` ELSE 0 END), 0),"
		      " COALESCE(MAX(`partition` = 0), 0), MAX(`finish_position`)"
		      " FROM `" MY_TARGET_DB "`.`load_progress`");
	append_where(&sb, conn, task, source_table);
	MYSQL_RES *res = query(conn, &sb, "target: reading the load progress", err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	if (row != NULL) {
		out->partitions_done = row[0] ? atoi(row[0]) : 0;
		out->rows = row[1] ? strtoll(row[1], NULL, 10) : 0;
		out->finished = row[2] && atoi(row[2]) > 0;
		out->has_position = row[3] != NULL;
		out->max_position = row[3] ? strtoull(row[3], NULL, 10) : 0;
	}
	mysql_free_result(res);
	return 0;
}

int my_infile_progress_forget(MYSQL *conn, const char *task, const char *source_table, char **err)
{
	static const char *const tables[] = {"load_progress", "load_plan"};
	for (int i = 0; i < 2; i++) {
		strbuf sb = STRBUF_INIT;
		strbuf_appendf(&sb, "DELETE FROM `" MY_TARGET_DB "`.`%s`", tables[i]);
		append_where(&sb, conn, task, source_table);
		int rc = command(conn, &sb, "target: forgetting the load progress", err);
		strbuf_free(&sb);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- the stored plan ----------------------------------------------------------------------- */

static int kind_of(const char *name)
{
	for (int k = 0; k < 3; k++)
		if (name != NULL && strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

static int reserve(pg_load_plan *plan, int more)
{
	if (plan->n + more <= plan->cap)
		return 0;
	int cap = plan->cap > 0 ? plan->cap : 16;
	while (cap < plan->n + more)
		cap *= 2;
	pg_load_partition *p = realloc(plan->parts, (size_t)cap * sizeof *p);
	if (p == NULL)
		return -1;
	plan->parts = p;
	plan->cap = cap;
	return 0;
}

/* Appends the stored partitions: how many (0 = none stored), -1 on error. */
static int read_stored(MYSQL *conn, const pg_load_table *lt, int table, const char *task, pg_load_plan *plan,
		       char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT `partition`, `kind`, `lo`, `hi`, `est_rows` FROM `" MY_TARGET_DB "`.`load_plan`");
	append_where(&sb, conn, task, lt->source_name);
	strbuf_append(&sb, " ORDER BY `partition`");
	MYSQL_RES *res = query(conn, &sb, "target: reading the load plan", err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	int n = (int)mysql_num_rows(res);
	if (reserve(plan, n) < 0) {
		mysql_free_result(res);
		return pg_load_fail(err, "planning %s: out of memory", lt->source_name);
	}
	MYSQL_ROW row;
	for (int i = 0; (row = mysql_fetch_row(res)) != NULL; i++) {
		int kind = kind_of(row[1]);
		if (row[0] == NULL || atoi(row[0]) != i + 1 || kind < 0) {
			mysql_free_result(res);
			return pg_load_fail(err, "the stored load plan of %s is damaged (partition %d)", lt->source_name,
					    i + 1);
		}
		plan->parts[plan->n + i] = (pg_load_partition){
			.table_id = lt->source->id, .table = table, .number = i + 1, .count = n, .kind = kind,
			.lo = row[2] ? strtoll(row[2], NULL, 10) : 0, .hi = row[3] ? strtoll(row[3], NULL, 10) : 0,
			.est_rows = row[4] ? strtoll(row[4], NULL, 10) : -1, .est_bytes = lt->source->est_bytes / n,
			.open_lo = row[2] == NULL, .open_hi = row[3] == NULL};
	}
	plan->n += n;
	mysql_free_result(res);
	return n;
}

static void append_bound(strbuf *sb, bool open, int64_t v)
{
	if (open)
		strbuf_append(sb, ", NULL");
	else
		strbuf_appendf(sb, ", %" PRId64, v);
}

static int store_plan(MYSQL *conn, const pg_load_table *lt, const char *task, const pg_load_partition *parts, int n,
		      char **err)
{
	strbuf sb = STRBUF_INIT;
	/* IGNORE: another process storing the same table's plan first wins */
	strbuf_append(&sb, "INSERT IGNORE INTO `" MY_TARGET_DB "`.`load_plan` (`task`, `source_table`, `partition`,"
		      " `kind`, `lo`, `hi`, `est_rows`) VALUES ");
	for (int i = 0; i < n; i++) {
		const pg_load_partition *p = &parts[i];
		strbuf_append(&sb, i ? ", (" : "(");
		my_target_append_literal(&sb, conn, task, strlen(task));
		strbuf_append(&sb, ", ");
		my_target_append_literal(&sb, conn, lt->source_name, strlen(lt->source_name));
		strbuf_appendf(&sb, ", %d, '%s'", p->number, kind_names[p->kind]);
		append_bound(&sb, p->open_lo, p->lo);
		append_bound(&sb, p->open_hi, p->hi);
		strbuf_appendf(&sb, ", %" PRId64 ")", p->est_rows);
	}
	int rc = command(conn, &sb, "target: storing the load plan", err);
	strbuf_free(&sb);
	return rc;
}

/* The stored plan appended to plan; "none stored" is an error after a store. */
static int read_back(MYSQL *conn, const pg_load_table *lt, int table, const char *task, pg_load_plan *plan, char **err)
{
	int n = read_stored(conn, lt, table, task, plan, err);
	return n > 0 ? 0 : n == 0 ? pg_load_fail(err, "target: the load plan of %s was not stored", lt->source_name) : -1;
}

int my_infile_plan_table(PGconn *source, MYSQL *conn, const pg_load_table *lt, int table,
		       const pg_load_plan_options *o, pg_load_plan *plan, char **err)
{
	int old_n = plan->n;
	int n = read_stored(conn, lt, table, o->task, plan, err);
	if (n != 0)
		return n > 0 ? 0 : -1;
	pg_load_plan fresh = {0};
	int rc = pg_load_plan_table(source, NULL, lt, table, o, &fresh, err);
	if (rc == 0)
		rc = store_plan(conn, lt, o->task, fresh.parts, fresh.n, err);
	pg_load_plan_free(&fresh);
	/* use what is stored: the same plan whoever stored it first */
	if (rc == 0)
		rc = read_back(conn, lt, table, o->task, plan, err);
	if (rc < 0)
		plan->n = old_n;
	return rc;
}

int my_infile_plan_store(MYSQL *conn, const pg_load_table *lt, int table, const pg_load_plan_options *o,
			 const pg_load_partition *parts, int n, pg_load_plan *plan, char **err)
{
	int old_n = plan->n;
	int stored = read_stored(conn, lt, table, o->task, plan, err);
	if (stored != 0)
		return stored > 0 ? 0 : -1;
	int rc = store_plan(conn, lt, o->task, parts, n, err);
	if (rc == 0)
		rc = read_back(conn, lt, table, o->task, plan, err);
	if (rc < 0)
		plan->n = old_n;
	return rc;
}

/* ---- after the last partition ---------------------------------------------------------------- */

/* Names of the indexes the target table has now (a rerun after a crash skips them). */
static int existing_indexes(MYSQL *conn, const char *schema, const char *name, char ***out, int *n, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT DISTINCT `INDEX_NAME` FROM `information_schema`.`STATISTICS` WHERE `TABLE_SCHEMA` = ");
	my_target_append_literal(&sb, conn, schema, strlen(schema));
	strbuf_append(&sb, " AND `TABLE_NAME` = ");
	my_target_append_literal(&sb, conn, name, strlen(name));
	MYSQL_RES *res = query(conn, &sb, "target: reading the table's indexes", err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	*n = 0;
	*out = calloc(mysql_num_rows(res) + 1, sizeof **out);
	MYSQL_ROW row;
	while (*out != NULL && (row = mysql_fetch_row(res)) != NULL)
		if (row[0] != NULL && ((*out)[*n] = strdup(row[0])) != NULL)
			(*n)++;
	mysql_free_result(res);
	return *out != NULL ? 0 : pg_load_fail(err, "out of memory");
}

static int run_after_load(MYSQL *conn, const pg_load_table *lt, const my_ddl_options *d, char **err)
{
	const char *schema, *name;
	catalog_map_table(d->names, lt->source, &schema, &name);
	char **existing = NULL;
	int n_existing = 0;
	pg_ddl_script script = {0};
	int rc = existing_indexes(conn, schema, name, &existing, &n_existing, err);
	if (rc == 0)
		rc = my_ddl_after_load(lt->source, d, (const char *const *)existing, n_existing, &script, err);
	char context[300];
	snprintf(context, sizeof context, "target: after the load of %s", lt->source_name);
	for (int i = 0; rc == 0 && i < script.n_statements; i++)
		rc = my_target_exec(conn, script.statements[i], context, err);
	for (int i = 0; rc == 0 && i < script.n_notes; i++)
		log_warning("%s", script.notes[i]);
	if (rc == 0) {
		strbuf sb = STRBUF_INIT;
		strbuf_append(&sb, "ANALYZE TABLE ");
		my_ddl_append_table(&sb, lt->source, d->names);
		rc = command(conn, &sb, context, err);
		strbuf_free(&sb);
	}
	for (int i = 0; i < n_existing; i++)
		free(existing[i]);
	free(existing);
	pg_ddl_script_free(&script);
	return rc;
}

int my_infile_finish_table(MYSQL *conn, const pg_load_table *lt, const catalog_name_map *names,
			 const task_config *task, char **err)
{
	pg_load_table_progress prog;
	if (my_infile_progress_read(conn, task->name, lt->source_name, &prog, err) < 0)
		return -1;
	if (prog.finished)
		return 0;
	my_ddl_options d = {.names = names, .prep = task->target_table_prep, .create_tables = task->create_tables,
			    .collation = my_target_collation(conn), .mariadb = mariadb_connection(conn)};
	/* DDL commits by itself in MySQL: the indexes first, then the record that they exist */
	if (run_after_load(conn, lt, &d, err) < 0)
		return -1;
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "INSERT INTO `" MY_TARGET_DB "`.`load_progress` (`task`, `source_table`, `partition`, `rows`)"
		      " VALUES (");
	my_target_append_literal(&sb, conn, task->name, strlen(task->name));
	strbuf_append(&sb, ", ");
	my_target_append_literal(&sb, conn, lt->source_name, strlen(lt->source_name));
	strbuf_append(&sb, ", 0, 0)");
	int rc = command(conn, &sb, "target: recording the end of the table's load", err);
	strbuf_free(&sb);
	return rc;
}
