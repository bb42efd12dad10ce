/* Ring + spill queue, producer and consumer in separate processes over one MAP_SHARED
 * mapping: ring -> spill -> ring under a slow consumer with every record once and in
 * order and memory bounded; a consumer that keeps up never spills; holds, oversized
 * records, wake-ups through the spill doorbell and signal interruption. */
#include "ipc/queue.h"
#include "ipc/record.h"
#include "ipc/wakeup.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)
/* For per-record checks: a passing ck_assert costs a system call in fork mode (Check
 * records the location), which would make the consumer the bottleneck under test. */
#define require(cond, ...)                        \
	do {                                      \
		if (!(cond))                      \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

static char dir[512];

/* What both processes share: queue control, budget, ring, and the producer's report. */
typedef struct shared_area {
	queue_shared *qs;
	spill_budget *budget;
	ring *ring;
	struct report {
		_Atomic long hwm_start_kb, hwm_end_kb;
		_Atomic long fulls;    /* QUEUE_FULL seen by the producer */
		_Atomic int done;
	} *report;
	void *base;
	size_t size;
} shared_area;

static shared_area map_shared(size_t ring_capacity, uint64_t spill_limit)
{
	shared_area a;
	size_t qs = ALIGN64(queue_shmem_size()), bud = ALIGN64(sizeof(spill_budget));
	size_t rep = ALIGN64(sizeof *a.report), rs = ring_shmem_size(ring_capacity);
	ck_assert_uint_gt(rs, 0);
	a.size = qs + bud + rep + rs;
	a.base = mmap(NULL, a.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(a.base != MAP_FAILED);
	uint8_t *p = a.base;
	a.qs = queue_shmem_init(p);
	a.budget = (spill_budget *)(p + qs);
	spill_budget_init(a.budget, spill_limit);
	a.report = (void *)(p + qs + bud);
	a.ring = ring_init(p + qs + bud + rep, ring_capacity);
	ck_assert_ptr_nonnull(a.ring);
	return a;
}

static spill_options spill_opts(void)
{
	return (spill_options){.dir = dir, .worker = "orders.1", .codec = CODEC_LZ4,
	                       .block_size = 32 * 1024, .segment_size = 64 * 1024};
}

static void make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/ferry-queue-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int count_segments(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "spill-", 6) == 0;
	if (d)
		closedir(d);
	return n;
}

static void remove_dir(void)
{
	spill_remove_all(dir, "orders.1");
	rmdir(dir);
}

static long vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* ---- change-like records --------------------------------------------------------- */

/* A pgbench_accounts-like row change for seq. */
static void encode_change(record_buf *buf, uint64_t seq)
{
	char filler[96];
	int n = snprintf(filler, sizeof filler, "%-84llu", (unsigned long long)(seq % 1000));
	record_header h = {.op = RECORD_OP_UPDATE, .table_id = (uint32_t)(seq % 5 + 1), .position = seq * 100,
	                   .xid = seq / 10, .commit_time_us = 1795000000000000LL + (int64_t)seq,
	                   .old_image = RECORD_IMAGE_KEY, .has_new = true};
	record_encoder e;
	record_encode_begin(&e, buf, &h);
	record_encode_tuple(&e, 1);
	record_put_int64(&e, (int64_t)seq);
	record_encode_tuple(&e, 5);
	record_put_int64(&e, (int64_t)seq);
	record_put_int64(&e, (int64_t)(seq % 10));
	record_put_int64(&e, (int64_t)(seq * 7919 % 100000) - 50000);
	record_put_text(&e, filler, (size_t)n);
	record_put_timestamptz(&e, 1795000000000000LL + (int64_t)seq);
	require(record_encode_finish(&e) == 0, "encoding %llu failed", (unsigned long long)seq);
}

static void check_change(uint64_t seq, const void *data, size_t len)
{
	record_view v;
	record_error err;
	require(record_decode(data, len, &v, &err) == 0, "seq %llu: %s at %zu", (unsigned long long)seq,
	        err.what, err.offset);
	require(v.hdr.position == seq * 100 && v.hdr.table_id == seq % 5 + 1, "seq %llu: wrong header",
	        (unsigned long long)seq);
	record_iter it;
	record_value val;
	record_iter_init(&it, &v.new_tuple);
	require(record_iter_next(&it, &val) && val.i64 == (int64_t)seq, "seq %llu: wrong row", (unsigned long long)seq);
}

/* ---- producer process -------------------------------------------------------------- */

typedef struct producer_plan {
	uint64_t n;      /* records to put */
	uint64_t busy_n; /* the first busy_n come flat out (a backlog builds up) */
	int burst;       /* then bursts of this many, */
	int idle_us;     /* each followed by this long idle, as capture between source reads */
} producer_plan;

/* Takes one record, waiting on the spill cap as capture would. */
static void put_one(shared_area *a, queue_producer *p, record_buf *buf, uint64_t s)
{
	uint64_t got;
	queue_result r;
	while ((r = queue_put(p, buf->data, buf->len, 0, &got)) == QUEUE_FULL) {
		a->report->fulls++;
		queue_producer_wait(p, 1000);
	}
	if (r != QUEUE_OK || got != s) {
		fprintf(stderr, "producer: put %llu: %d %s\n", (unsigned long long)s, r, queue_producer_error(p));
		_exit(3);
	}
}

static void flush_idle(queue_producer *p, int idle_us)
{
	queue_result r;
	while ((r = queue_producer_flush(p)) == QUEUE_FULL)
		queue_producer_wait(p, 1000);
	if (r != QUEUE_OK)
		_exit(4);
	if (idle_us)
		usleep((useconds_t)idle_us);
}

/* The producer process: puts the plan's records, then detaches. Exit status 0 = all taken. */
static void run_producer(shared_area *a, const producer_plan *plan)
{
	char err[512];
	spill_options opt = spill_opts();
	queue_producer *p = queue_producer_open(a->qs, a->ring, a->budget, &opt, err, sizeof err);
	if (!p) {
		fprintf(stderr, "producer: %s\n", err);
		_exit(2);
	}
	record_buf buf;
	record_buf_init(&buf);
	encode_change(&buf, 1); /* warm the buffers before the baseline */
	a->report->hwm_start_kb = vm_hwm_kb();
	for (uint64_t s = 1; s <= plan->n; s++) {
		encode_change(&buf, s);
		put_one(a, p, &buf, s);
		if (s <= plan->busy_n ? s % 5000 == 0 : s % (uint64_t)plan->burst == 0 || s == plan->n)
			flush_idle(p, s <= plan->busy_n ? 0 : plan->idle_us);
	}
	a->report->hwm_end_kb = vm_hwm_kb();
	ring_detach_producer(a->ring);
	record_buf_free(&buf);
	queue_producer_close(p);
	_exit(0);
}

static pid_t start_producer(shared_area *a, producer_plan plan)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* A failing consumer must not leave the producer waiting for space forever. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(5);
		run_producer(a, &plan);
	}
	return pid;
}

