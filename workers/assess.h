/* The pre-migration assessment (`ferryd --assess -c FILE`, `ferryctl -c FILE assess`):
 * for every task, connect to its source and target and run every check the task's
 * start would run, and those a person wants before the first start, without changing
 * anything on either side: no slot, no publication, no schema, no table. Sessions are
 * opened read-only (default_transaction_read_only), so a check that tried to write
 * would fail instead.
 *
 * The report lists per task each check with OK, WARNING, FAIL, SKIP (not needed for
 * this task) or N/A (could not run), and for each problem what to fix. Exit status of
 * the commands: 0 nothing fails, 1 something fails, 2 the assessment could not run
 * (bad configuration, or a part not available, e.g. an engine without checks yet).
 *
 * Engines plug in through assess_engine: the source side connects, runs its checks and
 * reads the selected tables into the neutral catalog; the target side connects, checks
 * its privileges and compares the existing tables with that catalog. Checks that need
 * only the catalog (selection, keys, name lengths) are common to every pair. */
#ifndef FERRY_ASSESS_H
#define FERRY_ASSESS_H

#include <stdbool.h>
#include <stdio.h>

#include "common/catalog.h"
#include "common/config.h"
#include "workers/endpoint.h"

typedef enum assess_level {
	ASSESS_OK = 0,
	ASSESS_SKIP,    /* not needed for this task (e.g. CDC checks of a full-load task) */
	ASSESS_WARNING, /* works, but a person should know */
	ASSESS_FAIL,    /* the task would fail or lose data: fix it first */
	ASSESS_NOT_RUN  /* the check could not run */
} assess_level;

typedef struct assess_item {
	assess_level level;
	char *check; /* "wal_level", "target tables" */
	char *text;  /* what was seen, or what is wrong and what to do; may span lines */
} assess_item;

typedef struct assess_report {
	assess_item *items;
	int n, cap;
} assess_report;

void assess_add(assess_report *r, assess_level level, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void assess_report_free(assess_report *r);
/* The worst level in the report (ASSESS_NOT_RUN counts below ASSESS_FAIL). */
assess_level assess_report_worst(const assess_report *r);

/* One task being assessed: what the source side found, for the target side and the
 * common checks. */
typedef struct assess_task {
	const ferry_config *config;
	const task_config *task;
	assess_report *report;
	char app_name[160];            /* for the servers' session lists: "ferry assess T" */
	/* Set by the source side; cat NULL when the source could not be read. */
	const catalog *cat;
	const bool *selected;          /* [i]: cat->tables[i] is migrated */
	const catalog_name_map *map;   /* target names (rename and exclusion rules) */
	int n_selected;
	void *source_state;            /* owned by the source engine */
} assess_task;

typedef struct assess_engine {
	engine_kind engine;
	const char *name;      /* "postgresql" */
	int max_name_bytes;    /* longest identifier the engine keeps as a target, in bytes */
	/* Either may be NULL: that side cannot be assessed yet. */
	void (*source)(assess_task *at);
	void (*target)(assess_task *at);
	void (*source_free)(assess_task *at); /* frees source_state */
} assess_engine;

extern const assess_engine assess_pg_engine;
extern const assess_engine assess_my_engine; /* workers/assess_my.c */

/* Assesses every task of cfg, or only the one named task (NULL: all), printing the
 * report to out. Returns the exit status: 0, 1 or 2 as above. */
int assess_run(const ferry_config *cfg, const char *task, FILE *out);

/* Connects to the task's source or target for an engine's checks: *ep is its endpoint,
 * *check the check that reports it ("source reachable"); a failure is reported there
 * and gives NULL. */
endpoint_conn *assess_connect(assess_task *at, endpoint_role role, const endpoint_config **ep, const char **check);

/* "12.3 MB": sizes in the report. */
void assess_format_bytes(int64_t bytes, char *buf, size_t size);

#endif
