/* MariaDB Connector/C connection setup, failure classification, liveness check and
 * version. */
#include "workers/mysql_conn.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

/* MySQL 8's "Connections using insecure transport are prohibited" (not in MariaDB's
 * headers). */
#define MYSQL_ER_SECURE_TRANSPORT_REQUIRED 3159

typedef struct mysql_failure {
	unsigned int err;
	endpoint_result result;
	const char *hint;
} mysql_failure;

#define HINT_LOGIN "check user and the password in password_file or password_env, and that the user may connect from this host"
#define HINT_PLUGIN "the user's authentication plugin is not supported by this client; use mysql_native_password or caching_sha2_password"
#define HINT_RUNNING "is the server running and accepting TCP/IP connections there?"

/* Anything not listed is treated as transient: retried with backoff, reported each time. */
static const mysql_failure mysql_failures[] = {
	{ER_ACCESS_DENIED_ERROR, ENDPOINT_FATAL, HINT_LOGIN},
	{ER_ACCESS_DENIED_NO_PASSWORD_ERROR, ENDPOINT_FATAL, HINT_LOGIN},
	/* Also what a user without privileges sees for a database that does not exist. */
	{ER_DBACCESS_DENIED_ERROR, ENDPOINT_FATAL, "grant the user access to the database (or fix dbname)"},
	{ER_BAD_DB_ERROR, ENDPOINT_FATAL, "create the database or fix dbname"},
	{ER_HOST_NOT_PRIVILEGED, ENDPOINT_FATAL, "create the user for this client host on the server"},
	{ER_HOST_IS_BLOCKED, ENDPOINT_FATAL, "too many failed connects from this host: run FLUSH HOSTS on the server"},
	{ER_SPECIFIC_ACCESS_DENIED_ERROR, ENDPOINT_FATAL, "grant the user the privilege named"},
	{ER_MUST_CHANGE_PASSWORD_LOGIN, ENDPOINT_FATAL, "the password has expired: set a new one"},
	{ER_ACCOUNT_HAS_BEEN_LOCKED, ENDPOINT_FATAL, "unlock the account (ALTER USER ... ACCOUNT UNLOCK)"},
	{ER_NOT_SUPPORTED_AUTH_MODE, ENDPOINT_FATAL, HINT_PLUGIN},
	{CR_AUTH_PLUGIN_CANNOT_LOAD, ENDPOINT_FATAL, HINT_PLUGIN},
	{CR_SSL_CONNECTION_ERROR, ENDPOINT_FATAL, "check sslmode, sslrootcert, sslcert, sslkey and the server's TLS setup"},
	{MYSQL_ER_SECURE_TRANSPORT_REQUIRED, ENDPOINT_FATAL, "the server requires TLS: set sslmode = require or stricter"},
	{CR_CONNECTION_ERROR, ENDPOINT_TRANSIENT, HINT_RUNNING},
	{CR_CONN_HOST_ERROR, ENDPOINT_TRANSIENT, HINT_RUNNING},
	{CR_UNKNOWN_HOST, ENDPOINT_TRANSIENT, "check host (the name does not resolve)"},
	{CR_SERVER_LOST, ENDPOINT_TRANSIENT, "no complete answer within connect_timeout; check host, port and the network"},
	{CR_SERVER_GONE_ERROR, ENDPOINT_TRANSIENT, "retrying"},
	{ER_CON_COUNT_ERROR, ENDPOINT_TRANSIENT, "the server's max_connections is reached; retrying"},
	{ER_TOO_MANY_USER_CONNECTIONS, ENDPOINT_TRANSIENT, "the user's connection limit is reached; retrying"},
	{ER_SERVER_SHUTDOWN, ENDPOINT_TRANSIENT, "the server is shutting down; retrying"},
};

endpoint_result mysql_conn_classify(unsigned int err, const char *text, char *why, size_t why_size)
{
	for (size_t i = 0; i < sizeof mysql_failures / sizeof mysql_failures[0]; i++) {
		if (mysql_failures[i].err == err) {
			snprintf(why, why_size, "%s (error %u): %s", text, err, mysql_failures[i].hint);
			return mysql_failures[i].result;
		}
	}
	snprintf(why, why_size, "%s (error %u)", text, err);
	return ENDPOINT_TRANSIENT;
}

