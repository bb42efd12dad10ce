/* SPSC ring of length-prefixed records in shared memory, after PostgreSQL's shm_mq.
 *
 * Positions are 64-bit byte counters that only grow (2^64 bytes never wrap in practice);
 * a position's slot is pos & mask. Only the producer stores write_pos and only the
 * consumer stores read_pos: a release store publishes the bytes written (or freed)
 * before it, the peer's acquire load makes them visible. No locks and no read-modify-write
 * of shared words on the fast path.
 *
 * Record = 4-byte length + payload, padded to 8 bytes. Records start 8-aligned and the
 * capacity is a power of two, so the length itself never straddles the end; a payload
 * may, and is then copied in two pieces. We prefer that to a wrap marker: no space is
 * lost at the end, any record up to capacity - 4 bytes fits into an empty ring, and the
 * API copies in and out anyway, so a split copy costs one extra memcpy call at most.
 *
 * Waiting: a short spin first (the peer is usually on another core and about to move),
 * then a futex sleep (ipc/wakeup.h). Each side checks for a sleeping peer after every
 * record it publishes or frees; that costs one fence and, while nobody sleeps, no
 * system call. */
#include "ipc/ring.h"

#include "ipc/wakeup.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CACHE_LINE 64
#define RECORD_HEADER 4 /* uint32_t length */
#define RECORD_ALIGN 8
#define SPIN_PAUSES 256 /* a few microseconds of pause instructions before sleeping */
#define SPIN_MAX_GAP 16

struct ring {
	/* Fixed at init, plus the detach flags, which change only on detach/reattach. Both
	 * sides read this line on every call, so it stays clean in both caches. */
	alignas(CACHE_LINE) uint64_t capacity;
	uint64_t mask;
	uint64_t max_record;
	_Atomic uint32_t producer_detached;
	_Atomic uint32_t consumer_detached;

	/* Producer's line. read_seen: its last look at read_pos; it reloads read_pos only
	 * when that says "full", so runs of puts do not pull the consumer's line over. */
	alignas(CACHE_LINE) _Atomic uint64_t write_pos;
	uint64_t read_seen;
	_Atomic uint64_t producer_waits;

	/* Consumer's line, likewise. */
	alignas(CACHE_LINE) _Atomic uint64_t read_pos;
	uint64_t write_seen;
	_Atomic uint64_t consumer_waits;

	alignas(CACHE_LINE) wakeup data_ready;  /* the consumer sleeps on it */
	alignas(CACHE_LINE) wakeup space_ready; /* the producer sleeps on it */
	_Atomic uint64_t space_wanted;          /* read_pos the sleeping producer waits for */
	/* The data area follows the struct, whose size is a multiple of CACHE_LINE. */
};

/* Deadline and interrupt mark of one blocking call. */
typedef struct wait_ctx {
	struct timespec deadline;
	const struct timespec *until; /* NULL: no deadline */
	unsigned interrupts;          /* wakeup_interrupt_count() when the wait began */
} wait_ctx;

static inline unsigned char *ring_data(ring *r)
{
	return (unsigned char *)(r + 1);
}

static inline uint64_t record_size(size_t len)
{
	return ((uint64_t)len + RECORD_HEADER + RECORD_ALIGN - 1) & ~(uint64_t)(RECORD_ALIGN - 1);
}

static bool valid_capacity(size_t capacity)
{
	return capacity >= RING_MIN_CAPACITY && (capacity & (capacity - 1)) == 0;
}

size_t ring_shmem_size(size_t capacity)
{
	if (!valid_capacity(capacity) || capacity > SIZE_MAX - sizeof(struct ring))
		return 0;
	return sizeof(struct ring) + capacity;
}

ring *ring_init(void *mem, size_t capacity)
{
	ring *r = mem;

	if (!valid_capacity(capacity) || ((uintptr_t)mem & (CACHE_LINE - 1)) != 0)
		return NULL;
	memset(r, 0, sizeof *r);
	r->capacity = capacity;
	r->mask = capacity - 1;
	r->max_record = capacity - RECORD_HEADER;
	if (r->max_record > UINT32_MAX)
		r->max_record = UINT32_MAX;
	atomic_init(&r->producer_detached, 0);
	atomic_init(&r->consumer_detached, 0);
	atomic_init(&r->write_pos, 0);
	atomic_init(&r->read_pos, 0);
	atomic_init(&r->producer_waits, 0);
	atomic_init(&r->consumer_waits, 0);
	atomic_init(&r->space_wanted, 0);
	wakeup_init(&r->data_ready);
	wakeup_init(&r->space_ready);
	return r;
}

