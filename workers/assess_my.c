/* The MySQL/MariaDB side of the pre-migration assessment (workers/assess.h): as a
 * source, the checks a task's start runs (my_preflight, whose problem and warning
 * lines are sorted here into named checks) and the selected tables read with the
 * task's rules and shaped for the target (my_task_tables_read: unmapped types and
 * collations fail there); as a target, assess_my_target.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workers/assess.h"
#include "workers/assess_my.h"
#include "workers/my_preflight.h"
#include "workers/my_sql.h"
#include "workers/my_task.h"

#define LIST_MAX 10

/* The source side's state, kept until the target side and the common checks are done. */
typedef struct my_source_state {
	endpoint_conn *conn;
	my_task_tables tables;
	bool have_tables;
	bool *selected;
	my_source_info info;
	strbuf shape_problems; /* my_task_tables_read's, reported after the server's checks */
	pg_ddl_script notes;
} my_source_state;

/* One named check and the preflight lines that belong to it (matched by a phrase the
 * preflight's line always holds). */
typedef struct my_check {
	const char *name;
	bool cdc_only;      /* needed only to read the binary log */
	const char *match[2];
} my_check;

enum { CHECK_VERSION, CHECK_LOG_BIN, CHECK_FORMAT, CHECK_IMAGE, CHECK_SERVER_ID, CHECK_GRANTS, CHECK_OPTIONS,
       CHECK_JSON, CHECK_RETENTION, CHECK_SELECT, CHECK_OTHER, CHECK_COUNT };

static const my_check checks[CHECK_COUNT] = {
	[CHECK_VERSION] = {"server version", false, {" is too old", NULL}},
	[CHECK_LOG_BIN] = {"binary log", true, {"binary log is off", NULL}},
	[CHECK_FORMAT] = {"binlog_format", true, {"binlog_format =", NULL}},
	[CHECK_IMAGE] = {"binlog_row_image", true, {"binlog_row_image =", NULL}},
	[CHECK_SERVER_ID] = {"server_id", true, {"server_id", NULL}},
	[CHECK_GRANTS] = {"replication grants", true, {"lacks REPLICATION", NULL}},
	[CHECK_OPTIONS] = {"binlog options", true, {"binlog_transaction_compression", "binlog_row_value_options"}},
	[CHECK_JSON] = {"JSON columns", true, {"binary JSON", NULL}},
	[CHECK_RETENTION] = {"binlog retention", true, {"binary logs are kept", NULL}},
	[CHECK_SELECT] = {"SELECT privilege", false, {"cannot read ", NULL}},
	[CHECK_OTHER] = {"source checks", false, {NULL, NULL}},
};

static int check_of(const char *line)
{
	for (int c = 0; c < CHECK_OTHER; c++)
		for (int m = 0; m < 2 && checks[c].match[m]; m++)
			if (strstr(line, checks[c].match[m]))
				return c;
	return CHECK_OTHER;
}

/* A global variable's value, for what an OK line says it saw ("?" when unreadable). */
static void global_var(MYSQL *conn, const char *name, char *buf, size_t size)
{
	char sql[128], *err = NULL;
	snprintf(sql, sizeof sql, "SELECT @@GLOBAL.%s", name);
	if (my_sql_value(conn, sql, buf, size, "source: reading a setting", &err) < 0)
		snprintf(buf, size, "?");
	free(err);
}

/* What a check that found nothing saw; NULL when the check does not apply (SKIP). */
static const char *ok_text(assess_task *at, my_source_state *ms, int c, char *buf, size_t size)
{
	MYSQL *conn = ms->conn->mysql;
	char v[64];
	const char *user = at->task->source_ep->user ? at->task->source_ep->user : ms->conn->user;
	switch (c) {
	case CHECK_VERSION:
		snprintf(buf, size, "%s", ms->info.version);
		return buf;
	case CHECK_LOG_BIN:
		return "the binary log is on";
	case CHECK_FORMAT:
		global_var(conn, "binlog_format", v, sizeof v);
		snprintf(buf, size, "binlog_format = %s", v);
		return buf;
	case CHECK_IMAGE:
		global_var(conn, "binlog_row_image", v, sizeof v);
		snprintf(buf, size, "binlog_row_image = %s", v);
		return buf;
	case CHECK_SERVER_ID:
		global_var(conn, "server_id", v, sizeof v);
		snprintf(buf, size, "the task's server_id %" PRId64 " is not the source's own (%s), nor a replica's it lists",
			 at->task->server_id, v);
		return buf;
	case CHECK_GRANTS:
		snprintf(buf, size, "user %s has REPLICATION SLAVE and REPLICATION CLIENT", user);
		return buf;
	case CHECK_OPTIONS:
		return ms->info.mariadb ? NULL : "binlog_transaction_compression off, binlog_row_value_options empty";
	case CHECK_JSON:
		return ms->info.mariadb ? NULL : "no JSON column selected";
	case CHECK_RETENTION:
		if (ms->info.retention_s > 0)
			snprintf(buf, size, "binary logs are kept %" PRId64 " s", ms->info.retention_s);
		else
			snprintf(buf, size, "binary logs are not purged by age");
		return buf;
	case CHECK_SELECT:
		if (at->n_selected == 0)
			return NULL;
		snprintf(buf, size, "user %s may read the %d selected table%s", user, at->n_selected,
			 at->n_selected == 1 ? "" : "s");
		return buf;
	}
	return NULL;
}

