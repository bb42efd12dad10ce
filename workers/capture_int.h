/* The PostgreSQL capture process's parts: planning the task (capture_plan.c) and
 * streaming changes to the apply workers (capture.c). */
#ifndef FERRY_CAPTURE_INT_H
#define FERRY_CAPTURE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ipc/taskstate.h"
#include "workers/pg_capture.h"
#include "workers/pg_task.h"
#include "workers/target.h"
#include "workers/worker.h"

typedef struct capture_plan_input {
	worker_context *ctx;
	taskstate *ts;
	pg_task_tables *tables;
	PGconn *source;     /* ordinary connection to the source */
	endpoint_conn *target;
	const target_ops *ops; /* the target's engine */
	bool fresh_slot;    /* the slot was just created (or there is none: full-load) */
	bool shared_snapshot; /* the load reads one exported snapshot */
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
	int n;
} capture_selection;
int capture_selection_build(const pg_task_tables *tt, capture_selection *out);
void capture_selection_free(capture_selection *sel);

#endif
