/* Restart policy (supervisor/restart.c): exit classes, backoff growth, ceiling and reset,
 * the crash-loop window, and the texts used for deaths in the log and in status. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exitcode.h"
#include "supervisor/restart.h"

#define SEC 1000
#define MIN (60 * SEC)

static const int EXIT_TRANSIENT_STATUS = W_EXITCODE(FERRY_EXIT_TRANSIENT, 0);
static const int EXIT_FATAL_STATUS = W_EXITCODE(FERRY_EXIT_FATAL, 0);
static const int EXIT_DONE_STATUS = W_EXITCODE(FERRY_EXIT_DONE, 0);
static const int KILLED_STATUS = W_EXITCODE(0, SIGKILL);

/* The brief's defaults: 1s doubling to 60s, stable after 60s, 5 crashes in 5min. */
static restart_policy default_policy(void)
{
	return (restart_policy){.delay_ms = 1 * SEC, .delay_max_ms = 60 * SEC, .stable_ms = 60 * SEC,
				.crash_loop_max = 5, .window_ms = 5 * MIN};
}

static restart_history *new_history(void)
{
	restart_history *h = calloc(1, sizeof *h);
	ck_assert_ptr_nonnull(h);
	return h;
}

/* A status produced by a real child killed with sig, as waitpid() reports it. */
static int real_signal_status(int sig)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(99);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* ---- exit classes -------------------------------------------------------------- */

START_TEST(classify_exit_codes)
{
	ck_assert_int_eq(restart_classify(EXIT_DONE_STATUS), EXIT_KIND_DONE);
	ck_assert_int_eq(restart_classify(EXIT_FATAL_STATUS), EXIT_KIND_FATAL);
	ck_assert_int_eq(restart_classify(EXIT_TRANSIENT_STATUS), EXIT_KIND_TRANSIENT);
	ck_assert_int_eq(restart_classify(W_EXITCODE(2, 0)), EXIT_KIND_CRASH);
	ck_assert_int_eq(restart_classify(W_EXITCODE(255, 0)), EXIT_KIND_CRASH);
}
END_TEST

START_TEST(classify_signals_as_crashes)
{
	ck_assert_int_eq(restart_classify(real_signal_status(SIGKILL)), EXIT_KIND_CRASH);
	ck_assert_int_eq(restart_classify(real_signal_status(SIGTERM)), EXIT_KIND_CRASH);
	ck_assert_int_eq(restart_classify(real_signal_status(SIGSEGV)), EXIT_KIND_CRASH);
}
END_TEST

START_TEST(done_is_not_restarted_and_not_counted)
{
	restart_policy p = default_policy();
	restart_history *h = new_history();
	restart_decision d = restart_on_exit(&p, h, EXIT_DONE_STATUS, 0, 10);
	ck_assert_int_eq(d.action, RESTART_NOT_DONE);
	ck_assert_int_eq(h->n_crashes, 0);
	ck_assert_int_eq(h->last_delay_ms, 0);
	free(h);
}
END_TEST

START_TEST(fatal_is_never_restarted)
{
	restart_policy p = default_policy();
	restart_history *h = new_history();
	restart_decision d = restart_on_exit(&p, h, EXIT_FATAL_STATUS, 0, 10);
	ck_assert_int_eq(d.action, RESTART_NOT_FATAL);
	ck_assert_int_eq(d.delay_ms, 0);
	ck_assert_int_eq(h->n_crashes, 0);
	free(h);
}
END_TEST

/* ---- backoff ------------------------------------------------------------------- */

START_TEST(backoff_doubles_up_to_the_ceiling)
{
	restart_policy p = default_policy();
	p.crash_loop_max = 100; /* keep the crash loop out of the way */
	restart_history *h = new_history();
	const int64_t expected[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
	int64_t now = 0;
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		int64_t started = now;
		now += 500; /* a short run: no reset */
		restart_decision d = restart_on_exit(&p, h, EXIT_TRANSIENT_STATUS, started, now);
		ck_assert_int_eq(d.action, RESTART_BACKOFF);
		ck_assert_msg(d.delay_ms == expected[i] * SEC, "crash %zu: delay %lld ms, expected %lld s", i + 1,
			      (long long)d.delay_ms, (long long)expected[i]);
		now += d.delay_ms;
	}
	free(h);
}
END_TEST

