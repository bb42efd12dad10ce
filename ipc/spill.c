/* Spill segments: block framing, writer (append, flush, rotate, disk cap) and reader
 * (verify, decompress, delete after confirmation). Format and rules: spill.h. */
#include "ipc/spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/log.h"
#include "ipc/crc32c.h"

#define BLOCK_MAGIC 0x42505346u /* "FSPB" read as a little-endian u32 */
#define BLOCK_VERSION 1
#define CRC_OFFSET 36
#define VARINT_MAX 10
#define SEG_PATH_MAX (PATH_MAX + 128) /* dir, worker name, segment number */
#define ERR_MAX (PATH_MAX + 1024)    /* room for a path and the reason */

/* ---- little helpers ---------------------------------------------------------------- */

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Bytes used, or 0 when the varint is cut short or longer than 64 bits. */
static size_t varint_get(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < VARINT_MAX && p + i < end; i++) {
		if (i == VARINT_MAX - 1 && p[i] > 1)
			return 0;
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool worker_name_ok(const char *w)
{
	size_t n = strlen(w);
	if (n == 0 || n > SPILL_WORKER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = w[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Checks dir and worker for open(); message in err. */
static bool names_ok(const spill_options *opt, char *err, size_t errlen)
{
	if (!opt->dir || !*opt->dir || strlen(opt->dir) > PATH_MAX - 100) {
		snprintf(err, errlen, "spill: directory name missing or too long");
		return false;
	}
	if (!opt->worker || !worker_name_ok(opt->worker)) {
		snprintf(err, errlen, "spill: worker name \"%s\" must be 1-%d characters of [A-Za-z0-9._-]",
		         opt->worker ? opt->worker : "", SPILL_WORKER_NAME_MAX);
		return false;
	}
	if (opt->block_size > SPILL_MAX_BLOCK_SIZE) {
		snprintf(err, errlen, "spill: block size %zu above the maximum %u", opt->block_size, SPILL_MAX_BLOCK_SIZE);
		return false;
	}
	return true;
}

void spill_segment_path(char *buf, size_t size, const char *dir, const char *worker, uint64_t segno)
{
	snprintf(buf, size, "%s/spill-%s-%016llx.seg", dir, worker, (unsigned long long)segno);
}

/* ---- shared state and budget ------------------------------------------------------- */

void spill_shared_init(spill_shared *sh)
{
	atomic_init(&sh->committed_seq, 0);
	atomic_init(&sh->write_segno, 0);
	atomic_init(&sh->blocks, 0);
	atomic_init(&sh->records, 0);
	atomic_init(&sh->raw_bytes, 0);
	atomic_init(&sh->disk_bytes, 0);
}

void spill_budget_init(spill_budget *b, uint64_t limit)
{
	atomic_init(&b->used, 0);
	atomic_init(&b->limit, limit);
	atomic_init(&b->releases, 0);
	wakeup_init(&b->freed);
}

static void budget_release(spill_budget *b, uint64_t bytes)
{
	if (!b || bytes == 0)
		return;
	atomic_fetch_sub(&b->used, bytes);
	atomic_fetch_add_explicit(&b->releases, 1, memory_order_release);
	wakeup_signal(&b->freed);
}

spill_result spill_budget_wait(spill_budget *b, uint32_t gen, int timeout_ms)
{
	uint32_t seq = wakeup_prepare(&b->freed);
	if (atomic_load_explicit(&b->releases, memory_order_acquire) != gen) {
		wakeup_cancel(&b->freed);
		return SPILL_OK;
	}
	switch (wakeup_wait(&b->freed, seq, timeout_ms)) {
	case WAKEUP_OK: return SPILL_OK;
	case WAKEUP_TIMEOUT: return SPILL_TIMEDOUT;
	case WAKEUP_INTERRUPTED: return SPILL_INTERRUPTED;
	}
	return SPILL_OK;
}

/* ---- writer ------------------------------------------------------------------------ */

struct spill_writer {
	char dir[PATH_MAX];
	char worker[SPILL_WORKER_NAME_MAX + 1];
	codec_id codec;
	int level;
	size_t block_size;
	uint64_t segment_size;
	bool sync;
	spill_shared *sh;
	spill_budget *budget;
	codec_ctx *cctx;

	int fd;             /* current segment, -1 before its first block */
	uint64_t segno;
	uint64_t seg_size;  /* bytes of complete blocks in the current segment */
	uint64_t block_no;

	uint8_t *raw;       /* the block being filled: varint length + record, repeated */
	size_t raw_len, raw_cap;
	uint64_t first_seq, last_seq;
	uint32_t count;
	bool any_seq;       /* last_seq is meaningful */

	uint8_t *out;       /* compressed payload */
	size_t out_cap;

	bool paused;        /* last flush returned SPILL_FULL */
	bool pause_logged;  /* this pause was logged (so its end is too) */
	double paused_at;
	double warned_at;   /* last pause warning, to log a run of pauses once */
	uint32_t full_gen;
	char err[ERR_MAX];
};

__attribute__((format(printf, 3, 4))) static spill_result werr(spill_writer *w, spill_result r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
	return r;
}

spill_writer *spill_writer_open(const spill_options *opt, spill_shared *sh, spill_budget *budget,
                                char *err, size_t errlen)
{
	if (!names_ok(opt, err, errlen))
		return NULL;
	if (mkdir(opt->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "spill: cannot create directory %s: %s", opt->dir, strerror(errno));
		return NULL;
	}
	spill_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->cctx = codec_ctx_new())) {
		free(w);
		snprintf(err, errlen, "spill: out of memory");
		return NULL;
	}
	snprintf(w->dir, sizeof w->dir, "%s", opt->dir);
	snprintf(w->worker, sizeof w->worker, "%s", opt->worker);
	w->codec = opt->codec;
	w->level = opt->level;
	w->block_size = opt->block_size ? opt->block_size : SPILL_DEFAULT_BLOCK_SIZE;
	w->segment_size = opt->segment_size ? opt->segment_size : SPILL_DEFAULT_SEGMENT_SIZE;
	w->sync = opt->sync;
	w->sh = sh;
	w->budget = budget;
	w->fd = -1;
	/* Continue a stream a previous writer sealed (a fresh one starts at 0). */
	w->segno = atomic_load(&sh->write_segno);
	w->block_no = atomic_load(&sh->blocks);
	uint64_t committed = atomic_load(&sh->committed_seq);
	if (committed > 0) {
		w->last_seq = committed - 1;
		w->any_seq = true;
	}
	return w;
}

void spill_writer_close(spill_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	codec_ctx_free(w->cctx);
	free(w->raw);
	free(w->out);
	free(w);
}

size_t spill_writer_pending(const spill_writer *w) { return w->count; }
bool spill_writer_paused(const spill_writer *w) { return w->paused; }
uint32_t spill_writer_full_gen(const spill_writer *w) { return w->full_gen; }
const char *spill_writer_error(const spill_writer *w) { return w->err; }

static void next_segment(spill_writer *w);

#define PAUSE_LOG_INTERVAL_S 60.0

/* The writer cannot write now. It closes its current segment, so the reader can finish
 * and delete it once consumed: otherwise a cap smaller than a segment would never free
 * up. One clear line per pause, and at most one a minute while the stream keeps hitting
 * the cap (each deleted segment lets it write a little, then it pauses again); the end
 * of a logged pause is logged by publish_block(). */
static spill_result pause_full(spill_writer *w)
{
	if (w->fd >= 0 && w->seg_size > 0)
		next_segment(w);
	if (w->paused)
		return SPILL_FULL;
	w->paused = true;
	w->paused_at = now_s();
	w->pause_logged = w->warned_at == 0 || w->paused_at - w->warned_at >= PAUSE_LOG_INTERVAL_S;
	if (w->pause_logged) {
		w->warned_at = w->paused_at;
		log_warning("%s; capture holds this stream until apply drains spilled changes", w->err);
	} else {
		log_debug("%s", w->err);
	}
	return SPILL_FULL;
}

/* Charges n bytes to the budget, or says why not. */
static spill_result budget_reserve(spill_writer *w, uint64_t n)
{
	spill_budget *b = w->budget;
	if (!b)
		return SPILL_OK;
	/* Sample the generation before looking at the usage: a release in between then
	 * makes spill_budget_wait() return at once instead of missing the wake-up. */
	w->full_gen = atomic_load_explicit(&b->releases, memory_order_acquire);
	uint64_t used = atomic_load(&b->used);
	for (;;) {
		uint64_t limit = atomic_load(&b->limit);
		if (limit && used + n > limit) {
			if (used == 0)
				return werr(w, SPILL_ERROR, "spill %s for %s: a block of %llu bytes is larger than spill_limit (%llu bytes)",
				            w->dir, w->worker, (unsigned long long)n, (unsigned long long)limit);
			werr(w, SPILL_FULL, "spill %s for %s: spill_limit reached (%llu of %llu bytes in use, next block %llu bytes)",
			     w->dir, w->worker, (unsigned long long)used, (unsigned long long)limit, (unsigned long long)n);
			return pause_full(w);
		}
		if (atomic_compare_exchange_weak(&b->used, &used, used + n))
			return SPILL_OK;
	}
}

static spill_result open_segment(spill_writer *w)
{
	char path[SEG_PATH_MAX];
	spill_segment_path(path, sizeof path, w->dir, w->worker, w->segno);
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd >= 0) {
		w->seg_size = 0;
		return SPILL_OK;
	}
	int e = errno;
	werr(w, SPILL_ERROR, "spill: cannot create segment %s: %s", path, strerror(e));
	return (e == ENOSPC || e == EDQUOT) ? pause_full(w) : SPILL_ERROR;
}

/* Closes the current segment and makes the next one current (opened lazily). */
static void next_segment(spill_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->seg_size = 0;
	w->segno++;
	atomic_store_explicit(&w->sh->write_segno, w->segno, memory_order_release);
}

/* pwritev() of all of iov at off; -1 with errno on failure (possibly after a partial write). */
static int write_all_at(int fd, struct iovec *iov, int cnt, off_t off)
{
	while (cnt > 0) {
		ssize_t n = pwritev(fd, iov, cnt, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Compresses the block; payload, plen and codec describe what goes to disk. */
static spill_result compress_block(spill_writer *w, const uint8_t **payload, size_t *plen, codec_id *codec)
{
	*payload = w->raw;
	*plen = w->raw_len;
	*codec = CODEC_NONE;
	if (w->codec == CODEC_NONE)
		return SPILL_OK;
	size_t bound = codec_bound(w->codec, w->raw_len);
	if (bound == 0 || !bytes_grow(&w->out, &w->out_cap, bound))
		return werr(w, SPILL_ERROR, "spill %s: cannot allocate %zu bytes to compress a block", w->dir, bound);
	size_t n;
	codec_status st = codec_compress(w->cctx, w->codec, w->level, w->raw, w->raw_len, w->out, w->out_cap, &n);
	if (st != CODEC_OK)
		return werr(w, SPILL_ERROR, "spill %s: %s compression failed: %s", w->dir, codec_name(w->codec),
		            codec_status_text(st));
	if (n < w->raw_len) { /* keep blocks that do not shrink raw */
		*payload = w->out;
		*plen = n;
		*codec = w->codec;
	}
	return SPILL_OK;
}

static void fill_header(spill_writer *w, uint8_t *h, codec_id codec, const uint8_t *payload, size_t plen)
{
	bytes_put_le32(h, BLOCK_MAGIC);
	h[4] = BLOCK_VERSION;
	h[5] = (uint8_t)codec;
	h[6] = h[7] = 0;
	bytes_put_le32(h + 8, (uint32_t)w->raw_len);
	bytes_put_le32(h + 12, (uint32_t)plen);
	bytes_put_le64(h + 16, w->block_no);
	bytes_put_le64(h + 24, w->first_seq);
	bytes_put_le32(h + 32, w->count);
	bytes_put_le32(h + CRC_OFFSET, crc32c(crc32c(0, h, CRC_OFFSET), payload, plen));
}

/* Writes header+payload at the end of the current segment; on failure nothing of it
 * stays in the file and its bytes are given back. */
static spill_result write_framed(spill_writer *w, uint8_t *h, const uint8_t *payload, size_t plen)
{
	uint64_t total = SPILL_BLOCK_HEADER_SIZE + plen;
	char path[SEG_PATH_MAX];
	struct iovec iov[2] = {{h, SPILL_BLOCK_HEADER_SIZE}, {(void *)payload, plen}};
	if (write_all_at(w->fd, iov, 2, (off_t)w->seg_size) == 0 && (!w->sync || fdatasync(w->fd) == 0))
		return SPILL_OK;
	int e = errno;
	spill_segment_path(path, sizeof path, w->dir, w->worker, w->segno);
	budget_release(w->budget, total);
	if (ftruncate(w->fd, (off_t)w->seg_size) != 0)
		return werr(w, SPILL_ERROR, "spill: cannot cut %s back to %llu bytes after a failed write (%s): %s",
		            path, (unsigned long long)w->seg_size, strerror(e), strerror(errno));
	werr(w, SPILL_ERROR, "spill: writing %llu bytes to %s at byte offset %llu failed: %s",
	     (unsigned long long)total, path, (unsigned long long)w->seg_size, strerror(e));
	return (e == ENOSPC || e == EDQUOT || e == EFBIG) ? pause_full(w) : SPILL_ERROR;
}

static void publish_block(spill_writer *w, size_t plen)
{
	uint64_t total = SPILL_BLOCK_HEADER_SIZE + plen;
	w->seg_size += total;
	w->block_no++;
	atomic_fetch_add(&w->sh->blocks, 1);
	atomic_fetch_add(&w->sh->records, w->count);
	atomic_fetch_add(&w->sh->raw_bytes, w->raw_len);
	atomic_fetch_add(&w->sh->disk_bytes, total);
	atomic_store_explicit(&w->sh->committed_seq, w->first_seq + w->count, memory_order_release);
	w->raw_len = 0;
	w->count = 0;
	if (w->paused && w->pause_logged)
		log_info("spill %s for %s: writing again after %.1f s paused", w->dir, w->worker, now_s() - w->paused_at);
	w->paused = false;
}

static spill_result write_block(spill_writer *w)
{
	if (w->count == 0)
		return SPILL_OK;
	const uint8_t *payload;
	size_t plen;
	codec_id codec;
	uint8_t h[SPILL_BLOCK_HEADER_SIZE];
	spill_result r = compress_block(w, &payload, &plen, &codec);
	if (r != SPILL_OK)
		return r;
	uint64_t total = SPILL_BLOCK_HEADER_SIZE + plen;
	if (w->fd >= 0 && w->seg_size > 0 && w->seg_size + total > w->segment_size)
		next_segment(w);
	if ((r = budget_reserve(w, total)) != SPILL_OK)
		return r;
	if (w->fd < 0 && (r = open_segment(w)) != SPILL_OK) {
		budget_release(w->budget, total);
		return r;
	}
	fill_header(w, h, codec, payload, plen);
	if ((r = write_framed(w, h, payload, plen)) != SPILL_OK)
		return r;
	publish_block(w, plen);
	return SPILL_OK;
}

spill_result spill_writer_append(spill_writer *w, uint64_t seq, const void *rec, size_t len)
{
	if (len > SPILL_MAX_RECORD)
		return werr(w, SPILL_ERROR, "spill %s: record of %zu bytes is larger than the %u bytes allowed",
		            w->dir, len, SPILL_MAX_RECORD);
	if (w->any_seq && seq <= w->last_seq)
		return werr(w, SPILL_ERROR, "spill %s: sequence %llu appended after %llu", w->dir,
		            (unsigned long long)seq, (unsigned long long)w->last_seq);
	size_t need = varint_len(len) + len;
	if (w->count > 0 && (seq != w->last_seq + 1 || w->raw_len + need > w->block_size)) {
		spill_result r = write_block(w);
		if (r != SPILL_OK)
			return r;
	}
	if (!bytes_grow(&w->raw, &w->raw_cap, w->raw_len + need))
		return werr(w, SPILL_ERROR, "spill %s: out of memory for a %zu-byte block", w->dir, w->raw_len + need);
	if (w->count == 0)
		w->first_seq = seq;
	w->raw_len += varint_put(w->raw + w->raw_len, len);
	if (len)
		memcpy(w->raw + w->raw_len, rec, len);
	w->raw_len += len;
	w->count++;
	w->last_seq = seq;
	w->any_seq = true;
	return SPILL_OK;
}

spill_result spill_writer_flush(spill_writer *w)
{
	return write_block(w);
}

spill_result spill_writer_seal(spill_writer *w)
{
	spill_result r = write_block(w);
	if (r != SPILL_OK)
		return r;
	if (w->fd >= 0 && w->seg_size > 0)
		next_segment(w);
	return SPILL_OK;
}

/* ---- reader ------------------------------------------------------------------------ */

typedef struct done_segment {
	uint64_t segno;
	uint64_t end_seq; /* one past its last record */
	uint64_t bytes;
} done_segment;

struct spill_reader {
	char dir[PATH_MAX];
	char worker[SPILL_WORKER_NAME_MAX + 1];
	spill_shared *sh;
	spill_budget *budget;
	codec_ctx *dctx;

	int fd;
	uint64_t segno;
	uint64_t offset;       /* next block in the current segment */
	uint64_t loaded_end;   /* one past the last record of the last block loaded */
	uint64_t expect_block; /* block number the next block must carry */

	uint8_t *raw;          /* decompressed current block */
	size_t raw_cap;
	uint8_t *comp;
	size_t comp_cap;
	const uint8_t *cur, *cur_end;
	uint32_t left;         /* records of the current block not yet returned */
	uint64_t next_seq;     /* sequence number of the next record of the block */
	uint64_t returned_end;

	done_segment *done;    /* fully read, waiting for confirmation; oldest first */
	size_t ndone, done_cap;
	uint64_t confirmed;    /* one past the last confirmed record */

	bool failed;
	char err[ERR_MAX];
};

spill_reader *spill_reader_open(const spill_options *opt, spill_shared *sh, spill_budget *budget,
                                char *err, size_t errlen)
{
	if (!names_ok(opt, err, errlen))
		return NULL;
	spill_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->dctx = codec_ctx_new())) {
		free(r);
		snprintf(err, errlen, "spill: out of memory");
		return NULL;
	}
	snprintf(r->dir, sizeof r->dir, "%s", opt->dir);
	snprintf(r->worker, sizeof r->worker, "%s", opt->worker);
	r->sh = sh;
	r->budget = budget;
	r->fd = -1; /* segment 0, block 0, sequence 0: the start of a freshly reset stream */
	return r;
}

void spill_reader_close(spill_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	codec_ctx_free(r->dctx);
	free(r->raw);
	free(r->comp);
	free(r->done);
	free(r);
}

const char *spill_reader_error(const spill_reader *r) { return r->err; }

void spill_reader_position(const spill_reader *r, spill_reader_pos *pos)
{
	pos->segno = r->segno;
	pos->offset = r->offset;
	pos->next_seq = r->returned_end;
	pos->done_segments = r->ndone;
}

/* Corruption or I/O error at the current block: the reader stays failed. */
__attribute__((format(printf, 2, 3))) static spill_result rfail(spill_reader *r, const char *fmt, ...)
{
	char path[SEG_PATH_MAX], what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	spill_segment_path(path, sizeof path, r->dir, r->worker, r->segno);
	snprintf(r->err, sizeof r->err, "spill segment %s, byte offset %llu: %s", path,
	         (unsigned long long)r->offset, what);
	r->failed = true;
	return SPILL_ERROR;
}

/* Deletes done segments whose records are all confirmed, oldest first. */
static spill_result delete_confirmed(spill_reader *r)
{
	size_t i = 0;
	spill_result res = SPILL_OK;
	for (; i < r->ndone && r->done[i].end_seq <= r->confirmed; i++) {
		char path[SEG_PATH_MAX];
		spill_segment_path(path, sizeof path, r->dir, r->worker, r->done[i].segno);
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(r->err, sizeof r->err, "spill: cannot delete %s: %s", path, strerror(errno));
			res = SPILL_ERROR;
			break;
		}
		budget_release(r->budget, r->done[i].bytes);
	}
	if (i > 0) {
		memmove(r->done, r->done + i, (r->ndone - i) * sizeof *r->done);
		r->ndone -= i;
	}
	return res;
}

/* The writer has moved past the current segment and every block of it is loaded. */
static spill_result finish_segment(spill_reader *r)
{
	if (r->fd >= 0) {
		struct stat st;
		if (fstat(r->fd, &st) == 0 && (uint64_t)st.st_size != r->offset)
			return rfail(r, "%llu bytes after the last published block",
			             (unsigned long long)st.st_size - r->offset);
		close(r->fd);
		r->fd = -1;
	}
	if (r->ndone == r->done_cap) {
		size_t cap = r->done_cap ? r->done_cap * 2 : 16;
		done_segment *d = realloc(r->done, cap * sizeof *d);
		if (!d)
			return rfail(r, "out of memory");
		r->done = d;
		r->done_cap = cap;
	}
	r->done[r->ndone++] = (done_segment){r->segno, r->loaded_end, r->offset};
	r->segno++;
	r->offset = 0;
	return delete_confirmed(r);
}

static spill_result open_current(spill_reader *r, uint64_t committed)
{
	char path[SEG_PATH_MAX];
	spill_segment_path(path, sizeof path, r->dir, r->worker, r->segno);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd >= 0)
		return SPILL_OK;
	if (errno == ENOENT)
		return rfail(r, "segment missing, yet the writer published records up to sequence %llu",
		             (unsigned long long)committed - 1);
	return rfail(r, "cannot open: %s", strerror(errno));
}

