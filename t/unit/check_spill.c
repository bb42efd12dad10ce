/* Spill segments and their building blocks (CRC32C, codecs): round trips per codec over
 * several segments, deletion after confirmation, corruption and truncation reported with
 * the file name, blocks still being written left alone, the disk cap and a full disk. */
#include "ipc/codec.h"
#include "ipc/crc32c.h"
#include "ipc/spill.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* For per-record checks: a passing ck_assert costs a system call in fork mode. */
#define require(cond, ...)                        \
	do {                                      \
		if (!(cond))                      \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

static const codec_id codecs[] = {CODEC_NONE, CODEC_LZ4, CODEC_ZSTD};
static char dir[512];

static void make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/ferry-spill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* Change-like test record for seq: mostly short compressible rows, now and then an empty
 * one or one larger than a block. Returns its length; buf holds at least 64 KiB. */
static size_t fill_record(uint64_t seq, uint8_t *buf)
{
	size_t len = 20 + (size_t)(seq * 37 % 200);
	if (seq % 997 == 0)
		len = 0;
	else if (seq % 4999 == 0)
		len = 40000;
	int n = snprintf((char *)buf, 64, "%llu|%llu|aid-%llu|", (unsigned long long)seq,
	                 (unsigned long long)(seq % 10), (unsigned long long)(seq * 7919 % 100000));
	for (size_t i = (size_t)n; i < len; i++)
		buf[i] = (uint8_t)("abcdefgh filler "[i % 16] ^ (i % 97 == 0 ? (uint8_t)seq : 0));
	return len;
}

static spill_options options(codec_id codec)
{
	/* Compressed blocks are ~10x smaller: smaller segments keep several of them. */
	return (spill_options){.dir = dir, .worker = "w1", .codec = codec, .block_size = 16 * 1024,
	                       .segment_size = codec == CODEC_NONE ? 128 * 1024 : 16 * 1024};
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

static uint64_t dir_bytes(void)
{
	uint64_t total = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	while (d && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "spill-", 6) == 0 && fstatat(dirfd(d), de->d_name, &st, 0) == 0)
			total += (uint64_t)st.st_size;
	if (d)
		closedir(d);
	return total;
}

/* Reads every available record, checking each against fill_record(); returns how many. */
static uint64_t drain(spill_reader *r, uint64_t *expect, uint64_t gap_every)
{
	static uint8_t want[65536];
	uint64_t n = 0, seq;
	const void *data;
	size_t len;
	spill_result res;
	while ((res = spill_reader_next(r, &seq, &data, &len)) == SPILL_OK) {
		require(seq == *expect, "got %llu, want %llu", (unsigned long long)seq, (unsigned long long)*expect);
		size_t wl = fill_record(seq, want);
		require(len == wl && (len == 0 || memcmp(data, want, len) == 0), "record %llu differs",
		        (unsigned long long)seq);
		*expect = seq + 1;
		if (gap_every && *expect % gap_every == 0)
			*expect += 100; /* the writer skipped these (they went to the ring) */
		n++;
	}
	ck_assert_msg(res == SPILL_EMPTY, "reader: %s", spill_reader_error(r));
	return n;
}

/* ---- crc32c ------------------------------------------------------------------------ */

START_TEST(crc32c_matches_the_standard_vectors)
{
	uint8_t zeros[32] = {0}, ones[32], inc[32], dec[32];
	memset(ones, 0xff, sizeof ones);
	for (int i = 0; i < 32; i++) {
		inc[i] = (uint8_t)i;
		dec[i] = (uint8_t)(31 - i);
	}
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	/* RFC 3720 (iSCSI) B.4 */
	ck_assert_uint_eq(crc32c(0, zeros, 32), 0x8A9136AAu);
	ck_assert_uint_eq(crc32c(0, ones, 32), 0x62A8AB43u);
	ck_assert_uint_eq(crc32c(0, inc, 32), 0x46DD794Eu);
	ck_assert_uint_eq(crc32c(0, dec, 32), 0x113FDB5Cu);
	ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}
END_TEST

START_TEST(crc32c_paths_agree_at_every_length_and_alignment)
{
	uint8_t buf[1100];
	unsigned seed = 7;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rand_r(&seed);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof buf; len += 1 + len / 8)
			require(crc32c(0, buf + off, len) == crc32c_sw(0, buf + off, len), "length %zu at %zu", len, off);
	ck_assert(strcmp(crc32c_impl(), "sse4.2") == 0 || strcmp(crc32c_impl(), "slice-by-8") == 0);
}
END_TEST

