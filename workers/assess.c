/* The pre-migration assessment's driver (see the header): per task the source side,
 * the checks common to every engine pair, the target side, then the printed report. */
#include "workers/assess.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define LIST_MAX 10 /* names listed in one finding; the rest are counted */

static const assess_engine *const engines[] = {&assess_pg_engine, &assess_my_engine};

static const assess_engine *engine_for(engine_kind kind)
{
	for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
		if (engines[i]->engine == kind)
			return engines[i];
	return NULL;
}

static const char *engine_name(engine_kind kind)
{
	return kind == ENGINE_POSTGRESQL ? "postgresql" : "mysql";
}

/* ---- the report ------------------------------------------------------------------- */

void assess_add(assess_report *r, assess_level level, const char *check, const char *fmt, ...)
{
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 32;
		assess_item *grown = realloc(r->items, sizeof *grown * (size_t)cap);
		if (grown == NULL)
			return;
		r->items = grown;
		r->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	r->items[r->n++] = (assess_item){level, strdup(check), text};
}

void assess_report_free(assess_report *r)
{
	for (int i = 0; i < r->n; i++) {
		free(r->items[i].check);
		free(r->items[i].text);
	}
	free(r->items);
	memset(r, 0, sizeof *r);
}

assess_level assess_report_worst(const assess_report *r)
{
	assess_level worst = ASSESS_OK;
	for (int i = 0; i < r->n; i++) {
		assess_level l = r->items[i].level;
		if (l == ASSESS_FAIL || (l == ASSESS_NOT_RUN && worst != ASSESS_FAIL) || (l == ASSESS_WARNING && worst < l))
			worst = l;
	}
	return worst;
}

endpoint_conn *assess_connect(assess_task *at, endpoint_role role, const endpoint_config **ep, const char **check)
{
	*ep = role == ENDPOINT_SOURCE ? at->task->source_ep : at->task->target_ep;
	*check = role == ENDPOINT_SOURCE ? "source reachable" : "target reachable";
	char message[ENDPOINT_MESSAGE_MAX];
	endpoint_conn *c = NULL;
	if (endpoint_connect(*ep, role, at->app_name, &c, message, sizeof message) != ENDPOINT_OK) {
		assess_add(at->report, ASSESS_FAIL, *check, "%s", message);
		return NULL;
	}
	return c;
}

void assess_format_bytes(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)(bytes > 0 ? bytes : 0);
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f B", v);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* ---- checks common to every pair ---------------------------------------------------- */

static void quoted_name(const char *schema, const char *name, char *buf, size_t size)
{
	strbuf sb = STRBUF_INIT;
	sql_append_pg_qualified(&sb, schema, name);
	snprintf(buf, size, "%s", strbuf_failed(&sb) ? "?" : strbuf_str(&sb));
	strbuf_free(&sb);
}

/* Count, estimated rows and size, then the largest tables one a line. */
static void check_selection(assess_task *at)
{
	const catalog *cat = at->cat;
	int64_t rows = 0, bytes = 0;
	int unknown = 0;
	for (int i = 0; i < cat->n_tables; i++) {
		if (!at->selected[i])
			continue;
		unknown += cat->tables[i]->est_rows < 0;
		rows += cat->tables[i]->est_rows > 0 ? cat->tables[i]->est_rows : 0;
		bytes += cat->tables[i]->est_bytes > 0 ? cat->tables[i]->est_bytes : 0;
	}
	if (at->n_selected == 0) {
		assess_add(at->report, ASSESS_FAIL, "tables selected",
			   "no table of the source is selected: check the task's include and exclude rules (names are "
			   "matched exactly, as the source spells them: schema.table)");
		return;
	}
	char size[32];
	assess_format_bytes(bytes, size, sizeof size);
	strbuf list = STRBUF_INIT;
	int listed = 0;
	for (int i = 0; i < cat->n_tables && listed < LIST_MAX * 2; i++) {
		const catalog_table *t = cat->tables[i];
		if (!at->selected[i])
			continue;
		char src[300], dst[300], tsize[32];
		const char *ts, *tn;
		catalog_map_table(at->map, t, &ts, &tn);
		quoted_name(t->schema, t->name, src, sizeof src);
		quoted_name(ts, tn, dst, sizeof dst);
		assess_format_bytes(t->est_bytes, tsize, sizeof tsize);
		if (t->est_rows >= 0)
			strbuf_appendf(&list, "\n%s -> %s: about %" PRId64 " rows, %s", src, dst, t->est_rows, tsize);
		else
			strbuf_appendf(&list, "\n%s -> %s: rows unknown (never analyzed), %s", src, dst, tsize);
		listed++;
	}
	if (at->n_selected > listed)
		strbuf_appendf(&list, "\n... and %d more", at->n_selected - listed);
	assess_add(at->report, ASSESS_OK, "tables selected", "%d table%s, about %" PRId64 " rows%s, %s%s", at->n_selected,
		   at->n_selected == 1 ? "" : "s", rows, unknown ? " (some never analyzed: ANALYZE them)" : "", size,
		   strbuf_str(&list));
	strbuf_free(&list);
}

