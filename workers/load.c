/* load: pulls table partitions from the task's shared work queue and bulk copies
 * them from source to target, each committed with its progress row.
 *
 * PostgreSQL -> PostgreSQL (the pair that exists so far); other pairs keep the
 * connect-and-wait behaviour until their engines exist.
 *
 * A load worker waits for capture's plan, imports the exported snapshot (the state at
 * P0) and reports that it did, so capture can let the snapshot go; when the snapshot
 * is gone (this worker restarted, or capture did) it reads under a fresh snapshot and
 * the engine records the position it was taken at, so apply runs that table in
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
#include "workers/pg_ddl.h"
#include "workers/pg_load.h"
#include "workers/pg_task.h"
#include "workers/worker_mains.h"

#define WAIT_POLL_MS 200
#define STEP_MS 200
/* For the after-load index builds of this session only: a primary key of a few million
 * rows sorts in memory instead of in temporary files (the server's default is 64MB). */
#define AFTER_LOAD_MAINTENANCE_WORK_MEM "256MB"

typedef struct load_proc {
	worker_context *ctx;
	taskstate *ts;
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
	bool lost = PQstatus(lp->source->pg) == CONNECTION_BAD || PQstatus(lp->target->pg) == CONNECTION_BAD;
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
	/* the same options as capture's before-load DDL: the key deferred there is added here */
	pg_ddl_options d = {.names = &lp->tables.map, .prep = lp->ctx->task->target_table_prep,
			    .create_tables = lp->ctx->task->create_tables, .defer_primary_key = true};
	pg_ddl_script after = {0};
	char *err = NULL;
	int rc = pg_ddl_after_load(lt->source, &d, &after, &err);
	if (rc == 0) {
		pg_load_finish_options fo = {.task = lp->ctx->task->name, .after_load = &after, .analyze = true,
					     .maintenance_work_mem = AFTER_LOAD_MAINTENANCE_WORK_MEM};
		rc = pg_load_finish_table(lp->target->pg, lt, &fo, &err) == PG_LOAD_ERROR ? -1 : 0;
	}
	pg_ddl_script_free(&after);
	if (rc < 0)
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

/* Streams one partition (whole: its whole table), looking at the signal flags between
 * steps. */
static int copy_partition(load_proc *lp, int pi, bool whole, const pg_load_table *lt, int64_t *rows)
{
	pg_load_partition p = partition_of(lp->ts, &lp->ts->parts[pi]);
	pg_load_copy_options o = {.task = lp->ctx->task->name, .whole_table = whole};
	pg_load_copy *c = NULL;
	char *err = NULL, label[256];
	if (whole)
		snprintf(label, sizeof label, "partitions 1-%d/%d (whole table)", p.count, p.count);
	else
		pg_load_partition_label(lt, &p, label, sizeof label);
	pg_load_status st = pg_load_copy_start(&lp->src, lp->target->pg, lt, &p, &o, &c, &err);
	while (st == PG_LOAD_MORE) {
		int rc = check_signals(lp, 0);
		if (rc != 0) {
			pg_load_copy_free(c);
			return rc;
		}
		st = pg_load_copy_step(c, STEP_MS, &err);
	}
	*rows = c ? pg_load_copy_rows(c) : 0;
	uint64_t pos = 0;
	if (st == PG_LOAD_DONE && c && pg_load_copy_position(c, &pos)) {
		taskstate_table *t = &lp->ts->tables[p.table];
		raise_position(t, pos);
		t->snap_xmax = lp->snap_xmax;
		memcpy(t->xip, lp->xip, sizeof t->xip);
		t->n_xip = lp->n_xip;
	}
	if (c)
		pg_load_copy_free(c);
	if (st == PG_LOAD_ERROR)
		return fail_conn(lp, label, err);
	log_info("%s %s %s: %lld rows", lt->source_name, label, st == PG_LOAD_SKIPPED ? "already loaded" : "copied",
		 (long long)*rows);
	return 0;
}

/* ---- whole tables ------------------------------------------------------------------
 * A table planned in several partitions is copied whole instead, in one transaction that
 * empties it and may therefore COPY FREEZE, and reads the source with one plain COPY
 * instead of one range query per partition, when splitting it would not end the load
 * sooner: the other workers have at least as much work left in other tables as this
 * table holds, or there is no other worker. A restart then redoes the whole table, so
 * only tables of at most WHOLE_MAX_PARTITIONS partitions are taken whole. */
#define WHOLE_MAX_PARTITIONS 8

static int64_t table_bytes(load_proc *lp, int k)
{
	int i = pg_task_find_oid(&lp->tables, lp->ts->tables[k].source_oid);
	int64_t b = i >= 0 ? lp->tables.cat->tables[i]->est_bytes : 0;
	return b > 0 ? b : 0;
}

/* Estimated bytes not yet loaded in the tables other than k (a partition being copied
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
		sum += table_bytes(lp, j) / total * (total - done);
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

static bool take_whole(load_proc *lp, int pi, const pg_load_table *lt)
{
	const taskstate_partition *tp = &lp->ts->parts[pi];
	taskstate_table *t = &lp->ts->tables[tp->table];
	if (tp->count <= 1 || tp->count > WHOLE_MAX_PARTITIONS || !lt->target_owned)
		return false;
	/* nothing of it loaded yet in this run: a whole copy would count rows twice */
	if (atomic_load(&t->parts_done) > 0 || atomic_load(&t->rows_loaded) > 0)
		return false;
	int others = lp->ctx->task->load_workers - 1;
	if (others > 0 && table_bytes(lp, tp->table) * others > work_elsewhere(lp, tp->table))
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
	bool whole = take_whole(lp, pi, lt);
	if ((rc = copy_partition(lp, pi, whole, lt, &rows)) != 0)
		return rc;
	atomic_fetch_add(&t->rows_loaded, rows);
	atomic_fetch_add(&t->parts_done, whole ? tp->count : 1);
	if (whole)
		mark_table_done(lp, tp->table);
	else
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
	if (!pg_task_is_pg_to_pg(ctx->task))
		return worker_idle_main(ctx, WORKER_USES_SOURCE | WORKER_USES_TARGET);
	task_shm *shm = taskstate_for_task(pg_task_index(ctx));
	if (shm == NULL)
		return pg_task_fail(ctx, FERRY_EXIT_FATAL, "no shared task state");
	load_proc lp = {.ctx = ctx, .ts = shm->state};
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
