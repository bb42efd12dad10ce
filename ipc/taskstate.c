/* Per-task shared state: layout in the supervisor's segment, queue resets for a restart
 * group, partition claims, the published GTID text. */
#include "ipc/taskstate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ipc/shmem.h"

task_shm *taskstate_tasks;
int taskstate_n_tasks;

size_t taskstate_ring_capacity(int64_t ring_size, int n_apply)
{
	/* ring_size is the task's budget, not each worker's: capture writes into every ring
	 * of the task and so has them all in its resident memory, while each apply worker
	 * touches only its own. */
	size_t share = (size_t)(ring_size > 0 ? ring_size : 0) / (size_t)(n_apply > 0 ? n_apply : 1);
	size_t cap = RING_MIN_CAPACITY;
	while (cap * 2 <= share)
		cap *= 2;
	return cap;
}

size_t taskstate_shmem_size(int n_apply, size_t ring_capacity)
{
	size_t size = shmem_align(sizeof(taskstate));
	size += (size_t)n_apply * (shmem_align(ring_shmem_size(ring_capacity)) + shmem_align(queue_shmem_size()));
	return size;
}

void taskstate_shmem_init(task_shm *ts, void *mem, int n_apply, size_t ring_capacity, uint64_t spill_limit)
{
	char *p = mem;
	memset(ts, 0, sizeof *ts);
	ts->state = (taskstate *)p;
	memset(ts->state, 0, sizeof(taskstate));
	p += shmem_align(sizeof(taskstate));
	wakeup_init(&ts->state->changed);
	for (int n = 0; n <= TASKSTATE_MAX_LOAD; n++)
		atomic_init(&ts->state->loading[n].table, -1);
	ts->n_apply = n_apply;
	ts->ring_capacity = ring_capacity;
	for (int i = 1; i <= n_apply; i++) {
		ts->rings[i] = (ring *)p;
		p += shmem_align(ring_shmem_size(ring_capacity));
		ts->queues[i] = (queue_shared *)p;
		p += shmem_align(queue_shmem_size());
	}
	taskstate_reset_queues(ts, spill_limit);
}

void taskstate_reset_queues(task_shm *ts, uint64_t spill_limit)
{
	for (int i = 1; i <= ts->n_apply; i++) {
		ts->rings[i] = ring_init(ts->rings[i], ts->ring_capacity);
		ts->queues[i] = queue_shmem_init(ts->queues[i]);
	}
	/* A fresh producer deletes the worker's old segments: nothing is on disk any more. */
	spill_budget_init(&ts->state->spill, spill_limit);
}

task_shm *taskstate_for_task(int task)
{
	if (taskstate_tasks == NULL || task < 0 || task >= taskstate_n_tasks)
		return NULL;
	return &taskstate_tasks[task];
}

void taskstate_changed(taskstate *s)
{
	wakeup_signal(&s->changed);
}

void taskstate_set_loading(taskstate *s, int n, int k, int64_t rows)
{
	if (n < 0 || n > TASKSTATE_MAX_LOAD || k >= s->n_tables)
		return;
	taskstate_loading *l = &s->loading[n];
	int32_t was = atomic_load(&l->table);
	int64_t had = atomic_load(&l->rows);
	if (k < 0)
		rows = 0;
	if (was >= 0 && was == k) {
		atomic_fetch_add(&s->tables[k].rows_in_flight, rows - had);
	} else {
		if (was >= 0)
			atomic_fetch_sub(&s->tables[was].rows_in_flight, had);
		if (k >= 0)
			atomic_fetch_add(&s->tables[k].rows_in_flight, rows);
	}
	atomic_store(&l->table, k);
	atomic_store(&l->rows, rows);
}

int64_t taskstate_rows_loaded(const taskstate_table *t)
{
	/* committed first: see taskstate_set_loading() */
	int64_t committed = atomic_load(&((taskstate_table *)t)->rows_loaded);
	return committed + atomic_load(&((taskstate_table *)t)->rows_in_flight);
}

static bool try_claim(taskstate_partition *p, int32_t from, int32_t to)
{
	int32_t expected = from;
	return atomic_compare_exchange_strong(&p->claim, &expected, to);
}

int taskstate_claim_partition(taskstate *s, int n)
{
	int32_t mine = TASKSTATE_PART_CLAIMED(n);
	for (int i = 0; i < s->n_parts; i++) {
		if (atomic_load(&s->parts[i].claim) == mine)
			return i;
	}
	for (int i = 0; i < s->n_parts; i++) {
		if (try_claim(&s->parts[i], TASKSTATE_PART_FREE, mine))
			return i;
	}
	return -1;
}

void taskstate_gtid_set(taskstate *s, const char *text)
{
	char buf[TASKSTATE_GTID_MAX] = {0};
	if (strlen(text) < sizeof buf)
		memcpy(buf, text, strlen(text));
	uint32_t seq = atomic_load_explicit(&s->applied_gtid_seq, memory_order_relaxed);
	atomic_store_explicit(&s->applied_gtid_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t w = 0; w < TASKSTATE_GTID_MAX / 8; w++) {
		uint64_t v;
		memcpy(&v, buf + w * 8, 8);
		atomic_store_explicit(&s->applied_gtid[w], v, memory_order_relaxed);
	}
	atomic_store_explicit(&s->applied_gtid_seq, seq + 2, memory_order_release);
}

void taskstate_gtid_get(const taskstate *s, char *out, size_t size)
{
	char buf[TASKSTATE_GTID_MAX];
	/* a write takes microseconds once a second: a few tries always find a quiet moment */
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t before = atomic_load_explicit(&s->applied_gtid_seq, memory_order_acquire);
		if (before & 1)
			continue;
		for (size_t w = 0; w < TASKSTATE_GTID_MAX / 8; w++) {
			uint64_t v = atomic_load_explicit(&s->applied_gtid[w], memory_order_relaxed);
			memcpy(buf + w * 8, &v, 8);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->applied_gtid_seq, memory_order_relaxed) == before) {
			buf[sizeof buf - 1] = '\0';
			snprintf(out, size, "%s", buf);
			return;
		}
	}
	snprintf(out, size, "%s", "");
}

const char *table_state_name(table_state st)
{
	switch (st) {
	case TABLE_QUEUED: return "queued";
	case TABLE_LOADING: return "loading";
	case TABLE_CATCHING_UP: return "catching-up";
	case TABLE_IN_SYNC: return "in-sync";
	case TABLE_ERROR: return "error";
	}
	return "unknown";
}

const char *validation_state_name(validation_state st)
{
	switch (st) {
	case VALIDATION_NONE: return "none";
	case VALIDATION_PENDING: return "pending";
	case VALIDATION_RUNNING: return "running";
	case VALIDATION_EQUAL: return "equal";
	case VALIDATION_DIFFERENT: return "different";
	case VALIDATION_ERROR: return "error";
	}
	return "unknown";
}

void taskstate_set_table_error(taskstate_table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->error, sizeof t->error, fmt, ap);
	va_end(ap);
	atomic_fetch_add(&t->error_seq, 1);
	atomic_store(&t->state, TABLE_ERROR);
}
