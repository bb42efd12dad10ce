/* Unit tests for ipc/shmem, ipc/wakeup and ipc/ring. The producer and the consumer run
 * in separate processes over one shared mapping, as the workers do. Children report
 * through exit codes and a message in shared memory (Check's assertions belong to the
 * test process); they die with the test process (PR_SET_PDEATHSIG) if it fails. */
#include "ipc/ring.h"
#include "ipc/shmem.h"
#include "ipc/wakeup.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STREAM_RECORDS 10000000ull
#define STREAM_PAUSE_EVERY 100000ull /* each side pauses this often so the other sleeps */
#define STREAM_PAUSE_US 200
#define STREAM_STALL_MS 10000 /* a wait this long means a lost wake-up or a dead peer */
#define MAX_TEST_RECORD 300
/* Scheduling delay allowed on a loaded machine: a woken waiter returns within it (its
 * own timeout is 10 s), a timed wait ends no later than timeout + this. */
#define SLACK_MS 500

/* What a child reports back besides its exit code. */
typedef struct test_shared {
	_Atomic int result;       /* ring_result of the child's call */
	_Atomic long long done_ns; /* CLOCK_MONOTONIC when that call returned */
	char msg[256];
} test_shared;

static shmem_segment seg;
static test_shared *shared;

static void teardown(void)
{
	shmem_destroy(&seg);
	shared = NULL;
}

static ring *new_ring(size_t capacity)
{
	ring *r;

	ck_assert_int_eq(shmem_create(&seg, ring_shmem_size(capacity) + 2 * sizeof(test_shared) + 4096), 0);
	shared = shmem_alloc(&seg, sizeof *shared);
	ck_assert_ptr_nonnull(shared);
	r = ring_init(shmem_alloc(&seg, ring_shmem_size(capacity)), capacity);
	ck_assert_ptr_nonnull(r);
	return r;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int child_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(shared->msg, sizeof shared->msg, fmt, ap);
	va_end(ap);
	return 1;
}

/* Forks a child running fn(r); it exits with fn's return value. */
static pid_t spawn(int (*fn)(ring *), ring *r)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(99);
		_exit(fn(r));
	}
	return pid;
}

static int child_exit_code(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child did not exit normally (status 0x%x)", st);
	return WEXITSTATUS(st);
}

/* Polls (test only) until the child has gone to sleep in the ring. */
static void wait_until_asleep(ring *r, int producer)
{
	long long give_up = now_ns() + 5000000000LL;
	ring_stats st;

	for (;;) {
		ring_get_stats(r, &st);
		if ((producer ? st.producer_waits : st.consumer_waits) > 0)
			break;
		ck_assert_msg(now_ns() < give_up, "child never slept in the ring");
		sleep_us(1000);
	}
	sleep_us(20000); /* from announcing itself into the futex */
}

/* ---- record contents derived from the sequence number ---- */

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static size_t rec_len(uint64_t seq)
{
	return 1 + (size_t)(mix(seq) % MAX_TEST_RECORD);
}

static void rec_fill(uint64_t seq, unsigned char *buf, size_t len)
{
	uint64_t h = mix(seq ^ 0x5EEDull);

	for (size_t i = 0; i < len; i += 8) {
		uint64_t word = h + i * 0x9E3779B97F4A7C15ull;
		memcpy(buf + i, &word, len - i < 8 ? len - i : 8);
	}
}

/* ---- shmem ---- */

