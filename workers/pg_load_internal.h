/* Helpers shared by the pg_load modules (pg_load.c, pg_load_copy.c, pg_load_plan.c):
 * error values and checked statement execution. Not part of the engine's API. */
#ifndef FERRY_PG_LOAD_INTERNAL_H
#define FERRY_PG_LOAD_INTERNAL_H

#include <libpq-fe.h>

/* The bookkeeping tables, quoted (the wave's contract names them). */
#define PG_LOAD_PROGRESS_TABLE "\"ferry\".\"load_progress\""
#define PG_LOAD_PLAN_TABLE "\"ferry\".\"load_plan\""

/* Sets *err (malloc'd) to the formatted message; returns -1. */
int pg_load_fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets *err to "context: <server message> (detail: ...; hint: ...)" on one line, from res
 * when it carries an error, else from the connection; returns -1. */
int pg_load_fail_pg(char **err, const char *context, PGconn *conn, const PGresult *res);

/* Runs sql with text parameters and checks the result is `want`: the result, or NULL
 * with *err prefixed by context. */
PGresult *pg_load_exec(PGconn *conn, const char *sql, int n_params, const char *const *params,
		       ExecStatusType want, const char *context, char **err);

/* pg_load_exec for a command whose result is not needed: 0 or -1. */
int pg_load_command(PGconn *conn, const char *sql, int n_params, const char *const *params,
		    const char *context, char **err);

/* Whether the last failure on conn had this SQLSTATE (e.g. "23505"). */
int pg_load_sqlstate_is(const PGresult *res, const char *state);

#endif
