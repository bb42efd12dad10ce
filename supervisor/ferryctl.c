/* ferryctl: talks to a running ferryd over its control socket (data_dir/ferryd.sock).
 *   ferryctl -c FILE status [--json] [--watch]
 *   ferryctl -c FILE stop [--fast]
 *   ferryctl -c FILE reload [--json]
 *   ferryctl -c FILE assess [TASK]     (runs here, needs no ferryd)
 *   ferryctl -c FILE validate | cutover ...   (supervisor/ferryctl_db.h)
 * Exit status: 0 ok, 1 failure reported by ferryd, 2 cannot reach ferryd or bad usage. */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/config_keys.h"
#include "supervisor/control.h"
#include "supervisor/control_client.h"
#include "supervisor/ferryctl_db.h"
#include "supervisor/ferryctl_watch.h"
#include "supervisor/jsonparse.h"
#include "workers/assess.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "unknown"
#endif

#define EXIT_OK 0
#define EXIT_FAILED 1      /* ferryd answered: it failed */
#define EXIT_UNREACHABLE 2 /* no answer, or bad usage */

#define ANSWER_TIMEOUT_MS 30000
#define STOP_WAIT_S 60
#define WATCH_INTERVAL_MS 1000
#define DEFAULT_DATA_DIR "/var/lib/ferry" /* config_keys.c's default */

typedef struct cli {
	const char *config_path;
	const char *command;
	const char *task; /* assess TASK */
	bool json, watch, fast;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} cli;

static void usage(FILE *out)
{
	fprintf(out, "Usage: ferryctl -c FILE COMMAND\n"
		     "\n"
		     "Commands:\n"
		     "  status [--json] [--watch]   tasks, workers, tables, lag; --watch: a live view redrawn\n"
		     "                              every second (ends when ferryd stops, unless on a terminal)\n"
		     "  stop [--fast]               stop ferryd and wait (at most %d s) until it is gone\n"
		     "  reload [--json]             make ferryd re-read its configuration file\n"
		     "  assess [TASK]               pre-migration assessment of every task (or TASK), run from\n"
		     "                              here without ferryd: every check, nothing changed\n"
		     "  validate [TASK] [--table SCHEMA.TABLE] [--json] [--limit N]\n"
		     "                              compare source and target rows: exit 0 equal, 1 differences\n"
		     "  cutover TASK [--wait-for-quiet] [--timeout SECONDS] [--json]\n"
		     "                              zero lag, sequences past the maximum, final validation:\n"
		     "                              exit 0 go, 1 no-go\n"
		     "\n"
		     "Exit status: 0 ok, 1 ferryd reported a failure (assess: something fails), 2 ferryd not\n"
		     "reachable or bad usage (assess: could not run).\n",
		STOP_WAIT_S);
}

/* ---- finding the socket ----------------------------------------------------------- */

typedef struct data_dir_scan {
	char *value;
} data_dir_scan;

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	data_dir_scan *scan = user;
	if (strcmp(section, "ferryd") == 0 && strcmp(name, "data_dir") == 0 && value[0]) {
		free(scan->value);
		scan->value = strdup(value);
	}
	return 1;
}

/* Only data_dir is read, leniently: `ferryctl reload` must reach ferryd even while the
 * file has errors (ferryd reports them). Relative paths resolve like ferryd's. */
static int find_socket(cli *c)
{
	FILE *f = fopen(c->config_path, "re");
	if (f == NULL) {
		fprintf(stderr, "ferryctl: cannot read %s: %s\n", c->config_path, strerror(errno));
		return -1;
	}
	data_dir_scan scan = {NULL};
	ini_parse_file(f, on_ini_entry, &scan);
	fclose(f);

	char *config_abs = config_path_absolute(c->config_path, NULL);
	char *base = config_abs ? strdup(config_abs) : NULL;
	char *slash = base ? strrchr(base, '/') : NULL;
	if (slash)
		*(slash == base ? slash + 1 : slash) = '\0';
	char *data_dir = config_path_absolute(scan.value ? scan.value : DEFAULT_DATA_DIR, base);
	int n = data_dir ? snprintf(c->socket_path, sizeof c->socket_path, "%s/%s", data_dir, CONTROL_SOCKET_NAME) : -1;
	free(scan.value);
	free(config_abs);
	free(base);
	free(data_dir);
	if (n < 0 || (size_t)n >= sizeof c->socket_path) {
		fprintf(stderr, "ferryctl: cannot build the control socket path from data_dir in %s\n", c->config_path);
		return -1;
	}
	return 0;
}