static void wait_producer(pid_t pid)
{
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer exited with status 0x%x", st);
}

/* ---- consumer ---------------------------------------------------------------------- */

typedef struct consumer_seen {
	size_t max_ring_used;
	uint64_t max_budget_used;
} consumer_seen;

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Takes records 1..n in order, checking each. With slow set it alternates 200 ms slow
 * (~25 records/ms, below the producer's pace) and 200 ms at full speed. Like an apply
 * worker it commits (confirms) whenever it would wait, and every 500 records. */
static consumer_seen consume_all(shared_area *a, queue_consumer *c, uint64_t n, bool slow)
{
	consumer_seen seen = {0};
	uint64_t seq;
	const void *data;
	size_t len;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t expect = 1; expect <= n; expect++) {
		queue_result r = queue_get(c, &seq, &data, &len, 0);
		if (r == QUEUE_WOULD_BLOCK) {
			require(queue_consumer_confirm(c, expect - 1) == QUEUE_OK, "%s", queue_consumer_error(c));
			r = queue_get(c, &seq, &data, &len, 10000);
		}
		require(r == QUEUE_OK, "get %llu: %d %s", (unsigned long long)expect, r, queue_consumer_error(c));
		require(seq == expect, "got %llu, want %llu", (unsigned long long)seq, (unsigned long long)expect);
		check_change(seq, data, len);
		size_t used = ring_used(a->ring);
		uint64_t disk = atomic_load(&a->budget->used);
		seen.max_ring_used = used > seen.max_ring_used ? used : seen.max_ring_used;
		seen.max_budget_used = disk > seen.max_budget_used ? disk : seen.max_budget_used;
		if (slow && (int)(elapsed_s(&t0) / 0.2) % 2 == 0 && seq % 25 == 0)
			usleep(1000);
		if (seq % 500 == 0)
			require(queue_consumer_confirm(c, seq) == QUEUE_OK, "%s", queue_consumer_error(c));
	}
	ck_assert_int_eq(queue_consumer_confirm(c, n), QUEUE_OK);
	ck_assert_int_eq(queue_get(c, &seq, &data, &len, 5000), QUEUE_DETACHED); /* nothing twice */
	return seen;
}

