/* Per-apply-worker queue: ring while the consumer keeps up, spill while it does not,
 * one sequence order across both (rules: queue.h). */
#include "ipc/queue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bytes.h"

#define ENTRY_HEADER 8
#define DOORBELL_BIT (1ull << 63)
#define ERR_MAX 4096

size_t queue_shmem_size(void)
{
	return sizeof(queue_shared);
}

queue_shared *queue_shmem_init(void *mem)
{
	queue_shared *qs = mem;
	atomic_init(&qs->produced_seq, 0);
	atomic_init(&qs->consumed_seq, 0);
	atomic_init(&qs->confirmed_seq, 0);
	atomic_init(&qs->spilling, 0);
	atomic_init(&qs->episodes, 0);
	atomic_init(&qs->ring_records, 0);
	atomic_init(&qs->spill_records, 0);
	spill_shared_init(&qs->spill);
	return qs;
}

void queue_get_stats(queue_shared *qs, queue_stats *out)
{
	out->produced = atomic_load(&qs->produced_seq);
	out->consumed = atomic_load(&qs->consumed_seq);
	out->confirmed = atomic_load(&qs->confirmed_seq);
	out->spilling = atomic_load(&qs->spilling) != 0;
	out->episodes = atomic_load(&qs->episodes);
	out->ring_records = atomic_load(&qs->ring_records);
	out->spill_records = atomic_load(&qs->spill_records);
	out->spill_blocks = atomic_load(&qs->spill.blocks);
	out->spill_raw_bytes = atomic_load(&qs->spill.raw_bytes);
	out->spill_disk_bytes = atomic_load(&qs->spill.disk_bytes);
}

/* ---- producer ---------------------------------------------------------------------- */

struct queue_producer {
	queue_shared *qs;
	ring *ring;
	spill_budget *budget;
	spill_writer *spill;
	uint64_t next_seq;
	bool spilling;
	uint64_t spill_last;    /* last sequence number spilled in this episode */
	uint64_t pending_first; /* first sequence number of the unwritten spill block */
	uint64_t blocks_seen;   /* spill blocks published, to ring the doorbell on new ones */
	uint8_t *entry;         /* header + record, as it goes into the ring */
	size_t entry_cap;
	char err[ERR_MAX];
};

queue_producer *queue_producer_open(queue_shared *qs, ring *r, spill_budget *budget,
                                    const spill_options *opt, char *err, size_t errlen)
{
	/* A queue that has never spilled may find segments of an earlier life: remove them,
	 * the writer refuses to overwrite a segment. */
	if (atomic_load(&qs->spill.blocks) == 0 && atomic_load(&qs->spill.write_segno) == 0 &&
	    spill_remove_all(opt->dir, opt->worker) < 0) {
		snprintf(err, errlen, "queue: cannot remove old spill segments of %s in %s: %s",
		         opt->worker, opt->dir, strerror(errno));
		return NULL;
	}
	queue_producer *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, errlen, "queue: out of memory");
		return NULL;
	}
	p->spill = spill_writer_open(opt, &qs->spill, budget, err, errlen);
	if (!p->spill) {
		free(p);
		return NULL;
	}
	p->qs = qs;
	p->ring = r;
	p->budget = budget;
	p->next_seq = atomic_load(&qs->produced_seq) + 1;
	p->blocks_seen = atomic_load(&qs->spill.blocks);
	return p;
}

void queue_producer_close(queue_producer *p)
{
	if (!p)
		return;
	spill_writer_close(p->spill);
	free(p->entry);
	free(p);
}

const char *queue_producer_error(const queue_producer *p) { return p->err; }

static queue_result spill_failure(queue_producer *p, spill_result r)
{
	snprintf(p->err, sizeof p->err, "%s", spill_writer_error(p->spill));
	return r == SPILL_FULL ? QUEUE_FULL : QUEUE_ERROR;
}

