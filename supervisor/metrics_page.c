/* Builds the /metrics page (see the header). Like statusdoc.c it only reads: the
 * workers write the shared atomics, the supervisor takes no lock. Enumerations (task
 * phase, table state, validation state, worker state) are state sets: one sample per
 * possible value, 1 for the current one, so a change shows as one series going to 0. */
#include "supervisor/metrics_page.h"

#include <stdatomic.h>
#include <string.h>

#include "supervisor/metrics_text.h"
#include "supervisor/statusdoc.h"
#include "supervisor/supervisor.h"

static const char *const op_names[4] = {"insert", "update", "delete", "truncate"};
static const char *const worker_states[] = {"starting", "connecting", "ready",   "running",
					    "stopping", "backoff",    "stopped", "failed"};
#define N_WORKER_STATES ((int)(sizeof worker_states / sizeof worker_states[0]))

/* ---- ferryd and tasks ------------------------------------------------------------- */

static const taskstate *task_state_of(const supervisor *s, int task)
{
	return s->task_shm ? s->task_shm[task].state : NULL;
}

static void task_phases(const supervisor *s, strbuf *out)
{
	prom_family(out, "ferry_task_phase", "gauge",
		    "Phase of the task: 1 for the current one (starting, full-load, cdc, stopped, error).");
	for (int t = 0; t < s->tasks.count; t++) {
		for (int p = TASK_STARTING; p <= TASK_ERROR; p++) {
			prom_label l[2] = {{"task", s->tasks.tasks[t].name}, {"phase", task_phase_name((task_phase)p)}};
			prom_sample(out, "ferry_task_phase", l, 2, s->tasks.tasks[t].phase == (task_phase)p);
		}
	}
}

typedef enum task_figure {
	TF_LAG_SECONDS, TF_LAG_BYTES, TF_SPILL_BYTES, TF_CAPTURED, TF_RECEIVED, TF_APPLIED
} task_figure;

static const struct {
	task_figure figure;
	const char *name, *type, *help;
} task_families[] = {
	{TF_LAG_SECONDS, "ferry_task_lag_seconds", "gauge",
	 "Seconds since the source committed the oldest transaction the target has not committed yet (0: caught "
	 "up)."},
	{TF_LAG_BYTES, "ferry_task_lag_bytes", "gauge", "Bytes of source log between what the target has committed and the last commit received."},
	{TF_SPILL_BYTES, "ferry_task_spill_bytes", "gauge", "Bytes of spill segments on disk (compressed)."},
	{TF_CAPTURED, "ferry_task_changes_captured_total", "counter",
	 "Changes read from the source log and handed to the apply workers."},
	{TF_RECEIVED, "ferry_task_received_position", "gauge",
	 "Furthest source log position received (PostgreSQL: LSN as an integer)."},
	{TF_APPLIED, "ferry_task_applied_position", "gauge",
	 "Source log position before which every source commit is on the target (moves on an idle source)."},
};

static int64_t task_figure_value(const taskstate *ts, task_figure f)
{
	switch (f) {
	case TF_LAG_SECONDS: return atomic_load(&ts->lag_seconds);
	case TF_LAG_BYTES: return (int64_t)atomic_load(&ts->lag_bytes);
	case TF_SPILL_BYTES: return (int64_t)atomic_load(&ts->spill.used);
	case TF_CAPTURED: return (int64_t)atomic_load(&ts->changes_captured);
	case TF_RECEIVED: return (int64_t)atomic_load(&ts->received_lsn);
	case TF_APPLIED: return (int64_t)atomic_load(&ts->applied_lsn);
	}
	return 0;
}

static void task_figures(const supervisor *s, strbuf *out)
{
	for (size_t f = 0; f < sizeof task_families / sizeof task_families[0]; f++) {
		prom_family(out, task_families[f].name, task_families[f].type, task_families[f].help);
		for (int t = 0; t < s->tasks.count; t++) {
			const taskstate *ts = task_state_of(s, t);
			if (ts == NULL)
				continue;
			prom_label l[1] = {{"task", s->tasks.tasks[t].name}};
			prom_sample(out, task_families[f].name, l, 1, task_figure_value(ts, task_families[f].figure));
		}
	}
}