START_TEST(backoff_ceiling_that_is_no_power_of_two)
{
	restart_policy p = {.delay_ms = 300, .delay_max_ms = 2000, .stable_ms = 60 * SEC, .crash_loop_max = 100,
			    .window_ms = 5 * MIN};
	restart_history *h = new_history();
	const int64_t expected[] = {300, 600, 1200, 2000, 2000};
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		restart_decision d = restart_on_exit(&p, h, KILLED_STATUS, (int64_t)i * 10000, (int64_t)i * 10000 + 5);
		ck_assert_int_eq(d.delay_ms, expected[i]);
	}
	free(h);
}
END_TEST

START_TEST(ceiling_below_first_delay_uses_first_delay)
{
	restart_policy p = default_policy();
	p.delay_ms = 5 * SEC;
	p.delay_max_ms = 2 * SEC;
	restart_history *h = new_history();
	for (int i = 0; i < 3; i++) {
		restart_decision d = restart_on_exit(&p, h, KILLED_STATUS, i * 10 * SEC, i * 10 * SEC + 1);
		ck_assert_int_eq(d.delay_ms, 5 * SEC);
	}
	free(h);
}
END_TEST

START_TEST(stable_run_resets_the_backoff)
{
	restart_policy p = default_policy();
	restart_history *h = new_history();
	/* Three quick crashes: 1s, 2s, 4s. */
	int64_t now = 0;
	for (int i = 0; i < 3; i++) {
		restart_decision d = restart_on_exit(&p, h, EXIT_TRANSIENT_STATUS, now, now + 100);
		now += 100 + d.delay_ms;
	}
	ck_assert_int_eq(h->last_delay_ms, 4 * SEC);
	/* One run just short of restart_stable: no reset, doubles to 8s. */
	restart_decision d = restart_on_exit(&p, h, EXIT_TRANSIENT_STATUS, now, now + p.stable_ms - 1);
	ck_assert_int_eq(d.delay_ms, 8 * SEC);
	now += p.stable_ms - 1 + d.delay_ms;
	/* A run of exactly restart_stable: back to the first delay. */
	now += 10 * MIN; /* also out of the crash window */
	d = restart_on_exit(&p, h, EXIT_TRANSIENT_STATUS, now - p.stable_ms, now);
	ck_assert_int_eq(d.action, RESTART_BACKOFF);
	ck_assert_int_eq(d.delay_ms, 1 * SEC);
	free(h);
}
END_TEST

/* ---- crash loop ---------------------------------------------------------------- */

START_TEST(crash_loop_after_more_than_max_in_window)
{
	restart_policy p = default_policy();
	restart_history *h = new_history();
	int64_t now = 0;
	for (int i = 1; i <= 5; i++) {
		restart_decision d = restart_on_exit(&p, h, KILLED_STATUS, now, now + 10);
		ck_assert_msg(d.action == RESTART_BACKOFF, "crash %d should be restarted", i);
		ck_assert_int_eq(d.crashes, i);
		now += 10 + d.delay_ms;
	}
	restart_decision d = restart_on_exit(&p, h, KILLED_STATUS, now, now + 10);
	ck_assert_int_eq(d.action, RESTART_CRASH_LOOP);
	ck_assert_int_eq(d.crashes, 6);
	free(h);
}
END_TEST

START_TEST(crashes_spread_beyond_window_never_loop)
{
	restart_policy p = default_policy();
	restart_history *h = new_history();
	/* A crash every 61 s: at most 5 fall within any 5 min window. */
	for (int i = 0; i < 50; i++) {
		int64_t now = (int64_t)i * 61 * SEC;
		restart_decision d = restart_on_exit(&p, h, KILLED_STATUS, now - 10, now);
		ck_assert_msg(d.action == RESTART_BACKOFF, "crash %d (at %d s) gave up", i + 1, i * 61);
		ck_assert_int_le(d.crashes, 5);
	}
	free(h);
}
END_TEST

