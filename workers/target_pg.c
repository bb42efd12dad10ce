/* The PostgreSQL target engine behind workers/target.h: thin wrappers around pg_load
 * (my_load for a MySQL source's partitions), pg_ddl, pg_target_check and pg_apply. */
#include "workers/target.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/load_int.h"
#include "workers/my_load.h"
#include "workers/pg_apply.h"
#include "workers/pg_ddl.h"
#include "workers/pg_load_internal.h"
#include "workers/pg_target_check.h"

const target_ops *target_ops_for(const task_config *task)
{
	if (task->source_ep == NULL || task->target_ep == NULL)
		return NULL;
	return task->target_ep->engine == ENGINE_POSTGRESQL ? &target_pg_ops : &target_my_ops;
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

/* A partition of either source engine: pg_load for PostgreSQL's, my_load for MySQL's. */
typedef struct pg_copy {
	pg_load_copy *pg;
	my_load_copy *my;
	const char *table;    /* the source table, for messages */
} pg_copy;

static pg_load_status copy_start_my(const target_copy_args *a, pg_copy *c, char **err)
{
	my_load_copy_options o = {.task = a->task->name, .invalid_values = a->task->invalid_values};
	return my_load_copy_start(a->my_src, a->target->pg, a->my_lt, a->p, &o, &c->my, err);
}

static pg_load_status copy_start(const target_copy_args *a, void **copy, char **err)
{
	*copy = NULL;
	pg_copy *c = calloc(1, sizeof *c);
	if (c == NULL)
		return pg_load_fail(err, "table %s: out of memory", a->lt->source_name), PG_LOAD_ERROR;
	c->table = a->lt->source_name;
	pg_load_status st;
	if (a->my_src != NULL) {
		st = copy_start_my(a, c, err);
	} else {
		/* copied by pg_load_copy_start */
		pg_load_copy_options o = {.task = a->task->name, .whole_table = a->whole};
		st = pg_load_copy_start(a->src, a->target->pg, a->lt, a->p, &o, &c->pg, err);
	}
	if (c->pg == NULL && c->my == NULL) {
		free(c);
		return st;
	}
	*copy = c;
	return st;
}

/* Invalid values of a MySQL source's partition, once it committed. */
static void log_invalid(const pg_copy *c)
{
	const my_invalid *inv = my_load_copy_invalid(c->my);
	if (inv->count > 0)
		log_warning("table %s: %" PRIu64 " invalid value%s (invalid_values = %s); the first: %s", c->table,
			    inv->count, inv->count == 1 ? "" : "s", typemap_invalid_values_name(inv->policy), inv->first);
}

static pg_load_status copy_step(void *copy, int timeout_ms, char **err)
{
	pg_copy *c = copy;
	if (c->pg != NULL)
		return pg_load_copy_step(c->pg, timeout_ms, err);
	pg_load_status st = my_load_copy_step(c->my, timeout_ms, err);
	if (st == PG_LOAD_DONE)
		log_invalid(c);
	return st;
}

static int64_t copy_rows(const void *copy)
{
	const pg_copy *c = copy;
	return c->pg ? pg_load_copy_rows(c->pg) : my_load_copy_rows(c->my);
}

static uint64_t copy_invalid(const void *copy)
{
	const pg_copy *c = copy;
	return c->my ? my_load_copy_invalid(c->my)->count : 0;
}

/* A MySQL source's position is its snapshot's, which the load driver has. */
static bool copy_position(const void *copy, uint64_t *pos)
{
	const pg_copy *c = copy;
	return c->pg ? pg_load_copy_position(c->pg, pos) : false;
}

static void copy_free(void *copy)
{
	pg_copy *c = copy;
	if (c == NULL)
		return;
	pg_load_copy_free(c->pg);
	my_load_copy_free(c->my);
	free(c);
}

static int finish_table(endpoint_conn *target, const pg_load_table *lt, const catalog_name_map *names,
			const task_config *task, char **err)
{
	/* the same options as prepare_table's: the key deferred there is added here */
	pg_ddl_options d = {.names = names, .prep = task->target_table_prep, .create_tables = task->create_tables,
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

/* ---- a source without a slot ------------------------------------------------------------ */

static int plan_store(endpoint_conn *target, const pg_load_table *lt, int table, const pg_load_plan_options *o,
		      const pg_load_partition *parts, int n, pg_load_plan *plan, char **err)
{
	return pg_load_plan_store(target->pg, lt, table, o, parts, n, plan, err);
}

/* The gtid column came after the table: an older ferry's table gets it (NULL = unknown). */
static const char position_table_sql[] =
	"CREATE SCHEMA IF NOT EXISTS \"ferry\";"
	"CREATE TABLE IF NOT EXISTS \"ferry\".\"source_position\" (\"task\" text PRIMARY KEY, \"file\" text NOT NULL,"
	" \"position\" bigint NOT NULL, \"updated_at\" timestamptz NOT NULL DEFAULT now(), \"gtid\" text)";

/* Asked first, so a table that has the column is not locked nor a notice logged. */
static int position_gtid_column(PGconn *conn, char **err)
{
	PGresult *res = pg_load_exec(conn, "SELECT 1 FROM pg_attribute WHERE attrelid = '\"ferry\".\"source_position\"'::regclass"
				     " AND attname = 'gtid' AND NOT attisdropped", 0, NULL, PGRES_TUPLES_OK,
				     "target: reading the columns of ferry.source_position", err);
	if (res == NULL)
		return -1;
	bool has = PQntuples(res) > 0;
	PQclear(res);
	return has ? 0 : pg_load_command(conn, "ALTER TABLE \"ferry\".\"source_position\" ADD COLUMN IF NOT EXISTS \"gtid\" text",
					 0, NULL, "target: adding the gtid column to ferry.source_position", err);
}

static int position_read(endpoint_conn *target, const char *task, char *file, size_t file_size, uint64_t *position,
			 char *gtid, size_t gtid_size, bool *found, char **err)
{
	if (pg_load_command(target->pg, position_table_sql, 0, NULL, "target: creating ferry.source_position", err) < 0 ||
	    position_gtid_column(target->pg, err) < 0)
		return -1;
	const char *params[1] = {task};
	PGresult *res = pg_load_exec(target->pg,
				     "SELECT file, position, coalesce(gtid, '') FROM \"ferry\".\"source_position\" WHERE task = $1",
				     1, params, PGRES_TUPLES_OK, "target: reading ferry.source_position", err);
	if (res == NULL)
		return -1;
	*found = PQntuples(res) > 0;
	if (*found) {
		snprintf(file, file_size, "%s", PQgetvalue(res, 0, 0));
		*position = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
		/* a text longer than any state ferry writes is not one: unknown, never cut short */
		const char *g = PQgetvalue(res, 0, 2);
		snprintf(gtid, gtid_size, "%s", strlen(g) < gtid_size ? g : "");
	}
	PQclear(res);
	return 0;
}

static int position_store(endpoint_conn *target, const char *task, const char *file, uint64_t position,
			  const char *gtid, bool insert, char **err)
{
	char pos[24];
	snprintf(pos, sizeof pos, "%" PRIu64, position);
	const char *params[4] = {task, file, pos, gtid && *gtid ? gtid : NULL};
	return pg_load_command(target->pg,
			       insert ? "INSERT INTO \"ferry\".\"source_position\" (task, file, position, gtid)"
					" VALUES ($1, $2, $3::int8, $4)"
				      : "UPDATE \"ferry\".\"source_position\" SET file = $2, position = $3::int8, gtid = $4,"
					" updated_at = now() WHERE task = $1",
			       4, params, "target: storing the stream position", err);
}

static int64_t first_value(PGresult *res, int col)
{
	int64_t v = PQntuples(res) > 0 && !PQgetisnull(res, 0, col) ? strtoll(PQgetvalue(res, 0, col), NULL, 10) : 0;
	PQclear(res);
	return v;
}

/* Whether the task may move: its apply workers' highest position and its unloaded tables
 * (tables ferry has not created yet count as none; no apply worker of the task runs:
 * they wait for the plan capture publishes after this). */
static int rebase_check(PGconn *conn, const char *task, uint64_t *highest, int64_t *unloaded, char **err)
{
	const char *params[1] = {task};
	PGresult *res = pg_load_exec(conn, "SELECT to_regclass('\"ferry\".\"apply_progress\"') IS NOT NULL,"
				     " to_regclass('\"ferry\".\"load_plan\"') IS NOT NULL AND"
				     " to_regclass('\"ferry\".\"load_progress\"') IS NOT NULL", 0, NULL, PGRES_TUPLES_OK,
				     "target: reading the bookkeeping tables", err);
	if (res == NULL)
		return -1;
	bool has_apply = strcmp(PQgetvalue(res, 0, 0), "t") == 0, has_load = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	*highest = 0;
	*unloaded = 0;
	if (has_apply) {
		res = pg_load_exec(conn, "SELECT max(position) FROM \"ferry\".\"apply_progress\" WHERE task = $1",
				   1, params, PGRES_TUPLES_OK, "target: reading ferry.apply_progress", err);
		if (res == NULL)
			return -1;
		*highest = (uint64_t)first_value(res, 0);
	}
	if (has_load) {
		res = pg_load_exec(conn, "SELECT count(DISTINCT p.source_table) FROM \"ferry\".\"load_plan\" p WHERE p.task = $1"
				   " AND NOT EXISTS (SELECT 1 FROM \"ferry\".\"load_progress\" l WHERE l.task = p.task"
				   " AND l.source_table = p.source_table AND l.partition = 0)", 1, params, PGRES_TUPLES_OK,
				   "target: reading ferry.load_progress", err);
		if (res == NULL)
			return -1;
		*unloaded = first_value(res, 0);
	}
	return (has_apply ? 1 : 0) | (has_load ? 2 : 0);
}

static int position_rebase(endpoint_conn *target, const char *task, uint64_t upto, const char *gtid,
			   uint64_t *ahead, int64_t *unloaded, char **err)
{
	PGconn *conn = target->pg;
	uint64_t highest = 0;
	*ahead = 0;
	if (pg_load_command(conn, "BEGIN", 0, NULL, "target: moving the task's positions", err) < 0)
		return -1;
	int has = rebase_check(conn, task, &highest, unloaded, err);
	const char *params[2] = {task, gtid};
	int rc = has < 0 ? -1 : highest > upto || *unloaded > 0 ? 0 : 1;
	if (rc == 0 && highest > upto)
		*ahead = highest;
	if (rc == 1 && (has & 1) &&
	    pg_load_command(conn, "UPDATE \"ferry\".\"apply_progress\" SET position = 0, updated_at = now() WHERE task = $1",
			    1, params, "target: resetting ferry.apply_progress", err) < 0)
		rc = -1;
	if (rc == 1 && (has & 2) &&
	    pg_load_command(conn, "UPDATE \"ferry\".\"load_progress\" SET finish_position = NULL WHERE task = $1", 1, params,
			    "target: resetting the load positions", err) < 0)
		rc = -1;
	if (rc == 1 && pg_load_command(conn, "UPDATE \"ferry\".\"source_position\" SET file = '', position = 0, gtid = $2,"
				       " updated_at = now() WHERE task = $1", 2, params, "target: storing the stream position",
				       err) < 0)
		rc = -1;
	if (rc == 1 && pg_load_command(conn, "COMMIT", 0, NULL, "target: moving the task's positions", err) < 0)
		rc = -1;
	if (rc != 1)
		PQclear(PQexec(conn, "ROLLBACK"));
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
	.apply_failed_table = apply_failed_table,
	.transient = transient,
};
