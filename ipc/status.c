/* Worker status slots: plain atomics, one writer (the worker) per slot. */
#include "ipc/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t status_shmem_size(int max_workers)
{
	return sizeof(worker_status) * (size_t)max_workers;
}

worker_status *status_shmem_init(void *mem, int max_workers)
{
	memset(mem, 0, status_shmem_size(max_workers));
	return mem;
}

void status_reset(worker_status *st, int32_t pid)
{
	atomic_store(&st->active, 0);
	atomic_store(&st->rows, 0);
	st->last_error[0] = '\0';
	atomic_fetch_add(&st->error_seq, 1);
	atomic_store(&st->pid, pid);
	status_set_state(st, WORKER_STATE_STARTING);
}

void status_set_state(worker_status *st, worker_state state)
{
	atomic_store(&st->updated_ms, now_ms());
	atomic_store(&st->state, (int)state);
}

void status_set_error(worker_status *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->last_error, sizeof st->last_error, fmt, ap);
	va_end(ap);
	atomic_fetch_add_explicit(&st->error_seq, 1, memory_order_release);
}

const char *worker_state_name(worker_state state)
{
	static const char *names[] = {"free", "starting", "connecting", "ready", "running", "stopping", "exited"};
	return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}
