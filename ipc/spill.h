/* Spill segments: the on-disk overflow of one apply worker's queue. One writer (in the
 * capture process) appends records, one reader (in the apply process) reads them back in
 * order and deletes what the apply worker has committed.
 *
 * Files: <dir>/spill-<worker>-<segno, 16 hex digits>.seg, mode 0600. A segment is a
 * sequence of blocks; the writer starts a new segment when the current one would grow
 * past segment_size. A block holds consecutive records (by sequence number):
 *
 *   off  size  field
 *   0    4     magic "FSPB"
 *   4    1     version (1)
 *   5    1     codec (codec_id; a block that does not shrink is stored with CODEC_NONE)
 *   6    2     reserved, 0
 *   8    4     raw length (payload after decompression)
 *   12   4     compressed length (payload bytes that follow the header)
 *   16   8     block number (0, 1, 2, ... across all segments of the writer)
 *   24   8     sequence number of the first record
 *   32   4     record count (>= 1)
 *   36   4     CRC32C over bytes 0..35 and the compressed payload
 *   40   ...   payload; raw form: per record a varint length, then the record
 *
 * Publication: the writer publishes, in spill_shared, the sequence number just past the
 * last record of its last complete block (after the write() returned) and the segment
 * it writes to. The reader reads only blocks the writer has published, so a block the
 * writer is still writing is never seen; anything short or wrong in published data is
 * corruption, reported with the file name and byte offset, never a record.
 *
 * Durability: a flush is a write() to the page cache; fsync is off by default because
 * spill holds nothing that cannot be read again from the source log: after a crash the
 * queue is reset and capture restarts from the apply workers' checkpoints.
 * spill_options.sync = true adds fdatasync() per block for setups that want it.
 *
 * Disk cap: every writer of a task charges the bytes it writes (segment file sizes) to
 * one spill_budget in shared memory; readers credit them back when they delete a segment.
 * A flush that would pass the limit, or that hits ENOSPC/EDQUOT/EFBIG, returns SPILL_FULL,
 * keeps the block in memory (nothing is dropped; a partly written block is cut off the
 * file again) and logs a warning, at most one a minute per writer, plus a line when
 * writing resumes. It also closes the current segment, so the reader can delete it once
 * consumed even when the cap is smaller than a segment. The caller waits with
 * spill_budget_wait() and retries. */
#ifndef FERRY_SPILL_H
#define FERRY_SPILL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/codec.h"
#include "ipc/wakeup.h"

#define SPILL_BLOCK_HEADER_SIZE 40
#define SPILL_DEFAULT_BLOCK_SIZE (256u * 1024)
#define SPILL_DEFAULT_SEGMENT_SIZE (64ull * 1024 * 1024)
#define SPILL_MAX_RECORD (1u << 30)   /* a record bigger than this is refused */
#define SPILL_MAX_BLOCK_SIZE (64u << 20)
#define SPILL_WORKER_NAME_MAX 64

typedef enum spill_result {
	SPILL_OK = 0,
	SPILL_EMPTY, /* reader: no published record to read yet */
	SPILL_FULL,  /* writer: disk cap or disk full; nothing lost, retry after the reader deletes */
	SPILL_ERROR, /* see *_error(): I/O error, corruption, misuse */
	SPILL_TIMEDOUT,   /* spill_budget_wait(): nothing changed in time */
	SPILL_INTERRUPTED /* spill_budget_wait(): a signal arrived */
} spill_result;

/* Disk budget shared by all spill writers and readers of a task (shared memory). */
typedef struct spill_budget {
	_Atomic uint64_t used;  /* bytes in segment files */
	_Atomic uint64_t limit; /* 0 = unlimited; may be changed at any time (reload) */
	_Atomic uint32_t releases; /* bumped whenever bytes are given back */
	wakeup freed;           /* signalled after each bump */
} spill_budget;

void spill_budget_init(spill_budget *b, uint64_t limit);
/* Waits until space may have been freed since the writer's SPILL_FULL (gen from
 * spill_writer_full_gen()), timeout_ms passes (0 = do not wait, -1 = no limit) or a
 * signal arrives: SPILL_OK (look again), SPILL_TIMEDOUT or SPILL_INTERRUPTED. Uses the
 * cross-process wake-up of ipc/wakeup.h, so nobody polls. */
spill_result spill_budget_wait(spill_budget *b, uint32_t gen, int timeout_ms);