/* After the spill writer published blocks: a doorbell entry wakes a consumer asleep on
 * the empty ring. If the ring is full the consumer is not asleep and will look at spill
 * after draining it (the fence pairs with the consumer's, see next_from_spill()). */
static void ring_doorbell(queue_producer *p)
{
	uint64_t blocks = atomic_load_explicit(&p->qs->spill.blocks, memory_order_relaxed);
	if (blocks == p->blocks_seen)
		return;
	p->blocks_seen = blocks;
	uint8_t bell[ENTRY_HEADER];
	bytes_put_le64(bell, DOORBELL_BIT);
	atomic_thread_fence(memory_order_seq_cst);
	(void)ring_put(p->ring, bell, sizeof bell, 0);
}

/* On spill, not holding: back to the ring once the consumer has taken every spilled
 * record. Sealing lets the reader delete the last segment of the episode. */
static queue_result maybe_leave_spill(queue_producer *p)
{
	if (spill_writer_pending(p->spill) > 0 ||
	    atomic_load_explicit(&p->qs->consumed_seq, memory_order_acquire) < p->spill_last)
		return QUEUE_OK;
	spill_result r = spill_writer_seal(p->spill);
	if (r != SPILL_OK)
		return spill_failure(p, r);
	p->spilling = false;
	atomic_store(&p->qs->spilling, 0);
	return QUEUE_OK;
}

/* QUEUE_OK: in the ring. QUEUE_FULL here means "ring full, spill it". */
static queue_result put_ring(queue_producer *p, uint64_t seq, const void *rec, size_t len)
{
	if (len > ring_max_record(p->ring) - ENTRY_HEADER)
		return QUEUE_FULL;
	if (!bytes_grow(&p->entry, &p->entry_cap, ENTRY_HEADER + len)) {
		snprintf(p->err, sizeof p->err, "queue: out of memory for a %zu-byte record", len);
		return QUEUE_ERROR;
	}
	bytes_put_le64(p->entry, seq);
	if (len)
		memcpy(p->entry + ENTRY_HEADER, rec, len);
	switch (ring_put(p->ring, p->entry, ENTRY_HEADER + len, 0)) {
	case RING_OK: return QUEUE_OK;
	case RING_DETACHED: return QUEUE_DETACHED;
	default: return QUEUE_FULL;
	}
}

static queue_result put_spill(queue_producer *p, uint64_t seq, const void *rec, size_t len, bool hold)
{
	spill_result r = spill_writer_append(p->spill, seq, rec, len);
	if (r != SPILL_OK)
		return spill_failure(p, r);
	if (spill_writer_pending(p->spill) == 1)
		p->pending_first = seq;
	if (!p->spilling) {
		p->spilling = true;
		atomic_store(&p->qs->spilling, 1);
		atomic_fetch_add(&p->qs->episodes, 1);
	}
	p->spill_last = seq;
	/* The consumer has taken everything before the buffered block, so it waits on it:
	 * write it now. Not for held records (nobody waits on them; one-record blocks would
	 * follow) nor while paused (each try would compress the block again). A FULL here
	 * leaves the record taken, in the block, for a later flush. */
	if (!hold && !spill_writer_paused(p->spill) &&
	    atomic_load_explicit(&p->qs->consumed_seq, memory_order_acquire) + 1 >= p->pending_first &&
	    (r = spill_writer_flush(p->spill)) != SPILL_OK && r != SPILL_FULL)
		return spill_failure(p, r);
	ring_doorbell(p);
	atomic_fetch_add_explicit(&p->qs->spill_records, 1, memory_order_relaxed);
	return QUEUE_OK;
}