/* Tables without a primary or unique key are matched on all columns. */
static void check_keys(assess_task *at)
{
	strbuf list = STRBUF_INIT;
	int n = 0;
	for (int i = 0; i < at->cat->n_tables; i++) {
		const catalog_table *t = at->cat->tables[i];
		if (!at->selected[i] || t->key_kind != CATALOG_KEY_NONE)
			continue;
		char name[300];
		quoted_name(t->schema, t->name, name, sizeof name);
		if (n++ < LIST_MAX)
			strbuf_appendf(&list, "%s%s", n > 1 ? ", " : "", name);
	}
	if (n > LIST_MAX)
		strbuf_appendf(&list, " and %d more", n - LIST_MAX);
	if (n == 0)
		assess_add(at->report, ASSESS_OK, "primary keys", "every selected table has a primary or unique key");
	else
		assess_add(at->report, ASSESS_WARNING, "primary keys",
			   "%d table%s without a primary or unique key (%s): changes are matched on all columns, slow "
			   "on large tables, and identical rows cannot be told apart; add a primary key where you can",
			   n, n == 1 ? "" : "s", strbuf_str(&list));
	strbuf_free(&list);
}

static void long_name(strbuf *list, int *n, const char *what, const char *name, int max)
{
	if ((int)strlen(name) <= max)
		return;
	if ((*n)++ < LIST_MAX)
		strbuf_appendf(list, "\n%s \"%s\" (%zu bytes)", what, name, strlen(name));
}

/* Target names (after the rename rules) the target engine would cut or refuse. */
static void check_name_lengths(assess_task *at, const assess_engine *target)
{
	strbuf list = STRBUF_INIT;
	int n = 0, max = target->max_name_bytes;
	for (int i = 0; i < at->cat->n_tables; i++) {
		const catalog_table *t = at->cat->tables[i];
		if (!at->selected[i])
			continue;
		const char *ts, *tn;
		catalog_map_table(at->map, t, &ts, &tn);
		long_name(&list, &n, "schema", ts, max);
		long_name(&list, &n, "table", tn, max);
		for (int c = 0; c < t->n_columns; c++) {
			const char *cn = catalog_map_column(at->map, t, c);
			if (cn)
				long_name(&list, &n, "column", cn, max);
		}
	}
	if (n > LIST_MAX)
		strbuf_appendf(&list, "\n... and %d more", n - LIST_MAX);
	if (n == 0)
		assess_add(at->report, ASSESS_OK, "name lengths", "every target name fits %s's limit of %d bytes",
			   target->name, max);
	else
		assess_add(at->report, ASSESS_FAIL, "name lengths",
			   "%d target name%s longer than %s allows (%d bytes): shorten them with rename_schema, "
			   "rename_table or rename_column%s", n, n == 1 ? " is" : "s are", target->name, max,
			   strbuf_str(&list));
	strbuf_free(&list);
}

/* ---- one task ----------------------------------------------------------------------- */

static void assess_task_run(assess_task *at)
{
	const task_config *task = at->task;
	const assess_engine *src = engine_for(task->source_ep->engine);
	const assess_engine *dst = engine_for(task->target_ep->engine);
	if (src == NULL || src->source == NULL)
		assess_add(at->report, ASSESS_NOT_RUN, "source",
			   "assessment of %s sources not available yet: source endpoint %s was not checked",
			   engine_name(task->source_ep->engine), task->source_ep->name);
	else
		src->source(at);
	if (at->cat != NULL) {
		check_selection(at);
		if (at->n_selected > 0) {
			check_keys(at);
			if (dst != NULL)
				check_name_lengths(at, dst);
		}
	}
	if (dst == NULL || dst->target == NULL)
		assess_add(at->report, ASSESS_NOT_RUN, "target",
			   "assessment of %s targets not available yet: target endpoint %s was not checked",
			   engine_name(task->target_ep->engine), task->target_ep->name);
	else
		dst->target(at);
	if (src != NULL && src->source_free != NULL)
		src->source_free(at);
}

