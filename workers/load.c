/* load: pulls table partitions from the task's shared work queue and bulk copies
 * them from source to target, each committed with its progress row.
 *
 * The engine-neutral driver; the source engines are in load_pg.c (PostgreSQL, into a
 * PostgreSQL or MySQL/MariaDB target through workers/target.h) and load_my.c
 * (MySQL/MariaDB into PostgreSQL) (workers/load_int.h). Other pairs keep the
 * connect-and-wait behaviour until their engines exist.
 *
 * A load worker waits for capture's plan and opens its source transaction: the exported
 * snapshot (the state at P0) while capture holds one, else a fresh snapshot whose
 * position the engine records with each partition, so apply runs that table in
 * idempotent mode until the stream passes it. Then it claims partitions one at a time
 * (its own unfinished claims first), copies each, and the worker that completes a
 * table's last partition runs the table's after-load step (indexes, ANALYZE) and moves
 * it to catching-up (full-load: in-sync). It exits 0 when no partition is left. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "workers/idle.h"
#include "workers/load_int.h"
#include "workers/my_task.h"
#include "workers/pg_task.h"
#include "workers/target.h"
#include "workers/worker_mains.h"

#define WAIT_POLL_MS 200

int load_check_signals(load_proc *lp, int64_t wait_ms)
{
	worker_wake wake = worker_wait(lp->ctx, NULL, 0, wait_ms);
	if (wake == WORKER_WAKE_PARENT_GONE)
		return FERRY_EXIT_TRANSIENT;
	if (worker_reload_requested)
		worker_process_reload(lp->ctx);
	if (worker_stop_requested || worker_fast_requested)
		return PG_TASK_FINISHED;
	return 0;
}

static int wait_plan(load_proc *lp)
{
	while (!atomic_load_explicit(&lp->ts->plan_ready, memory_order_acquire)) {
		int rc = load_check_signals(lp, WAIT_POLL_MS);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int begin_source(load_proc *lp)
{
	int rc = lp->engine->begin(lp);
	if (rc != 0)
		return rc;
	lp->in_txn = true;
	if (lp->ctx->index <= TASKSTATE_MAX_LOAD)
		atomic_store(&lp->ts->imported[lp->ctx->index], 1);
	return 0;
}

void load_raise_position(taskstate_table *t, uint64_t pos)
{
	uint64_t cur = atomic_load(&t->finish_position);
	while (pos > cur && !atomic_compare_exchange_weak(&t->finish_position, &cur, pos))
		;
}

/* After the table's last partition: indexes, ANALYZE, then catching-up. */
static int finish_table(load_proc *lp, int k)
{
	taskstate_table *t = &lp->ts->tables[k];
	int rc = lp->engine->finish(lp, k);
	if (rc != 0)
		return rc;
	bool cdc = lp->ctx->task->migration_type != MIGRATION_FULL_LOAD;
	atomic_store(&t->state, cdc ? TABLE_CATCHING_UP : TABLE_IN_SYNC);
	log_info("table %s loaded: %lld rows", t->source_name, (long long)atomic_load(&t->rows_loaded));
	return 0;
}

/* One worker runs a table's after-load step; a restarted one resumes its own. */
static bool may_finish(load_proc *lp, taskstate_table *t)
{
	int32_t none = 0, me = lp->ctx->index;
	return atomic_compare_exchange_strong(&t->finisher, &none, me) || none == me;
}

static int load_one(load_proc *lp, int pi)
{
	taskstate_partition *tp = &lp->ts->parts[pi];
	taskstate_table *t = &lp->ts->tables[tp->table];
	int expected = TABLE_QUEUED;
	atomic_compare_exchange_strong(&t->state, &expected, TABLE_LOADING);
	int rc;
	if (!lp->in_txn || !lp->engine->usable(lp)) {
		if (lp->in_txn)
			lp->engine->end(lp);
		lp->in_txn = false;
		if ((rc = begin_source(lp)) != 0)
			return rc;
	}
	int64_t rows = 0;
	if ((rc = lp->engine->copy(lp, pi, &rows)) != 0)
		return rc;
	atomic_fetch_add(&t->rows_loaded, rows);
	atomic_fetch_add(&t->parts_done, 1);
	atomic_store(&tp->claim, TASKSTATE_PART_DONE);
	if (atomic_load(&t->parts_done) >= atomic_load(&t->parts_total) && may_finish(lp, t))
		return finish_table(lp, tp->table);
	return 0;
}

/* A table whose partitions are all done but whose after-load step did not run (the
 * worker that was to run it died): finish it. Runs once per worker start. */
static int finish_orphans(load_proc *lp)
{
	for (int k = 0; k < lp->ts->n_tables; k++) {
		taskstate_table *t = &lp->ts->tables[k];
		if (atomic_load(&t->state) != TABLE_LOADING && atomic_load(&t->state) != TABLE_QUEUED)
			continue;
		if (atomic_load(&t->parts_total) == 0 || atomic_load(&t->parts_done) < atomic_load(&t->parts_total) ||
		    !may_finish(lp, t))
			continue;
		int rc = finish_table(lp, k);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int run(load_proc *lp)
{
	status_set_state(lp->ctx->status, WORKER_STATE_CONNECTING);
	int rc = pg_task_connect(lp->ctx, ENDPOINT_SOURCE, &lp->source);
	if (rc == 0)
		rc = pg_task_connect(lp->ctx, ENDPOINT_TARGET, &lp->target);
	if (rc != 0)
		return rc;
	status_set_state(lp->ctx->status, WORKER_STATE_READY);
	log_info("ready: waiting for the load plan");
	if ((rc = wait_plan(lp)) != 0)
		return rc;
	if ((rc = begin_source(lp)) != 0)
		return rc;
	status_set_state(lp->ctx->status, WORKER_STATE_RUNNING);
	int pi;
	while ((pi = taskstate_claim_partition(lp->ts, lp->ctx->index)) >= 0) {
		if ((rc = load_one(lp, pi)) != 0)
			return rc;
	}
	if ((rc = finish_orphans(lp)) != 0)
		return rc;
	log_info("no partition left to load");
	return PG_TASK_FINISHED;
}

int load_main(worker_context *ctx)
{
	bool pg_source = ctx->task->source_ep != NULL && ctx->task->source_ep->engine == ENGINE_POSTGRESQL;
	const load_engine *engine = pg_source && target_ops_for(ctx->task) != NULL ? &load_engine_pg
				    : my_task_is_my_to_pg(ctx->task)                 ? &load_engine_my
										     : NULL;
	if (engine == NULL)
		return worker_idle_main(ctx, WORKER_USES_SOURCE | WORKER_USES_TARGET);
	task_shm *shm = taskstate_for_task(pg_task_index(ctx));
	if (shm == NULL)
		return pg_task_fail(ctx, FERRY_EXIT_FATAL, "no shared task state");
	load_proc lp = {.ctx = ctx, .ts = shm->state, .engine = engine};
	int rc = run(&lp);
	if (lp.in_txn)
		engine->end(&lp);
	engine->free(&lp);
	if (lp.target)
		endpoint_close(lp.target);
	if (lp.source)
		endpoint_close(lp.source);
	if (rc == PG_TASK_FINISHED)
		status_set_state(ctx->status, WORKER_STATE_STOPPING);
	return rc == PG_TASK_FINISHED ? FERRY_EXIT_DONE : rc;
}
