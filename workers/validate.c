/* validate (validation = yes): compares each table of the task once it is in sync, then
 * again whenever CDC has changed it (its changes_applied moved), at most once per
 * validation_interval: with one integer key only the key ranges CDC touched (apply marks
 * them, workers/apply_touch.h), else the whole table. Results go to the task state
 * (status shows them) and every difference to this worker's log. Comparisons run against the live target like
 * `ferryctl validate` (workers/validate_table.h), over one connection per side, one
 * table at a time: a background check should not compete with the migration.
 *
 * A full-load task's worker exits once every table is checked, so the task can finish.
 * Every engine pair (workers/pg_validate_task.h picks the engines). */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "workers/idle.h"
#include "workers/pg_validate_task.h"
#include "workers/validate_report.h"
#include "workers/validate_table.h"
#include "workers/validate_touch.h"
#include "workers/worker_mains.h"

#define IDLE_WAIT_MS 1000
#define LOG_DIFFS_MAX 100

typedef struct validate_proc {
	worker_context *ctx;
	taskstate *ts;
	vd_env env;
	vd_pg_pool pool;
	bool pool_open;
	vd_pg_task vt;
	int *state_of;            /* [i]: task-state table of vt.tables[i], -1 none */
	uint64_t *seen_changes;   /* [i]: changes_applied when its last check began */
	uint64_t *checked_ms;     /* [i]: when its last check ended (monotonic); 0 never */
	bool parent_gone;
} validate_proc;

/* ---- the comparison's environment -------------------------------------------------- */

static int env_wait(void *arg, struct pollfd *fds, int nfds, int timeout_ms)
{
	validate_proc *vp = arg;
	worker_wake wake = worker_wait(vp->ctx, fds, nfds, timeout_ms);
	if (wake == WORKER_WAKE_PARENT_GONE) {
		vp->parent_gone = true;
		return 1;
	}
	if (worker_reload_requested)
		worker_process_reload(vp->ctx);
	return worker_stop_requested || worker_fast_requested ? 1 : 0;
}

/* The task's applied position: the target holds every transaction committed before it. */
static int env_position(void *arg, uint64_t *pos, char *err, size_t errlen)
{
	validate_proc *vp = arg;
	(void)err;
	(void)errlen;
	*pos = atomic_load(&vp->ts->applied_lsn);
	return 0;
}

/* ---- setup ------------------------------------------------------------------------- */

static int wait_plan(validate_proc *vp)
{
	while (!atomic_load_explicit(&vp->ts->plan_ready, memory_order_acquire))
		if (env_wait(vp, NULL, 0, 200) != 0)
			return vp->parent_gone ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_DONE;
	return 0;
}

static int connect_all(validate_proc *vp)
{
	char msg[ENDPOINT_MESSAGE_MAX], name[200];
	snprintf(name, sizeof name, "ferry validate %s", vp->ctx->task->name);
	endpoint_result r = vd_pg_pool_open(&vp->pool, vp->ctx->task, 1, name, &vp->env, msg, sizeof msg);
	vp->pool_open = true;
	if (r != ENDPOINT_OK)
		return pg_task_fail(vp->ctx, pg_task_exit_code(r), "%s", msg);
	status_set_state(vp->ctx->status, WORKER_STATE_READY);
	log_info("ready: waiting for the task's plan");
	return 0;
}

