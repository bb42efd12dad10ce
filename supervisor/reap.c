/* What happens after a worker dies: log the death, then leave it stopped, restart it
 * after its backoff, or put its task in error (fatal exit or crash loop). */
#include "supervisor/reap.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/log.h"
#include "supervisor/restart.h"
#include "supervisor/restart_group.h"
#include "supervisor/supervisor.h"

/* The worker's last_error (it writes it before exiting), or "". */
static void last_error_of(const supervisor *s, int slot_no, char *buf, size_t size)
{
	snprintf(buf, size, "%s", s->status[slot_no].last_error);
}

static void log_death(const proc_slot *slot, int status, bool expected, const char *last_error)
{
	char how[160];
	restart_describe_exit(status, how, sizeof how);
	log_level level = expected || restart_classify(status) == EXIT_KIND_DONE ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING;
	if (!expected && last_error[0])
		log_msg(level, "%s (pid %ld) %s; its last error: %s", slot->name, (long)slot->pid, how, last_error);
	else
		log_msg(level, "%s (pid %ld) %s", slot->name, (long)slot->pid, how);
}

static void on_fatal(supervisor *s, int slot_no, int status, const char *last_error)
{
	proc_slot *slot = &s->procs.slots[slot_no];
	char error[WORKER_ERROR_MAX + 128];
	if (last_error[0])
		snprintf(error, sizeof error, "%s", last_error);
	else
		snprintf(error, sizeof error, "%s exited with exit code %d (fatal) without recording a reason; see its log",
			 slot->name, WEXITSTATUS(status));
	slot->state = PROC_FAILED;
	log_error("%s failed with a fatal error and will not be restarted: %s", slot->name, error);
	task_fail(s, slot->task, error, slot_no);
}

static void on_crash_loop(supervisor *s, int slot_no, const restart_decision *d, const char *last_error)
{
	proc_slot *slot = &s->procs.slots[slot_no];
	const ferryd_config *cfg = &s->config->ferryd;
	char window[32], exit_text[64], error[WORKER_ERROR_MAX + 256];
	restart_format_duration(cfg->crash_loop_window_ms, window, sizeof window);
	restart_short_exit(slot->last_status, exit_text, sizeof exit_text);
	slot->state = PROC_FAILED;
	/* The one line that says what happened: worker, count, window, and the limit. */
	log_error("%s crashed %d times within %s (crash_loop_max = %d): not restarting it; task %s is in error",
		  slot->name, d->crashes, window, cfg->crash_loop_max, s->tasks.tasks[slot->task].name);
	snprintf(error, sizeof error, "%s crashed %d times within %s (last: %s%s%s)", slot->name, d->crashes, window,
		 exit_text, last_error[0] ? ": " : "", last_error);
	task_fail(s, slot->task, error, slot_no);
}

static void on_backoff(supervisor *s, proc_slot *slot, const restart_decision *d, int64_t now_ms)
{
	char delay[32], window[32];
	restart_format_duration(d->delay_ms, delay, sizeof delay);
	restart_format_duration(s->config->ferryd.crash_loop_window_ms, window, sizeof window);
	slot->state = PROC_BACKOFF;
	slot->next_start_ms = now_ms + d->delay_ms;
	if (d->crashes == 0) /* a transient exit: retried for as long as it takes */
		log_info("restarting %s in %s (it reported a transient failure: retried until it succeeds)",
			 slot->name, delay);
	else
		log_info("restarting %s in %s (%d crashes within %s; more than crash_loop_max = %d put its task in error)",
			 slot->name, delay, d->crashes, window, s->config->ferryd.crash_loop_max);
}

/* The dead-man flag (PostgreSQL's PMChildFlags): a worker sets it while attached to
 * rings or spill and clears it on a clean exit. Set at reap = it died mid-stream; once
 * rings exist, this is where the ring is reattached and the spill checked before any
 * restart. Until then there is nothing to repair: log it and reset it. */
static void check_dead_man(supervisor *s, int slot_no)
{
	worker_status *st = &s->status[slot_no];
	if (atomic_exchange(&st->active, 0))
		log_warning("%s died with its dead-man flag set (attached to rings or spill)",
			    s->procs.slots[slot_no].name);
}

/* One reaped worker: log, then the policy. */
static void worker_exited(supervisor *s, proc_slot *slot, int status, int64_t now_ms)
{
	int slot_no = (int)(slot - s->procs.slots);
	bool expected = slot->stop_requested || s->shutdown != SHUTDOWN_NONE;
	char last_error[WORKER_ERROR_MAX];
	last_error_of(s, slot_no, last_error, sizeof last_error);

	log_death(slot, status, expected, last_error);
	check_dead_man(s, slot_no);
	slot->last_status = status;
	slot->has_exited = true;
	proctable_release_pid(slot);
	if (slot->kind == WORKER_LOAD && s->task_shm != NULL)
		/* what it had not committed is not loaded: its restart copies it again */
		taskstate_set_loading(s->task_shm[slot->task].state, slot->index, -1, 0);
	if (slot->group_restart && !expected) {
		/* Not its own crash: start again as soon as the group is down. */
		slot->group_restart = false;
		slot->state = PROC_BACKOFF;
		slot->next_start_ms = now_ms;
		return;
	}
	slot->group_restart = false;
	if (expected) {
		slot->state = PROC_STOPPED;
		return;
	}
	restart_policy policy;
	restart_policy_from_config(&policy, &s->config->ferryd);
	restart_decision d = restart_on_exit(&policy, &slot->history, status, slot->started_ms, now_ms);
	switch (d.action) {
	case RESTART_NOT_DONE: slot->state = PROC_STOPPED; break;
	case RESTART_NOT_FATAL: on_fatal(s, slot_no, status, last_error); break;
	case RESTART_CRASH_LOOP: on_crash_loop(s, slot_no, &d, last_error); break;
	case RESTART_BACKOFF:
		on_backoff(s, slot, &d, now_ms);
		if (restart_group_member(slot->kind))
			restart_group_crashed(s, slot_no);
		break;
	}
}

void reap_children(supervisor *s)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0)
			return;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_error("waitpid failed: %s", strerror(errno));
			return;
		}
		proc_slot *slot = proctable_find_pid(&s->procs, pid);
		if (slot == NULL) {
			char how[160];
			restart_describe_exit(status, how, sizeof how);
			log_warning("reaped unknown process (pid %ld) that %s", (long)pid, how);
			continue;
		}
		worker_exited(s, slot, status, supervisor_now_ms());
	}
}
