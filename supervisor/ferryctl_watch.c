/* `ferryctl status --watch` (see the header): rendering a frame from the status
 * document, rates from successive samples, and the redraw loop. */
#include "supervisor/ferryctl_watch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20
#define ANSI_BOLD "\033[1m"
#define ANSI_RESET "\033[0m"

/* ---- formatting helpers ---------------------------------------------------------- */

void watch_format_bytes(double bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	int u = 0;
	while (bytes >= 1024 && u < 5) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f B", bytes);
	else
		snprintf(buf, size, "%.1f %s", bytes, units[u]);
}

void watch_format_rate(double per_s, char *buf, size_t size)
{
	if (per_s < 0)
		snprintf(buf, size, "-");
	else if (per_s >= 10 || per_s == 0)
		snprintf(buf, size, "%.0f/s", per_s);
	else
		snprintf(buf, size, "%.1f/s", per_s);
}

void watch_format_duration(double s, char *buf, size_t size)
{
	long v = (long)(s + 0.5);
	if (v >= 86400)
		snprintf(buf, size, "%ldd%02ldh", v / 86400, v % 86400 / 3600);
	else if (v >= 3600)
		snprintf(buf, size, "%ldh%02ldm", v / 3600, v % 3600 / 60);
	else if (v >= 60)
		snprintf(buf, size, "%ldm%02lds", v / 60, v % 60);
	else
		snprintf(buf, size, "%lds", v);
}

void watch_progress_bar(double done, double total, int width, char *buf, size_t size)
{
	if (size < (size_t)width + 3) {
		snprintf(buf, size, "%s", "");
		return;
	}
	double f = total > 0 ? done / total : 0;
	if (f > 1)
		f = 1;
	int full = (int)(f * width + 0.5);
	buf[0] = '[';
	for (int i = 0; i < width; i++)
		buf[1 + i] = i < full ? '#' : '-';
	buf[width + 1] = ']';
	buf[width + 2] = '\0';
}

/* ---- samples and rates ----------------------------------------------------------- */

typedef struct frame {
	watch_state *st;
	const watch_style *style;
	strbuf *out;
	double dt;            /* seconds since the previous sample; 0 = none */
	watch_sample *next;   /* this frame's samples */
	int n_next, cap_next;
	int cursor;           /* where the previous frame's next table probably is */
} frame;

static const watch_sample *previous(frame *f, const char *key)
{
	watch_state *st = f->st;
	if (f->cursor < st->n_prev && strcmp(st->prev[f->cursor].key, key) == 0)
		return &st->prev[f->cursor++];
	for (int i = 0; i < st->n_prev; i++) {
		if (strcmp(st->prev[i].key, key) == 0) {
			f->cursor = i + 1;
			return &st->prev[i];
		}
	}
	return NULL;
}

/* Records this frame's figures of a table; the rates since the previous frame (-1 when
 * there is none). */
static void sample(frame *f, const char *task, const char *table, double rows, double changes, double *rows_rate,
		   double *changes_rate)
{
	char *key = NULL;
	*rows_rate = *changes_rate = -1;
	if (asprintf(&key, "%s\n%s", task, table) < 0)
		return;
	const watch_sample *p = f->dt > 0 ? previous(f, key) : NULL;
	if (p != NULL) {
		*rows_rate = rows >= p->rows ? (rows - p->rows) / f->dt : -1;
		*changes_rate = changes >= p->changes ? (changes - p->changes) / f->dt : -1;
	}
	if (f->n_next == f->cap_next) {
		int cap = f->cap_next ? f->cap_next * 2 : 64;
		watch_sample *grown = realloc(f->next, sizeof *grown * (size_t)cap);
		if (grown == NULL) {
			free(key);
			return;
		}
		f->next = grown;
		f->cap_next = cap;
	}
	f->next[f->n_next++] = (watch_sample){key, rows, changes};
}

static void free_samples(watch_sample *s, int n)
{
	for (int i = 0; i < n; i++)
		free(s[i].key);
	free(s);
}

void watch_state_free(watch_state *st)
{
	free_samples(st->prev, st->n_prev);
	memset(st, 0, sizeof *st);
}

/* ---- the frame ------------------------------------------------------------------- */

