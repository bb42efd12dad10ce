/* The one exit-status contract between workers and the supervisor. */
#ifndef FERRY_EXITCODE_H
#define FERRY_EXITCODE_H

/* Work finished: the worker is not restarted. */
#define FERRY_EXIT_DONE 0
/* Something that may go away by itself (network, server restart): restart with backoff,
 * for as long as it takes (not counted towards the crash-loop limit). */
#define FERRY_EXIT_TRANSIENT 1
/* Config, credentials, privileges, corrupt spill data: retrying cannot help, the task
 * goes to `error` at once. Chosen away from 1 so a sanitizer abort (exit 1) or a plain
 * crash is never mistaken for it. */
#define FERRY_EXIT_FATAL 3

#endif
