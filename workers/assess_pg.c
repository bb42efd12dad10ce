/* The PostgreSQL side of the pre-migration assessment (workers/assess.h): as a source,
 * the capture preflight's checks (pg_capture_assess) and the selected tables read with
 * the task's rules (pg_task_tables_read); as a target, assess_pg_target.c. */
#include <stdlib.h>
#include <string.h>

#include "workers/assess.h"
#include "workers/assess_pg.h"
#include "workers/capture_int.h"
#include "workers/pg_capture.h"
#include "workers/pg_task.h"

/* The source side's state, kept until the target side and the common checks are done. */
typedef struct pg_source_state {
	endpoint_conn *conn;
	pg_task_tables tables;
	bool *selected;
} pg_source_state;

/* Findings of pg_capture_assess, grouped per check once it is done. */
typedef struct finding {
	pg_capture_check check;
	pg_capture_finding kind;
	char *text;
} finding;

typedef struct findings {
	finding *items;
	int n, cap;
} findings;

static void collect(void *arg, pg_capture_check check, pg_capture_finding kind, const char *text)
{
	findings *f = arg;
	if (f->n == f->cap) {
		int cap = f->cap ? f->cap * 2 : 32;
		finding *grown = realloc(f->items, sizeof *grown * (size_t)cap);
		if (grown == NULL)
			return;
		f->items = grown;
		f->cap = cap;
	}
	f->items[f->n++] = (finding){check, kind, strdup(text)};
}

static bool is_table_check(pg_capture_check c)
{
	return c == PG_CHECK_TABLES || c == PG_CHECK_SELECT || c == PG_CHECK_REPLICA_IDENTITY || c == PG_CHECK_PUBLICATION;
}

/* Per check, in the preflight's order: problems (FAIL), warnings, or OK with what it
 * saw. A full-load task needs no logical replication: those checks are SKIP. Without
 * any table selected the table checks have nothing to look at (the common "tables
 * selected" check fails instead). */
static void report_findings(assess_task *at, const findings *f, bool no_tables)
{
	bool full_load = at->task->migration_type == MIGRATION_FULL_LOAD;
	for (int c = 0; c < PG_CHECK_COUNT; c++) {
		const char *name = pg_capture_check_name((pg_capture_check)c);
		if (full_load && pg_capture_check_cdc_only((pg_capture_check)c)) {
			assess_add(at->report, ASSESS_SKIP, name, "not needed: migration_type = full-load reads no log");
			continue;
		}
		if (no_tables && is_table_check((pg_capture_check)c)) {
			assess_add(at->report, ASSESS_SKIP, name, "no table is selected");
			continue;
		}
		int bad = 0;
		for (int k = PG_FINDING_PROBLEM; k >= PG_FINDING_WARNING; k--) {
			for (int i = 0; i < f->n; i++) {
				if (f->items[i].check != (pg_capture_check)c || f->items[i].kind != (pg_capture_finding)k)
					continue;
				assess_add(at->report, k == PG_FINDING_PROBLEM ? ASSESS_FAIL : ASSESS_WARNING, name, "%s",
					   f->items[i].text ? f->items[i].text : "out of memory");
				bad++;
			}
		}
		for (int i = 0; i < f->n && bad == 0; i++) {
			if (f->items[i].check == (pg_capture_check)c && f->items[i].kind == PG_FINDING_NOTE) {
				assess_add(at->report, ASSESS_OK, name, "%s", f->items[i].text ? f->items[i].text : "");
				bad = -1; /* the first note is enough */
			}
		}
	}
}

static void free_findings(findings *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->items[i].text);
	free(f->items);
}

/* The preflight over the selected tables (with none, its server checks still count). */
static void run_preflight(assess_task *at, pg_source_state *ps)
{
	capture_selection sel = {0};
	if (capture_selection_build(&ps->tables, &sel) < 0) {
		assess_add(at->report, ASSESS_NOT_RUN, "source checks", "out of memory");
		return;
	}
	pg_capture_source src = {.schemas = sel.schemas, .names = sel.names, .filters = sel.filters,
				 .n_tables = sel.n, .publication = at->task->publication, .slot = at->task->slot_name};
	findings f = {0};
	endpoint_result r = pg_capture_assess(ps->conn->pg, &src, collect, &f);
	report_findings(at, &f, sel.n == 0);
	if (r == ENDPOINT_TRANSIENT && PQstatus(ps->conn->pg) == CONNECTION_BAD)
		assess_add(at->report, ASSESS_NOT_RUN, "source checks",
			   "the connection to the source was lost during the checks: run the assessment again");
	free_findings(&f);
	capture_selection_free(&sel);
}

/* One filtered table: the filter must be valid on the source (tried in a query that
 * reads no row); for CDC it may use only replica-identity columns, which the server
 * checks only once the table is published (the start probes it then). */
