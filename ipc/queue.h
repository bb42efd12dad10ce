/* The queue from capture to one apply worker: a shared-memory ring while the worker
 * keeps up, spill segments on disk while it does not (or while the caller holds the
 * stream), in one order.
 *
 * Every record gets a 64-bit sequence number (1, 2, ...). The producer (capture) puts
 * records into the ring; when the ring is full, the record is too large for it, or the
 * caller passes QUEUE_PUT_SPILL, it switches to spill and stays there until the consumer
 * has taken every spilled record (it publishes the last sequence it took), then seals the
 * segment and returns to the ring. Nothing newer than a spilled record enters the ring
 * before that record is taken, so the consumer (apply) simply takes the next sequence
 * number from whichever holds it, the ring's head or the spill reader, and order is
 * never broken. Memory stays bounded by the ring and one spill block whatever the
 * backlog; disk by the spill budget.
 *
 * A ring entry is an 8-byte little-endian header (the sequence number; top bit set =
 * "doorbell": no record, spill has new blocks) followed by the record. The producer rings
 * the doorbell after each spill block it publishes, so a consumer asleep on the empty
 * ring wakes up for spilled data too; no other wait primitive is needed.
 *
 * Flushing: the producer writes a partial spill block by itself when the consumer has
 * taken everything before it (it would wait on it); otherwise the caller must call
 * queue_producer_flush() when it goes idle (no source data at hand), so the consumer
 * never waits on buffered records.
 *
 * Restart: the queue lives as long as both sides do. After either side crashes, the
 * supervisor resets it (queue_shmem_init(), ring_init()) and capture restarts from the
 * apply workers' checkpoints; a fresh producer removes the worker's old segments. */
#ifndef FERRY_QUEUE_H
#define FERRY_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/ring.h"
#include "ipc/spill.h"

typedef enum queue_result {
	QUEUE_OK = 0,
	QUEUE_WOULD_BLOCK, /* get: nothing arrived within the timeout; wait: still no room */
	QUEUE_FULL,        /* put/flush: spill cap reached or disk full; nothing was taken.
	                      queue_producer_wait(), then retry the same record */
	QUEUE_DETACHED,    /* the peer has detached and nothing is left to take */
	QUEUE_INTERRUPTED, /* a signal arrived while waiting: check flags, call again */
	QUEUE_ERROR        /* I/O error or corruption; *_error() says which, naming the file */
} queue_result;

/* Control state in shared memory, next to the worker's ring. */
typedef struct queue_shared {
	_Atomic uint64_t produced_seq;  /* last sequence number the producer has taken */
	_Atomic uint64_t consumed_seq;  /* last sequence number the consumer has taken */
	_Atomic uint64_t confirmed_seq; /* last sequence number the consumer has committed */
	_Atomic uint32_t spilling;      /* the producer is on spill now */
	_Atomic uint64_t episodes;      /* ring -> spill switches */
	_Atomic uint64_t ring_records;  /* records that went through the ring */
	_Atomic uint64_t spill_records; /* records that went through spill */
	spill_shared spill;
} queue_shared;

/* The supervisor places, before forking, per apply worker a ring (ring_shmem_size()) and
 * this control state, and per task one spill_budget (sizeof, spill_budget_init() with
 * spill_limit) shared by the task's queues. */
size_t queue_shmem_size(void);
/* Lays out (or resets) the control state in mem (from shmem_alloc()). */
queue_shared *queue_shmem_init(void *mem);

typedef struct queue_stats {
	uint64_t produced, consumed, confirmed;
	bool spilling;
	uint64_t episodes;
	uint64_t ring_records, spill_records;
	uint64_t spill_blocks, spill_raw_bytes, spill_disk_bytes; /* written so far */
} queue_stats;
void queue_get_stats(queue_shared *qs, queue_stats *out);

/* ---- producer (capture process) ---------------------------------------------------- */

typedef struct queue_producer queue_producer;

#define QUEUE_PUT_SPILL 0x1u /* hold: send this record through spill (e.g. table loading) */

/* opt names the spill directory, the worker name and the codec; budget is the task's
 * shared spill budget. NULL with err set on failure. */
queue_producer *queue_producer_open(queue_shared *qs, ring *r, spill_budget *budget,
                                    const spill_options *opt, char *err, size_t errlen);
/* Never waits. QUEUE_OK (*seq = the record's sequence number, may be NULL), QUEUE_FULL,
 * QUEUE_DETACHED or QUEUE_ERROR. */
queue_result queue_put(queue_producer *p, const void *rec, size_t len, unsigned flags, uint64_t *seq);
/* Writes a partial spill block, if any: call when idle. QUEUE_OK, QUEUE_FULL, QUEUE_ERROR. */
queue_result queue_producer_flush(queue_producer *p);
/* After QUEUE_FULL: waits until the consumer may have freed spill space. QUEUE_OK (retry),
 * QUEUE_WOULD_BLOCK (timed out; retry too, a full disk may have cleared by itself),
 * QUEUE_INTERRUPTED. timeout_ms as for ring_put(). */
queue_result queue_producer_wait(queue_producer *p, int timeout_ms);
const char *queue_producer_error(const queue_producer *p);
/* Frees the producer; buffered spill records are lost unless flushed first. Does not
 * detach the ring: the worker does that (ring_detach_producer()) when it exits. */
void queue_producer_close(queue_producer *p);

/* ---- consumer (apply process) ------------------------------------------------------ */

typedef struct queue_consumer queue_consumer;

queue_consumer *queue_consumer_open(queue_shared *qs, ring *r, spill_budget *budget,
                                    const spill_options *opt, char *err, size_t errlen);
/* Takes the record with the next sequence number. *data stays valid until the next call
 * on c. timeout_ms: 0 = do not wait, -1 = until a record, detach or signal, >0 = at most.
 * QUEUE_OK, QUEUE_WOULD_BLOCK, QUEUE_DETACHED, QUEUE_INTERRUPTED or QUEUE_ERROR. */
queue_result queue_get(queue_consumer *c, uint64_t *seq, const void **data, size_t *len, int timeout_ms);
/* Everything up to seq is committed downstream: spilled segments holding nothing newer
 * are deleted and their bytes returned to the budget. Call it at least each time
 * queue_get() would wait (commit what you have when idle): the producer may be paused on
 * the spill cap until those segments go. */
queue_result queue_consumer_confirm(queue_consumer *c, uint64_t seq);
const char *queue_consumer_error(const queue_consumer *c);
void queue_consumer_close(queue_consumer *c);

#endif
