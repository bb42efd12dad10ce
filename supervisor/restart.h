/* What a worker's exit status means and what the supervisor does about it: done, fatal,
 * or a crash restarted with exponential backoff until a crash loop gives up. Pure
 * functions of their arguments (no clock, no globals) so t/unit/check_restart.c can
 * drive them through every case. */
#ifndef FERRY_RESTART_H
#define FERRY_RESTART_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* crash_loop_max is at most 1000 (config_keys.c); one more timestamp than that is
 * needed to see "more than crash_loop_max". */
#define RESTART_HISTORY_MAX 1001

typedef struct restart_policy {
	int64_t delay_ms;     /* first restart delay */
	int64_t delay_max_ms; /* backoff ceiling */
	int64_t stable_ms;    /* a run at least this long resets the backoff */
	int crash_loop_max;   /* more crashes than this ... */
	int64_t window_ms;    /* ... within this window: give up */
} restart_policy;

/* Per worker, kept across its restarts (the process-table slot owns it). */
typedef struct restart_history {
	int64_t last_delay_ms; /* delay of the previous restart; 0 = none yet */
	int n_crashes;         /* timestamps in crashes[], oldest first */
	int64_t crashes[RESTART_HISTORY_MAX];
} restart_history;

typedef enum exit_kind {
	EXIT_KIND_DONE,  /* exit 0: finished, not restarted */
	EXIT_KIND_FATAL, /* exit 3: retrying cannot help, the task goes to error */
	EXIT_KIND_TRANSIENT, /* exit 1: the worker said "try again later" (server unreachable,
	                        connection lost): backoff, never a crash loop, so a source
	                        down for an hour is waited out and the task goes on */
	EXIT_KIND_CRASH  /* any other code, or a signal: restart with backoff, counted */
} exit_kind;

typedef enum restart_action {
	RESTART_NOT_DONE,  /* finished: leave it stopped */
	RESTART_NOT_FATAL, /* fatal: leave it failed, task to error */
	RESTART_BACKOFF,   /* start it again after delay_ms */
	RESTART_CRASH_LOOP /* too many crashes in the window: task to error */
} restart_action;

typedef struct restart_decision {
	restart_action action;
	int64_t delay_ms; /* RESTART_BACKOFF: wait this long */
	int crashes;      /* crashes within the window, this one included */
} restart_decision;

void restart_policy_from_config(restart_policy *policy, const ferryd_config *cfg);

/* Classifies a waitpid() status per common/exitcode.h. */
exit_kind restart_classify(int wait_status);

/* Records the exit of a worker that ran from started_ms to now_ms (any one monotonic
 * clock, milliseconds) in its history and decides what comes next. Backoff: the first
 * crash waits delay_ms, each further crash twice the previous delay up to delay_max_ms;
 * a run of at least stable_ms starts again from delay_ms. A crash that makes more than
 * crash_loop_max within window_ms ends in RESTART_CRASH_LOOP; transient exits back off
 * the same way but do not count as crashes. */
restart_decision restart_on_exit(const restart_policy *policy, restart_history *history, int wait_status,
				 int64_t started_ms, int64_t now_ms);

/* "exited with exit code 3", "was terminated by signal 9: Killed" (PostgreSQL's
 * LogChildExit wording), for the log line of a death. */
void restart_describe_exit(int wait_status, char *buf, size_t size);
/* Shorter, for status: "exit code 1", "killed by signal 9". */
void restart_short_exit(int wait_status, char *buf, size_t size);
/* "300ms", "2s", "1.5s", "5min", "1h", "90s". */
void restart_format_duration(int64_t ms, char *buf, size_t size);

#endif
