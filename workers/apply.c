/* apply: drains its ring and spill segments and applies the changes of the tables it
 * owns to the target, committing its progress row with each batch.
 *
 * Into a PostgreSQL or MySQL/MariaDB target (the engine's calls go through
 * workers/target.h), from any source engine whose capture exists (PostgreSQL,
 * MySQL/MariaDB): the records are engine-neutral. Other pairs keep the connect-and-wait
 * behaviour until their engines exist.
 *
 * Holding changes of tables still loading, the simple correct way: the worker takes
 * nothing from its queue until every table it owns has finished loading. Capture keeps
 * producing meanwhile; the ring fills and the queue goes on spill (bounded by the
 * task's spill_limit, after which capture pauses). Then it drains the backlog, each
 * table in idempotent mode up to the position its load finished at (a load under a
 * fresh snapshot), in exact mode after. A table becomes in-sync once this worker has
 * nothing left to apply and its stream passed that position.
 *
 * Batches: a target commit after commit_rows changes, after BATCH_MS, or when the queue
 * runs dry (the engine never splits a source transaction). A dry queue is not taken at
 * its word at once: while capture catches up on a backlog it produces a source
 * transaction at a time, each a handful of records per worker, so a commit at every dry
 * moment would commit each source transaction on its own (a progress row update and a
 * COMMIT each, hot rows written once per transaction instead of once per batch) and
 * sleep and be woken for every record. The worker rather naps (DRY_NAP_MS, no wake-up
 * asked for, so capture's puts cost no system call) while records kept coming within
 * DRY_QUIET_MS and the batch is younger than DRY_BATCH_MS; a source that went quiet is
 * committed DRY_QUIET_MS later. After each commit the worker publishes its committed
 * position (capture confirms the lowest one to the source) and tells the queue which
 * records are safe to forget.
 *
 * A change the target refuses stops the task: exit 3 with the table, key and position
 * (the engine's message) in the status; a lost target connection is transient. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "ipc/record.h"
#include "workers/apply_touch.h"
#include "workers/idle.h"
#include "workers/pg_task.h"
#include "workers/target.h"
#include "workers/worker_mains.h"

#define GET_WAIT_MS 100
#define BATCH_MS 1000
#define SIGNAL_CHECK_RECORDS 1024
#define DRY_QUIET_MS 20   /* a dry queue this long after the last record: commit */
#define DRY_BATCH_MS 100  /* a dry queue and a batch this old: commit */
#define DRY_NAP_MS 2      /* a nap while waiting on a dry queue for more */

typedef struct apply_proc {
	worker_context *ctx;
	task_shm *shm;
	taskstate *ts;
	int n;                      /* this worker's index */
	const target_ops *ops;      /* the target's engine */
	endpoint_conn *target;
	void *a;
	queue_consumer *q;
	uint64_t last_seq;          /* last record fed */
	uint64_t *pending;          /* [table * 4 + op - 1]: changes fed since the last commit */
	uint64_t batch_started_ms;  /* when the open batch got its first change; 0 none */
	uint64_t last_record_ms;    /* when the last record was taken from the queue */
	bool napping;               /* the queue ran dry and the worker naps for more */
	bool commit_deferred;       /* a flush waits for the open source transaction's COMMIT */
	apply_touch touch;          /* keys CDC touched, for validation's re-checks */
} apply_proc;

static int check_signals(apply_proc *ap, int64_t wait_ms)
{
	worker_wake wake = worker_wait(ap->ctx, NULL, 0, wait_ms);
	if (wake == WORKER_WAKE_PARENT_GONE)
		return FERRY_EXIT_TRANSIENT;
	if (worker_reload_requested)
		worker_process_reload(ap->ctx);
	if (worker_stop_requested || worker_fast_requested)
		return PG_TASK_FINISHED;
	return 0;
}

/* A change the target refused puts its table in error too, for status. */
static void mark_failed_table(apply_proc *ap, const char *err)
{
	const char *name = ap->ops->apply_failed_table(ap->a);
	for (int k = 0; name != NULL && k < ap->ts->n_tables; k++) {
		taskstate_table *t = &ap->ts->tables[k];
		if (t->owner == ap->n && strcmp(t->target_name, name) == 0) {
			taskstate_set_table_error(t, "%s", err ? err : "apply failed");
			return;
		}
	}
}

static int fail_apply(apply_proc *ap, char *err)
{
	int code = ap->ops->transient(ap->target) ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL;
	if (code == FERRY_EXIT_FATAL)
		mark_failed_table(ap, err);
	code = pg_task_fail(ap->ctx, code, "%s", err ? err : "apply failed");
	free(err);
	return code;
}

