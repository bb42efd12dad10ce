/* Unit tests of validation's pure parts: cutting key ranges (integer and sampled keys),
 * row-by-row comparison (static, and with row versions against a live target), the
 * multisets of keyless tables, the PostgreSQL request text, and the reports (text and
 * JSON). No database: answers are built by hand. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/jsonparse.h"
#include "workers/pg_validate.h"
#include "workers/validate_range.h"
#include "workers/validate_report.h"
#include "workers/validate_rows.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* An answer of n_rows x n_cols from cells (pointers to literals; "\\N" = NULL). */
static vd_rows rows_of(int n_rows, int n_cols, const char *const *cells)
{
	vd_rows r = {.n_rows = n_rows, .n_cols = n_cols};
	r.cells = calloc((size_t)(n_rows * n_cols) + 1, sizeof *r.cells);
	ck_assert_ptr_nonnull(r.cells);
	for (int i = 0; i < n_rows * n_cols; i++)
		r.cells[i] = strcmp(cells[i], "\\N") == 0 ? NULL : (char *)cells[i];
	return r;
}

/* A table (id int key, v text) or, with two_keys, (a text, b int, v text) keyed on a, b. */
static vd_table table_of(bool two_keys)
{
	vd_table t = {0};
	static char *one[] = {"id", "v"}, *two[] = {"a", "b", "v"};
	static char *one_t[] = {"id", "value"}, *two_t[] = {"a", "b", "v"};
	static int key1[] = {0}, key2[] = {0, 1};
	static bool collate[] = {false, true};
	t.label = "\"public\".\"t\"";
	t.target_label = "\"app\".\"t2\"";
	t.schema[0] = "public", t.name[0] = "t", t.schema[1] = "app", t.name[1] = "t2";
	t.n_cols = two_keys ? 3 : 2;
	t.cols[0] = two_keys ? two : one;
	t.cols[1] = two_keys ? two_t : one_t;
	t.n_key = two_keys ? 2 : 1;
	t.key = two_keys ? key2 : key1;
	t.key_collate_c = two_keys ? collate : NULL;
	t.int_key = !two_keys;
	return t;
}

static const char *bound0(char **b)
{
	return b ? b[0] : "(open)";
}

/* ---- ranges -------------------------------------------------------------------------- */

START_TEST(int_cuts_even_and_narrow)
{
	int64_t c[16];
	ck_assert_int_eq(vd_int_cuts(1, 100, 4, c), 3);
	ck_assert_int_eq(c[0], 26);
	ck_assert_int_eq(c[1], 51);
	ck_assert_int_eq(c[2], 76);
	/* Three values cannot make sixteen pieces: every value starts one. */
	ck_assert_int_eq(vd_int_cuts(1, 3, 16, c), 2);
	ck_assert_int_eq(c[0], 2);
	ck_assert_int_eq(c[1], 3);
	ck_assert_int_eq(vd_int_cuts(5, 5, 16, c), 0);
	ck_assert_int_eq(vd_int_cuts(9, 5, 16, c), 0);
	/* The whole int64 span does not overflow. */
	ck_assert_int_eq(vd_int_cuts(INT64_MIN, INT64_MAX, 2, c), 1);
	ck_assert_int_eq(c[0], 0);
}
END_TEST

START_TEST(pick_samples_evenly)
{
	int idx[16];
	ck_assert_int_eq(vd_pick_samples(100, 4, idx), 3);
	ck_assert_int_eq(idx[0], 25);
	ck_assert_int_eq(idx[1], 50);
	ck_assert_int_eq(idx[2], 75);
	ck_assert_int_eq(vd_pick_samples(2, 16, idx), 1);
	ck_assert_int_eq(idx[0], 1);
	ck_assert_int_eq(vd_pick_samples(0, 4, idx), 0);
	ck_assert_int_eq(vd_plan_count(-1), 16);
	ck_assert_int_eq(vd_plan_count(0), 1);
	ck_assert_int_eq(vd_plan_count(VD_RANGE_ROWS + 1), 2);
	ck_assert_int_eq(vd_plan_count(INT64_C(1) << 40), 1024);
}
END_TEST