queue_result queue_put(queue_producer *p, const void *rec, size_t len, unsigned flags, uint64_t *seq)
{
	uint64_t s = p->next_seq;
	bool hold = (flags & QUEUE_PUT_SPILL) != 0;
	queue_result res;
	if (p->spilling && !hold && (res = maybe_leave_spill(p)) != QUEUE_OK)
		return res;
	res = QUEUE_FULL; /* "not in the ring": on spill, held, ring full or record too large */
	if (!p->spilling && !hold && (res = put_ring(p, s, rec, len)) == QUEUE_OK)
		atomic_fetch_add_explicit(&p->qs->ring_records, 1, memory_order_relaxed);
	if (res == QUEUE_FULL)
		res = put_spill(p, s, rec, len, hold);
	if (res != QUEUE_OK)
		return res;
	p->next_seq = s + 1;
	atomic_store_explicit(&p->qs->produced_seq, s, memory_order_release);
	if (seq)
		*seq = s;
	return QUEUE_OK;
}

queue_result queue_producer_flush(queue_producer *p)
{
	spill_result r = spill_writer_flush(p->spill);
	ring_doorbell(p);
	return r == SPILL_OK ? QUEUE_OK : spill_failure(p, r);
}

queue_result queue_producer_wait(queue_producer *p, int timeout_ms)
{
	if (!p->budget)
		return QUEUE_OK;
	switch (spill_budget_wait(p->budget, spill_writer_full_gen(p->spill), timeout_ms)) {
	case SPILL_OK: return QUEUE_OK;
	case SPILL_INTERRUPTED: return QUEUE_INTERRUPTED;
	default: return QUEUE_WOULD_BLOCK;
	}
}

/* ---- consumer ---------------------------------------------------------------------- */

struct queue_consumer {
	queue_shared *qs;
	ring *ring;
	spill_reader *spill;
	uint64_t next_seq;
	uint8_t *buf;      /* the last ring entry taken */
	size_t buf_cap;
	bool stashed;      /* buf holds a record whose turn has not come (its sequence is later) */
	uint64_t stash_seq;
	size_t stash_len;
	bool detached;
	char err[ERR_MAX];
};

queue_consumer *queue_consumer_open(queue_shared *qs, ring *r, spill_budget *budget,
                                    const spill_options *opt, char *err, size_t errlen)
{
	queue_consumer *c = calloc(1, sizeof *c);
	if (!c || !bytes_grow(&c->buf, &c->buf_cap, 64 * 1024)) {
		free(c);
		snprintf(err, errlen, "queue: out of memory");
		return NULL;
	}
	c->spill = spill_reader_open(opt, &qs->spill, budget, err, errlen);
	if (!c->spill) {
		free(c->buf);
		free(c);
		return NULL;
	}
	c->qs = qs;
	c->ring = r;
	c->next_seq = atomic_load(&qs->consumed_seq) + 1;
	return c;
}

void queue_consumer_close(queue_consumer *c)
{
	if (!c)
		return;
	spill_reader_close(c->spill);
	free(c->buf);
	free(c);
}

const char *queue_consumer_error(const queue_consumer *c) { return c->err; }

__attribute__((format(printf, 2, 3))) static queue_result cfail(queue_consumer *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return QUEUE_ERROR;
}

/* Takes one ring entry (waiting up to timeout_ms) into buf: a record is stashed, a
 * doorbell dropped. QUEUE_OK when an entry was taken. */
static queue_result pull_ring(queue_consumer *c, int timeout_ms)
{
	size_t len;
	ring_result rr;
	while ((rr = ring_get(c->ring, c->buf, c->buf_cap, &len, timeout_ms)) == RING_TOO_LARGE)
		if (!bytes_grow(&c->buf, &c->buf_cap, len))
			return cfail(c, "queue: out of memory for a %zu-byte ring entry", len);
	switch (rr) {
	case RING_OK: break;
	case RING_DETACHED: c->detached = true; return QUEUE_DETACHED;
	case RING_INTERRUPTED: return QUEUE_INTERRUPTED;
	default: return QUEUE_WOULD_BLOCK;
	}
	if (len < ENTRY_HEADER)
		return cfail(c, "queue: ring entry of %zu bytes, shorter than its header", len);
	uint64_t h = bytes_get_le64(c->buf);
	if (!(h & DOORBELL_BIT)) {
		c->stashed = true;
		c->stash_seq = h;
		c->stash_len = len - ENTRY_HEADER;
	}
	return QUEUE_OK;
}