/* ---- codec ------------------------------------------------------------------------- */

START_TEST(codec_round_trips_and_rejects_bad_input)
{
	codec_id id = codecs[_i];
	codec_ctx *ctx = codec_ctx_new();
	size_t len = 300000;
	uint8_t *src = malloc(len), *dst = malloc(codec_bound(id, len)), *back = malloc(len + 1);
	unsigned seed = 99;
	for (size_t i = 0; i < len; i++) /* half text-like, half random */
		src[i] = i < len / 2 ? (uint8_t)("pgbench_accounts "[i % 17]) : (uint8_t)rand_r(&seed);
	size_t clen = 0;
	ck_assert_int_eq(codec_compress(ctx, id, 1, src, len, dst, codec_bound(id, len), &clen), CODEC_OK);
	if (id != CODEC_NONE)
		ck_assert_uint_lt(clen, len * 3 / 4);
	ck_assert_int_eq(codec_decompress(ctx, id, dst, clen, back, len), CODEC_OK);
	ck_assert(memcmp(src, back, len) == 0);
	/* claiming more bytes than the data holds */
	ck_assert_int_eq(codec_decompress(ctx, id, dst, clen, back, len + 1), CODEC_SIZE_MISMATCH);
	if (id != CODEC_NONE) {
		memset(dst + 10, 0xA5, 64); /* garbage in the stream */
		codec_status st = codec_decompress(ctx, id, dst, clen, back, len);
		ck_assert_msg(st == CODEC_CORRUPT || st == CODEC_SIZE_MISMATCH, "%s", codec_status_text(st));
		ck_assert_int_eq(codec_compress(ctx, id, 1, src, len, dst, 16, &clen), CODEC_DST_TOO_SMALL);
	}
	/* empty input */
	ck_assert_int_eq(codec_compress(ctx, id, 1, src, 0, dst, codec_bound(id, 0), &clen), CODEC_OK);
	ck_assert_int_eq(codec_decompress(ctx, id, dst, clen, back, 0), CODEC_OK);
	/* the context is optional */
	ck_assert_int_eq(codec_compress(NULL, id, 0, src, 1000, dst, codec_bound(id, 1000), &clen), CODEC_OK);
	ck_assert_int_eq(codec_decompress(NULL, id, dst, clen, back, 1000), CODEC_OK);
	ck_assert(memcmp(src, back, 1000) == 0);
	codec_id parsed;
	ck_assert_int_eq(codec_parse(codec_name(id), &parsed), 0);
	ck_assert_int_eq(parsed, id);
	ck_assert_int_eq(codec_parse("gzip", &parsed), -1);
	ck_assert_int_eq(codec_decompress(ctx, (codec_id)9, dst, 1, back, 1), CODEC_BAD_CODEC);
	free(src);
	free(dst);
	free(back);
	codec_ctx_free(ctx);
}
END_TEST

/* ---- spill round trip -------------------------------------------------------------- */