START_TEST(shmem_bump_allocator)
{
	unsigned char *a, *b, *c;

	ck_assert_uint_eq(shmem_align(0), 0);
	ck_assert_uint_eq(shmem_align(1), SHMEM_ALIGN);
	ck_assert_uint_eq(shmem_align(SHMEM_ALIGN), SHMEM_ALIGN);
	ck_assert_uint_eq(shmem_align(SHMEM_ALIGN + 1), 2 * SHMEM_ALIGN);
	ck_assert_int_eq(shmem_create(&seg, 4096), 0);
	a = shmem_alloc(&seg, 1);
	b = shmem_alloc(&seg, 100);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq((uintptr_t)a % SHMEM_ALIGN, 0);
	ck_assert_uint_eq((uintptr_t)b % SHMEM_ALIGN, 0);
	ck_assert_ptr_eq(b, a + SHMEM_ALIGN);
	ck_assert_uint_eq(seg.used, 3 * SHMEM_ALIGN);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(b[i], 0);
	ck_assert_ptr_null(shmem_alloc(&seg, 4096));
	c = shmem_alloc(&seg, 4096 - 3 * SHMEM_ALIGN);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(shmem_alloc(&seg, 1));
	ck_assert_ptr_null(shmem_alloc(&seg, 0));
}
END_TEST

START_TEST(shmem_shared_across_fork)
{
	pid_t pid;
	int *word;

	ck_assert_int_eq(shmem_create(&seg, 4096), 0);
	word = shmem_alloc(&seg, sizeof *word);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		*word = 42;
		_exit(0);
	}
	ck_assert_int_eq(child_exit_code(pid), 0);
	ck_assert_int_eq(*word, 42);
}
END_TEST

START_TEST(shmem_rejects_empty)
{
	errno = 0;
	ck_assert_int_eq(shmem_create(&seg, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(shmem_alloc(&seg, 8));
}
END_TEST

/* ---- geometry and accounting ---- */

START_TEST(ring_geometry)
{
	static unsigned char mem[8192] __attribute__((aligned(64)));
	ring *r;

	ck_assert_uint_eq(ring_shmem_size(100), 0);
	ck_assert_uint_eq(ring_shmem_size(32), 0);
	ck_assert_uint_ge(ring_shmem_size(1024), 1024);
	ck_assert_ptr_null(ring_init(mem, 1000));
	ck_assert_ptr_null(ring_init(mem + 8, 1024)); /* misaligned */
	r = ring_init(mem, 1024);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_le(ring_shmem_size(1024), sizeof mem);
	ck_assert_uint_eq(ring_capacity(r), 1024);
	ck_assert_uint_eq(ring_max_record(r), 1020);
	ck_assert_uint_eq(ring_used(r), 0);
}
END_TEST

START_TEST(ring_used_accounting)
{
	ring *r = new_ring(1024);
	unsigned char buf[1024] = {0};
	size_t len;

	/* 4-byte prefix + payload, padded to 8 */
	ck_assert_int_eq(ring_put(r, buf, 1, 0), RING_OK);
	ck_assert_uint_eq(ring_used(r), 8);
	ck_assert_int_eq(ring_put(r, buf, 4, 0), RING_OK);
	ck_assert_uint_eq(ring_used(r), 16);
	ck_assert_int_eq(ring_put(r, buf, 5, 0), RING_OK);
	ck_assert_uint_eq(ring_used(r), 32);
	ck_assert_int_eq(ring_put(r, NULL, 0, 0), RING_OK); /* an empty record is a record */
	ck_assert_uint_eq(ring_used(r), 40);
	ck_assert_int_eq(ring_put(r, buf, 100, 0), RING_OK);
	ck_assert_uint_eq(ring_used(r), 144);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_OK);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(ring_used(r), 136);
	ck_assert_int_eq(ring_peek_len(r, &len), RING_OK);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(ring_used(r), 136); /* peek consumes nothing */
	for (size_t want = 4; ring_used(r) > 0;) {
		ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_OK);
		ck_assert_uint_eq(len, want);
		want = want == 4 ? 5 : want == 5 ? 0 : 100;
	}
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_WOULD_BLOCK);
	ck_assert_int_eq(ring_peek_len(r, &len), RING_WOULD_BLOCK);
	/* fill exactly: 1024 bytes = 128 records of 8 */
	for (int i = 0; i < 128; i++)
		ck_assert_int_eq(ring_put(r, buf, 4, 0), RING_OK);
	ck_assert_uint_eq(ring_used(r), 1024);
	ck_assert_int_eq(ring_put(r, buf, 0, 0), RING_WOULD_BLOCK);
}
END_TEST