static const char *str_or(const json_value *v, const char *key, const char *fallback)
{
	const char *s = json_get_string(v, key);
	return s ? s : fallback;
}

static const char *state_colour(const char *state)
{
	if (strcmp(state, "in-sync") == 0 || strcmp(state, "equal") == 0)
		return "\033[32m";
	if (strcmp(state, "error") == 0 || strcmp(state, "failed") == 0)
		return "\033[31m";
	if (strcmp(state, "loading") == 0 || strcmp(state, "catching-up") == 0 || strcmp(state, "backoff") == 0)
		return "\033[33m";
	return NULL;
}

/* A cell padded to width, coloured on a terminal. */
static void cell(frame *f, const char *text, int width, const char *colour)
{
	if (f->style->ansi && colour)
		strbuf_appendf(f->out, "%s%-*s%s", colour, width, text, ANSI_RESET);
	else
		strbuf_appendf(f->out, "%-*s", width, text);
}

static void render_workers(frame *f, const json_value *workers)
{
	int n = 0, up = 0, restarts = 0;
	for (int i = 0; workers && workers->type == JSON_ARRAY && i < workers->count; i++) {
		const json_value *w = &workers->items[i];
		const json_value *pid = json_get(w, "pid");
		n++;
		up += pid && pid->type == JSON_NUMBER;
		restarts += (int)json_get_number(w, "restarts", 0);
	}
	strbuf_appendf(f->out, "   workers %d/%d up, %d restart%s\n", up, n, restarts, restarts == 1 ? "" : "s");
	for (int i = 0; workers && workers->type == JSON_ARRAY && i < workers->count; i++) {
		const json_value *w = &workers->items[i];
		const char *state = str_or(w, "state", "?");
		if (strcmp(state, "backoff") != 0 && strcmp(state, "failed") != 0)
			continue;
		strbuf_appendf(f->out, "  %s: ", str_or(w, "name", "?"));
		cell(f, state, 0, state_colour(state));
		const char *err = json_get_string(w, "last_error");
		strbuf_appendf(f->out, "%s%s\n", err ? ", last error: " : "", err ? err : "");
	}
}

/* "task mig   phase cdc   lag 0 s, 0 B   spill 0 B   changes 1234 (5/s)   workers ..." */
static void render_task_line(frame *f, const json_value *task, double changes, double changes_rate)
{
	char lag[32], spill[32], rate[32];
	const char *phase = str_or(task, "phase", "?");
	watch_format_bytes(json_get_number(task, "lag_bytes", 0), lag, sizeof lag);
	watch_format_bytes(json_get_number(task, "spill_bytes", 0), spill, sizeof spill);
	watch_format_rate(changes_rate, rate, sizeof rate);
	strbuf_appendf(f->out, "%stask %s%s   phase ", f->style->ansi ? ANSI_BOLD : "", str_or(task, "name", "?"),
		       f->style->ansi ? ANSI_RESET : "");
	cell(f, phase, 0, strcmp(phase, "error") == 0 ? state_colour("error") : NULL);
	strbuf_appendf(f->out, "   lag %.0f s, %s   spill %s   changes applied %.0f (%s)",
		       json_get_number(task, "lag_seconds", 0), lag, spill, changes, rate);
	render_workers(f, json_get(task, "workers"));
	const char *error = json_get_string(task, "error");
	if (error)
		strbuf_appendf(f->out, "  task error: %s\n", error);
}

static int name_width(const json_value *tables)
{
	int w = 5;
	for (int i = 0; i < tables->count; i++) {
		const char *name = str_or(&tables->items[i], "name", "?");
		if ((int)strlen(name) > w)
			w = (int)strlen(name);
	}
	return w;
}

/* The load columns of a table: progress bar, percentage, rate and time left while it
 * loads, blanks otherwise. */
static void load_columns(frame *f, const char *state, double rows, double est, double rows_rate)
{
	char bar[BAR_WIDTH + 3] = "", rate[32] = "", eta[32] = "";
	char pct[16] = "";
	if (strcmp(state, "loading") == 0) {
		watch_progress_bar(rows, est, BAR_WIDTH, bar, sizeof bar);
		if (est > 0)
			snprintf(pct, sizeof pct, "%3.0f%%", rows >= est ? 100.0 : rows * 100.0 / est);
		watch_format_rate(rows_rate, rate, sizeof rate);
		if (rows_rate > 0 && est > rows)
			watch_format_duration((est - rows) / rows_rate, eta, sizeof eta);
	}
	strbuf_appendf(f->out, "  %-*s %4s %9s %7s", BAR_WIDTH + 2, bar, pct, rate, eta);
}

