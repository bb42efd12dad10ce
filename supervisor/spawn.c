/* fork() for workers. The child branch never returns into supervisor code: it ends in
 * worker_run(), which exits, or in _exit(). */
#include "supervisor/spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "supervisor/signals.h"
#include "supervisor/supervisor.h"

/* Runs in the child with every signal blocked (they were blocked across fork). */
static _Noreturn void child_main(supervisor *s, int slot_no, pid_t supervisor_pid)
{
	proc_slot *slot = &s->procs.slots[slot_no];

	signals_reset_in_child();
	/* Die with the supervisor. SIGKILL rather than SIGTERM: once it is gone nothing
	 * enforces a stop deadline, a restarted ferryd needs the replication slot and
	 * connections free at once, and every worker's progress is committed atomically with
	 * its data (see the checkpoints of the design), so an abrupt end loses nothing. The supervisor
	 * pipe (parent_fd) reports the same death to a worker's wait loop. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != supervisor_pid)
		_exit(FERRY_EXIT_TRANSIENT); /* it died before the prctl took effect */

	control_close_in_child(&s->control);
	metrics_close_in_child(&s->metrics);
	pidfile_close_in_child(s->pid_file);
	close(s->parent_pipe[1]); /* only the supervisor may hold the write end */
	log_close();		  /* the worker opens its own log file */

	/* worker_run() installs its handlers, then sets its own mask; TERM, INT and HUP
	 * stay blocked until then so an early stop request waits for the worker's handler
	 * instead of killing it with the default action. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	worker_context ctx = {
		.kind = slot->kind,
		.index = slot->index,
		.slot = slot_no,
		.config = s->config,
		.task = config_find_task(s->config, s->tasks.tasks[slot->task].name),
		.status = &s->status[slot_no],
		.parent_fd = s->parent_pipe[0],
	};
	if (ctx.task == NULL)
		_exit(FERRY_EXIT_FATAL); /* cannot happen: tasks only change with a restart */
	worker_run(&ctx);
}

static void fork_failed(supervisor *s, proc_slot *slot, int64_t now_ms, int err)
{
	char delay[32];
	restart_format_duration(s->config->ferryd.restart_delay_ms, delay, sizeof delay);
	log_error("could not fork %s: %s; trying again in %s", slot->name, strerror(err), delay);
	slot->state = PROC_BACKOFF;
	slot->next_start_ms = now_ms + s->config->ferryd.restart_delay_ms;
}

int spawn_worker(supervisor *s, int slot_no, int64_t now_ms)
{
	proc_slot *slot = &s->procs.slots[slot_no];
	/* No process uses the status slot now: start it clean (no stale error or state). */
	status_reset(&s->status[slot_no], 0);

	fflush(NULL); /* buffered output must not be written twice */
	sigset_t saved;
	signals_block_all(&saved);
	pid_t pid = fork();
	if (pid == 0)
		child_main(s, slot_no, s->pid);
	int err = errno;
	signals_restore(&saved);

	if (pid < 0) {
		fork_failed(s, slot, now_ms, err);
		return -1;
	}
	if (slot->ever_started)
		slot->restarts++;
	slot->pid = pid;
	slot->state = PROC_RUNNING;
	slot->started_ms = now_ms;
	slot->stop_requested = false;
	slot->kill_at_ms = 0;
	if (slot->ever_started)
		log_info("restarted %s (pid %ld, restart %d)", slot->name, (long)pid, slot->restarts);
	else
		log_info("started %s (pid %ld)", slot->name, (long)pid);
	slot->ever_started = true;
	return 0;
}
