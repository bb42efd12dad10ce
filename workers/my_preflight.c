/* MySQL/MariaDB source preflight (see the header). */
#include "workers/my_preflight.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workers/my_sql.h"
#include "workers/mysql_conn.h"

typedef struct check {
	MYSQL *conn;
	const task_config *task;
	const my_task_tables *tables;
	my_source_info *info;
	strbuf *problems, *warnings;
	bool lost;   /* a query failed with the connection gone */
	int count;   /* problems found */
} check;

static void problem(check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(check *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char line[1024];
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	strbuf_appendf(c->problems, "%s\n", line);
	c->count++;
}

static void warning(check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warning(check *c, const char *fmt, ...)
{
	if (c->warnings == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	char line[1024];
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	strbuf_appendf(c->warnings, "%s\n", line);
}

/* A global variable's value ("" when the server has no such variable). */
static int variable(check *c, const char *name, char *buf, size_t size)
{
	char sql[160], *err = NULL;
	snprintf(sql, sizeof sql, "SHOW GLOBAL VARIABLES LIKE '%s'", name);
	MYSQL_RES *res = my_sql_query(c->conn, sql, "source: reading the server's settings", &err);
	if (res == NULL) {
		c->lost = c->lost || my_sql_lost(c->conn);
		problem(c, "%s", err ? err : "source: reading the server's settings failed");
		free(err);
		buf[0] = '\0';
		return -1;
	}
	MYSQL_ROW row = mysql_fetch_row(res);
	snprintf(buf, size, "%s", row && row[1] ? row[1] : "");
	mysql_free_result(res);
	return 0;
}

/* ---- the binary log ---------------------------------------------------------------------------- */

static bool every_table_keyed(const check *c, strbuf *keyless)
{
	const pg_task_tables *tt = &c->tables->base;
	bool all = true;
	for (int i = 0; i < tt->cat->n_tables; i++) {
		const catalog_table *t = tt->cat->tables[i];
		if (!pg_task_table_selected(tt, i) || t->key_kind == CATALOG_KEY_PRIMARY)
			continue;
		strbuf_appendf(keyless, "%s%s.%s", all ? "" : ", ", t->schema, t->name);
		all = false;
	}
	return all;
}

static void check_row_image(check *c)
{
	char v[64];
	if (variable(c, "binlog_row_image", v, sizeof v) < 0)
		return;
	c->info->minimal_image = *v && strcasecmp(v, "FULL") != 0;
	if (!c->info->minimal_image)
		return;
	strbuf keyless = STRBUF_INIT;
	if (every_table_keyed(c, &keyless))
		warning(c, "source: binlog_row_image = %s: accepted because every selected table has a primary key; "
			"an INSERT then carries only the columns it set and the target fills the others from its "
			"defaults (binlog_row_image = FULL avoids that)", v);
	else
		problem(c, "source: binlog_row_image = %s, and %s %s no primary key to find rows by: set "
			"binlog_row_image = FULL (SET GLOBAL and in the server's configuration) or give the tables "
			"primary keys", v, strbuf_str(&keyless), strchr(strbuf_str(&keyless), ',') ? "have" : "has");
	strbuf_free(&keyless);
}

static void check_binlog(check *c)
{
	char v[256];
	if (variable(c, "log_bin", v, sizeof v) == 0 && strcasecmp(v, "ON") != 0 && strcmp(v, "1") != 0)
		problem(c, "source: the binary log is off: start the server with log_bin (e.g. log-bin = mysql-bin in "
			"its configuration) and restart it; ferry reads changes from it");
	if (variable(c, "binlog_format", v, sizeof v) == 0 && strcasecmp(v, "ROW") != 0)
		problem(c, "source: binlog_format = %s: ferry needs ROW (SET GLOBAL binlog_format = 'ROW' and "
			"binlog_format = ROW in the server's configuration; sessions opened before keep the old format)",
			v);
	check_row_image(c);
	if (variable(c, "binlog_checksum", v, sizeof v) == 0)
		c->info->checksum = strcasecmp(v, "CRC32") == 0;
	if (variable(c, "server_id", v, sizeof v) == 0 && strtoll(v, NULL, 10) == c->task->server_id)
		problem(c, "source: task %s's server_id %" PRId64 " is the source server's own server_id: give the "
			"task another server_id (unique among the source's replicas)", c->task->name, c->task->server_id);
	if (c->info->mariadb)
		return;
	if (variable(c, "binlog_transaction_compression", v, sizeof v) == 0 && strcasecmp(v, "ON") == 0)
		problem(c, "source: binlog_transaction_compression = ON: ferry cannot read compressed transactions "
			"yet; SET GLOBAL binlog_transaction_compression = OFF");
	if (variable(c, "binlog_row_value_options", v, sizeof v) == 0 && *v)
		problem(c, "source: binlog_row_value_options = %s: partial JSON updates are not read; set it to ''", v);
}

/* Other replicas registered with the same server_id (when the user may list them). */
static void check_replicas(check *c)
{
	if (mysql_query(c->conn, "SHOW SLAVE HOSTS") != 0)
		return; /* needs REPLICATION MASTER ADMIN on MariaDB >= 10.5: not required */
	MYSQL_RES *res = mysql_store_result(c->conn);
	MYSQL_ROW row;
	while (res && (row = mysql_fetch_row(res)) != NULL)
		if (row[0] && strtoll(row[0], NULL, 10) == c->task->server_id)
			problem(c, "source: a replica (%s) already uses server_id %" PRId64 ": give task %s another "
				"server_id; two readers with one id keep disconnecting each other",
				row[1] ? row[1] : "?", c->task->server_id, c->task->name);
	if (res)
		mysql_free_result(res);
}

/* ---- privileges ---------------------------------------------------------------------------------- */

static bool privilege_in(const char *line, const char *privilege)
{
	size_t n = strlen(privilege);
	for (const char *p = strcasestr(line, privilege); p; p = strcasestr(p + 1, privilege)) {
		bool start = p == line + 6 || p[-1] == ' ' || p[-1] == ',';
		if (start && (p[n] == ',' || p[n] == '\0' || (p[n] == ' ' && p[n + 1] == '\0')))
			return true;
	}
	return false;
}

bool my_preflight_granted(const char *const *grants, int n, const char *privilege, const char *alias)
{
	for (int i = 0; i < n; i++) {
		const char *g = grants[i], *on = strstr(g, " ON *.* ");
		if (strncasecmp(g, "GRANT ", 6) != 0 || on == NULL)
			continue;
		char *privs = strndup(g, (size_t)(on - g) + 1);
		bool yes = privs && (privilege_in(privs, "ALL PRIVILEGES") || privilege_in(privs, privilege) ||
				     (alias && privilege_in(privs, alias)));
		free(privs);
		if (yes)
			return true;
	}
	return false;
}

static void check_grants(check *c)
{
	char *err = NULL;
	MYSQL_RES *res = my_sql_query(c->conn, "SHOW GRANTS", "source: reading the user's privileges", &err);
	if (res == NULL) {
		c->lost = c->lost || my_sql_lost(c->conn);
		problem(c, "%s", err ? err : "source: SHOW GRANTS failed");
		free(err);
		return;
	}
	int n = 0;
	char *lines[64];
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL && n < 64)
		lines[n++] = strdup(row[0] ? row[0] : "");
	mysql_free_result(res);
	const char *const *g = (const char *const *)lines;
	const char *user = c->task->source_ep && c->task->source_ep->user ? c->task->source_ep->user : "?";
	if (!my_preflight_granted(g, n, "REPLICATION SLAVE", "REPLICATION REPLICA"))
		problem(c, "source: user %s lacks REPLICATION SLAVE, which reading the binary log needs: "
			"GRANT REPLICATION SLAVE ON *.* TO '%s'@'<host>'", user, user);
	if (!my_preflight_granted(g, n, "REPLICATION CLIENT", "BINLOG MONITOR"))
		problem(c, "source: user %s lacks REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5 and later), which "
			"reading the binary log position needs: GRANT REPLICATION CLIENT ON *.* TO '%s'@'<host>'",
			user, user);
	for (int i = 0; i < n; i++)
		free(lines[i]);
}

/* SELECT on each selected table, tried: grants through roles and wildcards count too. */
static void check_select(check *c)
{
	const pg_task_tables *tt = &c->tables->base;
	for (int i = 0; i < tt->cat->n_tables && !c->lost; i++) {
		if (!pg_task_table_selected(tt, i))
			continue;
		const catalog_table *t = tt->cat->tables[i];
		strbuf sb = STRBUF_INIT;
		strbuf_append(&sb, "SELECT 1 FROM ");
		sql_append_mysql_qualified(&sb, t->schema, t->name);
		strbuf_append(&sb, " LIMIT 0");
		char *err = NULL;
		if (!strbuf_failed(&sb) && my_sql_command(c->conn, strbuf_str(&sb), "probe", &err) < 0) {
			c->lost = c->lost || my_sql_lost(c->conn);
			problem(c, "source: cannot read %s.%s (%s): GRANT SELECT ON `%s`.* TO the task's user", t->schema,
				t->name, mysql_error(c->conn), t->schema);
		}
		free(err);
		strbuf_free(&sb);
	}
}

/* ---- types the stream cannot carry yet; retention -------------------------------------------------- */

static void check_mysql_json(check *c)
{
	const pg_task_tables *tt = &c->tables->base;
	for (int i = 0; i < tt->cat->n_tables; i++) {
		const catalog_table *t = tt->cat->tables[i];
		for (int k = 0; pg_task_table_selected(tt, i) && k < t->n_columns; k++)
			if (t->columns[k].type.cls == CATALOG_TYPE_JSON && catalog_map_column(&tt->map, t, k) != NULL)
				problem(c, "table %s.%s column %s: MySQL's binary JSON is not read from the change stream yet: "
					"exclude the column, or run a full-load task", t->schema, t->name,
					t->columns[k].name);
	}
}

static void check_retention(check *c)
{
	char v[64];
	int64_t seconds = 0;
	if (variable(c, "binlog_expire_logs_seconds", v, sizeof v) == 0 && *v)
		seconds = strtoll(v, NULL, 10);
	if (seconds == 0 && variable(c, "expire_logs_days", v, sizeof v) == 0 && *v)
		seconds = (int64_t)(strtod(v, NULL) * 86400);
	c->info->retention_s = seconds;
	if (seconds <= 0 || c->task->migration_type != MIGRATION_FULL_LOAD_AND_CDC)
		return;
	const pg_task_tables *tt = &c->tables->base;
	int64_t bytes = 0;
	for (int i = 0; i < tt->cat->n_tables; i++)
		if (pg_task_table_selected(tt, i) && tt->cat->tables[i]->est_bytes > 0)
			bytes += tt->cat->tables[i]->est_bytes;
	int workers = c->task->load_workers > 0 ? c->task->load_workers : 1;
	int64_t estimate = bytes / (MY_PREFLIGHT_LOAD_BYTES_PER_S * workers);
	if (seconds < 2 * estimate)
		warning(c, "source: binary logs are kept %" PRId64 " s, and the full load of %" PRId64 " MB is estimated "
			"at %" PRId64 " s: the stream's start position may be purged before CDC reaches it; raise "
			"binlog_expire_logs_seconds (expire_logs_days) for the migration", seconds, bytes >> 20, estimate);
}

endpoint_result my_preflight(MYSQL *conn, const task_config *task, const my_task_tables *tables, my_source_info *info,
			     strbuf *problems, strbuf *warnings)
{
	memset(info, 0, sizeof *info);
	check c = {.conn = conn, .task = task, .tables = tables, .info = info, .problems = problems,
		   .warnings = warnings};
	info->mariadb = mariadb_connection(conn);
	mysql_conn_server_label(conn, info->version, sizeof info->version);
	char why[512];
	if (mysql_conn_require_source_version(conn, why, sizeof why) != ENDPOINT_OK)
		problem(&c, "source: %s", why);
	bool cdc = task->migration_type != MIGRATION_FULL_LOAD;
	if (cdc) {
		check_binlog(&c);
		check_replicas(&c);
		check_grants(&c);
		if (!info->mariadb)
			check_mysql_json(&c);
		check_retention(&c);
	}
	check_select(&c);
	if (c.lost)
		return ENDPOINT_TRANSIENT;
	return c.count > 0 ? ENDPOINT_FATAL : ENDPOINT_OK;
}

int my_preflight_binlog_listed(MYSQL *conn, const char *file, char *oldest, size_t size, char **err)
{
	MYSQL_RES *res = my_sql_query(conn, "SHOW BINARY LOGS", "source: listing the binary logs", err);
	if (res == NULL)
		return -1;
	int listed = 0;
	bool first = true;
	MYSQL_ROW row;
	if (oldest && size)
		*oldest = '\0';
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL)
			continue;
		if (first && oldest && size)
			snprintf(oldest, size, "%s", row[0]);
		first = false;
		if (strcmp(row[0], file) == 0)
			listed = 1;
	}
	mysql_free_result(res);
	return listed;
}