/* Adds every line of text that belongs to check c at level; returns how many. */
static int add_lines(assess_task *at, const char *text, int c, assess_level level)
{
	int n = 0;
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		char *line = strndup(p, len);
		if (line && len > 0 && check_of(line) == c) {
			const char *shown = strncmp(line, "source: ", 8) == 0 ? line + 8 : line;
			assess_add(at->report, level, checks[c].name, "%s", shown);
			n++;
		}
		free(line);
		p += len + (p[len] == '\n');
	}
	return n;
}

/* Per check, in order: FAIL lines, WARNING lines, or OK with what it saw; checks only
 * reading the binary log needs are SKIP for a full-load task. */
static void report_preflight(assess_task *at, my_source_state *ms, const char *problems, const char *warnings)
{
	bool full_load = at->task->migration_type == MIGRATION_FULL_LOAD;
	for (int c = 0; c < CHECK_COUNT; c++) {
		if (full_load && checks[c].cdc_only) {
			assess_add(at->report, ASSESS_SKIP, checks[c].name,
				   "not needed: migration_type = full-load reads no binary log");
			continue;
		}
		int bad = add_lines(at, problems, c, ASSESS_FAIL) + add_lines(at, warnings, c, ASSESS_WARNING);
		char buf[512];
		const char *ok = bad == 0 && c != CHECK_OTHER ? ok_text(at, ms, c, buf, sizeof buf) : NULL;
		if (ok != NULL)
			assess_add(at->report, ASSESS_OK, checks[c].name, "%s", ok);
		else if (bad == 0 && c != CHECK_OTHER)
			assess_add(at->report, ASSESS_SKIP, checks[c].name, "%s",
				   c == CHECK_SELECT ? "no table is selected" : "not needed on MariaDB");
	}
}

static void run_preflight(assess_task *at, my_source_state *ms)
{
	strbuf problems = STRBUF_INIT, warnings = STRBUF_INIT;
	endpoint_result r = my_preflight(ms->conn->mysql, at->task, &ms->tables, &ms->info, &problems, &warnings);
	if (strbuf_failed(&problems) || strbuf_failed(&warnings))
		assess_add(at->report, ASSESS_NOT_RUN, "source checks", "out of memory");
	else
		report_preflight(at, ms, strbuf_str(&problems), strbuf_str(&warnings));
	if (r == ENDPOINT_TRANSIENT && my_sql_lost(ms->conn->mysql))
		assess_add(at->report, ASSESS_NOT_RUN, "source checks",
			   "the connection to the source was lost during the checks: run the assessment again");
	strbuf_free(&problems);
	strbuf_free(&warnings);
}

/* The table shapes' problems (my_task_tables_read): types without a mapping, collations
 * the stream cannot read, excluded key columns. Name lengths are the common check's. */
static void report_shapes(assess_task *at, const char *problems, const pg_ddl_script *notes)
{
	int fails = 0;
	for (const char *p = problems; *p;) {
		size_t len = strcspn(p, "\n");
		char *line = strndup(p, len);
		if (line && len > 0 && !strstr(line, " bytes, PostgreSQL allows ")) {
			assess_add(at->report, ASSESS_FAIL, "column types", "%s", line);
			fails++;
		}
		free(line);
		p += len + (p[len] == '\n');
	}
	if (fails == 0 && at->n_selected > 0)
		assess_add(at->report, ASSESS_OK, "column types", "every selected column has a mapping for the %s target",
			   at->task->target_ep->engine == ENGINE_POSTGRESQL ? "PostgreSQL" : "MySQL/MariaDB");
	for (int i = 0; i < notes->n_notes && i < LIST_MAX; i++)
		assess_add(at->report, ASSESS_WARNING, "table shapes", "%s", notes->notes[i]);
	if (notes->n_notes > LIST_MAX)
		assess_add(at->report, ASSESS_WARNING, "table shapes", "... and %d more left out",
			   notes->n_notes - LIST_MAX);
}

/* The catalog with the task's rules, each selected table shaped for the target (the
 * shapes' problems are kept for report_shapes). */
