/* Spill throughput per codec on change-like records (a pgbench TPC-B stream: account,
 * teller and branch updates, history inserts, begin/commit), median of 3 runs:
 * compression ratio, write MB/s (append + flush) and read MB/s (verify + decompress +
 * confirm/delete), MB being record bytes. Side by side, the anchors on the same bytes:
 * plain write()/read() of the record stream in 256 KiB chunks (no framing, no CRC, no
 * compression), and each codec compressing the whole stream in one call (what blocks
 * give up). Usage: bench_spill [records, default 2000000] [directory, default /tmp]. */
#include "ipc/codec.h"
#include "ipc/crc32c.h"
#include "ipc/record.h"
#include "ipc/spill.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUNS 3
#define CHUNK (256 * 1024)

typedef struct stream {
	uint8_t *data;  /* records back to back */
	size_t *off;    /* record i is data[off[i]] .. data[off[i + 1]] */
	size_t n;
	size_t bytes;
} stream;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_record(stream *s, const record_buf *b)
{
	memcpy(s->data + s->bytes, b->data, b->len);
	s->bytes += b->len;
	s->off[++s->n] = s->bytes;
}

static void put_update(record_buf *b, uint32_t table, uint64_t pos, uint64_t xid, int64_t ts,
                       int64_t id, int64_t other, int64_t balance, const char *filler, size_t flen)
{
	record_encoder e;
	record_header h = {.op = RECORD_OP_UPDATE, .table_id = table, .position = pos, .xid = xid,
	                   .commit_time_us = ts, .old_image = RECORD_IMAGE_KEY, .has_new = true};
	record_encode_begin(&e, b, &h);
	record_encode_tuple(&e, 4);
	record_put_int64(&e, id);
	record_put_null(&e);
	record_put_null(&e);
	record_put_null(&e);
	record_encode_tuple(&e, 4);
	record_put_int64(&e, id);
	record_put_int64(&e, other);
	record_put_int64(&e, balance);
	if (flen)
		record_put_text(&e, filler, flen);
	else
		record_put_null(&e);
	record_encode_finish(&e);
}

static void put_marker(record_buf *b, record_op op, uint64_t pos, uint64_t xid, int64_t ts)
{
	record_encoder e;
	record_header h = {.op = op, .position = pos, .xid = xid, .commit_time_us = ts};
	record_encode_begin(&e, b, &h);
	record_encode_finish(&e);
}

/* One TPC-B transaction: begin, 3 updates, 1 history insert, commit. */
static void add_transaction(stream *s, record_buf *b, uint64_t xid, unsigned *seed)
{
	static const char blank[85] = "                                                                                    ";
	int64_t ts = 1795000000000000LL + (int64_t)xid * 137, delta = rand_r(seed) % 10001 - 5000;
	int64_t aid = rand_r(seed) % 3000000 + 1, tid = rand_r(seed) % 300 + 1, bid = rand_r(seed) % 30 + 1;
	uint64_t pos = 0x16B3748A0ULL + xid * 600;
	put_marker(b, RECORD_OP_BEGIN, pos, xid, ts);
	add_record(s, b);
	put_update(b, 1, pos + 100, xid, ts, aid, (aid - 1) / 100000 + 1, rand_r(seed) % 200000 - 100000, blank, 84);
	add_record(s, b);
	put_update(b, 2, pos + 200, xid, ts, tid, bid, rand_r(seed) % 200000 - 100000, "", 0);
	add_record(s, b);
	put_update(b, 3, pos + 300, xid, ts, bid, 0, rand_r(seed) % 2000000 - 1000000, "", 0);
	add_record(s, b);

	record_encoder e;
	record_header h = {.op = RECORD_OP_INSERT, .table_id = 4, .position = pos + 400, .xid = xid,
	                   .commit_time_us = ts, .has_new = true};
	record_encode_begin(&e, b, &h);
	record_encode_tuple(&e, 6);
	record_put_int64(&e, tid);
	record_put_int64(&e, bid);
	record_put_int64(&e, aid);
	record_put_int64(&e, delta);
	record_put_timestamp(&e, ts - 250);
	record_put_null(&e); /* filler char(22), NULL in pgbench */
	record_encode_finish(&e);
	add_record(s, b);
	put_marker(b, RECORD_OP_COMMIT, pos + 500, xid, ts);
	add_record(s, b);
}

static stream make_stream(size_t want)
{
	stream s = {.data = malloc(want * 160 + 1024), .off = malloc((want + 8) * sizeof(size_t))};
	record_buf b;
	unsigned seed = 42;
	s.off[0] = 0;
	record_buf_init(&b);
	for (uint64_t xid = 1000; s.n + 6 <= want; xid++)
		add_transaction(&s, &b, xid, &seed);
	record_buf_free(&b);
	return s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof *v, cmp_double);
	return v[RUNS / 2];
}

