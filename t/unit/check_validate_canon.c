/* Unit tests of validation across engines: the canonical text of each kind of value as
 * PostgreSQL and MySQL print it (equal values must meet, different ones must not), the
 * JSON canonical form, the client-side row hash and range hash of a whole answer, and
 * the MySQL request text. No database. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/my_validate.h"
#include "workers/validate_canon.h"
#include "workers/validate_client.h"

static const vd_canon_side pg_side = {.engine = ENGINE_POSTGRESQL};
static const vd_canon_side my_side = {.engine = ENGINE_MYSQL};

/* The canonical text of value; "\\N" when it stands for NULL. Static buffer. */
static const char *canon(vd_canon_kind k, const vd_canon_side *side, const char *value)
{
	static char buf[4096];
	strbuf out = STRBUF_INIT;
	bool null = false;
	ck_assert_int_eq(vd_canon_value(k, side, value, strlen(value), &out, &null), 0);
	snprintf(buf, sizeof buf, "%s", null ? "\\N" : out.data ? out.data : "");
	strbuf_free(&out);
	return buf;
}

/* Two values' canonical texts differ. */
static void apart(vd_canon_kind k, const vd_canon_side *sa, const char *a, const vd_canon_side *sb, const char *b)
{
	char *x = strdup(canon(k, sa, a));
	ck_assert_ptr_nonnull(x);
	ck_assert_str_ne(x, canon(k, sb, b));
	free(x);
}

/* PostgreSQL's and MySQL's texts of one value meet. */
static void meet(vd_canon_kind k, const char *pg, const char *my, const char *expect)
{
	ck_assert_str_eq(canon(k, &pg_side, pg), expect);
	ck_assert_str_eq(canon(k, &my_side, my), expect);
}

START_TEST(numbers_and_floats)
{
	meet(VD_CANON_NUMBER, "1.500", "1.5", "1.5");
	meet(VD_CANON_NUMBER, "-0.000", "0", "0");
	meet(VD_CANON_NUMBER, "100", "100.000000", "100");
	meet(VD_CANON_NUMBER, "-0.010", "-.01", "-0.01");
	apart(VD_CANON_NUMBER, &pg_side, "1.5", &my_side, "1.05");
	ck_assert_str_eq(canon(VD_CANON_NUMBER, &pg_side, "1e5"), "1e5"); /* not plain: kept */
	/* a FLOAT: PostgreSQL's shortest text, MySQL's double rendering of the same bits */
	meet(VD_CANON_FLOAT4, "0.1", "0.10000000149011612", "0.100000001");
	meet(VD_CANON_FLOAT4, "3.4028235e+38", "3.4028234663852886e38", "3.40282347e+38");
	meet(VD_CANON_FLOAT8, "0.1", "0.1", "0.10000000000000001");
	meet(VD_CANON_FLOAT8, "-0", "0", "0");
	apart(VD_CANON_FLOAT8, &pg_side, "0.1", &my_side, "0.10000000000000002");
}
END_TEST

START_TEST(bool_char_bytes_bits)
{
	meet(VD_CANON_BOOL, "t", "1", "1");
	meet(VD_CANON_BOOL, "f", "0", "0");
	vd_canon_side sub = {.engine = ENGINE_MYSQL, .mysql_source = true, .invalid = INVALID_VALUES_SUBSTITUTE};
	vd_canon_side null = {.engine = ENGINE_MYSQL, .mysql_source = true, .invalid = INVALID_VALUES_NULL};
	ck_assert_str_eq(canon(VD_CANON_BOOL, &sub, "7"), "1");
	ck_assert_str_eq(canon(VD_CANON_BOOL, &null, "7"), "\\N");
	ck_assert_str_eq(canon(VD_CANON_BOOL, &my_side, "7"), "7"); /* error: never loaded, kept */
	meet(VD_CANON_CHAR, "ab  ", "ab", "ab");
	meet(VD_CANON_BYTES, "\\x00ff0a", "00FF0A", "00ff0a");
	meet(VD_CANON_BYTES, "\\x", "", "");
	meet(VD_CANON_BIT, "0000110011", "110011", "110011");
	meet(VD_CANON_BIT, "0000", "0", "0");
}
END_TEST

