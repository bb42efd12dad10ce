/* Change record encoding: round trips of every kind and edge value, op/image rules,
 * and truncated or garbled input rejected without reading past the end. */
#include "ipc/record.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t uuid_a[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                   0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};

static record_header hdr(record_op op, record_image old, bool has_new)
{
	return (record_header){.op = op, .table_id = 4000000000u, .position = 0x16B3748A0ULL,
	                       .xid = 987654321ULL, .commit_time_us = 1795000000123456LL,
	                       .old_image = old, .has_new = has_new};
}

static record_value sv(record_kind kind, const char *s, size_t len)
{
	record_value v = {.kind = kind};
	v.str.ptr = s;
	v.str.len = len;
	return v;
}

/* Values covering every kind with edge values; big points at a 1 MB text. */
static size_t edge_values(record_value *v, const char *big, size_t big_len)
{
	size_t n = 0;
	v[n++] = (record_value){.kind = RECORD_KIND_NULL};
	v[n++] = (record_value){.kind = RECORD_KIND_UNCHANGED};
	v[n++] = (record_value){.kind = RECORD_KIND_BOOL, .b = true};
	v[n++] = (record_value){.kind = RECORD_KIND_BOOL, .b = false};
	v[n++] = (record_value){.kind = RECORD_KIND_INT64, .i64 = INT64_MIN};
	v[n++] = (record_value){.kind = RECORD_KIND_INT64, .i64 = INT64_MAX};
	v[n++] = (record_value){.kind = RECORD_KIND_INT64, .i64 = -1};
	v[n++] = (record_value){.kind = RECORD_KIND_INT64, .i64 = 0};
	v[n++] = (record_value){.kind = RECORD_KIND_UINT64, .u64 = UINT64_MAX};
	v[n++] = (record_value){.kind = RECORD_KIND_UINT64, .u64 = 0};
	v[n++] = (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = NAN};
	v[n++] = (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = INFINITY};
	v[n++] = (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = -INFINITY};
	v[n++] = (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = -0.0};
	v[n++] = (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = 4.9406564584124654e-324};
	v[n++] = (record_value){.kind = RECORD_KIND_DATE, .date = INT32_MIN};
	v[n++] = (record_value){.kind = RECORD_KIND_DATE, .date = INT32_MAX};
	v[n++] = (record_value){.kind = RECORD_KIND_TIME, .i64 = -3020399000000LL}; /* -838:59:59 */
	v[n++] = (record_value){.kind = RECORD_KIND_TIMESTAMP, .i64 = INT64_MIN};
	v[n++] = (record_value){.kind = RECORD_KIND_TIMESTAMPTZ, .i64 = INT64_MAX};
	v[n++] = (record_value){.kind = RECORD_KIND_UUID, .uuid = uuid_a};
	v[n++] = sv(RECORD_KIND_DECIMAL, "-123456789012345678901234567890.000001", 38);
	v[n++] = sv(RECORD_KIND_DECIMAL, "NaN", 3);
	v[n++] = sv(RECORD_KIND_TEXT, "", 0);
	v[n++] = sv(RECORD_KIND_TEXT, "gr\xc3\xbc\xc3\x9f dich \xe2\x82\xac", 15);
	v[n++] = sv(RECORD_KIND_TEXT, big, big_len);
	v[n++] = sv(RECORD_KIND_BYTES, "", 0);
	v[n++] = sv(RECORD_KIND_BYTES, "\0\xff\0", 3);
	v[n++] = sv(RECORD_KIND_JSON, "{\"a\": [1, null]}", 16);
	v[n++] = sv(RECORD_KIND_TEXTREP, "1 year 2 mons", 13);
	v[n++] = sv(RECORD_KIND_TEXTREP, "", 0);
	return n;
}