START_TEST(split_int_keeps_open_ends)
{
	vd_range root = {0};
	vd_range_list l = {0};
	ck_assert_int_eq(vd_split_int(&root, 1, 100, 4, &l), 4);
	ck_assert_int_eq(l.n, 4);
	ck_assert_ptr_null(l.items[0].lo);
	ck_assert_str_eq(bound0(l.items[0].hi), "26");
	ck_assert_str_eq(bound0(l.items[1].lo), "26");
	ck_assert_str_eq(bound0(l.items[3].lo), "76");
	ck_assert_ptr_null(l.items[3].hi);
	ck_assert_int_eq(l.items[2].depth, 1);
	/* A closed piece cut again keeps its own bounds at the ends. */
	vd_range_list l2 = {0};
	ck_assert_int_eq(vd_split_int(&l.items[1], 26, 50, 2, &l2), 2);
	ck_assert_str_eq(bound0(l2.items[0].lo), "26");
	ck_assert_str_eq(bound0(l2.items[0].hi), "38");
	ck_assert_str_eq(bound0(l2.items[1].hi), "51");
	ck_assert_int_eq(l2.items[1].depth, 2);
	/* One value: nothing to cut. */
	vd_range_list l3 = {0};
	ck_assert_int_eq(vd_split_int(&l.items[0], 7, 7, 16, &l3), 1);
	vd_range_list_free(&l);
	vd_range_list_free(&l2);
	vd_range_list_free(&l3);
}
END_TEST

START_TEST(split_at_composite_bounds)
{
	char *lo[] = {"a", "1", NULL};
	vd_range r = {0};
	ck_assert_int_eq(vd_bound_copy(&r.lo, lo, 2), 0);
	char *bounds[] = {"b", "7", "c", "2"};
	vd_range_list l = {0};
	ck_assert_int_eq(vd_split_at(&r, bounds, 2, 2, &l), 3);
	ck_assert_str_eq(l.items[0].lo[0], "a");
	ck_assert_str_eq(l.items[0].lo[1], "1");
	ck_assert_str_eq(l.items[0].hi[1], "7");
	ck_assert_str_eq(l.items[1].lo[0], "b");
	ck_assert_str_eq(l.items[2].lo[0], "c");
	ck_assert_ptr_null(l.items[2].hi);
	vd_range_list_free(&l);
	vd_range_free(&r);
}
END_TEST

/* ---- rows ---------------------------------------------------------------------------- */

START_TEST(rows_static_changed_missing_extra)
{
	vd_table t = table_of(false);
	/* Unordered on purpose: the merge sorts. */
	const char *src[] = {"3", "c", "1", "a", "2", "b", "5", "\\N"};
	const char *dst[] = {"4", "d", "2", "x", "1", "a", "5", ""};
	vd_rows a = rows_of(4, 2, src), tg = rows_of(4, 2, dst);
	vd_layout l = vd_layout_rows(&t, false);
	vd_table_result res = {0};
	vd_keys un = {.n_key = 1};
	ck_assert_int_eq(vd_compare_rows(&t, &a, &l, &tg, &l, NULL, NULL, 100, &res, &un), 0);
	ck_assert_int_eq(res.rows_differing, 4);
	ck_assert_int_eq(res.rows_changed, 2);
	ck_assert_int_eq(res.rows_missing, 1);
	ck_assert_int_eq(res.rows_extra, 1);
	ck_assert_int_eq(un.n, 0);
	ck_assert_int_eq(res.n_diffs, 4);
	ck_assert_int_eq(res.diffs[0].kind, VD_DIFF_CHANGED);
	ck_assert_str_eq(res.diffs[0].key[0], "2");
	ck_assert_int_eq(res.diffs[0].column, 1);
	ck_assert_str_eq(res.diffs[0].value[0], "b");
	ck_assert_str_eq(res.diffs[0].value[1], "x");
	ck_assert_int_eq(res.diffs[1].kind, VD_DIFF_MISSING);
	ck_assert_str_eq(res.diffs[1].key[0], "3");
	ck_assert_int_eq(res.diffs[2].kind, VD_DIFF_EXTRA);
	ck_assert_str_eq(res.diffs[2].key[0], "4");
	/* NULL and the empty string are different values. */
	ck_assert_str_eq(res.diffs[3].key[0], "5");
	ck_assert_ptr_null(res.diffs[3].value[0]);
	ck_assert_str_eq(res.diffs[3].value[1], "");
	vd_result_free(&res);
	vd_rows_free(&a);
	vd_rows_free(&tg);
}
END_TEST

