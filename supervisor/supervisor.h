/* The supervisor: its state (config, shared memory, process table, tasks, control
 * socket) and the main loop that sleeps until the nearest deadline or an event, then
 * dispatches signals, reaps, serves ferryctl, enforces kill deadlines and (re)starts
 * workers whose time has come. */
#ifndef FERRY_SUPERVISOR_H
#define FERRY_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"
#include "ipc/shmem.h"
#include "ipc/status.h"
#include "ipc/taskstate.h"
#include "supervisor/control.h"
#include "supervisor/metrics.h"
#include "supervisor/pidfile.h"
#include "supervisor/proctable.h"
#include "supervisor/shutdown.h"
#include "supervisor/task.h"

typedef struct supervisor {
	ferry_config *config; /* running config; a reload changes its reloadable keys in place */
	pid_t pid;
	int64_t started_ms; /* monotonic */
	shmem_segment shm;  /* the one segment, created before the first fork */
	worker_status *status; /* PROCTABLE_SIZE slots in shm, index = process-table slot */
	proctable procs;
	task_table tasks;
	control_server control;
	metrics_server metrics; /* metrics_listen: Prometheus text and JSON status */
	pidfile *pid_file; /* held since startup; closed in workers */
	int parent_pipe[2]; /* workers keep [0]; only the supervisor holds [1]: EOF = it died */
	shutdown_mode shutdown;
	task_shm *task_shm; /* [task]: its shared state, rings and queues (in shm) */
	bool *group_reset;  /* [task]: its capture/apply group must be reset before a start */
} supervisor;

/* Monotonic milliseconds: every deadline in the supervisor uses this clock. */
int64_t supervisor_now_ms(void);

/* Bytes of shared memory the segment needs: status slots for every possible worker
 * (and, once they exist, each task's rings). */
size_t supervisor_shmem_size(const ferry_config *cfg);

/* Everything before the first fork: shared memory, the supervisor pipe, tasks and their
 * worker slots, the control socket, the metrics endpoint. Takes ownership of cfg. 0, or -1 with err set. */
int supervisor_init(supervisor *s, ferry_config *cfg, pidfile *pf, char *err, size_t errlen);
/* Runs the loop until a shutdown completes. Returns the exit code. */
int supervisor_run(supervisor *s);
/* Removes the socket file, frees what init built (the pid file is the caller's). */
void supervisor_cleanup(supervisor *s);

#endif