static bool my_tables_loaded(const apply_proc *ap)
{
	for (int k = 0; k < ap->ts->n_tables; k++) {
		const taskstate_table *t = &ap->ts->tables[k];
		int st = atomic_load(&t->state);
		if (t->owner == ap->n && (st == TABLE_QUEUED || st == TABLE_LOADING))
			return false;
	}
	return true;
}

static bool tables_loaded(void *arg)
{
	apply_proc *ap = arg;
	return (atomic_load_explicit(&ap->ts->plan_ready, memory_order_acquire) && my_tables_loaded(ap)) ||
	       atomic_load(&ap->ts->phase) == TASKSTATE_DONE;
}

/* Waits for the plan, then for the load of every table this worker owns (capture and the
 * load workers signal the task state's wake-up on each change). */
static int wait_tables(apply_proc *ap)
{
	while (worker_wait_for(ap->ctx, &ap->ts->changed, tables_loaded, ap) != WORKER_WAKE_READY) {
		int rc = check_signals(ap, 0);
		if (rc != 0)
			return rc;
	}
	bool loaded = atomic_load_explicit(&ap->ts->plan_ready, memory_order_acquire) && my_tables_loaded(ap);
	return loaded ? 0 : PG_TASK_FINISHED; /* else the task's full load ended */
}

/* The committed position and what it made durable. */
static void committed(apply_proc *ap, uint64_t seq)
{
	atomic_store(&ap->ts->apply_committed[ap->n], ap->ops->apply_position(ap->a));
	for (int k = 0; k < ap->ts->n_tables; k++) {
		for (int op = 0; op < 4; op++) {
			uint64_t n = ap->pending[k * 4 + op];
			if (n == 0)
				continue;
			atomic_fetch_add(&ap->ts->tables[k].changes_applied, n);
			atomic_fetch_add(&ap->ts->tables[k].applied_by_op[op], n);
			ap->pending[k * 4 + op] = 0;
		}
		if (ap->ops->apply_take_invalid != NULL && ap->ts->tables[k].owner == ap->n)
			atomic_fetch_add(&ap->ts->tables[k].invalid_values, ap->ops->apply_take_invalid(ap->a, (uint32_t)k + 1));
	}
	if (seq)
		queue_consumer_confirm(ap->q, seq);
	ap->batch_started_ms = 0;
}

/* 0 committed (or deferred to the transaction's COMMIT), else an exit code. */
static int flush(apply_proc *ap)
{
	char *err = NULL;
	int r = ap->ops->apply_flush(ap->a, &err);
	if (r < 0)
		return fail_apply(ap, err);
	if (r == 0)
		committed(ap, ap->last_seq);
	else
		ap->commit_deferred = true;
	return 0;
}

static const uint8_t *read_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; p < end && shift < 64; shift += 7) {
		uint8_t b = *p++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return p;
	}
	return end;
}

/* table_id, position and xid follow op and flags in every record (ipc/record.h). */
static void record_peek(const uint8_t *p, size_t len, uint64_t *table_id, uint64_t *position, uint64_t *xid)
{
	const uint8_t *end = p + len;
	const uint8_t *q = read_varint(p + 2, end, table_id);
	q = read_varint(q, end, position);
	read_varint(q, end, xid);
}

/* A change of a keyless table that its load already holds (see taskstate.h): its
 * transaction is visible in the load's snapshot (xid below xmax, not in progress).
 * Without the snapshot's list, the load's position decides (inexact at the edge). */
static bool in_keyless_load(const apply_proc *ap, uint64_t id, uint64_t position, uint64_t xid)
{
	const taskstate_table *t = &ap->ts->tables[id - 1];
	uint64_t finish = atomic_load(&t->finish_position);
	if (!t->keyless || finish == 0)
		return false;
	if (t->n_xip < 0)
		return position <= finish;
	if ((int32_t)((uint32_t)xid - t->snap_xmax) >= 0)
		return false;
	for (int i = 0; i < t->n_xip; i++)
		if (t->xip[i] == (uint32_t)xid)
			return false;
	return true;
}