static void print_stats(const char *what, shared_area *a, const consumer_seen *seen, size_t cap)
{
	queue_stats st;
	queue_get_stats(a->qs, &st);
	fprintf(stderr, "%s: %llu records, %llu via ring, %llu via spill in %llu episodes, %llu blocks, "
	        "%llu raw -> %llu disk bytes, %ld pauses, ring max %zu of %zu, disk max %llu, "
	        "producer peak RSS +%ld kB\n", what, (unsigned long long)st.produced,
	        (unsigned long long)st.ring_records, (unsigned long long)st.spill_records,
	        (unsigned long long)st.episodes, (unsigned long long)st.spill_blocks,
	        (unsigned long long)st.spill_raw_bytes, (unsigned long long)st.spill_disk_bytes,
	        (long)a->report->fulls, seen->max_ring_used, cap, (unsigned long long)seen->max_budget_used,
	        a->report->hwm_end_kb - a->report->hwm_start_kb);
}

/* ---- ring -> spill -> ring --------------------------------------------------------- */

START_TEST(a_slow_consumer_sends_the_stream_through_spill_and_back)
{
	const size_t cap = 64 * 1024;
	const uint64_t n = 300000, stalled = 150000;
	shared_area a = map_shared(cap, 0);
	/* 150000 records (~19 MB) while the consumer stalls, then ~100 records/ms */
	pid_t pid = start_producer(&a, (producer_plan){.n = n, .busy_n = stalled, .burst = 500, .idle_us = 5000});
	char err[512];
	spill_options opt = spill_opts();
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	while (atomic_load(&a.qs->produced_seq) < stalled)
		usleep(10000);
	consumer_seen seen = consume_all(&a, c, n, true);
	wait_producer(pid);

	queue_stats st;
	queue_get_stats(a.qs, &st);
	print_stats("slow consumer", &a, &seen, cap);
	ck_assert_uint_eq(st.ring_records + st.spill_records, n);
	ck_assert_uint_ge(st.episodes, 3);           /* ring -> spill -> ring, several times */
	ck_assert_uint_gt(st.spill_records, stalled);
	ck_assert_uint_gt(st.ring_records, n / 10);
	ck_assert_uint_le(seen.max_ring_used, cap);  /* the ring never holds more than it can */
	ck_assert_uint_gt(seen.max_ring_used, cap / 2); /* and it really was filled */
	/* a backlog of ~19 MB went to spill; the producer's memory stayed bounded by the
	 * ring and one spill block */
	ck_assert_uint_gt(st.spill_raw_bytes, 16u << 20);
	ck_assert_int_lt(a.report->hwm_end_kb - a.report->hwm_start_kb, 4096);
	ck_assert_int_le(count_segments(), 1);       /* consumed segments were deleted */
	queue_consumer_close(c);
	munmap(a.base, a.size);
}
END_TEST

START_TEST(the_disk_cap_pauses_the_producer_and_loses_nothing)
{
	const size_t cap = 64 * 1024;
	const uint64_t n = 100000, limit = 256 * 1024; /* a few 64 KiB segments */
	shared_area a = map_shared(cap, limit);
	pid_t pid = start_producer(&a, (producer_plan){.n = n, .burst = 500, .idle_us = 5000});
	char err[512];
	spill_options opt = spill_opts();
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	consumer_seen seen = consume_all(&a, c, n, true);
	wait_producer(pid);
	queue_stats st;
	queue_get_stats(a.qs, &st);
	print_stats("disk cap", &a, &seen, cap);
	ck_assert_int_gt(a.report->fulls, 0);        /* the producer did pause */
	ck_assert_uint_le(seen.max_budget_used, limit);
	ck_assert_uint_gt(st.spill_disk_bytes, 4 * limit); /* far more went through than fits */
	ck_assert_uint_ge(st.episodes, 2);
	ck_assert_int_le(count_segments(), 1);
	queue_consumer_close(c);
	munmap(a.base, a.size);
}
END_TEST

