/* Restart policy: exit-status classes, exponential backoff with a ceiling and a reset
 * after a stable run, and the crash-loop window (bgworker's rw_crashed_at, Erlang's
 * MaxR in MaxT). No clock and no globals: the caller passes the times. */
#include "supervisor/restart.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/exitcode.h"

void restart_policy_from_config(restart_policy *policy, const ferryd_config *cfg)
{
	policy->delay_ms = cfg->restart_delay_ms;
	policy->delay_max_ms = cfg->restart_delay_max_ms;
	policy->stable_ms = cfg->restart_stable_ms;
	policy->crash_loop_max = cfg->crash_loop_max;
	policy->window_ms = cfg->crash_loop_window_ms;
}

exit_kind restart_classify(int wait_status)
{
	if (WIFEXITED(wait_status)) {
		if (WEXITSTATUS(wait_status) == FERRY_EXIT_DONE)
			return EXIT_KIND_DONE;
		if (WEXITSTATUS(wait_status) == FERRY_EXIT_FATAL)
			return EXIT_KIND_FATAL;
		if (WEXITSTATUS(wait_status) == FERRY_EXIT_TRANSIENT)
			return EXIT_KIND_TRANSIENT;
	}
	return EXIT_KIND_CRASH;
}

/* Drops crash times that fell out of the window, then appends now (dropping the oldest
 * when full: the window can only be decided by the newest RESTART_HISTORY_MAX). */
static int record_crash(restart_history *h, int64_t window_ms, int64_t now_ms)
{
	int keep = 0;
	for (int i = 0; i < h->n_crashes; i++) {
		if (now_ms - h->crashes[i] < window_ms)
			h->crashes[keep++] = h->crashes[i];
	}
	if (keep == RESTART_HISTORY_MAX) {
		memmove(h->crashes, h->crashes + 1, sizeof h->crashes[0] * (RESTART_HISTORY_MAX - 1));
		keep--;
	}
	h->crashes[keep++] = now_ms;
	h->n_crashes = keep;
	return keep;
}

static int64_t next_delay(const restart_policy *p, const restart_history *h, int64_t ran_ms)
{
	int64_t ceiling = p->delay_max_ms > p->delay_ms ? p->delay_max_ms : p->delay_ms;
	if (h->last_delay_ms <= 0 || ran_ms >= p->stable_ms)
		return p->delay_ms;
	if (h->last_delay_ms >= ceiling / 2)
		return ceiling;
	return h->last_delay_ms * 2;
}

restart_decision restart_on_exit(const restart_policy *policy, restart_history *history, int wait_status,
				 int64_t started_ms, int64_t now_ms)
{
	restart_decision d = {.action = RESTART_NOT_DONE, .delay_ms = 0, .crashes = 0};

	switch (restart_classify(wait_status)) {
	case EXIT_KIND_DONE:
		return d;
	case EXIT_KIND_FATAL:
		d.action = RESTART_NOT_FATAL;
		return d;
	case EXIT_KIND_TRANSIENT:
		d.action = RESTART_BACKOFF;
		d.delay_ms = next_delay(policy, history, now_ms - started_ms);
		history->last_delay_ms = d.delay_ms;
		return d;
	case EXIT_KIND_CRASH:
		break;
	}
	int limit = policy->crash_loop_max;
	if (limit > RESTART_HISTORY_MAX - 1)
		limit = RESTART_HISTORY_MAX - 1;
	d.crashes = record_crash(history, policy->window_ms, now_ms);
	if (d.crashes > limit) {
		d.action = RESTART_CRASH_LOOP;
		return d;
	}
	d.action = RESTART_BACKOFF;
	d.delay_ms = next_delay(policy, history, now_ms - started_ms);
	history->last_delay_ms = d.delay_ms;
	return d;
}

static const char *signal_name(int sig)
{
	const char *name = strsignal(sig);
	return name ? name : "unknown signal";
}

void restart_describe_exit(int wait_status, char *buf, size_t size)
{
	if (WIFEXITED(wait_status))
		snprintf(buf, size, "exited with exit code %d", WEXITSTATUS(wait_status));
	else if (WIFSIGNALED(wait_status))
		snprintf(buf, size, "was terminated by signal %d: %s%s", WTERMSIG(wait_status),
			 signal_name(WTERMSIG(wait_status)), WCOREDUMP(wait_status) ? " (core dumped)" : "");
	else
		snprintf(buf, size, "exited with unrecognized status %d", wait_status);
}

void restart_short_exit(int wait_status, char *buf, size_t size)
{
	if (WIFEXITED(wait_status))
		snprintf(buf, size, "exit code %d", WEXITSTATUS(wait_status));
	else if (WIFSIGNALED(wait_status))
		snprintf(buf, size, "killed by signal %d%s", WTERMSIG(wait_status),
			 WCOREDUMP(wait_status) ? " (core dumped)" : "");
	else
		snprintf(buf, size, "status %d", wait_status);
}

void restart_format_duration(int64_t ms, char *buf, size_t size)
{
	if (ms < 1000) {
		snprintf(buf, size, "%" PRId64 "ms", ms);
	} else if (ms % 3600000 == 0) {
		snprintf(buf, size, "%" PRId64 "h", ms / 3600000);
	} else if (ms % 60000 == 0) {
		snprintf(buf, size, "%" PRId64 "min", ms / 60000);
	} else if (ms % 1000 == 0) {
		snprintf(buf, size, "%" PRId64 "s", ms / 1000);
	} else {
		/* seconds with the millisecond part, trailing zeros dropped: 1.5s, 2.25s */
		int n = snprintf(buf, size, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
		while (n > 0 && (size_t)n < size && buf[n - 1] == '0')
			buf[--n] = '\0';
		if ((size_t)n + 1 < size) {
			buf[n] = 's';
			buf[n + 1] = '\0';
		}
	}
}
