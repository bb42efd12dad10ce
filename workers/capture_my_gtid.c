/* Capture's GTID side for a MySQL/MariaDB source (see the header). */
#include "workers/capture_my_gtid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/sqlquote.h"
#include "workers/my_preflight.h"
#include "workers/my_sql.h"

/* The server's state at file:offset (BINLOG_GTID_POS): *known false when it cannot say
 * (NULL: not an event boundary of a file it has). */
static int server_state_at(MYSQL *conn, const char *file, uint32_t offset, my_gtid_state *out, bool *known,
			   char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT BINLOG_GTID_POS(");
	my_sql_append_literal(&sb, conn, file);
	strbuf_appendf(&sb, ", %" PRIu32 ")", offset);
	if (strbuf_failed(&sb)) {
		strbuf_free(&sb);
		*err = strdup("out of memory");
		return -1;
	}
	MYSQL_RES *res = my_sql_query(conn, sb.data, "source: reading the GTID state of a binlog position", err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	char perr[256];
	*known = row != NULL && row[0] != NULL;
	if (*known && my_gtid_parse(row[0], out, perr, sizeof perr) < 0) {
		log_warning("source: BINLOG_GTID_POS(%s, %" PRIu32 ") gave what ferry cannot read: %s", file, offset, perr);
		*known = false;
	}
	mysql_free_result(res);
	return 0;
}

static int start_log(capgtid *g)
{
	if (my_gtid_log_init(&g->log, &g->start) < 0) {
		log_warning("out of memory for the GTID log: positions are stored without a GTID state");
		return 0;
	}
	g->known = true;
	return 0;
}

static void plan_mysql(MYSQL *source)
{
	char mode[32] = "", *err = NULL;
	/* MySQL 5.7 and 8 have gtid_mode; an error means no GTIDs at all */
	if (my_sql_value(source, "SELECT @@global.gtid_mode", mode, sizeof mode, "source: reading gtid_mode", &err) < 0)
		free(err);
	if (strcasecmp(mode, "ON") == 0)
		log_info("the stream resumes by binlog file:position: the source has gtid_mode = ON, but ferry cannot start "
			 "a dump from a MySQL GTID set yet (its client library has no such start), so MySQL GTIDs are not "
			 "stored");
	else
		log_info("the stream resumes by binlog file:position: the source has no GTIDs (gtid_mode = %s)",
			 *mode ? mode : "unknown");
}

/* A stored position without a usable stored state: the server's state there. */
static int plan_from_server(capgtid *g, MYSQL *source, const char *file, uint32_t offset, const char *why,
			    char **err)
{
	bool known = false;
	if (server_state_at(source, file, offset, &g->start, &known, err) < 0)
		return -1;
	char text[MY_GTID_TEXT_MAX];
	if (known && my_gtid_format(&g->start, text, sizeof text) >= 0) {
		log_info("the stream resumes by binlog file:position %s:%" PRIu32 ": %s; the source gives the GTID state "
			 "there as \"%s\", stored with the position from now on (later restarts resume by GTID)",
			 file, offset, why, text);
		return start_log(g);
	}
	log_info("the stream resumes by binlog file:position %s:%" PRIu32 ": %s, and the source cannot give the GTID "
		 "state there: positions are stored without one", file, offset, why);
	return 0;
}

int capgtid_plan(capgtid *g, MYSQL *source, bool mariadb, bool fresh, const char *file, uint32_t offset,
		 const char *stored_text, char **err)
{
	if (!mariadb) {
		plan_mysql(source);
		return 0;
	}
	g->tracked = true;
	char text[MY_GTID_TEXT_MAX], perr[256];
	if (fresh) {
		bool known = false;
		if (server_state_at(source, file, offset, &g->start, &known, err) < 0)
			return -1;
		if (known && my_gtid_format(&g->start, text, sizeof text) >= 0) {
			log_info("new task: the GTID state at the start position is \"%s\" (stored with it: restarts "
				 "resume by GTID)", text);
			return start_log(g);
		}
		log_warning("new task: the source cannot give the GTID state at %s:%" PRIu32 ": positions are stored "
			    "without one (restarts resume by binlog file:position)", file, offset);
		return 0;
	}
	if (*stored_text == '\0')
		return plan_from_server(g, source, file, offset, "no GTID state is stored with it (stored by an older "
					"ferry, or not known then)", err);
	if (my_gtid_parse(stored_text, &g->start, perr, sizeof perr) < 0) {
		log_warning("the stored %s cannot be used: %s", "GTID state", perr);
		return plan_from_server(g, source, file, offset, "the stored GTID state is not readable", err);
	}
	g->resume = true;
	log_info("the stream resumes by GTID: the state \"%s\" stored with position %s:%" PRIu32 " (the source "
		 "sends what follows it and names the file)", stored_text, file, offset);
	return start_log(g);
}

const char *capgtid_start_text(const capgtid *g, char *buf, size_t size)
{
	if (!g->known || my_gtid_format(&g->start, buf, size) < 0)
		*buf = '\0';
	return buf;
}

/* The oldest binlog file and the state it starts at (*known false: cannot say). */
static int oldest_state(MYSQL *source, char *file, size_t size, my_gtid_state *out, bool *known, char **err)
{
	MYSQL_RES *res = my_sql_query(source, "SHOW BINARY LOGS", "source: listing the binary logs", err);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	snprintf(file, size, "%s", row && row[0] ? row[0] : "");
	mysql_free_result(res);
	*known = false;
	return *file ? server_state_at(source, file, 4, out, known, err) : 0;
}

int capgtid_available(capgtid *g, MYSQL *source, const char *source_name, const char *file, uint32_t offset,
		      char **why, char **err)
{
	char oldest[256], mine[MY_GTID_TEXT_MAX], theirs[MY_GTID_TEXT_MAX];
	my_gtid_state os;
	bool known;
	if (oldest_state(source, oldest, sizeof oldest, &os, &known, err) < 0)
		return -1;
	uint32_t domain = 0;
	if (!known || my_gtid_covered(&g->start, &os, &domain))
		return 1; /* the server's own answer (error 1236) says the rest */
	my_gtid_format(&g->start, mine, sizeof mine);
	my_gtid_format(&os, theirs, sizeof theirs);
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "source %s: GTID state \"%s\" (binlog %s:%" PRIu32 "), where the task's stream resumes, is "
		       "no longer on the source: the binlogs holding the transactions after it were purged (the oldest "
		       "binlog it has, %s, starts after GTID state \"%s\": replication domain %" PRIu32 " is behind). The "
		       "changes since cannot be read. Start the task over: delete its row in the target's "
		       "ferry.source_position and restart ferryd (its tables load again), and keep binary logs longer "
		       "(binlog_expire_logs_seconds)", source_name, mine, file, offset, oldest, theirs, domain);
	*why = strbuf_detach(&sb);
	strbuf_free(&sb);
	return *why ? 0 : (*err = strdup("out of memory"), -1);
}

/* Whether s is the state there: each domain there has the same GTID in s (s may keep a
 * domain the server dropped from its state). */
static bool same_state(const my_gtid_state *s, const my_gtid_state *there)
{
	for (int i = 0; i < there->n; i++) {
		const my_gtid_entry *mine = my_gtid_find(s, there->d[i].domain);
		if (mine == NULL || mine->server_id != there->d[i].server_id || mine->seq != there->d[i].seq)
			return false;
	}
	return true;
}

int capgtid_same_server(capgtid *g, MYSQL *source, const char *source_name, const char *file, uint32_t offset,
			char **why, char **err)
{
	my_gtid_state there;
	bool known = false;
	if (server_state_at(source, file, offset, &there, &known, err) < 0)
		return -1;
	if (known && same_state(&g->start, &there))
		return 1;
	char mine[MY_GTID_TEXT_MAX], theirs[MY_GTID_TEXT_MAX] = "";
	my_gtid_format(&g->start, mine, sizeof mine);
	if (!known) {
		int listed = my_preflight_binlog_listed(source, file, NULL, 0, err);
		if (listed < 0)
			return -1;
		if (!listed) {
			log_warning("source %s: binlog file %s of the stored position is purged: whether the position is this "
				    "server's cannot be checked; the source has the transactions after its GTID state", source_name,
				    file);
			return 1;
		}
	} else {
		my_gtid_format(&there, theirs, sizeof theirs);
	}
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "source %s: the task's stored position %s:%" PRIu32 " (GTID state \"%s\") is not a position of "
		       "this server: %s%s%s", source_name, file, offset, mine,
		       known ? "it says the GTID state there is \"" : "its file has no event boundary there",
		       known ? theirs : "", known ? "\"" : "");
	*why = strbuf_detach(&sb);
	strbuf_free(&sb);
	return *why ? 0 : (*err = strdup("out of memory"), -1);
}

int capgtid_connect(const capgtid *g, MYSQL *dump, char **err)
{
	if (!g->resume)
		return 0;
	char text[MY_GTID_TEXT_MAX];
	my_gtid_format(&g->start, text, sizeof text);
	/* strict mode: a requested GTID the server does not have is an error, not a guess */
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SET @slave_connect_state = ");
	my_sql_append_literal(&sb, dump, text);
	strbuf_append(&sb, ", @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0");
	int rc = strbuf_failed(&sb) ? (*err = strdup("out of memory"), -1)
				    : my_sql_command(dump, sb.data, "source: setting the GTID start of the binlog stream", err);
	strbuf_free(&sb);
	return rc;
}

const char *capgtid_at(capgtid *g, uint64_t position, char *buf, size_t size)
{
	if (!g->tracked || !g->known)
		return NULL;
	/* not known when the log no longer reaches back to position (an apply worker far
	 * behind): nothing rather than an approximation (see the header) */
	my_gtid_state s;
	if (my_gtid_log_at(&g->log, position, &s))
		return my_gtid_format(&s, buf, size) < 0 ? NULL : buf;
	return NULL;
}

void capgtid_free(capgtid *g)
{
	if (g->known)
		my_gtid_log_free(&g->log);
	g->known = false;
}
