/* The target engine, as the workers of a task see it: one table of operations per target
 * engine (target_pg.c for PostgreSQL, target_my.c for MySQL/MariaDB), so capture's
 * planning, the load loops and the apply loop are written once per source engine and
 * only the calls that touch the target differ. Every pair runs through it:
 * PostgreSQL -> PostgreSQL or MySQL, MySQL -> PostgreSQL or MySQL.
 *
 * The operations keep the contracts of the PostgreSQL engine they generalise:
 *   planning   workers/capture_int.h (check, bookkeeping, before-load DDL with the
 *              table's progress forgotten, stored partition plans, recorded progress);
 *   load       workers/pg_load.h (a partition and its progress row in one target
 *              transaction: DONE, SKIPPED when recorded, MORE while rows stream, ERROR;
 *              the after-load step recorded as partition 0);
 *   apply      workers/pg_apply.h (records in, batches committed with the worker's
 *              progress row, idempotent mode up to a position, a refused change an
 *              error naming table, key and position).
 * Every failure comes back as -1 / ERROR with a malloc'd message; transient() tells
 * whether it may go away by itself (lost connection, deadlock), else it needs a person. */
#ifndef FERRY_TARGET_H
#define FERRY_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/catalog.h"
#include "common/config.h"
#include "workers/endpoint.h"
#include "workers/pg_load.h"
#include "workers/pg_load_plan.h"
#include "workers/pg_task.h"

struct my_load_source;
struct my_load_table;

/* One partition to copy. Borrowed until the copy is freed. */
typedef struct target_copy_args {
	pg_load_source *src;           /* the open source transaction (a PostgreSQL source) */
	/* A MySQL source instead (workers/my_load.h): its open transaction and the table as
	 * the target has it (lt is then &my_lt->lt, whose model carries the target names). */
	struct my_load_source *my_src;
	const struct my_load_table *my_lt;
	endpoint_conn *target;         /* idle, no transaction open */
	const pg_load_table *lt;
	const pg_load_partition *p;
	const pg_task_tables *tables;  /* the name map and the source catalog */
	const task_config *task;
	/* Called while rows stream (engines that cannot return mid-copy): nonzero abandons
	 * the partition; copy_step then returns MORE and the caller looks at its flags. */
	int (*interrupt)(void *arg);
	void *interrupt_arg;
	/* Copy p's whole table in one transaction that empties it first (only when the
	 * engine's can_copy_whole; the load driver holds every partition of the table). */
	bool whole;
} target_copy_args;

typedef struct target_ops {
	const char *name;
	/* copy_start takes target_copy_args.whole (see load.c's "whole tables"). */
	bool can_copy_whole;
	/* ---- planning, by capture ---- */
	/* Everything the target cannot take, before anything is created on either side (capture
	 * calls it before the slot and publication exist); NULL = nothing to check. Sets the
	 * session up where the engine needs one. 0, or -1 with every problem in *err. */
	int (*check)(endpoint_conn *target, const pg_task_tables *tt, const task_config *task, char **err);
	int (*bookkeeping_init)(endpoint_conn *target, char **err);
	int (*progress_read)(endpoint_conn *target, const char *task, const pg_load_table *lt,
			     pg_load_table_progress *out, char **err);
	/* target_table_prep and create_tables for t, and its recorded progress forgotten.
	 * names: the task's name map; NULL when t carries its target names already (a table
	 * another source engine shaped for the target). */
	int (*prepare_table)(endpoint_conn *target, const catalog_table *t, const catalog_name_map *names,
			     const pg_load_table *lt, const task_config *task, char **err);
	int (*plan_table)(PGconn *source, endpoint_conn *target, const pg_load_table *lt, int table,
			  const pg_load_plan_options *o, pg_load_plan *plan, char **err);
	/* ---- load ---- */
	pg_load_status (*copy_start)(const target_copy_args *a, void **copy, char **err);
	pg_load_status (*copy_step)(void *copy, int timeout_ms, char **err);
	int64_t (*copy_rows)(const void *copy);
	/* Invalid values the committed partition holds as NULL or substitutes (invalid_values);
	 * NULL: the engine has none. */
	uint64_t (*copy_invalid)(const void *copy);
	bool (*copy_position)(const void *copy, uint64_t *position);
	void (*copy_free)(void *copy);
	/* Indexes (and statistics) after the table's last partition, recorded as partition 0;
	 * 0 also when it was recorded already. names as for prepare_table. */
	int (*finish_table)(endpoint_conn *target, const pg_load_table *lt, const catalog_name_map *names,
			    const task_config *task, char **err);
	/* ---- a source without a slot (MySQL: capture_my.c) ---- */
	/* Stores parts[0..n) as lt's plan unless one is stored already, then appends the
	 * stored plan (the same whoever stored it first) to plan. */
	int (*plan_store)(endpoint_conn *target, const pg_load_table *lt, int table, const pg_load_plan_options *o,
			  const pg_load_partition *parts, int n, pg_load_plan *plan, char **err);
	/* Where the task's change stream resumes (ferry.source_position: binlog file name,
	 * record_mysql_position and the source's GTID state there, "" when unknown or stored
	 * by a ferry without the column, which is then added): *found false for a task that
	 * never stored one. */
	int (*position_read)(endpoint_conn *target, const char *task, char *file, size_t file_size,
			     uint64_t *position, char *gtid, size_t gtid_size, bool *found, char **err);
	/* insert: the first store of the task, else an update. gtid NULL or "": unknown. */
	int (*position_store)(endpoint_conn *target, const char *task, const char *file, uint64_t position,
			      const char *gtid, bool insert, char **err);
	/* Moves a task's positions onto another source server (capture_my.c: a switchover
	 * found by GTID). In one transaction, when no apply worker committed past upto and
	 * every planned table is loaded: every apply worker's progress to 0, every table's
	 * load position to NULL, the stream position to (file "", 0, gtid). 1 done; 0
	 * refused (*ahead: the highest committed position when past upto, else 0;
	 * *unloaded: planned tables not loaded); -1 with *err. Before any apply worker of
	 * the task reads its progress. */
	int (*position_rebase)(endpoint_conn *target, const char *task, uint64_t upto, const char *gtid,
			       uint64_t *ahead, int64_t *unloaded, char **err);
	/* ---- apply ---- */
	void *(*apply_open)(endpoint_conn *target, const task_config *task, int worker, char **err);
	uint64_t (*apply_position)(const void *a);
	int (*apply_set_idempotent)(void *a, uint32_t table_id, uint64_t until_position);
	int (*apply_record)(void *a, const void *rec, size_t len, char **err);
	int (*apply_flush)(void *a, char **err);
	int (*apply_push)(void *a, char **err);
	uint64_t (*apply_pending)(const void *a);
	bool (*apply_in_source_txn)(const void *a);
	void (*apply_close)(void *a);
	/* Invalid values of the table committed since the last call (and forgotten by it);
	 * NULL: the engine has none. */
	uint64_t (*apply_take_invalid)(void *a, uint32_t table_id);
	/* After a refused change: the table's name as the task state has it
	 * (taskstate_table.target_name), or NULL when the failure was not one table's. */
	const char *(*apply_failed_table)(const void *a);
	/* ---- failures ---- */
	bool (*transient)(endpoint_conn *target);
} target_ops;

extern const target_ops target_pg_ops;
extern const target_ops target_my_ops;

/* The target engine of a task (every pair of PostgreSQL and MySQL/MariaDB has one), or
 * NULL when the task lacks an endpoint. */
const target_ops *target_ops_for(const task_config *task);

#endif
