/* Apply's marks of the keys CDC touched: buckets, key columns learnt from RELATION
 * records, both keys of a key change, and the whole table when a change cannot be
 * placed or the table is not tracked. */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/record.h"
#include "ipc/relmsg.h"
#include "workers/apply_touch.h"

#define BUCKETS (TASKSTATE_TOUCH_WORDS * 64)

static taskstate *ts;
static apply_touch touch;
static record_buf buf;

static void setup(void)
{
	ts = calloc(1, sizeof *ts);
	ck_assert_ptr_nonnull(ts);
	ts->n_tables = 2;
	ck_assert_int_eq(apply_touch_init(&touch, 2), 0);
	record_buf_init(&buf);
	for (int i = 0; i < 2; i++) {
		atomic_store(&ts->tables[i].touch_lo, 1000);
		atomic_store(&ts->tables[i].touch_step, 10);
		atomic_store(&ts->tables[i].touch_on, 1);
	}
}

static void teardown(void)
{
	record_buf_free(&buf);
	apply_touch_free(&touch);
	free(ts);
}

/* Table 1: (id bigint key, v text); table 2: (code text key, n bigint). */
static void relation(uint32_t table_id)
{
	relmsg_column cols[2];
	bool text_key = table_id == 2;
	cols[0] = (relmsg_column){.name = text_key ? "code" : "id", .type_oid = text_key ? 25 : 20, .typmod = -1,
				  .key = true, .type_name = text_key ? "text" : "bigint"};
	cols[1] = (relmsg_column){.name = text_key ? "n" : "v", .type_oid = text_key ? 20 : 25, .typmod = -1,
				  .key = false, .type_name = text_key ? "bigint" : "text"};
	relmsg r = {.table_id = table_id, .source_schema = "s", .source_name = "t", .target_schema = "s",
		    .target_name = "t", .replident = 'd', .ncols = 2, .cols = cols};
	ck_assert_int_eq(relmsg_encode(&buf, 0, &r), 0);
	apply_touch_note(&touch, ts, 0, buf.data, buf.len);
}

static void put_row(record_encoder *e, uint32_t table_id, int64_t key)
{
	record_encode_tuple(e, 2);
	if (table_id == 2) {
		record_put_text(e, "k", 1);
		record_put_int64(e, key);
	} else {
		record_put_int64(e, key);
		record_put_text(e, "v", 1);
	}
}

/* old_key < 0: no old image. */
static void change(record_op op, uint32_t table_id, int64_t old_key, int64_t new_key)
{
	record_header h = {.op = op, .table_id = table_id, .position = 77, .xid = 5,
			   .old_image = old_key >= 0 ? RECORD_IMAGE_KEY : RECORD_IMAGE_NONE,
			   .has_new = op == RECORD_OP_INSERT || op == RECORD_OP_UPDATE};
	record_encoder e;
	record_encode_begin(&e, &buf, &h);
	if (old_key >= 0)
		put_row(&e, table_id, old_key);
	if (h.has_new)
		put_row(&e, table_id, new_key);
	ck_assert_int_eq(record_encode_finish(&e), 0);
	apply_touch_note(&touch, ts, table_id, buf.data, buf.len);
}

static bool bucket_set(int table, int b)
{
	return (atomic_load(&ts->tables[table].touched[b / 64]) >> (b % 64)) & 1;
}

static int buckets_set(int table)
{
	int n = 0;
	for (int b = 0; b < BUCKETS; b++)
		n += bucket_set(table, b);
	return n;
}

START_TEST(bucket_of_a_key)
{
	ck_assert_int_eq(apply_touch_bucket(1000, 1000, 10, BUCKETS), 0);
	ck_assert_int_eq(apply_touch_bucket(1009, 1000, 10, BUCKETS), 0);
	ck_assert_int_eq(apply_touch_bucket(1010, 1000, 10, BUCKETS), 1);
	ck_assert_int_eq(apply_touch_bucket(-5, 1000, 10, BUCKETS), 0);
	ck_assert_int_eq(apply_touch_bucket(INT64_MAX, 1000, 10, BUCKETS), BUCKETS - 1);
	ck_assert_int_eq(apply_touch_bucket(INT64_MAX, INT64_MIN, 1, BUCKETS), BUCKETS - 1);
	ck_assert_int_eq(apply_touch_bucket(7, 0, 0, BUCKETS), 0);
}
END_TEST

START_TEST(integer_keys_mark_their_buckets)
{
	relation(1);
	change(RECORD_OP_INSERT, 1, -1, 1255);
	ck_assert(bucket_set(0, 25));
	change(RECORD_OP_UPDATE, 1, 1003, 999999); /* a key change marks the old key and the new */
	ck_assert(bucket_set(0, 0));
	ck_assert(bucket_set(0, BUCKETS - 1));
	change(RECORD_OP_DELETE, 1, 1111, 0);
	ck_assert(bucket_set(0, 11));
	ck_assert_int_eq(buckets_set(0), 4);
	ck_assert_int_eq(atomic_load(&ts->tables[0].touched_all), 0);
	ck_assert_int_eq(buckets_set(1), 0);
}
END_TEST

START_TEST(unplaceable_changes_mark_the_whole_table)
{
	relation(1);
	relation(2);
	change(RECORD_OP_INSERT, 2, -1, 1500); /* text key */
	ck_assert_int_eq(atomic_load(&ts->tables[1].touched_all), 1);
	ck_assert_int_eq(buckets_set(1), 0);
	change(RECORD_OP_TRUNCATE, 1, -1, 0);
	ck_assert_int_eq(atomic_load(&ts->tables[0].touched_all), 1);
}
END_TEST

START_TEST(a_table_without_its_relation_is_marked_whole)
{
	change(RECORD_OP_INSERT, 1, -1, 1500); /* apply restarted and has not seen RELATION */
	ck_assert_int_eq(atomic_load(&ts->tables[0].touched_all), 1);
}
END_TEST

START_TEST(untracked_tables_are_left_alone)
{
	relation(1);
	atomic_store(&ts->tables[0].touch_on, 0);
	change(RECORD_OP_INSERT, 1, -1, 1500);
	change(RECORD_OP_TRUNCATE, 1, -1, 0);
	ck_assert_int_eq(buckets_set(0), 0);
	ck_assert_int_eq(atomic_load(&ts->tables[0].touched_all), 0);
	change(RECORD_OP_INSERT, 9, -1, 1500); /* no such table: ignored */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("apply_touch");
	TCase *tc = tcase_create("touch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bucket_of_a_key);
	tcase_add_test(tc, integer_keys_mark_their_buckets);
	tcase_add_test(tc, unplaceable_changes_mark_the_whole_table);
	tcase_add_test(tc, a_table_without_its_relation_is_marked_whole);
	tcase_add_test(tc, untracked_tables_are_left_alone);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