size_t ring_max_record(const ring *r)
{
	return (size_t)r->max_record;
}

size_t ring_capacity(const ring *r)
{
	return (size_t)r->capacity;
}

size_t ring_used(const ring *r)
{
	/* read first: write_pos only grows, so the difference cannot go negative */
	uint64_t rd = atomic_load_explicit(&r->read_pos, memory_order_acquire);
	uint64_t w = atomic_load_explicit(&r->write_pos, memory_order_acquire);

	return (size_t)(w - rd);
}

void ring_get_stats(const ring *r, ring_stats *out)
{
	out->producer_waits = atomic_load_explicit(&r->producer_waits, memory_order_relaxed);
	out->consumer_waits = atomic_load_explicit(&r->consumer_waits, memory_order_relaxed);
}

/* ---- copying, with the wrap at the end of the data area ---- */

static void copy_in(ring *r, uint64_t pos, const void *src, size_t n)
{
	size_t off = (size_t)(pos & r->mask);
	size_t first = r->capacity - off < n ? r->capacity - off : n;

	if (n == 0)
		return; /* src may be NULL for an empty record */
	memcpy(ring_data(r) + off, src, first);
	if (n > first)
		memcpy(ring_data(r), (const unsigned char *)src + first, n - first);
}

static void copy_out(ring *r, uint64_t pos, void *dst, size_t n)
{
	size_t off = (size_t)(pos & r->mask);
	size_t first = r->capacity - off < n ? r->capacity - off : n;

	if (n == 0)
		return;
	memcpy(dst, ring_data(r) + off, first);
	if (n > first)
		memcpy((unsigned char *)dst + first, ring_data(r), n - first);
}

/* Length of the record at rd, which the caller knows is published. A length that runs
 * past write_pos means the shared memory was overwritten: nothing sane can follow. */
static size_t record_len(ring *r, uint64_t rd)
{
	uint32_t n;

	memcpy(&n, ring_data(r) + (rd & r->mask), sizeof n);
	if (n > r->max_record || record_size(n) > r->write_seen - rd) {
		fprintf(stderr, "ferry: ring corrupt: record of %u bytes at %llu, %llu published\n", n,
			(unsigned long long)rd, (unsigned long long)(r->write_seen - rd));
		abort();
	}
	return n;
}

/* ---- waiting ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Spinning only helps when the peer can run meanwhile on another CPU. */
static bool spinning_helps(void)
{
	static atomic_int cpus; /* 0 = not asked yet */
	int n = atomic_load_explicit(&cpus, memory_order_relaxed);

	if (n == 0) {
		long online = sysconf(_SC_NPROCESSORS_ONLN);
		n = online > 1 ? 2 : 1;
		atomic_store_explicit(&cpus, n, memory_order_relaxed);
	}
	return n > 1;
}

/* Spins a little until *pos >= target; *seen gets the last value loaded. The looks
 * grow further apart (up to SPIN_MAX_GAP pauses): each look pulls the line the peer is
 * writing away from it, so looking less often lets it go faster. */
static bool spin_until(_Atomic uint64_t *pos, uint64_t target, uint64_t *seen)
{
	if (!spinning_helps())
		return false;
	for (int spent = 0, gap = 1; spent < SPIN_PAUSES; spent += gap) {
		*seen = atomic_load_explicit(pos, memory_order_acquire);
		if (*seen >= target)
			return true;
		for (int i = 0; i < gap; i++)
			cpu_relax();
		if (gap < SPIN_MAX_GAP)
			gap *= 2;
	}
	return false;
}

static void wait_begin(wait_ctx *c, int timeout_ms)
{
	c->interrupts = wakeup_interrupt_count();
	c->until = NULL;
	if (timeout_ms > 0) {
		wakeup_deadline(&c->deadline, timeout_ms);
		c->until = &c->deadline;
	}
}

