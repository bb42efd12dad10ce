/* Shared by the MySQL/MariaDB source and target sides of the assessment. */
#ifndef FERRY_ASSESS_MY_H
#define FERRY_ASSESS_MY_H

#include "workers/assess.h"
#include "workers/endpoint.h"

/* Connects to the task's source or target, reports "<role> reachable" (OK with the
 * server, address and user; FAIL with what to do) and makes the session read-only
 * (SET SESSION TRANSACTION READ ONLY). 0 with *out, or -1 (reported). */
int assess_my_connect(assess_task *at, endpoint_role role, endpoint_conn **out);

/* The target side: local_infile, privileges on the target databases and on ferry's
 * bookkeeping database, the target's limits for every selected table, and which
 * target tables exist already against target_table_prep and create_tables. */
void assess_my_target(assess_task *at);

#endif
