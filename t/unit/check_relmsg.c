/* Relation descriptions survive the trip through a record; malformed ones are refused. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/relmsg.h"

static relmsg sample(relmsg_column *cols)
{
	cols[0] = (relmsg_column){.name = "id", .type_oid = 20, .typmod = -1, .key = true, .type_name = "bigint"};
	cols[1] = (relmsg_column){.name = "Prix \"TTC\" é", .type_oid = 1700, .typmod = 655366, .key = false,
				  .type_name = "numeric(10,2)"};
	return (relmsg){.table_id = 42, .source_schema = "public", .source_name = "Orders",
			.target_schema = "app", .target_name = "orders", .replident = 'd', .ncols = 2, .cols = cols};
}

START_TEST(round_trip)
{
	relmsg_column cols[2];
	relmsg in = sample(cols);
	record_buf buf;
	record_buf_init(&buf);
	ck_assert_int_eq(relmsg_encode(&buf, 0x1234, &in), 0);
	record_view view;
	record_error err;
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	ck_assert_int_eq(view.hdr.op, RECORD_OP_RELATION);
	ck_assert_uint_eq(view.hdr.position, 0x1234);
	relmsg out;
	const char *what = NULL;
	ck_assert_int_eq(relmsg_decode(&view, &out, &what), 0);
	ck_assert_uint_eq(out.table_id, 42);
	ck_assert_str_eq(out.source_name, "Orders");
	ck_assert_str_eq(out.target_schema, "app");
	ck_assert_int_eq(out.replident, 'd');
	ck_assert_int_eq(out.ncols, 2);
	ck_assert_str_eq(out.cols[1].name, "Prix \"TTC\" é");
	ck_assert_uint_eq(out.cols[1].type_oid, 1700);
	ck_assert_int_eq(out.cols[1].typmod, 655366);
	ck_assert(out.cols[0].key && !out.cols[1].key);
	ck_assert_str_eq(out.cols[1].type_name, "numeric(10,2)");
	ck_assert_int_eq(relmsg_key_count(&out), 1);
	relmsg_free(&out);
	record_buf_free(&buf);
}
END_TEST

START_TEST(rewritten_into_a_transaction)
{
	/* Capture caches a description encoded at position 0 and sends it inside whichever
	 * transaction first needs it. */
	relmsg_column cols[2];
	relmsg in = sample(cols);
	record_buf buf, out;
	record_buf_init(&buf);
	record_buf_init(&out);
	ck_assert_int_eq(relmsg_encode(&buf, 0, &in), 0);
	record_error err;
	uint32_t table_id = 0;
	ck_assert_int_eq(record_rewrite_txn(&out, buf.data, buf.len, UINT64_C(0x16B3748), 747, -5, &table_id, &err), 0);
	ck_assert_uint_eq(table_id, 42);
	record_view view;
	ck_assert_int_eq(record_decode(out.data, out.len, &view, &err), 0);
	ck_assert_uint_eq(view.hdr.position, 0x16B3748);
	ck_assert_uint_eq(view.hdr.xid, 747);
	ck_assert_int_eq(view.hdr.commit_time_us, -5);
	relmsg back;
	const char *what;
	ck_assert_int_eq(relmsg_decode(&view, &back, &what), 0);
	ck_assert_str_eq(back.cols[1].name, in.cols[1].name);
	relmsg_free(&back);
	/* A cut header is refused. */
	ck_assert_int_eq(record_rewrite_txn(&out, buf.data, 3, 1, 1, 1, NULL, &err), -1);
	record_buf_free(&buf);
	record_buf_free(&out);
}
END_TEST

START_TEST(no_columns)
{
	relmsg in = {.table_id = 1, .source_schema = "s", .source_name = "t", .target_schema = "s",
		     .target_name = "t", .replident = 'f', .ncols = 0};
	record_buf buf;
	record_buf_init(&buf);
	ck_assert_int_eq(relmsg_encode(&buf, 1, &in), 0);
	record_view view;
	record_error err;
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	relmsg out;
	const char *what;
	ck_assert_int_eq(relmsg_decode(&view, &out, &what), 0);
	ck_assert_int_eq(out.ncols, 0);
	ck_assert_int_eq(relmsg_key_count(&out), 0);
	relmsg_free(&out);
	record_buf_free(&buf);
}
END_TEST

START_TEST(malformed_refused)
{
	/* An insert is no relation; a relation whose values have the wrong kinds neither. */
	record_buf buf;
	record_buf_init(&buf);
	record_encoder e;
	record_header h = {.op = RECORD_OP_INSERT, .table_id = 1, .position = 1, .has_new = true};
	record_encode_begin(&e, &buf, &h);
	record_encode_tuple(&e, 5);
	for (int i = 0; i < 5; i++)
		record_put_text(&e, "d", 1);
	ck_assert_int_eq(record_encode_finish(&e), 0);
	record_view view;
	record_error err;
	relmsg out;
	const char *what = NULL;
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	ck_assert_int_eq(relmsg_decode(&view, &out, &what), -1);
	ck_assert_ptr_nonnull(what);

	h.op = RECORD_OP_RELATION;
	record_encode_begin(&e, &buf, &h);
	record_encode_tuple(&e, 10);
	for (int i = 0; i < 5; i++)
		record_put_text(&e, "d", 1);
	record_put_text(&e, "col", 3);
	record_put_text(&e, "not an oid", 10); /* wrong kind */
	record_put_int64(&e, -1);
	record_put_bool(&e, true);
	record_put_text(&e, "int", 3);
	ck_assert_int_eq(record_encode_finish(&e), 0);
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	ck_assert_int_eq(relmsg_decode(&view, &out, &what), -1);
	ck_assert_str_eq(what, "malformed relation description");

	record_encode_begin(&e, &buf, &h);
	record_encode_tuple(&e, 5);
	for (int i = 0; i < 5; i++)
		record_put_text(&e, "x", 1); /* replica identity 'x' does not exist */
	ck_assert_int_eq(record_encode_finish(&e), 0);
	ck_assert_int_eq(record_decode(buf.data, buf.len, &view, &err), 0);
	ck_assert_int_eq(relmsg_decode(&view, &out, &what), -1);
	record_buf_free(&buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relmsg");
	TCase *tc = tcase_create("relmsg");
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, rewritten_into_a_transaction);
	tcase_add_test(tc, no_columns);
	tcase_add_test(tc, malformed_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