START_TEST(dates_and_times)
{
	meet(VD_CANON_TIMESTAMP, "2024-02-29 12:00:00.12+00", "2024-02-29 12:00:00.120000", "2024-02-29 12:00:00.12");
	meet(VD_CANON_TIMESTAMP, "2024-02-29 12:00:00", "2024-02-29 12:00:00.000", "2024-02-29 12:00:00");
	meet(VD_CANON_TIMESTAMP, "1999-12-31 23:59:59.999999+00:00", "1999-12-31 23:59:59.999999",
	     "1999-12-31 23:59:59.999999");
	apart(VD_CANON_TIMESTAMP, &pg_side, "2024-02-29 12:00:00.000001", &my_side, "2024-02-29 12:00:00.000000");
	meet(VD_CANON_DATE, "2000-01-02", "2000-01-02", "2000-01-02");
	vd_canon_side sub = {.engine = ENGINE_MYSQL, .mysql_source = true, .invalid = INVALID_VALUES_SUBSTITUTE};
	vd_canon_side null = {.engine = ENGINE_MYSQL, .mysql_source = true, .invalid = INVALID_VALUES_NULL};
	ck_assert_str_eq(canon(VD_CANON_DATE, &sub, "0000-00-00"), "-infinity");
	ck_assert_str_eq(canon(VD_CANON_TIMESTAMP, &sub, "2024-00-10 00:00:00"), "-infinity");
	ck_assert_str_eq(canon(VD_CANON_TIMESTAMP, &null, "0000-00-00 00:00:00"), "\\N");
	/* MySQL TIME and PostgreSQL interval (or time) as microseconds */
	meet(VD_CANON_TIME, "-838:59:59", "-838:59:59.000000", "-3020399000000");
	meet(VD_CANON_TIME, "01:02:03.5", "01:02:03.500000", "3723500000");
	meet(VD_CANON_TIME, "1 day 02:00:00", "26:00:00", "93600000000");
	meet(VD_CANON_TIME, "-00:00:00.000001", "-00:00:00.000001", "-1");
}
END_TEST

START_TEST(json_and_sets)
{
	/* jsonb's key order and spacing, MySQL's, MariaDB's text as written */
	meet(VD_CANON_JSON, "{\"b\": [1, 2.50, \"é\"], \"a\": null}", "{\"a\":null,\"b\":[1,2.5,\"\\u00e9\"]}",
	     "{\"a\":null,\"b\":[1,2.5,\"é\"]}");
	meet(VD_CANON_JSON, "{\"n\": 15000000000}", "{\"n\": 1.5e10}", "{\"n\":15000000000}");
	meet(VD_CANON_JSON, "{\"k\": 2}", "{\"k\": 1, \"k\": 2}", "{\"k\":2}"); /* the last duplicate wins */
	meet(VD_CANON_JSON, "\"a\\\"b\\\\c\\n\"", "\"a\\\"b\\\\c\\u000a\"", "\"a\\\"b\\\\c\\u000a\"");
	meet(VD_CANON_JSON, "[]", "[ ]", "[]");
	apart(VD_CANON_JSON, &pg_side, "{\"a\": 1}", &my_side, "{\"a\": \"1\"}");
	ck_assert_str_eq(canon(VD_CANON_JSON, &pg_side, "{bad"), "{bad"); /* not JSON: kept */
	meet(VD_CANON_SET, "{z,x}", "x,z", "x,z");
	meet(VD_CANON_SET, "{}", "", "");
	meet(VD_CANON_SET, "{\"a b\",\"c\\\"d\"}", "c\"d,a b", "a b,c\"d");
}
END_TEST

/* A two-column table (id int key, v of kind k) compared across engines. */
static vd_table table_of(vd_canon_kind k)
{
	static vd_canon_kind kinds[2];
	static int key[1] = {0};
	kinds[0] = VD_CANON_NUMBER;
	kinds[1] = k;
	vd_table t = {.n_cols = 2, .n_key = 1, .key = key, .canon = kinds, .client_hash = true, .int_key = true};
	t.canon_side[VD_SOURCE] = pg_side;
	t.canon_side[VD_TARGET] = my_side;
	return t;
}

static vd_rows rows_of(int n, const char **cells)
{
	vd_rows r = {.n_rows = n, .n_cols = 2};
	r.cells = calloc((size_t)n * 2 + 1, sizeof *r.cells);
	ck_assert_ptr_nonnull(r.cells);
	for (int i = 0; i < n * 2; i++)
		r.cells[i] = cells[i] ? (char *)cells[i] : NULL;
	return r;
}

