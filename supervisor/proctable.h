/* The supervisor's fixed table of worker slots (PostgreSQL's PMChild pool). A slot is
 * assigned to one worker of one task (kind, task, index) before its first fork and keeps
 * that worker's restart history across restarts; its pid is set after each fork and
 * released when that process is reaped. Slot number = shared-memory status slot. */
#ifndef FERRY_PROCTABLE_H
#define FERRY_PROCTABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/restart.h"
#include "workers/worker.h"

/* Workers of all tasks together; sizes the shared-memory status area up front. */
#define PROCTABLE_SIZE 256

typedef enum proc_state {
	PROC_FREE = 0,
	PROC_RUNNING, /* a process is alive (pid set) */
	PROC_BACKOFF, /* crashed, waiting until next_start_ms to be forked again */
	PROC_STOPPED, /* finished (exit 0) or stopped on request: not restarted */
	PROC_FAILED   /* fatal exit or crash loop: not restarted, its task is in error */
} proc_state;

typedef struct proc_slot {
	proc_state state;
	worker_kind kind;
	int task;  /* index into the supervisor's task table */
	int index; /* load/apply 1..N, 0 for capture/validate */
	char name[96]; /* "apply orders.1" */
	pid_t pid;     /* 0 when no process */
	int64_t started_ms;    /* monotonic: last fork */
	int64_t next_start_ms; /* monotonic: PROC_BACKOFF's restart time */
	int64_t kill_at_ms;    /* monotonic: SIGKILL if still alive then (0 = none) */
	bool stop_requested;   /* we asked it to stop: its exit is no crash */
	bool group_restart;    /* killed because its restart group restarts (restart_group.h) */
	bool ever_started;
	int restarts;
	int last_status;     /* waitpid() status of the last exit, if has_exited */
	bool has_exited;
	restart_history history;
} proc_slot;

typedef struct proctable {
	proc_slot slots[PROCTABLE_SIZE];
} proctable;

/* Takes a free slot for a worker; -1 when the table is full. */
int proctable_assign(proctable *pt, worker_kind kind, int task, int index, const char *task_name);
proc_slot *proctable_find_pid(proctable *pt, pid_t pid);
/* Forgets the process of a reaped slot (the slot stays the worker's). */
void proctable_release_pid(proc_slot *slot);
/* Slots with a live process. */
int proctable_count_running(const proctable *pt);
const char *proc_state_name(proc_state state);

#endif
