/* Unit tests: canonical values into MySQL column values (workers/my_out.h): every
 * conversion, the invalid values and their substitutes, SQL literals and LOAD DATA
 * fields, PostgreSQL arrays as JSON. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/my_out.h"
#include "workers/pg_value.h"

static strbuf out;
static char why[256];

static void setup(void)
{
	strbuf_init(&out);
	why[0] = '\0';
}

static void teardown(void)
{
	strbuf_free(&out);
}

static my_out_col col(catalog_type_class cls)
{
	catalog_type t = {.cls = cls, .length = -1, .precision = -1};
	my_out_col c;
	my_out_col_init(&c, &t);
	return c;
}

static record_value text_value(record_kind kind, const char *s)
{
	record_value v = {.kind = kind};
	v.str.ptr = s;
	v.str.len = strlen(s);
	return v;
}

/* The converted value as an SQL literal ("NULL", "12", "'x'", "X'00'", "INVALID"). */
static const char *sql(const my_out_col *c, record_value v)
{
	static strbuf lit;
	strbuf_reset(&lit);
	my_out_form f = my_out_convert(c, &v, &out, why, sizeof why);
	if (f == MY_OUT_INVALID)
		return "INVALID";
	my_out_append_sql(&lit, f, strbuf_str(&out), out.len);
	return strbuf_str(&lit);
}

static const char *substitute(const my_out_col *c, record_value v)
{
	static strbuf lit;
	strbuf_reset(&lit);
	my_out_form f = my_out_substitute(c, &v, &out);
	my_out_append_sql(&lit, f, strbuf_str(&out), out.len);
	return strbuf_str(&lit);
}

START_TEST(numbers)
{
	my_out_col i8 = col(CATALOG_TYPE_INT8), b = col(CATALOG_TYPE_BOOL);
	ck_assert_str_eq(sql(&i8, (record_value){.kind = RECORD_KIND_INT64, .i64 = INT64_MIN}), "-9223372036854775808");
	ck_assert_str_eq(sql(&i8, (record_value){.kind = RECORD_KIND_UINT64, .u64 = UINT64_MAX}), "18446744073709551615");
	ck_assert_str_eq(sql(&b, (record_value){.kind = RECORD_KIND_BOOL, .b = true}), "1");
	ck_assert_str_eq(sql(&b, (record_value){.kind = RECORD_KIND_BOOL, .b = false}), "0");
	ck_assert_str_eq(sql(&b, (record_value){.kind = RECORD_KIND_NULL}), "NULL");
}
END_TEST

START_TEST(floats_exact_or_invalid)
{
	my_out_col f8 = col(CATALOG_TYPE_FLOAT8), f4 = col(CATALOG_TYPE_FLOAT4);
	ck_assert_str_eq(sql(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = 0.1}), "0.1");
	ck_assert_str_eq(sql(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = DBL_MAX}), "1.7976931348623157e+308");
	ck_assert_str_eq(sql(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = -DBL_MIN}), "-2.2250738585072014e-308");
	double back = strtod(sql(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = 1.0 / 3}), NULL);
	ck_assert(back == 1.0 / 3);
	/* real: the single-precision value, never above FLT_MAX as MySQL reads it */
	ck_assert_str_eq(sql(&f4, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = 3.4028235e38}),
			 "3.4028234663852886e+38");
	ck_assert_str_eq(sql(&f4, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = 0.1}), "0.100000001");
	ck_assert_str_eq(sql(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = NAN}), "INVALID");
	ck_assert_ptr_nonnull(strstr(why, "NaN"));
	ck_assert_str_eq(sql(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = -INFINITY}), "INVALID");
	ck_assert_str_eq(substitute(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = -INFINITY}),
			 "-1.7976931348623157e+308");
	ck_assert_str_eq(substitute(&f4, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = INFINITY}),
			 "3.4028234663852886e+38");
	ck_assert_str_eq(substitute(&f8, (record_value){.kind = RECORD_KIND_FLOAT64, .f64 = NAN}), "NULL");
}
END_TEST

