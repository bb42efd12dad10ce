/* Reload (SIGHUP or `ferryctl reload`): reopen the log, parse the file into a new
 * config, and on success apply what can change live; keys that need a restart are
 * named, never silently ignored. SIGHUP is forwarded to every worker. */
#ifndef FERRY_RELOAD_H
#define FERRY_RELOAD_H

#include <stdbool.h>

#include "common/config.h"

typedef struct supervisor supervisor;

typedef struct reload_result {
	bool ok;
	string_list errors;	    /* the file's errors ("file:line: ...") when !ok */
	string_list warnings;
	string_list restart_needed; /* "[task orders] apply_workers", "[task t2] (added)" */
} reload_result;

/* why: "SIGHUP" or "ferryctl reload", for the log. Fills out (free with
 * reload_result_free). The running config keeps every restart-only value; added and
 * removed tasks are reported as needing a restart too. */
void reload_run(supervisor *s, reload_result *out, const char *why);
void reload_result_free(reload_result *r);

#endif
