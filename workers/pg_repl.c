/* Replication-protocol client (PostgreSQL docs: "Streaming Replication Protocol"). */
#include "workers/pg_repl.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bytes.h"
#include "workers/pgoutput.h"

static int set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (err) {
		free(*err);
		*err = msg;
	} else {
		free(msg);
	}
	return -1;
}

/* libpq's message without its trailing newline. */
static const char *conn_message(PGconn *conn)
{
	static char buf[512];
	snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* Slot names are restricted by the server to lower-case letters, digits and '_', so they
 * can appear in replication commands without quoting games. */
static int check_slot_name(const char *slot, char **err)
{
	size_t n = strlen(slot);
	if (n == 0 || n > 63)
		return set_err(err, "replication slot name \"%s\" must be 1 to 63 characters", slot);
	for (size_t i = 0; i < n; i++) {
		char ch = slot[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return set_err(err, "replication slot name \"%s\" may contain only lower-case letters, digits and '_'", slot);
	}
	return 0;
}

static PGresult *run(PGconn *conn, const char *sql, ExecStatusType want, const char *what, char **err)
{
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != want) {
		set_err(err, "%s failed: %s", what, conn_message(conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

int pg_repl_identify(PGconn *conn, pg_system_info *info, char **err)
{
	PGresult *res = run(conn, "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, "IDENTIFY_SYSTEM", err);
	if (!res)
		return -1;
	int rc = 0;
	if (PQntuples(res) != 1 || PQnfields(res) < 3) {
		rc = set_err(err, "IDENTIFY_SYSTEM returned an unexpected result (is this a replication connection?)");
	} else {
		snprintf(info->systemid, sizeof info->systemid, "%s", PQgetvalue(res, 0, 0));
		info->timeline = atoi(PQgetvalue(res, 0, 1));
		if (pgo_parse_lsn(PQgetvalue(res, 0, 2), &info->xlogpos) < 0)
			rc = set_err(err, "IDENTIFY_SYSTEM returned a malformed position \"%s\"", PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return rc;
}

int pg_repl_create_slot(PGconn *conn, const char *slot, bool export_snapshot, char **snapshot,
			uint64_t *consistent_lsn, char **err)
{
	if (check_slot_name(slot, err) < 0)
		return -1;
	char sql[256];
	const char *snap_opt;
	/* PostgreSQL 15 changed the option syntax; older servers take the bare keyword. */
	if (PQserverVersion(conn) >= 150000)
		snap_opt = export_snapshot ? "(SNAPSHOT 'export')" : "(SNAPSHOT 'nothing')";
	else
		snap_opt = export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT";
	snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", slot, snap_opt);
	PGresult *res = run(conn, sql, PGRES_TUPLES_OK, "creating replication slot", err);
	if (!res)
		return -1;
	int rc = 0;
	if (PQntuples(res) != 1 || PQnfields(res) < 3) {
		rc = set_err(err, "CREATE_REPLICATION_SLOT returned an unexpected result");
	} else if (pgo_parse_lsn(PQgetvalue(res, 0, 1), consistent_lsn) < 0) {
		rc = set_err(err, "CREATE_REPLICATION_SLOT returned a malformed position");
	} else if (snapshot) {
		*snapshot = export_snapshot && !PQgetisnull(res, 0, 2) ? strdup(PQgetvalue(res, 0, 2)) : NULL;
		if (export_snapshot && !*snapshot)
			rc = set_err(err, "CREATE_REPLICATION_SLOT exported no snapshot");
	}
	PQclear(res);
	return rc;
}

int pg_repl_slot_exists(PGconn *conn, const char *slot, uint64_t *confirmed_lsn, char **err)
{
	if (check_slot_name(slot, err) < 0)
		return -1;
	/* The walsender speaks only the simple query protocol: the name was checked above and
	 * is quoted as a literal anyway. */
	char *lit = PQescapeLiteral(conn, slot, strlen(slot));
	if (!lit)
		return set_err(err, "quoting the slot name failed: %s", conn_message(conn));
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT coalesce(confirmed_flush_lsn::text, ''), plugin FROM pg_catalog.pg_replication_slots "
		 "WHERE slot_name = %s",
		 lit);
	PQfreemem(lit);
	PGresult *res = run(conn, sql, PGRES_TUPLES_OK, "looking up the replication slot", err);
	if (!res)
		return -1;
	int rc = PQntuples(res) > 0;
	if (rc == 1 && strcmp(PQgetvalue(res, 0, 1), "pgoutput") != 0)
		rc = set_err(err, "replication slot \"%s\" exists but uses plugin \"%s\", not pgoutput: drop it or choose another slot_name",
			     slot, PQgetvalue(res, 0, 1));
	else if (rc == 1 && confirmed_lsn && pgo_parse_lsn(PQgetvalue(res, 0, 0), confirmed_lsn) < 0)
		*confirmed_lsn = 0;
	PQclear(res);
	return rc;
}

int pg_repl_drop_slot(PGconn *conn, const char *slot, char **err)
{
	if (check_slot_name(slot, err) < 0)
		return -1;
	char sql[128];
	snprintf(sql, sizeof sql, "DROP_REPLICATION_SLOT %s WAIT", slot);
	PGresult *res = run(conn, sql, PGRES_COMMAND_OK, "dropping the replication slot", err);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* publication_names takes a string literal holding a list of quoted identifiers. */
static char *publication_literal(PGconn *conn, const char *publication)
{
	size_t n = strlen(publication);
	char *ident = malloc(2 * n + 3);
	if (!ident)
		return NULL;
	char *p = ident;
	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (publication[i] == '"')
			*p++ = '"';
		*p++ = publication[i];
	}
	*p++ = '"';
	*p = '\0';
	char *lit = PQescapeLiteral(conn, ident, strlen(ident));
	free(ident);
	return lit;
}

int pg_repl_start(PGconn *conn, const pg_repl_options *opts, char **err)
{
	if (check_slot_name(opts->slot, err) < 0)
		return -1;
	char *pub = publication_literal(conn, opts->publication);
	if (!pub)
		return set_err(err, "quoting the publication name failed: %s", conn_message(conn));
	char lsn[32];
	pgo_format_lsn(opts->start_lsn, lsn, sizeof lsn);
	char *sql = NULL;
	int n = asprintf(&sql,
			 "START_REPLICATION SLOT %s LOGICAL %s (proto_version '%d', publication_names %s%s%s)",
			 opts->slot, lsn, opts->proto_version, pub,
			 opts->messages ? ", messages 'true'" : "",
			 opts->streaming && opts->proto_version >= 2 ? ", streaming 'on'" : "");
	PQfreemem(pub);
	if (n < 0)
		return set_err(err, "out of memory");
	PGresult *res = PQexec(conn, sql);
	free(sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
		rc = set_err(err, "START_REPLICATION on slot \"%s\" failed: %s", opts->slot, conn_message(conn));
	PQclear(res);
	return rc;
}

void pg_repl_stream_init(pg_repl_stream *s, PGconn *conn)
{
	s->conn = conn;
	s->buf = NULL;
}

void pg_repl_stream_free(pg_repl_stream *s)
{
	if (s->buf)
		PQfreemem(s->buf);
	s->buf = NULL;
}

int64_t pg_repl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PGO_EPOCH_OFFSET_US;
}

static int parse_copy_message(const char *buf, int len, pg_repl_event *ev, char **err)
{
	if (len >= 25 && buf[0] == 'w') {
		ev->kind = PG_REPL_DATA;
		ev->wal_start = bytes_get_be64((const uint8_t *)buf + 1);
		ev->wal_end = bytes_get_be64((const uint8_t *)buf + 9);
		ev->send_time_us = (int64_t)bytes_get_be64((const uint8_t *)buf + 17) + PGO_EPOCH_OFFSET_US;
		ev->data = buf + 25;
		ev->len = len - 25;
		return 0;
	}
	if (len >= 18 && buf[0] == 'k') {
		ev->kind = PG_REPL_KEEPALIVE;
		ev->wal_end = bytes_get_be64((const uint8_t *)buf + 1);
		ev->send_time_us = (int64_t)bytes_get_be64((const uint8_t *)buf + 9) + PGO_EPOCH_OFFSET_US;
		ev->reply_requested = buf[17] != 0;
		return 0;
	}
	ev->kind = PG_REPL_ERROR;
	return set_err(err, "unexpected replication message '%c' of %d bytes", len > 0 ? buf[0] : '?', len);
}

static int wait_readable(PGconn *conn, int timeout_ms)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
	int rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? PG_REPL_INTERRUPTED : PG_REPL_ERROR;
	return rc == 0 ? PG_REPL_TIMEOUT : PG_REPL_DATA;
}

int pg_repl_read(pg_repl_stream *s, pg_repl_event *ev, int timeout_ms, char **err)
{
	memset(ev, 0, sizeof *ev);
	if (s->buf) {
		PQfreemem(s->buf);
		s->buf = NULL;
	}
	for (;;) {
		int len = PQgetCopyData(s->conn, &s->buf, 1);
		if (len > 0)
			return parse_copy_message(s->buf, len, ev, err) == 0 ? (int)ev->kind : PG_REPL_ERROR;
		if (len == -1) {
			PGresult *res = PQgetResult(s->conn);
			bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
			PQclear(res);
			ev->kind = ok ? PG_REPL_END : PG_REPL_ERROR;
			if (!ok)
				set_err(err, "replication stream ended with an error: %s", conn_message(s->conn));
			return ev->kind;
		}
		if (len == -2) {
			ev->kind = PG_REPL_ERROR;
			set_err(err, "reading the replication stream failed: %s", conn_message(s->conn));
			return ev->kind;
		}
		int w = wait_readable(s->conn, timeout_ms);
		if (w != PG_REPL_DATA) {
			ev->kind = (pg_repl_event_kind)w;
			if (w == PG_REPL_ERROR)
				set_err(err, "waiting for the replication stream failed: %s", strerror(errno));
			return w;
		}
		if (!PQconsumeInput(s->conn)) {
			ev->kind = PG_REPL_ERROR;
			set_err(err, "reading the replication stream failed: %s", conn_message(s->conn));
			return ev->kind;
		}
	}
}

int pg_repl_send_status(pg_repl_stream *s, uint64_t written, uint64_t flushed, bool reply, char **err)
{
	char msg[34];
	msg[0] = 'r';
	bytes_put_be64((uint8_t *)msg + 1, written);
	bytes_put_be64((uint8_t *)msg + 9, flushed);
	bytes_put_be64((uint8_t *)msg + 17, flushed); /* applied: ferry applies and flushes in one step */
	bytes_put_be64((uint8_t *)msg + 25, (uint64_t)pg_repl_now());
	msg[33] = reply ? 1 : 0;
	if (PQputCopyData(s->conn, msg, sizeof msg) <= 0 || PQflush(s->conn) != 0)
		return set_err(err, "sending the standby status update failed: %s", conn_message(s->conn));
	return 0;
}
