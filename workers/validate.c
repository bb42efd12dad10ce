/* validate: compares source and target tables and reports differences.
 * Until that exists (later issues) it only holds its connections, so the process tree,
 * restarts and connection errors can be exercised end to end. */
#include "workers/idle.h"
#include "workers/worker_mains.h"

int validate_main(worker_context *ctx)
{
	return worker_idle_main(ctx, WORKER_USES_SOURCE | WORKER_USES_TARGET);
}
