/* The supervisor's main loop (PostgreSQL's ServerLoop, nginx's master cycle): sleep in
 * ppoll() on the signal wake pipe, the control socket and the metrics endpoint until
 * the nearest deadline (a restart due, a kill deadline, a client's timeout), then handle
 * what happened in a fixed order: signals, reaping, ferryctl and metrics clients,
 * deadlines, starts, phases. */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/reap.h"
#include "supervisor/reload.h"
#include "supervisor/restart_group.h"
#include "supervisor/signals.h"
#include "supervisor/spawn.h"

int64_t supervisor_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t supervisor_shmem_size(const ferry_config *cfg)
{
	size_t size = shmem_align(status_shmem_size(PROCTABLE_SIZE));
	/* Per task: its shared state, and per apply worker a ring and its queue's control
	 * state (ipc/taskstate.h), all carved out before the first fork. */
	for (int t = 0; t < cfg->n_tasks; t++) {
		const task_config *task = &cfg->tasks[t];
		size += taskstate_shmem_size(task->apply_workers, taskstate_ring_capacity(task->ring_size, task->apply_workers));
	}
	return size;
}

/* The tasks' shared pieces: taskstate, rings, queues, spill budget. */
static int place_task_state(supervisor *s, char *err, size_t errlen)
{
	int n = s->config->n_tasks;
	s->task_shm = calloc((size_t)(n > 0 ? n : 1), sizeof *s->task_shm);
	if (s->task_shm == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int t = 0; t < n; t++) {
		const task_config *task = &s->config->tasks[t];
		if (task->apply_workers > TASKSTATE_MAX_APPLY || task->load_workers > TASKSTATE_MAX_LOAD) {
			snprintf(err, errlen, "task %s: at most %d apply_workers and %d load_workers per task", task->name,
				 TASKSTATE_MAX_APPLY, TASKSTATE_MAX_LOAD);
			return -1;
		}
		size_t cap = taskstate_ring_capacity(task->ring_size, task->apply_workers);
		void *mem = shmem_alloc(&s->shm, taskstate_shmem_size(task->apply_workers, cap));
		if (mem == NULL) {
			snprintf(err, errlen, "shared memory too small for task %s", task->name);
			return -1;
		}
		taskstate_shmem_init(&s->task_shm[t], mem, task->apply_workers, cap, (uint64_t)task->spill_limit);
	}
	s->group_reset = calloc((size_t)(n > 0 ? n : 1), sizeof *s->group_reset);
	if (s->group_reset == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	taskstate_tasks = s->task_shm;
	taskstate_n_tasks = n;
	return 0;
}

/* Every worker of every task gets its slot now, before anything is forked. */
static int assign_worker_slots(supervisor *s, char *err, size_t errlen)
{
	int total = 0;
	for (int t = 0; t < s->config->n_tasks; t++)
		total += task_worker_plan(&s->config->tasks[t], NULL, 0);
	if (total > PROCTABLE_SIZE) {
		snprintf(err, errlen, "the tasks need %d workers in all, ferryd runs at most %d: lower load_workers or "
			 "apply_workers, or split the tasks over several ferryd", total, PROCTABLE_SIZE);
		return -1;
	}
	for (int t = 0; t < s->config->n_tasks; t++) {
		const task_config *task = &s->config->tasks[t];
		task_worker plan[PROCTABLE_SIZE];
		int n = task_worker_plan(task, plan, PROCTABLE_SIZE);
		for (int i = 0; i < n; i++) {
			if (proctable_assign(&s->procs, plan[i].kind, t, plan[i].index, task->name) < 0) {
				snprintf(err, errlen, "process table full");
				return -1;
			}
		}
	}
	return 0;
}

static int create_shared_memory(supervisor *s, char *err, size_t errlen)
{
	size_t size = supervisor_shmem_size(s->config);
	if (shmem_create(&s->shm, size) < 0) {
		snprintf(err, errlen, "cannot create %zu bytes of shared memory: %s", size, strerror(errno));
		return -1;
	}
	void *mem = shmem_alloc(&s->shm, status_shmem_size(PROCTABLE_SIZE));
	if (mem == NULL) {
		snprintf(err, errlen, "shared memory too small for the status slots");
		return -1;
	}
	s->status = status_shmem_init(mem, PROCTABLE_SIZE);
	if (place_task_state(s, err, errlen) < 0)
		return -1;
	log_debug("shared memory: %zu bytes, %zu used", s->shm.size, s->shm.used);
	return 0;
}

int supervisor_init(supervisor *s, ferry_config *cfg, pidfile *pf, char *err, size_t errlen)
{
	s->config = cfg;
	s->pid = getpid();
	s->started_ms = supervisor_now_ms();
	s->pid_file = pf;
	s->parent_pipe[0] = s->parent_pipe[1] = -1;
	s->control.listen_fd = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		s->control.clients[i].fd = -1;
	metrics_init(&s->metrics);
	if (create_shared_memory(s, err, errlen) < 0)
		return -1;
	if (pipe2(s->parent_pipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create the supervisor pipe: %s", strerror(errno));
		return -1;
	}
	if (task_table_init(&s->tasks, cfg) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (assign_worker_slots(s, err, errlen) < 0)
		return -1;
	if (control_open(&s->control, cfg->ferryd.data_dir, err, errlen) < 0)
		return -1;
	return metrics_open(&s->metrics, cfg->ferryd.metrics_listen, err, errlen);
}

void supervisor_cleanup(supervisor *s)
{
	control_close(&s->control);
	metrics_close(&s->metrics);
	for (int i = 0; i < 2; i++) {
		if (s->parent_pipe[i] >= 0)
			close(s->parent_pipe[i]);
		s->parent_pipe[i] = -1;
	}
	shmem_destroy(&s->shm);
	s->status = NULL;
	free(s->task_shm);
	s->task_shm = NULL;
	free(s->group_reset);
	s->group_reset = NULL;
	taskstate_tasks = NULL;
	taskstate_n_tasks = 0;
	task_table_free(&s->tasks);
	config_free(s->config);
	s->config = NULL;
}

static void process_signals(supervisor *s, const signal_counts *sc)
{
	if (sc->quit > 0)
		shutdown_request(s, SHUTDOWN_IMMEDIATE, "received SIGQUIT");
	if (sc->intr > 0)
		shutdown_request(s, SHUTDOWN_FAST, "received SIGINT");
	for (int i = 0; i < sc->term; i++) {
		/* The first TERM asks for a graceful stop; each further one for a faster one. */
		if (s->shutdown == SHUTDOWN_NONE)
			shutdown_request(s, SHUTDOWN_GRACEFUL, "received SIGTERM");
		else
			shutdown_request(s, shutdown_mode_escalate(s->shutdown), "received SIGTERM again");
	}
	if (sc->hup > 0) {
		reload_result r;
		reload_run(s, &r, "received SIGHUP");
		reload_result_free(&r);
	}
}

/* Forks every worker whose (re)start time has come, unless its task is in error. */
static void start_due_workers(supervisor *s, int64_t now_ms)
{
	if (s->shutdown != SHUTDOWN_NONE)
		return;
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		proc_slot *slot = &s->procs.slots[i];
		if (slot->state != PROC_BACKOFF || slot->next_start_ms > now_ms)
			continue;
		if (s->tasks.tasks[slot->task].error != NULL) {
			slot->state = PROC_STOPPED;
			continue;
		}
		if (!restart_group_may_start(s, i))
			continue;
		spawn_worker(s, i, now_ms);
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* Like PostgreSQL's DetermineSleepTime: the nearest deadline, or none (-1). */
static int64_t next_deadline(const supervisor *s)
{
	int64_t next = earliest(shutdown_next_deadline(s), control_next_deadline(&s->control));
	next = earliest(next, metrics_next_deadline(&s->metrics));
	if (s->shutdown != SHUTDOWN_NONE)
		return next;
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		const proc_slot *slot = &s->procs.slots[i];
		if (slot->state == PROC_BACKOFF)
			next = earliest(next, slot->next_start_ms);
	}
	return next;
}

/* The descriptors ppoll() watches: the wake pipe, then the control socket's, then the
 * metrics endpoint's. */
typedef struct poll_set {
	struct pollfd fds[1 + 1 + CONTROL_MAX_CLIENTS + METRICS_POLL_FDS];
	int n, n_control, n_metrics;
} poll_set;

static void wait_for_events(supervisor *s, poll_set *ps)
{
	struct pollfd *fds = ps->fds;
	int nfds = 0;
	fds[nfds++] = (struct pollfd){.fd = signals_wake_fd(), .events = POLLIN};
	ps->n_control = control_poll_fds(&s->control, fds + nfds);
	nfds += ps->n_control;
	ps->n_metrics = metrics_poll_fds(&s->metrics, fds + nfds);
	nfds += ps->n_metrics;
	ps->n = nfds;

	int64_t deadline = next_deadline(s);
	struct timespec ts, *timeout = NULL;
	if (deadline >= 0) {
		int64_t left = deadline - supervisor_now_ms();
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L + 999999L; /* round up: never wake early */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		timeout = &ts;
	}
	if (ppoll(fds, (nfds_t)nfds, timeout, NULL) < 0) {
		if (errno != EINTR)
			log_error("ppoll failed: %s", strerror(errno));
		for (int i = 0; i < nfds; i++)
			fds[i].revents = 0;
	}
}

int supervisor_run(supervisor *s)
{
	poll_set ps;
	start_due_workers(s, supervisor_now_ms());
	task_update_phases(s);
	while (!shutdown_complete(s)) {
		wait_for_events(s, &ps);
		signal_counts sc;
		signals_take(&sc);
		process_signals(s, &sc);
		if (sc.chld > 0)
			reap_children(s);
		int64_t now = supervisor_now_ms();
		control_serve(s, ps.fds + 1, ps.n_control, now);
		metrics_serve(s, ps.fds + 1 + ps.n_control, ps.n_metrics, now);
		shutdown_enforce_deadlines(s, now);
		start_due_workers(s, now);
		task_update_phases(s);
	}
	log_info("every worker has exited");
	return 0;
}