START_TEST(records_round_trip_over_rotated_segments)
{
	spill_options opt = options(codecs[_i]);
	spill_shared sh;
	spill_budget budget;
	char err[256];
	uint8_t rec[65536];
	spill_shared_init(&sh);
	spill_budget_init(&budget, 0);
	spill_writer *w = spill_writer_open(&opt, &sh, &budget, err, sizeof err);
	spill_reader *r = spill_reader_open(&opt, &sh, &budget, err, sizeof err);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(r);

	const uint64_t n = 20000, gap = 5000;
	uint64_t seq = 1, expect = 1, got = 0;
	for (uint64_t i = 0; i < n; i++) {
		require(spill_writer_append(w, seq, rec, fill_record(seq, rec)) == SPILL_OK, "%s", spill_writer_error(w));
		seq++;
		if (seq % gap == 0)
			seq += 100; /* a spill episode ended: the stream resumes later */
		if (i % 3000 == 2999) { /* the consumer reads along and confirms */
			got += drain(r, &expect, gap);
			ck_assert_int_eq(spill_reader_confirm(r, expect - 1), SPILL_OK);
		}
	}
	ck_assert_int_eq(spill_writer_flush(w), SPILL_OK);
	got += drain(r, &expect, gap);
	ck_assert_uint_eq(got, n);
	ck_assert_uint_gt(atomic_load(&sh.write_segno), 5); /* it did rotate */
	if (codecs[_i] != CODEC_NONE)
		ck_assert_uint_lt(atomic_load(&sh.disk_bytes), atomic_load(&sh.raw_bytes) / 2);

	ck_assert_int_eq(spill_writer_seal(w), SPILL_OK);
	ck_assert_int_eq(spill_reader_confirm(r, expect - 1), SPILL_OK);
	ck_assert_int_eq(count_segments(), 0);
	ck_assert_uint_eq(atomic_load(&budget.used), 0);
	spill_reader_close(r);
	spill_writer_close(w);
}
END_TEST

START_TEST(segments_are_deleted_only_after_confirmation)
{
	spill_options opt = options(CODEC_LZ4);
	spill_shared sh;
	spill_budget budget;
	char err[256];
	uint8_t rec[65536];
	spill_shared_init(&sh);
	spill_budget_init(&budget, 0);
	spill_writer *w = spill_writer_open(&opt, &sh, &budget, err, sizeof err);
	spill_reader *r = spill_reader_open(&opt, &sh, &budget, err, sizeof err);
	for (uint64_t s = 1; s <= 8000; s++)
		ck_assert_int_eq(spill_writer_append(w, s, rec, fill_record(s, rec)), SPILL_OK);
	ck_assert_int_eq(spill_writer_flush(w), SPILL_OK);
	int segs = count_segments();
	ck_assert_int_gt(segs, 3);
	ck_assert_uint_eq(atomic_load(&budget.used), dir_bytes());

	uint64_t expect = 1;
	drain(r, &expect, 0);
	ck_assert_uint_eq(expect, 8001);
	spill_reader_pos pos;
	spill_reader_position(r, &pos);
	ck_assert_uint_eq(pos.next_seq, 8001);
	ck_assert_uint_eq(pos.done_segments, (size_t)segs - 1); /* the last is still being written */
	ck_assert_int_eq(count_segments(), segs);               /* read, not yet confirmed */

	ck_assert_int_eq(spill_reader_confirm(r, 4000), SPILL_OK);
	int after_half = count_segments();
	ck_assert_int_lt(after_half, segs);
	ck_assert_int_gt(after_half, 1);
	ck_assert_uint_eq(atomic_load(&budget.used), dir_bytes());
	ck_assert_int_eq(spill_reader_confirm(r, 8000), SPILL_OK);
	ck_assert_int_eq(count_segments(), 1); /* the writer still owns the last one */
	ck_assert_int_eq(spill_writer_seal(w), SPILL_OK);
	ck_assert_int_eq(spill_reader_confirm(r, 8000), SPILL_OK);
	ck_assert_int_eq(count_segments(), 0);
	ck_assert_uint_eq(atomic_load(&budget.used), 0);
	spill_reader_close(r);
	spill_writer_close(w);
}
END_TEST