static void assert_same_value(const record_value *want, const record_value *got, size_t col)
{
	ck_assert_msg(got->kind == want->kind, "column %zu: kind %d, want %d", col, got->kind, want->kind);
	switch (want->kind) {
	case RECORD_KIND_NULL:
	case RECORD_KIND_UNCHANGED: break;
	case RECORD_KIND_BOOL: ck_assert(got->b == want->b); break;
	case RECORD_KIND_INT64:
	case RECORD_KIND_TIME:
	case RECORD_KIND_TIMESTAMP:
	case RECORD_KIND_TIMESTAMPTZ: ck_assert_int_eq(got->i64, want->i64); break;
	case RECORD_KIND_UINT64: ck_assert_uint_eq(got->u64, want->u64); break;
	case RECORD_KIND_DATE: ck_assert_int_eq(got->date, want->date); break;
	case RECORD_KIND_FLOAT64:
		/* bit-exact: NaN payloads and the sign of zero survive */
		ck_assert_mem_eq(&got->f64, &want->f64, sizeof(double));
		break;
	case RECORD_KIND_UUID: ck_assert_mem_eq(got->uuid, want->uuid, 16); break;
	default:
		ck_assert_uint_eq(got->str.len, want->str.len);
		if (want->str.len)
			ck_assert(memcmp(got->str.ptr, want->str.ptr, want->str.len) == 0);
	}
}

static void assert_tuple(const record_tuple *t, const record_value *want, size_t n)
{
	record_iter it;
	record_value got;
	size_t i = 0;
	ck_assert_uint_eq(t->ncols, n);
	record_iter_init(&it, t);
	while (record_iter_next(&it, &got)) {
		ck_assert_uint_lt(i, n);
		assert_same_value(&want[i], &got, i);
		i++;
	}
	ck_assert_uint_eq(i, n);
}