static void taken(queue_consumer *c, uint64_t seq)
{
	c->next_seq = seq + 1;
	atomic_store_explicit(&c->qs->consumed_seq, seq, memory_order_release);
}

/* The wanted record from spill: QUEUE_OK, QUEUE_WOULD_BLOCK (not there), QUEUE_ERROR. */
static queue_result next_from_spill(queue_consumer *c, uint64_t *seq, const void **data, size_t *len)
{
	uint64_t s;
	/* Pairs with the producer's fence before its doorbell: either it sees the ring
	 * space this consumer freed, or this consumer sees the block it published. */
	atomic_thread_fence(memory_order_seq_cst);
	spill_result r = spill_reader_peek(c->spill, &s);
	if (r == SPILL_EMPTY)
		return QUEUE_WOULD_BLOCK;
	if (r != SPILL_OK)
		return cfail(c, "%s", spill_reader_error(c->spill));
	if (s != c->next_seq)
		return cfail(c, "queue: sequence %llu expected, spill holds %llu next%s",
		             (unsigned long long)c->next_seq, (unsigned long long)s,
		             c->stashed ? " and the ring a later one" : "");
	if (spill_reader_next(c->spill, &s, data, len) != SPILL_OK)
		return cfail(c, "%s", spill_reader_error(c->spill));
	*seq = s;
	taken(c, s);
	return QUEUE_OK;
}

/* One look without waiting: QUEUE_OK (record), QUEUE_WOULD_BLOCK (nothing yet), or an error. */
static queue_result try_take(queue_consumer *c, uint64_t *seq, const void **data, size_t *len)
{
	queue_result res = QUEUE_OK;
	while (!c->stashed && !c->detached && res == QUEUE_OK)
		res = pull_ring(c, 0); /* doorbells are dropped; stop at a record or an empty ring */
	if (res == QUEUE_ERROR)
		return res;
	if (c->stashed && c->stash_seq == c->next_seq) {
		c->stashed = false;
		*seq = c->stash_seq;
		*data = c->buf + ENTRY_HEADER;
		*len = c->stash_len;
		taken(c, *seq);
		return QUEUE_OK;
	}
	if (c->stashed && c->stash_seq < c->next_seq)
		return cfail(c, "queue: ring delivered sequence %llu after %llu", (unsigned long long)c->stash_seq,
		             (unsigned long long)c->next_seq - 1);
	res = next_from_spill(c, seq, data, len);
	if (res == QUEUE_WOULD_BLOCK && c->stashed)
		return cfail(c, "queue: sequence %llu is in neither ring nor spill (ring holds %llu)",
		             (unsigned long long)c->next_seq, (unsigned long long)c->stash_seq);
	return res;
}

static int remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

queue_result queue_get(queue_consumer *c, uint64_t *seq, const void **data, size_t *len, int timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (;;) {
		queue_result res = try_take(c, seq, data, len);
		if (res != QUEUE_WOULD_BLOCK)
			return res;
		if (c->detached)
			return QUEUE_DETACHED;
		int wait = timeout_ms < 0 ? -1 : remaining_ms(&deadline);
		if (wait == 0)
			return QUEUE_WOULD_BLOCK;
		/* Sleep on the ring: a record or a spill doorbell wakes us. */
		res = pull_ring(c, wait);
		if (res == QUEUE_INTERRUPTED || res == QUEUE_ERROR)
			return res;
	}
}

queue_result queue_consumer_confirm(queue_consumer *c, uint64_t seq)
{
	atomic_store(&c->qs->confirmed_seq, seq);
	if (spill_reader_confirm(c->spill, seq) != SPILL_OK)
		return cfail(c, "%s", spill_reader_error(c->spill));
	return QUEUE_OK;
}
