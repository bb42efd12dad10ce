/* ferryctl validate and cutover: configuration, ferryd's status, and the environment a
 * comparison runs in (see ferryctl_db_int.h). */
#include "supervisor/ferryctl_db.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "supervisor/control_client.h"
#include "supervisor/ferryctl_db_int.h"

#define STATUS_TIMEOUT_MS 10000

int fc_validate_main(fc_ctx *c, int argc, char **argv);
int fc_cutover_main(fc_ctx *c, int argc, char **argv);

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

bool fc_interrupted(void)
{
	return interrupted != 0;
}

uint64_t fc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fc_sleep_ms(int ms)
{
	if (!interrupted)
		poll(NULL, 0, ms);
}

int fc_load(fc_ctx *c, const char *config_path)
{
	memset(c, 0, sizeof *c);
	log_set_process("ferryctl");
	log_set_level(LOG_LEVEL_WARNING);
	config_diag diag = {0};
	c->cfg = config_load(config_path, &diag);
	for (int i = 0; i < diag.errors.count; i++)
		fprintf(stderr, "ferryctl: error: %s\n", diag.errors.items[i]);
	config_diag_free(&diag);
	if (c->cfg == NULL) {
		fprintf(stderr, "ferryctl: configuration file %s is not valid\n", config_path);
		return -1;
	}
	if (control_client_path(c->cfg->ferryd.data_dir, c->socket_path, sizeof c->socket_path) < 0) {
		fprintf(stderr, "ferryctl: data_dir %s is too long for a socket path\n", c->cfg->ferryd.data_dir);
		return -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt; /* no SA_RESTART: waits end at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

void fc_free(fc_ctx *c)
{
	if (c->status)
		json_free(c->status);
	if (c->cfg)
		config_free(c->cfg);
	memset(c, 0, sizeof *c);
}

int fc_pick_task(fc_ctx *c, const char *name)
{
	if (name != NULL) {
		c->task = config_find_task(c->cfg, name);
		if (c->task == NULL)
			fprintf(stderr, "ferryctl: no task '%s' in %s\n", name, c->cfg->path);
		return c->task ? 0 : -1;
	}
	if (c->cfg->n_tasks == 1) {
		c->task = &c->cfg->tasks[0];
		return 0;
	}
	fprintf(stderr, "ferryctl: %s has %d tasks: name one\n", c->cfg->path, c->cfg->n_tasks);
	return -1;
}

int fc_check_pair(const fc_ctx *c, const task_config *task)
{
	(void)c;
	if (vd_task_pair_supported(task))
		return 0;
	fprintf(stderr, "ferryctl: task %s: validation of this engine pair is not available\n", task->name);
	return -1;
}

int fc_refresh_status(fc_ctx *c, char *err, size_t errlen)
{
	int not_running = 0;
	char *text = control_client_request(c->socket_path, "status", STATUS_TIMEOUT_MS, &not_running, err, errlen);
	if (c->status)
		json_free(c->status);
	c->status = NULL;
	c->task_status = NULL;
	if (text == NULL)
		return not_running ? 1 : -1;
	c->status = json_parse(text, err, errlen);
	free(text);
	if (c->status == NULL)
		return -1;
	const json_value *tasks = json_get(c->status, "tasks");
	for (int i = 0; c->task && tasks && tasks->type == JSON_ARRAY && i < tasks->count; i++) {
		const char *name = json_get_string(&tasks->items[i], "name");
		if (name && strcmp(name, c->task->name) == 0)
			c->task_status = &tasks->items[i];
	}
	return 0;
}

const char *fc_table_state(const fc_ctx *c, const char *label)
{
	const json_value *tables = json_get(c->task_status, "tables");
	for (int i = 0; tables && tables->type == JSON_ARRAY && i < tables->count; i++) {
		const char *name = json_get_string(&tables->items[i], "name");
		if (name && strcmp(name, label) == 0)
			return json_get_string(&tables->items[i], "state");
	}
	return NULL;
}

bool fc_live(const fc_ctx *c)
{
	if (c->task_status == NULL || c->task->migration_type == MIGRATION_FULL_LOAD)
		return false;
	const char *phase = json_get_string(c->task_status, "phase");
	return phase && strcmp(phase, "stopped") != 0 && strcmp(phase, "error") != 0;
}

/* ---- the comparison's environment -------------------------------------------------- */

static int env_wait(void *arg, struct pollfd *fds, int nfds, int timeout_ms)
{
	(void)arg;
	if (interrupted)
		return 1;
	int rc = poll(fds, (nfds_t)nfds, timeout_ms);
	if (rc < 0 && errno != EINTR)
		return 1;
	return interrupted ? 1 : 0;
}

static int env_position(void *arg, uint64_t *pos, char *err, size_t errlen)
{
	fc_ctx *c = arg;
	int rc = fc_refresh_status(c, err, errlen);
	if (rc == 1)
		snprintf(err, errlen, "ferryd stopped");
	if (rc != 0)
		return -1;
	const json_value *v = json_get(c->task_status, "applied_position");
	if (v == NULL || v->type != JSON_NUMBER) {
		snprintf(err, errlen, "ferryd does not report the position of task %s", c->task->name);
		return -1;
	}
	*pos = (uint64_t)v->number;
	return 0;
}

void fc_env_init(fc_ctx *c, bool live)
{
	c->env = (vd_env){.wait = env_wait, .target_position = env_position, .arg = c, .live = live,
			  .catch_up_ms = 120000, .retries = 3, .max_report = 100, .leaf_rows = 2000};
}

/* ---- dispatch ---------------------------------------------------------------------- */

bool ferryctl_is_db_command(const char *command)
{
	return strcmp(command, "validate") == 0 || strcmp(command, "cutover") == 0;
}

int ferryctl_db_command(const char *config_path, const char *command, int argc, char **argv)
{
	fc_ctx c;
	if (fc_load(&c, config_path) < 0) {
		fc_free(&c);
		return FC_EXIT_ERROR;
	}
	int rc = strcmp(command, "validate") == 0 ? fc_validate_main(&c, argc, argv) : fc_cutover_main(&c, argc, argv);
	fc_free(&c);
	return rc;
}
