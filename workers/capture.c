/* capture: reads the source's transaction log and routes each change to the apply
 * worker that owns its table (ring or spill).
 *
 * A PostgreSQL source into a PostgreSQL or MySQL/MariaDB target (the target's calls go
 * through workers/target.h); every other pair keeps the connect-and-wait behaviour until
 * its engines exist.
 *
 * Order of work (DESIGN.md "Consistency between full load and CDC"):
 *  1. connect: an ordinary source connection, the target, the replication connection;
 *  2. read the source catalog, apply the rules;
 *  3. prepare the source (preflight, publication, slot with an exported snapshot when
 *     new; P0 = the slot's consistent point); full-load only: export a snapshot from a
 *     REPEATABLE READ transaction instead, no slot;
 *  4. first start in this ferryd: target DDL, table owners, partitions into the task
 *     state, then publish the plan; a restarted capture finds the plan published;
 *  5. hold the snapshot (its connection idle) until every load worker has imported it
 *     or the load is over;
 *  6. stream from the slot: records to the owning apply worker's queue, standby status
 *     with the lowest position every apply worker still needs.
 * A full-load task ends when every table is loaded (exit 0). */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "ipc/record.h"
#include "workers/capture_int.h"
#include "workers/idle.h"
#include "workers/worker_mains.h"

#define STATUS_INTERVAL_MS 1000   /* standby status and task counters */
#define WAIT_POLL_MS 200          /* waiting on the load workers (task state) */
#define DRAIN_EVENTS_MAX 4096     /* stream events between two looks at the signal flags */

typedef struct capture_proc {
	worker_context *ctx;
	task_shm *shm;
	taskstate *ts;
	endpoint_conn *source, *target;
	PGconn *repl;
	pg_task_tables tables;
	capture_selection sel;
	pg_capture_prepared prep;
	pg_capture *conv;
	pg_repl_stream stream;
	bool streaming;
	queue_producer *queues[TASKSTATE_MAX_APPLY + 1];
	/* Routing of the current source transaction. */
	uint8_t begin_rec[64];
	size_t begin_len;
	bool begun[TASKSTATE_MAX_APPLY + 1];
	uint64_t emitted[TASKSTATE_MAX_APPLY + 1]; /* last COMMIT position sent to each worker */
	int64_t pending_since_us[TASKSTATE_MAX_APPLY + 1];
	int exit_code;                             /* set by emit when it must stop */
	char dir[1024];
} capture_proc;

static int64_t wall_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Signals are delivered inside worker_wait() only: look at them now. */
static bool stop_now(capture_proc *cp)
{
	if (worker_wait(cp->ctx, NULL, 0, 0) == WORKER_WAKE_PARENT_GONE)
		return true;
	if (worker_reload_requested)
		worker_process_reload(cp->ctx);
	return worker_stop_requested || worker_fast_requested;
}

/* ---- routing ------------------------------------------------------------------------ */

static int put(capture_proc *cp, int w, const void *rec, size_t len)
{
	for (;;) {
		queue_result r = queue_put(cp->queues[w], rec, len, 0, NULL);
		if (r == QUEUE_OK)
			return 0;
		if (r != QUEUE_FULL) {
			cp->exit_code = pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "queue of apply %s.%d: %s",
						     cp->ctx->task->name, w, queue_producer_error(cp->queues[w]));
			return -1;
		}
		/* Spill cap reached: pause reading the source until apply frees space. */
		queue_producer_wait(cp->queues[w], 1000);
		if (stop_now(cp)) {
			cp->exit_code = PG_TASK_FINISHED;
			return -1;
		}
	}
}

static int route_commit(capture_proc *cp, const void *rec, size_t len)
{
	record_view v;
	record_error e;
	if (record_decode(rec, len, &v, &e) < 0) {
		cp->exit_code = pg_task_fail(cp->ctx, FERRY_EXIT_FATAL, "bad COMMIT record: %s", e.what);
		return -1;
	}
	for (int w = 1; w <= cp->shm->n_apply; w++) {
		if (!cp->begun[w])
			continue;
		if (put(cp, w, rec, len) < 0)
			return -1;
		if (cp->emitted[w] <= atomic_load(&cp->ts->apply_committed[w]))
			cp->pending_since_us[w] = v.hdr.commit_time_us;
		cp->emitted[w] = v.hdr.position;
		cp->begun[w] = false;
	}
	return 0;
}