/* ---- one request ---------------------------------------------------------------- */

/* Sends command and returns ferryd's answer text (malloc'd), or NULL with err set. */
static char *request(const cli *c, const char *command, char *err, size_t errlen)
{
	int not_running = 0;
	char why[400];
	char *answer = control_client_request(c->socket_path, command, ANSWER_TIMEOUT_MS, &not_running, why, sizeof why);
	if (answer == NULL)
		snprintf(err, errlen, "%s%s", why, not_running ? " — is ferryd running?" : "");
	return answer;
}

/* The answer parsed, or NULL after printing why. */
static json_value *request_json(const cli *c, const char *command, char **text)
{
	char err[512];
	char *answer = request(c, command, err, sizeof err);
	if (answer == NULL) {
		fprintf(stderr, "ferryctl: %s\n", err);
		return NULL;
	}
	json_value *doc = json_parse(answer, err, sizeof err);
	if (doc == NULL)
		fprintf(stderr, "ferryctl: ferryd's answer is not valid JSON (%s)\n", err);
	if (text && doc)
		*text = answer;
	else
		free(answer);
	return doc;
}

/* ---- status ------------------------------------------------------------------------ */

#define N_COLS 7
static const char *const col_names[N_COLS] = {"TASK", "PHASE", "WORKER", "PID", "STATE", "RESTARTS", "LAST EXIT"};

typedef struct table {
	char *(*rows)[N_COLS];
	int n, cap;
} table;

static void table_add(table *t, const char *cells[N_COLS])
{
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		char *(*rows)[N_COLS] = realloc(t->rows, sizeof *rows * (size_t)cap);
		if (rows == NULL)
			return;
		t->rows = rows;
		t->cap = cap;
	}
	for (int i = 0; i < N_COLS; i++)
		t->rows[t->n][i] = strdup(cells[i] ? cells[i] : "-");
	t->n++;
}

static void table_print(const table *t)
{
	int width[N_COLS];
	for (int i = 0; i < N_COLS; i++)
		width[i] = (int)strlen(col_names[i]);
	for (int r = 0; r < t->n; r++)
		for (int i = 0; i < N_COLS; i++)
			if (t->rows[r][i] && (int)strlen(t->rows[r][i]) > width[i])
				width[i] = (int)strlen(t->rows[r][i]);
	for (int i = 0; i < N_COLS; i++)
		printf("%-*s%s", i == N_COLS - 1 ? 0 : width[i], col_names[i], i == N_COLS - 1 ? "\n" : "  ");
	for (int r = 0; r < t->n; r++)
		for (int i = 0; i < N_COLS; i++)
			printf("%-*s%s", i == N_COLS - 1 ? 0 : width[i], t->rows[r][i] ? t->rows[r][i] : "",
			       i == N_COLS - 1 ? "\n" : "  ");
}

static void table_free(table *t)
{
	for (int r = 0; r < t->n; r++)
		for (int i = 0; i < N_COLS; i++)
			free(t->rows[r][i]);
	free(t->rows);
}

static void format_uptime(long s, char *buf, size_t size)
{
	if (s >= 86400)
		snprintf(buf, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, size, "%lds", s);
}

static void add_worker_row(table *t, const json_value *task, const json_value *w, bool first)
{
	char pid[32] = "-", restarts[32], state[96];
	const json_value *pid_v = json_get(w, "pid");
	if (pid_v && pid_v->type == JSON_NUMBER)
		snprintf(pid, sizeof pid, "%.0f", pid_v->number);
	snprintf(restarts, sizeof restarts, "%.0f", json_get_number(w, "restarts", 0));
	const char *st = json_get_string(w, "state");
	double restart_in = json_get_number(w, "restart_in_ms", -1);
	if (st && strcmp(st, "backoff") == 0 && restart_in >= 0)
		snprintf(state, sizeof state, "backoff (%.1fs)", restart_in / 1000.0);
	else
		snprintf(state, sizeof state, "%s", st ? st : "?");
	const char *cells[N_COLS] = {
		first ? json_get_string(task, "name") : "", first ? json_get_string(task, "phase") : "",
		json_get_string(w, "name"), pid, state, restarts, json_get_string(w, "last_exit"),
	};
	table_add(t, cells);
}

