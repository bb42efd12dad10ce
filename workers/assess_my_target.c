/* A MySQL/MariaDB target in the pre-migration assessment: what the task's start will do
 * there (workers/target_my.c, my_ddl.c, my_target.c) checked beforehand, read-only:
 *   - local_infile: the full load feeds LOAD DATA LOCAL INFILE, the server must allow it;
 *   - target privileges: CREATE and INSERT (DROP under target_table_prep = drop) on
 *     every target database and on the bookkeeping database, read from SHOW GRANTS;
 *   - column types: the target's limits for every selected table (my_ddl_check_table,
 *     the start's own check: name lengths, types without a MySQL mapping, ...);
 *   - target tables: which exist already, against target_table_prep, create_tables and
 *     migration_type (their columns are not compared yet). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workers/assess_my.h"
#include "workers/my_ddl.h"
#include "workers/my_sql.h"
#include "workers/my_target.h"

#define LIST_MAX 10
#define GRANTS_MAX 128

typedef struct grants {
	char *lines[GRANTS_MAX];
	int n;
} grants;

static void local_infile(assess_task *at, MYSQL *conn)
{
	if (at->task->migration_type == MIGRATION_CDC) {
		assess_add(at->report, ASSESS_SKIP, "local_infile", "not needed: migration_type = cdc loads no table");
		return;
	}
	char v[16], *err = NULL;
	if (my_sql_value(conn, "SELECT @@GLOBAL.local_infile", v, sizeof v, "target: reading local_infile", &err) < 0)
		assess_add(at->report, ASSESS_NOT_RUN, "local_infile", "%s", err ? err : "out of memory");
	else if (strcmp(v, "1") == 0 || strcasecmp(v, "ON") == 0)
		assess_add(at->report, ASSESS_OK, "local_infile", "local_infile = ON");
	else
		assess_add(at->report, ASSESS_FAIL, "local_infile",
			   "local_infile = OFF, and the full load feeds LOAD DATA LOCAL INFILE: SET GLOBAL local_infile "
			   "= ON (and local-infile = 1 in the server's configuration)");
	free(err);
}

/* ---- privileges --------------------------------------------------------------------- */

static int read_grants(assess_task *at, MYSQL *conn, grants *g)
{
	char *err = NULL;
	MYSQL_RES *res = my_sql_query(conn, "SHOW GRANTS", "target: reading the user's privileges", &err);
	if (res == NULL) {
		assess_add(at->report, ASSESS_NOT_RUN, "target privileges", "%s", err ? err : "out of memory");
		free(err);
		return -1;
	}
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL && g->n < GRANTS_MAX)
		if ((g->lines[g->n] = strdup(row[0] ? row[0] : "")) != NULL)
			g->n++;
	mysql_free_result(res);
	return 0;
}

/* Whether the comma-separated privilege list names privilege (or ALL). */
static bool listed(const char *privs, size_t len, const char *privilege)
{
	for (size_t i = 0; i < len;) {
		while (i < len && (privs[i] == ' ' || privs[i] == ','))
			i++;
		size_t n = strcspn(privs + i, ",");
		if (i + n > len)
			n = len - i;
		while (n > 0 && privs[i + n - 1] == ' ')
			n--;
		if ((n == strlen(privilege) && strncasecmp(privs + i, privilege, n) == 0) ||
		    (n == 14 && strncasecmp(privs + i, "ALL PRIVILEGES", n) == 0) ||
		    (n == 3 && strncasecmp(privs + i, "ALL", n) == 0))
			return true;
		i += n + 1;
	}
	return false;
}

/* " ON `db`.* TO ", with _ written \_ when escape (a grant on a database name with _ is
 * shown so when it was given without wildcards). */
static void on_database(strbuf *on, const char *db, bool escape)
{
	strbuf_append(on, " ON `");
	for (const char *p = db; *p; p++) {
		if (*p == '`')
			strbuf_append(on, "``");
		else if (*p == '_' && escape)
			strbuf_append(on, "\\_");
		else
			strbuf_appendf(on, "%c", *p);
	}
	strbuf_append(on, "`.* TO ");
}

