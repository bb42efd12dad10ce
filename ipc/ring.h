/* Single-producer single-consumer ring of length-prefixed records in shared memory.
 * The producer and the consumer are different processes. Read and write counters are
 * 64-bit, each written by one side only (C11 acquire/release). Either side may detach
 * (exit, crash cleanup); the other then gets RING_DETACHED instead of waiting forever. */
#ifndef FERRY_RING_H
#define FERRY_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct ring ring;

typedef enum ring_result {
	RING_OK = 0,
	RING_WOULD_BLOCK, /* full (put) or empty (get) and no wait was asked for, or timed out */
	RING_DETACHED,    /* the peer has detached */
	RING_TOO_LARGE,   /* put: record can never fit; get: caller's buffer too small (*len = needed) */
	RING_INTERRUPTED  /* a signal arrived while waiting: check your flags and call again */
} ring_result;

/* Bytes of shared memory a ring with capacity data bytes needs (capacity: power of two). */
size_t ring_shmem_size(size_t capacity);
/* Lays a ring out in mem (from shmem_alloc, ring_shmem_size(capacity) bytes). */
ring *ring_init(void *mem, size_t capacity);

/* Largest record a ring can hold. */
size_t ring_max_record(const ring *r);

/* Appends one record. timeout_ms: 0 = do not wait, -1 = wait until space, detach or a
 * signal, >0 = wait at most that long. Wakes a waiting consumer. */
ring_result ring_put(ring *r, const void *data, size_t len, int timeout_ms);
/* Copies the next record into buf (bufsize bytes) and consumes it; *len = its length. */
ring_result ring_get(ring *r, void *buf, size_t bufsize, size_t *len, int timeout_ms);
/* Length of the next record without consuming it (RING_WOULD_BLOCK when empty). */
ring_result ring_peek_len(ring *r, size_t *len);

/* Bytes of records (with their prefixes) waiting to be consumed. */
size_t ring_used(const ring *r);
size_t ring_capacity(const ring *r);

void ring_detach_producer(ring *r);
void ring_detach_consumer(ring *r);
/* Makes a detached ring usable again by a restarted peer (supervisor, after reaping). */
void ring_reattach(ring *r);

/* Smallest capacity ring_shmem_size()/ring_init() accept; smaller or not a power of two:
 * ring_shmem_size() returns 0 and ring_init() NULL. */
#define RING_MIN_CAPACITY 64

/* Times each side went to sleep for its peer (ring full / ring empty), for metrics.
 * Short spins that found what they waited for are not counted. */
typedef struct ring_stats {
	uint64_t producer_waits; /* a put found the ring full and slept */
	uint64_t consumer_waits; /* a get found the ring empty and slept */
} ring_stats;

void ring_get_stats(const ring *r, ring_stats *out);

#endif