/* Records of every length through a tiny ring: payloads straddle the end constantly. */
START_TEST(ring_wraps_in_two_pieces)
{
	ring *r = new_ring(RING_MIN_CAPACITY);
	unsigned char in[64], out[64];
	uint64_t put_seq = 0, get_seq = 0;
	size_t len;

	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(mix(put_seq) % 28);
		rec_fill(put_seq, in, n);
		if (ring_put(r, in, n, 0) == RING_OK)
			put_seq++;
		if (round % 3 != 0 && ring_get(r, out, sizeof out, &len, 0) == RING_OK) {
			rec_fill(get_seq, in, len);
			ck_assert_uint_eq(len, (size_t)(mix(get_seq) % 28));
			ck_assert_msg(memcmp(in, out, len) == 0, "record %llu differs", (unsigned long long)get_seq);
			get_seq++;
		}
	}
	ck_assert_uint_gt(get_seq, 10000);
	ck_assert_uint_eq(ring_used(r) > 0, put_seq > get_seq);
}
END_TEST

START_TEST(ring_too_large_both_ways)
{
	ring *r = new_ring(256);
	unsigned char big[512], out[512], small[10];
	size_t max = ring_max_record(r), len = 0;

	ck_assert_uint_eq(max, 252);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7);
	ck_assert_int_eq(ring_put(r, big, max + 1, -1), RING_TOO_LARGE);
	ck_assert_uint_eq(ring_used(r), 0);
	ck_assert_int_eq(ring_put(r, big, max, 0), RING_OK);
	ck_assert_uint_eq(ring_used(r), 256);
	/* the ring is full now: a fitting record would block, it is not "too large" */
	ck_assert_int_eq(ring_put(r, big, 1, 0), RING_WOULD_BLOCK);
	ck_assert_int_eq(ring_get(r, small, sizeof small, &len, 0), RING_TOO_LARGE);
	ck_assert_uint_eq(len, max);
	ck_assert_uint_eq(ring_used(r), 256); /* not consumed */
	ck_assert_int_eq(ring_get(r, out, sizeof out, &len, 0), RING_OK);
	ck_assert_uint_eq(len, max);
	ck_assert_int_eq(memcmp(out, big, max), 0);
	ck_assert_uint_eq(ring_used(r), 0);
}
END_TEST

/* ---- timeouts ---- */

START_TEST(ring_timeouts)
{
	ring *r = new_ring(1024);
	unsigned char buf[1024] = {0};
	long long t0, ms;
	size_t len;

	t0 = now_ns();
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_WOULD_BLOCK);
	ck_assert_int_lt((now_ns() - t0) / 1000000, SLACK_MS);

	t0 = now_ns();
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 200), RING_WOULD_BLOCK);
	ms = (now_ns() - t0) / 1000000;
	ck_assert_msg(ms >= 199 && ms < 200 + SLACK_MS, "get with 200 ms timeout took %lld ms", ms);

	ck_assert_int_eq(ring_put(r, buf, 1020, 0), RING_OK);
	t0 = now_ns();
	ck_assert_int_eq(ring_put(r, buf, 8, 0), RING_WOULD_BLOCK);
	ck_assert_int_lt((now_ns() - t0) / 1000000, SLACK_MS);
	t0 = now_ns();
	ck_assert_int_eq(ring_put(r, buf, 8, 150), RING_WOULD_BLOCK);
	ms = (now_ns() - t0) / 1000000;
	ck_assert_msg(ms >= 149 && ms < 150 + SLACK_MS, "put with 150 ms timeout took %lld ms", ms);
	ck_assert_uint_eq(ring_used(r), 1024);
}
END_TEST

/* ---- wake-ups across processes ---- */


