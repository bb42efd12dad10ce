/* Planning a PostgreSQL task, once per ferryd start, by capture before it publishes
 * the plan: target tables, owners, partitions. */
#include "workers/capture_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "workers/pg_load.h"
#include "workers/pg_load_plan.h"

int capture_selection_build(const pg_task_tables *tt, capture_selection *out)
{
	int n = tt->cat->n_tables;
	out->n = 0;
	out->schemas = calloc((size_t)n + 1, sizeof *out->schemas);
	out->names = calloc((size_t)n + 1, sizeof *out->names);
	out->filters = calloc((size_t)n + 1, sizeof *out->filters);
	if (out->schemas == NULL || out->names == NULL || out->filters == NULL) {
		capture_selection_free(out);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!pg_task_table_selected(tt, i))
			continue;
		out->schemas[out->n] = tt->cat->tables[i]->schema;
		out->names[out->n] = tt->cat->tables[i]->name;
		out->filters[out->n] = tt->resolved[i].filter;
		out->n++;
	}
	return 0;
}

void capture_selection_free(capture_selection *sel)
{
	free(sel->schemas);
	free(sel->names);
	free(sel->filters);
	sel->filters = NULL;
	sel->schemas = sel->names = NULL;
	sel->n = 0;
}

/* Before-load DDL for one table (target_table_prep, create_tables) with its recorded
 * load progress forgotten: the table starts from zero (workers/target.h). names: NULL
 * when t carries the target names already (another source engine's). */
static int prepare_target_table(const capture_plan_input *in, const catalog_table *t, const catalog_name_map *names,
				const pg_load_table *lt, char **err)
{
	return in->ops->prepare_table(in->target_ep, t, names, lt, in->ctx->task, err);
}

/* Largest table first, each to the apply worker with the fewest bytes so far. */
static void assign_owners(const capture_plan_input *in, const int *order, int n)
{
	int n_apply = in->ctx->task->apply_workers;
	int64_t load[TASKSTATE_MAX_APPLY + 1] = {0};
	for (int k = 0; k < n; k++) {
		const catalog_table *t = in->tables->cat->tables[order[k]];
		int best = 1;
		for (int w = 2; w <= n_apply; w++)
			if (load[w] < load[best])
				best = w;
		load[best] += t->est_bytes > 0 ? t->est_bytes : 1;
		in->ts->tables[k].owner = best;
	}
}

