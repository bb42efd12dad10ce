/* Per-task shared state: the layout fits the size it reports and survives a queue
 * reset; partitions are claimed once each, a restarted worker gets its own unfinished
 * claim back first, and two processes claiming at once never take the same partition;
 * ring_size splits among the apply workers; rows in flight add up per table; a change
 * of the state wakes a process waiting for it. */
#include "ipc/taskstate.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/shmem.h"

static void *map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

START_TEST(ring_capacity_is_power_of_two_at_or_below)
{
	ck_assert_uint_eq(taskstate_ring_capacity(64 * 1024 * 1024, 1), 64 * 1024 * 1024);
	ck_assert_uint_eq(taskstate_ring_capacity(1000000, 1), 524288);
	ck_assert_uint_eq(taskstate_ring_capacity(10, 1), RING_MIN_CAPACITY);
}
END_TEST

/* ring_size is the task's total: every ring together stays within it. */
START_TEST(ring_size_is_split_among_apply_workers)
{
	size_t mb64 = 64 * 1024 * 1024;
	ck_assert_uint_eq(taskstate_ring_capacity((int64_t)mb64, 4), mb64 / 4);
	ck_assert_uint_eq(taskstate_ring_capacity((int64_t)mb64, 2), mb64 / 2);
	ck_assert_uint_eq(taskstate_ring_capacity((int64_t)mb64, 3), mb64 / 4); /* 21.3MB: 16MB */
	ck_assert_uint_eq(taskstate_ring_capacity(1024 * 1024, 64), 16384);
	for (int n = 1; n <= TASKSTATE_MAX_APPLY; n++)
		ck_assert_uint_le(taskstate_ring_capacity((int64_t)mb64, n) * (size_t)n, mb64);
}
END_TEST

START_TEST(layout_fits_and_reset_keeps_plan)
{
	size_t cap = 4096, size = taskstate_shmem_size(3, cap);
	char *mem = map(size + 64);
	memset(mem + size, 0x5a, 64); /* guard after the reported size */
	task_shm ts;
	taskstate_shmem_init(&ts, mem, 3, cap, 1 << 20);
	ck_assert_int_eq(ts.n_apply, 3);
	for (int i = 1; i <= 3; i++) {
		ck_assert_ptr_nonnull(ts.rings[i]);
		ck_assert_ptr_nonnull(ts.queues[i]);
		ck_assert((char *)ts.queues[i] + queue_shmem_size() <= mem + size);
		ck_assert_uint_eq(ring_capacity(ts.rings[i]), cap);
	}
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq((unsigned char)mem[size + i], 0x5a);
	ts.state->n_tables = 2;
	atomic_store(&ts.state->plan_ready, 1);
	ck_assert_int_eq(ring_put(ts.rings[2], "abc", 3, 0), RING_OK);
	ck_assert_uint_gt(ring_used(ts.rings[2]), 0);
	taskstate_reset_queues(&ts, 1 << 20);
	ck_assert_uint_eq(ring_used(ts.rings[2]), 0);
	ck_assert_int_eq(atomic_load(&ts.state->plan_ready), 1);
	ck_assert_int_eq(ts.state->n_tables, 2);
	munmap(mem, size + 64);
}
END_TEST

START_TEST(own_claim_first_then_free_ones)
{
	taskstate *s = calloc(1, sizeof *s);
	s->n_parts = 4;
	atomic_store(&s->parts[2].claim, TASKSTATE_PART_CLAIMED(7));
	atomic_store(&s->parts[0].claim, TASKSTATE_PART_DONE);
	ck_assert_int_eq(taskstate_claim_partition(s, 7), 2); /* a restarted worker 7 */
	atomic_store(&s->parts[2].claim, TASKSTATE_PART_DONE);
	ck_assert_int_eq(taskstate_claim_partition(s, 7), 1);
	ck_assert_int_eq(taskstate_claim_partition(s, 8), 3);
	atomic_store(&s->parts[1].claim, TASKSTATE_PART_DONE);
	atomic_store(&s->parts[3].claim, TASKSTATE_PART_DONE);
	ck_assert_int_eq(taskstate_claim_partition(s, 7), -1);
	free(s);
}
END_TEST