static void set_string_option(MYSQL *mysql, enum mysql_option option, const char *value)
{
	if (value != NULL && value[0] != '\0')
		mysql_optionsv(mysql, option, value);
}

/* sslmode as libpq defines it. Connector/C 3.3 falls back to plain text when the server
 * has no TLS even with MYSQL_OPT_SSL_ENFORCE, so `require` is checked after connecting.
 * It cannot verify the CA without the host name: verify-ca checks both, like verify-full. */
static void set_tls(MYSQL *mysql, const endpoint_config *ep)
{
	if (ep->sslmode == SSLMODE_DISABLE)
		return;
	my_bool on = 1;
	mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &on);
	if (ep->sslmode >= SSLMODE_VERIFY_CA)
		mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
	set_string_option(mysql, MYSQL_OPT_SSL_CA, ep->sslrootcert);
	set_string_option(mysql, MYSQL_OPT_SSL_CERT, ep->sslcert);
	set_string_option(mysql, MYSQL_OPT_SSL_KEY, ep->sslkey);
}

static const char *nonempty(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

endpoint_result mysql_conn_open(const endpoint_config *ep, const char *password, const char *app_name,
				MYSQL **out, char *why, size_t why_size)
{
	*out = NULL;
	MYSQL *mysql = mysql_init(NULL);
	if (mysql == NULL) {
		snprintf(why, why_size, "out of memory");
		return ENDPOINT_TRANSIENT;
	}
	if (ep->connect_timeout_s > 0) {
		unsigned int timeout = (unsigned int)ep->connect_timeout_s;
		mysql_optionsv(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	}
	mysql_optionsv(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (app_name != NULL)
		mysql_optionsv(mysql, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", app_name);
	set_tls(mysql, ep);

	unsigned int port = ep->port > 0 ? (unsigned int)ep->port : 0;
	if (!mysql_real_connect(mysql, nonempty(ep->host), nonempty(ep->user), password, nonempty(ep->dbname), port,
				NULL, 0)) {
		endpoint_result r = mysql_conn_classify(mysql_errno(mysql), mysql_error(mysql), why, why_size);
		mysql_close(mysql);
		return r;
	}
	if (ep->sslmode >= SSLMODE_REQUIRE && mysql_get_ssl_cipher(mysql) == NULL) {
		snprintf(why, why_size, "the server does not offer TLS but sslmode requires it: "
			 "enable TLS on the server or set a lower sslmode");
		mysql_close(mysql);
		return ENDPOINT_FATAL;
	}
	*out = mysql;
	return ENDPOINT_OK;
}

endpoint_result mysql_conn_check(MYSQL *mysql, char *why, size_t why_size)
{
	if (mysql_ping(mysql) == 0)
		return ENDPOINT_OK;
	snprintf(why, why_size, "connection lost: %s (error %u)", mysql_error(mysql), mysql_errno(mysql));
	return ENDPOINT_TRANSIENT;
}

void mysql_conn_server_label(MYSQL *mysql, char *buf, size_t size)
{
	unsigned long v = mysql_get_server_version(mysql);
	snprintf(buf, size, "%s %lu.%lu.%lu", mariadb_connection(mysql) ? "MariaDB" : "MySQL", v / 10000,
		 v / 100 % 100, v % 100);
}

endpoint_result mysql_conn_require_source_version(MYSQL *mysql, char *why, size_t why_size)
{
	int mariadb = mariadb_connection(mysql);
	unsigned long min = mariadb ? MARIADB_MIN_SOURCE_VERSION : MYSQL_MIN_SOURCE_VERSION;
	if (mysql_get_server_version(mysql) >= min)
		return ENDPOINT_OK;
	char label[64];
	mysql_conn_server_label(mysql, label, sizeof label);
	snprintf(why, why_size, "%s is too old: ferry needs %s or later here; upgrade the server", label,
		 mariadb ? "MariaDB 10.3" : "MySQL 5.7");
	return ENDPOINT_FATAL;
}
