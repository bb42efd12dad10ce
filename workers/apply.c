/* apply: drains its ring and spill segments and applies the changes of the tables it
 * owns to the target, committing its progress row with each batch.
 * Until that exists (later issues) it only holds its connections, so the process tree,
 * restarts and connection errors can be exercised end to end. */
#include "workers/idle.h"
#include "workers/worker_mains.h"

int apply_main(worker_context *ctx)
{
	return worker_idle_main(ctx, WORKER_USES_TARGET);
}
