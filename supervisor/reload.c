/* Reload: the new file is parsed and validated as a whole before anything changes
 * (ngx_init_cycle); on errors the running config stays and each error is logged. On
 * success only reloadable keys (config_keys.c) are copied into the running config:
 * restart-only values keep running as they were, as PostgreSQL keeps PGC_POSTMASTER
 * settings, so a worker restarted later gets the same settings as its peers. Each such
 * key that changed is named in the log (PostgreSQL's wording). Tasks added or removed
 * are reported the same way: the task set changes only with a restart of ferryd. */
#include "supervisor/reload.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_keys.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

static void on_restart_key(const char *section, const char *key, void *arg)
{
	reload_result *r = arg;
	char item[512];
	snprintf(item, sizeof item, "[%s] %s", section, key);
	string_list_add(&r->restart_needed, item);
	if (strcmp(key, "(added)") == 0)
		log_warning("[%s] was added to the configuration file; it starts only when ferryd is restarted", section);
	else if (strcmp(key, "(removed)") == 0)
		log_warning("[%s] was removed from the configuration file; it keeps running until ferryd is restarted",
			    section);
	else
		log_warning("parameter \"%s\" of [%s] cannot be changed without restarting ferryd", key, section);
}

/* "parameter "log_level" changed to "debug"" for each reloadable key that differs. */
static void log_live_changes(config_section_kind kind, const char *label, const void *running, const void *next)
{
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		if (key->section != kind || !key->reloadable || config_key_equal(key, running, next))
			continue;
		char *value = config_key_format(key, next);
		log_info("parameter \"%s\" of [%s] changed to \"%s\"", key->name, label, value ? value : "");
		free(value);
	}
}

static void log_all_live_changes(const ferry_config *running, const ferry_config *next)
{
	char label[256];
	log_live_changes(CONFIG_SECTION_FERRYD, "ferryd", &running->ferryd, &next->ferryd);
	for (int i = 0; i < running->n_endpoints; i++) {
		const endpoint_config *now = config_find_endpoint(next, running->endpoints[i].name);
		snprintf(label, sizeof label, "endpoint %s", running->endpoints[i].name);
		if (now)
			log_live_changes(CONFIG_SECTION_ENDPOINT, label, &running->endpoints[i], now);
	}
	for (int i = 0; i < running->n_tasks; i++) {
		const task_config *now = config_find_task(next, running->tasks[i].name);
		snprintf(label, sizeof label, "task %s", running->tasks[i].name);
		if (now)
			log_live_changes(CONFIG_SECTION_TASK, label, &running->tasks[i], now);
	}
}

static void apply_new_config(supervisor *s, ferry_config *next, reload_result *out)
{
	config_restart_keys_changed(s->config, next, on_restart_key, out);
	log_all_live_changes(s->config, next);
	int changed = config_apply_reloadable(s->config, next);
	log_set_level(s->config->ferryd.log_level);
	char err[768];
	if (metrics_reconfigure(&s->metrics, s->config->ferryd.metrics_listen, err, sizeof err) < 0) {
		log_error("%s", err);
		string_list_add(&out->warnings, err);
	}
	if (out->restart_needed.count > 0)
		log_info("configuration file %s reloaded: %d values applied, %d changes wait for a restart of ferryd",
			 s->config->path, changed, out->restart_needed.count);
	else
		log_info("configuration file %s reloaded: %d values applied", s->config->path, changed);
	out->ok = true;
}

static void forward_sighup(supervisor *s)
{
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		proc_slot *slot = &s->procs.slots[i];
		if (slot->state == PROC_RUNNING && slot->pid > 0 && !slot->stop_requested)
			kill(slot->pid, SIGHUP);
	}
}

void reload_run(supervisor *s, reload_result *out, const char *why)
{
	memset(out, 0, sizeof *out);
	if (s->shutdown != SHUTDOWN_NONE) {
		log_info("%s: ignored, ferryd is shutting down", why);
		string_list_add(&out->errors, "ferryd is shutting down: reload ignored");
		return;
	}
	/* First, so logrotate works even when the new file is broken; the new file is
	 * opened before the old is closed (log.c). */
	if (log_reopen() < 0)
		log_warning("could not reopen the log file: %s; still writing to the old one", strerror(errno));
	log_info("%s: reloading configuration file %s", why, s->config->path);

	config_diag diag;
	memset(&diag, 0, sizeof diag);
	ferry_config *next = config_load(s->config->path, &diag);
	for (int i = 0; i < diag.warnings.count; i++) {
		log_warning("%s", diag.warnings.items[i]);
		string_list_add(&out->warnings, diag.warnings.items[i]);
	}
	if (next == NULL) {
		for (int i = 0; i < diag.errors.count; i++) {
			log_error("%s", diag.errors.items[i]);
			string_list_add(&out->errors, diag.errors.items[i]);
		}
		if (diag.errors.count == 0)
			string_list_add(&out->errors, "the configuration file could not be loaded");
		log_error("configuration file %s contains errors; nothing was changed, ferryd keeps running with "
			  "the configuration it had", s->config->path);
	} else {
		apply_new_config(s, next, out);
		config_free(next);
	}
	config_diag_free(&diag);
	/* Workers reopen their logs and re-read the file themselves; on errors they keep
	 * theirs too. */
	forward_sighup(s);
}

void reload_result_free(reload_result *r)
{
	string_list_free(&r->errors);
	string_list_free(&r->warnings);
	string_list_free(&r->restart_needed);
}
