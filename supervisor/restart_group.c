/* Restart groups (see the header): kill the survivors, reset the queues once the group
 * is down, then let its members start. */
#include "supervisor/restart_group.h"

#include <signal.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

bool restart_group_member(worker_kind kind)
{
	return kind == WORKER_CAPTURE || kind == WORKER_APPLY;
}

void restart_group_crashed(supervisor *s, int slot_no)
{
	const proc_slot *dead = &s->procs.slots[slot_no];
	s->group_reset[dead->task] = true;
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		proc_slot *slot = &s->procs.slots[i];
		if (i == slot_no || slot->state != PROC_RUNNING || slot->task != dead->task ||
		    !restart_group_member(slot->kind) || slot->pid <= 0)
			continue;
		log_info("%s restarts with %s: killing it so the task's queues can be reset", slot->name, dead->name);
		slot->group_restart = true;
		kill(slot->pid, SIGKILL);
	}
}

bool restart_group_may_start(supervisor *s, int slot_no)
{
	const proc_slot *me = &s->procs.slots[slot_no];
	if (!restart_group_member(me->kind) || !s->group_reset[me->task])
		return true;
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		const proc_slot *slot = &s->procs.slots[i];
		if (slot->state == PROC_RUNNING && slot->task == me->task && restart_group_member(slot->kind))
			return false;
	}
	const task_config *task = &s->config->tasks[me->task];
	taskstate_reset_queues(&s->task_shm[me->task], (uint64_t)task->spill_limit);
	s->group_reset[me->task] = false;
	log_info("task %s: capture and apply queues reset; capture resumes from the lowest committed position",
		 task->name);
	return true;
}
