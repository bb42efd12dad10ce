/* Routing change records to the apply workers, and the task phase (see the header). */
#include "workers/capture_route.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "ipc/record.h"
#include "workers/pg_task.h"

int64_t capture_wall_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

bool capture_stop_now(worker_context *ctx)
{
	if (worker_wait(ctx, NULL, 0, 0) == WORKER_WAKE_PARENT_GONE)
		return true;
	if (worker_reload_requested)
		worker_process_reload(ctx);
	return worker_stop_requested || worker_fast_requested;
}

int capture_router_open(capture_router *r, worker_context *ctx, task_shm *shm)
{
	r->ctx = ctx;
	r->shm = shm;
	r->ts = shm->state;
	r->exit_code = -1;
	/* The plan is published by now (see capture_wait_load()). */
	taskstate_changed(r->ts);
	pg_task_spill_dir(ctx, r->dir, sizeof r->dir);
	for (int w = 1; w <= shm->n_apply; w++) {
		char name[64], err[512];
		snprintf(name, sizeof name, "apply-%d", w);
		spill_options o = {.dir = r->dir, .worker = name, .codec = pg_task_codec(ctx->task)};
		r->queues[w] = queue_producer_open(shm->queues[w], shm->rings[w], &r->ts->spill, &o, err, sizeof err);
		if (r->queues[w] == NULL)
			return pg_task_fail(ctx, FERRY_EXIT_FATAL, "spill directory %s: %s", r->dir, err);
	}
	return 0;
}

void capture_router_close(capture_router *r)
{
	for (int w = 1; w <= TASKSTATE_MAX_APPLY; w++) {
		if (r->queues[w]) {
			queue_producer_flush(r->queues[w]);
			queue_producer_close(r->queues[w]);
			r->queues[w] = NULL;
		}
	}
	if (r->shm)
		for (int w = 1; w <= r->shm->n_apply; w++)
			ring_detach_producer(r->shm->rings[w]);
}

static int put(capture_router *r, int w, const void *rec, size_t len)
{
	for (;;) {
		queue_result q = queue_put(r->queues[w], rec, len, 0, NULL);
		if (q == QUEUE_OK)
			return 0;
		if (q != QUEUE_FULL) {
			r->exit_code = pg_task_fail(r->ctx, FERRY_EXIT_TRANSIENT, "queue of apply %s.%d: %s",
						    r->ctx->task->name, w, queue_producer_error(r->queues[w]));
			return -1;
		}
		/* Spill cap reached: pause reading the source until apply frees space. */
		queue_producer_wait(r->queues[w], 1000);
		if (capture_stop_now(r->ctx)) {
			r->exit_code = PG_TASK_FINISHED;
			return -1;
		}
	}
}

static int route_commit(capture_router *r, const void *rec, size_t len)
{
	record_view v;
	record_error e;
	if (record_decode(rec, len, &v, &e) < 0) {
		r->exit_code = pg_task_fail(r->ctx, FERRY_EXIT_FATAL, "bad COMMIT record: %s", e.what);
		return -1;
	}
	for (int w = 1; w <= r->shm->n_apply; w++) {
		if (!r->begun[w])
			continue;
		if (put(r, w, rec, len) < 0)
			return -1;
		if (r->emitted[w] <= atomic_load(&r->ts->apply_committed[w]))
			r->pending_since_us[w] = v.hdr.commit_time_us;
		r->emitted[w] = v.hdr.position;
		r->begun[w] = false;
	}
	return 0;
}

int capture_router_emit(void *arg, uint32_t table_id, const void *rec, size_t len)
{
	capture_router *r = arg;
	uint8_t op = len > 0 ? ((const uint8_t *)rec)[0] : 0;
	if (op == RECORD_OP_BEGIN) {
		if (len > sizeof r->begin_rec) {
			r->exit_code = pg_task_fail(r->ctx, FERRY_EXIT_FATAL, "BEGIN record of %zu bytes", len);
			return -1;
		}
		memcpy(r->begin_rec, rec, len);
		r->begin_len = len;
		return 0;
	}
	if (op == RECORD_OP_COMMIT)
		return route_commit(r, rec, len);
	if (table_id == 0 || (int)table_id > r->ts->n_tables)
		return 0;
	int w = r->ts->tables[table_id - 1].owner;
	if (!r->begun[w]) {
		if (put(r, w, r->begin_rec, r->begin_len) < 0)
			return -1;
		r->begun[w] = true;
	}
	if (op >= RECORD_OP_INSERT && op <= RECORD_OP_TRUNCATE)
		atomic_fetch_add(&r->ts->changes_captured, 1);
	return put(r, w, rec, len);
}

int capture_router_flush(capture_router *r)
{
	for (int w = 1; w <= r->shm->n_apply; w++) {
		queue_result q = queue_producer_flush(r->queues[w]);
		if (q == QUEUE_ERROR)
			return pg_task_fail(r->ctx, FERRY_EXIT_TRANSIENT, "queue of apply %d: %s", w,
					    queue_producer_error(r->queues[w]));
	}
	return 0;
}

uint64_t capture_router_applied(const capture_router *r, int64_t *oldest_us)
{
	uint64_t applied = UINT64_MAX;
	*oldest_us = 0;
	for (int w = 1; w <= r->shm->n_apply; w++) {
		uint64_t committed = atomic_load(&r->ts->apply_committed[w]);
		if (r->emitted[w] <= committed)
			continue;
		if (committed < applied)
			applied = committed;
		if (*oldest_us == 0 || r->pending_since_us[w] < *oldest_us)
			*oldest_us = r->pending_since_us[w];
	}
	return applied;
}

/* ---- phases ------------------------------------------------------------------------------ */

bool capture_load_finished(const taskstate *ts)
{
	for (int i = 0; i < ts->n_tables; i++) {
		int st = atomic_load(&ts->tables[i].state);
		if (st == TABLE_QUEUED || st == TABLE_LOADING)
			return false;
	}
	return true;
}

void capture_update_phase(worker_context *ctx, taskstate *ts)
{
	int phase = atomic_load(&ts->phase);
	if (phase == TASKSTATE_FULL_LOAD && capture_load_finished(ts)) {
		bool cdc = ctx->task->migration_type != MIGRATION_FULL_LOAD;
		atomic_store(&ts->phase, cdc ? TASKSTATE_CDC : TASKSTATE_DONE);
		taskstate_changed(ts);
		log_info("full load finished%s", cdc ? ": every table is catching up" : "");
	}
}

static bool load_finished(void *arg)
{
	return capture_load_finished(arg);
}

/* The load workers signal the task state's wake-up as each table leaves loading. */
int capture_wait_load(worker_context *ctx, taskstate *ts)
{
	/* Both captures publish their plan before they get here (the MySQL one has no
	 * other wait on the way): wake the workers waiting for it. */
	taskstate_changed(ts);
	for (;;) {
		worker_wake wake = worker_wait_for(ctx, &ts->changed, load_finished, ts);
		if (wake == WORKER_WAKE_READY)
			break;
		if (wake == WORKER_WAKE_PARENT_GONE)
			return FERRY_EXIT_TRANSIENT;
		if (worker_stop_requested || worker_fast_requested)
			return PG_TASK_FINISHED;
		if (worker_reload_requested)
			worker_process_reload(ctx);
	}
	capture_update_phase(ctx, ts);
	log_info("full load finished");
	return PG_TASK_FINISHED;
}