static int read_tables(assess_task *at, my_source_state *ms)
{
	char *err = NULL;
	int r = my_task_tables_read(ms->conn->mysql, at->task, &ms->tables, &ms->shape_problems, &ms->notes, &err);
	if (r < 0) {
		assess_add(at->report, my_sql_lost(ms->conn->mysql) ? ASSESS_NOT_RUN : ASSESS_FAIL, "source catalog",
			   "reading the source's tables failed: %s", err ? err : "out of memory");
		free(err);
		return -1;
	}
	ms->have_tables = true;
	const catalog *cat = ms->tables.base.cat;
	ms->selected = calloc((size_t)cat->n_tables + 1, sizeof *ms->selected);
	if (ms->selected == NULL) {
		assess_add(at->report, ASSESS_NOT_RUN, "source catalog", "out of memory");
		return -1;
	}
	for (int i = 0; i < cat->n_tables; i++)
		if ((ms->selected[i] = pg_task_table_selected(&ms->tables.base, i)))
			at->n_selected++;
	return 0;
}

/* Row filters must run on the source: each tried in a query that reads no row. */
static void check_filters(assess_task *at, my_source_state *ms)
{
	const pg_task_tables *tt = &ms->tables.base;
	int n = 0, fails = 0;
	for (int i = 0; i < tt->cat->n_tables; i++) {
		if (!ms->selected[i] || tt->resolved[i].filter == NULL)
			continue;
		const catalog_table *t = tt->cat->tables[i];
		strbuf sql = STRBUF_INIT;
		strbuf_append(&sql, "SELECT 1 FROM ");
		sql_append_mysql_qualified(&sql, t->schema, t->name);
		strbuf_appendf(&sql, " WHERE %s LIMIT 0", tt->resolved[i].filter);
		char *err = NULL;
		n++;
		if (strbuf_failed(&sql) || my_sql_command(ms->conn->mysql, strbuf_str(&sql), "row filter", &err) < 0) {
			assess_add(at->report, ASSESS_FAIL, "row filters", "the filter on %s.%s does not work on the source: "
				   "%s; correct the task's filter line", t->schema, t->name,
				   err ? err : "out of memory");
			fails++;
		}
		free(err);
		strbuf_free(&sql);
	}
	if (n > 0 && fails == 0)
		assess_add(at->report, ASSESS_OK, "row filters", "%d filter%s valid on the source", n, n == 1 ? "" : "s");
}

static void my_source(assess_task *at)
{
	my_source_state *ms = calloc(1, sizeof *ms);
	if (ms == NULL) {
		assess_add(at->report, ASSESS_NOT_RUN, "source", "out of memory");
		return;
	}
	at->source_state = ms;
	ms->shape_problems = (strbuf)STRBUF_INIT;
	if (assess_my_connect(at, ENDPOINT_SOURCE, &ms->conn) < 0)
		return;
	char *err = NULL;
	if (my_task_session(ms->conn->mysql, &err) < 0) {
		assess_add(at->report, ASSESS_NOT_RUN, "source reachable", "%s", err ? err : "out of memory");
		free(err);
		return;
	}
	if (read_tables(at, ms) < 0)
		return;
	run_preflight(at, ms);
	report_shapes(at, strbuf_str(&ms->shape_problems), &ms->notes);
	check_filters(at, ms);
	at->cat = ms->tables.base.cat;
	at->selected = ms->selected;
	at->map = &ms->tables.base.map;
}

static void my_source_free(assess_task *at)
{
	my_source_state *ms = at->source_state;
	if (ms == NULL)
		return;
	if (ms->have_tables)
		my_task_tables_free(&ms->tables);
	free(ms->selected);
	strbuf_free(&ms->shape_problems);
	pg_ddl_script_free(&ms->notes);
	if (ms->conn)
		endpoint_close(ms->conn);
	free(ms);
	at->source_state = NULL;
	at->cat = NULL;
	at->selected = NULL;
	at->map = NULL;
}

const assess_engine assess_my_engine = {
	.engine = ENGINE_MYSQL,
	.name = "MySQL/MariaDB",
	.max_name_bytes = 64, /* NAME_LEN: longer identifiers are refused */
	.source = my_source,
	.target = assess_my_target,
	.source_free = my_source_free,
};

int assess_my_connect(assess_task *at, endpoint_role role, endpoint_conn **out)
{
	const endpoint_config *ep;
	const char *check;
	endpoint_conn *c = *out = assess_connect(at, role, &ep, &check);
	if (c == NULL)
		return -1;
	/* Nothing the assessment runs may write; a bug that tried would fail here. */
	char *err = NULL;
	if (my_sql_command(c->mysql, "SET SESSION TRANSACTION READ ONLY", "making the session read-only", &err) < 0) {
		assess_add(at->report, ASSESS_NOT_RUN, check, "%s %s: %s", endpoint_role_name(role), ep->name,
			   err ? err : "out of memory");
		free(err);
		endpoint_close(c);
		*out = NULL;
		return -1;
	}
	assess_add(at->report, ASSESS_OK, check, "%s at %s, %s%s, as %s%s", c->server, c->address,
		   ep->dbname ? "database " : "every database", ep->dbname ? ep->dbname : "", c->user,
		   c->tls ? ", encrypted" : "");
	return 0;
}