static int feed(apply_proc *ap, uint64_t seq, const void *data, size_t len)
{
	char *err = NULL;
	const uint8_t *p = data;
	uint64_t skip_upto = ap->ops->apply_position(ap->a), id = 0, position = 0, xid = 0;
	bool change = len > 2 && p[0] >= RECORD_OP_INSERT && p[0] <= RECORD_OP_TRUNCATE;
	if (change) {
		record_peek(p, len, &id, &position, &xid);
		if (id < 1 || id > (uint64_t)ap->ts->n_tables)
			change = false;
	}
	ap->last_seq = seq;
	ap->last_record_ms = worker_now_ms();
	if (change && in_keyless_load(ap, id, position, xid))
		return 0;
	if (ap->ops->apply_record(ap->a, data, len, &err) < 0)
		return fail_apply(ap, err);
	/* Counted for status once committed; records the engine skipped are not. */
	if (change && position > skip_upto)
		ap->pending[(id - 1) * 4 + (p[0] - RECORD_OP_INSERT)]++;
	apply_touch_note(&ap->touch, ap->ts, change ? id : 0, data, len);
	if (ap->batch_started_ms == 0 && ap->ops->apply_pending(ap->a) > 0)
		ap->batch_started_ms = ap->last_record_ms;
	/* A deferred flush commits with the transaction's COMMIT record. */
	if (ap->commit_deferred && !ap->ops->apply_in_source_txn(ap->a)) {
		ap->commit_deferred = false;
		committed(ap, seq);
	}
	if (ap->commit_deferred)
		return 0;
	if ((int64_t)ap->ops->apply_pending(ap->a) >= ap->ctx->task->commit_rows ||
	    (ap->batch_started_ms > 0 && ap->last_record_ms - ap->batch_started_ms >= BATCH_MS))
		return flush(ap);
	return 0;
}

/* The queue ran dry with a batch open: nap for more rather than commit now (see the
 * top of the file)? */
static bool nap_for_more(const apply_proc *ap)
{
	if (ap->batch_started_ms == 0)
		return false;
	uint64_t now = worker_now_ms();
	return now - ap->last_record_ms < DRY_QUIET_MS && now - ap->batch_started_ms < DRY_BATCH_MS;
}

/* Tables of this worker that caught up: nothing left here, stream past their position. */
static void mark_in_sync(apply_proc *ap)
{
	uint64_t pos = atomic_load(&ap->ts->apply_committed[ap->n]);
	uint64_t flushed = atomic_load(&ap->ts->flushed_lsn);
	if (flushed > pos)
		pos = flushed;
	for (int k = 0; k < ap->ts->n_tables; k++) {
		taskstate_table *t = &ap->ts->tables[k];
		if (t->owner != ap->n || atomic_load(&t->state) != TABLE_CATCHING_UP)
			continue;
		if (atomic_load(&t->finish_position) <= pos) {
			atomic_store(&t->state, TABLE_IN_SYNC);
			log_info("table %s is in sync", t->source_name);
		}
	}
}

/* The queue ran dry and no nap is due: commit what there is, so the source may release
 * its log (inside a source transaction: send what is queued, its COMMIT is to come). */
static int on_dry(apply_proc *ap)
{
	char *err = NULL;
	int rc;
	if (ap->ops->apply_in_source_txn(ap->a))
		rc = ap->ops->apply_push(ap->a, &err) < 0 ? fail_apply(ap, err) : 0;
	else
		rc = flush(ap);
	if (rc == 0 && !ap->ops->apply_in_source_txn(ap->a))
		mark_in_sync(ap);
	return rc;
}

static int drain(apply_proc *ap)
{
	for (;;) {
		uint64_t seq;
		const void *data;
		size_t len;
		int rc = 0;
		bool napped = ap->napping;
		ap->napping = false;
		for (int i = 0; i < SIGNAL_CHECK_RECORDS && rc == 0; i++) {
			queue_result r = queue_get(ap->q, &seq, &data, &len, i == 0 && !napped ? GET_WAIT_MS : 0);
			if (r == QUEUE_WOULD_BLOCK || r == QUEUE_INTERRUPTED) {
				ap->napping = r == QUEUE_WOULD_BLOCK && nap_for_more(ap);
				if (!ap->napping)
					rc = on_dry(ap);
				break;
			}
			if (r == QUEUE_DETACHED) {
				/* Capture stopped: on a stop of the task our TERM is on its way. */
				int stop = check_signals(ap, 2000);
				return stop ? stop : pg_task_fail(ap->ctx, FERRY_EXIT_TRANSIENT, "capture has left the queue");
			}
			if (r == QUEUE_ERROR)
				return pg_task_fail(ap->ctx, FERRY_EXIT_FATAL, "%s", queue_consumer_error(ap->q));
			rc = feed(ap, seq, data, len);
		}
		if (rc == 0)
			rc = check_signals(ap, ap->napping ? DRY_NAP_MS : 0);
		if (rc != 0)
			return rc;
	}
}