START_TEST(every_kind_round_trips_in_both_images)
{
	size_t big_len = 1 << 20;
	char *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	record_value vals[64];
	size_t n = edge_values(vals, big, big_len);
	record_buf buf;
	record_buf_init(&buf);
	record_encoder e;
	record_header h = hdr(RECORD_OP_UPDATE, RECORD_IMAGE_FULL, true);
	record_encode_begin(&e, &buf, &h);
	record_encode_tuple(&e, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		record_put_value(&e, &vals[i]);
	record_encode_tuple(&e, (uint32_t)n);
	for (size_t i = n; i-- > 0;) /* new image in reverse, so the two images differ */
		record_put_value(&e, &vals[i]);
	ck_assert_int_eq(record_encode_finish(&e), 0);

	record_view view;
	record_error err;
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	ck_assert_int_eq(view.hdr.op, RECORD_OP_UPDATE);
	ck_assert_uint_eq(view.hdr.table_id, 4000000000u);
	ck_assert_uint_eq(view.hdr.position, 0x16B3748A0ULL);
	ck_assert_uint_eq(view.hdr.xid, 987654321ULL);
	ck_assert_int_eq(view.hdr.commit_time_us, 1795000000123456LL);
	ck_assert_int_eq(view.hdr.old_image, RECORD_IMAGE_FULL);
	ck_assert(view.hdr.has_new);
	assert_tuple(&view.old_tuple, vals, n);
	record_value rev[64];
	for (size_t i = 0; i < n; i++)
		rev[i] = vals[n - 1 - i];
	assert_tuple(&view.new_tuple, rev, n);
	/* views point into the buffer: nothing was copied */
	ck_assert(view.new_tuple.data > buf.data && view.new_tuple.data < buf.data + buf.len);
	record_buf_free(&buf);
	free(big);
}
END_TEST

START_TEST(typed_put_functions_match_their_kinds)
{
	record_buf buf;
	record_buf_init(&buf);
	record_encoder e;
	record_header h = hdr(RECORD_OP_INSERT, RECORD_IMAGE_NONE, true);
	record_encode_begin(&e, &buf, &h);
	record_encode_tuple(&e, 16);
	record_put_null(&e);
	record_put_unchanged(&e);
	record_put_bool(&e, true);
	record_put_int64(&e, -42);
	record_put_uint64(&e, 42);
	record_put_float64(&e, 2.5);
	record_put_decimal(&e, "1.50", 4);
	record_put_text(&e, "hi", 2);
	record_put_bytes(&e, "\x01\x02", 2);
	record_put_date(&e, -719528); /* 0000-01-01 */
	record_put_time(&e, 86399999999LL);
	record_put_timestamp(&e, -1);
	record_put_timestamptz(&e, 1);
	record_put_json(&e, "[]", 2);
	record_put_uuid(&e, uuid_a);
	record_put_textrep(&e, "{1,2}", 5);
	ck_assert_int_eq(record_encode_finish(&e), 0);

	record_value want[16] = {
		{.kind = RECORD_KIND_NULL}, {.kind = RECORD_KIND_UNCHANGED}, {.kind = RECORD_KIND_BOOL, .b = true},
		{.kind = RECORD_KIND_INT64, .i64 = -42}, {.kind = RECORD_KIND_UINT64, .u64 = 42},
		{.kind = RECORD_KIND_FLOAT64, .f64 = 2.5}, sv(RECORD_KIND_DECIMAL, "1.50", 4),
		sv(RECORD_KIND_TEXT, "hi", 2), sv(RECORD_KIND_BYTES, "\x01\x02", 2),
		{.kind = RECORD_KIND_DATE, .date = -719528}, {.kind = RECORD_KIND_TIME, .i64 = 86399999999LL},
		{.kind = RECORD_KIND_TIMESTAMP, .i64 = -1}, {.kind = RECORD_KIND_TIMESTAMPTZ, .i64 = 1},
		sv(RECORD_KIND_JSON, "[]", 2), {.kind = RECORD_KIND_UUID, .uuid = uuid_a},
		sv(RECORD_KIND_TEXTREP, "{1,2}", 5)};
	record_view view;
	record_error err;
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	ck_assert_int_eq(view.hdr.old_image, RECORD_IMAGE_NONE);
	ck_assert_ptr_null(view.old_tuple.data);
	assert_tuple(&view.new_tuple, want, 16);
	record_buf_free(&buf);
}
END_TEST

START_TEST(each_op_encodes_with_its_images)
{
	static const struct {
		record_op op;
		record_image old;
		bool has_new;
	} ok[] = {{RECORD_OP_INSERT, RECORD_IMAGE_NONE, true},  {RECORD_OP_UPDATE, RECORD_IMAGE_NONE, true},
	          {RECORD_OP_UPDATE, RECORD_IMAGE_KEY, true},   {RECORD_OP_DELETE, RECORD_IMAGE_KEY, false},
	          {RECORD_OP_DELETE, RECORD_IMAGE_FULL, false}, {RECORD_OP_TRUNCATE, RECORD_IMAGE_NONE, false},
	          {RECORD_OP_BEGIN, RECORD_IMAGE_NONE, false},  {RECORD_OP_COMMIT, RECORD_IMAGE_NONE, false}};
	record_buf buf;
	record_buf_init(&buf);
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		record_encoder e;
		record_header h = hdr(ok[i].op, ok[i].old, ok[i].has_new);
		record_encode_begin(&e, &buf, &h);
		int tuples = (ok[i].old != RECORD_IMAGE_NONE) + ok[i].has_new;
		for (int t = 0; t < tuples; t++) {
			record_encode_tuple(&e, 2);
			record_put_int64(&e, (int64_t)i);
			record_put_null(&e);
		}
		ck_assert_int_eq(record_encode_finish(&e), 0);
		record_view view;
		record_error err;
		ck_assert_msg(record_decode(buf.data, buf.len, &view, &err) == 0, "%s: %s",
		              record_op_name(ok[i].op), err.what);
		ck_assert_int_eq(view.hdr.op, ok[i].op);
		ck_assert_int_eq(view.hdr.old_image, ok[i].old);
		ck_assert_uint_eq(view.old_tuple.ncols, ok[i].old != RECORD_IMAGE_NONE ? 2 : 0);
		ck_assert_uint_eq(view.new_tuple.ncols, ok[i].has_new ? 2 : 0);
	}
	record_buf_free(&buf);
}
END_TEST