START_TEST(decimals_fit_or_are_invalid)
{
	catalog_type t = {.cls = CATALOG_TYPE_NUMERIC, .precision = 12, .scale = 2};
	my_out_col n12 = {0}, any = col(CATALOG_TYPE_NUMERIC);
	my_out_col_init(&n12, &t);
	ck_assert_str_eq(sql(&n12, text_value(RECORD_KIND_DECIMAL, "-9999999999.99")), "-9999999999.99");
	ck_assert_str_eq(sql(&n12, text_value(RECORD_KIND_DECIMAL, "0.50")), "0.50");
	ck_assert_str_eq(sql(&n12, text_value(RECORD_KIND_DECIMAL, "99999999999.00")), "INVALID");
	/* unconstrained numeric became DECIMAL(65,30): 35 digits before the point, 30 after */
	char big[80];
	memset(big, '9', 35);
	strcpy(big + 35, ".123456789012345678901234567890");
	ck_assert_str_eq(sql(&any, text_value(RECORD_KIND_DECIMAL, big)), big);
	ck_assert_str_eq(sql(&any, text_value(RECORD_KIND_DECIMAL, "0.1234567890123456789012345678901")), "INVALID");
	ck_assert_str_eq(sql(&any, text_value(RECORD_KIND_DECIMAL, "1.5000000000000000000000000000000000")), "1.5000000000000000000000000000000000");
	memset(big, '9', 36);
	big[36] = '\0';
	ck_assert_str_eq(sql(&any, text_value(RECORD_KIND_DECIMAL, big)), "INVALID");
	ck_assert_str_eq(sql(&any, text_value(RECORD_KIND_DECIMAL, "NaN")), "INVALID");
	ck_assert_str_eq(sql(&any, text_value(RECORD_KIND_DECIMAL, "-Infinity")), "INVALID");
	ck_assert_str_eq(substitute(&any, text_value(RECORD_KIND_DECIMAL, "NaN")), "NULL");
}
END_TEST

START_TEST(dates_and_times)
{
	my_out_col d = col(CATALOG_TYPE_DATE), ts = col(CATALOG_TYPE_TIMESTAMPTZ), tm = col(CATALOG_TYPE_TIME);
	int32_t day = (int32_t)pg_value_days_from_civil(2024, 2, 29);
	ck_assert_str_eq(sql(&d, (record_value){.kind = RECORD_KIND_DATE, .date = day}), "'2024-02-29'");
	ck_assert_str_eq(sql(&d, (record_value){.kind = RECORD_KIND_DATE,
						 .date = (int32_t)pg_value_days_from_civil(1, 1, 1)}), "'0001-01-01'");
	ck_assert_str_eq(sql(&d, (record_value){.kind = RECORD_KIND_DATE,
						 .date = (int32_t)pg_value_days_from_civil(0, 12, 31)}), "INVALID");
	ck_assert_str_eq(sql(&d, (record_value){.kind = RECORD_KIND_DATE,
						 .date = (int32_t)pg_value_days_from_civil(10000, 1, 1)}), "INVALID");
	ck_assert_str_eq(sql(&d, (record_value){.kind = RECORD_KIND_DATE, .date = INT32_MAX}), "INVALID");
	ck_assert_ptr_nonnull(strstr(why, "infinity"));
	ck_assert_str_eq(substitute(&d, (record_value){.kind = RECORD_KIND_DATE, .date = INT32_MAX}), "'9999-12-31'");
	ck_assert_str_eq(substitute(&d, (record_value){.kind = RECORD_KIND_DATE, .date = INT32_MIN}), "'0001-01-01'");
	/* half a second before 1970, in UTC */
	ck_assert_str_eq(sql(&ts, (record_value){.kind = RECORD_KIND_TIMESTAMPTZ, .i64 = -500000}),
			 "'1969-12-31 23:59:59.500000'");
	ck_assert_str_eq(sql(&ts, (record_value){.kind = RECORD_KIND_TIMESTAMP, .i64 = 0}), "'1970-01-01 00:00:00'");
	ck_assert_str_eq(sql(&ts, (record_value){.kind = RECORD_KIND_TIMESTAMPTZ, .i64 = INT64_MIN}), "INVALID");
	ck_assert_str_eq(substitute(&ts, (record_value){.kind = RECORD_KIND_TIMESTAMPTZ, .i64 = INT64_MAX}),
			 "'9999-12-31 23:59:59.999999'");
	ck_assert_str_eq(sql(&tm, (record_value){.kind = RECORD_KIND_TIME, .i64 = 86400000000LL}), "'24:00:00'");
	ck_assert_str_eq(sql(&tm, (record_value){.kind = RECORD_KIND_TIME, .i64 = -(838LL * 3600 + 59 * 60 + 59) * 1000000 - 1}),
			 "'-838:59:59.000001'");
}
END_TEST