/* Writer -> reader publication for one spill stream (shared memory). */
typedef struct spill_shared {
	_Atomic uint64_t committed_seq; /* one past the last record of the last written block */
	_Atomic uint64_t write_segno;   /* segments below this are complete */
	_Atomic uint64_t blocks;        /* statistics */
	_Atomic uint64_t records;
	_Atomic uint64_t raw_bytes;
	_Atomic uint64_t disk_bytes;
} spill_shared;

void spill_shared_init(spill_shared *sh);

typedef struct spill_options {
	const char *dir;      /* created (mode 0700) if missing */
	const char *worker;   /* [A-Za-z0-9._-], at most SPILL_WORKER_NAME_MAX bytes */
	codec_id codec;
	int level;            /* zstd level; <= 0: default (1) */
	size_t block_size;    /* raw bytes that trigger a flush; 0: SPILL_DEFAULT_BLOCK_SIZE */
	uint64_t segment_size;/* 0: SPILL_DEFAULT_SEGMENT_SIZE */
	bool sync;            /* fdatasync() after each block */
} spill_options;

/* ---- writer ------------------------------------------------------------------------ */

typedef struct spill_writer spill_writer;

/* NULL with *err (errlen bytes) set on failure. budget may be NULL (no cap). A writer
 * continues the stream in sh (sealed by a previous writer, or fresh). */
spill_writer *spill_writer_open(const spill_options *opt, spill_shared *sh, spill_budget *budget,
                                char *err, size_t errlen);
/* Adds a record to the current block, flushing the block first when it is full or when
 * seq does not follow its last record. seq must grow. SPILL_OK: the record is taken (it
 * may still sit in memory until a flush). SPILL_FULL / SPILL_ERROR: it is not taken. */
spill_result spill_writer_append(spill_writer *w, uint64_t seq, const void *rec, size_t len);
/* Writes the partial block, if any, and publishes it. */
spill_result spill_writer_flush(spill_writer *w);
/* Flushes, then closes the current segment so the reader can delete it once consumed;
 * the next block starts a new segment. For the end of a spill episode. */
spill_result spill_writer_seal(spill_writer *w);
/* Records buffered and not yet published. */
size_t spill_writer_pending(const spill_writer *w);
/* The last write returned SPILL_FULL and none has succeeded since. */
bool spill_writer_paused(const spill_writer *w);
/* Budget generation sampled when the last SPILL_FULL was returned: wait on it. */
uint32_t spill_writer_full_gen(const spill_writer *w);
/* Message of the last SPILL_FULL or SPILL_ERROR (names the file). */
const char *spill_writer_error(const spill_writer *w);
/* Closes without flushing (the caller flushes first if it wants to). */
void spill_writer_close(spill_writer *w);

/* ---- reader ------------------------------------------------------------------------ */

typedef struct spill_reader spill_reader;

/* Reads the stream in sh from its start (segment 0), whenever the writer began. A
 * restarted reader cannot resume mid-stream: the queue is reset instead (queue.h). */
spill_reader *spill_reader_open(const spill_options *opt, spill_shared *sh, spill_budget *budget,
                                char *err, size_t errlen);
/* Sequence number of the next published record, without taking it. SPILL_OK, SPILL_EMPTY
 * or SPILL_ERROR (corruption: the reader stays failed). */
spill_result spill_reader_peek(spill_reader *r, uint64_t *seq);
/* Takes the next published record: *data points into the reader's block buffer and stays
 * valid until the next call on r. */
spill_result spill_reader_next(spill_reader *r, uint64_t *seq, const void **data, size_t *len);
/* Every record up to and including seq is done with (committed downstream): deletes the
 * fully read segments that hold nothing newer and gives their bytes back to the budget. */
spill_result spill_reader_confirm(spill_reader *r, uint64_t seq);

typedef struct spill_reader_pos {
	uint64_t segno;     /* segment being read */
	uint64_t offset;    /* byte offset in it of the next block */
	uint64_t next_seq;  /* one past the last record returned (0 before the first) */
	size_t done_segments; /* fully read segments waiting for confirmation */
} spill_reader_pos;
void spill_reader_position(const spill_reader *r, spill_reader_pos *pos);
const char *spill_reader_error(const spill_reader *r);
void spill_reader_close(spill_reader *r);

/* Deletes every segment of worker in dir (a queue reset); number removed or -1 (errno). */
int spill_remove_all(const char *dir, const char *worker);
/* Deletes the segments of every writer whose name starts with worker_prefix. */
int spill_remove_prefixed(const char *dir, const char *worker_prefix);
/* The segment's file name, for messages and tests. */
void spill_segment_path(char *buf, size_t size, const char *dir, const char *worker, uint64_t segno);

#endif
