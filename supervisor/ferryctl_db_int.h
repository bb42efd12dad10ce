/* ferryctl validate and cutover: what they share (ferryctl_db.c) and the validation of a
 * task's tables (ferryctl_validate.c) that cutover ends with. */
#ifndef FERRY_FERRYCTL_DB_INT_H
#define FERRY_FERRYCTL_DB_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "common/config.h"
#include "supervisor/jsonbuf.h"
#include "supervisor/jsonparse.h"
#include "workers/pg_validate_task.h"

#define FC_EXIT_OK 0
#define FC_EXIT_NOT_OK 1 /* differences / no-go */
#define FC_EXIT_ERROR 2

typedef struct fc_ctx {
	ferry_config *cfg;
	const task_config *task;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	json_value *status;            /* ferryd's last status (owned); NULL when not running */
	const json_value *task_status; /* the task in it, or NULL */
	bool json;
	vd_env env;
} fc_ctx;

/* Loads the configuration (errors printed), logs to stderr at warning level. 0 or -1. */
int fc_load(fc_ctx *c, const char *config_path);
void fc_free(fc_ctx *c);
/* Picks the task: named, or the only one. 0, or -1 after printing why. */
int fc_pick_task(fc_ctx *c, const char *name);
/* The task is one validation handles (vd_task_pair_supported). 0, or -1 printed. */
int fc_check_pair(const fc_ctx *c, const task_config *task);

/* Asks ferryd for its status. 0 with c->status (and c->task_status for c->task), 1 when
 * ferryd is not running, -1 with err. */
int fc_refresh_status(fc_ctx *c, char *err, size_t errlen);
/* The task's state of a table ("in-sync", ...), or NULL. */
const char *fc_table_state(const fc_ctx *c, const char *label);
/* Whether the target follows the source now: ferryd runs the task with CDC. */
bool fc_live(const fc_ctx *c);

/* Sets c->env: waits that a Ctrl-C (SIGINT/SIGTERM) ends, positions from ferryd. */
void fc_env_init(fc_ctx *c, bool live);
/* Set by SIGINT/SIGTERM. */
bool fc_interrupted(void);
/* Sleeps ms (a signal ends it early). */
void fc_sleep_ms(int ms);
uint64_t fc_now_ms(void);

/* A sequence or AUTO_INCREMENT counter cutover set on the target. */
typedef struct fc_counter {
	char *name;       /* "schema"."sequence", or the target table's label for AUTO_INCREMENT */
	char *column;     /* "schema"."table".column (source) */
	int64_t source_last; /* the source's last value (sequence last_value, AUTO_INCREMENT - 1) */
	char *set_to;     /* the value set: setval's, or the table's next AUTO_INCREMENT; NULL when it failed */
	char *error;
} fc_counter;

/* The counters of a task with MySQL on a side (ferryctl_db_counters.c): a MySQL target's
 * AUTO_INCREMENT set past the larger of the migrated maximum and the source's counter
 * (ALTER TABLE ... AUTO_INCREMENT), a PostgreSQL target's identity sequence of a MySQL
 * AUTO_INCREMENT column likewise (setval). Appended to *list (n, grown). 0, or -1 when
 * memory runs out; failures are in each counter's error. */
int fc_counters_mysql(vd_pg_pool *pool, const vd_pg_task *vt, fc_counter **list, int *n);
void fc_counter_free(fc_counter *c);

/* A task's validation: one result per table (skipped ones included). */
typedef struct fc_validation {
	vd_pg_task vt;
	vd_table_result *results;
	bool *compared;       /* [i]: tables[i] was asked for (--table) */
	bool live;
	int n_equal, n_different, n_skipped, n_error;
	int64_t rows, differing, unsettled;
	double seconds;
} fc_validation;

/* Validates the tables of c->task (table: only that one; NULL = all) over lanes
 * connections per side, printing a line per table unless c->json. 0, or -1 after
 * printing why (connections, catalog, an unknown table, interrupted). */
int fc_validate_task(fc_ctx *c, const char *table, int lanes, int max_report, fc_validation *v);
void fc_validation_free(fc_validation *v);
/* The differences in text. */
void fc_validation_print_diffs(const fc_validation *v);
/* "equal", "different" (differences or tables not compared) or "error". */
const char *fc_validation_result(const fc_validation *v);
/* The validation as a JSON object (doc/validate.md). */
void fc_validation_json(const fc_ctx *c, const fc_validation *v, jsonbuf *jb);

#endif
