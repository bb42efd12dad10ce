/* The frame every worker process runs in: signals, parent-death detection, its log
 * file, its status slot, reload; then the kind's main loop. */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include <signal.h>

#include "common/config.h"
#include "ipc/status.h"

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

/* Runs in the child after fork. Never returns: exits with a FERRY_EXIT_* code. */
_Noreturn void worker_run(worker_context *ctx);

#endif