/* One write + read round; returns the seconds of each and the bytes on disk. */
static int spill_round(const stream *s, const char *dir, codec_id codec, double *w_s, double *r_s, uint64_t *disk)
{
	spill_options opt = {.dir = dir, .worker = "bench", .codec = codec};
	spill_shared sh;
	spill_budget budget;
	char err[512];
	spill_shared_init(&sh);
	spill_budget_init(&budget, 0);
	spill_writer *w = spill_writer_open(&opt, &sh, &budget, err, sizeof err);
	spill_reader *r = spill_reader_open(&opt, &sh, &budget, err, sizeof err);
	if (!w || !r) {
		fprintf(stderr, "bench_spill: %s\n", err);
		return -1;
	}
	double t0 = now_s();
	for (size_t i = 0; i < s->n; i++)
		if (spill_writer_append(w, i + 1, s->data + s->off[i], s->off[i + 1] - s->off[i]) != SPILL_OK)
			return fprintf(stderr, "bench_spill: %s\n", spill_writer_error(w)), -1;
	if (spill_writer_seal(w) != SPILL_OK)
		return fprintf(stderr, "bench_spill: %s\n", spill_writer_error(w)), -1;
	double t1 = now_s();
	*disk = atomic_load(&sh.disk_bytes);
	uint64_t seq, got = 0, sum = 0;
	const void *data;
	size_t len;
	while (spill_reader_next(r, &seq, &data, &len) == SPILL_OK) {
		sum += len + ((const uint8_t *)data)[len ? len - 1 : 0];
		if (++got % 100000 == 0)
			spill_reader_confirm(r, seq);
	}
	spill_reader_confirm(r, seq);
	double t2 = now_s();
	if (got != s->n || sum == 0)
		return fprintf(stderr, "bench_spill: read %llu of %zu records: %s\n", (unsigned long long)got, s->n,
		               spill_reader_error(r)), -1;
	*w_s = t1 - t0;
	*r_s = t2 - t1;
	spill_reader_close(r);
	spill_writer_close(w);
	return 0;
}

/* Anchor: the record stream written and read back as is, in 256 KiB chunks. */
static int raw_round(const stream *s, const char *dir, double *w_s, double *r_s)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/raw-anchor.bin", dir);
	uint8_t *buf = malloc(CHUNK);
	double t0 = now_s();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (size_t off = 0; fd >= 0 && off < s->bytes; off += CHUNK) {
		size_t n = s->bytes - off < CHUNK ? s->bytes - off : CHUNK;
		if (write(fd, s->data + off, n) != (ssize_t)n)
			return -1;
	}
	close(fd);
	double t1 = now_s();
	fd = open(path, O_RDONLY);
	uint64_t sum = 0;
	ssize_t n;
	while (fd >= 0 && (n = read(fd, buf, CHUNK)) > 0)
		sum += buf[n - 1];
	close(fd);
	unlink(path);
	*w_s = t1 - t0;
	*r_s = now_s() - t1;
	free(buf);
	return sum ? 0 : -1;
}

static double whole_stream_ratio(const stream *s, codec_id codec)
{
	size_t cap = codec_bound(codec, s->bytes), out;
	uint8_t *dst = malloc(cap);
	codec_ctx *ctx = codec_ctx_new();
	codec_status st = codec_compress(ctx, codec, 1, s->data, s->bytes, dst, cap, &out);
	codec_ctx_free(ctx);
	free(dst);
	return st == CODEC_OK ? (double)s->bytes / (double)out : 0;
}

int main(int argc, char **argv)
{
	size_t want = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/ferry-bench-spill-XXXXXX", argc > 2 ? argv[2] : "/tmp");
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	stream s = make_stream(want);
	double mb = (double)s.bytes / 1e6, w[RUNS], r[RUNS];
	printf("bench_spill: %zu change records (pgbench TPC-B stream), %.1f MB, avg %.0f bytes/record, "
	       "block 256 KiB, crc32c %s, median of %d\n", s.n, mb, (double)s.bytes / (double)s.n, crc32c_impl(), RUNS);
	for (int i = 0; i < RUNS; i++)
		if (raw_round(&s, dir, &w[i], &r[i]) != 0)
			return fprintf(stderr, "bench_spill: raw anchor failed\n"), 1;
	double raw_w = mb / median(w), raw_r = mb / median(r);
	printf("anchor raw write/read: ratio 1.00 write %.0f MB/s read %.0f MB/s\n", raw_w, raw_r);
	static const codec_id codecs[] = {CODEC_NONE, CODEC_LZ4, CODEC_ZSTD};
	for (size_t c = 0; c < 3; c++) {
		uint64_t disk = 0;
		for (int i = 0; i < RUNS; i++)
			if (spill_round(&s, dir, codecs[c], &w[i], &r[i], &disk) != 0)
				return 1;
		double sw = mb / median(w), sr = mb / median(r);
		printf("spill %-4s: ratio %.2f (whole stream in one call: %.2f) write %.0f MB/s (%.2fx raw) "
		       "read %.0f MB/s (%.2fx raw) %.2f Mrecords/s written\n",
		       codec_name(codecs[c]), (double)s.bytes / (double)disk,
		       codecs[c] == CODEC_NONE ? 1.0 : whole_stream_ratio(&s, codecs[c]), sw, sw / raw_w, sr,
		       sr / raw_r, (double)s.n / 1e6 * sw / mb);
	}
	spill_remove_all(dir, "bench");
	rmdir(dir);
	free(s.data);
	free(s.off);
	return 0;
}