START_TEST(strings_bytes_uuid)
{
	my_out_col t = col(CATALOG_TYPE_TEXT), by = col(CATALOG_TYPE_BYTES), u = col(CATALOG_TYPE_UUID);
	ck_assert_str_eq(sql(&t, text_value(RECORD_KIND_TEXT, "it's a \\ \"q\"\n\r\x1a")),
			 "'it\\'s a \\\\ \\\"q\\\"\\n\\r\\Z'");
	ck_assert_str_eq(sql(&t, text_value(RECORD_KIND_TEXT, "")), "''");
	ck_assert_str_eq(sql(&t, text_value(RECORD_KIND_TEXT, "\xf0\x9f\x98\x80")), "'\xf0\x9f\x98\x80'");
	record_value nul = {.kind = RECORD_KIND_BYTES};
	nul.str.ptr = "\x00\xff\x01";
	nul.str.len = 3;
	ck_assert_str_eq(sql(&by, nul), "X'00FF01'");
	nul.str.len = 0;
	ck_assert_str_eq(sql(&by, nul), "_binary''");
	static const uint8_t id[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7};
	ck_assert_str_eq(sql(&u, (record_value){.kind = RECORD_KIND_UUID, .uuid = id}),
			 "'12345678-9abc-def0-0001-020304050607'");
}
END_TEST

START_TEST(infile_fields)
{
	strbuf f = STRBUF_INIT;
	my_out_append_infile(&f, MY_OUT_STRING, "a\tb\nc\\d\0e'\"", 11);
	ck_assert_uint_eq(f.len, 15);
	ck_assert_mem_eq(f.data, "a\\tb\\nc\\\\d\\0e'\"", 15);
	strbuf_reset(&f);
	my_out_append_infile(&f, MY_OUT_NULL, NULL, 0);
	my_out_append_infile(&f, MY_OUT_STRING, "\\N", 2);
	ck_assert_str_eq(strbuf_str(&f), "\\N\\\\N");
	strbuf_reset(&f);
	my_out_append_infile(&f, MY_OUT_BINARY, "\r\x1a", 2);
	ck_assert_str_eq(strbuf_str(&f), "\\r\x1a");
	strbuf_free(&f);
}
END_TEST

static const char *json(const char *text, catalog_type_class elem)
{
	strbuf_reset(&out);
	return my_out_array_to_json(text, strlen(text), elem, &out) == 0 ? strbuf_str(&out) : "ERROR";
}

START_TEST(arrays_become_json)
{
	ck_assert_str_eq(json("{1,NULL,-3}", CATALOG_TYPE_INT4), "[1,null,-3]");
	ck_assert_str_eq(json("{}", CATALOG_TYPE_INT4), "[]");
	ck_assert_str_eq(json("{{1,2},{3,4}}", CATALOG_TYPE_INT8), "[[1,2],[3,4]]");
	ck_assert_str_eq(json("[0:1]={7,8}", CATALOG_TYPE_INT2), "[7,8]");
	ck_assert_str_eq(json("{1.50,NaN,-Infinity,1e+30}", CATALOG_TYPE_FLOAT8), "[1.50,\"NaN\",\"-Infinity\",1e+30]");
	ck_assert_str_eq(json("{t,f,NULL}", CATALOG_TYPE_BOOL), "[true,false,null]");
	ck_assert_str_eq(json("{a,\"b c\",\"NULL\",\"q\\\"x\\\\y\",\"\",\"e\xc3\xa9\"}", CATALOG_TYPE_TEXT),
			 "[\"a\",\"b c\",\"NULL\",\"q\\\"x\\\\y\",\"\",\"e\xc3\xa9\"]");
	ck_assert_str_eq(json("{\"{\\\"k\\\": 1}\",\"[2]\"}", CATALOG_TYPE_JSONB), "[{\"k\": 1},[2]]");
	ck_assert_str_eq(json("{\"line\nbreak\",x\\,y}", CATALOG_TYPE_OTHER), "[\"line\\nbreak\",\"x,y\"]");
	ck_assert_str_eq(json("{\"tab\there\"}", CATALOG_TYPE_OTHER), "[\"tab\\there\"]");
	ck_assert_str_eq(json("{1,2", CATALOG_TYPE_INT4), "ERROR");
	ck_assert_str_eq(json("1,2}", CATALOG_TYPE_INT4), "ERROR");
	ck_assert_str_eq(json("{1,2}x", CATALOG_TYPE_INT4), "ERROR");
}
END_TEST