static const pg_task_tables *sort_tables;
static int by_size_desc(const void *a, const void *b)
{
	int64_t x = sort_tables->cat->tables[*(const int *)a]->est_bytes;
	int64_t y = sort_tables->cat->tables[*(const int *)b]->est_bytes;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void fill_table(const capture_plan_input *in, int k, const catalog_table *t)
{
	taskstate_table *st = &in->ts->tables[k];
	const char *schema, *name;
	pg_task_quoted_name(t->schema, t->name, st->source_name, sizeof st->source_name);
	catalog_map_table(&in->tables->map, t, &schema, &name);
	pg_task_quoted_name(schema, name, st->target_name, sizeof st->target_name);
	st->source_oid = t->id;
	st->keyless = t->key_kind == CATALOG_KEY_NONE;
	atomic_store(&st->rows_estimated, t->est_rows > 0 ? t->est_rows : 0);
}

/* Partitions of one table (plan) into the task state; its recorded progress read back. */
static int fill_plan(const capture_plan_input *in, int k, const pg_load_table *lt, const pg_load_plan *plan,
		     char **err)
{
	taskstate *ts = in->ts;
	taskstate_table *st = &ts->tables[k];
	pg_load_table_progress prog = {0};
	int rc = in->ops->progress_read(in->target_ep, in->ctx->task->name, lt, &prog, err);
	if (rc == 0 && ts->n_parts + plan->n > TASKSTATE_MAX_PARTITIONS) {
		*err = strdup("the load plan has more partitions than a task may have (16384): raise partition_rows");
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < plan->n; i++) {
		const pg_load_partition *p = &plan->parts[i];
		taskstate_partition *tp = &ts->parts[ts->n_parts++];
		*tp = (taskstate_partition){.table = k, .number = p->number, .count = p->count, .kind = p->kind,
					    .lo = p->lo, .hi = p->hi, .est_rows = p->est_rows,
					    .open_lo = p->open_lo, .open_hi = p->open_hi};
		atomic_store(&tp->claim, prog.finished ? TASKSTATE_PART_DONE : TASKSTATE_PART_FREE);
	}
	if (rc == 0) {
		atomic_store(&st->parts_total, plan->n);
		atomic_store(&st->parts_done, prog.finished ? plan->n : 0);
		atomic_store(&st->rows_loaded, prog.rows);
		atomic_store(&st->finish_position, prog.has_position ? prog.max_position : 0);
		if (in->engine != NULL)
			st->n_xip = -1; /* other engines record exact positions: see taskstate.h */
		bool cdc = in->ctx->task->migration_type != MIGRATION_FULL_LOAD;
		atomic_store(&st->state, prog.finished ? (cdc ? TABLE_CATCHING_UP : TABLE_IN_SYNC) : TABLE_QUEUED);
	}
	return rc;
}

static int plan_table(const capture_plan_input *in, int k, const pg_load_table *lt, char **err)
{
	pg_load_plan plan = {0};
	pg_load_plan_options po = {.task = in->ctx->task->name, .partition_rows = in->ctx->task->partition_rows,
				   .shared_snapshot = in->shared_snapshot};
	int rc = in->ops->plan_table(in->source, in->target_ep, lt, k, &po, &plan, err);
	if (rc == 0)
		rc = fill_plan(in, k, lt, &plan, err);
	pg_load_plan_free(&plan);
	return rc;
}

/* Whether the target has recorded progress of the table (a resumed task). */
static bool recorded(const capture_plan_input *in, const pg_load_table *lt)
{
	pg_load_table_progress prog = {0};
	char *err = NULL;
	bool yes = !in->fresh_slot && in->ops->progress_read(in->target_ep, in->ctx->task->name, lt, &prog, &err) == 0 &&
		   (prog.partitions_done > 0 || prog.finished);
	free(err);
	return yes;
}

/* Another source engine's table: its DDL model and plan come from the engine. */
static int prepare_engine_table(const capture_plan_input *in, int k, int i, char **err)
{
	const capture_plan_engine *e = in->engine;
	void *h = NULL;
	const pg_load_table *lt = NULL;
	const catalog_table *ddl = NULL;
	if (e->open(e->arg, i, &h, &lt, &ddl, err) < 0)
		return -1;
	int rc = recorded(in, lt) ? 0 : prepare_target_table(in, ddl, NULL, lt, err);
	pg_load_plan plan = {0};
	if (rc == 0)
		rc = e->plan(e->arg, h, k, &plan, err);
	if (rc == 0)
		rc = fill_plan(in, k, lt, &plan, err);
	pg_load_plan_free(&plan);
	e->close(e->arg, h);
	return rc;
}

/* One table: DDL unless resuming a table with recorded partitions, then its partitions.
 * A fresh slot (or a full-load task, which has none) starts every table from zero. */
static int prepare_table(const capture_plan_input *in, int k, const catalog_table *t)
{
	char *err = NULL;
	fill_table(in, k, t);
	taskstate_table *st = &in->ts->tables[k];
	if (in->ctx->task->migration_type == MIGRATION_CDC) {
		atomic_store(&st->state, TABLE_IN_SYNC);
		return 0;
	}
	int i = pg_task_find_oid(in->tables, t->id);
	int rc;
	if (in->engine != NULL) {
		rc = prepare_engine_table(in, k, i, &err);
	} else {
		pg_load_table lt;
		pg_load_table_options lo = {.names = &in->tables->map, .filter = in->tables->resolved[i].filter,
					    .target_owned = in->ctx->task->target_table_prep != TABLE_PREP_NOTHING};
		rc = pg_load_table_init(&lt, t, &lo, &err);
		if (rc == 0) {
			if (!recorded(in, &lt))
				rc = prepare_target_table(in, t, &in->tables->map, &lt, &err);
			if (rc == 0)
				rc = plan_table(in, k, &lt, &err);
			pg_load_table_free(&lt);
		}
	}
	if (rc < 0) {
		int code = in->ops->transient(in->target_ep) ||
				   (in->source != NULL && PQstatus(in->source) == CONNECTION_BAD)
				   ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL;
		rc = pg_task_fail(in->ctx, code, "table %s: %s", st->source_name, err ? err : "failed");
		free(err);
	}
	return rc;
}

static int plan_task(const capture_plan_input *in);

int capture_plan_task(const capture_plan_input *given)
{
	/* Without an engine table the target is PostgreSQL, reached through its PGconn. */
	capture_plan_input in = *given;
	endpoint_conn view = {.engine = ENGINE_POSTGRESQL, .role = ENDPOINT_TARGET, .pg = given->target};
	if (in.ops == NULL) {
		snprintf(view.name, sizeof view.name, "%s", given->ctx->task->target_ep->name);
		in.ops = &target_pg_ops;
		in.target_ep = &view;
	}
	return plan_task(&in);
}

static int plan_task(const capture_plan_input *in)
{
	char *err = NULL;
	if (in->ctx->task->migration_type != MIGRATION_CDC && in->ops->bookkeeping_init(in->target_ep, &err) < 0) {
		int code = pg_task_fail(in->ctx, FERRY_EXIT_TRANSIENT, "target bookkeeping: %s", err);
		free(err);
		return code;
	}
	int n = 0, n_all = in->tables->cat->n_tables;
	int *order = calloc((size_t)n_all + 1, sizeof *order);
	if (order == NULL)
		return pg_task_fail(in->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
	for (int i = 0; i < n_all; i++)
		if (pg_task_table_selected(in->tables, i))
			order[n++] = i;
	if (n > TASKSTATE_MAX_TABLES) {
		free(order);
		return pg_task_fail(in->ctx, FERRY_EXIT_FATAL, "%d tables selected, a task may have at most %d: split "
				    "the task", n, TASKSTATE_MAX_TABLES);
	}
	sort_tables = in->tables;
	qsort(order, (size_t)n, sizeof *order, by_size_desc);
	in->ts->n_tables = n;
	in->ts->n_parts = 0;
	in->ts->n_apply = in->ctx->task->apply_workers;
	assign_owners(in, order, n);
	for (int k = 0; k < n; k++) {
		int rc = prepare_table(in, k, in->tables->cat->tables[order[k]]);
		if (rc != 0) {
			free(order);
			return rc;
		}
	}
	free(order);
	log_info("plan: %d tables, %d partitions, %d apply workers", n, in->ts->n_parts, in->ts->n_apply);
	return 0;
}
