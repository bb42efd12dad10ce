/* Ring throughput: a producer and a consumer process move fixed-size records through
 * one ring; prints records/s and payload bytes/s, median of 3 runs, per record size and
 * ring size. Usage: bench_ring [MB of payload per run, default 1024]. */
#include "ipc/ring.h"
#include "ipc/shmem.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 3
#define MAX_RECORDS 30000000ull /* keeps the small-record runs around a second */

/* Start line and finish times, shared with the two children. */
typedef struct bench_sync {
	_Atomic int ready;
	_Atomic int go;
	_Atomic long long start_ns;
	_Atomic long long end_ns;
	_Atomic unsigned long long bad;
} bench_sync;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A freshly forked process maps the shared pages lazily, one fault per page on first
 * touch; workers live long, so measure the steady state: touch them before the start. */
static void prefault(const void *mem, size_t size)
{
	const volatile unsigned char *p = mem;
	long page = sysconf(_SC_PAGESIZE);

	for (size_t off = 0; off < size; off += (size_t)page)
		(void)p[off];
}

static void wait_for_go(bench_sync *sync, const void *mem, size_t size)
{
	prefault(mem, size);
	atomic_fetch_add(&sync->ready, 1);
	while (!atomic_load(&sync->go))
		sched_yield();
}

static void producer(ring *r, size_t ring_size, bench_sync *sync, size_t recsize, unsigned long long n)
{
	unsigned char *rec = malloc(recsize);

	if (rec == NULL)
		_exit(1);
	memset(rec, 0xA5, recsize);
	wait_for_go(sync, r, ring_size);
	for (unsigned long long i = 0; i < n; i++) {
		memcpy(rec, &i, sizeof i < recsize ? sizeof i : recsize);
		if (ring_put(r, rec, recsize, -1) != RING_OK)
			_exit(2);
	}
	ring_detach_producer(r);
	free(rec);
	_exit(0);
}

static void consumer(ring *r, size_t ring_size, bench_sync *sync, size_t recsize, unsigned long long n)
{
	unsigned char *rec = malloc(recsize);
	unsigned long long bad = 0, seen;
	size_t len;

	if (rec == NULL)
		_exit(1);
	wait_for_go(sync, r, ring_size);
	for (unsigned long long i = 0; i < n; i++) {
		if (ring_get(r, rec, recsize, &len, -1) != RING_OK)
			_exit(2);
		memcpy(&seen, rec, sizeof seen);
		bad += len != recsize || seen != i;
	}
	atomic_store(&sync->end_ns, now_ns());
	atomic_store(&sync->bad, bad);
	free(rec);
	_exit(0);
}

static int reap(pid_t pid)
{
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* One run; returns seconds, or a negative number on failure. */
static double run_once(void *ring_mem, size_t ring_bytes, bench_sync *sync, size_t recsize,
		       unsigned long long n)
{
	ring *r = ring_init(ring_mem, ring_bytes);
	pid_t cons, prod;
	int ok;

	memset(sync, 0, sizeof *sync);
	if ((cons = fork()) == 0)
		consumer(r, ring_shmem_size(ring_bytes), sync, recsize, n);
	if ((prod = fork()) == 0)
		producer(r, ring_shmem_size(ring_bytes), sync, recsize, n);
	if (cons < 0 || prod < 0) {
		perror("fork");
		exit(1);
	}
	while (atomic_load(&sync->ready) < 2)
		sched_yield();
	atomic_store(&sync->start_ns, now_ns());
	atomic_store(&sync->go, 1);
	ok = reap(cons) == 0;
	ok = reap(prod) == 0 && ok;
	if (!ok || atomic_load(&sync->bad) != 0)
		return -1;
	return (atomic_load(&sync->end_ns) - atomic_load(&sync->start_ns)) / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int bench(shmem_segment *seg, size_t ring_bytes, size_t recsize, unsigned long long payload)
{
	unsigned long long n = payload / recsize;
	bench_sync *sync;
	void *mem;
	double rate[RUNS], mid;

	seg->used = 0;
	sync = shmem_alloc(seg, sizeof *sync);
	mem = shmem_alloc(seg, ring_shmem_size(ring_bytes));
	if (sync == NULL || mem == NULL)
		return -1;
	if (n > MAX_RECORDS)
		n = MAX_RECORDS;
	for (int i = 0; i < RUNS; i++) {
		double secs = run_once(mem, ring_bytes, sync, recsize, n);
		if (secs <= 0) {
			fprintf(stderr, "bench_ring: run failed (record=%zuB ring=%zuMB)\n", recsize, ring_bytes >> 20);
			return -1;
		}
		rate[i] = n / secs;
	}
	qsort(rate, RUNS, sizeof rate[0], cmp_double);
	mid = rate[RUNS / 2];
	printf("ring record=%zuB ring=%zuMB: %.1fM records/s %.2f GB/s (median of %d)\n", recsize,
	       ring_bytes >> 20, mid / 1e6, mid * recsize / 1e9, RUNS);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const size_t ring_sizes[] = {1u << 20, 64u << 20};
	static const size_t rec_sizes[] = {64, 256, 1024};
	unsigned long long payload = (argc > 1 ? strtoull(argv[1], NULL, 10) : 1024) << 20;
	shmem_segment seg;
	int rc = 0;

	if (payload == 0) {
		fprintf(stderr, "usage: bench_ring [MB of payload per run]\n");
		return 2;
	}
	if (shmem_create(&seg, ring_shmem_size(64u << 20) + 4096) != 0) {
		perror("bench_ring: shmem_create");
		return 1;
	}
	for (size_t i = 0; i < sizeof ring_sizes / sizeof ring_sizes[0] && rc == 0; i++)
		for (size_t j = 0; j < sizeof rec_sizes / sizeof rec_sizes[0] && rc == 0; j++)
			rc = bench(&seg, ring_sizes[i], rec_sizes[j], payload);
	shmem_destroy(&seg);
	return rc == 0 ? 0 : 1;
}
