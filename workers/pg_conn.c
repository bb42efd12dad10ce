/* libpq connection setup, failure classification, liveness check and version. */
#include "workers/pg_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* A fragment of libpq's (or the server's) message and what it means. libpq gives no
 * SQLSTATE for a failed connection, so the text is all there is. The first match wins:
 * specific texts come before general ones. A server with a non-English lc_messages
 * matches nothing, and an unknown failure counts as transient (retried with backoff). */
typedef struct pg_failure {
	const char *text;
	endpoint_result result;
	const char *hint;
} pg_failure;

#define HINT_PASSWORD "check the password in password_file or password_env (or ~/.pgpass)"
#define HINT_HBA "allow this client host, user and database in the server's pg_hba.conf"
#define HINT_RUNNING "is the server running and accepting TCP/IP connections there?"

static const pg_failure pg_failures[] = {
	{"password authentication failed", ENDPOINT_FATAL, HINT_PASSWORD},
	{"no pg_hba.conf entry", ENDPOINT_FATAL, HINT_HBA},
	{"pg_hba.conf rejects", ENDPOINT_FATAL, HINT_HBA},
	{"authentication failed", ENDPOINT_FATAL, "check user and the authentication method pg_hba.conf sets for it"},
	{"server does not support SSL", ENDPOINT_FATAL, "enable ssl on the server or set a lower sslmode"},
	{"certificate", ENDPOINT_FATAL, "check sslrootcert, sslcert and sslkey against the server's certificate"},
	{"private key", ENDPOINT_FATAL, "check sslkey"},
	{"not permitted to log in", ENDPOINT_FATAL, "grant LOGIN to the role (ALTER ROLE ... LOGIN)"},
	{"replication role", ENDPOINT_FATAL, "grant REPLICATION to the user (ALTER ROLE ... REPLICATION)"},
	{"permission denied", ENDPOINT_FATAL, "grant CONNECT on the database to the user"},
	{"too many connections", ENDPOINT_TRANSIENT, "a connection limit is reached; retrying"},
	{"too many clients", ENDPOINT_TRANSIENT, "the server's max_connections is reached; retrying"},
	{"remaining connection slots", ENDPOINT_TRANSIENT, "the server's max_connections is reached; retrying"},
	{"not currently accepting connections", ENDPOINT_TRANSIENT, "the database does not allow connections now; retrying"},
	{"role \"", ENDPOINT_FATAL, "create the role on the server or fix user"},
	{"database \"", ENDPOINT_FATAL, "create the database or fix dbname"},
	{"Connection refused", ENDPOINT_TRANSIENT, HINT_RUNNING},
	{"timeout expired", ENDPOINT_TRANSIENT, "no answer within connect_timeout; check host, port and the network"},
	{"could not translate host name", ENDPOINT_TRANSIENT, "check host (the name does not resolve)"},
	{"starting up", ENDPOINT_TRANSIENT, "retrying"},
	{"shutting down", ENDPOINT_TRANSIENT, "retrying"},
	{"recovery mode", ENDPOINT_TRANSIENT, "retrying"},
	{"not yet accepting connections", ENDPOINT_TRANSIENT, "retrying"},
	{"not accepting connections", ENDPOINT_TRANSIENT, "retrying"},
};

/* libpq appends one message per address tried; the last attempt is what finally failed. */
static const char *last_attempt(const char *msg)
{
	const char *last = msg;
	for (const char *p = strstr(msg, "connection to server"); p; p = strstr(p + 1, "connection to server"))
		if (p == msg || p[-1] == '\n')
			last = p;
	return last;
}

/* The first line of p, trailing blanks removed. */
static void first_line(const char *p, char *out, size_t size)
{
	size_t n = strcspn(p, "\n");
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\r' || p[n - 1] == '\t'))
		n--;
	if (n == 0) {
		p = "unknown error";
		n = strlen(p);
	}
	snprintf(out, size, "%.*s", (int)n, p);
}

/* The useful part of a libpq message: its first line without "connection to server at
 * ... failed: " and the "FATAL:  " severity. */
static void summarize(const char *msg, char *out, size_t size)
{
	const char *p = msg;
	const char *eol = strchr(p, '\n');
	const char *failed = strstr(p, " failed: ");
	if (failed && (!eol || failed < eol))
		p = failed + strlen(" failed: ");
	static const char *severities[] = {"FATAL:  ", "ERROR:  "};
	for (size_t i = 0; i < sizeof severities / sizeof severities[0]; i++)
		if (strncmp(p, severities[i], strlen(severities[i])) == 0) {
			p += strlen(severities[i]);
			break;
		}
	first_line(p, out, size);
}

endpoint_result pg_conn_classify(const char *libpq_message, bool needs_password, char *why, size_t why_size)
{
	const char *attempt = last_attempt(libpq_message ? libpq_message : "");
	char summary[ENDPOINT_MESSAGE_MAX];
	summarize(attempt, summary, sizeof summary);
	if (needs_password) {
		snprintf(why, why_size, "the server asks for a password and none is configured: "
			 "set password_file or password_env (or add an entry to ~/.pgpass)");
		return ENDPOINT_FATAL;
	}
	for (size_t i = 0; i < sizeof pg_failures / sizeof pg_failures[0]; i++) {
		if (strstr(attempt, pg_failures[i].text)) {
			snprintf(why, why_size, "%s: %s", summary, pg_failures[i].hint);
			return pg_failures[i].result;
		}
	}
	snprintf(why, why_size, "%s", summary);
	return ENDPOINT_TRANSIENT;
}