/* The converter's emit: BEGIN is held until a record of the transaction goes to a
 * worker; COMMIT goes to every worker that got the BEGIN. */
static int route(void *arg, uint32_t table_id, const void *rec, size_t len)
{
	capture_proc *cp = arg;
	uint8_t op = len > 0 ? ((const uint8_t *)rec)[0] : 0;
	if (op == RECORD_OP_BEGIN) {
		if (len > sizeof cp->begin_rec) {
			cp->exit_code = pg_task_fail(cp->ctx, FERRY_EXIT_FATAL, "BEGIN record of %zu bytes", len);
			return -1;
		}
		memcpy(cp->begin_rec, rec, len);
		cp->begin_len = len;
		return 0;
	}
	if (op == RECORD_OP_COMMIT)
		return route_commit(cp, rec, len);
	if (table_id == 0 || (int)table_id > cp->ts->n_tables)
		return 0;
	int w = cp->ts->tables[table_id - 1].owner;
	if (!cp->begun[w]) {
		if (put(cp, w, cp->begin_rec, cp->begin_len) < 0)
			return -1;
		cp->begun[w] = true;
	}
	if (op >= RECORD_OP_INSERT && op <= RECORD_OP_TRUNCATE)
		atomic_fetch_add(&cp->ts->changes_captured, 1);
	return put(cp, w, rec, len);
}

/* The converter's lookup: a relation of the plan, by oid, with the rules applied to
 * the columns the stream carries. */
static int lookup(void *arg, const pg_capture_source_rel *rel, pg_capture_mapping *out, char *err, size_t errlen)
{
	capture_proc *cp = arg;
	int k = -1;
	for (int i = 0; i < cp->ts->n_tables; i++)
		if (cp->ts->tables[i].source_oid == rel->relid)
			k = i;
	if (k < 0)
		return 0;
	bool *is_key = calloc((size_t)rel->ncols + 1, sizeof *is_key);
	if (is_key == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int c = 0; rel->is_key && c < rel->ncols; c++)
		is_key[c] = rel->is_key[c];
	rules_source_table src = {.schema = rel->schema, .name = rel->name, .columns = rel->columns,
				  .is_key = rel->is_key ? is_key : NULL, .n_columns = rel->ncols};
	config_diag diag = {0};
	int r = rules_resolve_table(cp->tables.rules, &src, &out->table, &diag);
	free(is_key);
	if (r < 0)
		snprintf(err, errlen, "%s", diag.errors.count ? diag.errors.items[0] : "rules failed");
	config_diag_free(&diag);
	if (r <= 0)
		return r;
	out->table_id = (uint32_t)k + 1;
	return 1;
}

/* ---- positions ---------------------------------------------------------------------- */

/* The lowest position every apply worker with work outstanding has committed; when none
 * has any, everything emitted is applied. */
static uint64_t applied_position(capture_proc *cp, int64_t *oldest_us)
{
	uint64_t applied = UINT64_MAX;
	*oldest_us = 0;
	for (int w = 1; w <= cp->shm->n_apply; w++) {
		uint64_t committed = atomic_load(&cp->ts->apply_committed[w]);
		if (cp->emitted[w] <= committed)
			continue;
		if (committed < applied)
			applied = committed;
		if (*oldest_us == 0 || cp->pending_since_us[w] < *oldest_us)
			*oldest_us = cp->pending_since_us[w];
	}
	if (applied == UINT64_MAX) {
		pg_capture_stats st;
		pg_capture_get_stats(cp->conv, &st);
		applied = st.last_emitted_lsn;
	}
	return applied;
}

static int send_status(capture_proc *cp, bool reply)
{
	int64_t oldest_us;
	uint64_t flush = pg_capture_flush_lsn(cp->conv, applied_position(cp, &oldest_us));
	char err[512];
	if (pg_capture_send_status(cp->conv, &cp->stream, flush, reply, err, sizeof err) < 0)
		return pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "standby status: %s", err);
	pg_capture_stats st;
	pg_capture_get_stats(cp->conv, &st);
	atomic_store(&cp->ts->received_lsn, st.received_lsn);
	atomic_store(&cp->ts->flushed_lsn, flush);
	/* Lag: what the source has sent that the target does not have yet. */
	uint64_t end = st.last_commit_end > flush ? st.last_commit_end : flush;
	atomic_store(&cp->ts->lag_bytes, end > flush ? end - flush : 0);
	atomic_store(&cp->ts->lag_seconds, oldest_us > 0 ? (wall_us() - oldest_us) / 1000000 : 0);
	return 0;
}