static int consumer_waits_10s(ring *r)
{
	unsigned char buf[64];
	size_t len = 0;
	ring_result res = ring_get(r, buf, sizeof buf, &len, 10000);

	atomic_store(&shared->done_ns, now_ns());
	atomic_store(&shared->result, res);
	if (res == RING_OK && (len != 5 || memcmp(buf, "hello", 5) != 0))
		return child_fail("got %zu bytes, not \"hello\"", len);
	return 0;
}

START_TEST(ring_put_wakes_sleeping_consumer)
{
	ring *r = new_ring(4096);
	pid_t pid = spawn(consumer_waits_10s, r);
	long long t0;

	wait_until_asleep(r, 0);
	t0 = now_ns();
	ck_assert_int_eq(ring_put(r, "hello", 5, 0), RING_OK);
	ck_assert_int_eq(child_exit_code(pid), 0);
	ck_assert_int_eq(atomic_load(&shared->result), RING_OK);
	ck_assert_msg(atomic_load(&shared->done_ns) - t0 < SLACK_MS * 1000000LL,
		      "consumer returned %lld ms after the put", (atomic_load(&shared->done_ns) - t0) / 1000000);
}
END_TEST

static int producer_waits_10s(ring *r)
{
	unsigned char buf[512] = {0};
	ring_result res = ring_put(r, buf, 200, 10000);

	atomic_store(&shared->done_ns, now_ns());
	atomic_store(&shared->result, res);
	return 0;
}

START_TEST(ring_get_wakes_sleeping_producer)
{
	ring *r = new_ring(1024);
	unsigned char buf[1024] = {0};
	pid_t pid;
	size_t len;
	long long t0;

	for (int i = 0; i < 16; i++) /* full: 16 records of 64 bytes */
		ck_assert_int_eq(ring_put(r, buf, 60, 0), RING_OK);
	pid = spawn(producer_waits_10s, r);
	wait_until_asleep(r, 1);
	t0 = now_ns();
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_OK);
	ck_assert_int_eq(child_exit_code(pid), 0);
	ck_assert_int_eq(atomic_load(&shared->result), RING_OK);
	ck_assert_msg(atomic_load(&shared->done_ns) - t0 < SLACK_MS * 1000000LL,
		      "producer returned %lld ms after the gets", (atomic_load(&shared->done_ns) - t0) / 1000000);
	ck_assert_uint_eq(ring_used(r), 8 * 64 + 208);
}
END_TEST

/* ---- detach ---- */

START_TEST(ring_producer_detach_wakes_consumer)
{
	ring *r = new_ring(4096);
	pid_t pid = spawn(consumer_waits_10s, r);
	long long t0;

	wait_until_asleep(r, 0);
	t0 = now_ns();
	ring_detach_producer(r);
	ck_assert_int_eq(child_exit_code(pid), 0);
	ck_assert_int_eq(atomic_load(&shared->result), RING_DETACHED);
	ck_assert_int_lt(atomic_load(&shared->done_ns) - t0, SLACK_MS * 1000000LL);
}
END_TEST

START_TEST(ring_consumer_detach_wakes_producer)
{
	ring *r = new_ring(1024);
	unsigned char buf[1024] = {0};
	pid_t pid;
	long long t0;

	ck_assert_int_eq(ring_put(r, buf, 1000, 0), RING_OK);
	pid = spawn(producer_waits_10s, r);
	wait_until_asleep(r, 1);
	t0 = now_ns();
	ring_detach_consumer(r);
	ck_assert_int_eq(child_exit_code(pid), 0);
	ck_assert_int_eq(atomic_load(&shared->result), RING_DETACHED);
	ck_assert_int_lt(atomic_load(&shared->done_ns) - t0, SLACK_MS * 1000000LL);
}
END_TEST