/* A signal since the wait began, or one the futex reported. */
static bool wait_interrupted(const wait_ctx *c)
{
	return wakeup_interrupt_count() != c->interrupts;
}

/* ---- producer ---- */

/* Is there room for total bytes at write position w? */
static inline bool room_for(ring *r, uint64_t w, uint64_t total)
{
	if (r->capacity - (w - r->read_seen) >= total)
		return true;
	r->read_seen = atomic_load_explicit(&r->read_pos, memory_order_acquire);
	return r->capacity - (w - r->read_seen) >= total;
}

/* Producer's wait target. Once it sleeps, it asks to be woken when a quarter of the ring
 * is free (or its record fits, if that needs more), not at the first record freed: one
 * wake-up per batch rather than a sleep/wake pair per record when the consumer is the
 * slower side. A drained ring always satisfies it. */
static uint64_t room_target(const ring *r, uint64_t w, uint64_t total)
{
	uint64_t need = w + total - r->capacity; /* w >= used > capacity - total */
	uint64_t keep = r->capacity - r->capacity / 4;

	return w >= keep && w - keep > need ? w - keep : need;
}

static ring_result room_after_timeout(ring *r, uint64_t w, uint64_t total)
{
	if (room_for(r, w, total))
		return RING_OK;
	return atomic_load(&r->consumer_detached) ? RING_DETACHED : RING_WOULD_BLOCK;
}

/* Ring full at w: waits until total bytes fit, or detach, signal, timeout. */
static ring_result wait_for_room(ring *r, uint64_t w, uint64_t total, int timeout_ms)
{
	uint64_t target = room_target(r, w, total);
	wait_ctx ctx;

	if (timeout_ms == 0)
		return RING_WOULD_BLOCK;
	wait_begin(&ctx, timeout_ms);
	for (;;) {
		uint32_t seq;
		wakeup_result wr;

		if (spin_until(&r->read_pos, target, &r->read_seen))
			return RING_OK;
		atomic_store_explicit(&r->space_wanted, target, memory_order_relaxed);
		seq = wakeup_prepare(&r->space_ready); /* publishes space_wanted too */
		r->read_seen = atomic_load_explicit(&r->read_pos, memory_order_acquire);
		if (r->read_seen >= target || atomic_load(&r->consumer_detached) || wait_interrupted(&ctx)) {
			wakeup_cancel(&r->space_ready);
			if (r->read_seen >= target)
				return RING_OK;
			return atomic_load(&r->consumer_detached) ? RING_DETACHED : RING_INTERRUPTED;
		}
		atomic_fetch_add_explicit(&r->producer_waits, 1, memory_order_relaxed);
		wr = wakeup_wait_until(&r->space_ready, seq, ctx.until);
		if (wr == WAKEUP_INTERRUPTED)
			return RING_INTERRUPTED;
		if (wr == WAKEUP_TIMEOUT)
			return room_after_timeout(r, w, total);
	}
}

ring_result ring_put(ring *r, const void *data, size_t len, int timeout_ms)
{
	uint64_t w, total;
	uint32_t n = (uint32_t)len;

	if (len > r->max_record)
		return RING_TOO_LARGE;
	if (atomic_load_explicit(&r->consumer_detached, memory_order_acquire))
		return RING_DETACHED;
	total = record_size(len);
	w = atomic_load_explicit(&r->write_pos, memory_order_relaxed);
	if (!room_for(r, w, total)) {
		ring_result res = wait_for_room(r, w, total, timeout_ms);
		if (res != RING_OK)
			return res;
	}
	memcpy(ring_data(r) + (w & r->mask), &n, sizeof n);
	copy_in(r, w + RECORD_HEADER, data, len);
	atomic_store_explicit(&r->write_pos, w + total, memory_order_release);
	wakeup_signal(&r->data_ready);
	return RING_OK;
}

/* ---- consumer ---- */

/* Is a record published at rd? */
static inline bool has_data(ring *r, uint64_t rd)
{
	if (r->write_seen > rd)
		return true;
	r->write_seen = atomic_load_explicit(&r->write_pos, memory_order_acquire);
	return r->write_seen > rd;
}