/* ---- phases --------------------------------------------------------------------------- */

static bool load_finished(const taskstate *ts)
{
	for (int i = 0; i < ts->n_tables; i++) {
		int st = atomic_load(&ts->tables[i].state);
		if (st == TABLE_QUEUED || st == TABLE_LOADING)
			return false;
	}
	return true;
}

static bool all_imported(const capture_proc *cp)
{
	for (int n = 1; n <= cp->ctx->task->load_workers && n <= TASKSTATE_MAX_LOAD; n++)
		if (!atomic_load(&cp->ts->imported[n]))
			return false;
	return true;
}

/* Keeps the exported snapshot's connection idle until the load workers have it. */
static int hold_snapshot(capture_proc *cp)
{
	while (atomic_load(&cp->ts->snapshot_state) == SNAPSHOT_EXPORTED) {
		if (all_imported(cp) || load_finished(cp->ts)) {
			atomic_store(&cp->ts->snapshot_state, SNAPSHOT_RELEASED);
			log_info("snapshot %s released: every load worker has imported it", cp->ts->snapshot);
			break;
		}
		worker_wake wake = worker_wait(cp->ctx, NULL, 0, WAIT_POLL_MS);
		if (wake == WORKER_WAKE_PARENT_GONE)
			return FERRY_EXIT_TRANSIENT;
		if (worker_stop_requested || worker_fast_requested)
			return PG_TASK_FINISHED;
	}
	return 0;
}

static void update_phase(capture_proc *cp)
{
	int phase = atomic_load(&cp->ts->phase);
	if (phase == TASKSTATE_FULL_LOAD && load_finished(cp->ts)) {
		bool cdc = cp->ctx->task->migration_type != MIGRATION_FULL_LOAD;
		atomic_store(&cp->ts->phase, cdc ? TASKSTATE_CDC : TASKSTATE_DONE);
		log_info("full load finished%s", cdc ? ": every table is catching up" : "");
	}
}

/* ---- setup -------------------------------------------------------------------------- */

#define CAPTURE_NOTHING_SELECTED (-2)

/* Source first: a task that selects no table has nothing to set up (it then only holds
 * its source connection, like the workers of pairs without engines). */
static int connect_all(capture_proc *cp)
{
	status_set_state(cp->ctx->status, WORKER_STATE_CONNECTING);
	int rc = pg_task_connect(cp->ctx, ENDPOINT_SOURCE, &cp->source);
	if (rc != 0)
		return rc;
	char *err = NULL;
	if (pg_task_tables_read(cp->source->pg, cp->ctx->task, &cp->tables, &err) < 0) {
		int code = PQstatus(cp->source->pg) == CONNECTION_BAD ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL;
		rc = pg_task_fail(cp->ctx, code, "reading the source catalog: %s", err ? err : "failed");
		free(err);
		return rc;
	}
	if (capture_selection_build(&cp->tables, &cp->sel) < 0)
		return pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
	if (cp->sel.n == 0) {
		log_warning("task %s selects no table of the source (check include and exclude): nothing to migrate",
			    cp->ctx->task->name);
		return CAPTURE_NOTHING_SELECTED;
	}
	rc = pg_task_connect(cp->ctx, ENDPOINT_TARGET, &cp->target);
	if (rc == 0 && cp->ctx->task->migration_type != MIGRATION_FULL_LOAD)
		rc = pg_task_connect_replication(cp->ctx, &cp->repl);
	return rc;
}

