/* Validation of a task, whatever its engines: its connections (a pool of lanes per
 * side, each through its engine: pg_validate.h, my_validate.h; a pair of different
 * engines wrapped in validate_client.h) and its tables as validation compares them: the
 * source catalog with the task's rules applied, as the capture plan sees it (same
 * selection, target names, excluded and renamed columns, row filters), and for a pair
 * with MySQL each column's canonical kind from the type map. Used by ferryctl (validate,
 * cutover) and the validate worker. */
#ifndef FERRY_PG_VALIDATE_TASK_H
#define FERRY_PG_VALIDATE_TASK_H

#include "common/config.h"
#include "workers/endpoint.h"
#include "workers/pg_task.h"
#include "workers/validate_engine.h"

/* lanes connections to each side, wrapped for validation. */
typedef struct vd_pg_pool {
	vd_pool pool;
	endpoint_conn *ep[2][VD_MAX_LANES];
	void (*free_impl[2][VD_MAX_LANES])(void *impl);
} vd_pg_pool;

/* Whether validation handles the task's engine pair (every pair of PostgreSQL and
 * MySQL/MariaDB). */
bool vd_task_pair_supported(const task_config *task);

/* Opens the lanes (1..VD_MAX_LANES) of both sides of task; app_name is what the servers
 * show. ENDPOINT_OK, or the failure with message (endpoint.h's wording). p is usable
 * with vd_pg_pool_close() either way. */
endpoint_result vd_pg_pool_open(vd_pg_pool *p, const task_config *task, int lanes, const char *app_name,
				const vd_env *env, char *message, size_t size);
void vd_pg_pool_close(vd_pg_pool *p);

/* The task's tables. */
typedef struct vd_pg_task {
	pg_task_tables tt;           /* catalog and rules: sequences for cutover */
	vd_table *tables;
	const catalog_table **cat;   /* [i]: the catalog table of tables[i] */
	int n;
} vd_pg_task;

/* Reads the source catalog with the task's rules over the pool's first source
 * connection and builds the tables, in the catalog's order (schema, name). Key columns
 * whose collation would order differently on the two servers (the databases' default
 * collations differ, or a server is MySQL) are compared bytewise. 0, or -1 with *err
 * (malloc'd). */
int vd_pg_task_read(vd_pg_pool *p, const task_config *task, vd_pg_task *out, char **err);
void vd_pg_task_free(vd_pg_task *vt);

/* Index of the table named name: "schema.table" or "table" (source names, unquoted),
 * or either label ("schema"."table", source or target). -1 none, -2 ambiguous. */
int vd_pg_task_find(const vd_pg_task *vt, const char *name);

#endif
