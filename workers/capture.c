/* capture: reads the source's transaction log and routes each change to the apply
 * worker that owns its table (ring or spill).
 *
 * This file is the PostgreSQL source's capture (into a PostgreSQL or MySQL/MariaDB target,
 * whose calls go through workers/target.h); a MySQL/MariaDB source's is capture_my.c.
 * Both route records and report the phase through capture_route.h. Pairs without
 * engines keep the connect-and-wait behaviour until their engines exist.
 *
 * Order of work (the design's "Consistency between full load and CDC"):
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
#include "workers/capture_route.h"
#include "workers/idle.h"
#include "workers/my_task.h"
#include "workers/worker_mains.h"

#define STATUS_INTERVAL_MS 1000   /* standby status to the source */
#define POSITIONS_INTERVAL_MS 100 /* positions and lag in the task state (status, the
				     apply workers' in-sync test): cheap, and a catch-up
				     shows as done within this much of its end */
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
	capture_router router;
} capture_proc;

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
	uint64_t applied = capture_router_applied(&cp->router, oldest_us);
	if (applied == UINT64_MAX) {
		pg_capture_stats st;
		pg_capture_get_stats(cp->conv, &st);
		applied = st.last_emitted_lsn;
	}
	return applied;
}

/* taskstate's applied_lsn: as applied_position, but past the received end when idle. */
static uint64_t applied_through(capture_proc *cp, uint64_t applied, uint64_t received)
{
	for (int w = 1; w <= cp->shm->n_apply; w++)
		if (cp->router.emitted[w] > atomic_load(&cp->ts->apply_committed[w]))
			return applied;
	return received > applied ? received : applied;
}

/* The positions in the task state but flushed_lsn (what the source was told, see
 * send_status); returns the flush position to confirm. */
static uint64_t publish_positions(capture_proc *cp)
{
	int64_t oldest_us;
	uint64_t applied = applied_position(cp, &oldest_us);
	uint64_t flush = pg_capture_flush_lsn(cp->conv, applied);
	pg_capture_stats st;
	pg_capture_get_stats(cp->conv, &st);
	atomic_store(&cp->ts->received_lsn, st.received_lsn);
	atomic_store(&cp->ts->applied_lsn, applied_through(cp, applied, st.received_lsn));
	/* Lag: what the source has sent that the target does not have yet. */
	uint64_t end = st.last_commit_end > flush ? st.last_commit_end : flush;
	atomic_store(&cp->ts->lag_bytes, end > flush ? end - flush : 0);
	atomic_store(&cp->ts->lag_seconds, oldest_us > 0 ? (capture_wall_us() - oldest_us) / 1000000 : 0);
	return flush;
}

static int send_status(capture_proc *cp, bool reply)
{
	uint64_t flush = publish_positions(cp);
	char err[512];
	if (pg_capture_send_status(cp->conv, &cp->stream, flush, reply, err, sizeof err) < 0)
		return pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "standby status: %s", err);
	atomic_store(&cp->ts->flushed_lsn, flush);
	return 0;
}

/* ---- phases --------------------------------------------------------------------------- */

static bool all_imported(const capture_proc *cp)
{
	for (int n = 1; n <= cp->ctx->task->load_workers && n <= TASKSTATE_MAX_LOAD; n++)
		if (!atomic_load(&cp->ts->imported[n]))
			return false;
	return true;
}

static bool snapshot_taken(void *arg)
{
	const capture_proc *cp = arg;
	return all_imported(cp) || capture_load_finished(cp->ts);
}

/* Keeps the exported snapshot's connection idle until the load workers have it (each
 * signals the task state's wake-up once it has). */