/* Publication and slot (exported snapshot when new). */
static int prepare_source(capture_proc *cp)
{
	pg_capture_source src = {.schemas = cp->sel.schemas, .names = cp->sel.names, .n_tables = cp->sel.n,
				 .publication = cp->ctx->task->publication, .slot = cp->ctx->task->slot_name};
	char *err = NULL;
	endpoint_result r = pg_capture_prepare(cp->source->pg, cp->repl, &src, &cp->prep, &err);
	if (r != ENDPOINT_OK) {
		int code = pg_task_fail(cp->ctx, pg_task_exit_code(r), "source %s: %s", cp->source->name,
					err ? err : "preparing the source failed");
		free(err);
		return code;
	}
	if (cp->prep.warnings)
		log_warning("%s", cp->prep.warnings);
	log_info("source prepared: slot %s %s at %X/%X, publication %s %s", cp->ctx->task->slot_name,
		 cp->prep.slot_created ? "created" : "exists", (unsigned)(cp->prep.start_lsn >> 32),
		 (unsigned)cp->prep.start_lsn, cp->ctx->task->publication,
		 cp->prep.publication_created ? "created" : "exists");
	return 0;
}

/* Full load only: a snapshot exported from a REPEATABLE READ transaction on the ordinary
 * source connection, kept open until the load workers have imported it. */
static int export_snapshot(capture_proc *cp)
{
	PGconn *c = cp->source->pg;
	PQclear(PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
	PGresult *res = PQexec(c, "SELECT pg_export_snapshot()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		int code = pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "exporting a snapshot: %s", PQerrorMessage(c));
		PQclear(res);
		return code;
	}
	cp->prep.snapshot = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return cp->prep.snapshot ? 0 : pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
}

/* First capture of this ferryd: plan and publish. */
static int publish_plan(capture_proc *cp)
{
	bool full_only = cp->ctx->task->migration_type == MIGRATION_FULL_LOAD;
	bool snapshot = cp->prep.snapshot != NULL && cp->ctx->task->migration_type != MIGRATION_CDC;
	capture_plan_input in = {.ctx = cp->ctx, .ts = cp->ts, .tables = &cp->tables, .source = cp->source->pg,
				 .target = cp->target, .ops = target_ops_for(cp->ctx->task),
				 .fresh_slot = full_only || cp->prep.slot_created,
				 .shared_snapshot = snapshot};
	/* Planning reads estimates and key extremes outside the snapshot: the open ends of
	 * the first and last partition keep the plan complete whatever changed since. */
	int rc = capture_plan_task(&in);
	if (rc != 0)
		return rc;
	if (full_only && (rc = export_snapshot(cp)) != 0)
		return rc;
	if (cp->prep.snapshot && snapshot) {
		snprintf(cp->ts->snapshot, sizeof cp->ts->snapshot, "%s", cp->prep.snapshot);
		atomic_store(&cp->ts->snapshot_state, SNAPSHOT_EXPORTED);
	} else {
		atomic_store(&cp->ts->snapshot_state, SNAPSHOT_NONE);
	}
	atomic_store(&cp->ts->start_position, cp->prep.start_lsn);
	atomic_store(&cp->ts->phase, cp->ctx->task->migration_type == MIGRATION_CDC ? TASKSTATE_CDC
										       : TASKSTATE_FULL_LOAD);
	atomic_store_explicit(&cp->ts->plan_ready, 1, memory_order_release);
	log_info("plan published%s%s", snapshot ? "; snapshot " : "", snapshot ? cp->prep.snapshot : "");
	return 0;
}

static int open_queues(capture_proc *cp)
{
	pg_task_spill_dir(cp->ctx, cp->dir, sizeof cp->dir);
	for (int w = 1; w <= cp->shm->n_apply; w++) {
		char name[64], err[512];
		snprintf(name, sizeof name, "apply-%d", w);
		spill_options o = {.dir = cp->dir, .worker = name,
				   .codec = pg_task_codec(cp->ctx->task)};
		cp->queues[w] = queue_producer_open(cp->shm->queues[w], cp->shm->rings[w], &cp->ts->spill, &o, err,
						    sizeof err);
		if (cp->queues[w] == NULL)
			return pg_task_fail(cp->ctx, FERRY_EXIT_FATAL, "spill directory %s: %s", cp->dir, err);
	}
	return 0;
}

/* ---- streaming ------------------------------------------------------------------------ */

static int start_stream(capture_proc *cp)
{
	char spool[1100], err[512];
	snprintf(spool, sizeof spool, "%s/txn-%s", cp->ctx->config->ferryd.data_dir, cp->ctx->task->name);
	pg_capture_options o = {.emit = route, .emit_arg = cp, .lookup = lookup, .lookup_arg = cp,
				.type_names = pg_capture_pg_type_names, .type_names_arg = cp->source->pg,
				.spool_dir = spool, .spool_codec = pg_task_codec(cp->ctx->task),
				.start_lsn = cp->prep.start_lsn};
	cp->conv = pg_capture_new(&o, err, sizeof err);
	if (cp->conv == NULL)
		return pg_task_fail(cp->ctx, FERRY_EXIT_FATAL, "capture: %s", err);
	bool v2 = PQserverVersion(cp->repl) >= 140000;
	pg_repl_options ro = {.slot = cp->ctx->task->slot_name, .publication = cp->ctx->task->publication,
			      .start_lsn = cp->prep.start_lsn, .proto_version = v2 ? 2 : 1, .streaming = v2};
	char *e = NULL;
	if (pg_repl_start(cp->repl, &ro, &e) < 0) {
		int code = pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "START_REPLICATION: %s", e ? e : "failed");
		free(e);
		return code;
	}
	pg_repl_stream_init(&cp->stream, cp->repl);
	cp->streaming = true;
	log_info("streaming from slot %s at %X/%X", ro.slot, (unsigned)(ro.start_lsn >> 32), (unsigned)ro.start_lsn);
	return 0;
}

