/* What every worker kind does until its migration code exists: connect to the endpoints
 * it will use, report READY, then stay connected (checking the servers are still there)
 * until it is told to stop, the supervisor dies, or a server goes away. */
#ifndef FERRY_IDLE_H
#define FERRY_IDLE_H

#include "workers/worker.h"

/* Which of the task's endpoints a kind talks to. */
#define WORKER_USES_SOURCE 1u
#define WORKER_USES_TARGET 2u

/* Returns the FERRY_EXIT_* code to exit with. */
int worker_idle_main(worker_context *ctx, unsigned uses);

#endif
