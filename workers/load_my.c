/* The load worker's MySQL/MariaDB source engine (workers/load_int.h): each worker takes
 * its own consistent snapshot with its exact binlog position (workers/my_load.h), records
 * it with every partition as the table's finish_position, and copies partitions through
 * the target engine (workers/target.h): COPY through the type map into PostgreSQL,
 * LOAD DATA LOCAL INFILE of the source's own values into MySQL/MariaDB. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "ipc/record.h"
#include "workers/load_int.h"
#include "workers/my_load.h"
#include "workers/my_sql.h"
#include "workers/my_task.h"
#include "workers/pg_task.h"
#include "workers/target.h"

#define STEP_MS 200

typedef struct my_state {
	const target_ops *ops;
	my_task_tables tables;
	bool have_tables;
	bool session;
	my_load_source src;
	my_load_table *lts;  /* per task-state table, built when first needed */
	bool *lt_ready;
} my_state;

static my_state *state(load_proc *lp)
{
	return lp->engine_state;
}

static int fail(load_proc *lp, const char *what, char *err)
{
	MYSQL *src = lp->source->mysql;
	bool lost = my_sql_lost(src) || (state(lp) && state(lp)->ops->transient(lp->target));
	int code = pg_task_fail(lp->ctx, lost ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL, "%s: %s", what,
				err ? err : "failed");
	free(err);
	return code;
}

static int read_tables(load_proc *lp, my_state *s)
{
	char *err = NULL;
	strbuf problems = STRBUF_INIT;
	int r = my_task_tables_read(lp->source->mysql, lp->ctx->task, &s->tables, &problems, NULL, &err);
	if (r == 1) {
		/* capture refuses such a task before planning: the source changed since */
		err = strbuf_detach(&problems);
		my_task_tables_free(&s->tables);
	}
	strbuf_free(&problems);
	if (r != 0)
		return fail(lp, "reading the source catalog", err);
	s->have_tables = true;
	return 0;
}

static int begin(load_proc *lp)
{
	my_state *s = state(lp);
	if (s == NULL) {
		s = lp->engine_state = calloc(1, sizeof *s);
		if (s == NULL)
			return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
		s->lts = calloc((size_t)lp->ts->n_tables + 1, sizeof *s->lts);
		s->lt_ready = calloc((size_t)lp->ts->n_tables + 1, sizeof *s->lt_ready);
		if (s->lts == NULL || s->lt_ready == NULL)
			return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
		s->ops = target_ops_for(lp->ctx->task);
	}
	char *err = NULL;
	if (!s->session && my_task_session(lp->source->mysql, &err) < 0)
		return fail(lp, "source session", err);
	s->session = true;
	bool cdc = lp->ctx->task->migration_type != MIGRATION_FULL_LOAD;
	if (my_load_source_begin(&s->src, lp->source->mysql, cdc, &err) < 0)
		return fail(lp, "source transaction", err);
	if (cdc)
		log_info("reading under a consistent snapshot at binlog %s:%" PRIu32, s->src.file,
			 record_mysql_offset(s->src.position));
	return s->have_tables ? 0 : read_tables(lp, s);
}

static bool usable(load_proc *lp)
{
	return !state(lp)->src.aborted && !state(lp)->src.in_query;
}

static void end(load_proc *lp)
{
	char *err = NULL;
	if (state(lp) != NULL)
		my_load_source_end(&state(lp)->src, &err);
	free(err);
}

static int table_of(load_proc *lp, int k, my_load_table **out)
{
	my_state *s = state(lp);
	if (!s->lt_ready[k]) {
		int i = pg_task_find_oid(&s->tables.base, lp->ts->tables[k].source_oid);
		if (i < 0 || s->tables.pg[i].target == NULL)
			return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "table %s is gone from the source catalog",
					    lp->ts->tables[k].source_name);
		char *err = NULL;
		if (my_load_table_init(&s->lts[k], &s->tables.pg[i], s->tables.base.resolved[i].filter,
				       lp->ctx->task->target_table_prep != TABLE_PREP_NOTHING, &err) < 0)
			return fail(lp, lp->ts->tables[k].source_name, err);
		s->lt_ready[k] = true;
	}
	*out = &s->lts[k];
	return 0;
}

