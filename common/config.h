/* The validated, typed configuration (the interface users script against: etc/ferry.ini documents it).
 * Parsed by config.c from one INI file, driven by the key table in config_keys.c. */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

typedef enum engine_kind { ENGINE_POSTGRESQL, ENGINE_MYSQL } engine_kind;
typedef enum sslmode_kind {
	SSLMODE_DISABLE, SSLMODE_PREFER, SSLMODE_REQUIRE, SSLMODE_VERIFY_CA, SSLMODE_VERIFY_FULL
} sslmode_kind;
typedef enum migration_kind { MIGRATION_FULL_LOAD, MIGRATION_CDC, MIGRATION_FULL_LOAD_AND_CDC } migration_kind;
typedef enum table_prep_kind { TABLE_PREP_DROP, TABLE_PREP_TRUNCATE, TABLE_PREP_NOTHING } table_prep_kind;
typedef enum compression_kind { COMPRESSION_ZSTD, COMPRESSION_LZ4, COMPRESSION_NONE } compression_kind;
/* What happens to a source value the target type cannot hold (common/typemap.h). */
typedef enum invalid_values_kind {
	INVALID_VALUES_ERROR, INVALID_VALUES_NULL, INVALID_VALUES_SUBSTITUTE
} invalid_values_kind;

/* A repeatable key's values, in file order. lines is NULL, or holds the file line of each
 * item (count entries, parallel to items; 0 = unknown): rules need it to order include
 * and exclude lines among each other and to name a bad rule's line. */
typedef struct string_list {
	char **items;
	int count;
	int *lines;
} string_list;

typedef struct endpoint_config {
	char *name;
	int line; /* line of the [endpoint NAME] header */
	engine_kind engine;
	char *host;
	int port; /* 0 = engine default (5432 / 3306) */
	char *dbname;
	char *user;
	char *password_file;
	char *password_env;
	sslmode_kind sslmode;
	char *sslrootcert;
	char *sslcert;
	char *sslkey;
	int connect_timeout_s;
} endpoint_config;

typedef struct task_config {
	char *name;
	int line;
	char *source; /* endpoint names as written */
	char *target;
	const endpoint_config *source_ep; /* resolved, owned by the ferry_config */
	const endpoint_config *target_ep;
	migration_kind migration_type;
	table_prep_kind target_table_prep;
	bool create_tables;
	int load_workers;
	int apply_workers;
	int64_t partition_rows;
	int64_t commit_rows;
	int64_t ring_size;  /* bytes */
	compression_kind spill_compression;
	int64_t spill_limit; /* bytes */
	char *slot_name;
	char *publication;
	int64_t server_id;
	invalid_values_kind invalid_values;
	string_list include;
	string_list exclude;
	string_list rename_schema;
	string_list rename_table;
	string_list rename_column;
	string_list exclude_column;
	string_list filter;
	bool validation;
	int64_t validation_interval_ms; /* validate worker: least time between two checks of a table */
	string_list lowercase; /* schema.table patterns whose target names are lowercased (rules.h) */
} task_config;

typedef struct ferryd_config {
	char *data_dir;
	char *log_dir;
	char *pid_file;
	log_level log_level;
	char *metrics_listen;
	int64_t restart_delay_ms;     /* first restart delay; doubles per crash */
	int64_t restart_delay_max_ms; /* backoff ceiling */
	int64_t restart_stable_ms;    /* a run this long resets the backoff */
	int crash_loop_max;           /* this many crashes ... */
	int64_t crash_loop_window_ms; /* ... within this window put the task in error */
	int64_t shutdown_timeout_ms;  /* graceful stop deadline, then SIGKILL */
} ferryd_config;

typedef struct ferry_config {
	char *path; /* absolute path of the file read */
	ferryd_config ferryd;
	endpoint_config *endpoints;
	int n_endpoints;
	task_config *tasks;
	int n_tasks;
} ferry_config;

/* Diagnostics collected while loading: every problem found, not just the first.
 * Each message already carries "file:line: " and names the key. */
typedef struct config_diag {
	string_list errors;
	string_list warnings;
} config_diag;

/* Reads and validates path. Returns the config, or NULL when diag->errors is non-empty.
 * Warnings (e.g. a password_file readable by others) never fail the load. */
ferry_config *config_load(const char *path, config_diag *diag);
void config_free(ferry_config *cfg);
void config_diag_free(config_diag *diag);

const endpoint_config *config_find_endpoint(const ferry_config *cfg, const char *name);
const task_config *config_find_task(const ferry_config *cfg, const char *name);

/* Calls report() for each key whose value differs between old and new but cannot change
 * without a restart ("section", "key"). Returns how many there were. */
typedef void (*config_restart_key_fn)(const char *section, const char *key, void *arg);
int config_restart_keys_changed(const ferry_config *old_cfg, const ferry_config *new_cfg,
				config_restart_key_fn report, void *arg);

/* The endpoint's password from password_file (first line, newline stripped) or
 * password_env; NULL with *err set (malloc'd, caller frees) when unreadable; NULL and
 * *err NULL when none is configured (libpq may then use ~/.pgpass). Caller frees. */
char *endpoint_read_password(const endpoint_config *ep, char **err);

/* Value parsers shared with ferryctl and the tests. 0 on success, -1 on a bad value. */
int config_parse_size(const char *s, int64_t *bytes);     /* 64MB, 10GB, 512kB, 1024 */
int config_parse_duration(const char *s, int64_t *ms);    /* 5s, 200ms, 2min, 1h */
int config_parse_bool(const char *s, bool *out);          /* yes/no, on/off, true/false, 1/0 */

void string_list_add(string_list *list, const char *value);
/* Appends a copy of value read at line of the file; keeps lines parallel to items. */
void string_list_add_line(string_list *list, const char *value, int line);
void string_list_free(string_list *list);

/* Additions (config engineer) ------------------------------------------------------
 * - config_load appends to diag (initialise it to {0}); it fails only on errors found in
 *   this call. Optional string and path keys are NULL when unset or empty; path keys are
 *   absolute (relative ones are taken from the config file's directory); endpoint port
 *   is resolved to the engine default when not set. A file without any [task] is valid:
 *   ferryd then runs with nothing to do.
 * - config_restart_keys_changed names sections "ferryd", "endpoint NAME", "task NAME"
 *   (print them as "[%s] %s"); a task only in new_cfg is reported with key "(added)",
 *   one only in old_cfg with "(removed)". Endpoints present in only one side are not
 *   reported (a task using one is).
 * - The key table itself (types, defaults, reloadable, docs) is in common/config_keys.h. */

/* Copies every reloadable key (config_keys.h) from new_cfg into running, for [ferryd] and
 * for endpoints and tasks present in both; restart-only keys keep their running values,
 * as PostgreSQL does. Returns how many values changed. */
int config_apply_reloadable(ferry_config *running, const ferry_config *new_cfg);

#endif
