/* Each worker kind's main loop, called by worker_run() in the forked child. Each returns
 * a FERRY_EXIT_* code (common/exitcode.h); worker_run() exits with it. */
#ifndef FERRY_WORKER_MAINS_H
#define FERRY_WORKER_MAINS_H

#include "workers/worker.h"

int capture_main(worker_context *ctx);
int load_main(worker_context *ctx);
int apply_main(worker_context *ctx);
int validate_main(worker_context *ctx);

#endif
