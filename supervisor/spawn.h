/* Forking a worker with fork hygiene (PostgreSQL's fork_process + ClosePostmasterPorts,
 * nginx's ngx_spawn_process): the child keeps nothing of the supervisor's but the shared
 * memory, its config and the read end of the supervisor pipe, then enters worker_run(). */
#ifndef FERRY_SPAWN_H
#define FERRY_SPAWN_H

#include <stdint.h>

typedef struct supervisor supervisor;

/* Forks the worker of slot_no. 0: running. -1: fork failed (logged; the slot waits
 * restart_delay and is tried again, which does not count as a crash). */
int spawn_worker(supervisor *s, int slot_no, int64_t now_ms);

#endif