/* The table model of lt carries the target names: no name map. */
static int finish(load_proc *lp, int k)
{
	my_load_table *lt;
	int rc = table_of(lp, k, &lt);
	if (rc != 0)
		return rc;
	char *err = NULL;
	rc = state(lp)->ops->finish_table(lp->target, &lt->lt, NULL, lp->ctx->task, &err);
	return rc < 0 ? fail(lp, lp->ts->tables[k].source_name, err) : 0;
}

static int copy(load_proc *lp, int pi, bool whole, int64_t *rows)
{
	(void)whole; /* never asked: no can_copy_whole */
	my_state *s = state(lp);
	taskstate_partition *tp = &lp->ts->parts[pi];
	pg_load_partition p = {.table_id = lp->ts->tables[tp->table].source_oid, .table = tp->table,
			       .number = tp->number, .count = tp->count, .kind = tp->kind, .lo = tp->lo,
			       .hi = tp->hi, .est_rows = tp->est_rows, .open_lo = tp->open_lo, .open_hi = tp->open_hi};
	my_load_table *lt;
	int rc = table_of(lp, p.table, &lt);
	if (rc != 0)
		return rc;
	void *c = NULL;
	load_copy_watch watch = {.lp = lp, .ops = s->ops, .copy = &c, .table = p.table};
	target_copy_args a = {.my_src = &s->src, .my_lt = lt, .target = lp->target, .lt = &lt->lt, .p = &p,
			      .tables = &s->tables.base, .task = lp->ctx->task, .interrupt = load_copy_interrupted,
			      .interrupt_arg = &watch};
	char *err = NULL, label[256];
	pg_load_partition_label(&lt->lt, &p, label, sizeof label);
	pg_load_status st = s->ops->copy_start(&a, &c, &err);
	while (st == PG_LOAD_MORE) {
		if ((rc = load_check_signals(lp, 0)) != 0) {
			s->ops->copy_free(c);
			return rc;
		}
		st = s->ops->copy_step(c, STEP_MS, &err);
		if (st == PG_LOAD_MORE)
			load_publish_rows(lp, p.table, s->ops->copy_rows(c));
	}
	*rows = c ? s->ops->copy_rows(c) : 0;
	taskstate_table *t = &lp->ts->tables[p.table];
	if (st == PG_LOAD_DONE && c && s->ops->copy_invalid != NULL)
		atomic_fetch_add(&t->invalid_values, s->ops->copy_invalid(c));
	if (st == PG_LOAD_DONE && s->src.has_position) {
		/* the snapshot's position is exact: apply skips a keyless table's changes up to it */
		t->n_xip = -1;
		load_raise_position(t, s->src.position);
	}
	if (c)
		s->ops->copy_free(c);
	if (st == PG_LOAD_ERROR)
		return fail(lp, label, err);
	log_info("%s %s %s: %lld rows", lt->lt.source_name, label, st == PG_LOAD_SKIPPED ? "already loaded" : "copied",
		 (long long)*rows);
	return 0;
}

static void free_state(load_proc *lp)
{
	my_state *s = state(lp);
	if (s == NULL)
		return;
	for (int k = 0; s->lts && k < lp->ts->n_tables; k++)
		if (s->lt_ready[k])
			my_load_table_free(&s->lts[k]);
	free(s->lts);
	free(s->lt_ready);
	if (s->have_tables)
		my_task_tables_free(&s->tables);
	free(s);
	lp->engine_state = NULL;
}

const load_engine load_engine_my = {.begin = begin, .usable = usable, .end = end, .copy = copy, .finish = finish,
				    .free = free_state};
