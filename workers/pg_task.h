/* What the PostgreSQL workers of a task share: opening the task's connections (the
 * ordinary ones through endpoint.h, capture's replication connection here), and the
 * task's tables: the source catalog with the rules applied and the name map the DDL
 * builder and the loader take. Built once per process at start, never per row. */
#ifndef FERRY_PG_TASK_H
#define FERRY_PG_TASK_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/catalog.h"
#include "common/rules.h"
#include "ipc/codec.h"
#include "ipc/taskstate.h"
#include "workers/endpoint.h"
#include "workers/worker.h"

/* Internal result of the PostgreSQL workers' loops: stop requested or work finished
 * (exit 0). Distinct from 0, which means "go on"; the mains turn it into
 * FERRY_EXIT_DONE. */
#define PG_TASK_FINISHED 100

/* Whether this task is one the PostgreSQL workers run: both endpoints PostgreSQL. */
bool pg_task_is_pg_to_pg(const task_config *task);

/* The codec of spill_compression. */
codec_id pg_task_codec(const task_config *task);
/* The spill directory shared by capture and the task's apply workers (data_dir). */
void pg_task_spill_dir(const worker_context *ctx, char *buf, size_t size);

/* The task's index in the config (taskstate_for_task's argument). */
int pg_task_index(const worker_context *ctx);

/* Fails the worker: logs message once, records it in its status slot. Returns code. */
int pg_task_fail(worker_context *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* FERRY_EXIT_* code for an endpoint result. */
int pg_task_exit_code(endpoint_result r);

/* Opens an ordinary connection to the task's source or target ("ferry capture t").
 * On failure: fails the worker and returns the exit code; 0 on success. */
int pg_task_connect(worker_context *ctx, endpoint_role role, endpoint_conn **out);
/* Opens the replication connection (replication=database, the session options of
 * pg_value_session_options()). 0, or the exit code after failing the worker. */
int pg_task_connect_replication(worker_context *ctx, PGconn **out);

/* The selected source tables, with their rules. tables[i] belongs to cat->tables[idx[i]]. */
typedef struct pg_task_tables {
	rules *rules;
	catalog *cat;
	rules_table *resolved;  /* per catalog table; source_name NULL = not selected */
	catalog_name_map map;   /* renames and exclusions for pg_ddl and pg_load */
	char **schema_cache;    /* rules_target_schema() results the map handed out */
	int n_schema_cache;
} pg_task_tables;

/* Compiles the rules and reads the selected tables' catalog on conn (in the caller's
 * transaction, if one is open). 0, or -1 with *err (malloc'd). */
int pg_task_tables_read(PGconn *conn, const task_config *task, pg_task_tables *out, char **err);
/* The same for any source engine: read fills *out with the source's catalog of the
 * tables keep() selects (keep(keep_arg, schema, name)); 0, or -1 with *err. */
typedef int (*pg_task_catalog_fn)(void *arg, const task_config *task, bool (*keep)(void *, const char *, const char *),
				  void *keep_arg, catalog **out, char **err);
int pg_task_tables_read_with(const task_config *task, pg_task_catalog_fn read, void *arg, pg_task_tables *out,
			     char **err);
void pg_task_tables_free(pg_task_tables *tt);
bool pg_task_table_selected(const pg_task_tables *tt, int i);
/* "schema"."name" of a catalog table, into buf. */
void pg_task_quoted_name(const char *schema, const char *name, char *buf, size_t size);
/* Index in tt->cat of the table with this oid, or -1. */
int pg_task_find_oid(const pg_task_tables *tt, uint64_t oid);

#endif