static const char *sslmode_keyword(sslmode_kind mode)
{
	switch (mode) {
	case SSLMODE_DISABLE: return "disable";
	case SSLMODE_PREFER: return "prefer";
	case SSLMODE_REQUIRE: return "require";
	case SSLMODE_VERIFY_CA: return "verify-ca";
	case SSLMODE_VERIFY_FULL: return "verify-full";
	}
	return "prefer";
}

typedef struct pg_params {
	const char *keys[20];
	const char *values[20];
	int count;
} pg_params;

static void add_param(pg_params *p, const char *key, const char *value)
{
	if (value == NULL || value[0] == '\0' || p->count >= 19)
		return;
	p->keys[p->count] = key;
	p->values[p->count] = value;
	p->count++;
	p->keys[p->count] = NULL;
	p->values[p->count] = NULL;
}

endpoint_result pg_conn_open(const endpoint_config *ep, const char *password, const char *app_name,
			     PGconn **out, char *why, size_t why_size)
{
	return pg_conn_open_with(ep, password, app_name, NULL, out, why, why_size);
}

endpoint_result pg_conn_open_with(const endpoint_config *ep, const char *password, const char *app_name,
				  const pg_conn_extra *extra, PGconn **out, char *why, size_t why_size)
{
	char port[16] = "", timeout[16] = "";
	if (ep->port > 0)
		snprintf(port, sizeof port, "%d", ep->port);
	if (ep->connect_timeout_s > 0)
		snprintf(timeout, sizeof timeout, "%d", ep->connect_timeout_s);
	pg_params p = {.count = 0};
	add_param(&p, "host", ep->host);
	add_param(&p, "port", port);
	add_param(&p, "dbname", ep->dbname);
	add_param(&p, "user", ep->user);
	add_param(&p, "password", password); /* absent: libpq reads ~/.pgpass */
	add_param(&p, "sslmode", sslmode_keyword(ep->sslmode));
	add_param(&p, "sslrootcert", ep->sslrootcert);
	add_param(&p, "sslcert", ep->sslcert);
	add_param(&p, "sslkey", ep->sslkey);
	add_param(&p, "connect_timeout", timeout);
	add_param(&p, "application_name", app_name);
	add_param(&p, "client_encoding", "UTF8");
	if (extra != NULL) {
		add_param(&p, "replication", extra->replication);
		add_param(&p, "options", extra->options);
	}

	*out = NULL;
	/* expand_dbname = 0: a dbname is a name, never parsed as a connection string. */
	PGconn *conn = PQconnectdbParams(p.keys, p.values, 0);
	if (conn == NULL) {
		snprintf(why, why_size, "out of memory");
		return ENDPOINT_TRANSIENT;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		endpoint_result r = pg_conn_classify(PQerrorMessage(conn), PQconnectionNeedsPassword(conn), why, why_size);
		PQfinish(conn);
		return r;
	}
	*out = conn;
	return ENDPOINT_OK;
}

endpoint_result pg_conn_check(PGconn *conn, char *why, size_t why_size)
{
	if (PQstatus(conn) == CONNECTION_OK) {
		PGresult *res = PQexec(conn, "");
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		PQclear(res);
		if (st == PGRES_EMPTY_QUERY && PQstatus(conn) == CONNECTION_OK)
			return ENDPOINT_OK;
	}
	char summary[ENDPOINT_MESSAGE_MAX];
	summarize(PQerrorMessage(conn), summary, sizeof summary);
	snprintf(why, why_size, "connection lost: %s", summary);
	return ENDPOINT_TRANSIENT;
}

void pg_conn_server_label(PGconn *conn, char *buf, size_t size)
{
	int v = PQserverVersion(conn);
	if (v >= 100000)
		snprintf(buf, size, "PostgreSQL %d.%d", v / 10000, v % 10000);
	else
		snprintf(buf, size, "PostgreSQL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}

endpoint_result pg_conn_require_version(PGconn *conn, int min_version, char *why, size_t why_size)
{
	if (PQserverVersion(conn) >= min_version)
		return ENDPOINT_OK;
	char label[64];
	pg_conn_server_label(conn, label, sizeof label);
	snprintf(why, why_size, "%s is too old: ferry needs PostgreSQL %d or later here; upgrade the server",
		 label, min_version / 10000);
	return ENDPOINT_FATAL;
}

/* Server notices (and the FATAL a server sends before closing an idle connection) go to
 * our log instead of stderr. */
static void log_notice(void *arg, const char *message)
{
	char line[ENDPOINT_MESSAGE_MAX];
	first_line(message, line, sizeof line);
	log_info("server %s says: %s", (const char *)arg, line);
}

void pg_conn_log_notices(PGconn *conn, const char *label)
{
	PQsetNoticeProcessor(conn, log_notice, (void *)label);
}

int pg_conn_set_blocking(PGconn *conn)
{
	if (!PQisnonblocking(conn))
		return 0;
	int pending;
	while ((pending = PQflush(conn)) == 1) {
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLOUT | POLLIN};
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			return -1;
		if ((pfd.revents & POLLIN) && !PQconsumeInput(conn))
			return -1;
	}
	return pending == 0 ? PQsetnonblocking(conn, 0) : -1;
}