static void render_table(frame *f, const char *task, const json_value *tb, int width, double *changes_rate_sum)
{
	const char *name = str_or(tb, "name", "?"), *state = str_or(tb, "state", "?");
	double rows = json_get_number(tb, "rows_loaded", 0), est = json_get_number(tb, "rows_estimated", 0);
	double changes = json_get_number(tb, "changes_applied", 0), rows_rate, changes_rate;
	sample(f, task, name, rows, changes, &rows_rate, &changes_rate);
	if (changes_rate > 0)
		*changes_rate_sum += changes_rate;
	strbuf_appendf(f->out, "  %-*s ", width, name);
	cell(f, state, 11, state_colour(state));
	strbuf_appendf(f->out, " %12.0f / %-12.0f", rows, est);
	load_columns(f, state, rows, est, rows_rate);
	char crate[32];
	watch_format_rate(changes_rate, crate, sizeof crate);
	strbuf_appendf(f->out, " %12.0f %9s\n", changes, crate);
	const char *error = json_get_string(tb, "error");
	if (error)
		strbuf_appendf(f->out, "    error: %s\n", error);
}

static void render_task(frame *f, const json_value *task)
{
	const char *name = str_or(task, "name", "?");
	const json_value *tables = json_get(task, "tables");
	bool has_tables = tables && tables->type == JSON_ARRAY && tables->count > 0;
	/* Tables first into a side buffer: the task line above them shows their sums. */
	strbuf rows = STRBUF_INIT, *saved = f->out;
	double changes = 0, rate_sum = 0;
	bool any_rate = false;
	f->out = &rows;
	if (has_tables) {
		int width = name_width(tables);
		strbuf_appendf(f->out, "  %s%-*s %-11s %12s / %-12s  %-*s %4s %9s %7s %12s %9s%s\n",
			       f->style->ansi ? ANSI_BOLD : "", width, "TABLE", "STATE", "LOADED", "ESTIMATED",
			       BAR_WIDTH + 2, "PROGRESS", "", "RATE", "ETA", "CHANGES", "RATE",
			       f->style->ansi ? ANSI_RESET : "");
		for (int i = 0; i < tables->count; i++) {
			changes += json_get_number(&tables->items[i], "changes_applied", 0);
			render_table(f, name, &tables->items[i], width, &rate_sum);
		}
		any_rate = f->dt > 0;
	}
	f->out = saved;
	render_task_line(f, task, changes, any_rate ? rate_sum : -1);
	if (!has_tables)
		strbuf_append(f->out, "  (no table plan yet)\n");
	strbuf_append(f->out, strbuf_str(&rows));
	strbuf_free(&rows);
}

void watch_render(watch_state *st, const json_value *doc, double now_s, const watch_style *style, strbuf *out)
{
	frame f = {.st = st, .style = style, .out = out, .dt = st->prev_time > 0 ? now_s - st->prev_time : 0};
	const json_value *d = json_get(doc, "ferryd");
	char up[32];
	watch_format_duration(json_get_number(d, "uptime_s", 0), up, sizeof up);
	strbuf_appendf(out, "ferryd pid %.0f, up %s, config %s%s%s\n", json_get_number(d, "pid", 0), up,
		       str_or(d, "config", "?"), json_get_string(d, "shutdown") ? ", shutting down: " : "",
		       str_or(d, "shutdown", ""));
	const json_value *tasks = json_get(doc, "tasks");
	if (tasks == NULL || tasks->type != JSON_ARRAY || tasks->count == 0)
		strbuf_append(out, "\nno tasks\n");
	for (int i = 0; tasks && tasks->type == JSON_ARRAY && i < tasks->count; i++) {
		strbuf_append(out, "\n");
		render_task(&f, &tasks->items[i]);
	}
	free_samples(st->prev, st->n_prev);
	st->prev = f.next;
	st->n_prev = f.n_next;
	st->prev_time = now_s;
}

