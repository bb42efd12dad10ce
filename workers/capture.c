/* capture: reads the source's transaction log and routes each change to the
 * apply worker that owns its table (ring or spill).
 * Until that exists (later issues) it only holds its connections, so the process tree,
 * restarts and connection errors can be exercised end to end. */
#include "workers/idle.h"
#include "workers/worker_mains.h"

int capture_main(worker_context *ctx)
{
	return worker_idle_main(ctx, WORKER_USES_SOURCE);
}