/* ---- tables ------------------------------------------------------------------------ */

/* Calls fn for every table of every task whose plan is published, with the labels
 * task and table (the table's source name as status shows it, copied: it is text in
 * shared memory). */
typedef void (*table_fn)(strbuf *out, const taskstate_table *t, prom_label *labels, const void *arg);

static void for_each_table(const supervisor *s, strbuf *out, table_fn fn, const void *arg)
{
	for (int task = 0; task < s->tasks.count; task++) {
		const taskstate *ts = task_state_of(s, task);
		if (ts == NULL || !atomic_load_explicit(&ts->plan_ready, memory_order_acquire))
			continue;
		for (int i = 0; i < ts->n_tables; i++) {
			char name[TASKSTATE_NAME_MAX];
			memcpy(name, ts->tables[i].source_name, sizeof name);
			name[sizeof name - 1] = '\0';
			prom_label labels[3] = {{"task", s->tasks.tasks[task].name}, {"table", name}, {NULL, NULL}};
			fn(out, &ts->tables[i], labels, arg);
		}
	}
}

typedef enum table_figure {
	TBL_ROWS_LOADED, TBL_ROWS_ESTIMATED, TBL_PARTS, TBL_PARTS_DONE, TBL_VALIDATED, TBL_DIFFERING, TBL_VALIDATED_AT,
	TBL_INVALID
} table_figure;

static const struct {
	table_figure figure;
	const char *name, *type, *help;
} table_families[] = {
	{TBL_ROWS_LOADED, "ferry_table_rows_loaded", "gauge", "Rows copied to the target by the full load (with those of partitions still streaming)."},
	{TBL_ROWS_ESTIMATED, "ferry_table_rows_estimated", "gauge",
	 "Rows the source's statistics estimate for the table (0 when unknown)."},
	{TBL_PARTS, "ferry_table_partitions", "gauge", "Partitions the full load splits the table into."},
	{TBL_PARTS_DONE, "ferry_table_partitions_done", "gauge", "Partitions loaded."},
	{TBL_VALIDATED, "ferry_table_rows_validated", "gauge", "Rows compared by the last validation pass."},
	{TBL_DIFFERING, "ferry_table_rows_differing", "gauge",
	 "Rows that still differ between source and target after re-checks."},
	{TBL_VALIDATED_AT, "ferry_table_validated_timestamp_seconds", "gauge",
	 "End of the last full validation pass, seconds since 1970 (0: never)."},
	{TBL_INVALID, "ferry_table_invalid_values_total", "counter",
	 "Source values the target cannot hold, handled as invalid_values says."},
};

static void table_figure_sample(strbuf *out, const taskstate_table *t, prom_label *labels, const void *arg)
{
	const int *f = arg;
	int64_t v = 0;
	switch (table_families[*f].figure) {
	case TBL_ROWS_LOADED: v = taskstate_rows_loaded(t); break;
	case TBL_ROWS_ESTIMATED: v = atomic_load(&t->rows_estimated); break;
	case TBL_PARTS: v = atomic_load(&t->parts_total); break;
	case TBL_PARTS_DONE: v = atomic_load(&t->parts_done); break;
	case TBL_VALIDATED: v = atomic_load(&t->rows_validated); break;
	case TBL_DIFFERING: v = atomic_load(&t->rows_differing); break;
	case TBL_VALIDATED_AT: v = atomic_load(&t->validated_at_us) / 1000000; break;
	case TBL_INVALID: v = (int64_t)atomic_load(&t->invalid_values); break;
	}
	prom_sample(out, table_families[*f].name, labels, 2, v);
}

static void table_state_samples(strbuf *out, const taskstate_table *t, prom_label *labels, const void *arg)
{
	table_state now = (table_state)atomic_load(&t->state);
	for (int st = TABLE_QUEUED; st <= TABLE_ERROR; st++) {
		labels[2] = (prom_label){"state", table_state_name((table_state)st)};
		prom_sample(out, "ferry_table_state", labels, 3, now == (table_state)st);
	}
}