START_TEST(unpublished_bytes_are_waited_for_not_reported)
{
	spill_options opt = options(CODEC_ZSTD);
	spill_shared sh;
	char err[256], path[PATH_MAX];
	uint8_t rec[65536];
	spill_shared_init(&sh);
	spill_writer *w = spill_writer_open(&opt, &sh, NULL, err, sizeof err);
	spill_reader *r = spill_reader_open(&opt, &sh, NULL, err, sizeof err);
	uint64_t seq, expect = 1;
	ck_assert_int_eq(spill_reader_peek(r, &seq), SPILL_EMPTY);
	for (uint64_t s = 1; s <= 10; s++)
		ck_assert_int_eq(spill_writer_append(w, s, rec, fill_record(s, rec)), SPILL_OK);
	ck_assert_uint_eq(spill_writer_pending(w), 10);
	ck_assert_int_eq(spill_reader_peek(r, &seq), SPILL_EMPTY); /* buffered in the writer */
	ck_assert_int_eq(spill_writer_flush(w), SPILL_OK);
	ck_assert_uint_eq(drain(r, &expect, 0), 10);

	/* Half a block at the end of the segment being written (a write in progress, or one
	 * the writer has not published yet): the reader waits instead of failing. */
	spill_segment_path(path, sizeof path, dir, "w1", 0);
	int fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "FSPB\001\002\0\0partial", 15), 15);
	close(fd);
	ck_assert_int_eq(spill_reader_peek(r, &seq), SPILL_EMPTY);
	ck_assert_int_eq(spill_reader_peek(r, &seq), SPILL_EMPTY);
	spill_reader_close(r);
	spill_writer_close(w);
}
END_TEST

/* ---- corruption -------------------------------------------------------------------- */

/* Writes records 1..n over several segments, sealed; returns the number of segments. */
static uint64_t write_segments(spill_shared *sh, codec_id codec, uint64_t n)
{
	spill_options opt = options(codec);
	char err[256];
	uint8_t rec[65536];
	spill_shared_init(sh);
	spill_writer *w = spill_writer_open(&opt, sh, NULL, err, sizeof err);
	ck_assert_ptr_nonnull(w);
	for (uint64_t s = 1; s <= n; s++)
		require(spill_writer_append(w, s, rec, fill_record(s, rec)) == SPILL_OK, "%s", spill_writer_error(w));
	ck_assert_int_eq(spill_writer_seal(w), SPILL_OK);
	spill_writer_close(w);
	return atomic_load(&sh->write_segno);
}

/* Reads until an error; checks that every record before it was intact, returns the message. */
static const char *read_until_error(spill_shared *sh, codec_id codec, char *msg, size_t msglen, uint64_t *good)
{
	spill_options opt = options(codec);
	char err[256];
	spill_reader *r = spill_reader_open(&opt, sh, NULL, err, sizeof err);
	uint64_t expect = 1, seq;
	const void *data;
	size_t len;
	static uint8_t want[65536];
	spill_result res;
	while ((res = spill_reader_next(r, &seq, &data, &len)) == SPILL_OK) {
		require(seq == expect, "got %llu, want %llu", (unsigned long long)seq, (unsigned long long)expect);
		require(len == fill_record(seq, want) && (len == 0 || memcmp(data, want, len) == 0),
		        "record %llu differs", (unsigned long long)seq);
		expect++;
	}
	ck_assert_int_eq(res, SPILL_ERROR);
	ck_assert_int_eq(spill_reader_next(r, &seq, &data, &len), SPILL_ERROR); /* stays failed */
	snprintf(msg, msglen, "%s", spill_reader_error(r));
	*good = expect - 1;
	spill_reader_close(r);
	return msg;
}

