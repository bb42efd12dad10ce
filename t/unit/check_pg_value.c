/* PostgreSQL text <-> canonical values: ISO text round trips exactly, offsets are folded
 * into UTC, BC and infinite dates survive, malformed text is refused. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/pg_value.h"

/* Encodes one column of type oid from text into a record, decodes it, returns its value
 * (pointing into buf's data). -1 when the text was refused. */
static int to_value(record_buf *buf, uint32_t oid, const char *text, record_value *out)
{
	record_encoder e;
	record_header h = {.op = RECORD_OP_INSERT, .table_id = 1, .position = 1, .has_new = true};
	record_encode_begin(&e, buf, &h);
	record_encode_tuple(&e, 1);
	char err[160];
	if (pg_value_put_text(&e, oid, text, strlen(text), err, sizeof err) < 0) {
		ck_assert_ptr_nonnull(strstr(err, "cannot read"));
		return -1;
	}
	ck_assert_int_eq(record_encode_finish(&e), 0);
	record_view view;
	record_error rerr;
	ck_assert_int_eq(record_decode(buf->data, buf->len, &view, &rerr), 0);
	record_iter it;
	record_iter_init(&it, &view.new_tuple);
	ck_assert(record_iter_next(&it, out));
	return 0;
}

/* text -> canonical -> text, expecting `want` back (NULL: the same text). */
static void round_trip(uint32_t oid, const char *text, record_kind kind, const char *want)
{
	record_buf buf;
	record_buf_init(&buf);
	record_value v;
	ck_assert_msg(to_value(&buf, oid, text, &v) == 0, "refused %s", text);
	ck_assert_int_eq(v.kind, kind);
	strbuf sb = STRBUF_INIT;
	ck_assert_int_eq(pg_value_append_text(&sb, &v), 0);
	ck_assert_str_eq(strbuf_str(&sb), want ? want : text);
	strbuf_free(&sb);
	record_buf_free(&buf);
}

static void refused(uint32_t oid, const char *text)
{
	record_buf buf;
	record_buf_init(&buf);
	record_value v;
	ck_assert_msg(to_value(&buf, oid, text, &v) == -1, "accepted \"%s\"", text);
	record_buf_free(&buf);
}

START_TEST(scalars)
{
	round_trip(PG_OID_BOOL, "t", RECORD_KIND_BOOL, NULL);
	round_trip(PG_OID_BOOL, "f", RECORD_KIND_BOOL, NULL);
	round_trip(PG_OID_INT2, "-32768", RECORD_KIND_INT64, NULL);
	round_trip(PG_OID_INT8, "-9223372036854775808", RECORD_KIND_INT64, NULL);
	round_trip(PG_OID_INT8, "9223372036854775807", RECORD_KIND_INT64, NULL);
	round_trip(PG_OID_OID, "4294967295", RECORD_KIND_UINT64, NULL);
	round_trip(PG_OID_NUMERIC, "-12.50", RECORD_KIND_DECIMAL, NULL);
	round_trip(PG_OID_NUMERIC, "NaN", RECORD_KIND_DECIMAL, NULL);
	round_trip(PG_OID_NUMERIC, "123456789012345678901234567890.000000000000000000001", RECORD_KIND_DECIMAL, NULL);
	round_trip(PG_OID_TEXT, "", RECORD_KIND_TEXT, NULL);
	round_trip(PG_OID_VARCHAR, "naïve 🚢 \"q\" 'x'", RECORD_KIND_TEXT, NULL);
	round_trip(PG_OID_JSONB, "{\"a\": [1, 2]}", RECORD_KIND_JSON, NULL);
	round_trip(PG_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", RECORD_KIND_UUID, NULL);
	round_trip(PG_OID_BYTEA, "\\x", RECORD_KIND_BYTES, NULL);
	round_trip(PG_OID_BYTEA, "\\x00ff10", RECORD_KIND_BYTES, NULL);
	round_trip(PG_OID_BYTEA, "\\x00FF10", RECORD_KIND_BYTES, "\\x00ff10");
	/* Types without a kind of their own travel as the server's text. */
	round_trip(1007 /* int4[] */, "{1,NULL,3}", RECORD_KIND_TEXTREP, NULL);
	round_trip(1186 /* interval */, "1 year 2 mons -00:00:01", RECORD_KIND_TEXTREP, NULL);
}
END_TEST

START_TEST(floats)
{
	const char *texts[] = {"1.5", "0.1", "-0", "1e+308", "4.94065645841247e-324", "3.4028235e+38", "-1.2345678901234567e-100"};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		record_buf buf;
		record_buf_init(&buf);
		record_value v;
		ck_assert_int_eq(to_value(&buf, PG_OID_FLOAT8, texts[i], &v), 0);
		ck_assert(v.f64 == strtod(texts[i], NULL));
		strbuf sb = STRBUF_INIT;
		pg_value_append_text(&sb, &v);
		ck_assert(strtod(strbuf_str(&sb), NULL) == v.f64); /* the same double back */
		ck_assert(signbit(strtod(strbuf_str(&sb), NULL)) == signbit(v.f64));
		strbuf_free(&sb);
		record_buf_free(&buf);
	}
	round_trip(PG_OID_FLOAT8, "NaN", RECORD_KIND_FLOAT64, NULL);
	round_trip(PG_OID_FLOAT4, "Infinity", RECORD_KIND_FLOAT64, NULL);
	round_trip(PG_OID_FLOAT8, "-Infinity", RECORD_KIND_FLOAT64, NULL);
}
END_TEST