START_TEST(rows_live_versions_settle_or_not)
{
	vd_table t = table_of(false);
	/* A: version, id, v. B: version, id. */
	const char *src_a[] = {"1:(0,1):10", "1", "a", "1:(0,2):10", "2", "b", "1:(0,3):10", "3", "c"};
	const char *src_b[] = {"1:(0,1):10", "1", "1:(0,9):12", "2", "1:(0,3):10", "3", "1:(0,8):13", "4"};
	const char *dst[] = {"1", "z", "2", "b2", "4", "new"};
	vd_rows a = rows_of(3, 3, src_a), b = rows_of(4, 2, src_b), tg = rows_of(3, 2, dst);
	vd_layout la = vd_layout_rows(&t, true), lt = vd_layout_rows(&t, false), lb = vd_layout_versions(&t);
	vd_table_result res = {0};
	vd_keys un = {.n_key = 1};
	ck_assert_int_eq(vd_compare_rows(&t, &a, &la, &tg, &lt, &b, &lb, 100, &res, &un), 0);
	/* 1 settled and differs; 3 settled and missing; 2 and 4 changed meanwhile. */
	ck_assert_int_eq(res.rows_changed, 1);
	ck_assert_int_eq(res.rows_missing, 1);
	ck_assert_int_eq(res.rows_extra, 0);
	ck_assert_int_eq(un.n, 2);
	ck_assert_str_eq(un.vals[0], "2");
	ck_assert_str_eq(un.vals[1], "4");
	vd_keys_free(&un);
	vd_result_free(&res);
	vd_rows_free(&a);
	vd_rows_free(&b);
	vd_rows_free(&tg);
}
END_TEST

START_TEST(rows_report_limit_counts_all)
{
	vd_table t = table_of(true);
	const char *src[] = {"k", "1", "x", "k", "2", "y", "m", "1", "z"};
	vd_rows a = rows_of(3, 3, src), tg = rows_of(0, 3, src);
	vd_layout l = vd_layout_rows(&t, false);
	vd_table_result res = {0};
	vd_keys un = {.n_key = 2};
	ck_assert_int_eq(vd_compare_rows(&t, &a, &l, &tg, &l, NULL, NULL, 2, &res, &un), 0);
	ck_assert_int_eq(res.rows_missing, 3);
	ck_assert_int_eq(res.n_diffs, 2);
	ck_assert(res.truncated);
	ck_assert_str_eq(res.diffs[1].key[0], "k");
	ck_assert_str_eq(res.diffs[1].key[1], "2");
	vd_result_free(&res);
	vd_rows_free(&a);
	vd_rows_free(&tg);
}
END_TEST

START_TEST(multiset_counts_duplicates)
{
	const char *src[] = {"-5", "2", "7", "1", "9", "1"};
	const char *dst[] = {"-5", "1", "7", "1", "11", "3"};
	vd_rows s = rows_of(3, 2, src), d = rows_of(3, 2, dst);
	int64_t missing, extra;
	ck_assert_int_eq(vd_multiset_diff(&s, &d, &missing, &extra), 0);
	ck_assert_int_eq(missing, 2); /* one -5 and the 9 */
	ck_assert_int_eq(extra, 3);   /* three 11 */
	const char *bad[] = {"x", "1"};
	vd_rows b = rows_of(1, 2, bad);
	ck_assert_int_eq(vd_multiset_diff(&b, &d, &missing, &extra), -1);
	vd_rows_free(&s);
	vd_rows_free(&d);
	vd_rows_free(&b);
}
END_TEST

