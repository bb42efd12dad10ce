/* Unit tests: MariaDB GTID states (text parse and format, update, merge, coverage by a
 * server's oldest binlog) and the GTID log capture keeps of the positions it read. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/record.h"
#include "workers/my_gtid.h"

static my_gtid_state parsed(const char *text)
{
	my_gtid_state s;
	char err[256] = "";
	ck_assert_msg(my_gtid_parse(text, &s, err, sizeof err) == 0, "%s: %s", text, err);
	return s;
}

static const char *formatted(const my_gtid_state *s, char *buf, size_t size)
{
	ck_assert_int_ge(my_gtid_format(s, buf, size), 0);
	return buf;
}

START_TEST(parse_and_format_round_trip)
{
	char buf[MY_GTID_TEXT_MAX];
	my_gtid_state s = parsed("0-1-100,1-2-7");
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(s.d[0].domain, 0);
	ck_assert_uint_eq(s.d[0].server_id, 1);
	ck_assert_uint_eq(s.d[0].seq, 100);
	ck_assert_uint_eq(s.d[1].domain, 1);
	ck_assert_uint_eq(s.d[1].server_id, 2);
	ck_assert_uint_eq(s.d[1].seq, 7);
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-100,1-2-7");
	/* domains come out ascending whatever order they came in; blanks are dropped */
	s = parsed(" 7-3-1 , 0-1-5,2-2-2 ");
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-5,2-2-2,7-3-1");
	/* the extremes of each field */
	s = parsed("4294967295-4294967295-18446744073709551615");
	ck_assert_uint_eq(s.d[0].seq, UINT64_MAX);
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "4294967295-4294967295-18446744073709551615");
	/* the empty state */
	s = parsed("");
	ck_assert_int_eq(s.n, 0);
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "");
}
END_TEST

START_TEST(parse_rejects_bad_text)
{
	static const char *const bad[] = {"0-1", "0-1-", "a-1-2", "0-1-2,", "0-1-2,,1-1-1", "0-1-2;1-1-1",
					  "-1-1-1", "0-1-2,0-3-4", "4294967296-1-1", "0-1-18446744073709551616",
					  "0 -1-2", "0-1-2 x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		my_gtid_state s = {.n = 99};
		char err[256] = "";
		ck_assert_msg(my_gtid_parse(bad[i], &s, err, sizeof err) < 0, "accepted \"%s\"", bad[i]);
		ck_assert_msg(strstr(err, "GTID state") != NULL, "%s: unclear error \"%s\"", bad[i], err);
		ck_assert_int_eq(s.n, 99); /* untouched */
	}
	char err[256];
	my_gtid_state s;
	ck_assert_int_lt(my_gtid_parse("0-1-2,0-3-4", &s, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "domain 0 appears twice") != NULL, "%s", err);
}
END_TEST

