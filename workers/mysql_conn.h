/* MySQL/MariaDB connections through MariaDB Connector/C: open one from an endpoint's
 * settings, classify why it failed, check it is still alive, read the server's version.
 * Messages written to `why` say what happened and what to do, without the endpoint
 * prefix (endpoint.c adds it). */
#ifndef FERRY_MYSQL_CONN_H
#define FERRY_MYSQL_CONN_H

#include <stddef.h>

#include <mysql.h>

#include "common/config.h"
#include "workers/endpoint.h"

/* Oldest servers a source may run (ROW binlog as ferry reads it). */
#define MYSQL_MIN_SOURCE_VERSION 50700UL
#define MARIADB_MIN_SOURCE_VERSION 100300UL

/* password may be NULL (no password sent). */
endpoint_result mysql_conn_open(const endpoint_config *ep, const char *password, const char *app_name,
				MYSQL **out, char *why, size_t why_size);

/* Classifies a failure from mysql_errno()/mysql_error(). Exposed for tests. */
endpoint_result mysql_conn_classify(unsigned int err, const char *text, char *why, size_t why_size);

/* mysql_ping: TRANSIENT with why when the server is gone. */
endpoint_result mysql_conn_check(MYSQL *mysql, char *why, size_t why_size);

/* "MariaDB 10.11.6" or "MySQL 8.0.36" */
void mysql_conn_server_label(MYSQL *mysql, char *buf, size_t size);

/* OK when a source server is recent enough, FATAL with why otherwise. */
endpoint_result mysql_conn_require_source_version(MYSQL *mysql, char *why, size_t why_size);

#endif