static void validation_samples(strbuf *out, const taskstate_table *t, prom_label *labels, const void *arg)
{
	validation_state now = (validation_state)atomic_load(&t->validation);
	for (int st = VALIDATION_NONE; st <= VALIDATION_ERROR; st++) {
		labels[2] = (prom_label){"state", validation_state_name((validation_state)st)};
		prom_sample(out, "ferry_table_validation_state", labels, 3, now == (validation_state)st);
	}
}

static void applied_samples(strbuf *out, const taskstate_table *t, prom_label *labels, const void *arg)
{
	for (int op = 0; op < 4; op++) {
		labels[2] = (prom_label){"op", op_names[op]};
		prom_sample(out, "ferry_table_changes_applied_total", labels, 3,
			    (int64_t)atomic_load(&t->applied_by_op[op]));
	}
}

static void table_metrics(const supervisor *s, strbuf *out)
{
	prom_family(out, "ferry_table_state", "gauge",
		    "State of the table: 1 for the current one (queued, loading, catching-up, in-sync, error).");
	for_each_table(s, out, table_state_samples, NULL);
	for (int f = 0; f < (int)(sizeof table_families / sizeof table_families[0]); f++) {
		prom_family(out, table_families[f].name, table_families[f].type, table_families[f].help);
		for_each_table(s, out, table_figure_sample, &f);
	}
	prom_family(out, "ferry_table_changes_applied_total", "counter",
		    "Changes applied to the target table, by operation (insert, update, delete, truncate).");
	for_each_table(s, out, applied_samples, NULL);
	prom_family(out, "ferry_table_validation_state", "gauge",
		    "Validation of the table: 1 for the current state (none, pending, running, equal, different, "
		    "error).");
	for_each_table(s, out, validation_samples, NULL);
}

/* ---- workers ----------------------------------------------------------------------- */

static void worker_labels(const supervisor *s, int slot_no, prom_label *l)
{
	const proc_slot *slot = &s->procs.slots[slot_no];
	l[0] = (prom_label){"task", s->tasks.tasks[slot->task].name};
	l[1] = (prom_label){"worker", slot->name};
	l[2] = (prom_label){"kind", worker_kind_name(slot->kind)};
}

static void worker_metrics(const supervisor *s, strbuf *out)
{
	prom_family(out, "ferry_worker_up", "gauge", "1 while the worker has a running process.");
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		prom_label l[3];
		if (s->procs.slots[i].state == PROC_FREE)
			continue;
		worker_labels(s, i, l);
		prom_sample(out, "ferry_worker_up", l, 3, s->procs.slots[i].state == PROC_RUNNING);
	}
	prom_family(out, "ferry_worker_restarts_total", "counter", "Times ferryd has restarted the worker.");
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		prom_label l[3];
		if (s->procs.slots[i].state == PROC_FREE)
			continue;
		worker_labels(s, i, l);
		prom_sample(out, "ferry_worker_restarts_total", l, 3, s->procs.slots[i].restarts);
	}
	prom_family(out, "ferry_worker_state", "gauge",
		    "State of the worker: 1 for the current one (as ferryctl status names it).");
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		prom_label l[4];
		if (s->procs.slots[i].state == PROC_FREE)
			continue;
		worker_labels(s, i, l);
		const char *now = statusdoc_worker_state(&s->procs.slots[i], &s->status[i]);
		for (int st = 0; st < N_WORKER_STATES; st++) {
			l[3] = (prom_label){"state", worker_states[st]};
			prom_sample(out, "ferry_worker_state", l, 4, strcmp(now, worker_states[st]) == 0);
		}
	}
}

void metrics_page_build(const supervisor *s, strbuf *out)
{
	prom_family(out, "ferry_uptime_seconds", "gauge", "Seconds since ferryd started.");
	prom_sample_seconds(out, "ferry_uptime_seconds", NULL, 0, (double)(supervisor_now_ms() - s->started_ms) / 1000.0);
	task_phases(s, out);
	task_figures(s, out);
	table_metrics(s, out);
	worker_metrics(s, out);
}
