/* One engine-neutral way to open a connection to a configured endpoint, with every
 * failure classified (retry later or give up) and described in one line that names the
 * endpoint, its address and user and says what to do. Passwords and connection strings
 * never appear in these messages. */
#ifndef FERRY_ENDPOINT_H
#define FERRY_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

typedef enum endpoint_result {
	ENDPOINT_OK = 0,
	ENDPOINT_TRANSIENT, /* may go away by itself: server down, unreachable, full, starting */
	ENDPOINT_FATAL      /* needs a person: credentials, unknown user/database, privileges, TLS */
} endpoint_result;

typedef enum endpoint_role { ENDPOINT_SOURCE, ENDPOINT_TARGET } endpoint_role;

/* Room for one message; fits a worker status slot's last_error. */
#define ENDPOINT_MESSAGE_MAX 512

struct pg_conn;  /* libpq's PGconn */
struct st_mysql; /* Connector/C's MYSQL */

/* An open connection. The names are copies: the config it came from may be reloaded
 * and freed while the connection lives. */
typedef struct endpoint_conn {
	engine_kind engine;
	endpoint_role role;
	char name[128];    /* endpoint name from the config */
	char address[320]; /* "host:port" as configured */
	char user[128];
	char server[96];   /* "PostgreSQL 15.4", "MariaDB 10.11.6" */
	bool tls;          /* the connection is encrypted */
	struct pg_conn *pg;     /* set when engine = postgresql */
	struct st_mysql *mysql; /* set when engine = mysql */
} endpoint_conn;

/* Connects to ep. app_name is shown by the server (pg_stat_activity application_name,
 * MySQL's program_name attribute). On failure *out is NULL and message holds the
 * reason; on success *out is owned by the caller (endpoint_close). */
endpoint_result endpoint_connect(const endpoint_config *ep, endpoint_role role, const char *app_name,
				 endpoint_conn **out, char *message, size_t message_size);

/* One cheap round trip: is the server still there? TRANSIENT with message when not. */
endpoint_result endpoint_check(endpoint_conn *conn, char *message, size_t message_size);

/* The connection's socket, to wait on: it becomes readable when the server closes it. */
int endpoint_socket(const endpoint_conn *conn);

void endpoint_close(endpoint_conn *conn);

const char *endpoint_role_name(endpoint_role role);

#endif