START_TEST(dates_and_times)
{
	round_trip(PG_OID_DATE, "1970-01-01", RECORD_KIND_DATE, NULL);
	round_trip(PG_OID_DATE, "2024-02-29", RECORD_KIND_DATE, NULL);
	round_trip(PG_OID_DATE, "0001-01-01 BC", RECORD_KIND_DATE, NULL);
	round_trip(PG_OID_DATE, "4713-11-24 BC", RECORD_KIND_DATE, NULL);
	round_trip(PG_OID_DATE, "5874897-12-31", RECORD_KIND_DATE, NULL);
	round_trip(PG_OID_DATE, "infinity", RECORD_KIND_DATE, NULL);
	round_trip(PG_OID_DATE, "-infinity", RECORD_KIND_DATE, NULL);
	round_trip(PG_OID_TIME, "00:00:00", RECORD_KIND_TIME, NULL);
	round_trip(PG_OID_TIME, "24:00:00", RECORD_KIND_TIME, NULL);
	round_trip(PG_OID_TIME, "13:14:15.5", RECORD_KIND_TIME, NULL);
	round_trip(PG_OID_TIME, "23:59:59.999999", RECORD_KIND_TIME, NULL);
	round_trip(PG_OID_TIMESTAMP, "2024-01-01 10:00:00", RECORD_KIND_TIMESTAMP, NULL);
	round_trip(PG_OID_TIMESTAMP, "1969-12-31 23:59:59.000001", RECORD_KIND_TIMESTAMP, NULL);
	round_trip(PG_OID_TIMESTAMP, "0044-03-15 12:00:00 BC", RECORD_KIND_TIMESTAMP, NULL);
	round_trip(PG_OID_TIMESTAMP, "262143-12-31 23:59:59.999999", RECORD_KIND_TIMESTAMP, NULL);
	round_trip(PG_OID_TIMESTAMP, "infinity", RECORD_KIND_TIMESTAMP, NULL);
	round_trip(PG_OID_TIMESTAMPTZ, "2024-01-01 10:00:00.25+00", RECORD_KIND_TIMESTAMPTZ, NULL);
	round_trip(PG_OID_TIMESTAMPTZ, "2024-01-01 12:00:00+02", RECORD_KIND_TIMESTAMPTZ, "2024-01-01 10:00:00+00");
	round_trip(PG_OID_TIMESTAMPTZ, "2024-01-01 00:00:00-05:30", RECORD_KIND_TIMESTAMPTZ, "2024-01-01 05:30:00+00");
	round_trip(PG_OID_TIMESTAMPTZ, "-infinity", RECORD_KIND_TIMESTAMPTZ, NULL);

	record_buf buf;
	record_buf_init(&buf);
	record_value v;
	to_value(&buf, PG_OID_DATE, "2000-01-01", &v);
	ck_assert_int_eq(v.date, 10957);
	to_value(&buf, PG_OID_TIMESTAMPTZ, "1970-01-01 00:00:01+00", &v);
	ck_assert_int_eq(v.i64, 1000000);
	record_buf_free(&buf);
}
END_TEST

START_TEST(calendar_is_exact)
{
	/* Every day over 800 years either side of the epoch maps back to itself, and
	 * every 97th day out to 20,000 years. */
	for (int64_t days = -8000000; days <= 8000000; days += days > -300000 && days < 300000 ? 1 : 97) {
		int64_t y;
		unsigned m, d;
		pg_value_civil_from_days(days, &y, &m, &d);
		if (pg_value_days_from_civil(y, m, d) != days || m < 1 || m > 12 || d < 1 || d > 31)
			ck_abort_msg("day %ld -> %ld-%u-%u", (long)days, (long)y, m, d);
	}
}
END_TEST

START_TEST(malformed_refused)
{
	refused(PG_OID_BOOL, "true");
	refused(PG_OID_BOOL, "");
	refused(PG_OID_INT4, "12x");
	refused(PG_OID_INT8, "99999999999999999999");
	refused(PG_OID_INT8, "");
	refused(PG_OID_OID, "-1");
	refused(PG_OID_FLOAT8, "1.5.2");
	refused(PG_OID_DATE, "2024-13-01");
	refused(PG_OID_DATE, "24-01-01");
	refused(PG_OID_DATE, "2024-01-01 AD");
	refused(PG_OID_TIME, "12:60:00");
	refused(PG_OID_TIME, "12:00");
	refused(PG_OID_TIMESTAMP, "2024-01-01T10:00:00");
	refused(PG_OID_TIMESTAMPTZ, "2024-01-01 10:00:00");
	refused(PG_OID_TIMESTAMP, "2024-01-01 10:00:00.1234567");
	refused(PG_OID_TIMESTAMP, "294276-12-31 23:59:59.999999"); /* past the canonical range */
	refused(PG_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1");
	refused(PG_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g");
	refused(PG_OID_BYTEA, "00ff");
	refused(PG_OID_BYTEA, "\\x0");
	refused(PG_OID_BYTEA, "\\xzz");
}
END_TEST

START_TEST(null_has_no_text)
{
	strbuf sb = STRBUF_INIT;
	record_value v = {.kind = RECORD_KIND_NULL};
	ck_assert_int_eq(pg_value_append_text(&sb, &v), -1);
	v.kind = RECORD_KIND_UNCHANGED;
	ck_assert_int_eq(pg_value_append_text(&sb, &v), -1);
	strbuf_free(&sb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pg_value");
	TCase *tc = tcase_create("values");
	tcase_add_test(tc, scalars);
	tcase_add_test(tc, floats);
	tcase_add_test(tc, dates_and_times);
	tcase_add_test(tc, calendar_is_exact);
	tcase_add_test(tc, malformed_refused);
	tcase_add_test(tc, null_has_no_text);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