static int hold_snapshot(capture_proc *cp)
{
	while (atomic_load(&cp->ts->snapshot_state) == SNAPSHOT_EXPORTED) {
		worker_wake wake = worker_wait_for(cp->ctx, &cp->ts->changed, snapshot_taken, cp);
		if (wake == WORKER_WAKE_READY) {
			atomic_store(&cp->ts->snapshot_state, SNAPSHOT_RELEASED);
			log_info("snapshot %s released: every load worker has imported it", cp->ts->snapshot);
			break;
		}
		if (wake == WORKER_WAKE_PARENT_GONE)
			return FERRY_EXIT_TRANSIENT;
		if (worker_stop_requested || worker_fast_requested)
			return PG_TASK_FINISHED;
		if (worker_reload_requested)
			worker_process_reload(cp->ctx);
	}
	return 0;
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
				 .filters = cp->sel.filters,
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
				 .target = cp->target->pg, .ops = target_ops_for(cp->ctx->task), .target_ep = cp->target,
				 .fresh_slot = full_only || cp->prep.slot_created, .shared_snapshot = snapshot};
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
	taskstate_changed(cp->ts);
	log_info("plan published%s%s", snapshot ? "; snapshot " : "", snapshot ? cp->prep.snapshot : "");
	return 0;
}

/* ---- streaming ------------------------------------------------------------------------ */

static int start_stream(capture_proc *cp)
{
	char spool[1100], err[512];
	snprintf(spool, sizeof spool, "%s/txn-%s", cp->ctx->config->ferryd.data_dir, cp->ctx->task->name);
	pg_capture_options o = {.emit = capture_router_emit, .emit_arg = &cp->router, .lookup = lookup, .lookup_arg = cp,
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
			if (cp->router.exit_code >= 0)
				return cp->router.exit_code;
			return pg_task_fail(cp->ctx, FERRY_EXIT_TRANSIENT, "%s", pg_capture_error(cp->conv));
		}
		if (r == 1)
			*reply_now = true;
	}
	return 0;
}

static int stream_loop(capture_proc *cp)
{
	uint64_t next_status = 0, next_positions = 0;
	for (;;) {
		bool reply_now = false;
		int rc = drain_stream(cp, &reply_now);
		if (rc == 0)
			rc = capture_router_flush(&cp->router);
		uint64_t now = worker_now_ms();
		if (rc == 0 && (reply_now || now >= next_status)) {
			rc = send_status(cp, false);
			next_status = now + STATUS_INTERVAL_MS;
			next_positions = now + POSITIONS_INTERVAL_MS;
			capture_update_phase(cp->ctx, cp->ts);
		} else if (rc == 0 && now >= next_positions) {
			publish_positions(cp);
			next_positions = now + POSITIONS_INTERVAL_MS;
		}
		if (rc != 0)
			return rc;
		struct pollfd fd = {.fd = PQsocket(cp->repl), .events = POLLIN};
		now = worker_now_ms();
		uint64_t next = next_positions < next_status ? next_positions : next_status;
		worker_wake wake = worker_wait(cp->ctx, &fd, 1, next > now ? (int64_t)(next - now) : 0);
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

/* Before the slot and publication exist: target tables the task keeps must fit. */
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
		return capture_wait_load(cp->ctx, cp->ts);
	atomic_store(&cp->ctx->status->active, 1);
	if ((rc = capture_router_open(&cp->router, cp->ctx, cp->shm)) != 0 || (rc = start_stream(cp)) != 0)
		return rc;
	return stream_loop(cp);
}

static void cleanup(capture_proc *cp)
{
	capture_router_close(&cp->router);
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
	if (my_task_is_my_source(ctx->task))
		return capture_my_main(ctx);
	if (ctx->task->source_ep == NULL || ctx->task->source_ep->engine != ENGINE_POSTGRESQL ||
	    target_ops_for(ctx->task) == NULL)
		return worker_idle_main(ctx, WORKER_USES_SOURCE);
	capture_proc *cp = calloc(1, sizeof *cp);
	if (cp == NULL)
		return FERRY_EXIT_TRANSIENT;
	cp->ctx = ctx;
	cp->router.exit_code = -1;
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