/* ---- printing ----------------------------------------------------------------------- */

static const char *level_name(assess_level l)
{
	switch (l) {
	case ASSESS_OK: return "OK";
	case ASSESS_SKIP: return "SKIP";
	case ASSESS_WARNING: return "WARNING";
	case ASSESS_FAIL: return "FAIL";
	case ASSESS_NOT_RUN: return "N/A";
	}
	return "?";
}

static const char *migration_name(migration_kind m)
{
	return m == MIGRATION_FULL_LOAD ? "full-load" : m == MIGRATION_CDC ? "cdc" : "full-load-and-cdc";
}

/* "  FAIL     wal_level              text", continuation lines indented under the text. */
static void print_item(FILE *out, const assess_item *it)
{
	fprintf(out, "  %-8s %-24s ", level_name(it->level), it->check ? it->check : "?");
	for (const char *p = it->text ? it->text : "out of memory"; *p; p++) {
		fputc(*p, out);
		if (*p == '\n')
			fprintf(out, "  %-8s %-24s   ", "", "");
	}
	fputc('\n', out);
}

static void print_task(FILE *out, const task_config *task, const assess_report *r)
{
	const endpoint_config *s = task->source_ep, *t = task->target_ep;
	fprintf(out, "task %s: %s %s (%s:%d) -> %s %s (%s:%d), %s\n", task->name, engine_name(s->engine), s->name,
		s->host ? s->host : "localhost", s->port, engine_name(t->engine), t->name, t->host ? t->host : "localhost",
		t->port, migration_name(task->migration_type));
	int count[ASSESS_NOT_RUN + 1] = {0};
	for (int i = 0; i < r->n; i++) {
		print_item(out, &r->items[i]);
		count[r->items[i].level]++;
	}
	fprintf(out, "  => %d failed, %d warning%s, %d ok%s", count[ASSESS_FAIL], count[ASSESS_WARNING],
		count[ASSESS_WARNING] == 1 ? "" : "s", count[ASSESS_OK], count[ASSESS_SKIP] ? ", " : "");
	if (count[ASSESS_SKIP])
		fprintf(out, "%d not needed", count[ASSESS_SKIP]);
	if (count[ASSESS_NOT_RUN])
		fprintf(out, ", %d could not run", count[ASSESS_NOT_RUN]);
	fprintf(out, "\n\n");
}

int assess_run(const ferry_config *cfg, const char *task_name, FILE *out)
{
	int assessed = 0, failed = 0, not_run = 0;
	for (int i = 0; i < cfg->n_tasks; i++) {
		const task_config *task = &cfg->tasks[i];
		if (task_name != NULL && strcmp(task->name, task_name) != 0)
			continue;
		assess_report r = {0};
		assess_task at = {.config = cfg, .task = task, .report = &r};
		snprintf(at.app_name, sizeof at.app_name, "ferry assess %s", task->name);
		assess_task_run(&at);
		print_task(out, task, &r);
		fflush(out);
		assess_level worst = assess_report_worst(&r);
		failed += worst == ASSESS_FAIL;
		not_run += worst == ASSESS_NOT_RUN;
		assessed++;
		assess_report_free(&r);
	}
	if (task_name != NULL && assessed == 0) {
		fprintf(stderr, "no task named %s in %s\n", task_name, cfg->path);
		return 2;
	}
	if (assessed == 0)
		fprintf(out, "no task in %s: nothing to assess\n", cfg->path);
	else if (failed > 0)
		fprintf(out, "assessment: %d of %d task%s would fail: fix what the FAIL lines say, then assess again\n",
			failed, assessed, assessed == 1 ? "" : "s");
	else if (not_run > 0)
		fprintf(out, "assessment: nothing fails, but %d task%s could not be assessed completely (N/A lines)\n",
			not_run, not_run == 1 ? "" : "s");
	else
		fprintf(out, "assessment: nothing fails (%d task%s)\n", assessed, assessed == 1 ? "" : "s");
	return failed > 0 ? 1 : not_run > 0 ? 2 : 0;
}