/* Empty at rd: for now or for good? Records put before the producer detached are still
 * delivered, so write_pos is looked at again after the flag (stored after them). */
static ring_result empty_result(ring *r, uint64_t rd)
{
	if (!atomic_load_explicit(&r->producer_detached, memory_order_acquire))
		return RING_WOULD_BLOCK;
	return has_data(r, rd) ? RING_OK : RING_DETACHED;
}

/* Ring empty at rd: waits for a record, or detach, signal, timeout. */
static ring_result wait_for_data(ring *r, uint64_t rd, int timeout_ms)
{
	wait_ctx ctx;

	if (timeout_ms == 0)
		return empty_result(r, rd);
	wait_begin(&ctx, timeout_ms);
	for (;;) {
		uint32_t seq;
		wakeup_result wr;
		ring_result now;

		if (spin_until(&r->write_pos, rd + 1, &r->write_seen))
			return RING_OK;
		seq = wakeup_prepare(&r->data_ready);
		now = has_data(r, rd) ? RING_OK : empty_result(r, rd);
		if (now != RING_WOULD_BLOCK || wait_interrupted(&ctx)) {
			wakeup_cancel(&r->data_ready);
			return now != RING_WOULD_BLOCK ? now : RING_INTERRUPTED;
		}
		atomic_fetch_add_explicit(&r->consumer_waits, 1, memory_order_relaxed);
		wr = wakeup_wait_until(&r->data_ready, seq, ctx.until);
		if (wr == WAKEUP_INTERRUPTED)
			return RING_INTERRUPTED;
		if (wr == WAKEUP_TIMEOUT)
			return has_data(r, rd) ? RING_OK : empty_result(r, rd);
	}
}

/* After freeing up to new_read: wake the producer if it sleeps and has its room now. */
static inline void wake_producer(ring *r, uint64_t new_read)
{
	if (wakeup_has_waiter(&r->space_ready) &&
	    new_read >= atomic_load_explicit(&r->space_wanted, memory_order_relaxed))
		wakeup_wake_sleeper(&r->space_ready);
}

ring_result ring_get(ring *r, void *buf, size_t bufsize, size_t *len, int timeout_ms)
{
	uint64_t rd = atomic_load_explicit(&r->read_pos, memory_order_relaxed);
	size_t n;

	if (!has_data(r, rd)) {
		ring_result res = wait_for_data(r, rd, timeout_ms);
		if (res != RING_OK)
			return res;
	}
	n = record_len(r, rd);
	*len = n;
	if (n > bufsize)
		return RING_TOO_LARGE;
	copy_out(r, rd + RECORD_HEADER, buf, n);
	rd += record_size(n);
	atomic_store_explicit(&r->read_pos, rd, memory_order_release);
	wake_producer(r, rd);
	return RING_OK;
}

/* Like ring_get with no wait: RING_WOULD_BLOCK when empty, RING_DETACHED when empty for
 * good. */
ring_result ring_peek_len(ring *r, size_t *len)
{
	uint64_t rd = atomic_load_explicit(&r->read_pos, memory_order_relaxed);

	if (!has_data(r, rd)) {
		ring_result res = empty_result(r, rd);
		if (res != RING_OK)
			return res;
	}
	*len = record_len(r, rd);
	return RING_OK;
}

/* ---- attach state ---- */

/* The flag is stored before the wake, and the sleeper checks it after announcing
 * itself, so the peer either sees the flag or is woken. */
void ring_detach_producer(ring *r)
{
	atomic_store(&r->producer_detached, 1);
	wakeup_wake(&r->data_ready);
}

void ring_detach_consumer(ring *r)
{
	atomic_store(&r->consumer_detached, 1);
	wakeup_wake(&r->space_ready);
}

void ring_reattach(ring *r)
{
	/* A side that died asleep may leave its wake-up's "sleeper" bit set: that costs
	 * the peer one needless wake-up call, which clears it, so nothing to reset here. */
	atomic_store(&r->producer_detached, 0);
	atomic_store(&r->consumer_detached, 0);
}