START_TEST(columns_from_relation_descriptions)
{
	my_out_col c;
	my_out_col_from_pg(&c, 1007, -1, "integer[]");
	ck_assert_int_eq(c.cls, CATALOG_TYPE_ARRAY);
	ck_assert_int_eq(c.elem, CATALOG_TYPE_INT4);
	my_out_col_from_pg(&c, 16999, -1, "public.mood[]");
	ck_assert_int_eq(c.cls, CATALOG_TYPE_ARRAY);
	ck_assert_int_eq(c.elem, CATALOG_TYPE_OTHER);
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_TEXTREP, "{ok,sad}")), "'[\\\"ok\\\",\\\"sad\\\"]'");
	my_out_col_from_pg(&c, 1700, ((12 << 16) | 2) + 4, "numeric(12,2)");
	ck_assert_int_eq(c.precision, 12);
	ck_assert_int_eq(c.scale, 2);
	my_out_col_from_pg(&c, 1560, 9, "bit(9)");
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_TEXTREP, "100000001")), "257");
	my_out_col_from_pg(&c, 1560, 70, "bit(70)");
	char bits[71];
	memset(bits, '0', 70);
	bits[0] = bits[69] = '1';
	bits[70] = '\0';
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_TEXTREP, bits)), "X'800000000000000004'");
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_TEXTREP, "10x")), "INVALID");
	my_out_col_from_pg(&c, 1186, -1, "interval");
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_TEXTREP, "1 year 2 mons")), "'1 year 2 mons'");
}
END_TEST

/* A MySQL source's columns (MySQL -> MySQL): by COLUMN_TYPE. */
START_TEST(columns_of_a_mysql_source)
{
	my_out_col c;
	my_out_col_from_mysql(&c, "bit(9)");
	ck_assert_int_eq(c.cls, CATALOG_TYPE_BIT);
	record_value b = {.kind = RECORD_KIND_BYTES};
	b.str.ptr = "\x01\x01";
	b.str.len = 2;
	ck_assert_str_eq(sql(&c, b), "257");
	my_out_col_from_mysql(&c, "decimal(10,2)");
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_DECIMAL, "-12345678.90")), "-12345678.90");
	my_out_col_from_mysql(&c, "enum('a','b')");
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_TEXT, "b")), "'b'");
	my_out_col_from_mysql(&c, "bigint(20) unsigned");
	ck_assert_str_eq(sql(&c, (record_value){.kind = RECORD_KIND_UINT64, .u64 = UINT64_MAX}), "18446744073709551615");
	my_out_col_from_mysql(&c, "no such type");
	ck_assert_int_eq(c.cls, CATALOG_TYPE_OTHER);
	ck_assert_str_eq(sql(&c, text_value(RECORD_KIND_TEXT, "kept")), "'kept'");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("my_out");
	TCase *tc = tcase_create("convert");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, floats_exact_or_invalid);
	tcase_add_test(tc, decimals_fit_or_are_invalid);
	tcase_add_test(tc, dates_and_times);
	tcase_add_test(tc, strings_bytes_uuid);
	tcase_add_test(tc, infile_fields);
	tcase_add_test(tc, arrays_become_json);
	tcase_add_test(tc, columns_from_relation_descriptions);
	tcase_add_test(tc, columns_of_a_mysql_source);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