START_TEST(encoder_rejects_misuse)
{
	record_buf buf;
	record_buf_init(&buf);
	record_encoder e;
	record_header h;

	h = hdr(RECORD_OP_DELETE, RECORD_IMAGE_NONE, false); /* delete without old image */
	record_encode_begin(&e, &buf, &h);
	errno = 0;
	ck_assert_int_eq(record_encode_finish(&e), -1);
	ck_assert_int_eq(errno, EINVAL);

	h = hdr(RECORD_OP_INSERT, RECORD_IMAGE_NONE, true); /* fewer columns than announced */
	record_encode_begin(&e, &buf, &h);
	record_encode_tuple(&e, 3);
	record_put_bool(&e, true);
	ck_assert_int_eq(record_encode_finish(&e), -1);

	record_encode_begin(&e, &buf, &h); /* more columns than announced */
	record_encode_tuple(&e, 1);
	record_put_bool(&e, true);
	record_put_bool(&e, false);
	ck_assert_int_eq(record_encode_finish(&e), -1);

	record_encode_begin(&e, &buf, &h); /* tuple never started */
	ck_assert_int_eq(record_encode_finish(&e), -1);

	h = (record_header){.op = (record_op)99, .has_new = false};
	record_encode_begin(&e, &buf, &h);
	ck_assert_int_eq(record_encode_finish(&e), -1);

	/* the same buffer still encodes a good record afterwards */
	h = hdr(RECORD_OP_COMMIT, RECORD_IMAGE_NONE, false);
	record_encode_begin(&e, &buf, &h);
	ck_assert_int_eq(record_encode_finish(&e), 0);
	record_view view;
	record_error err;
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	ck_assert_int_eq(view.hdr.op, RECORD_OP_COMMIT);
	record_buf_free(&buf);
}
END_TEST

static void encode_sample(record_buf *buf)
{
	record_encoder e;
	record_header h = hdr(RECORD_OP_UPDATE, RECORD_IMAGE_KEY, true);
	record_encode_begin(&e, buf, &h);
	record_encode_tuple(&e, 2);
	record_put_int64(&e, 77);
	record_put_null(&e);
	record_encode_tuple(&e, 6);
	record_put_int64(&e, 77);
	record_put_text(&e, "pgbench filler text", 19);
	record_put_float64(&e, -1.25);
	record_put_uuid(&e, uuid_a);
	record_put_bool(&e, false);
	record_put_timestamptz(&e, 1795000000123456LL);
	ck_assert_int_eq(record_encode_finish(&e), 0);
}

/* Decodes len bytes copied into an exact-size heap block, so a read past the end is an
 * ASan error, and walks every column of an accepted record. */
static int decode_exact(const uint8_t *src, size_t len, record_error *err)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, src, len);
	record_view view;
	int rc = record_decode(copy, len, &view, err);
	if (rc == 0) {
		const record_tuple *ts[2] = {&view.old_tuple, &view.new_tuple};
		for (int t = 0; t < 2; t++) {
			record_iter it;
			record_value v;
			uint32_t seen = 0;
			record_iter_init(&it, ts[t]);
			while (record_iter_next(&it, &v)) {
				if (v.kind == RECORD_KIND_TEXT && v.str.len)
					ck_assert(v.str.ptr + v.str.len <= (const char *)copy + len);
				seen++;
			}
			ck_assert_uint_eq(seen, ts[t]->ncols);
		}
	}
	free(copy);
	return rc;
}

START_TEST(every_truncation_is_rejected)
{
	record_buf buf;
	record_buf_init(&buf);
	encode_sample(&buf);
	record_error err;
	for (size_t cut = 0; cut < buf.len; cut++) {
		err.what[0] = '\0';
		ck_assert_msg(decode_exact(buf.data, cut, &err) == -1, "prefix of %zu bytes accepted", cut);
		ck_assert_msg(err.what[0] != '\0', "no reason given for a prefix of %zu bytes", cut);
		ck_assert_uint_le(err.offset, cut);
	}
	ck_assert_int_eq(decode_exact(buf.data, buf.len, &err), 0);
	record_buf_free(&buf);
}
END_TEST

static void expect_error(const uint8_t *data, size_t len, const char *needle, size_t offset)
{
	record_error err;
	ck_assert_int_eq(decode_exact(data, len, &err), -1);
	ck_assert_msg(strstr(err.what, needle) != NULL, "error \"%s\" lacks \"%s\"", err.what, needle);
	ck_assert_uint_eq(err.offset, offset);
}