START_TEST(a_consumer_that_keeps_up_never_touches_spill)
{
	const size_t cap = 4 * 1024 * 1024;
	const uint64_t n = 60000;
	shared_area a = map_shared(cap, 0);
	pid_t pid = start_producer(&a, (producer_plan){.n = n, .burst = 200, .idle_us = 1000});

	char err[512];
	spill_options opt = spill_opts();
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	ck_assert_ptr_nonnull(c);
	uint64_t seq;
	const void *data;
	size_t len;
	for (uint64_t expect = 1; expect <= n; expect++) {
		queue_result r = queue_get(c, &seq, &data, &len, 10000);
		require(r == QUEUE_OK, "%d %s", r, queue_consumer_error(c));
		require(seq == expect, "got %llu, want %llu", (unsigned long long)seq, (unsigned long long)expect);
		check_change(seq, data, len);
	}
	wait_producer(pid);
	queue_stats st;
	queue_get_stats(a.qs, &st);
	ck_assert_uint_eq(st.ring_records, n);
	ck_assert_uint_eq(st.spill_records, 0);
	ck_assert_uint_eq(st.episodes, 0);
	ck_assert_uint_eq(st.spill_blocks, 0);
	ck_assert_int_eq(count_segments(), 0);
	queue_consumer_close(c);
	munmap(a.base, a.size);
}
END_TEST

/* ---- rules, in one process --------------------------------------------------------- */

static void expect_get(queue_consumer *c, uint64_t want, size_t want_len)
{
	uint64_t seq;
	const void *data;
	size_t len;
	queue_result r = queue_get(c, &seq, &data, &len, 1000);
	ck_assert_msg(r == QUEUE_OK, "get %llu: %d %s", (unsigned long long)want, r, queue_consumer_error(c));
	ck_assert_uint_eq(seq, want);
	ck_assert_uint_eq(len, want_len);
	for (size_t i = 0; i < len; i++)
		ck_assert_uint_eq(((const uint8_t *)data)[i], (uint8_t)(seq + i));
}

static void put_n(queue_producer *p, uint64_t *seq, int n, size_t len, unsigned flags)
{
	static uint8_t rec[20000];
	for (int i = 0; i < n; i++) {
		uint64_t s = *seq + 1;
		for (size_t k = 0; k < len; k++)
			rec[k] = (uint8_t)(s + k);
		uint64_t got;
		ck_assert_int_eq(queue_put(p, rec, len, flags, &got), QUEUE_OK);
		ck_assert_uint_eq(got, s);
		*seq = s;
	}
}

START_TEST(held_records_spill_and_the_stream_stays_on_spill_until_drained)
{
	shared_area a = map_shared(64 * 1024, 0);
	char err[512];
	spill_options opt = spill_opts();
	queue_producer *p = queue_producer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	uint64_t s = 0;
	queue_stats st;
	put_n(p, &s, 100, 50, 0);
	put_n(p, &s, 100, 50, QUEUE_PUT_SPILL); /* held, e.g. its table is loading */
	put_n(p, &s, 100, 50, 0);               /* the ring has room, but order comes first */
	queue_get_stats(a.qs, &st);
	ck_assert_uint_eq(st.ring_records, 100);
	ck_assert_uint_eq(st.spill_records, 200);
	ck_assert(st.spilling);
	ck_assert_int_eq(queue_producer_flush(p), QUEUE_OK);
	for (uint64_t i = 1; i <= 250; i++)
		expect_get(c, i, 50);
	put_n(p, &s, 1, 50, 0); /* consumer behind: still spill */
	ck_assert_int_eq(queue_producer_flush(p), QUEUE_OK); /* idle */
	queue_get_stats(a.qs, &st);
	ck_assert_uint_eq(st.spill_records, 201);
	for (uint64_t i = 251; i <= 301; i++)
		expect_get(c, i, 50);
	put_n(p, &s, 10, 50, 0); /* drained: back to the ring */
	queue_get_stats(a.qs, &st);
	ck_assert_uint_eq(st.ring_records, 110);
	ck_assert(!st.spilling);
	ck_assert_uint_eq(st.episodes, 1);
	for (uint64_t i = 302; i <= 311; i++)
		expect_get(c, i, 50);
	ck_assert_int_eq(queue_consumer_confirm(c, 311), QUEUE_OK);
	ck_assert_int_eq(count_segments(), 0); /* the episode's segment was sealed and deleted */
	uint64_t seq;
	const void *data;
	size_t len;
	ck_assert_int_eq(queue_get(c, &seq, &data, &len, 0), QUEUE_WOULD_BLOCK);
	queue_consumer_close(c);
	queue_producer_close(p);
	munmap(a.base, a.size);
}
END_TEST

