/* Engine-neutral endpoint connections: reads the password, dispatches to the engine,
 * checks a source's version, and puts "which endpoint, where, as whom" in front of
 * every failure message. */
#include "workers/endpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/mysql_conn.h"
#include "workers/pg_conn.h"

const char *endpoint_role_name(endpoint_role role)
{
	return role == ENDPOINT_SOURCE ? "source" : "target";
}

static const char *engine_label(engine_kind engine)
{
	return engine == ENGINE_POSTGRESQL ? "PostgreSQL" : "MySQL";
}

static void describe(endpoint_conn *c, const endpoint_config *ep, endpoint_role role)
{
	c->engine = ep->engine;
	c->role = role;
	snprintf(c->name, sizeof c->name, "%s", ep->name ? ep->name : "?");
	int port = ep->port > 0 ? ep->port : ep->engine == ENGINE_POSTGRESQL ? 5432 : 3306;
	const char *host = ep->host && ep->host[0] ? ep->host : "localhost";
	snprintf(c->address, sizeof c->address, "%s:%d", host, port);
	snprintf(c->user, sizeof c->user, "%s", ep->user && ep->user[0] ? ep->user : "(default)");
}

/* "source endpoint pgsrc (PostgreSQL at 127.0.0.1:5433, user ferry): <why>" */
static void report(const endpoint_conn *c, char *message, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report(const endpoint_conn *c, char *message, size_t size, const char *fmt, ...)
{
	int n = snprintf(message, size, "%s endpoint %s (%s at %s, user %s): ", endpoint_role_name(c->role), c->name,
			 engine_label(c->engine), c->address, c->user);
	if (n < 0 || (size_t)n >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message + n, size - (size_t)n, fmt, ap);
	va_end(ap);
}

/* config.c's messages start with "endpoint NAME: ", which our prefix already says. */
static const char *without_name(const char *text, const char *name)
{
	char prefix[160];
	snprintf(prefix, sizeof prefix, "endpoint %s: ", name);
	size_t n = strlen(prefix);
	return strncmp(text, prefix, n) == 0 ? text + n : text;
}

/* The password lives only as long as the connect call; wipe it before freeing. */
static void discard_password(char *password)
{
	if (password == NULL)
		return;
	explicit_bzero(password, strlen(password));
	free(password);
}

static endpoint_result open_engine(endpoint_conn *c, const endpoint_config *ep, const char *password,
				   const char *app_name, char *why, size_t size)
{
	if (ep->engine == ENGINE_POSTGRESQL) {
		PGconn *pg = NULL;
		endpoint_result r = pg_conn_open(ep, password, app_name, &pg, why, size);
		c->pg = pg;
		if (r == ENDPOINT_OK && c->role == ENDPOINT_SOURCE)
			r = pg_conn_require_version(pg, PG_MIN_SOURCE_VERSION, why, size);
		if (r == ENDPOINT_OK) {
			pg_conn_server_label(pg, c->server, sizeof c->server);
			c->tls = PQsslInUse(pg);
			pg_conn_log_notices(pg, c->name);
		}
		return r;
	}
	MYSQL *mysql = NULL;
	endpoint_result r = mysql_conn_open(ep, password, app_name, &mysql, why, size);
	c->mysql = mysql;
	if (r == ENDPOINT_OK && c->role == ENDPOINT_SOURCE)
		r = mysql_conn_require_source_version(mysql, why, size);
	if (r == ENDPOINT_OK) {
		mysql_conn_server_label(mysql, c->server, sizeof c->server);
		c->tls = mysql_get_ssl_cipher(mysql) != NULL;
	}
	return r;
}

endpoint_result endpoint_connect(const endpoint_config *ep, endpoint_role role, const char *app_name,
				 endpoint_conn **out, char *message, size_t message_size)
{
	*out = NULL;
	endpoint_conn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(message, message_size, "%s endpoint %s: out of memory", endpoint_role_name(role), ep->name);
		return ENDPOINT_TRANSIENT;
	}
	describe(c, ep, role);

	char *err = NULL;
	char *password = endpoint_read_password(ep, &err);
	if (password == NULL && err != NULL) {
		report(c, message, message_size, "%s: fix password_file or password_env", without_name(err, c->name));
		free(err);
		endpoint_close(c);
		return ENDPOINT_FATAL;
	}
	char why[ENDPOINT_MESSAGE_MAX];
	endpoint_result r = open_engine(c, ep, password, app_name, why, sizeof why);
	discard_password(password);
	if (r != ENDPOINT_OK) {
		report(c, message, message_size, "%s", why);
		endpoint_close(c);
		return r;
	}
	*out = c;
	return ENDPOINT_OK;
}

endpoint_result endpoint_check(endpoint_conn *conn, char *message, size_t message_size)
{
	char why[ENDPOINT_MESSAGE_MAX];
	endpoint_result r = conn->pg ? pg_conn_check(conn->pg, why, sizeof why)
				     : mysql_conn_check(conn->mysql, why, sizeof why);
	if (r != ENDPOINT_OK)
		report(conn, message, message_size, "%s", why);
	return r;
}

int endpoint_socket(const endpoint_conn *conn)
{
	return conn->pg ? PQsocket(conn->pg) : (int)mysql_get_socket(conn->mysql);
}

void endpoint_close(endpoint_conn *conn)
{
	if (conn == NULL)
		return;
	if (conn->pg)
		PQfinish(conn->pg);
	if (conn->mysql)
		mysql_close(conn->mysql);
	free(conn);
}
