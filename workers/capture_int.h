/* The PostgreSQL capture process's parts: planning the task (capture_plan.c) and
 * streaming changes to the apply workers (capture.c). */
#ifndef FERRY_CAPTURE_INT_H
#define FERRY_CAPTURE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ipc/taskstate.h"
#include "workers/pg_capture.h"
#include "workers/pg_load.h"
#include "workers/pg_load_plan.h"
#include "workers/pg_task.h"
#include "workers/target.h"
#include "workers/worker.h"

/* How another source engine plans a table: its target view for the load bookkeeping
 * and the table model its DDL is built from (shaped for the target engine, target
 * names: no name map), then its partitions. NULL in capture_plan_input: the PostgreSQL
 * source. */
typedef struct capture_plan_engine {
	/* Opens catalog table i: *handle for plan/close, *lt the target view, *ddl the table
	 * pg_ddl builds. 0, or -1 with *err. */
	int (*open)(void *arg, int i, void **handle, const pg_load_table **lt, const catalog_table **ddl, char **err);
	/* Appends the table's partitions (the stored plan when there is one) to plan. */
	int (*plan)(void *arg, void *handle, int k, pg_load_plan *plan, char **err);
	void (*close)(void *arg, void *handle);
	void *arg;
} capture_plan_engine;

typedef struct capture_plan_input {
	worker_context *ctx;
	taskstate *ts;
	pg_task_tables *tables;
	PGconn *source;     /* ordinary connection to the source (PostgreSQL; NULL with engine) */
	PGconn *target;     /* a PostgreSQL target, when ops is NULL */
	/* The target's engine (workers/target.h) and its connection; NULL: the PostgreSQL
	 * target in `target`. */
	const target_ops *ops;
	endpoint_conn *target_ep;
	bool fresh_slot;    /* the slot was just created (or there is none: full-load); MySQL: no
			     * stored stream position */
	bool shared_snapshot; /* the load reads one exported snapshot */
	const capture_plan_engine *engine; /* another source engine; NULL = PostgreSQL */
} capture_plan_input;

/* Prepares the target (before-load DDL of every table that has no recorded partition,
 * the bookkeeping tables), assigns each table to an apply worker (largest first, to the
 * least loaded), plans its partitions and fills the task state (tables, partitions,
 * progress already recorded on the target). Does not publish (plan_ready). 0, or the
 * exit code after failing the worker. */
int capture_plan_task(const capture_plan_input *in);

/* Source names of the selected tables, for pg_capture_prepare. Arrays owned by out. */
typedef struct capture_selection {
	const char **schemas;
	const char **names;
	const char **filters; /* the task's row filter per table, or NULL */
	int n;
} capture_selection;
int capture_selection_build(const pg_task_tables *tt, capture_selection *out);
void capture_selection_free(capture_selection *sel);

/* The capture of a task with a MySQL/MariaDB source (capture_my.c). */
int capture_my_main(worker_context *ctx);

#endif
