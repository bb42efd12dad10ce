/* What the workers of a task with a MySQL/MariaDB source share: the source's tables
 * with the task's rules applied (the engine-neutral pg_task_tables, read through
 * workers/my_catalog.h) and, per selected table, its shape on the target (workers/
 * my_pgmap.h: PostgreSQL-shaped through the type map, or for a MySQL/MariaDB target the
 * source's own shape with the target names). Built once per process at start, never per
 * row. */
#ifndef FERRY_MY_TASK_H
#define FERRY_MY_TASK_H

#include <stdbool.h>

#include <mysql.h>

#include "common/config.h"
#include "common/sqlquote.h"
#include "workers/my_pgmap.h"
#include "workers/pg_ddl.h"
#include "workers/pg_task.h"

typedef struct my_task_tables {
	pg_task_tables base;  /* rules, the MySQL catalog, the name map */
	my_pg_table *pg;      /* per catalog table (the target's shape, whichever engine);
			       * target NULL for tables not selected */
} my_task_tables;

/* Reads the catalog (the endpoint's dbname limits it to one database) and builds every
 * selected table's target shape. Returns 0; -1 with *err when reading failed (then
 * my_sql_lost(conn) tells whether to retry); 1 when tables cannot be migrated as they
 * are, every reason a line in problems (names too long, unmapped types, ...). Notes
 * (defaults and indexes left out) go to notes (may be NULL). */
int my_task_tables_read(MYSQL *conn, const task_config *task, my_task_tables *out, strbuf *problems,
			pg_ddl_script *notes, char **err);
void my_task_tables_free(my_task_tables *tt);

/* The target shape of the catalog table with this id, or NULL. */
const my_pg_table *my_task_find(const my_task_tables *tt, uint64_t id);

/* Session settings every ferry connection to a MySQL source uses: UTC for TIMESTAMP
 * text, utf8mb4, no statement time limits. 0, or -1 with *err. */
int my_task_session(MYSQL *conn, char **err);

/* Whether the task has a MySQL source and a target engine the workers run it with
 * (PostgreSQL or MySQL/MariaDB: workers/target.h). */
bool my_task_is_my_source(const task_config *task);
/* Whether the task's target is MySQL/MariaDB (the tables keep the source's shape). */
bool my_task_mysql_target(const task_config *task);

#endif