/* Reads exactly n bytes at off; the count read (short at end of file) or -1. */
static ssize_t read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

typedef struct block_header {
	codec_id codec;
	uint32_t raw_len, comp_len, count;
	uint64_t block_no, first_seq;
} block_header;

/* Checks what can be checked before the payload is read (the CRC comes after). */
static spill_result parse_header(spill_reader *r, const uint8_t *h, block_header *bh)
{
	if (bytes_get_le32(h) != BLOCK_MAGIC)
		return rfail(r, "bad block magic 0x%08x (want 0x%08x)", bytes_get_le32(h), BLOCK_MAGIC);
	if (h[4] != BLOCK_VERSION)
		return rfail(r, "unsupported block version %u", h[4]);
	if (h[5] > CODEC_ZSTD || h[6] || h[7])
		return rfail(r, "bad codec %u or reserved bytes in the block header", h[5]);
	bh->codec = (codec_id)h[5];
	bh->raw_len = bytes_get_le32(h + 8);
	bh->comp_len = bytes_get_le32(h + 12);
	bh->block_no = bytes_get_le64(h + 16);
	bh->first_seq = bytes_get_le64(h + 24);
	bh->count = bytes_get_le32(h + 32);
	if (bh->raw_len > SPILL_MAX_RECORD + VARINT_MAX || bh->count == 0 || bh->count > bh->raw_len)
		return rfail(r, "impossible block lengths (raw %u bytes, %u records)", bh->raw_len, bh->count);
	size_t bound = codec_bound(bh->codec, bh->raw_len);
	if (bh->comp_len > bound || (bh->codec == CODEC_NONE && bh->comp_len != bh->raw_len))
		return rfail(r, "compressed length %u impossible for %u raw bytes (%s)", bh->comp_len,
		             bh->raw_len, codec_name(bh->codec));
	return SPILL_OK;
}