static off_t file_size(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static void flip_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	ck_assert_int_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

START_TEST(a_flipped_byte_is_reported_with_file_and_offset)
{
	spill_shared sh;
	char path[PATH_MAX], msg[PATH_MAX + 1024];
	uint64_t good;
	ck_assert_uint_gt(write_segments(&sh, codecs[_i], 6000), 3);
	spill_segment_path(path, sizeof path, dir, "w1", 2);
	flip_byte(path, file_size(path) / 2);
	read_until_error(&sh, codecs[_i], msg, sizeof msg, &good);
	ck_assert_msg(strstr(msg, path) != NULL, "message lacks the file: %s", msg);
	ck_assert_msg(strstr(msg, "byte offset") != NULL, "%s", msg);
	ck_assert_msg(strstr(msg, "checksum mismatch") || strstr(msg, "impossible") || strstr(msg, "bad"),
	              "%s", msg);
	ck_assert_uint_gt(good, 100); /* segments 0 and 1 were fine */
	ck_assert_uint_lt(good, 6000);
}
END_TEST

START_TEST(a_bad_magic_is_reported)
{
	spill_shared sh;
	char path[PATH_MAX], msg[PATH_MAX + 1024];
	uint64_t good;
	write_segments(&sh, CODEC_ZSTD, 3000);
	spill_segment_path(path, sizeof path, dir, "w1", 1);
	flip_byte(path, 0);
	read_until_error(&sh, CODEC_ZSTD, msg, sizeof msg, &good);
	ck_assert_msg(strstr(msg, path) && strstr(msg, "byte offset 0: bad block magic"), "%s", msg);
}
END_TEST

START_TEST(a_segment_truncated_mid_block_is_reported)
{
	spill_shared sh;
	char path[PATH_MAX], msg[PATH_MAX + 1024];
	uint64_t good;
	write_segments(&sh, codecs[_i], 6000);
	spill_segment_path(path, sizeof path, dir, "w1", 1);
	ck_assert_int_eq(truncate(path, file_size(path) - 100), 0);
	read_until_error(&sh, codecs[_i], msg, sizeof msg, &good);
	ck_assert_msg(strstr(msg, path) && strstr(msg, "truncated"), "%s", msg);
	ck_assert_uint_gt(good, 10);
}
END_TEST

START_TEST(a_segment_truncated_at_a_block_boundary_is_reported)
{
	spill_shared sh;
	char path[PATH_MAX], next[PATH_MAX], msg[PATH_MAX + 1024];
	uint64_t good;
	write_segments(&sh, CODEC_LZ4, 6000);
	/* Keep only the first block of segment 1: its length is in its header. */
	spill_segment_path(path, sizeof path, dir, "w1", 1);
	int fd = open(path, O_RDONLY);
	uint8_t h[SPILL_BLOCK_HEADER_SIZE];
	ck_assert_int_eq(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
	close(fd);
	uint32_t comp = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
	ck_assert_int_eq(truncate(path, SPILL_BLOCK_HEADER_SIZE + comp), 0);
	read_until_error(&sh, CODEC_LZ4, msg, sizeof msg, &good);
	spill_segment_path(next, sizeof next, dir, "w1", 2);
	ck_assert_msg(strstr(msg, next) && strstr(msg, "blocks are missing"), "%s", msg);

	/* the last segment cut at a boundary: the writer had published more */
	ck_assert_int_gt(spill_remove_all(dir, "w1"), 0);
	write_segments(&sh, CODEC_LZ4, 500);
	spill_segment_path(path, sizeof path, dir, "w1", 0);
	ck_assert_int_eq(truncate(path, 0), 0);
	atomic_store(&sh.write_segno, 0); /* as if the writer were still in segment 0 */
	read_until_error(&sh, CODEC_LZ4, msg, sizeof msg, &good);
	ck_assert_msg(strstr(msg, path) && strstr(msg, "published records up to sequence 500"), "%s", msg);
	ck_assert_uint_eq(good, 0);
}
END_TEST

START_TEST(a_missing_segment_is_reported)
{
	spill_shared sh;
	char path[PATH_MAX], msg[PATH_MAX + 1024];
	uint64_t good;
	write_segments(&sh, CODEC_NONE, 6000);
	spill_segment_path(path, sizeof path, dir, "w1", 1);
	ck_assert_int_eq(unlink(path), 0);
	read_until_error(&sh, CODEC_NONE, msg, sizeof msg, &good);
	ck_assert_msg(strstr(msg, path) && strstr(msg, "segment missing"), "%s", msg);
}
END_TEST

/* ---- disk cap and full disk -------------------------------------------------------- */

START_TEST(the_disk_cap_pauses_the_writer_until_the_reader_frees_space)
{
	spill_options opt = options(CODEC_NONE);
	spill_shared sh;
	spill_budget budget;
	char err[256];
	uint8_t rec[65536];
	const uint64_t limit = 300 * 1024, n = 30000;
	spill_shared_init(&sh);
	spill_budget_init(&budget, limit);
	spill_writer *w = spill_writer_open(&opt, &sh, &budget, err, sizeof err);
	spill_reader *r = spill_reader_open(&opt, &sh, &budget, err, sizeof err);
	uint64_t s = 1, expect = 1, fulls = 0;
	while (s <= n) {
		spill_result res = spill_writer_append(w, s, rec, fill_record(s, rec));
		if (res == SPILL_OK) {
			s++;
			continue;
		}
		ck_assert_msg(res == SPILL_FULL, "%s", spill_writer_error(w));
		ck_assert_msg(strstr(spill_writer_error(w), "spill_limit reached"), "%s", spill_writer_error(w));
		ck_assert_uint_le(dir_bytes(), limit);
		fulls++;
		uint32_t gen = spill_writer_full_gen(w);
		ck_assert_int_eq(spill_budget_wait(&budget, gen, 0), SPILL_TIMEDOUT); /* nothing freed yet */
		drain(r, &expect, 0); /* the consumer catches up and commits */
		ck_assert_int_eq(spill_reader_confirm(r, expect - 1), SPILL_OK);
		ck_assert_int_eq(spill_budget_wait(&budget, gen, 1000), SPILL_OK);
	}
	ck_assert_int_eq(spill_writer_flush(w), SPILL_OK);
	drain(r, &expect, 0);
	ck_assert_uint_eq(expect, n + 1); /* nothing lost, nothing twice */
	ck_assert_uint_gt(fulls, 5);
	spill_reader_close(r);
	spill_writer_close(w);
}
END_TEST

START_TEST(a_block_larger_than_the_cap_is_an_error_not_a_pause)
{
	spill_options opt = options(CODEC_NONE);
	spill_shared sh;
	spill_budget budget;
	char err[256];
	static uint8_t rec[65536];
	spill_shared_init(&sh);
	spill_budget_init(&budget, 1000);
	spill_writer *w = spill_writer_open(&opt, &sh, &budget, err, sizeof err);
	ck_assert_int_eq(spill_writer_append(w, 1, rec, 5000), SPILL_OK);
	ck_assert_int_eq(spill_writer_flush(w), SPILL_ERROR);
	ck_assert_msg(strstr(spill_writer_error(w), "larger than spill_limit"), "%s", spill_writer_error(w));
	ck_assert_int_eq(spill_writer_append(w, 1, rec, 10), SPILL_ERROR); /* seq must grow */
	ck_assert_int_eq(spill_writer_append(w, 2, rec, (size_t)SPILL_MAX_RECORD + 1), SPILL_ERROR);
	spill_writer_close(w);
}
END_TEST

/* The reader, in another process, frees space while the writer sleeps on the budget. */
START_TEST(a_reader_in_another_process_wakes_the_paused_writer)
{
	spill_options opt = options(CODEC_LZ4);
	struct {
		spill_shared sh;
		spill_budget budget;
	} *shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char err[256];
	uint8_t rec[65536];
	spill_shared_init(&shm->sh);
	spill_budget_init(&shm->budget, 200 * 1024);
	spill_writer *w = spill_writer_open(&opt, &shm->sh, &shm->budget, err, sizeof err);
	uint64_t s = 1;
	spill_result res;
	while ((res = spill_writer_append(w, s, rec, fill_record(s, rec))) == SPILL_OK)
		s++;
	ck_assert_int_eq(res, SPILL_FULL);
	uint32_t gen = spill_writer_full_gen(w);
	pid_t pid = fork();
	if (pid == 0) {
		spill_reader *r = spill_reader_open(&opt, &shm->sh, &shm->budget, err, sizeof err);
		uint64_t seq = 0;
		const void *data;
		size_t len;
		usleep(200 * 1000);
		while (spill_reader_next(r, &seq, &data, &len) == SPILL_OK)
			;
		_exit(spill_reader_confirm(r, seq) == SPILL_OK ? 0 : 1);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(spill_budget_wait(&shm->budget, gen, 10000), SPILL_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited > 0.1 && waited < 5, "waited %.3f s", waited);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(spill_writer_append(w, s, rec, fill_record(s, rec)), SPILL_OK);
	spill_writer_close(w);
	munmap(shm, sizeof *shm);
}
END_TEST

static volatile sig_atomic_t got_alarm;

static void on_alarm(int sig)
{
	got_alarm = 1;
	wakeup_interrupt(); /* what worker signal handlers do after setting their flag */
}

START_TEST(a_signal_interrupts_a_writer_waiting_for_space)
{
	spill_budget budget;
	spill_budget_init(&budget, 1000);
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 150 * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(spill_budget_wait(&budget, 0, 5000), SPILL_INTERRUPTED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert(got_alarm);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
	ck_assert_int_eq(spill_budget_wait(&budget, 7, 5000), SPILL_OK); /* a release already happened */
}
END_TEST

/* A real write failure half-way through a block (RLIMIT_FSIZE makes the kernel refuse
 * the rest, as a full disk would): the writer pauses, cuts the partial block off, and
 * writes it whole once there is room again. */
START_TEST(a_full_disk_pauses_without_leaving_a_partial_block)
{
	spill_options opt = options(CODEC_NONE);
	opt.segment_size = 4 << 20;
	spill_shared sh;
	spill_budget budget;
	char err[256], path[PATH_MAX];
	uint8_t rec[65536];
	signal(SIGXFSZ, SIG_IGN);
	spill_shared_init(&sh);
	spill_budget_init(&budget, 0);
	spill_writer *w = spill_writer_open(&opt, &sh, &budget, err, sizeof err);
	uint64_t s = 1;
	for (; s <= 500; s++)
		ck_assert_int_eq(spill_writer_append(w, s, rec, fill_record(s, rec)), SPILL_OK);
	ck_assert_int_eq(spill_writer_flush(w), SPILL_OK);
	spill_segment_path(path, sizeof path, dir, "w1", 0);
	off_t before = file_size(path);

	struct rlimit old, small;
	getrlimit(RLIMIT_FSIZE, &old);
	small = old;
	small.rlim_cur = (rlim_t)before + 1000; /* the next block gets 1000 bytes in, then fails */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	for (; s <= 550; s++) /* less than a block: nothing is written yet */
		ck_assert_int_eq(spill_writer_append(w, s, rec, fill_record(s, rec)), SPILL_OK);
	spill_result res = spill_writer_flush(w);
	off_t after = file_size(path);
	setrlimit(RLIMIT_FSIZE, &old);

	ck_assert_int_eq(res, SPILL_FULL);
	ck_assert_msg(strstr(spill_writer_error(w), path) && strstr(spill_writer_error(w), "File too large"),
	              "%s", spill_writer_error(w));
	ck_assert_int_eq(after, before); /* the partial block was cut off */
	ck_assert_uint_eq(atomic_load(&budget.used), (uint64_t)before);
	ck_assert_uint_eq(spill_writer_pending(w), 50); /* kept in memory */
	ck_assert_int_eq(spill_writer_flush(w), SPILL_OK);
	ck_assert_uint_eq(atomic_load(&budget.used), dir_bytes());

	spill_reader *r = spill_reader_open(&opt, &sh, &budget, err, sizeof err);
	uint64_t expect = 1;
	drain(r, &expect, 0);
	ck_assert_uint_eq(expect, 551);
	spill_reader_close(r);
	spill_writer_close(w);
}
END_TEST

/* The same with a real ENOSPC, from a 256 KiB tmpfs mounted over the test directory in
 * a private mount namespace (needs CAP_SYS_ADMIN; without it the test says so and
 * passes, the RLIMIT_FSIZE test above covering the same code path). */
START_TEST(a_real_full_disk_pauses_and_resumes_after_deletion)
{
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700") != 0) {
		fprintf(stderr, "a_real_full_disk_pauses_and_resumes_after_deletion: skipped, cannot mount "
		        "a small tmpfs: %s\n", strerror(errno));
		return;
	}
	spill_options opt = options(CODEC_NONE);
	opt.segment_size = 64 * 1024;
	spill_shared sh;
	spill_budget budget;
	char err[256];
	uint8_t rec[65536];
	spill_shared_init(&sh);
	spill_budget_init(&budget, 0); /* no cap: the disk itself is the limit */
	spill_writer *w = spill_writer_open(&opt, &sh, &budget, err, sizeof err);
	spill_reader *r = spill_reader_open(&opt, &sh, &budget, err, sizeof err);
	const uint64_t n = 12000; /* ~1.5 MB: six times the disk */
	uint64_t s = 1, expect = 1, fulls = 0;
	while (s <= n) {
		spill_result res = spill_writer_append(w, s, rec, fill_record(s, rec));
		if (res == SPILL_OK) {
			s++;
			continue;
		}
		require(res == SPILL_FULL, "%s", spill_writer_error(w));
		require(strstr(spill_writer_error(w), "No space left on device"), "%s", spill_writer_error(w));
		fulls++;
		drain(r, &expect, 0); /* everything published reads back whole */
		require(expect == atomic_load(&sh.committed_seq), "read to %llu, published %llu",
		        (unsigned long long)expect, (unsigned long long)atomic_load(&sh.committed_seq));
		require(budget.used == dir_bytes(), "budget %llu, on disk %llu", (unsigned long long)budget.used,
		        (unsigned long long)dir_bytes());
		ck_assert_int_eq(spill_reader_confirm(r, expect - 1), SPILL_OK);
	}
	ck_assert_int_eq(spill_writer_flush(w), SPILL_OK);
	drain(r, &expect, 0);
	ck_assert_uint_eq(expect, n + 1);
	ck_assert_uint_gt(fulls, 3);
	spill_reader_close(r);
	spill_writer_close(w);
	umount2(dir, MNT_DETACH);
}
END_TEST

/* ---- names and maintenance --------------------------------------------------------- */

START_TEST(bad_names_are_refused_and_remove_all_is_exact)
{
	spill_options opt = options(CODEC_NONE);
	spill_shared sh;
	char err[256], path[PATH_MAX];
	spill_shared_init(&sh);
	opt.worker = "../evil";
	ck_assert_ptr_null(spill_writer_open(&opt, &sh, NULL, err, sizeof err));
	ck_assert_msg(strstr(err, "worker name"), "%s", err);
	opt.worker = "";
	ck_assert_ptr_null(spill_reader_open(&opt, &sh, NULL, err, sizeof err));

	const char *keep[] = {"spill-w10-0000000000000000.seg", "spill-w1-000000000000000.seg", "notes.txt"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, keep[i]);
		close(open(path, O_CREAT | O_WRONLY, 0600));
	}
	for (uint64_t seg = 0; seg < 3; seg++) {
		spill_segment_path(path, sizeof path, dir, "w1", seg + 0xabc0);
		close(open(path, O_CREAT | O_WRONLY, 0600));
	}
	ck_assert_int_eq(spill_remove_all(dir, "w1"), 3);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, keep[i]);
		ck_assert_int_eq(access(path, F_OK), 0);
	}
	ck_assert_int_eq(spill_remove_all("/nonexistent-ferry-dir", "w1"), 0);
}
END_TEST