/* The task's tables, each matched with its task-state entry (capture's plan). */
static int read_tables(validate_proc *vp)
{
	char *err = NULL;
	if (vd_pg_task_read(&vp->pool, vp->ctx->task, &vp->vt, &err) < 0) {
		int code = pg_task_fail(vp->ctx, FERRY_EXIT_TRANSIENT, "reading the source catalog: %s", err ? err : "?");
		free(err);
		return code;
	}
	size_t n = (size_t)vp->vt.n + 1;
	vp->state_of = calloc(n, sizeof *vp->state_of);
	vp->seen_changes = calloc(n, sizeof *vp->seen_changes);
	vp->checked_ms = calloc(n, sizeof *vp->checked_ms);
	if (!vp->state_of || !vp->seen_changes || !vp->checked_ms)
		return pg_task_fail(vp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
	for (int i = 0; i < vp->vt.n; i++) {
		vp->state_of[i] = -1;
		for (int k = 0; k < vp->ts->n_tables; k++)
			if (strcmp(vp->ts->tables[k].source_name, vp->vt.tables[i].label) == 0)
				vp->state_of[i] = k;
		if (vp->state_of[i] >= 0)
			atomic_store(&vp->ts->tables[vp->state_of[i]].validation, VALIDATION_PENDING);
	}
	return 0;
}

/* ---- one table --------------------------------------------------------------------- */

static int64_t wall_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void log_result(const vd_table *t, const vd_table_result *r)
{
	if (r->status == VD_ERROR) {
		log_error("table %s: validation failed: %s", t->label, r->reason ? r->reason : "?");
		return;
	}
	if (r->status == VD_EQUAL) {
		log_info("table %s: %" PRId64 " rows equal (%.2f s)%s", t->label, r->rows_source, r->seconds,
			 r->rows_unsettled > 0 ? "; some rows kept changing and were not compared" : "");
		return;
	}
	strbuf out = STRBUF_INIT;
	vd_report_diffs(&out, t, r);
	const char *text = strbuf_str(&out);
	/* One log line per difference. */
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n"), indent = strspn(line, " ");
		if (indent > n)
			indent = n;
		log_warning("%.*s", (int)(n - indent), line + indent);
		line += n + (line[n] == '\n');
	}
	strbuf_free(&out);
}

/* What to compare of table i: *ranges (the key ranges CDC touched since the last check,
 * when the table was equal then) or, when false is returned, the whole table. Arms the
 * tracking of a table with one integer key before its first check. *nothing: it was
 * not touched at all. */
static bool touched_ranges(validate_proc *vp, int i, vd_range_list *ranges, bool *nothing)
{
	taskstate_table *st = &vp->ts->tables[vp->state_of[i]];
	const vd_table *t = &vp->vt.tables[i];
	*nothing = false;
	if (!t->int_key || !vp->env.live)
		return false;
	if (!atomic_load(&st->touch_on)) {
		int64_t lo = 0, hi = 0;
		bool found = false;
		if (vd_int_key_bounds(&vp->pool.pool, t, &lo, &hi, &found) == 0 && found)
			vd_touch_arm(st, lo, hi);
		return false;
	}
	vd_touch_take_result k = vd_touch_take(st, ranges);
	if (atomic_load(&st->validation) != VALIDATION_EQUAL) {
		vd_range_list_free(ranges);
		return false; /* a table that differed is checked whole until it is equal */
	}
	*nothing = k == VD_TOUCH_NOTHING;
	return k == VD_TOUCH_RANGES;
}

/* Compares table i. 0, or an exit code. */
static int check_table(validate_proc *vp, int i)
{
	taskstate_table *st = &vp->ts->tables[vp->state_of[i]];
	const vd_table *t = &vp->vt.tables[i];
	vp->seen_changes[i] = atomic_load(&st->changes_applied);
	vd_range_list ranges = {0};
	bool nothing, partial = touched_ranges(vp, i, &ranges, &nothing);
	if (nothing) {
		vp->checked_ms[i] = worker_now_ms();
		return 0;
	}
	int n_ranges = ranges.n;
	atomic_store(&st->validation, VALIDATION_RUNNING);
	vd_table_result r;
	int rc = partial ? vd_validate_ranges(&vp->pool.pool, t, &ranges, &r) : vd_validate_table(&vp->pool.pool, t, &r);
	vp->checked_ms[i] = worker_now_ms();
	if (rc != 0 || r.status == VD_ERROR)
		vd_touch_give_back(st); /* what this check took is checked again, whole */
	if (rc == 1) {
		atomic_store(&st->validation, VALIDATION_PENDING);
		vd_result_free(&r);
		return vp->parent_gone ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_DONE;
	}
	if (partial)
		log_info("table %s: re-checked only the key ranges CDC touched (%d)", t->label, n_ranges);
	log_result(t, &r);
	if (r.status != VD_ERROR) {
		if (!partial)
			atomic_store(&st->rows_validated, r.rows_source);
		atomic_store(&st->rows_differing, r.rows_differing);
		atomic_store(&st->validated_at_us, wall_us());
	}
	atomic_store(&st->validation, r.status == VD_EQUAL	   ? VALIDATION_EQUAL
				      : r.status == VD_DIFFERENT ? VALIDATION_DIFFERENT
								 : VALIDATION_ERROR);
	vd_result_free(&r);
	if (rc < 0)
		return pg_task_fail(vp->ctx, FERRY_EXIT_TRANSIENT, "table %s: a connection broke", t->label);
	return 0;
}