START_TEST(ring_detach_drains_then_reattach)
{
	ring *r = new_ring(1024);
	unsigned char buf[64];
	size_t len;

	ck_assert_int_eq(ring_put(r, "a", 1, 0), RING_OK);
	ck_assert_int_eq(ring_put(r, "bb", 2, 0), RING_OK);
	ring_detach_producer(r);
	/* what was put before the detach is still delivered, then DETACHED for good */
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, -1), RING_OK);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(ring_peek_len(r, &len), RING_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, -1), RING_OK);
	ck_assert_int_eq(memcmp(buf, "bb", 2), 0);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_DETACHED);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, -1), RING_DETACHED);
	ck_assert_int_eq(ring_peek_len(r, &len), RING_DETACHED);

	ring_reattach(r);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_WOULD_BLOCK);
	ring_detach_consumer(r);
	ck_assert_int_eq(ring_put(r, "c", 1, 0), RING_DETACHED); /* room, but nobody reads */
	ck_assert_int_eq(ring_put(r, "c", 1, -1), RING_DETACHED);
	ck_assert_uint_eq(ring_used(r), 0);
	ring_reattach(r);
	ck_assert_int_eq(ring_put(r, "c", 1, 0), RING_OK);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, 0), RING_OK);
	ck_assert_int_eq(buf[0], 'c');
}
END_TEST

/* ---- signals ---- */

static volatile sig_atomic_t got_alarm;
static int alarm_calls_interrupt;

static void on_alarm(int signo)
{
	(void)signo;
	got_alarm = 1;
	if (alarm_calls_interrupt)
		wakeup_interrupt();
}

/* SA_RESTART on purpose: the wait must still end, or a worker using SA_RESTART could
 * never notice SIGTERM while blocked on its ring. */
static void alarm_in_ms(int ms, int call_interrupt)
{
	struct sigaction sa;
	struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	got_alarm = 0;
	alarm_calls_interrupt = call_interrupt;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
}

START_TEST(ring_signal_interrupts_get)
{
	ring *r = new_ring(1024);
	unsigned char buf[64];
	size_t len;
	long long t0 = now_ns(), ms;

	alarm_in_ms(100, _i);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, -1), RING_INTERRUPTED);
	ms = (now_ns() - t0) / 1000000;
	ck_assert_int_eq(got_alarm, 1);
	ck_assert_msg(ms >= 99 && ms < 100 + SLACK_MS, "interrupted after %lld ms", ms);
	/* and the ring still works */
	ck_assert_int_eq(ring_put(r, "x", 1, 0), RING_OK);
	ck_assert_int_eq(ring_get(r, buf, sizeof buf, &len, -1), RING_OK);
}
END_TEST

START_TEST(ring_signal_interrupts_put)
{
	ring *r = new_ring(1024);
	unsigned char buf[1024] = {0};

	ck_assert_int_eq(ring_put(r, buf, 1000, 0), RING_OK);
	alarm_in_ms(100, _i);
	ck_assert_int_eq(ring_put(r, buf, 100, 5000), RING_INTERRUPTED);
	ck_assert_int_eq(got_alarm, 1);
	ck_assert_uint_eq(ring_used(r), 1008);
}
END_TEST

/* A handler that runs after the waiter looked at its flags but before it sleeps: with
 * wakeup_interrupt() the wait ends at once instead of sleeping through the signal. */
START_TEST(wakeup_interrupt_before_sleep)
{
	wakeup *w;
	uint32_t seq;
	long long t0;

	ck_assert_int_eq(shmem_create(&seg, 4096), 0);
	w = shmem_alloc(&seg, sizeof *w);
	wakeup_init(w);
	seq = wakeup_prepare(w);
	wakeup_interrupt(); /* as if from a handler, just now */
	t0 = now_ns();
	ck_assert_int_eq(wakeup_wait(w, seq, 5000), WAKEUP_INTERRUPTED);
	ck_assert_int_lt(now_ns() - t0, SLACK_MS * 1000000LL);
	/* no signal pending now: an ordinary timeout */
	seq = wakeup_prepare(w);
	t0 = now_ns();
	ck_assert_int_eq(wakeup_wait(w, seq, 50), WAKEUP_TIMEOUT);
	ck_assert_int_ge(now_ns() - t0, 49 * 1000000LL);
}
END_TEST