/* Errors below the table: the task's, then each worker's last error. */
static void print_errors(const json_value *tasks)
{
	for (int i = 0; tasks && i < tasks->count; i++) {
		const json_value *task = &tasks->items[i];
		const char *error = json_get_string(task, "error");
		if (error)
			printf("task %s is in error: %s\n", json_get_string(task, "name"), error);
		const json_value *workers = json_get(task, "workers");
		for (int j = 0; workers && workers->type == JSON_ARRAY && j < workers->count; j++) {
			const char *last = json_get_string(&workers->items[j], "last_error");
			if (last)
				printf("%s: last error: %s\n", json_get_string(&workers->items[j], "name"), last);
		}
	}
}

/* Per task with a plan: lag and spill, then one line per table. */
static void print_tables(const json_value *tasks)
{
	for (int i = 0; i < tasks->count; i++) {
		const json_value *task = &tasks->items[i];
		const json_value *tables = json_get(task, "tables");
		if (tables == NULL || tables->type != JSON_ARRAY || tables->count == 0)
			continue;
		const char *gtid = json_get_string(task, "applied_gtid");
		printf("\ntask %s: lag %.0f bytes, %.0f s; spill %.0f bytes%s%s\n", json_get_string(task, "name"),
		       json_get_number(task, "lag_bytes", 0), json_get_number(task, "lag_seconds", 0),
		       json_get_number(task, "spill_bytes", 0), gtid ? "; applied GTID " : "", gtid ? gtid : "");
		printf("  %-40s %-12s %12s %12s %12s\n", "TABLE", "STATE", "ROWS", "ESTIMATED", "CHANGES");
		for (int j = 0; j < tables->count; j++) {
			const json_value *tb = &tables->items[j];
			const char *error = json_get_string(tb, "error");
			printf("  %-40s %-12s %12.0f %12.0f %12.0f%s%s\n", json_get_string(tb, "name"),
			       json_get_string(tb, "state"), json_get_number(tb, "rows_loaded", 0),
			       json_get_number(tb, "rows_estimated", 0), json_get_number(tb, "changes_applied", 0),
			       error ? "  " : "", error ? error : "");
		}
	}
}

static void print_status(const json_value *doc)
{
	const json_value *d = json_get(doc, "ferryd");
	char uptime[32];
	format_uptime((long)json_get_number(d, "uptime_s", 0), uptime, sizeof uptime);
	printf("ferryd pid %.0f, up %s, config %s, log_level %s\n", json_get_number(d, "pid", 0), uptime,
	       json_get_string(d, "config") ? json_get_string(d, "config") : "?",
	       json_get_string(d, "log_level") ? json_get_string(d, "log_level") : "?");
	if (json_get_string(d, "shutdown"))
		printf("shutting down (%s)\n", json_get_string(d, "shutdown"));
	const json_value *tasks = json_get(doc, "tasks");
	if (tasks == NULL || tasks->type != JSON_ARRAY || tasks->count == 0) {
		printf("no tasks\n");
		return;
	}
	printf("\n");
	table t = {0};
	for (int i = 0; i < tasks->count; i++) {
		const json_value *workers = json_get(&tasks->items[i], "workers");
		for (int j = 0; workers && workers->type == JSON_ARRAY && j < workers->count; j++)
			add_worker_row(&t, &tasks->items[i], &workers->items[j], j == 0);
		if (workers == NULL || workers->count == 0) {
			const char *cells[N_COLS] = {json_get_string(&tasks->items[i], "name"),
						     json_get_string(&tasks->items[i], "phase")};
			table_add(&t, cells);
		}
	}
	table_print(&t);
	table_free(&t);
	print_tables(tasks);
	print_errors(tasks);
}