/* A server that stays unreachable: the worker says so (exit 1) again and again; it is
 * retried with backoff for as long as it takes, and those exits are no crash loop. */
START_TEST(transient_exits_never_loop)
{
	restart_policy p = default_policy();
	restart_history *h = new_history();
	int64_t now = 0;
	for (int i = 0; i < 100; i++) {
		restart_decision d = restart_on_exit(&p, h, EXIT_TRANSIENT_STATUS, now, now + 10);
		ck_assert_int_eq(d.action, RESTART_BACKOFF);
		ck_assert_int_eq(d.crashes, 0);
		ck_assert_int_le(d.delay_ms, p.delay_max_ms);
		now += 10 + d.delay_ms;
	}
	ck_assert_int_eq(h->last_delay_ms, p.delay_max_ms);
	/* Real crashes in between are still counted, and only they. */
	for (int i = 1; i <= 5; i++) {
		ck_assert_int_eq(restart_on_exit(&p, h, KILLED_STATUS, now, now + 10).crashes, i);
		ck_assert_int_eq(restart_on_exit(&p, h, EXIT_TRANSIENT_STATUS, now, now + 20).crashes, 0);
		now += 30;
	}
	ck_assert_int_eq(restart_on_exit(&p, h, KILLED_STATUS, now, now + 10).action, RESTART_CRASH_LOOP);
	free(h);
}
END_TEST

/* A crash exactly crash_loop_window after an earlier one no longer counts it. */
START_TEST(window_edge)
{
	restart_policy p = default_policy();
	p.crash_loop_max = 1;
	restart_history *h = new_history();
	ck_assert_int_eq(restart_on_exit(&p, h, KILLED_STATUS, 0, 0).action, RESTART_BACKOFF);
	restart_decision d = restart_on_exit(&p, h, KILLED_STATUS, p.window_ms - 10, p.window_ms);
	ck_assert_int_eq(d.action, RESTART_BACKOFF);
	ck_assert_int_eq(d.crashes, 1);
	d = restart_on_exit(&p, h, KILLED_STATUS, 2 * p.window_ms - 10, 2 * p.window_ms - 1);
	ck_assert_int_eq(d.action, RESTART_CRASH_LOOP);
	ck_assert_int_eq(d.crashes, 2);
	free(h);
}
END_TEST

START_TEST(fatal_and_done_do_not_fill_the_window)
{
	restart_policy p = default_policy();
	p.crash_loop_max = 1;
	restart_history *h = new_history();
	ck_assert_int_eq(restart_on_exit(&p, h, KILLED_STATUS, 0, 1).action, RESTART_BACKOFF);
	ck_assert_int_eq(restart_on_exit(&p, h, EXIT_DONE_STATUS, 2, 3).action, RESTART_NOT_DONE);
	ck_assert_int_eq(restart_on_exit(&p, h, EXIT_FATAL_STATUS, 4, 5).action, RESTART_NOT_FATAL);
	ck_assert_int_eq(h->n_crashes, 1);
	ck_assert_int_eq(restart_on_exit(&p, h, KILLED_STATUS, 6, 7).action, RESTART_CRASH_LOOP);
	free(h);
}
END_TEST

START_TEST(largest_crash_loop_max_is_honoured)
{
	restart_policy p = default_policy();
	p.crash_loop_max = 1000;
	restart_history *h = new_history();
	for (int i = 1; i <= 1000; i++)
		ck_assert_int_eq(restart_on_exit(&p, h, KILLED_STATUS, i, i).action, RESTART_BACKOFF);
	restart_decision d = restart_on_exit(&p, h, KILLED_STATUS, 1001, 1001);
	ck_assert_int_eq(d.action, RESTART_CRASH_LOOP);
	ck_assert_int_eq(d.crashes, 1001);
	free(h);
}
END_TEST

