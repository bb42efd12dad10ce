/* Restart groups: a task's capture and apply workers restart together.
 *
 * They share the task's queues (per apply worker a ring and spill segments, capture
 * producing, the apply worker consuming). A queue's state only means something while
 * both of its sides live, so when one member dies without being asked to (a crash or a
 * transient exit), the survivors are killed too (SIGKILL is safe: apply commits its
 * changes and its progress row in one target transaction, capture keeps nothing the
 * slot does not), and once none of them runs the supervisor resets the task's rings
 * and queues before starting any of them again. Capture then resumes from the slot,
 * whose confirmed position never passed the lowest position every apply worker has
 * committed; each apply worker skips what it had already committed. The member that
 * crashed keeps its backoff; the others start at once.
 *
 * Load workers are no member: they copy from source to target directly, record every
 * partition with its rows, and restart alone. */
#ifndef FERRY_RESTART_GROUP_H
#define FERRY_RESTART_GROUP_H

#include <stdbool.h>

#include "workers/worker.h"

typedef struct supervisor supervisor;

bool restart_group_member(worker_kind kind);
/* A member of a group died unexpectedly and will be restarted: kill the other running
 * members and remember that the group's queues need a reset. */
void restart_group_crashed(supervisor *s, int slot_no);
/* Whether the worker of slot_no may be forked now: not a member, or no member of its
 * group runs any more (the queues are reset here first when needed). */
bool restart_group_may_start(supervisor *s, int slot_no);

#endif