/* The signaller only touches the word (and calls the kernel) when a waiter announced
 * itself, and clears the announcement as it wakes, so the next signal is free again. */
START_TEST(wakeup_signal_only_with_sleeper)
{
	wakeup *w;
	uint32_t seq, before;

	ck_assert_int_eq(shmem_create(&seg, 4096), 0);
	w = shmem_alloc(&seg, sizeof *w);
	wakeup_init(w);
	before = atomic_load(&w->word);
	wakeup_signal(w);
	ck_assert_uint_eq(atomic_load(&w->word), before);

	seq = wakeup_prepare(w);
	ck_assert(wakeup_has_waiter(w));
	wakeup_signal(w);
	ck_assert(!wakeup_has_waiter(w));
	ck_assert_uint_ne(atomic_load(&w->word), seq);
	/* the word moved after prepare: the wait does not sleep */
	ck_assert_int_eq(wakeup_wait(w, seq, 5000), WAKEUP_OK);
	before = atomic_load(&w->word);
	wakeup_signal(w);
	ck_assert_uint_eq(atomic_load(&w->word), before);
}
END_TEST

/* ---- 10M records, two processes, a small ring ---- */

static void stream_pause(uint64_t seq, uint64_t phase)
{
	if (seq % STREAM_PAUSE_EVERY == phase)
		sleep_us(STREAM_PAUSE_US);
}

static int stream_check(ring *r, uint64_t seq, unsigned char *got, unsigned char *want)
{
	size_t len;
	ring_result res = ring_get(r, got, MAX_TEST_RECORD, &len, STREAM_STALL_MS);

	if (res != RING_OK)
		return child_fail("record %llu: ring_get returned %d", (unsigned long long)seq, res);
	if (len != rec_len(seq))
		return child_fail("record %llu: %zu bytes, expected %zu", (unsigned long long)seq, len,
				  rec_len(seq));
	rec_fill(seq, want, len);
	if (memcmp(got, want, len) != 0)
		return child_fail("record %llu: contents differ", (unsigned long long)seq);
	return 0;
}

static int stream_consumer(ring *r)
{
	unsigned char got[MAX_TEST_RECORD], want[MAX_TEST_RECORD];
	size_t len;
	ring_result res;

	for (uint64_t seq = 0; seq < STREAM_RECORDS; seq++) {
		if (stream_check(r, seq, got, want) != 0) {
			ring_detach_consumer(r); /* so the producer stops and the test reports */
			return 1;
		}
		stream_pause(seq, STREAM_PAUSE_EVERY / 2);
	}
	/* the producer detaches after its last record: anything more is a duplicate */
	res = ring_get(r, got, sizeof got, &len, STREAM_STALL_MS);
	if (res != RING_DETACHED)
		return child_fail("after the last record: ring_get returned %d, not RING_DETACHED", res);
	return 0;
}

START_TEST(ring_stream_10m_two_processes)
{
	ring *r = new_ring(64 * 1024);
	unsigned char rec[MAX_TEST_RECORD];
	ring_result res = RING_OK;
	ring_stats st;
	pid_t pid = spawn(stream_consumer, r);
	uint64_t seq;
	int code;

	/* no ck_assert per record: each passing one writes to Check's pipe */
	for (seq = 0; seq < STREAM_RECORDS && res == RING_OK; seq++) {
		size_t len = rec_len(seq);
		rec_fill(seq, rec, len);
		res = ring_put(r, rec, len, STREAM_STALL_MS);
		if (seq > 0)
			stream_pause(seq, 0);
	}
	ring_detach_producer(r);
	code = child_exit_code(pid);
	ck_assert_msg(code == 0, "consumer failed: %s", shared->msg);
	ck_assert_msg(res == RING_OK, "record %llu: ring_put returned %d", (unsigned long long)seq - 1, res);
	ck_assert_uint_eq(ring_used(r), 0);
	ring_get_stats(r, &st);
	/* each side paused 99 times: the other had to sleep and be woken */
	ck_assert_uint_gt(st.producer_waits, 0);
	ck_assert_uint_gt(st.consumer_waits, 0);
}
END_TEST

