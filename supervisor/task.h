/* Tasks as the supervisor sees them: which workers each task needs and the task's phase
 * (starting, full-load, cdc, stopped, error), derived from its workers' slots. */
#ifndef FERRY_TASK_H
#define FERRY_TASK_H

#include <stdbool.h>

#include "common/config.h"
#include "workers/worker.h"

typedef struct supervisor supervisor;

typedef enum task_phase { TASK_STARTING, TASK_FULL_LOAD, TASK_CDC, TASK_STOPPED, TASK_ERROR } task_phase;

typedef struct task_state {
	const char *name; /* points into the running config (tasks are fixed until restart) */
	task_phase phase;
	char *error; /* why the task is in error (malloc'd); NULL otherwise */
} task_state;

typedef struct task_table {
	task_state *tasks;
	int count;
} task_table;

/* One worker a task needs. */
typedef struct task_worker {
	worker_kind kind;
	int index;
} task_worker;

/* The workers of a task, in start order: capture, load 1..N, apply 1..N, validate if
 * validation = yes. Fills at most max entries; returns how many the task needs. */
int task_worker_plan(const task_config *task, task_worker *out, int max);
/* Phase from the slots of a task's workers. Until migrations exist a task is
 * "starting" while any worker runs or waits to restart. */
task_phase task_phase_compute(bool has_error, int n_workers, int n_finished);
const char *task_phase_name(task_phase phase);

int task_table_init(task_table *tt, const ferry_config *cfg);
void task_table_free(task_table *tt);

/* Puts a task in error (the first error is kept), logs it, and stops the task's other
 * workers (TERM, SIGKILL after shutdown_timeout): a task in error runs nothing, the
 * other tasks go on. culprit_slot: the worker that caused it (not signalled), or -1. */
void task_fail(supervisor *s, int task, const char *error, int culprit_slot);
/* Recomputes every task's phase from its workers and logs each change. */
void task_update_phases(supervisor *s);

#endif
