/* `ferryctl status --watch` rendering (supervisor/ferryctl_watch.c): figures, the
 * progress bar, rates from two successive samples, and the formatting helpers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/ferryctl_watch.h"

static json_value *doc_with(double rows_loaded, double changes, const char *state)
{
	char text[1024], err[128];
	snprintf(text, sizeof text,
		 "{\"ferryd\":{\"pid\":7,\"config\":\"/etc/f.ini\",\"uptime_s\":65,\"shutdown\":null},"
		 "\"tasks\":[{\"name\":\"mig\",\"phase\":\"full-load\",\"error\":null,"
		 "\"workers\":[{\"name\":\"capture mig\",\"pid\":10,\"state\":\"running\",\"restarts\":2},"
		 "{\"name\":\"apply mig.1\",\"pid\":null,\"state\":\"backoff\",\"restarts\":1,"
		 "\"last_error\":\"target gone\"}],"
		 "\"lag_bytes\":1536,\"lag_seconds\":3,\"spill_bytes\":0,"
		 "\"tables\":[{\"name\":\"\\\"public\\\".\\\"big\\\"\",\"state\":\"%s\",\"rows_loaded\":%.0f,"
		 "\"rows_estimated\":1000,\"changes_applied\":%.0f,\"error\":null}]}]}",
		 state, rows_loaded, changes);
	json_value *doc = json_parse(text, err, sizeof err);
	ck_assert_msg(doc != NULL, "%s", err);
	return doc;
}

static char *render(watch_state *st, json_value *doc, double now)
{
	strbuf out = STRBUF_INIT;
	watch_style style = {.ansi = false};
	watch_render(st, doc, now, &style, &out);
	json_free(doc);
	return strbuf_detach(&out);
}

START_TEST(first_frame_has_figures_but_no_rates)
{
	watch_state st = {0};
	char *text = render(&st, doc_with(250, 0, "loading"), 100.0);
	ck_assert_ptr_nonnull(strstr(text, "ferryd pid 7, up 1m05s, config /etc/f.ini"));
	ck_assert_ptr_nonnull(strstr(text, "task mig   phase full-load   lag 3 s, 1.5 kB   spill 0 B"));
	ck_assert_ptr_nonnull(strstr(text, "workers 1/2 up, 3 restarts"));
	ck_assert_ptr_nonnull(strstr(text, "apply mig.1: backoff, last error: target gone"));
	ck_assert_ptr_nonnull(strstr(text, "\"public\".\"big\" loading"));
	ck_assert_ptr_nonnull(strstr(text, "250 / 1000"));
	ck_assert_ptr_nonnull(strstr(text, "[#####---------------]  25%"));
	ck_assert_ptr_null(strstr(text, "/s")); /* no rate from one sample */
	free(text);
	watch_state_free(&st);
}
END_TEST

START_TEST(second_frame_has_rates_and_time_left)
{
	watch_state st = {0};
	free(render(&st, doc_with(250, 10, "loading"), 100.0));
	char *text = render(&st, doc_with(450, 30, "loading"), 102.0); /* +200 rows, +20 changes in 2 s */
	ck_assert_ptr_nonnull(strstr(text, "[#########-----------]  45%"));
	ck_assert_msg(strstr(text, "100/s") != NULL, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, " 6s")); /* 550 rows left at 100/s */
	ck_assert_ptr_nonnull(strstr(text, "changes applied 30 (10/s)"));
	free(text);
	/* loaded: no bar any more */
	text = render(&st, doc_with(1000, 30, "in-sync"), 103.0);
	ck_assert_ptr_null(strstr(text, "[#"));
	ck_assert_ptr_nonnull(strstr(text, "changes applied 30 (0/s)"));
	free(text);
	watch_state_free(&st);
}
END_TEST

START_TEST(helpers)
{
	char b[64];
	watch_format_bytes(512, b, sizeof b);
	ck_assert_str_eq(b, "512 B");
	watch_format_bytes(1536 * 1024.0, b, sizeof b);
	ck_assert_str_eq(b, "1.5 MB");
	watch_format_rate(-1, b, sizeof b);
	ck_assert_str_eq(b, "-");
	watch_format_rate(0.25, b, sizeof b);
	ck_assert_str_eq(b, "0.2/s");
	watch_format_rate(1234.4, b, sizeof b);
	ck_assert_str_eq(b, "1234/s");
	watch_format_duration(3725, b, sizeof b);
	ck_assert_str_eq(b, "1h02m");
	watch_progress_bar(5, 0, 4, b, sizeof b);
	ck_assert_str_eq(b, "[----]");
	watch_progress_bar(50, 10, 4, b, sizeof b); /* beyond the estimate: full, not more */
	ck_assert_str_eq(b, "[####]");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, first_frame_has_figures_but_no_rates);
	tcase_add_test(tc, second_frame_has_rates_and_time_left);
	tcase_add_test(tc, helpers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