/* Reads what has arrived; 0 when the stream is drained for now, else an exit code. */
static int drain_stream(capture_proc *cp, bool *reply_now)
{
	for (int i = 0; i < DRAIN_EVENTS_MAX; i++) {
		pg_repl_event ev;
		char *err = NULL;
		int kind = pg_repl_read(&cp->stream, &ev, 0, &err);
		if (kind == PG_REPL_TIMEOUT || kind == PG_REPL_INTERRUPTED)
			return 0;
		if (kind == PG_REPL_END || kind == PG_REPL_ERROR) {
			int code = pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "source %s: %s", cp->source->name,
						err ? err : "the server ended the replication stream");
			free(err);
			return code;
		}
		int r = pg_capture_feed(cp->conv, &ev);
		if (r < 0) {
			if (cp->exit_code >= 0)
				return cp->exit_code;
			return pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "%s", pg_capture_error(cp->conv));
		}
		if (r == 1)
			*reply_now = true;
	}
	return 0;
}

static int flush_queues(capture_proc *cp)
{
	for (int w = 1; w <= cp->shm->n_apply; w++) {
		queue_result r = queue_producer_flush(cp->queues[w]);
		if (r == QUEUE_ERROR)
			return pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "queue of apply %d: %s", w,
					    queue_producer_error(cp->queues[w]));
	}
	return 0;
}

static int stream_loop(capture_proc *cp)
{
	uint64_t next_status = 0;
	for (;;) {
		bool reply_now = false;
		int rc = drain_stream(cp, &reply_now);
		if (rc == 0)
			rc = flush_queues(cp);
		if (rc == 0 && (reply_now || worker_now_ms() >= next_status)) {
			rc = send_status(cp, false);
			next_status = worker_now_ms() + STATUS_INTERVAL_MS;
			update_phase(cp);
		}
		if (rc != 0)
			return rc;
		struct pollfd fd = {.fd = PQsocket(cp->repl), .events = POLLIN};
		uint64_t now = worker_now_ms();
		worker_wake wake = worker_wait(cp->ctx, &fd, 1, next_status > now ? (int64_t)(next_status - now) : 0);
		if (wake == WORKER_WAKE_PARENT_GONE)
			return FERRY_EXIT_TRANSIENT;
		if (worker_reload_requested)
			worker_process_reload(cp->ctx);
		if (worker_stop_requested || worker_fast_requested) {
			send_status(cp, false);
			return PG_TASK_FINISHED;
		}
	}
}

/* Full load only: wait for the load to finish. */
static int wait_load(capture_proc *cp)
{
	while (!load_finished(cp->ts)) {
		worker_wake wake = worker_wait(cp->ctx, NULL, 0, WAIT_POLL_MS);
		if (wake == WORKER_WAKE_PARENT_GONE)
			return FERRY_EXIT_TRANSIENT;
		if (worker_stop_requested || worker_fast_requested)
			return PG_TASK_FINISHED;
	}
	update_phase(cp);
	log_info("full load finished");
	return PG_TASK_FINISHED;
}