static Suite *spill_suite(void)
{
	Suite *s = suite_create("spill");
	TCase *tc = tcase_create("crc32c");
	tcase_add_test(tc, crc32c_matches_the_standard_vectors);
	tcase_add_test(tc, crc32c_paths_agree_at_every_length_and_alignment);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_loop_test(tc, codec_round_trips_and_rejects_bad_input, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("round_trip");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, records_round_trip_over_rotated_segments, 0, 3);
	tcase_add_test(tc, segments_are_deleted_only_after_confirmation);
	tcase_add_test(tc, unpublished_bytes_are_waited_for_not_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("corruption");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, a_flipped_byte_is_reported_with_file_and_offset, 0, 3);
	tcase_add_test(tc, a_bad_magic_is_reported);
	tcase_add_loop_test(tc, a_segment_truncated_mid_block_is_reported, 0, 3);
	tcase_add_test(tc, a_segment_truncated_at_a_block_boundary_is_reported);
	tcase_add_test(tc, a_missing_segment_is_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("disk_cap");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, the_disk_cap_pauses_the_writer_until_the_reader_frees_space);
	tcase_add_test(tc, a_block_larger_than_the_cap_is_an_error_not_a_pause);
	tcase_add_test(tc, a_reader_in_another_process_wakes_the_paused_writer);
	tcase_add_test(tc, a_signal_interrupts_a_writer_waiting_for_space);
	tcase_add_test(tc, a_full_disk_pauses_without_leaving_a_partial_block);
	tcase_add_test(tc, a_real_full_disk_pauses_and_resumes_after_deletion);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_add_test(tc, bad_names_are_refused_and_remove_all_is_exact);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spill_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