/* Whether a grant line gives privilege on *.* or on every table of database db. */
static bool granted(const grants *g, const char *db, const char *privilege)
{
	strbuf on = STRBUF_INIT, escaped = STRBUF_INIT;
	on_database(&on, db, false);
	on_database(&escaped, db, true);
	bool yes = false;
	for (int i = 0; i < g->n && !yes && !strbuf_failed(&on) && !strbuf_failed(&escaped); i++) {
		const char *line = g->lines[i], *at = strstr(line, " ON ");
		if (strncasecmp(line, "GRANT ", 6) != 0 || at == NULL)
			continue;
		if (strncmp(at, " ON *.* TO ", 11) == 0 || strncmp(at, strbuf_str(&on), on.len) == 0 ||
		    strncmp(at, strbuf_str(&escaped), escaped.len) == 0)
			yes = listed(line + 6, (size_t)(at - line - 6), privilege);
	}
	strbuf_free(&on);
	strbuf_free(&escaped);
	return yes;
}

static void check_database_privileges(assess_task *at, const grants *g, const char *db, const char *why)
{
	static const char *const privs[] = {"CREATE", "INSERT", "DROP"};
	bool drop = at->task->target_table_prep == TABLE_PREP_DROP && strcmp(db, MY_TARGET_DB) != 0;
	char missing[64] = "";
	for (int p = 0; p < (drop ? 3 : 2); p++)
		if (!granted(g, db, privs[p]))
			snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", *missing ? ", " : "",
				 privs[p]);
	if (*missing)
		assess_add(at->report, ASSESS_FAIL, "target privileges",
			   "user %s lacks %s on database `%s` (%s): GRANT %s ON `%s`.* TO the task's user (grants "
			   "through roles or wildcards are not followed here)", at->task->target_ep->user ?
			   at->task->target_ep->user : "?", missing, db, why, missing, db);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The target databases of the selected tables, sorted, each once (names owned by the
 * name map or the catalog); *n of them, or NULL when there is none or no memory. */
static const char **target_databases(const assess_task *at, int *n)
{
	*n = 0;
	const char **dbs = at->cat ? calloc((size_t)at->n_selected + 1, sizeof *dbs) : NULL;
	for (int i = 0; dbs && i < at->cat->n_tables; i++) {
		const char *tn;
		if (at->selected[i] && *n < at->n_selected)
			catalog_map_table(at->map, at->cat->tables[i], &dbs[(*n)++], &tn);
	}
	if (dbs == NULL || *n == 0)
		return dbs;
	qsort(dbs, (size_t)*n, sizeof *dbs, cmp_names);
	int k = 1;
	for (int i = 1; i < *n; i++)
		if (strcmp(dbs[i], dbs[k - 1]) != 0)
			dbs[k++] = dbs[i];
	*n = k;
	return dbs;
}

/* CREATE and INSERT (DROP under drop) on the bookkeeping database and each target one. */
static void check_privileges(assess_task *at, MYSQL *conn)
{
	grants g = {0};
	if (read_grants(at, conn, &g) < 0)
		return;
	int before = at->report->n, n = 0;
	check_database_privileges(at, &g, MY_TARGET_DB, "ferry keeps its progress there");
	const char **dbs = target_databases(at, &n);
	for (int i = 0; dbs && i < n; i++)
		check_database_privileges(at, &g, dbs[i], "a target database");
	if (at->report->n == before)
		assess_add(at->report, ASSESS_OK, "target privileges",
			   "the user may create and fill tables in the %d target database%s and in `%s`", n,
			   n == 1 ? "" : "s", MY_TARGET_DB);
	free(dbs);
	for (int i = 0; i < g.n; i++)
		free(g.lines[i]);
}

/* ---- tables ------------------------------------------------------------------------- */

