/* Task phases and the workers each task needs. A task in error stops its own workers
 * and stays in error until ferryd restarts; the other tasks are not touched. */
#include "supervisor/task.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

static void plan_add(task_worker *out, int max, int *n, worker_kind kind, int index)
{
	if (*n < max)
		out[*n] = (task_worker){.kind = kind, .index = index};
	(*n)++;
}

int task_worker_plan(const task_config *task, task_worker *out, int max)
{
	int n = 0;
	plan_add(out, max, &n, WORKER_CAPTURE, 0);
	for (int i = 1; i <= task->load_workers; i++)
		plan_add(out, max, &n, WORKER_LOAD, i);
	for (int i = 1; i <= task->apply_workers; i++)
		plan_add(out, max, &n, WORKER_APPLY, i);
	if (task->validation)
		plan_add(out, max, &n, WORKER_VALIDATE, 0);
	return n;
}

task_phase task_phase_compute(bool has_error, int n_workers, int n_finished)
{
	if (has_error)
		return TASK_ERROR;
	if (n_workers > 0 && n_finished == n_workers)
		return TASK_STOPPED;
	return TASK_STARTING;
}

const char *task_phase_name(task_phase phase)
{
	switch (phase) {
	case TASK_STARTING: return "starting";
	case TASK_FULL_LOAD: return "full-load";
	case TASK_CDC: return "cdc";
	case TASK_STOPPED: return "stopped";
	case TASK_ERROR: return "error";
	}
	return "unknown";
}

int task_table_init(task_table *tt, const ferry_config *cfg)
{
	tt->count = 0;
	tt->tasks = calloc((size_t)(cfg->n_tasks > 0 ? cfg->n_tasks : 1), sizeof *tt->tasks);
	if (tt->tasks == NULL)
		return -1;
	for (int i = 0; i < cfg->n_tasks; i++)
		tt->tasks[i] = (task_state){.name = cfg->tasks[i].name, .phase = TASK_STARTING, .error = NULL};
	tt->count = cfg->n_tasks;
	return 0;
}

void task_table_free(task_table *tt)
{
	for (int i = 0; i < tt->count; i++)
		free(tt->tasks[i].error);
	free(tt->tasks);
	tt->tasks = NULL;
	tt->count = 0;
}

void task_fail(supervisor *s, int task, const char *error, int culprit_slot)
{
	task_state *t = &s->tasks.tasks[task];
	if (t->error == NULL)
		t->error = strdup(error);
	int64_t deadline = supervisor_now_ms() + s->config->ferryd.shutdown_timeout_ms;
	int stopping = 0;
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		proc_slot *slot = &s->procs.slots[i];
		if (i == culprit_slot || slot->state == PROC_FREE || slot->task != task)
			continue;
		if (slot->state == PROC_RUNNING && !slot->stop_requested)
			stopping++;
		shutdown_stop_worker(s, i, SIGTERM, deadline);
	}
	if (stopping > 0)
		log_info("task %s: stopping its %d other running workers", t->name, stopping);
}

void task_update_phases(supervisor *s)
{
	for (int t = 0; t < s->tasks.count; t++) {
		task_state *ts = &s->tasks.tasks[t];
		int n_workers = 0, n_finished = 0;
		for (int i = 0; i < PROCTABLE_SIZE; i++) {
			const proc_slot *slot = &s->procs.slots[i];
			if (slot->state == PROC_FREE || slot->task != t)
				continue;
			n_workers++;
			n_finished += slot->state == PROC_STOPPED || slot->state == PROC_FAILED;
		}
		task_phase phase = task_phase_compute(ts->error != NULL, n_workers, n_finished);
		if (phase == TASK_STARTING && s->task_shm != NULL) {
			/* While it runs, capture says how far the task is. */
			int reported = atomic_load(&s->task_shm[t].state->phase);
			if (reported == TASKSTATE_FULL_LOAD || reported == TASKSTATE_DONE)
				phase = TASK_FULL_LOAD;
			else if (reported == TASKSTATE_CDC)
				phase = TASK_CDC;
		}
		if (phase == ts->phase)
			continue;
		if (phase == TASK_ERROR)
			log_error("task %s: phase %s -> error: %s", ts->name, task_phase_name(ts->phase), ts->error);
		else
			log_info("task %s: phase %s -> %s", ts->name, task_phase_name(ts->phase), task_phase_name(phase));
		ts->phase = phase;
	}
}
