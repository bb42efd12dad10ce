/* Fixed worker slots: no allocation, lookups by linear scan (at most a few hundred). */
#include "supervisor/proctable.h"

#include <string.h>

int proctable_assign(proctable *pt, worker_kind kind, int task, int index, const char *task_name)
{
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		proc_slot *slot = &pt->slots[i];
		if (slot->state != PROC_FREE)
			continue;
		memset(slot, 0, sizeof *slot);
		slot->kind = kind;
		slot->task = task;
		slot->index = index;
		worker_display_name(kind, task_name, index, slot->name, sizeof slot->name);
		/* Due at once: the loop forks every slot whose time has come. */
		slot->state = PROC_BACKOFF;
		return i;
	}
	return -1;
}

proc_slot *proctable_find_pid(proctable *pt, pid_t pid)
{
	if (pid <= 0)
		return NULL;
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		if (pt->slots[i].state != PROC_FREE && pt->slots[i].pid == pid)
			return &pt->slots[i];
	}
	return NULL;
}

void proctable_release_pid(proc_slot *slot)
{
	slot->pid = 0;
	slot->kill_at_ms = 0;
}

int proctable_count_running(const proctable *pt)
{
	int n = 0;
	for (int i = 0; i < PROCTABLE_SIZE; i++)
		n += pt->slots[i].state == PROC_RUNNING;
	return n;
}

const char *proc_state_name(proc_state state)
{
	switch (state) {
	case PROC_FREE: return "free";
	case PROC_RUNNING: return "running";
	case PROC_BACKOFF: return "backoff";
	case PROC_STOPPED: return "stopped";
	case PROC_FAILED: return "failed";
	}
	return "unknown";
}