static void check_limits(assess_task *at, MYSQL *conn)
{
	my_ddl_options o = {.names = at->map, .prep = at->task->target_table_prep,
			    .create_tables = at->task->create_tables, .collation = my_target_collation(conn),
			    .mariadb = mariadb_connection(conn)};
	strbuf problems = STRBUF_INIT;
	int bad = 0;
	for (int i = 0; i < at->cat->n_tables; i++)
		if (at->selected[i])
			bad += my_ddl_check_table(at->cat->tables[i], &o, &problems);
	for (const char *p = strbuf_str(&problems); *p;) {
		size_t len = strcspn(p, "\n");
		if (len > 0)
			assess_add(at->report, ASSESS_FAIL, "target limits", "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
	}
	if (bad == 0 && !strbuf_failed(&problems))
		assess_add(at->report, ASSESS_OK, "target limits", "every selected table fits the target's names and types");
	strbuf_free(&problems);
}

/* 1 when the target has schema.name, 0 when not, -1 when it cannot be asked. */
static int table_exists(MYSQL *conn, const char *schema, const char *name, char **err)
{
	strbuf sql = STRBUF_INIT;
	strbuf_append(&sql, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
	my_sql_append_literal(&sql, conn, schema);
	strbuf_append(&sql, " AND TABLE_NAME = ");
	my_sql_append_literal(&sql, conn, name);
	char v[32] = "";
	int r = strbuf_failed(&sql) ? -1 : my_sql_value(conn, strbuf_str(&sql), v, sizeof v, "target: tables", err);
	strbuf_free(&sql);
	return r < 0 ? -1 : strtol(v, NULL, 10) > 0;
}

typedef struct table_counts {
	int created, kept, dropped, failed;
	strbuf drops;
} table_counts;

static void check_table(assess_task *at, MYSQL *conn, int i, table_counts *n)
{
	const task_config *task = at->task;
	const char *ts, *tn;
	catalog_map_table(at->map, at->cat->tables[i], &ts, &tn);
	char *err = NULL;
	int exists = table_exists(conn, ts, tn, &err);
	if (exists < 0) {
		assess_add(at->report, ASSESS_NOT_RUN, "target tables", "%s", err ? err : "out of memory");
		n->failed++;
	} else if (!exists && task->migration_type == MIGRATION_CDC) {
		assess_add(at->report, ASSESS_FAIL, "target tables", "`%s`.`%s` does not exist: migration_type = cdc "
			   "copies and creates no table; create and fill it first, or use full-load-and-cdc", ts, tn);
		n->failed++;
	} else if (!exists && !task->create_tables) {
		assess_add(at->report, ASSESS_FAIL, "target tables",
			   "`%s`.`%s` does not exist and create_tables = no: create it, or set create_tables = yes", ts, tn);
		n->failed++;
	} else if (!exists) {
		n->created++;
	} else if (task->target_table_prep == TABLE_PREP_DROP && task->migration_type != MIGRATION_CDC) {
		if (n->dropped++ < LIST_MAX)
			strbuf_appendf(&n->drops, "%s`%s`.`%s`", n->dropped > 1 ? ", " : "", ts, tn);
	} else {
		n->kept++;
	}
	free(err);
}

static void check_tables(assess_task *at, MYSQL *conn)
{
	table_counts n = {.drops = STRBUF_INIT};
	for (int i = 0; i < at->cat->n_tables; i++)
		if (at->selected[i])
			check_table(at, conn, i, &n);
	if (n.dropped > LIST_MAX)
		strbuf_appendf(&n.drops, " and %d more", n.dropped - LIST_MAX);
	if (n.dropped > 0)
		assess_add(at->report, ASSESS_WARNING, "target tables",
			   "%d existing table%s will be dropped and created again (target_table_prep = drop): %s", n.dropped,
			   n.dropped == 1 ? "" : "s", strbuf_str(&n.drops));
	if (n.kept > 0)
		assess_add(at->report, ASSESS_WARNING, "target tables",
			   "%d existing table%s will be kept as %s (target_table_prep = %s): their columns are not "
			   "compared with the source's by the assessment; make sure they match", n.kept,
			   n.kept == 1 ? "" : "s", n.kept == 1 ? "it is" : "they are",
			   at->task->target_table_prep == TABLE_PREP_NOTHING ? "nothing" : "truncate");
	if (n.failed == 0)
		assess_add(at->report, ASSESS_OK, "target tables", "%d will be created, %d kept, %d dropped and created",
			   n.created, n.kept, n.dropped);
	strbuf_free(&n.drops);
}

void assess_my_target(assess_task *at)
{
	endpoint_conn *conn = NULL;
	if (assess_my_connect(at, ENDPOINT_TARGET, &conn) < 0)
		return;
	local_infile(at, conn->mysql);
	check_privileges(at, conn->mysql);
	if (at->cat == NULL)
		assess_add(at->report, ASSESS_NOT_RUN, "target tables",
			   "the source's tables are not known (see above): nothing to compare the target with");
	else if (at->n_selected > 0) {
		check_limits(at, conn->mysql);
		check_tables(at, conn->mysql);
	}
	endpoint_close(conn);
}
