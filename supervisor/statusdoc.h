/* The status document `ferryctl status --json` prints: ferryd itself, each task with
 * its phase, error and workers (pid, state, restarts, last exit, last error). */
#ifndef FERRY_STATUSDOC_H
#define FERRY_STATUSDOC_H

#include <stdint.h>

#include "ipc/status.h"
#include "ipc/taskstate.h"
#include "supervisor/jsonbuf.h"
#include "supervisor/proctable.h"

typedef struct supervisor supervisor;

void statusdoc_build(const supervisor *s, jsonbuf *jb);

/* Also used by the metrics page, so both say the same: */
/* The supervisor's state for a worker without a process (starting, backoff, stopped,
 * failed); the worker's own (starting, connecting, ready, running, stopping) while it
 * has one. */
const char *statusdoc_worker_state(const proc_slot *slot, const worker_status *st);
/* The lowest position every apply worker has committed: what the target holds for sure. */
uint64_t statusdoc_applied_position(const taskstate *ts);

#endif