/* One status: printed as text or as the JSON document ferryd sent. */
static int status_once(const cli *c)
{
	char *text = NULL;
	json_value *doc = request_json(c, "status", &text);
	if (doc == NULL)
		return EXIT_UNREACHABLE;
	if (c->json)
		fputs(text, stdout);
	else
		print_status(doc);
	fflush(stdout);
	json_free(doc);
	free(text);
	return EXIT_OK;
}

static char *fetch_status(void *arg, char *err, size_t errlen)
{
	return request(arg, "status", err, errlen);
}

/* ---- stop ------------------------------------------------------------------------- */

static bool pid_gone(pid_t pid)
{
	if (kill(pid, 0) < 0)
		return errno == ESRCH;
	/* A dead ferryd whose parent has not reaped it yet (e.g. `ferryd -f &`). */
	char path[64], stat[256];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return true;
	size_t n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = '\0';
	char *paren = strrchr(stat, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* Waits for pid to exit: a pidfd becomes readable when it does (no polling); without
 * pidfd support, checks ten times a second. */
static bool wait_pid_gone(pid_t pid, int seconds)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		if (pid_gone(pid))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left_ms = seconds * 1000L - ((now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L);
		if (left_ms <= 0)
			break;
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			poll(&p, 1, (int)left_ms);
		} else {
			struct timespec tenth = {0, 100000000L};
			nanosleep(&tenth, NULL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return pid_gone(pid);
}

static int do_stop(const cli *c)
{
	json_value *doc = request_json(c, c->fast ? "stop fast" : "stop", NULL);
	if (doc == NULL)
		return EXIT_UNREACHABLE;
	const json_value *ok = json_get(doc, "ok");
	pid_t pid = (pid_t)json_get_number(doc, "pid", 0);
	if (ok == NULL || ok->type != JSON_BOOL || !ok->boolean || pid <= 0) {
		const char *error = json_get_string(doc, "error");
		fprintf(stderr, "ferryctl: ferryd refused to stop: %s\n", error ? error : "no reason given");
		json_free(doc);
		return EXIT_FAILED;
	}
	const char *mode = json_get_string(doc, "mode");
	printf("ferryd (pid %ld) is stopping (%s shutdown); waiting up to %d s\n", (long)pid, mode ? mode : "?",
	       STOP_WAIT_S);
	fflush(stdout);
	json_free(doc);
	if (!wait_pid_gone(pid, STOP_WAIT_S)) {
		fprintf(stderr, "ferryctl: ferryd (pid %ld) is still running after %d s\n", (long)pid, STOP_WAIT_S);
		return EXIT_FAILED;
	}
	printf("ferryd stopped\n");
	return EXIT_OK;
}

/* ---- reload ----------------------------------------------------------------------- */

static void print_list(FILE *out, const json_value *list, const char *prefix)
{
	for (int i = 0; list && list->type == JSON_ARRAY && i < list->count; i++) {
		if (list->items[i].type == JSON_STRING)
			fprintf(out, "%s%s\n", prefix, list->items[i].string);
	}
}

static int do_reload(const cli *c)
{
	char *text = NULL;
	json_value *doc = request_json(c, "reload", &text);
	if (doc == NULL)
		return EXIT_UNREACHABLE;
	const json_value *ok = json_get(doc, "ok");
	bool success = ok && ok->type == JSON_BOOL && ok->boolean;
	if (c->json) {
		fputs(text, stdout);
	} else if (success) {
		print_list(stderr, json_get(doc, "warnings"), "warning: ");
		const json_value *restart = json_get(doc, "restart_needed");
		if (restart && restart->type == JSON_ARRAY && restart->count > 0) {
			printf("ok: configuration reloaded; these changes take effect only after a restart of ferryd:\n");
			print_list(stdout, restart, "  ");
		} else {
			printf("ok: configuration reloaded\n");
		}
	} else {
		fprintf(stderr, "reload failed; ferryd keeps running with its current configuration:\n");
		print_list(stderr, json_get(doc, "errors"), "  ");
	}
	json_free(doc);
	free(text);
	return success ? EXIT_OK : EXIT_FAILED;
}

/* ---- assess ----------------------------------------------------------------------- */

/* The same code as `ferryd --assess`, in this process: the whole file is loaded (an
 * assessment of a file with errors cannot run). */
static int do_assess(const cli *c)
{
	config_diag diag = {0};
	ferry_config *cfg = config_load(c->config_path, &diag);
	for (int i = 0; i < diag.warnings.count; i++)
		fprintf(stderr, "ferryctl: warning: %s\n", diag.warnings.items[i]);
	for (int i = 0; i < diag.errors.count; i++)
		fprintf(stderr, "ferryctl: error: %s\n", diag.errors.items[i]);
	config_diag_free(&diag);
	if (cfg == NULL) {
		fprintf(stderr, "ferryctl: %s is not valid: nothing assessed\n", c->config_path);
		return EXIT_UNREACHABLE;
	}
	log_set_process("assess");
	log_set_level(LOG_LEVEL_WARNING);
	int rc = assess_run(cfg, c->task, stdout);
	config_free(cfg);
	return rc;
}

/* ---- main ------------------------------------------------------------------------- */

/* Options after the command: status [--json] [--watch], stop [--fast], reload [--json]. */
static int parse_command_args(cli *c, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		bool known = false;
		if (strcmp(argv[i], "--json") == 0 && strcmp(c->command, "stop") != 0 && strcmp(c->command, "assess") != 0)
			known = c->json = true;
		else if (strcmp(argv[i], "--watch") == 0 && strcmp(c->command, "status") == 0)
			known = c->watch = true;
		else if (strcmp(argv[i], "--fast") == 0 && strcmp(c->command, "stop") == 0)
			known = c->fast = true;
		else if (argv[i][0] != '-' && strcmp(c->command, "assess") == 0 && c->task == NULL)
			known = (c->task = argv[i]) != NULL;
		if (!known) {
			fprintf(stderr, "ferryctl: unknown argument '%s' for %s\n", argv[i], c->command);
			return -1;
		}
	}
	return 0;
}

static int parse_args(cli *c, int argc, char **argv)
{
	int opt;
	opterr = 0;
	while ((opt = getopt(argc, argv, "+:c:hV")) != -1) {
		switch (opt) {
		case 'c': c->config_path = optarg; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'V': printf("ferryctl (ferry) %s\n", FERRY_VERSION); exit(EXIT_OK);
		case ':': fprintf(stderr, "ferryctl: option -%c needs an argument\n", optopt); return -1;
		default: fprintf(stderr, "ferryctl: unknown option -%c\n", optopt); return -1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ferryctl: no command given\n");
		return -1;
	}
	c->command = argv[optind];
	if (ferryctl_is_db_command(c->command))
		return c->config_path ? 0 : (fprintf(stderr, "ferryctl: no configuration file given (-c FILE)\n"), -1);
	if (strcmp(c->command, "status") != 0 && strcmp(c->command, "stop") != 0 && strcmp(c->command, "reload") != 0 &&
	    strcmp(c->command, "assess") != 0) {
		fprintf(stderr, "ferryctl: unknown command '%s'\n", c->command);
		return -1;
	}
	if (parse_command_args(c, argc - optind - 1, argv + optind + 1) < 0)
		return -1;
	if (c->watch && c->json) {
		fprintf(stderr, "ferryctl: --watch and --json do not go together (--watch is for people; run "
				"status --json repeatedly to collect documents)\n");
		return -1;
	}
	if (c->config_path == NULL) {
		fprintf(stderr, "ferryctl: no configuration file given (-c FILE)\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	cli c;
	memset(&c, 0, sizeof c);
	if (parse_args(&c, argc, argv) < 0) {
		usage(stderr);
		return EXIT_UNREACHABLE;
	}
	if (ferryctl_is_db_command(c.command))
		return ferryctl_db_command(c.config_path, c.command, argc - optind - 1, argv + optind + 1);
	if (strcmp(c.command, "assess") == 0)
		return do_assess(&c);
	if (find_socket(&c) < 0)
		return EXIT_UNREACHABLE;
	if (strcmp(c.command, "status") == 0)
		return c.watch ? watch_run(fetch_status, &c, WATCH_INTERVAL_MS) : status_once(&c);
	if (strcmp(c.command, "stop") == 0)
		return do_stop(&c);
	return do_reload(&c);
}