/* Before the slot and publication exist: everything the target cannot take, so a refused
 * task leaves nothing behind on either side (workers/target.h). */
static int check_target(capture_proc *cp)
{
	const target_ops *ops = target_ops_for(cp->ctx->task);
	char *err = NULL;
	if (ops->check == NULL || ops->check(cp->target, &cp->tables, cp->ctx->task, &err) == 0)
		return 0;
	int code = ops->transient(cp->target) ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL;
	code = pg_task_fail(cp->ctx, code, "target %s: %s", cp->target->name, err ? err : "checking the tables failed");
	free(err);
	return code;
}

static int run(capture_proc *cp)
{
	int rc = connect_all(cp);
	if (rc == 0 && !atomic_load_explicit(&cp->ts->plan_ready, memory_order_acquire))
		rc = check_target(cp);
	if (rc == 0 && cp->repl != NULL)
		rc = prepare_source(cp);
	if (rc == 0 && !atomic_load_explicit(&cp->ts->plan_ready, memory_order_acquire))
		rc = publish_plan(cp);
	else if (rc == 0 && atomic_load(&cp->ts->snapshot_state) == SNAPSHOT_EXPORTED)
		/* The snapshot died with the capture that exported it. */
		atomic_store(&cp->ts->snapshot_state, SNAPSHOT_RELEASED);
	if (rc != 0)
		return rc;
	status_set_state(cp->ctx->status, WORKER_STATE_RUNNING);
	if ((rc = hold_snapshot(cp)) != 0)
		return rc;
	if (cp->ctx->task->migration_type == MIGRATION_FULL_LOAD)
		return wait_load(cp);
	atomic_store(&cp->ctx->status->active, 1);
	if ((rc = open_queues(cp)) != 0 || (rc = start_stream(cp)) != 0)
		return rc;
	return stream_loop(cp);
}

static void cleanup(capture_proc *cp)
{
	for (int w = 1; w <= TASKSTATE_MAX_APPLY; w++) {
		if (cp->queues[w]) {
			queue_producer_flush(cp->queues[w]);
			queue_producer_close(cp->queues[w]);
		}
	}
	if (cp->shm)
		for (int w = 1; w <= cp->shm->n_apply; w++)
			ring_detach_producer(cp->shm->rings[w]);
	if (cp->streaming)
		pg_repl_stream_free(&cp->stream);
	if (cp->conv)
		pg_capture_free(cp->conv);
	pg_capture_prepared_free(&cp->prep);
	capture_selection_free(&cp->sel);
	pg_task_tables_free(&cp->tables);
	if (cp->repl)
		PQfinish(cp->repl);
	if (cp->target)
		endpoint_close(cp->target);
	if (cp->source)
		endpoint_close(cp->source);
}

int capture_main(worker_context *ctx)
{
	if (target_ops_for(ctx->task) == NULL)
		return worker_idle_main(ctx, WORKER_USES_SOURCE);
	capture_proc *cp = calloc(1, sizeof *cp);
	if (cp == NULL)
		return FERRY_EXIT_TRANSIENT;
	cp->ctx = ctx;
	cp->exit_code = -1;
	cp->shm = taskstate_for_task(pg_task_index(ctx));
	if (cp->shm == NULL) {
		free(cp);
		return pg_task_fail(ctx, FERRY_EXIT_FATAL, "no shared task state");
	}
	cp->ts = cp->shm->state;
	int rc = run(cp);
	if (rc == CAPTURE_NOTHING_SELECTED) {
		cleanup(cp);
		free(cp);
		return worker_idle_main(ctx, WORKER_USES_SOURCE);
	}
	if (rc == PG_TASK_FINISHED)
		status_set_state(ctx->status, WORKER_STATE_STOPPING);
	cleanup(cp);
	if (rc == PG_TASK_FINISHED)
		atomic_store(&ctx->status->active, 0);
	free(cp);
	log_info(rc == PG_TASK_FINISHED ? "stopped" : "exiting");
	return rc == PG_TASK_FINISHED ? FERRY_EXIT_DONE : rc;
}
