/* load: pulls table partitions from the task's shared work queue and bulk copies
 * them from source to target, each committed with its progress row.
 *
 * A PostgreSQL source into a PostgreSQL or MySQL/MariaDB target (the target's calls go
 * through workers/target.h); other pairs keep the connect-and-wait behaviour until their
 * engines exist.
 *
 * A load worker waits for capture's plan, imports the exported snapshot (the state at
 * P0) and reports that it did, so capture can let the snapshot go; when the snapshot
 * is gone (this worker restarted, or capture did) it reads under a fresh snapshot and
 * the engine records the position it was taken at, so apply runs that table in
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
#include "workers/pg_load.h"
#include "workers/pg_task.h"
#include "workers/target.h"
#include "workers/worker_mains.h"

#define WAIT_POLL_MS 200
#define STEP_MS 200

typedef struct load_proc {
	worker_context *ctx;
	taskstate *ts;
	const target_ops *ops;
	endpoint_conn *source, *target;
	pg_task_tables tables;
	bool have_tables;
	pg_load_source src;
	bool in_txn;
	pg_load_table *lts;     /* per task-state table, built when first needed */
	uint32_t snap_xmax;     /* the fresh snapshot in use (see taskstate_table) */
	int32_t n_xip;
	uint32_t xip[TASKSTATE_MAX_XIP];
	bool *lt_ready;
} load_proc;

static int fail_conn(load_proc *lp, const char *what, char *err)
{
	bool lost = PQstatus(lp->source->pg) == CONNECTION_BAD || lp->ops->transient(lp->target);
	int code = pg_task_fail(lp->ctx, lost ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL, "%s: %s", what,
				err ? err : "failed");
	free(err);
	return code;
}

/* 0 when the flag is clear; else the exit code. */
static int check_signals(load_proc *lp, int64_t wait_ms)
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
		int rc = check_signals(lp, WAIT_POLL_MS);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The fresh snapshot's xmax and in-progress transactions ("xmin:xmax:xip,..."), for
 * keyless tables (taskstate.h). On any trouble n_xip = -1: apply falls back. */
static void read_snapshot(load_proc *lp)
{
	lp->n_xip = -1;
	PGresult *res = PQexec(lp->source->pg, "SELECT txid_current_snapshot()::text");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		const char *p = strchr(PQgetvalue(res, 0, 0), ':');
		char *end;
		if (p) {
			lp->snap_xmax = (uint32_t)strtoull(p + 1, &end, 10);
			lp->n_xip = 0;
			p = *end == ':' ? end + 1 : end;
			while (*p && lp->n_xip >= 0) {
				if (lp->n_xip == TASKSTATE_MAX_XIP) {
					lp->n_xip = -1;
					break;
				}
				lp->xip[lp->n_xip++] = (uint32_t)strtoull(p, &end, 10);
				p = *end == ',' ? end + 1 : end;
				if (end == p && *p)
					lp->n_xip = -1;
			}
		}
	}
	PQclear(res);
}

/* The source transaction: the exported snapshot while capture holds it, else fresh. */
static int begin_source(load_proc *lp)
{
	char *err = NULL;
	const char *snap = atomic_load(&lp->ts->snapshot_state) == SNAPSHOT_EXPORTED ? lp->ts->snapshot : NULL;
	if (snap && pg_load_source_begin(&lp->src, lp->source->pg, snap, &err) == 0) {
		log_info("imported snapshot %s", snap);
	} else {
		if (snap) {
			log_info("snapshot %s cannot be imported (%s): loading under a fresh snapshot", snap,
				 err ? err : "?");
			free(err);
			err = NULL;
			PQclear(PQexec(lp->source->pg, "ROLLBACK"));
		}
		if (pg_load_source_begin(&lp->src, lp->source->pg, NULL, &err) < 0)
			return fail_conn(lp, "source transaction", err);
		log_info("reading under a fresh snapshot taken at %X/%X", (unsigned)(lp->src.snapshot_lsn >> 32),
			 (unsigned)lp->src.snapshot_lsn);
		read_snapshot(lp);
	}
	lp->in_txn = true;
	if (lp->ctx->index <= TASKSTATE_MAX_LOAD)
		atomic_store(&lp->ts->imported[lp->ctx->index], 1);
	if (!lp->have_tables) {
		if (pg_task_tables_read(lp->source->pg, lp->ctx->task, &lp->tables, &err) < 0)
			return fail_conn(lp, "reading the source catalog", err);
		lp->have_tables = true;
	}
	return 0;
}

/* The engine's view of task-state table k (built once). */
static int table_of(load_proc *lp, int k, pg_load_table **out)
{
	if (!lp->lt_ready[k]) {
		int i = pg_task_find_oid(&lp->tables, lp->ts->tables[k].source_oid);
		if (i < 0)
			return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "table %s is gone from the source catalog",
					    lp->ts->tables[k].source_name);
		pg_load_table_options o = {.names = &lp->tables.map, .filter = lp->tables.resolved[i].filter,
					   .target_owned = lp->ctx->task->target_table_prep != TABLE_PREP_NOTHING};
		char *err = NULL;
		if (pg_load_table_init(&lp->lts[k], lp->tables.cat->tables[i], &o, &err) < 0)
			return fail_conn(lp, lp->ts->tables[k].source_name, err);
		lp->lt_ready[k] = true;
	}
	*out = &lp->lts[k];
	return 0;
}

static void raise_position(taskstate_table *t, uint64_t pos)
{
	uint64_t cur = atomic_load(&t->finish_position);
	while (pos > cur && !atomic_compare_exchange_weak(&t->finish_position, &cur, pos))
		;
}