START_TEST(client_hash_of_answers)
{
	vd_table t = table_of(VD_CANON_TIMESTAMP);
	const char *pg[] = {"1", "2024-01-01 00:00:00+00", "2", NULL, "3", ""};
	const char *my_same[] = {"3", "", "1", "2024-01-01 00:00:00", "2", NULL}; /* another order */
	const char *my_null_vs_empty[] = {"1", "2024-01-01 00:00:00", "2", "", "3", NULL};
	vd_rows a = rows_of(3, pg), b = rows_of(3, my_same), c = rows_of(3, my_null_vs_empty);
	vd_rows ha, hb, hc;
	ck_assert_int_eq(vd_client_hash_rows(&t, VD_SOURCE, &a, &ha), 0);
	ck_assert_int_eq(vd_client_hash_rows(&t, VD_TARGET, &b, &hb), 0);
	ck_assert_int_eq(vd_client_hash_rows(&t, VD_TARGET, &c, &hc), 0);
	ck_assert_str_eq(vd_cell(&ha, 0, 0), "3");
	ck_assert_str_eq(vd_cell(&ha, 0, 1), vd_cell(&hb, 0, 1));
	ck_assert_str_ne(vd_cell(&ha, 0, 1), vd_cell(&hc, 0, 1)); /* NULL and '' swapped */
	vd_rows ca;
	ck_assert_int_eq(vd_client_canon_rows(&t, VD_SOURCE, &a, false, false, &ca), 0);
	ck_assert_str_eq(vd_cell(&ca, 0, 1), "2024-01-01 00:00:00");
	ck_assert_ptr_null(vd_cell(&ca, 1, 1));
	ck_assert_str_eq(vd_cell(&ca, 2, 1), "");
	vd_rows_free(&ha);
	vd_rows_free(&hb);
	vd_rows_free(&hc);
	vd_rows_free(&ca);
	free(a.cells);
	free(b.cells);
	free(c.cells);
}
END_TEST

START_TEST(my_request_text)
{
	MYSQL *conn = mysql_init(NULL);
	ck_assert_ptr_nonnull(conn);
	char *cols[3] = {"id", "b", "f"}, *lo[1] = {"10"}, *hi[1] = {"20"};
	int key[1] = {0};
	vd_canon_kind kinds[3] = {VD_CANON_NUMBER, VD_CANON_BYTES, VD_CANON_FLOAT4};
	vd_table t = {.n_cols = 3, .n_key = 1, .key = key, .int_key = true, .canon = kinds};
	t.schema[VD_SOURCE] = "app";
	t.name[VD_SOURCE] = "t`x";
	t.cols[VD_SOURCE] = cols;
	vd_range r = {.lo = lo, .hi = hi, .ilo = 10, .ihi = 20};
	vd_request req = {.kind = VD_REQ_ROWS, .side = VD_SOURCE, .table = &t, .range = &r, .limit = 5};
	strbuf sb = STRBUF_INIT;
	ck_assert_int_eq(my_vd_build_sql(conn, &req, &sb), 0);
	ck_assert_str_eq(sb.data, "SELECT `id`, HEX(`b`), (`f` + 0E0) FROM `app`.`t``x` WHERE `id` >= 10 AND `id` < 20 "
				  "AND TRUE ORDER BY `id` LIMIT 5");
	strbuf_reset(&sb);
	req.kind = VD_REQ_HASH;
	ck_assert_int_eq(my_vd_build_sql(conn, &req, &sb), 0);
	ck_assert_ptr_nonnull(strstr(sb.data, "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(0x1f, "
					      "ISNULL(`id`), CAST(`id` AS BINARY), ISNULL(`b`), CAST(HEX(`b`) AS BINARY)"));
	strbuf_free(&sb);
	uint64_t pos;
	ck_assert_int_eq(my_vd_parse_position("binlog.000003", "1234", &pos), 0);
	ck_assert_uint_eq(pos, ((uint64_t)3 << 32) | 1234);
	ck_assert_int_eq(my_vd_parse_position("binlog", "1234", &pos), -1);
	mysql_close(conn);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("validate_canon");
	TCase *values = tcase_create("values");
	tcase_add_test(values, numbers_and_floats);
	tcase_add_test(values, bool_char_bytes_bits);
	tcase_add_test(values, dates_and_times);
	tcase_add_test(values, json_and_sets);
	suite_add_tcase(s, values);
	TCase *client = tcase_create("client");
	tcase_add_test(client, client_hash_of_answers);
	tcase_add_test(client, my_request_text);
	suite_add_tcase(s, client);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
