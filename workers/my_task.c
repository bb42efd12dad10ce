/* The tables of a task with a MySQL source (see the header). */
#include "workers/my_task.h"

#include <stdlib.h>
#include <string.h>

#include "workers/my_catalog.h"
#include "workers/my_sql.h"
#include "workers/target.h"

bool my_task_is_my_source(const task_config *task)
{
	return task->source_ep != NULL && task->source_ep->engine == ENGINE_MYSQL && target_ops_for(task) != NULL;
}

bool my_task_mysql_target(const task_config *task)
{
	return task->target_ep != NULL && task->target_ep->engine == ENGINE_MYSQL;
}

int my_task_session(MYSQL *conn, char **err)
{
	/* TIMESTAMP values print in the session's zone: UTC makes them instants;
	 * max_statement_time is MariaDB's, max_execution_time MySQL's (SELECTs only) */
	const char *sql = mariadb_connection(conn)
				  ? "SET time_zone = '+00:00', NAMES utf8mb4, SESSION max_statement_time = 0"
				  : "SET time_zone = '+00:00', NAMES utf8mb4, SESSION max_execution_time = 0";
	return my_sql_command(conn, sql, "source: setting up the session", err);
}

static int read_my_catalog(void *arg, const task_config *task, bool (*keep)(void *, const char *, const char *),
			   void *keep_arg, catalog **out, char **err)
{
	my_catalog_filter f = {.database = task->source_ep ? task->source_ep->dbname : NULL, .keep_table = keep,
			       .arg = keep_arg};
	return my_catalog_read(arg, &f, out, err);
}

int my_task_tables_read(MYSQL *conn, const task_config *task, my_task_tables *out, strbuf *problems,
			pg_ddl_script *notes, char **err)
{
	memset(out, 0, sizeof *out);
	if (pg_task_tables_read_with(task, read_my_catalog, conn, &out->base, err) < 0)
		return -1;
	int n = out->base.cat->n_tables;
	out->pg = calloc((size_t)n + 1, sizeof *out->pg);
	if (out->pg == NULL) {
		*err = strdup("out of memory");
		my_task_tables_free(out);
		return -1;
	}
	my_pg_options o = {.names = &out->base.map, .cdc = task->migration_type != MIGRATION_FULL_LOAD,
			   .mysql_target = my_task_mysql_target(task)};
	int bad = 0;
	for (int i = 0; i < n; i++)
		if (pg_task_table_selected(&out->base, i) &&
		    my_pg_table_build(out->base.cat->tables[i], &o, &out->pg[i], problems, notes) < 0)
			bad++;
	return bad > 0 ? 1 : 0;
}

void my_task_tables_free(my_task_tables *tt)
{
	for (int i = 0; tt->pg && tt->base.cat && i < tt->base.cat->n_tables; i++)
		my_pg_table_free(&tt->pg[i]);
	free(tt->pg);
	pg_task_tables_free(&tt->base);
	memset(tt, 0, sizeof *tt);
}

const my_pg_table *my_task_find(const my_task_tables *tt, uint64_t id)
{
	int i = pg_task_find_oid(&tt->base, id);
	return i >= 0 && tt->pg[i].target != NULL ? &tt->pg[i] : NULL;
}
