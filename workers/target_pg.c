/* The PostgreSQL target engine behind workers/target.h: thin wrappers around pg_load,
 * pg_ddl, pg_target_check and pg_apply. */
#include "workers/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/load_int.h"
#include "workers/pg_apply.h"
#include "workers/pg_ddl.h"
#include "workers/pg_target_check.h"

const target_ops *target_ops_for(const task_config *task)
{
	if (task->source_ep == NULL || task->target_ep == NULL)
		return NULL;
	if (task->target_ep->engine == ENGINE_POSTGRESQL)
		return &target_pg_ops;
	return task->source_ep->engine == ENGINE_POSTGRESQL ? &target_my_ops : NULL;
}

/* ---- planning -------------------------------------------------------------------------- */

static int check(endpoint_conn *target, const pg_task_tables *tt, const task_config *task, char **err)
{
	return pg_target_check_tables(target->pg, tt, task, err);
}

static int bookkeeping_init(endpoint_conn *target, char **err)
{
	return pg_load_bookkeeping_init(target->pg, err);
}

static int progress_read(endpoint_conn *target, const char *task, const pg_load_table *lt,
			 pg_load_table_progress *out, char **err)
{
	return pg_load_progress_read(target->pg, task, lt, out, err);
}

static int exec_script(PGconn *target, const pg_ddl_script *script, char **err)
{
	for (int i = 0; i < script->n_statements; i++) {
		PGresult *res = PQexec(target, script->statements[i]);
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
		if (!ok) {
			size_t n = strlen(PQresultErrorMessage(res)) + strlen(script->statements[i]) + 64;
			*err = malloc(n);
			if (*err)
				snprintf(*err, n, "%s (statement: %.200s)", PQresultErrorMessage(res), script->statements[i]);
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	for (int i = 0; i < script->n_notes; i++)
		log_warning("%s", script->notes[i]);
	return 0;
}

/* Before-load DDL in one target transaction with forgetting the table's recorded load
 * progress: the table starts from zero. */
static int prepare_table(endpoint_conn *target, const catalog_table *t, const catalog_name_map *names,
			 const pg_load_table *lt, const task_config *task, char **err)
{
	pg_ddl_options o = {.names = names, .prep = task->target_table_prep, .create_tables = task->create_tables,
			    .defer_primary_key = true};
	pg_ddl_script script = {0};
	int rc = pg_ddl_before_load(t, &o, &script, err);
	PQclear(PQexec(target->pg, "BEGIN"));
	if (rc == 0)
		rc = exec_script(target->pg, &script, err);
	if (rc == 0)
		rc = pg_load_progress_forget(target->pg, task->name, lt, err);
	PQclear(PQexec(target->pg, rc == 0 ? "COMMIT" : "ROLLBACK"));
	pg_ddl_script_free(&script);
	return rc;
}

static int plan_table(PGconn *source, endpoint_conn *target, const pg_load_table *lt, int table,
		      const pg_load_plan_options *o, pg_load_plan *plan, char **err)
{
	return pg_load_plan_table(source, target->pg, lt, table, o, plan, err);
}

/* ---- load -------------------------------------------------------------------------------- */

static pg_load_status copy_start(const target_copy_args *a, void **copy, char **err)
{
	/* copied by pg_load_copy_start */
	pg_load_copy_options o = {.task = a->task->name, .whole_table = a->whole};
	pg_load_copy *c = NULL;
	pg_load_status st = pg_load_copy_start(a->src, a->target->pg, a->lt, a->p, &o, &c, err);
	*copy = c;
	return st;
}

static pg_load_status copy_step(void *c, int timeout_ms, char **err) { return pg_load_copy_step(c, timeout_ms, err); }
static int64_t copy_rows(const void *c) { return pg_load_copy_rows(c); }
static bool copy_position(const void *c, uint64_t *pos) { return pg_load_copy_position(c, pos); }
static void copy_free(void *c) { pg_load_copy_free(c); }

static int finish_table(endpoint_conn *target, const pg_load_table *lt, const pg_task_tables *tt,
			const task_config *task, char **err)
{
	/* the same options as prepare_table's: the key deferred there is added here */
	pg_ddl_options d = {.names = &tt->map, .prep = task->target_table_prep, .create_tables = task->create_tables,
			    .defer_primary_key = true};
	pg_ddl_script after = {0};
	int rc = pg_ddl_after_load(lt->source, &d, &after, err);
	if (rc == 0) {
		pg_load_finish_options fo = {.task = task->name, .after_load = &after, .analyze = true,
					     .maintenance_work_mem = LOAD_AFTER_LOAD_MAINTENANCE_WORK_MEM};
		rc = pg_load_finish_table(target->pg, lt, &fo, err) == PG_LOAD_ERROR ? -1 : 0;
	}
	for (int i = 0; rc == 0 && i < after.n_notes; i++)
		log_warning("%s", after.notes[i]);
	pg_ddl_script_free(&after);
	return rc;
}

/* ---- apply ------------------------------------------------------------------------------- */

static void *apply_open(endpoint_conn *target, const task_config *task, int worker, char **err)
{
	return pg_apply_open(target->pg, task->name, worker, err);
}

static uint64_t apply_position(const void *a) { return pg_apply_position(a); }
static int apply_set_idempotent(void *a, uint32_t id, uint64_t until) { return pg_apply_set_idempotent(a, id, until); }
static int apply_record(void *a, const void *rec, size_t len, char **err) { return pg_apply_record(a, rec, len, err); }
static int apply_flush(void *a, char **err) { return pg_apply_flush(a, err); }
static int apply_push(void *a, char **err) { return pg_apply_push(a, err); }
static uint64_t apply_pending(const void *a) { return pg_apply_pending_changes(a); }
static bool apply_in_source_txn(const void *a) { return pg_apply_in_source_txn(a); }
static void apply_close(void *a) { pg_apply_close(a); }
static const char *apply_failed_table(const void *a) { return pg_apply_failed_table(a); }

static bool transient(endpoint_conn *target)
{
	return PQstatus(target->pg) == CONNECTION_BAD;
}

const target_ops target_pg_ops = {
	.name = "PostgreSQL",
	.can_copy_whole = true,
	.check = check,
	.bookkeeping_init = bookkeeping_init,
	.progress_read = progress_read,
	.prepare_table = prepare_table,
	.plan_table = plan_table,
	.copy_start = copy_start,
	.copy_step = copy_step,
	.copy_rows = copy_rows,
	.copy_position = copy_position,
	.copy_free = copy_free,
	.finish_table = finish_table,
	.apply_open = apply_open,
	.apply_position = apply_position,
	.apply_set_idempotent = apply_set_idempotent,
	.apply_record = apply_record,
	.apply_flush = apply_flush,
	.apply_push = apply_push,
	.apply_pending = apply_pending,
	.apply_in_source_txn = apply_in_source_txn,
	.apply_close = apply_close,
	.apply_failed_table = apply_failed_table,
	.transient = transient,
};