START_TEST(a_record_too_large_for_the_ring_goes_through_spill_in_order)
{
	shared_area a = map_shared(4096, 0);
	char err[512];
	spill_options opt = spill_opts();
	queue_producer *p = queue_producer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	uint64_t s = 0;
	put_n(p, &s, 3, 100, 0);
	put_n(p, &s, 1, 10000, 0); /* larger than the whole ring */
	put_n(p, &s, 3, 0, 0);     /* empty records are records too */
	ck_assert_int_eq(queue_producer_flush(p), QUEUE_OK);
	expect_get(c, 1, 100);
	expect_get(c, 2, 100);
	expect_get(c, 3, 100);
	expect_get(c, 4, 10000);
	expect_get(c, 5, 0);
	expect_get(c, 6, 0);
	expect_get(c, 7, 0);
	put_n(p, &s, 1, 100, 0);
	expect_get(c, 8, 100);
	queue_stats st;
	queue_get_stats(a.qs, &st);
	ck_assert_uint_eq(st.ring_records, 4);
	ck_assert_uint_eq(st.spill_records, 4);
	queue_consumer_close(c);
	queue_producer_close(p);
	munmap(a.base, a.size);
}
END_TEST

/* ---- waiting ----------------------------------------------------------------------- */

START_TEST(a_sleeping_consumer_wakes_for_spilled_records)
{
	shared_area a = map_shared(64 * 1024, 0);
	char err[512];
	spill_options opt = spill_opts();
	pid_t pid = fork();
	if (pid == 0) {
		queue_producer *p = queue_producer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
		uint64_t s = 0;
		usleep(300 * 1000);
		put_n(p, &s, 5, 40, QUEUE_PUT_SPILL);
		_exit(queue_producer_flush(p) == QUEUE_OK ? 0 : 1);
	}
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_get(c, 1, 40); /* asleep on the empty ring until the doorbell */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited > 0.2 && waited < 0.9, "woke after %.3f s", waited);
	for (uint64_t i = 2; i <= 5; i++)
		expect_get(c, i, 40);
	wait_producer(pid);
	queue_consumer_close(c);
	munmap(a.base, a.size);
}
END_TEST

static volatile sig_atomic_t got_alarm;

static void on_alarm(int sig)
{
	got_alarm = 1;
	wakeup_interrupt();
}

START_TEST(a_signal_interrupts_a_waiting_consumer)
{
	shared_area a = map_shared(64 * 1024, 0);
	char err[512];
	spill_options opt = spill_opts();
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 200 * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	uint64_t seq;
	const void *data;
	size_t len;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(queue_get(c, &seq, &data, &len, 5000), QUEUE_INTERRUPTED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert(got_alarm);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
	queue_consumer_close(c);
	munmap(a.base, a.size);
}
END_TEST

START_TEST(a_consumer_without_producer_times_out)
{
	shared_area a = map_shared(64 * 1024, 0);
	char err[512];
	spill_options opt = spill_opts();
	queue_consumer *c = queue_consumer_open(a.qs, a.ring, a.budget, &opt, err, sizeof err);
	uint64_t seq;
	const void *data;
	size_t len;
	ck_assert_int_eq(queue_get(c, &seq, &data, &len, 0), QUEUE_WOULD_BLOCK);
	ck_assert_int_eq(queue_get(c, &seq, &data, &len, 100), QUEUE_WOULD_BLOCK);
	ring_detach_producer(a.ring);
	ck_assert_int_eq(queue_get(c, &seq, &data, &len, 100), QUEUE_DETACHED);
	queue_consumer_close(c);
	munmap(a.base, a.size);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("processes");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_set_timeout(tc, 50);
	tcase_add_test(tc, a_slow_consumer_sends_the_stream_through_spill_and_back);
	tcase_add_test(tc, the_disk_cap_pauses_the_producer_and_loses_nothing);
	tcase_add_test(tc, a_consumer_that_keeps_up_never_touches_spill);
	suite_add_tcase(s, tc);

	tc = tcase_create("order_rules");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_add_test(tc, held_records_spill_and_the_stream_stays_on_spill_until_drained);
	tcase_add_test(tc, a_record_too_large_for_the_ring_goes_through_spill_in_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("waiting");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, a_sleeping_consumer_wakes_for_spilled_records);
	tcase_add_test(tc, a_signal_interrupts_a_waiting_consumer);
	tcase_add_test(tc, a_consumer_without_producer_times_out);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