/* ---- ping-pong: many sleep/wake races, a lost wake-up hangs the test ---- */

#define PINGPONG_ROUNDS 20000

static ring *pong_ring; /* child -> parent; set before fork */

static void busy_us(unsigned us)
{
	long long until = now_ns() + us * 1000LL;
	while (now_ns() < until)
		;
}

static int pingpong_child(ring *ping)
{
	uint64_t v;
	size_t len;

	for (uint64_t i = 0; i < PINGPONG_ROUNDS; i++) {
		if (ring_get(ping, &v, sizeof v, &len, -1) != RING_OK || v != i)
			return child_fail("round %llu: bad ping", (unsigned long long)i);
		busy_us((unsigned)(mix(i) % 20));
		if (ring_put(pong_ring, &v, sizeof v, -1) != RING_OK)
			return child_fail("round %llu: pong put failed", (unsigned long long)i);
	}
	return 0;
}

START_TEST(ring_pingpong_wakeups)
{
	ring *ping = new_ring(1024);
	ring_stats st;
	uint64_t v;
	size_t len;
	pid_t pid;

	pong_ring = ring_init(shmem_alloc(&seg, ring_shmem_size(1024)), 1024);
	ck_assert_ptr_nonnull(pong_ring);
	pid = spawn(pingpong_child, ping);
	for (uint64_t i = 0; i < PINGPONG_ROUNDS; i++) {
		if (ring_put(ping, &i, sizeof i, -1) != RING_OK ||
		    ring_get(pong_ring, &v, sizeof v, &len, -1) != RING_OK || v != i)
			ck_abort_msg("round %llu: ping-pong failed", (unsigned long long)i);
	}
	ck_assert_msg(child_exit_code(pid) == 0, "child failed: %s", shared->msg);
	ring_get_stats(pong_ring, &st);
	ck_assert_uint_gt(st.consumer_waits, 0);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc;

	tc = tcase_create("shmem");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, shmem_bump_allocator);
	tcase_add_test(tc, shmem_shared_across_fork);
	tcase_add_test(tc, shmem_rejects_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("layout");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, ring_geometry);
	tcase_add_test(tc, ring_used_accounting);
	tcase_add_test(tc, ring_wraps_in_two_pieces);
	tcase_add_test(tc, ring_too_large_both_ways);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, ring_timeouts);
	suite_add_tcase(s, tc);

	tc = tcase_create("wakeups");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, ring_put_wakes_sleeping_consumer);
	tcase_add_test(tc, ring_get_wakes_sleeping_producer);
	tcase_add_test(tc, ring_pingpong_wakeups);
	suite_add_tcase(s, tc);

	tc = tcase_create("detach");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, ring_producer_detach_wakes_consumer);
	tcase_add_test(tc, ring_consumer_detach_wakes_producer);
	tcase_add_test(tc, ring_detach_drains_then_reattach);
	suite_add_tcase(s, tc);

	tc = tcase_create("signals");
	tcase_add_checked_fixture(tc, NULL, teardown);
	/* loop index 0: the handler only sets its flag; 1: it also calls wakeup_interrupt() */
	tcase_add_loop_test(tc, ring_signal_interrupts_get, 0, 2);
	tcase_add_loop_test(tc, ring_signal_interrupts_put, 0, 2);
	tcase_add_test(tc, wakeup_interrupt_before_sleep);
	tcase_add_test(tc, wakeup_signal_only_with_sleeper);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 50); /* a few seconds normally; sanitizers are slower */
	tcase_add_test(tc, ring_stream_10m_two_processes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