START_TEST(policy_from_config)
{
	ferryd_config c = {.restart_delay_ms = 300, .restart_delay_max_ms = 2000, .restart_stable_ms = 60000,
			   .crash_loop_max = 7, .crash_loop_window_ms = 120000};
	restart_policy p;
	restart_policy_from_config(&p, &c);
	ck_assert_int_eq(p.delay_ms, 300);
	ck_assert_int_eq(p.delay_max_ms, 2000);
	ck_assert_int_eq(p.stable_ms, 60000);
	ck_assert_int_eq(p.crash_loop_max, 7);
	ck_assert_int_eq(p.window_ms, 120000);
}
END_TEST

/* ---- texts --------------------------------------------------------------------- */

START_TEST(describe_exits_like_postgresql)
{
	char buf[128];
	restart_describe_exit(W_EXITCODE(3, 0), buf, sizeof buf);
	ck_assert_str_eq(buf, "exited with exit code 3");
	restart_describe_exit(real_signal_status(SIGKILL), buf, sizeof buf);
	ck_assert_str_eq(buf, "was terminated by signal 9: Killed");
	restart_describe_exit(W_EXITCODE(0, SIGSEGV) | WCOREFLAG, buf, sizeof buf);
	ck_assert_str_eq(buf, "was terminated by signal 11: Segmentation fault (core dumped)");
	restart_short_exit(real_signal_status(SIGKILL), buf, sizeof buf);
	ck_assert_str_eq(buf, "killed by signal 9");
	restart_short_exit(W_EXITCODE(1, 0), buf, sizeof buf);
	ck_assert_str_eq(buf, "exit code 1");
}
END_TEST

START_TEST(format_durations)
{
	struct {
		int64_t ms;
		const char *text;
	} cases[] = {{0, "0ms"},	{300, "300ms"},	    {1000, "1s"},	  {1500, "1.5s"},
		     {2250, "2.25s"},	{2001, "2.001s"},   {90000, "90s"},	  {60000, "1min"},
		     {300000, "5min"},	{3600000, "1h"},    {5400000, "90min"}, {61500, "61.5s"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[32];
		restart_format_duration(cases[i].ms, buf, sizeof buf);
		ck_assert_msg(strcmp(buf, cases[i].text) == 0, "%lld ms: got '%s', expected '%s'",
			      (long long)cases[i].ms, buf, cases[i].text);
	}
}
END_TEST

static Suite *restart_suite(void)
{
	Suite *s = suite_create("restart");
	TCase *tc = tcase_create("exit classes");
	tcase_add_test(tc, classify_exit_codes);
	tcase_add_test(tc, classify_signals_as_crashes);
	tcase_add_test(tc, done_is_not_restarted_and_not_counted);
	tcase_add_test(tc, fatal_is_never_restarted);
	suite_add_tcase(s, tc);

	tc = tcase_create("backoff");
	tcase_add_test(tc, backoff_doubles_up_to_the_ceiling);
	tcase_add_test(tc, backoff_ceiling_that_is_no_power_of_two);
	tcase_add_test(tc, ceiling_below_first_delay_uses_first_delay);
	tcase_add_test(tc, stable_run_resets_the_backoff);
	tcase_add_test(tc, policy_from_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("crash loop");
	tcase_add_test(tc, crash_loop_after_more_than_max_in_window);
	tcase_add_test(tc, crashes_spread_beyond_window_never_loop);
	tcase_add_test(tc, transient_exits_never_loop);
	tcase_add_test(tc, window_edge);
	tcase_add_test(tc, fatal_and_done_do_not_fill_the_window);
	tcase_add_test(tc, largest_crash_loop_max_is_honoured);
	suite_add_tcase(s, tc);

	tc = tcase_create("texts");
	tcase_add_test(tc, describe_exits_like_postgresql);
	tcase_add_test(tc, format_durations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(restart_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