/* ---- PostgreSQL request text --------------------------------------------------------- */

START_TEST(pg_sql_ranges_and_keys)
{
	vd_table t = table_of(true);
	t.filter = "b > 0";
	char *lo[] = {"it's", "5", NULL};
	vd_range r = {.lo = lo};
	vd_request q = {.kind = VD_REQ_HASH, .side = VD_SOURCE, .table = &t, .range = &r, .with_position = true};
	strbuf sb = STRBUF_INIT;
	ck_assert_int_eq(pg_vd_build_sql(&q, &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb),
			 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_catalog.pg_current_wal_insert_lsn()"
			 "::text; SELECT pg_catalog.count(*)::text, COALESCE(pg_catalog.sum(pg_catalog.hashtextextended("
			 "ROW(\"a\", \"b\", \"v\")::text, 0)), 0)::text FROM ONLY \"public\".\"t\" WHERE (b > 0) AND "
			 "ROW(\"a\", \"b\" COLLATE \"C\") >= ROW('it''s', '5') AND TRUE; COMMIT");
	/* The target: its own names, no filter, keys listed. */
	char *keys[] = {"x", "1", "y", "2"};
	vd_request k = {.kind = VD_REQ_ROWS, .side = VD_TARGET, .table = &t, .keys = keys, .n_keys = 2};
	strbuf_reset(&sb);
	ck_assert_int_eq(pg_vd_build_sql(&k, &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb), "SELECT \"a\", \"b\", \"v\" FROM ONLY \"app\".\"t2\" WHERE ROW(\"a\", \"b\" "
					  "COLLATE \"C\") IN (ROW('x', '1'), ROW('y', '2')) ORDER BY \"a\", \"b\" "
					  "COLLATE \"C\"");
	vd_table one = table_of(false);
	vd_range r2 = {.hi = (char *[]){"100", NULL}};
	vd_request s = {.kind = VD_REQ_SAMPLE, .side = VD_TARGET, .table = &one, .range = &r2, .step = 16};
	strbuf_reset(&sb);
	ck_assert_int_eq(pg_vd_build_sql(&s, &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb), "SELECT \"1\" FROM (SELECT \"id\" AS \"1\", pg_catalog.row_number() OVER ( "
					  "ORDER BY \"id\") AS \"0\" FROM ONLY \"app\".\"t2\" WHERE \"id\" < '100' AND "
					  "TRUE) s WHERE \"0\" % 16 = 0 ORDER BY \"0\"");
	strbuf_free(&sb);
	uint64_t lsn;
	ck_assert_int_eq(pg_vd_parse_lsn("16/B374D848", &lsn), 0);
	ck_assert_uint_eq(lsn, UINT64_C(0x16B374D848));
	ck_assert_int_eq(pg_vd_parse_lsn("16/B374D848x", &lsn), -1);
	ck_assert_int_eq(pg_vd_parse_lsn("", &lsn), -1);
}
END_TEST

/* ---- reports ------------------------------------------------------------------------- */

START_TEST(format_values)
{
	strbuf sb = STRBUF_INIT;
	vd_format_value(&sb, NULL, 10);
	strbuf_append(&sb, "|");
	vd_format_value(&sb, "it's\n\\\x01", 50);
	strbuf_append(&sb, "|");
	/* Cut on a character boundary: "é" is two bytes. */
	vd_format_value(&sb, "ab\xc3\xa9" "cd", 3);
	ck_assert_str_eq(strbuf_str(&sb), "NULL|'it\\'s\\n\\\\\\x01'|'ab'... (6 bytes)");
	strbuf_free(&sb);
}
END_TEST

static vd_table_result sample_result(void)
{
	vd_table_result r = {.status = VD_DIFFERENT, .rows_source = 10, .rows_target = 10, .rows_differing = 2,
			     .rows_changed = 1, .rows_missing = 1, .seconds = 1.234};
	char *k1[] = {"x y", "1"}, *k2[] = {"k", "2"};
	ck_assert_int_eq(vd_result_add_diff(&r, 10, VD_DIFF_CHANGED, k1, 2, 2, "old", NULL), 0);
	ck_assert_int_eq(vd_result_add_diff(&r, 10, VD_DIFF_MISSING, k2, 2, -1, NULL, NULL), 0);
	return r;
}