START_TEST(garbled_fields_are_named_with_their_offset)
{
	/* op insert, flags new, table 1, pos 2, xid 3, ts 0, then the tuple */
	const uint8_t head[] = {1, 4, 1, 2, 3, 0};
	uint8_t b[64];
	memcpy(b, head, sizeof head);

	b[6] = 1, b[7] = 42; /* unknown kind 42 at offset 7 */
	expect_error(b, 8, "unknown column kind 42", 7);
	b[7] = RECORD_KIND_BOOL, b[8] = 2; /* bool 2 */
	expect_error(b, 9, "neither 0 nor 1", 8);
	b[7] = RECORD_KIND_TEXT, b[8] = 100, b[9] = 'x'; /* length 100 with 1 byte left */
	expect_error(b, 10, "runs past the end", 9);
	b[6] = 0xC8, b[7] = 0x01; /* varint 200: 200 columns with no byte left, refused at once */
	expect_error(b, 8, "column count 200", 8);
	b[6] = 1, b[7] = RECORD_KIND_NULL, b[8] = 0xAA; /* trailing byte */
	expect_error(b, 9, "trailing", 8);
	b[0] = 0; /* op 0 */
	expect_error(b, 8, "unknown operation 0", 0);
	b[0] = 1, b[1] = 0x84; /* unknown flag bit */
	expect_error(b, 8, "invalid flags", 1);
	b[1] = 0x01; /* insert with an old image */
	expect_error(b, 8, "invalid images", 1);
	b[1] = 4;
	memset(b + 2, 0xff, 10); /* table id varint of 11 bytes */
	expect_error(b, 12, "varint", 11);
	const uint8_t bigtable[] = {1, 4, 0x80, 0x80, 0x80, 0x80, 0x10, 2, 3, 0, 0}; /* 2^32 */
	expect_error(bigtable, sizeof bigtable, "table id", 10);
	const uint8_t bigdate[] = {1, 4, 1, 2, 3, 0, 1, RECORD_KIND_DATE, 0x80, 0x80, 0x80, 0x80, 0x10};
	expect_error(bigdate, sizeof bigdate, "date", 13);
}
END_TEST

START_TEST(random_corruption_never_reads_out_of_bounds)
{
	record_buf buf;
	record_buf_init(&buf);
	encode_sample(&buf);
	uint8_t *m = malloc(buf.len);
	unsigned seed = 12345;
	int rejected = 0;
	record_error err;
	for (int round = 0; round < 20000; round++) {
		memcpy(m, buf.data, buf.len);
		int flips = 1 + rand_r(&seed) % 4;
		for (int f = 0; f < flips; f++)
			m[rand_r(&seed) % buf.len] = (uint8_t)rand_r(&seed);
		size_t len = round % 3 == 0 ? (size_t)rand_r(&seed) % buf.len : buf.len;
		if (decode_exact(m, len, &err) != 0)
			rejected++;
	}
	/* without a checksum some mutations stay valid records; most must not */
	ck_assert_int_gt(rejected, 10000);
	free(m);
	record_buf_free(&buf);
}
END_TEST

START_TEST(mysql_positions_order_like_the_binlog)
{
	uint64_t a = record_mysql_position(12, 4000000000u);
	uint64_t b = record_mysql_position(13, 4);
	ck_assert(a < b);
	ck_assert_uint_eq(record_mysql_file_no(b), 13);
	ck_assert_uint_eq(record_mysql_offset(a), 4000000000u);
	ck_assert_str_eq(record_kind_name(RECORD_KIND_TIMESTAMPTZ), "timestamptz");
	ck_assert_str_eq(record_op_name(RECORD_OP_TRUNCATE), "truncate");
}
END_TEST

static Suite *record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("round_trip");
	tcase_add_test(tc, every_kind_round_trips_in_both_images);
	tcase_add_test(tc, typed_put_functions_match_their_kinds);
	tcase_add_test(tc, each_op_encodes_with_its_images);
	tcase_add_test(tc, mysql_positions_order_like_the_binlog);
	suite_add_tcase(s, tc);
	tc = tcase_create("encoder_checks");
	tcase_add_test(tc, encoder_rejects_misuse);
	suite_add_tcase(s, tc);
	tc = tcase_create("corruption");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, every_truncation_is_rejected);
	tcase_add_test(tc, garbled_fields_are_named_with_their_offset);
	tcase_add_test(tc, random_corruption_never_reads_out_of_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(record_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