START_TEST(concurrent_claims_are_exclusive)
{
	enum { PARTS = 5000, WORKERS = 4 };
	taskstate *s = map(sizeof *s);
	int32_t *owner = map(PARTS * sizeof *owner);
	s->n_parts = PARTS;
	for (int w = 1; w <= WORKERS; w++) {
		if (fork() == 0) {
			int p;
			while ((p = taskstate_claim_partition(s, w)) >= 0) {
				__atomic_add_fetch(&owner[p], 1, __ATOMIC_SEQ_CST); /* times taken */
				atomic_store(&s->parts[p].claim, TASKSTATE_PART_DONE);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WORKERS; w++)
		wait(NULL);
	for (int p = 0; p < PARTS; p++) {
		ck_assert_int_eq(atomic_load(&s->parts[p].claim), TASKSTATE_PART_DONE);
		ck_assert_msg(owner[p] == 1, "partition %d taken %d times", p, owner[p]);
	}
	munmap(s, sizeof *s);
	munmap(owner, PARTS * sizeof *owner);
}
END_TEST

START_TEST(gtid_text_is_published_whole)
{
	taskstate *s = calloc(1, sizeof *s);
	ck_assert_ptr_nonnull(s);
	char out[TASKSTATE_GTID_MAX];
	taskstate_gtid_get(s, out, sizeof out);
	ck_assert_str_eq(out, "");
	taskstate_gtid_set(s, "0-1-100,1-2-7");
	taskstate_gtid_get(s, out, sizeof out);
	ck_assert_str_eq(out, "0-1-100,1-2-7");
	ck_assert_uint_eq(atomic_load(&s->applied_gtid_seq) % 2, 0);
	/* a shorter text leaves nothing of the longer one behind */
	taskstate_gtid_set(s, "0-1-9");
	taskstate_gtid_get(s, out, sizeof out);
	ck_assert_str_eq(out, "0-1-9");
	/* a text that does not fit is published as unknown, never cut */
	char *big = malloc(TASKSTATE_GTID_MAX + 10);
	ck_assert_ptr_nonnull(big);
	memset(big, '7', TASKSTATE_GTID_MAX + 9);
	big[TASKSTATE_GTID_MAX + 9] = '\0';
	taskstate_gtid_set(s, big);
	taskstate_gtid_get(s, out, sizeof out);
	ck_assert_str_eq(out, "");
	free(big);
	free(s);
}
END_TEST

START_TEST(table_error_sets_state)
{
	taskstate_table t;
	memset(&t, 0, sizeof t);
	taskstate_set_table_error(&t, "copy failed: %s", "boom");
	ck_assert_int_eq(atomic_load(&t.state), TABLE_ERROR);
	ck_assert_str_eq(t.error, "copy failed: boom");
	ck_assert_str_eq(table_state_name(TABLE_CATCHING_UP), "catching-up");
	ck_assert_str_eq(table_state_name(TABLE_IN_SYNC), "in-sync");
}
END_TEST

/* In-flight rows per table, summed over load workers; nothing counted before a worker
 * says so; the status figure is committed plus in flight. */
START_TEST(rows_in_flight_per_table)
{
	size_t size = taskstate_shmem_size(1, 4096);
	char *mem = map(size);
	task_shm ts;
	taskstate_shmem_init(&ts, mem, 1, 4096, 1 << 20);
	taskstate *s = ts.state;
	s->n_tables = 2;
	_Atomic int64_t *t0 = &s->tables[0].rows_in_flight, *t1 = &s->tables[1].rows_in_flight;
	taskstate_set_loading(s, 1, -1, 0); /* nothing to clear: nothing moves */
	ck_assert_int_eq(atomic_load(t0), 0);
	taskstate_set_loading(s, 1, 0, 500);
	taskstate_set_loading(s, 2, 0, 300);
	taskstate_set_loading(s, 3, 1, 7);
	taskstate_set_loading(s, TASKSTATE_MAX_LOAD + 1, 0, 1000); /* no such worker: ignored */
	taskstate_set_loading(s, 4, 2, 1000);                      /* no such table: ignored */
	ck_assert_int_eq(atomic_load(t0), 800);
	ck_assert_int_eq(atomic_load(t1), 7);
	taskstate_set_loading(s, 1, 0, 900); /* worker 1 streamed on */
	ck_assert_int_eq(atomic_load(t0), 1200);
	atomic_store(&s->tables[0].rows_loaded, 50);
	ck_assert_int_eq(taskstate_rows_loaded(&s->tables[0]), 1250);
	taskstate_set_loading(s, 1, -1, 0); /* committed (then added to rows_loaded) or died */
	ck_assert_int_eq(atomic_load(t0), 300);
	taskstate_set_loading(s, 2, 1, 5); /* worker 2 on to another table */
	ck_assert_int_eq(atomic_load(t0), 0);
	ck_assert_int_eq(atomic_load(t1), 12);
	ck_assert_int_eq(taskstate_rows_loaded(&s->tables[0]), 50);
	munmap(mem, size);
}
END_TEST

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A process waiting for a change of the task state wakes when it is signalled, long
 * before its safety timeout. */
START_TEST(changed_wakes_a_waiting_process)
{
	size_t size = taskstate_shmem_size(1, 4096);
	char *mem = map(size);
	task_shm ts;
	taskstate_shmem_init(&ts, mem, 1, 4096, 1 << 20);
	taskstate *s = ts.state;
	pid_t pid = fork();
	if (pid == 0) {
		int64_t t0 = now_ms();
		for (;;) {
			uint32_t seq = wakeup_prepare(&s->changed);
			if (atomic_load(&s->plan_ready)) {
				wakeup_cancel(&s->changed);
				break;
			}
			if (wakeup_wait(&s->changed, seq, 10000) == WAKEUP_TIMEOUT)
				_exit(2);
		}
		_exit(now_ms() - t0 < 5000 ? 0 : 3);
	}
	usleep(200 * 1000); /* the child is asleep by now, most likely */
	atomic_store(&s->plan_ready, 1);
	taskstate_changed(s);
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	munmap(mem, size);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("taskstate");
	TCase *layout = tcase_create("layout");
	tcase_add_test(layout, ring_capacity_is_power_of_two_at_or_below);
	tcase_add_test(layout, ring_size_is_split_among_apply_workers);
	tcase_add_test(layout, layout_fits_and_reset_keeps_plan);
	suite_add_tcase(s, layout);
	TCase *claims = tcase_create("claims");
	tcase_add_test(claims, own_claim_first_then_free_ones);
	tcase_add_test(claims, concurrent_claims_are_exclusive);
	suite_add_tcase(s, claims);
	TCase *tables = tcase_create("tables");
	tcase_add_test(tables, table_error_sets_state);
	tcase_add_test(tables, gtid_text_is_published_whole);
	tcase_add_test(tables, rows_in_flight_per_table);
	tcase_add_test(tables, changed_wakes_a_waiting_process);
	suite_add_tcase(s, tables);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