/* After the table's last partition: indexes, ANALYZE, then catching-up. */
static int finish_table(load_proc *lp, int k, const pg_load_table *lt)
{
	taskstate_table *t = &lp->ts->tables[k];
	char *err = NULL;
	if (lp->ops->finish_table(lp->target, lt, &lp->tables, lp->ctx->task, &err) < 0)
		return fail_conn(lp, t->source_name, err);
	bool cdc = lp->ctx->task->migration_type != MIGRATION_FULL_LOAD;
	atomic_store(&t->state, cdc ? TABLE_CATCHING_UP : TABLE_IN_SYNC);
	log_info("table %s loaded: %lld rows", t->source_name, (long long)atomic_load(&t->rows_loaded));
	return 0;
}

static pg_load_partition partition_of(const taskstate *ts, const taskstate_partition *tp)
{
	return (pg_load_partition){.table_id = ts->tables[tp->table].source_oid, .table = tp->table,
				   .number = tp->number, .count = tp->count, .kind = tp->kind, .lo = tp->lo,
				   .hi = tp->hi, .est_rows = tp->est_rows, .open_lo = tp->open_lo,
				   .open_hi = tp->open_hi};
}

/* For engines that stream a whole partition in one call: the signal flags, looked at. */
static int copy_interrupted(void *arg)
{
	return check_signals(arg, 0);
}

/* Streams one partition, looking at the signal flags between steps. */
static int copy_partition(load_proc *lp, int pi, const pg_load_table *lt, int64_t *rows)
{
	pg_load_partition p = partition_of(lp->ts, &lp->ts->parts[pi]);
	target_copy_args a = {.src = &lp->src, .target = lp->target, .lt = lt, .p = &p, .tables = &lp->tables,
			      .task = lp->ctx->task, .interrupt = copy_interrupted, .interrupt_arg = lp};
	void *c = NULL;
	char *err = NULL, label[256];
	pg_load_partition_label(lt, &p, label, sizeof label);
	pg_load_status st = lp->ops->copy_start(&a, &c, &err);
	while (st == PG_LOAD_MORE) {
		int rc = check_signals(lp, 0);
		if (rc != 0) {
			lp->ops->copy_free(c);
			return rc;
		}
		st = lp->ops->copy_step(c, STEP_MS, &err);
	}
	*rows = c ? lp->ops->copy_rows(c) : 0;
	uint64_t pos = 0;
	if (st == PG_LOAD_DONE && c && lp->ops->copy_position(c, &pos)) {
		taskstate_table *t = &lp->ts->tables[p.table];
		raise_position(t, pos);
		t->snap_xmax = lp->snap_xmax;
		memcpy(t->xip, lp->xip, sizeof t->xip);
		t->n_xip = lp->n_xip;
	}
	if (c)
		lp->ops->copy_free(c);
	if (st == PG_LOAD_ERROR)
		return fail_conn(lp, label, err);
	log_info("%s %s %s: %lld rows", lt->source_name, label, st == PG_LOAD_SKIPPED ? "already loaded" : "copied",
		 (long long)*rows);
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
	pg_load_table *lt;
	int rc = table_of(lp, tp->table, &lt);
	if (rc != 0)
		return rc;
	int expected = TABLE_QUEUED;
	atomic_compare_exchange_strong(&t->state, &expected, TABLE_LOADING);
	if (lp->src.aborted || !lp->in_txn) {
		char *err = NULL;
		if (lp->in_txn)
			pg_load_source_end(&lp->src, &err);
		free(err);
		lp->in_txn = false;
		if ((rc = begin_source(lp)) != 0)
			return rc;
	}
	int64_t rows = 0;
	if ((rc = copy_partition(lp, pi, lt, &rows)) != 0)
		return rc;
	atomic_fetch_add(&t->rows_loaded, rows);
	atomic_fetch_add(&t->parts_done, 1);
	atomic_store(&tp->claim, TASKSTATE_PART_DONE);
	if (atomic_load(&t->parts_done) >= atomic_load(&t->parts_total) && may_finish(lp, t))
		return finish_table(lp, tp->table, lt);
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
		pg_load_table *lt;
		int rc = table_of(lp, k, &lt);
		if (rc == 0)
			rc = finish_table(lp, k, lt);
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
	lp->lts = calloc((size_t)lp->ts->n_tables + 1, sizeof *lp->lts);
	lp->lt_ready = calloc((size_t)lp->ts->n_tables + 1, sizeof *lp->lt_ready);
	if (lp->lts == NULL || lp->lt_ready == NULL)
		return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
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
	const target_ops *ops = target_ops_for(ctx->task);
	if (ops == NULL)
		return worker_idle_main(ctx, WORKER_USES_SOURCE | WORKER_USES_TARGET);
	task_shm *shm = taskstate_for_task(pg_task_index(ctx));
	if (shm == NULL)
		return pg_task_fail(ctx, FERRY_EXIT_FATAL, "no shared task state");
	load_proc lp = {.ctx = ctx, .ts = shm->state, .ops = ops};
	int rc = run(&lp);
	if (lp.in_txn) {
		char *err = NULL;
		pg_load_source_end(&lp.src, &err);
		free(err);
	}
	for (int k = 0; lp.lts && k < lp.ts->n_tables; k++)
		if (lp.lt_ready[k])
			pg_load_table_free(&lp.lts[k]);
	free(lp.lts);
	free(lp.lt_ready);
	if (lp.have_tables)
		pg_task_tables_free(&lp.tables);
	if (lp.target)
		endpoint_close(lp.target);
	if (lp.source)
		endpoint_close(lp.source);
	if (rc == PG_TASK_FINISHED)
		status_set_state(ctx->status, WORKER_STATE_STOPPING);
	return rc == PG_TASK_FINISHED ? FERRY_EXIT_DONE : rc;
}
