/* Stopping workers: the three shutdown modes of the whole supervisor (TERM graceful, INT
 * fast, QUIT immediate; the most immediate one asked for wins) and the per-worker kill
 * deadline that turns an ignored stop into SIGKILL. */
#ifndef FERRY_SHUTDOWN_H
#define FERRY_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct supervisor supervisor;

typedef enum shutdown_mode {
	SHUTDOWN_NONE = 0,
	SHUTDOWN_GRACEFUL, /* SIGTERM to workers, SIGKILL after shutdown_timeout */
	SHUTDOWN_FAST,     /* SIGINT to workers, SIGKILL after SHUTDOWN_FAST_TIMEOUT_MS at most */
	SHUTDOWN_IMMEDIATE /* SIGKILL now */
} shutdown_mode;

/* A fast stop's deadline: shutdown_timeout, but never longer than this. */
#define SHUTDOWN_FAST_TIMEOUT_MS 5000

/* The more immediate of the two. */
shutdown_mode shutdown_mode_merge(shutdown_mode current, shutdown_mode requested);
/* One step more immediate (a repeated SIGTERM); immediate stays immediate. */
shutdown_mode shutdown_mode_escalate(shutdown_mode current);
const char *shutdown_mode_name(shutdown_mode mode);

/* Starts or escalates the supervisor's shutdown; a request that is not more immediate
 * than the current mode changes nothing. why: "SIGTERM", "ferryctl stop"... */
void shutdown_request(supervisor *s, shutdown_mode mode, const char *why);
/* Signals one running worker to stop, marks its exit as requested and arms its kill
 * deadline (kept if an earlier one is armed). Workers waiting to restart just stop. */
void shutdown_stop_worker(supervisor *s, int slot, int sig, int64_t deadline_ms);
/* SIGKILLs every worker past its kill deadline. */
void shutdown_enforce_deadlines(supervisor *s, int64_t now_ms);
/* Earliest armed kill deadline, or -1. */
int64_t shutdown_next_deadline(const supervisor *s);
/* Shutting down and no worker left: the loop may end. */
bool shutdown_complete(const supervisor *s);

#endif