START_TEST(report_text)
{
	vd_table t = table_of(true);
	vd_table_result r = sample_result();
	strbuf sb = STRBUF_INIT;
	vd_report_line(&sb, &t, &r);
	ck_assert_str_eq(strbuf_str(&sb), "\"public\".\"t\"                                           10          2 "
					  "    1.23s  different\n");
	strbuf_reset(&sb);
	vd_report_diffs(&sb, &t, &r);
	ck_assert_str_eq(strbuf_str(&sb),
			 "differences in \"public\".\"t\" (target \"app\".\"t2\"): 2 rows (1 changed, 1 missing on the "
			 "target, 0 extra on the target)\n"
			 "  a='x y', b=1: column v: source 'old', target NULL\n"
			 "  a=k, b=2: missing on the target\n");
	vd_table_result e = {.status = VD_ERROR, .reason = "no such table"};
	strbuf_reset(&sb);
	vd_report_line(&sb, &t, &e);
	ck_assert(strstr(strbuf_str(&sb), "error: no such table\n") != NULL);
	strbuf_free(&sb);
	vd_result_free(&r);
}
END_TEST

START_TEST(report_json)
{
	vd_table t = table_of(false);
	vd_table_result r = {.status = VD_DIFFERENT, .rows_source = 3, .rows_differing = 1, .rows_changed = 1};
	char *k[] = {"7"};
	char big[VD_JSON_VALUE_MAX + 10];
	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(vd_result_add_diff(&r, 10, VD_DIFF_CHANGED, k, 1, 1, big, "b"), 0);
	jsonbuf jb;
	jsonbuf_init(&jb);
	vd_report_json(&jb, &t, &r);
	char err[128];
	json_value *doc = json_parse(jb.data, err, sizeof err);
	ck_assert_msg(doc != NULL, "%s", err);
	ck_assert_str_eq(json_get_string(doc, "result"), "different");
	ck_assert_str_eq(json_get_string(doc, "target"), "\"app\".\"t2\"");
	const json_value *d = &json_get(doc, "differences")->items[0];
	ck_assert_str_eq(json_get_string(d, "kind"), "changed");
	ck_assert_str_eq(json_get_string(json_get(d, "key"), "id"), "7");
	ck_assert_str_eq(json_get_string(d, "column"), "v");
	ck_assert_str_eq(json_get_string(d, "target_column"), "value");
	ck_assert_uint_eq(strlen(json_get_string(d, "source")), VD_JSON_VALUE_MAX);
	ck_assert(json_get(d, "truncated")->boolean);
	ck_assert_int_eq((int)json_get_number(doc, "rows_changed", -1), 1);
	json_free(doc);
	jsonbuf_free(&jb);
	vd_result_free(&r);
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *ranges = tcase_create("ranges");
	tcase_add_test(ranges, int_cuts_even_and_narrow);
	tcase_add_test(ranges, pick_samples_evenly);
	tcase_add_test(ranges, split_int_keeps_open_ends);
	tcase_add_test(ranges, split_at_composite_bounds);
	suite_add_tcase(s, ranges);
	TCase *rows = tcase_create("rows");
	tcase_add_test(rows, rows_static_changed_missing_extra);
	tcase_add_test(rows, rows_live_versions_settle_or_not);
	tcase_add_test(rows, rows_report_limit_counts_all);
	tcase_add_test(rows, multiset_counts_duplicates);
	suite_add_tcase(s, rows);
	TCase *sql = tcase_create("postgresql");
	tcase_add_test(sql, pg_sql_ranges_and_keys);
	suite_add_tcase(s, sql);
	TCase *report = tcase_create("report");
	tcase_add_test(report, format_values);
	tcase_add_test(report, report_text);
	tcase_add_test(report, report_json);
	suite_add_tcase(s, report);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(validate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
