/* `ferryctl status --watch`: a live view of the tasks, redrawn every second like top.
 * Per task its phase, lag (seconds and bytes), spill size, changes applied and their
 * rate, and its workers; per table its state, rows loaded / estimated, and while it
 * loads a progress bar, the load rate and the time left; changes applied and their
 * rate. Rates come from two successive samples of the status document.
 *
 * On a terminal each frame overwrites the previous one (ANSI), cut to the window; a
 * ferryd that stops answering is shown and asked again. Otherwise (a pipe, a file) the
 * frames are printed one after the other, plain, and the watch ends when ferryd stops
 * answering. */
#ifndef FERRY_FERRYCTL_WATCH_H
#define FERRY_FERRYCTL_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/sqlquote.h"
#include "supervisor/jsonparse.h"

/* The previous sample of each table, for rates. */
typedef struct watch_sample {
	char *key; /* "task\ntable" */
	double rows, changes;
} watch_sample;

typedef struct watch_state {
	watch_sample *prev;
	int n_prev;
	double prev_time; /* seconds, monotonic; 0 = no previous sample */
} watch_state;

typedef struct watch_style {
	bool ansi; /* colours and bold (a terminal; lines are cut to its width when drawn) */
} watch_style;

/* One frame for the status document doc taken at now_s (monotonic seconds), appended
 * to out, one line per "\n". Updates st with this sample. */
void watch_render(watch_state *st, const json_value *doc, double now_s, const watch_style *style, strbuf *out);
void watch_state_free(watch_state *st);

/* Asks for the status text (malloc'd) or returns NULL with err set. */
typedef char *(*watch_fetch_fn)(void *arg, char *err, size_t errlen);

/* Runs until SIGINT/SIGTERM or, when stdout is no terminal, until ferryd stops
 * answering. Exit status: 0, or 2 when ferryd never answered. */
int watch_run(watch_fetch_fn fetch, void *arg, int interval_ms);

/* Helpers, exposed for the tests. */
void watch_format_bytes(double bytes, char *buf, size_t size);   /* "512 B", "1.5 MB" */
void watch_format_rate(double per_s, char *buf, size_t size);    /* "12/s", "0.5/s", "-" */
void watch_format_duration(double s, char *buf, size_t size);    /* "45s", "2m05s", "3h10m" */
void watch_progress_bar(double done, double total, int width, char *buf, size_t size); /* "[####----]" */

#endif
