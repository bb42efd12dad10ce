/* Per-worker status slots in shared memory: written by the worker, read by the
 * supervisor (status, error reporting, the dead-man check after a crash). Slot index =
 * process-table slot index. */
#ifndef FERRY_STATUS_H
#define FERRY_STATUS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum worker_state {
	WORKER_STATE_FREE = 0,
	WORKER_STATE_STARTING,   /* forked, setting up */
	WORKER_STATE_CONNECTING, /* connecting to its endpoints */
	WORKER_STATE_READY,      /* connected, waiting for work */
	WORKER_STATE_RUNNING,    /* doing work */
	WORKER_STATE_STOPPING,   /* graceful stop in progress */
	WORKER_STATE_EXITED
} worker_state;

#define WORKER_ERROR_MAX 512

typedef struct worker_status {
	_Atomic int state;         /* worker_state */
	_Atomic int active;        /* dead-man flag: set while attached to rings/spill, cleared on clean exit */
	_Atomic int32_t pid;
	_Atomic uint64_t updated_ms; /* wall-clock ms of the last state change */
	_Atomic uint64_t rows;       /* rows loaded or changes applied, for status */
	_Atomic uint64_t error_seq;  /* bumped after last_error is written */
	char last_error[WORKER_ERROR_MAX];
} worker_status;

size_t status_shmem_size(int max_workers);
worker_status *status_shmem_init(void *mem, int max_workers);

void status_reset(worker_status *st, int32_t pid);
void status_set_state(worker_status *st, worker_state state);
/* Records the reason the worker is about to fail; the supervisor shows it in status and
 * in the task's error after reaping. */
void status_set_error(worker_status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *worker_state_name(worker_state state);

#endif
