/* load: pulls table partitions from the task's shared work queue and bulk copies
 * them from source to target, each committed with its progress row.
 *
 * The engine-neutral driver; the source engines are in load_pg.c (PostgreSQL) and
 * load_my.c (MySQL/MariaDB), each into a PostgreSQL or MySQL/MariaDB target through
 * workers/target.h (workers/load_int.h).
 *
 * A load worker waits for capture's plan and opens its source transaction: the exported
 * snapshot (the state at P0) while capture holds one, else a fresh snapshot whose
 * position the engine records with each partition, so apply runs that table in
 * idempotent mode until the stream passes it. Then it claims partitions one at a time
 * (its own unfinished claims first) and copies each, or the partition's whole table when
 * splitting it would not end the load sooner (see "whole tables"); the worker that
 * completes a table's last partition runs the table's after-load step (primary key when
 * deferred, indexes, ANALYZE) and moves it to catching-up (full-load: in-sync). It exits
 * 0 when no partition is left. */
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

static bool plan_published(void *arg)
{
	const load_proc *lp = arg;
	return atomic_load_explicit(&lp->ts->plan_ready, memory_order_acquire);
}

/* Capture signals the task state's wake-up when it publishes the plan. */
static int wait_plan(load_proc *lp)
{
	while (worker_wait_for(lp->ctx, &lp->ts->changed, plan_published, lp) != WORKER_WAKE_READY) {
		int rc = load_check_signals(lp, 0);
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
	taskstate_changed(lp->ts); /* capture holds the snapshot until every worker has it */
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
	taskstate_changed(lp->ts); /* its apply worker and capture wait for the load's end */
	log_info("table %s loaded: %lld rows", t->source_name, (long long)atomic_load(&t->rows_loaded));
	return 0;
}

/* One worker runs a table's after-load step; a restarted one resumes its own. */
/* ---- whole tables ------------------------------------------------------------------
 * A table planned in several partitions is copied whole instead, in one transaction that
 * empties it and may therefore COPY FREEZE, and reads the source with one plain COPY
 * instead of one range query per partition, when splitting it would not end the load
 * sooner: the other workers have at least as much work left in other tables as this
 * table holds, or there is no other worker. A restart then redoes the whole table, so
 * only tables of at most WHOLE_MAX_PARTITIONS partitions are taken whole. Work is
 * measured in the source's row estimates. */
#define WHOLE_MAX_PARTITIONS 8

static int64_t table_rows(const taskstate_table *t)
{
	int64_t r = atomic_load(&t->rows_estimated);
	return r > 0 ? r : 0;
}

/* Estimated rows not yet loaded in the tables other than k (a partition being copied
 * counts whole: how far it got is not known). */
static int64_t work_elsewhere(load_proc *lp, int k)
{
	int64_t sum = 0;
	for (int j = 0; j < lp->ts->n_tables; j++) {
		taskstate_table *t = &lp->ts->tables[j];
		int total = atomic_load(&t->parts_total), done = atomic_load(&t->parts_done);
		int state = atomic_load(&t->state);
		if (j == k || total <= 0 || done >= total || (state != TABLE_QUEUED && state != TABLE_LOADING))
			continue;
		sum += table_rows(t) / total * (total - done);
	}
	return sum;
}

/* Claims the other partitions of partition pi's table: true when this worker holds them
 * all; when another worker holds one, the ones held are given back. */
static bool claim_table(load_proc *lp, int pi)
{
	int table = lp->ts->parts[pi].table;
	int32_t mine = TASKSTATE_PART_CLAIMED(lp->ctx->index);
	bool all = true;
	for (int j = 0; all && j < lp->ts->n_parts; j++) {
		taskstate_partition *q = &lp->ts->parts[j];
		int32_t expected = TASKSTATE_PART_FREE;
		if (j != pi && q->table == table && atomic_load(&q->claim) != mine)
			all = atomic_compare_exchange_strong(&q->claim, &expected, mine);
	}
	for (int j = 0; !all && j < lp->ts->n_parts; j++) {
		taskstate_partition *q = &lp->ts->parts[j];
		int32_t expected = mine;
		if (j != pi && q->table == table)
			atomic_compare_exchange_strong(&q->claim, &expected, TASKSTATE_PART_FREE);
	}
	return all;
}

static bool take_whole(load_proc *lp, int pi)
{
	const taskstate_partition *tp = &lp->ts->parts[pi];
	taskstate_table *t = &lp->ts->tables[tp->table];
	if (lp->engine->can_copy_whole == NULL || !lp->engine->can_copy_whole(lp) || tp->count <= 1 || tp->count > WHOLE_MAX_PARTITIONS ||
	    lp->ctx->task->target_table_prep == TABLE_PREP_NOTHING)
		return false;
	/* nothing of it loaded yet in this run: a whole copy would count rows twice */
	if (atomic_load(&t->parts_done) > 0 || atomic_load(&t->rows_loaded) > 0)
		return false;
	int others = lp->ctx->task->load_workers - 1;
	if (others > 0 && table_rows(t) * others > work_elsewhere(lp, tp->table))
		return false;
	return claim_table(lp, pi);
}

/* After a whole-table copy: every partition of the table is done. */
static void mark_table_done(load_proc *lp, int table)
{
	for (int j = 0; j < lp->ts->n_parts; j++)
		if (lp->ts->parts[j].table == table)
			atomic_store(&lp->ts->parts[j].claim, TASKSTATE_PART_DONE);
}

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
	bool whole = take_whole(lp, pi);
	rc = lp->engine->copy(lp, pi, whole, &rows);
	/* Committed (or abandoned): its rows leave the in-flight figure before they join
	 * rows_loaded, so status never counts them twice. */
	taskstate_set_loading(lp->ts, lp->ctx->index, -1, 0);
	if (rc != 0)
		return rc;
	atomic_fetch_add(&t->rows_loaded, rows);
	atomic_fetch_add(&t->parts_done, whole ? tp->count : 1);
	if (whole)
		mark_table_done(lp, tp->table);
	else
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

/* Whether this worker may find work: a partition free or its own, or a table whose
 * after-load step has not run. When there is none (a restart after the full load, as
 * in a cdc phase), the worker leaves without opening a source transaction or reading
 * the catalog, work that would only slow the start of the catch-up. */
static bool work_left(load_proc *lp)
{
	int32_t mine = TASKSTATE_PART_CLAIMED(lp->ctx->index);
	for (int i = 0; i < lp->ts->n_parts; i++) {
		int32_t claim = atomic_load(&lp->ts->parts[i].claim);
		if (claim == TASKSTATE_PART_FREE || claim == mine)
			return true;
	}
	for (int k = 0; k < lp->ts->n_tables; k++) {
		int state = atomic_load(&lp->ts->tables[k].state);
		if (state == TABLE_QUEUED || state == TABLE_LOADING)
			return true;
	}
	return false;
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
	if (!work_left(lp)) {
		log_info("every table is loaded: nothing to do");
		return PG_TASK_FINISHED;
	}
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
				    : my_task_is_my_source(ctx->task)                ? &load_engine_my
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

int load_copy_interrupted(void *arg)
{
	load_copy_watch *w = arg;
	if (*w->copy != NULL)
		load_publish_rows(w->lp, w->table, w->ops->copy_rows(*w->copy));
	return load_check_signals(w->lp, 0);
}
