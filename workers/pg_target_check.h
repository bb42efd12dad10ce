/* Target preflight for a PostgreSQL target: before anything is created on the source
 * (slot, publication) or the target, the tables the task will not create itself must
 * exist there with the source's shape. A mismatch found only when the first COPY or
 * change fails would leave a slot holding WAL and half a migration behind. */
#ifndef FERRY_PG_TARGET_CHECK_H
#define FERRY_PG_TARGET_CHECK_H

#include <libpq-fe.h>

#include "common/config.h"
#include "workers/pg_task.h"

/* Checks every selected table of tt on target, as the task's target_table_prep,
 * create_tables and migration_type say:
 *   drop                      nothing to check (the table is made from the source)
 *   truncate / nothing        an existing table must have the source's shape
 *   missing table             an error unless the task creates it (create_tables and
 *                             not cdc-only)
 * Returns 0 when every table passes; else -1 with *err (malloc'd) naming each table
 * and difference (at most a screenful) and what to change. On a query failure too,
 * then PQstatus(target) tells a lost connection. */
int pg_target_check_tables(PGconn *target, const pg_task_tables *tt, const task_config *task, char **err);

/* What the task's start does with one selected table's target, and whether it can. */
typedef enum pg_target_verdict {
	PG_TARGET_CREATE,     /* missing: the task creates it */
	PG_TARGET_REPLACE,    /* exists, target_table_prep = drop: made again from the source */
	PG_TARGET_KEEP,       /* exists with the source's shape and is kept (truncate, nothing, cdc) */
	PG_TARGET_MISSING,    /* missing, and the task does not create it */
	PG_TARGET_OTHER_SHAPE /* exists and is kept, but has another shape */
} pg_target_verdict;

/* The verdict for source table src (target names through map) against the target's
 * catalog; for PG_TARGET_OTHER_SHAPE the differences are appended to why, one a line.
 * The rule pg_target_check_tables applies to each table, for the assessment too. */
pg_target_verdict pg_target_check_table(const catalog_table *src, const catalog_name_map *map,
					const catalog *target, const task_config *task, strbuf *why);

#endif