/* ---- the redraw loop ------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends line (len bytes) cut to cols visible columns: ANSI sequences take none, a
 * UTF-8 character one. */
static void append_cut(strbuf *o, const char *line, size_t len, int cols)
{
	int visible = 0;
	bool escapes = false;
	size_t i = 0;
	while (i < len) {
		if (line[i] == '\033') {
			size_t j = i + 1;
			while (j < len && !(line[j] >= '@' && line[j] <= '~' && line[j] != '['))
				j++;
			strbuf_append_len(o, line + i, j < len ? j - i + 1 : len - i);
			escapes = true;
			i = j + 1;
			continue;
		}
		if (((unsigned char)line[i] & 0xC0) != 0x80 && visible++ >= cols)
			break;
		strbuf_append_char(o, line[i++]);
	}
	if (escapes)
		strbuf_append(o, ANSI_RESET);
}

/* A frame on a terminal: from the top left, each line cut to the window and cleared to
 * its end, then everything below cleared; no full clear, so nothing flickers. */
static void draw_tty(const char *text)
{
	struct winsize ws = {0};
	int cols = 80, rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		cols = ws.ws_col;
		rows = ws.ws_row > 2 ? ws.ws_row : 24;
	}
	int total = 0;
	for (const char *p = text; *p; p++)
		total += *p == '\n';
	strbuf o = STRBUF_INIT;
	strbuf_append(&o, "\033[H");
	int shown = 0;
	for (const char *p = text; *p && shown < rows - 1; shown++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (shown == rows - 2 && total > rows - 1) {
			char more[96];
			snprintf(more, sizeof more, "... %d more lines (a larger window shows them)", total - shown);
			append_cut(&o, more, strlen(more), cols);
		} else {
			append_cut(&o, p, len, cols);
		}
		strbuf_append(&o, "\033[K\n");
		p = nl ? nl + 1 : p + len;
	}
	strbuf_append(&o, "\033[J");
	fputs(strbuf_str(&o), stdout);
	fflush(stdout);
	strbuf_free(&o);
}

static void frame_header(strbuf *out, int interval_ms)
{
	time_t now = time(NULL);
	char when[64];
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&now));
	strbuf_appendf(out, "ferryctl status --watch   %s   every %gs, Ctrl-C quits\n", when, interval_ms / 1000.0);
}

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt; /* no SA_RESTART: the sleep must end */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* One fetch and one frame. 1 to go on, 0 when the watch ends (exit code in *rc). */
static int watch_once(watch_fetch_fn fetch, void *arg, watch_state *st, bool tty, int interval_ms, int *frames,
		      int *rc)
{
	char err[512] = "";
	char *text = fetch(arg, err, sizeof err);
	json_value *doc = text ? json_parse(text, err, sizeof err) : NULL;
	free(text);
	strbuf out = STRBUF_INIT;
	frame_header(&out, interval_ms);
	int go_on = 1;
	if (doc != NULL) {
		watch_style style = {.ansi = tty};
		watch_render(st, doc, monotonic_s(), &style, &out);
		(*frames)++;
	} else if (tty) {
		strbuf_appendf(&out, "\nferryd is not answering: %s\nasking again every %gs\n", err, interval_ms / 1000.0);
		st->prev_time = 0; /* no rate across the gap */
	} else {
		go_on = 0;
		if (*frames == 0) {
			fprintf(stderr, "ferryctl: %s\n", err);
			*rc = 2;
		} else {
			printf("ferryd stopped answering (%s): the watch ends\n", err);
		}
	}
	json_free(doc);
	if (go_on && tty)
		draw_tty(strbuf_str(&out));
	else if (go_on)
		printf("%s\n", strbuf_str(&out));
	fflush(stdout);
	strbuf_free(&out);
	return go_on;
}

int watch_run(watch_fetch_fn fetch, void *arg, int interval_ms)
{
	install_handlers();
	bool tty = isatty(STDOUT_FILENO);
	watch_state st = {0};
	int frames = 0, rc = 0;
	while (!interrupted && watch_once(fetch, arg, &st, tty, interval_ms, &frames, &rc)) {
		struct timespec pause = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
		nanosleep(&pause, NULL);
	}
	watch_state_free(&st);
	return rc;
}
