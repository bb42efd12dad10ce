/* libpq connections: open one from an endpoint's settings, classify why it failed,
 * check it is still alive, and read the server's version. Messages written to `why`
 * say what happened and what to do, without the endpoint prefix (endpoint.c adds it). */
#ifndef FERRY_PG_CONN_H
#define FERRY_PG_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/config.h"
#include "workers/endpoint.h"

/* Oldest PostgreSQL a source may run (logical replication with pgoutput as ferry uses it). */
#define PG_MIN_SOURCE_VERSION 120000

/* password may be NULL: libpq then looks in ~/.pgpass (or PGPASSFILE). */
endpoint_result pg_conn_open(const endpoint_config *ep, const char *password, const char *app_name,
			     PGconn **out, char *why, size_t why_size);

/* Further connection keywords: replication ("database" for a logical replication
 * connection) and options (session settings); NULL or empty = not given. */
typedef struct pg_conn_extra {
	const char *replication;
	const char *options;
} pg_conn_extra;

/* pg_conn_open with the extra keywords; every endpoint setting (ssl too) applies. */
endpoint_result pg_conn_open_with(const endpoint_config *ep, const char *password, const char *app_name,
				  const pg_conn_extra *extra, PGconn **out, char *why, size_t why_size);

/* Classifies a failed connection from libpq's message; needs_password is
 * PQconnectionNeedsPassword(). Exposed for tests. */
endpoint_result pg_conn_classify(const char *libpq_message, bool needs_password, char *why, size_t why_size);

/* Sends the server's notices to our log, prefixed with label (which must outlive conn). */
void pg_conn_log_notices(PGconn *conn, const char *label);

/* Sends an empty query: TRANSIENT with why when the server is gone. */
endpoint_result pg_conn_check(PGconn *conn, char *why, size_t why_size);

/* "PostgreSQL 15.4" */
void pg_conn_server_label(PGconn *conn, char *buf, size_t size);

/* OK when the server is at least min_version (PQserverVersion form: 120000 = 12),
 * FATAL with why otherwise. */
/* Puts a non-blocking connection back into blocking mode. libpq flushes the send queue
 * when switching and fails, with no message, if the socket cannot take it all at once
 * (a busy server): this waits until everything is sent, reading what the server sends
 * meanwhile so neither side stalls. 0, or -1 when the connection broke. */
int pg_conn_set_blocking(PGconn *conn);

endpoint_result pg_conn_require_version(PGconn *conn, int min_version, char *why, size_t why_size);

#endif
