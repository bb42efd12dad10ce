/* Builds the status JSON from the process table, the task table and the workers' shared
 * status slots. Read-only: the supervisor takes no locks in shared memory, it reads the
 * atomics each worker writes. */
#include "supervisor/statusdoc.h"

#include <stdatomic.h>
#include <string.h>

#include "supervisor/restart.h"
#include "supervisor/supervisor.h"

const char *statusdoc_worker_state(const proc_slot *slot, const worker_status *st)
{
	switch (slot->state) {
	case PROC_RUNNING: {
		worker_state ws = (worker_state)atomic_load(&st->state);
		/* exited but not reaped yet, or not yet through its own setup */
		if (ws == WORKER_STATE_EXITED)
			return "stopping";
		if (ws == WORKER_STATE_FREE)
			return "starting";
		return worker_state_name(ws);
	}
	case PROC_BACKOFF: return slot->ever_started ? "backoff" : "starting";
	case PROC_STOPPED: return "stopped";
	case PROC_FAILED: return "failed";
	case PROC_FREE: break;
	}
	return "unknown";
}

static void worker_json(const supervisor *s, int slot_no, int64_t now_ms, jsonbuf *jb)
{
	const proc_slot *slot = &s->procs.slots[slot_no];
	const worker_status *st = &s->status[slot_no];
	json_object_begin(jb);
	json_member_string(jb, "name", slot->name);
	json_member_string(jb, "kind", worker_kind_name(slot->kind));
	json_member_int(jb, "index", slot->index);
	json_key(jb, "pid");
	if (slot->pid > 0)
		json_int(jb, slot->pid);
	else
		json_null(jb);
	json_member_string(jb, "state", statusdoc_worker_state(slot, st));
	json_member_int(jb, "restarts", slot->restarts);
	char exit_text[64];
	if (slot->has_exited)
		restart_short_exit(slot->last_status, exit_text, sizeof exit_text);
	json_member_string(jb, "last_exit", slot->has_exited ? exit_text : NULL);
	/* The worker writes last_error before it exits; read it as a snapshot. */
	char err[WORKER_ERROR_MAX];
	memcpy(err, st->last_error, sizeof err);
	err[sizeof err - 1] = '\0';
	json_member_string(jb, "last_error", err[0] ? err : NULL);
	json_key(jb, "restart_in_ms");
	if (slot->state == PROC_BACKOFF && slot->ever_started)
		json_int(jb, slot->next_start_ms > now_ms ? slot->next_start_ms - now_ms : 0);
	else
		json_null(jb);
	json_object_end(jb);
}

/* Written by the task's workers; read as a snapshot (texts may be mid-update: copied). */
static void table_json(const taskstate_table *t, jsonbuf *jb)
{
	json_object_begin(jb);
	json_member_string(jb, "name", t->source_name);
	json_member_string(jb, "target", t->target_name);
	json_member_string(jb, "state", table_state_name((table_state)atomic_load(&t->state)));
	json_member_int(jb, "rows_loaded", taskstate_rows_loaded(t));
	json_member_int(jb, "rows_in_flight", atomic_load(&t->rows_in_flight));
	json_member_int(jb, "rows_estimated", atomic_load(&t->rows_estimated));
	json_member_int(jb, "changes_applied", (int64_t)atomic_load(&t->changes_applied));
	json_key(jb, "changes_by_op");
	json_object_begin(jb);
	static const char *const op_names[4] = {"insert", "update", "delete", "truncate"};
	for (int op = 0; op < 4; op++)
		json_member_int(jb, op_names[op], (int64_t)atomic_load(&t->applied_by_op[op]));
	json_object_end(jb);
	json_member_int(jb, "partitions", atomic_load(&t->parts_total));
	json_member_int(jb, "partitions_done", atomic_load(&t->parts_done));
	json_member_int(jb, "invalid_values", (int64_t)atomic_load(&t->invalid_values));
	char err[TASKSTATE_ERROR_MAX];
	memcpy(err, t->error, sizeof err);
	err[sizeof err - 1] = '\0';
	json_member_string(jb, "error", atomic_load(&t->error_seq) && err[0] ? err : NULL);
	json_key(jb, "validation");
	json_object_begin(jb);
	json_member_string(jb, "state", validation_state_name((validation_state)atomic_load(&t->validation)));
	json_member_int(jb, "rows_validated", atomic_load(&t->rows_validated));
	json_member_int(jb, "rows_differing", atomic_load(&t->rows_differing));
	json_member_int(jb, "validated_at_us", atomic_load(&t->validated_at_us));
	json_object_end(jb);
	json_object_end(jb);
}

static void task_json(const supervisor *s, int task_no, int64_t now_ms, jsonbuf *jb)
{
	const task_state *t = &s->tasks.tasks[task_no];
	json_object_begin(jb);
	json_member_string(jb, "name", t->name);
	json_member_string(jb, "phase", task_phase_name(t->phase));
	json_member_string(jb, "error", t->error);
	json_key(jb, "workers");
	json_array_begin(jb);
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		if (s->procs.slots[i].state != PROC_FREE && s->procs.slots[i].task == task_no)
			worker_json(s, i, now_ms, jb);
	}
	json_array_end(jb);
	const taskstate *ts = s->task_shm ? s->task_shm[task_no].state : NULL;
	if (ts != NULL) {
		json_member_int(jb, "lag_bytes", (int64_t)atomic_load(&ts->lag_bytes));
		json_member_int(jb, "lag_seconds", atomic_load(&ts->lag_seconds));
		json_member_int(jb, "spill_bytes", (int64_t)atomic_load(&ts->spill.used));
		/* Source positions (LSN on PostgreSQL) as integers: received from the source,
		 * and before which every committed transaction is on the target. */
		json_member_int(jb, "received_position", (int64_t)atomic_load(&ts->received_lsn));
		json_member_int(jb, "applied_position", (int64_t)atomic_load(&ts->applied_lsn));
		/* a MariaDB source's GTID state at applied_position ("" unknown: null) */
		char gtid[TASKSTATE_GTID_MAX];
		taskstate_gtid_get(ts, gtid, sizeof gtid);
		json_member_string(jb, "applied_gtid", gtid[0] ? gtid : NULL);
		json_member_int(jb, "changes_captured", (int64_t)atomic_load(&ts->changes_captured));
	}
	json_key(jb, "tables");
	json_array_begin(jb);
	if (ts != NULL && atomic_load(&ts->plan_ready)) {
		for (int i = 0; i < ts->n_tables; i++)
			table_json(&ts->tables[i], jb);
	}
	json_array_end(jb);
	json_object_end(jb);
}

void statusdoc_build(const supervisor *s, jsonbuf *jb)
{
	int64_t now_ms = supervisor_now_ms();
	json_object_begin(jb);
	json_key(jb, "ferryd");
	json_object_begin(jb);
	json_member_int(jb, "pid", s->pid);
	json_member_string(jb, "config", s->config->path);
	json_member_int(jb, "uptime_s", (now_ms - s->started_ms) / 1000);
	json_member_string(jb, "log_level", log_level_name(s->config->ferryd.log_level));
	json_member_string(jb, "shutdown", s->shutdown == SHUTDOWN_NONE ? NULL : shutdown_mode_name(s->shutdown));
	json_object_end(jb);
	json_key(jb, "tasks");
	json_array_begin(jb);
	for (int i = 0; i < s->tasks.count; i++)
		task_json(s, i, now_ms, jb);
	json_array_end(jb);
	json_object_end(jb);
}