START_TEST(too_many_domains)
{
	char text[MY_GTID_TEXT_MAX * 2] = "", err[256];
	size_t len = 0;
	for (int d = 0; d <= MY_GTID_MAX_DOMAINS; d++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%d-1-1", d ? "," : "", d);
	my_gtid_state s;
	ck_assert_int_lt(my_gtid_parse(text, &s, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "more than 64 replication domains") != NULL, "%s", err);
	/* the full state of the largest numbers fits the text size */
	s.n = 0;
	for (uint32_t d = 0; d < MY_GTID_MAX_DOMAINS; d++)
		ck_assert_int_eq(my_gtid_update(&s, UINT32_MAX - d, UINT32_MAX, UINT64_MAX), 0);
	ck_assert_int_lt(my_gtid_update(&s, 5, 1, 1), 0);
	char buf[MY_GTID_TEXT_MAX];
	ck_assert_int_gt(my_gtid_format(&s, buf, sizeof buf), 0);
	/* a buffer too small gives -1 and "", never a cut state */
	char small[20];
	ck_assert_int_lt(my_gtid_format(&s, small, sizeof small), 0);
	ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(update_and_merge)
{
	char buf[MY_GTID_TEXT_MAX];
	my_gtid_state s = parsed("1-2-7");
	ck_assert_int_eq(my_gtid_update(&s, 0, 1, 101), 0);
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-101,1-2-7");
	ck_assert_int_eq(my_gtid_update(&s, 1, 3, 8), 0); /* a new server in the domain replaces the entry */
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-101,1-3-8");
	my_gtid_state later = parsed("1-3-9,5-1-1");
	ck_assert_int_eq(my_gtid_merge(&s, &later), 0);
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-101,1-3-9,5-1-1");
	my_gtid_state empty = parsed("");
	ck_assert_int_eq(my_gtid_merge(&s, &empty), 0);
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-101,1-3-9,5-1-1");
	ck_assert(my_gtid_equal(&s, &(my_gtid_state){0}) == false);
	my_gtid_state again = parsed("5-1-1,0-1-101,1-3-9");
	ck_assert(my_gtid_equal(&s, &again));
	ck_assert_ptr_null(my_gtid_find(&s, 2));
	ck_assert_uint_eq(my_gtid_find(&s, 5)->seq, 1);
}
END_TEST

START_TEST(coverage_by_the_oldest_binlog)
{
	uint32_t domain = 99;
	my_gtid_state oldest = parsed("0-1-50,1-2-3");
	my_gtid_state s = parsed("0-1-60,1-2-3");
	ck_assert(my_gtid_covered(&s, &oldest, &domain));
	s = parsed("0-1-50,1-2-3,4-1-1"); /* equal: what follows is in the oldest file */
	ck_assert(my_gtid_covered(&s, &oldest, &domain));
	s = parsed("0-1-49,1-2-3");
	ck_assert(!my_gtid_covered(&s, &oldest, &domain));
	ck_assert_uint_eq(domain, 0);
	s = parsed("0-1-60"); /* domain 1 began before the oldest file: its start was purged */
	ck_assert(!my_gtid_covered(&s, &oldest, &domain));
	ck_assert_uint_eq(domain, 1);
	my_gtid_state none = parsed("");
	ck_assert(my_gtid_covered(&s, &none, &domain));
}
END_TEST

static uint64_t pos(uint32_t file, uint32_t offset) { return record_mysql_position(file, offset); }

START_TEST(log_gives_the_state_at_a_position)
{
	my_gtid_log l;
	my_gtid_state start = parsed("0-1-10"), s;
	char buf[MY_GTID_TEXT_MAX];
	ck_assert_int_eq(my_gtid_log_init(&l, &start), 0);
	my_gtid_log_add(&l, pos(1, 400), 0, 1, 11);
	my_gtid_log_add(&l, pos(1, 900), 1, 2, 1);
	my_gtid_log_add(&l, pos(2, 300), 0, 1, 12);
	ck_assert(my_gtid_log_at(&l, pos(1, 4), &s));
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-10");
	/* a GTID starting exactly at the position is not yet in the state there */
	ck_assert(my_gtid_log_at(&l, pos(1, 400), &s));
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-10");
	ck_assert(my_gtid_log_at(&l, pos(1, 401), &s));
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-11");
	ck_assert(my_gtid_log_at(&l, pos(1, 1200), &s));
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-11,1-2-1");
	ck_assert(my_gtid_log_at(&l, pos(2, 4), &s)); /* across a rotation */
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-11,1-2-1");
	ck_assert(my_gtid_log_at(&l, pos(2, 700), &s));
	ck_assert_str_eq(formatted(&s, buf, sizeof buf), "0-1-12,1-2-1");
	my_gtid_log_free(&l);
}
END_TEST

START_TEST(log_is_bounded_and_says_what_it_lost)
{
	my_gtid_log l;
	my_gtid_state start = parsed(""), s;
	char buf[MY_GTID_TEXT_MAX];
	ck_assert_int_eq(my_gtid_log_init(&l, &start), 0);
	uint32_t total = MY_GTID_LOG_CAP + 10;
	for (uint32_t i = 1; i <= total; i++)
		my_gtid_log_add(&l, pos(1, i * 100), i % 2, 1, i);
	ck_assert_int_le(l.n, MY_GTID_LOG_CAP);
	/* the oldest positions were folded away: no answer rather than a later state */
	ck_assert(!my_gtid_log_at(&l, pos(1, 150), &s));
	/* the newest half stays exact: the state after GTIDs 1..k is the last even one in
	 * domain 0 and the last odd one in domain 1 */
	for (uint32_t k = total - 3; k <= total; k++) {
		char want[64];
		snprintf(want, sizeof want, "0-1-%u,1-1-%u", k % 2 ? k - 1 : k, k % 2 ? k : k - 1);
		ck_assert(my_gtid_log_at(&l, pos(1, k * 100 + 1), &s));
		ck_assert_str_eq(formatted(&s, buf, sizeof buf), want);
	}
	my_gtid_log_free(&l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("my_gtid");
	TCase *text = tcase_create("text");
	tcase_add_test(text, parse_and_format_round_trip);
	tcase_add_test(text, parse_rejects_bad_text);
	tcase_add_test(text, too_many_domains);
	suite_add_tcase(s, text);
	TCase *state = tcase_create("state");
	tcase_add_test(state, update_and_merge);
	tcase_add_test(state, coverage_by_the_oldest_binlog);
	suite_add_tcase(s, state);
	TCase *log = tcase_create("log");
	tcase_add_test(log, log_gives_the_state_at_a_position);
	tcase_add_test(log, log_is_bounded_and_says_what_it_lost);
	suite_add_tcase(s, log);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