static int open_all(apply_proc *ap)
{
	status_set_state(ap->ctx->status, WORKER_STATE_CONNECTING);
	int rc = pg_task_connect(ap->ctx, ENDPOINT_TARGET, &ap->target);
	if (rc != 0)
		return rc;
	status_set_state(ap->ctx->status, WORKER_STATE_READY);
	log_info("ready: waiting for the tables of apply %d to load", ap->n);
	if ((rc = wait_tables(ap)) != 0)
		return rc;
	char *err = NULL;
	ap->a = ap->ops->apply_open(ap->target, ap->ctx->task, ap->n, &err);
	if (ap->a == NULL)
		return fail_apply(ap, err);
	atomic_store(&ap->ts->apply_committed[ap->n], ap->ops->apply_position(ap->a));
	ap->pending = calloc(((size_t)ap->ts->n_tables + 1) * 4, sizeof *ap->pending);
	if (ap->pending == NULL || apply_touch_init(&ap->touch, ap->ts->n_tables) < 0)
		return pg_task_fail(ap->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
	for (int k = 0; k < ap->ts->n_tables; k++) {
		uint64_t until = atomic_load(&ap->ts->tables[k].finish_position);
		if (ap->ts->tables[k].owner == ap->n && until > 0 &&
		    ap->ops->apply_set_idempotent(ap->a, (uint32_t)k + 1, until) < 0)
			return pg_task_fail(ap->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
	}
	char dir[1024], name[64], qerr[512];
	pg_task_spill_dir(ap->ctx, dir, sizeof dir);
	snprintf(name, sizeof name, "apply-%d", ap->n);
	spill_options o = {.dir = dir, .worker = name, .codec = pg_task_codec(ap->ctx->task)};
	ap->q = queue_consumer_open(ap->shm->queues[ap->n], ap->shm->rings[ap->n], &ap->ts->spill, &o, qerr, sizeof qerr);
	if (ap->q == NULL)
		return pg_task_fail(ap->ctx, FERRY_EXIT_FATAL, "queue: %s", qerr);
	atomic_store(&ap->ctx->status->active, 1);
	return 0;
}

static bool load_done(void *arg)
{
	apply_proc *ap = arg;
	return atomic_load(&ap->ts->phase) == TASKSTATE_DONE;
}

/* Full load only: nothing to apply; stay until the load is over. */
static int wait_full_load(apply_proc *ap)
{
	status_set_state(ap->ctx->status, WORKER_STATE_READY);
	while (worker_wait_for(ap->ctx, &ap->ts->changed, load_done, ap) != WORKER_WAKE_READY) {
		int rc = check_signals(ap, 0);
		if (rc != 0)
			return rc;
	}
	return PG_TASK_FINISHED;
}

static int run(apply_proc *ap)
{
	if (ap->ctx->task->migration_type == MIGRATION_FULL_LOAD)
		return wait_full_load(ap);
	int rc = open_all(ap);
	if (rc != 0)
		return rc;
	status_set_state(ap->ctx->status, WORKER_STATE_RUNNING);
	log_info("applying from position %llu", (unsigned long long)ap->ops->apply_position(ap->a));
	rc = drain(ap);
	if (rc == PG_TASK_FINISHED && !ap->ops->apply_in_source_txn(ap->a)) {
		/* Graceful stop: commit what is complete. */
		int f = flush(ap);
		if (f != 0)
			rc = f;
	}
	return rc;
}

int apply_main(worker_context *ctx)
{
	const target_ops *ops = target_ops_for(ctx->task);
	if (ops == NULL)
		return worker_idle_main(ctx, WORKER_USES_TARGET);
	apply_proc ap = {.ctx = ctx, .n = ctx->index, .ops = ops, .shm = taskstate_for_task(pg_task_index(ctx))};
	if (ap.shm == NULL || ap.n < 1 || ap.n > ap.shm->n_apply)
		return pg_task_fail(ctx, FERRY_EXIT_FATAL, "no shared task state for apply %d", ctx->index);
	ap.ts = ap.shm->state;
	int rc = run(&ap);
	if (rc == PG_TASK_FINISHED)
		status_set_state(ctx->status, WORKER_STATE_STOPPING);
	if (ap.q)
		queue_consumer_close(ap.q);
	ring_detach_consumer(ap.shm->rings[ap.n]);
	if (ap.a)
		ap.ops->apply_close(ap.a);
	free(ap.pending);
	apply_touch_free(&ap.touch);
	if (ap.target)
		endpoint_close(ap.target);
	if (rc == PG_TASK_FINISHED)
		atomic_store(&ctx->status->active, 0);
	return rc == PG_TASK_FINISHED ? FERRY_EXIT_DONE : rc;
}