/* Reads the payload, checks the CRC, and leaves the raw block in r->raw. */
static spill_result read_payload(spill_reader *r, const uint8_t *h, const block_header *bh)
{
	struct stat st;
	uint64_t at = r->offset + SPILL_BLOCK_HEADER_SIZE;
	if (fstat(r->fd, &st) != 0)
		return rfail(r, "fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size < at + bh->comp_len)
		return rfail(r, "truncated block: %u payload bytes announced, %llu in the file", bh->comp_len,
		             (unsigned long long)((uint64_t)st.st_size - at));
	uint8_t **dst = bh->codec == CODEC_NONE ? &r->raw : &r->comp;
	size_t *cap = bh->codec == CODEC_NONE ? &r->raw_cap : &r->comp_cap;
	if (!bytes_grow(dst, cap, bh->comp_len ? bh->comp_len : 1))
		return rfail(r, "out of memory for a %u-byte block", bh->comp_len);
	ssize_t n = read_at(r->fd, *dst, bh->comp_len, at);
	if (n < 0)
		return rfail(r, "read: %s", strerror(errno));
	if ((size_t)n != bh->comp_len)
		return rfail(r, "truncated block: %u payload bytes announced, %zd read", bh->comp_len, n);
	uint32_t crc = crc32c(crc32c(0, h, CRC_OFFSET), *dst, bh->comp_len);
	if (crc != bytes_get_le32(h + CRC_OFFSET))
		return rfail(r, "checksum mismatch (stored 0x%08x, computed 0x%08x)", bytes_get_le32(h + CRC_OFFSET), crc);
	if (bh->codec == CODEC_NONE)
		return SPILL_OK;
	if (!bytes_grow(&r->raw, &r->raw_cap, bh->raw_len))
		return rfail(r, "out of memory for a %u-byte block", bh->raw_len);
	codec_status cs = codec_decompress(r->dctx, bh->codec, r->comp, bh->comp_len, r->raw, bh->raw_len);
	if (cs != CODEC_OK)
		return rfail(r, "%s block does not decompress: %s", codec_name(bh->codec), codec_status_text(cs));
	return SPILL_OK;
}

/* Checks that count length-prefixed records fill the raw block exactly. */
static spill_result check_records(spill_reader *r, const block_header *bh)
{
	const uint8_t *p = r->raw, *end = r->raw + bh->raw_len;
	for (uint32_t i = 0; i < bh->count; i++) {
		uint64_t len;
		size_t k = varint_get(p, end, &len);
		if (k == 0 || len > (uint64_t)(end - p - (ptrdiff_t)k))
			return rfail(r, "record %u of the block overruns it", i);
		p += k + len;
	}
	if (p != end)
		return rfail(r, "%zu bytes after the last record of the block", (size_t)(end - p));
	return SPILL_OK;
}

/* Reads the next block header, moving on to the next segment at the end of one.
 * The caller knows a published block is there (committed). */
static spill_result read_header(spill_reader *r, uint64_t committed, uint8_t *h)
{
	spill_result res;
	for (;;) {
		if (r->fd < 0 && (res = open_current(r, committed)) != SPILL_OK)
			return res;
		ssize_t n = read_at(r->fd, h, SPILL_BLOCK_HEADER_SIZE, r->offset);
		if (n < 0)
			return rfail(r, "read: %s", strerror(errno));
		if (n == SPILL_BLOCK_HEADER_SIZE)
			return SPILL_OK;
		if (n > 0)
			return rfail(r, "truncated block header (%zd of %d bytes)", n, SPILL_BLOCK_HEADER_SIZE);
		/* End of this segment: the published block must be in the next one. */
		if (atomic_load_explicit(&r->sh->write_segno, memory_order_acquire) <= r->segno)
			return rfail(r, "segment ends here, yet the writer published records up to sequence %llu",
			             (unsigned long long)committed - 1);
		if ((res = finish_segment(r)) != SPILL_OK)
			return res;
	}
}

/* Loads the next published block into r->raw and positions the record cursor on it. */
static spill_result load_block(spill_reader *r, uint64_t committed)
{
	uint8_t h[SPILL_BLOCK_HEADER_SIZE];
	block_header bh = {0};
	spill_result res;
	if ((res = read_header(r, committed, h)) != SPILL_OK || (res = parse_header(r, h, &bh)) != SPILL_OK ||
	    (res = read_payload(r, h, &bh)) != SPILL_OK)
		return res;
	/* The CRC held, so these are what the writer wrote: a mismatch means lost blocks. */
	if (bh.block_no != r->expect_block)
		return rfail(r, "block number %llu where %llu was due: blocks are missing (a segment was truncated or removed)",
		             (unsigned long long)bh.block_no, (unsigned long long)r->expect_block);
	if (bh.first_seq < r->loaded_end || bh.first_seq + bh.count > committed)
		return rfail(r, "block holds sequences %llu..%llu outside the expected range %llu..%llu",
		             (unsigned long long)bh.first_seq, (unsigned long long)(bh.first_seq + bh.count - 1),
		             (unsigned long long)r->loaded_end, (unsigned long long)committed - 1);
	if ((res = check_records(r, &bh)) != SPILL_OK)
		return res;
	r->cur = r->raw;
	r->cur_end = r->raw + bh.raw_len;
	r->left = bh.count;
	r->next_seq = bh.first_seq;
	r->offset += SPILL_BLOCK_HEADER_SIZE + bh.comp_len;
	r->loaded_end = bh.first_seq + bh.count;
	r->expect_block++;
	return SPILL_OK;
}

/* Without unread published blocks: if the writer has left the current segment, it is
 * complete, so it can be finished (and deleted once confirmed). */
static spill_result settle_segment(spill_reader *r)
{
	/* write_segno before committed_seq: the writer publishes them the other way round,
	 * so seeing a new segment number guarantees seeing the blocks written before it. */
	uint64_t ws = atomic_load_explicit(&r->sh->write_segno, memory_order_acquire);
	uint64_t committed = atomic_load_explicit(&r->sh->committed_seq, memory_order_acquire);
	if (committed > r->loaded_end || ws <= r->segno || r->left > 0)
		return SPILL_OK;
	return finish_segment(r);
}

spill_result spill_reader_peek(spill_reader *r, uint64_t *seq)
{
	if (r->failed)
		return SPILL_ERROR;
	if (r->left == 0) {
		uint64_t committed = atomic_load_explicit(&r->sh->committed_seq, memory_order_acquire);
		if (committed <= r->loaded_end)
			return settle_segment(r) == SPILL_OK ? SPILL_EMPTY : SPILL_ERROR;
		if (load_block(r, committed) != SPILL_OK)
			return SPILL_ERROR;
	}
	*seq = r->next_seq;
	return SPILL_OK;
}

spill_result spill_reader_next(spill_reader *r, uint64_t *seq, const void **data, size_t *len)
{
	uint64_t s = 0, n = 0;
	spill_result res = spill_reader_peek(r, &s);
	if (res != SPILL_OK)
		return res;
	size_t k = varint_get(r->cur, r->cur_end, &n); /* validated by check_records() */
	*data = r->cur + k;
	*len = (size_t)n;
	*seq = s;
	r->cur += k + n;
	r->left--;
	r->next_seq++;
	r->returned_end = s + 1;
	return SPILL_OK;
}

spill_result spill_reader_confirm(spill_reader *r, uint64_t seq)
{
	if (seq + 1 > r->confirmed)
		r->confirmed = seq + 1;
	if (r->failed)
		return SPILL_ERROR;
	if (settle_segment(r) != SPILL_OK)
		return SPILL_ERROR;
	return delete_confirmed(r);
}

/* ---- maintenance ------------------------------------------------------------------- */

/* "spill-<worker>-" followed by exactly 16 hex digits and ".seg". */
static bool is_segment_of(const char *name, const char *prefix, size_t plen)
{
	if (strncmp(name, prefix, plen) != 0 || strlen(name) != plen + 16 + 4)
		return false;
	for (size_t i = plen; i < plen + 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return strcmp(name + plen + 16, ".seg") == 0;
}

/* Deletes the segments in dir whose writer name is worker (exact) or starts with it. */
static int remove_segments(const char *dir, const char *worker, bool exact)
{
	char prefix[SPILL_WORKER_NAME_MAX + 16];
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, exact ? "spill-%s-" : "spill-%s", worker);
	int removed = 0, saved = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		bool match = exact ? is_segment_of(de->d_name, prefix, plen)
				   : strncmp(de->d_name, prefix, plen) == 0 && n >= plen + 4 &&
					     strcmp(de->d_name + n - 4, ".seg") == 0;
		if (!match)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			saved = errno;
	}
	closedir(d);
	if (saved) {
		errno = saved;
		return -1;
	}
	return removed;
}

int spill_remove_all(const char *dir, const char *worker)
{
	if (!worker_name_ok(worker)) {
		errno = EINVAL;
		return -1;
	}
	return remove_segments(dir, worker, true);
}

int spill_remove_prefixed(const char *dir, const char *worker_prefix)
{
	if (!worker_name_ok(worker_prefix)) {
		errno = EINVAL;
		return -1;
	}
	return remove_segments(dir, worker_prefix, false);
}
