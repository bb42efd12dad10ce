/* The frame every worker process runs in: signals, parent-death detection, its log
 * file, its status slot, reload; then the kind's main loop. */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "ipc/status.h"
#include "ipc/wakeup.h"

typedef enum worker_kind {
	WORKER_CAPTURE = 0,
	WORKER_LOAD,
	WORKER_APPLY,
	WORKER_VALIDATE,
	WORKER_KIND_COUNT
} worker_kind;

typedef struct worker_context {
	worker_kind kind;
	int index;                 /* n within the task: load/apply 1..N, 0 for capture/validate */
	int slot;                  /* process-table slot, = status slot */
	const ferry_config *config; /* the supervisor's config as of the fork (inherited) */
	const task_config *task;   /* points into config */
	worker_status *status;     /* this worker's shared status slot */
	int parent_fd;             /* read end of the supervisor's pipe: EOF = supervisor died */
} worker_context;

/* Flags set by the worker's signal handlers; main loops act on them. */
extern volatile sig_atomic_t worker_stop_requested;   /* TERM: graceful */
extern volatile sig_atomic_t worker_fast_requested;   /* INT: fast */
extern volatile sig_atomic_t worker_reload_requested; /* HUP */

const char *worker_kind_name(worker_kind kind);
/* "apply orders.1", "capture orders": used in titles and log lines. */
void worker_display_name(worker_kind kind, const char *task, int index, char *buf, size_t size);
/* "apply-orders-1.log", "capture-orders.log". */
void worker_log_file_name(worker_kind kind, const char *task, int index, char *buf, size_t size);

/* Why worker_wait() returned. */
typedef enum worker_wake {
	WORKER_WAKE_TIMEOUT,
	WORKER_WAKE_SIGNAL,      /* a stop, fast stop or reload flag is set: act on it */
	WORKER_WAKE_PARENT_GONE, /* the supervisor died (already logged): exit promptly */
	WORKER_WAKE_FD,          /* one of the caller's fds is ready (see its revents) */
	WORKER_WAKE_READY        /* worker_wait_for(): the condition holds */
} worker_wake;

#define WORKER_WAIT_MAX_FDS 8

/* Sleeps until a signal flag is set, the supervisor dies, one of fds[0..nfds) is ready or
 * timeout_ms passes (-1: no timeout). TERM, INT and HUP stay blocked outside this call
 * and are delivered only inside it, so a worker's loop must come back here regularly.
 * Returns WORKER_WAKE_SIGNAL at once while a flag is already set. */
worker_wake worker_wait(worker_context *ctx, struct pollfd *fds, int nfds, int64_t timeout_ms);

/* Waits for a change in shared memory: until cond(arg) holds, a signal flag is set or the
 * supervisor dies. Sleeps on w, the futex wake-up that whoever changes what cond looks at
 * signals after publishing (e.g. the task state's `changed`), with TERM, INT and HUP
 * deliverable; it looks again at least every WORKER_WAIT_FOR_SAFETY_MS, a safety net (and
 * the supervisor pipe's check), not the way changes are noticed.
 * WORKER_WAKE_READY, WORKER_WAKE_SIGNAL or WORKER_WAKE_PARENT_GONE. */
#define WORKER_WAIT_FOR_SAFETY_MS 2000
worker_wake worker_wait_for(worker_context *ctx, wakeup *w, bool (*cond)(void *arg), void *arg);

/* Acts on SIGHUP: clears the flag, reopens the log file, re-reads the config file and
 * applies its log_level; on an error keeps the current config and logs why. */
void worker_process_reload(worker_context *ctx);

/* Monotonic milliseconds, for deadlines. */
uint64_t worker_now_ms(void);

/* Runs in the child after fork. Never returns: exits with a FERRY_EXIT_* code. */
_Noreturn void worker_run(worker_context *ctx);

#endif