static void check_filter(assess_task *at, PGconn *conn, const catalog_table *t, const char *filter, int *fails)
{
	strbuf sql = STRBUF_INIT, name = STRBUF_INIT;
	sql_append_pg_qualified(&name, t->schema, t->name);
	strbuf_appendf(&sql, "SELECT 1 FROM %s WHERE %s LIMIT 0", strbuf_str(&name), filter);
	PGresult *res = strbuf_failed(&sql) ? NULL : PQexec(conn, strbuf_str(&sql));
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char *msg = strdup(PQerrorMessage(conn));
		for (char *c = msg; c && *c; c++)
			if (*c == '\n')
				*c = ' ';
		assess_add(at->report, ASSESS_FAIL, "row filters", "the filter on %s does not work on the source: %s; "
			   "correct the task's filter line", strbuf_str(&name), msg ? msg : "out of memory");
		free(msg);
		(*fails)++;
	} else if (at->task->migration_type != MIGRATION_FULL_LOAD && t->replica_identity != CATALOG_RI_FULL) {
		assess_add(at->report, ASSESS_WARNING, "row filters",
			   "the filter on %s may use only its replica identity (key) columns for CDC, or the source "
			   "refuses UPDATE and DELETE on it once published; the task's start checks it and refuses "
			   "otherwise: filter on key columns, or ALTER TABLE %s REPLICA IDENTITY FULL", strbuf_str(&name),
			   strbuf_str(&name));
	}
	PQclear(res);
	strbuf_free(&sql);
	strbuf_free(&name);
}

static void check_filters(assess_task *at, pg_source_state *ps)
{
	const pg_task_tables *tt = &ps->tables;
	int n = 0, fails = 0;
	bool cdc = at->task->migration_type != MIGRATION_FULL_LOAD;
	for (int i = 0; i < tt->cat->n_tables; i++) {
		if (!ps->selected[i] || tt->resolved[i].filter == NULL)
			continue;
		n++;
		check_filter(at, ps->conn->pg, tt->cat->tables[i], tt->resolved[i].filter, &fails);
	}
	if (n > 0 && cdc && PQserverVersion(ps->conn->pg) < 150000)
		assess_add(at->report, ASSESS_FAIL, "row filters",
			   "row filters on a cdc task need PostgreSQL 15 or later on the source (publication row "
			   "filters): remove the filter, or use migration_type = full-load");
	else if (n > 0 && fails == 0)
		assess_add(at->report, ASSESS_OK, "row filters", "%d filter%s valid on the source", n, n == 1 ? "" : "s");
}

static void pg_source(assess_task *at)
{
	pg_source_state *ps = calloc(1, sizeof *ps);
	if (ps == NULL) {
		assess_add(at->report, ASSESS_NOT_RUN, "source", "out of memory");
		return;
	}
	at->source_state = ps;
	if (assess_pg_connect(at, ENDPOINT_SOURCE, &ps->conn) < 0)
		return;
	char *err = NULL;
	if (pg_task_tables_read(ps->conn->pg, at->task, &ps->tables, &err) < 0) {
		assess_add(at->report, PQstatus(ps->conn->pg) == CONNECTION_BAD ? ASSESS_NOT_RUN : ASSESS_FAIL,
			   "source catalog", "reading the source's tables failed: %s", err ? err : "out of memory");
		free(err);
		return;
	}
	const catalog *cat = ps->tables.cat;
	ps->selected = calloc((size_t)cat->n_tables + 1, sizeof *ps->selected);
	if (ps->selected == NULL) {
		assess_add(at->report, ASSESS_NOT_RUN, "source catalog", "out of memory");
		return;
	}
	for (int i = 0; i < cat->n_tables; i++)
		if ((ps->selected[i] = pg_task_table_selected(&ps->tables, i)))
			at->n_selected++;
	run_preflight(at, ps);
	check_filters(at, ps);
	at->cat = cat;
	at->selected = ps->selected;
	at->map = &ps->tables.map;
}

static void pg_source_free(assess_task *at)
{
	pg_source_state *ps = at->source_state;
	if (ps == NULL)
		return;
	pg_task_tables_free(&ps->tables);
	free(ps->selected);
	if (ps->conn)
		endpoint_close(ps->conn);
	free(ps);
	at->source_state = NULL;
	at->cat = NULL;
	at->selected = NULL;
	at->map = NULL;
}

const assess_engine assess_pg_engine = {
	.engine = ENGINE_POSTGRESQL,
	.name = "PostgreSQL",
	.max_name_bytes = 63, /* NAMEDATALEN - 1: longer names are cut, two may become one */
	.source = pg_source,
	.target = assess_pg_target,
	.source_free = pg_source_free,
};

int assess_pg_connect(assess_task *at, endpoint_role role, endpoint_conn **out)
{
	const endpoint_config *ep;
	const char *check;
	endpoint_conn *c = *out = assess_connect(at, role, &ep, &check);
	if (c == NULL)
		return -1;
	/* Nothing the assessment runs may write; a bug that tried would fail here. */
	PGresult *res = PQexec(c->pg, "SET default_transaction_read_only = on; SET statement_timeout = '60s'");
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		assess_add(at->report, ASSESS_NOT_RUN, check, "%s %s: cannot make the session read-only: %s",
			   endpoint_role_name(role), ep->name, PQerrorMessage(c->pg));
		endpoint_close(c);
		*out = NULL;
		return -1;
	}
	assess_add(at->report, ASSESS_OK, check, "%s at %s, database %s, as %s%s", c->server, c->address,
		   ep->dbname ? ep->dbname : c->user, c->user, c->tls ? ", encrypted" : "");
	return 0;
}