/* The next table due: never checked first, then changed ones whose interval passed.
 * -1 none; *wait_ms says when one may be due. */
static int next_table(validate_proc *vp, int64_t *wait_ms)
{
	uint64_t now = worker_now_ms(), interval = (uint64_t)vp->ctx->task->validation_interval_ms;
	int best = -1;
	*wait_ms = IDLE_WAIT_MS;
	for (int i = 0; i < vp->vt.n; i++) {
		if (vp->state_of[i] < 0)
			continue;
		taskstate_table *st = &vp->ts->tables[vp->state_of[i]];
		if (atomic_load(&st->state) != TABLE_IN_SYNC)
			continue;
		if (vp->checked_ms[i] == 0)
			return i;
		if (atomic_load(&st->changes_applied) == vp->seen_changes[i] &&
		    atomic_load(&st->validation) != VALIDATION_ERROR)
			continue;
		uint64_t due = vp->checked_ms[i] + interval;
		if (due <= now && (best < 0 || vp->checked_ms[i] < vp->checked_ms[best]))
			best = i;
		else if (due > now && (int64_t)(due - now) < *wait_ms)
			*wait_ms = (int64_t)(due - now);
	}
	return best;
}

/* A full-load task is over once every table of it was checked. */
static bool all_done(const validate_proc *vp)
{
	if (atomic_load(&vp->ts->phase) != TASKSTATE_DONE)
		return false;
	for (int i = 0; i < vp->vt.n; i++)
		if (vp->state_of[i] >= 0 && vp->checked_ms[i] == 0)
			return false;
	return true;
}

static int loop(validate_proc *vp)
{
	for (;;) {
		int64_t wait_ms;
		int i = next_table(vp, &wait_ms);
		if (i >= 0) {
			int rc = check_table(vp, i);
			if (rc != 0)
				return rc;
			if (env_wait(vp, NULL, 0, 0) != 0)
				return vp->parent_gone ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_DONE;
			continue;
		}
		if (all_done(vp)) {
			log_info("every table checked: the full load is over");
			return FERRY_EXIT_DONE;
		}
		if (env_wait(vp, NULL, 0, (int)wait_ms) != 0)
			return vp->parent_gone ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_DONE;
	}
}

static void cleanup(validate_proc *vp)
{
	free(vp->state_of);
	free(vp->seen_changes);
	free(vp->checked_ms);
	vd_pg_task_free(&vp->vt);
	if (vp->pool_open)
		vd_pg_pool_close(&vp->pool);
}

int validate_main(worker_context *ctx)
{
	if (!vd_task_pair_supported(ctx->task))
		return worker_idle_main(ctx, WORKER_USES_SOURCE | WORKER_USES_TARGET);
	task_shm *shm = taskstate_for_task(pg_task_index(ctx));
	if (shm == NULL)
		return pg_task_fail(ctx, FERRY_EXIT_FATAL, "no shared task state");
	validate_proc vp = {.ctx = ctx, .ts = shm->state};
	vp.env = (vd_env){.wait = env_wait, .target_position = env_position, .arg = &vp,
			  .live = ctx->task->migration_type != MIGRATION_FULL_LOAD, .catch_up_ms = 300000,
			  .retries = 3, .max_report = LOG_DIFFS_MAX, .leaf_rows = 2000};
	status_set_state(ctx->status, WORKER_STATE_CONNECTING);
	int rc = connect_all(&vp);
	if (rc == 0)
		rc = wait_plan(&vp);
	if (rc == 0)
		rc = read_tables(&vp);
	if (rc == 0) {
		status_set_state(ctx->status, WORKER_STATE_RUNNING);
		log_info("ready: %d tables to check as they come in sync (again at most every %" PRId64 " s when "
			 "changed)", vp.vt.n, ctx->task->validation_interval_ms / 1000);
		rc = loop(&vp);
	}
	if (rc == FERRY_EXIT_DONE)
		status_set_state(ctx->status, WORKER_STATE_STOPPING);
	cleanup(&vp);
	if (rc == FERRY_EXIT_DONE)
		log_info("stopped");
	return rc;
}
