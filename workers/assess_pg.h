/* Shared by the PostgreSQL source and target sides of the assessment. */
#ifndef FERRY_ASSESS_PG_H
#define FERRY_ASSESS_PG_H

#include "workers/assess.h"
#include "workers/endpoint.h"

/* Connects to the task's source or target, reports "<role> reachable" (OK with the
 * server, address and user; FAIL with what to do) and makes the session read-only
 * with a statement timeout. 0 with *out, or -1 (reported). */
int assess_pg_connect(assess_task *at, endpoint_role role, endpoint_conn **out);

/* The target side: privileges, bookkeeping schema, existing tables against the source
 * catalog, column types. */
void assess_pg_target(assess_task *at);

#endif
