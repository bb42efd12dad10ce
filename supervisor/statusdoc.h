/* The status document `ferryctl status --json` prints: ferryd itself, each task with
 * its phase, error and workers (pid, state, restarts, last exit, last error). */
#ifndef FERRY_STATUSDOC_H
#define FERRY_STATUSDOC_H

#include "ipc/status.h"
#include "supervisor/jsonbuf.h"
#include "supervisor/proctable.h"

typedef struct supervisor supervisor;

void statusdoc_build(const supervisor *s, jsonbuf *jb);

/* The supervisor's state for a worker without a process (starting, backoff, stopped,
 * failed); the worker's own (starting, connecting, ready, running, stopping) while it
 * has one. The metrics page uses it too, so both say the same. */
const char *statusdoc_worker_state(const proc_slot *slot, const worker_status *st);

#endif
