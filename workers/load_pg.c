/* The load worker's PostgreSQL source engine (workers/load_int.h): imports the exported
 * snapshot while capture holds it, else reads under a fresh snapshot whose position and
 * in-progress transactions it records for apply; copies partitions through the target's
 * engine (workers/target.h: pg_load into PostgreSQL, LOAD DATA into MySQL/MariaDB). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "workers/load_int.h"
#include "workers/pg_load.h"
#include "workers/pg_task.h"
#include "workers/target.h"

#define STEP_MS 200

typedef struct pg_state {
	const target_ops *ops;  /* the target's engine */
	pg_task_tables tables;
	bool have_tables;
	pg_load_source src;
	pg_load_table *lts;     /* per task-state table, built when first needed */
	bool *lt_ready;
	uint32_t snap_xmax;     /* the fresh snapshot in use (see taskstate_table) */
	int32_t n_xip;
	uint32_t xip[TASKSTATE_MAX_XIP];
} pg_state;

static pg_state *state(load_proc *lp)
{
	return lp->engine_state;
}

static int fail_conn(load_proc *lp, const char *what, char *err)
{
	bool lost = PQstatus(lp->source->pg) == CONNECTION_BAD || state(lp)->ops->transient(lp->target);
	int code = pg_task_fail(lp->ctx, lost ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL, "%s: %s", what,
				err ? err : "failed");
	free(err);
	return code;
}

/* The fresh snapshot's xmax and in-progress transactions ("xmin:xmax:xip,..."), for
 * keyless tables (taskstate.h). On any trouble n_xip = -1: apply falls back. */
static void read_snapshot(load_proc *lp)
{
	pg_state *s = state(lp);
	s->n_xip = -1;
	PGresult *res = PQexec(lp->source->pg, "SELECT txid_current_snapshot()::text");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		const char *p = strchr(PQgetvalue(res, 0, 0), ':');
		char *end;
		if (p) {
			s->snap_xmax = (uint32_t)strtoull(p + 1, &end, 10);
			s->n_xip = 0;
			p = *end == ':' ? end + 1 : end;
			while (*p && s->n_xip >= 0) {
				if (s->n_xip == TASKSTATE_MAX_XIP) {
					s->n_xip = -1;
					break;
				}
				s->xip[s->n_xip++] = (uint32_t)strtoull(p, &end, 10);
				p = *end == ',' ? end + 1 : end;
				if (end == p && *p)
					s->n_xip = -1;
			}
		}
	}
	PQclear(res);
}

/* The source transaction: the exported snapshot while capture holds it, else fresh. */
static int begin(load_proc *lp)
{
	pg_state *s = state(lp);
	if (s == NULL) {
		s = lp->engine_state = calloc(1, sizeof *s);
		if (s == NULL)
			return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
		s->ops = target_ops_for(lp->ctx->task);
		s->lts = calloc((size_t)lp->ts->n_tables + 1, sizeof *s->lts);
		s->lt_ready = calloc((size_t)lp->ts->n_tables + 1, sizeof *s->lt_ready);
		if (s->lts == NULL || s->lt_ready == NULL)
			return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
	}
	char *err = NULL;
	const char *snap = atomic_load(&lp->ts->snapshot_state) == SNAPSHOT_EXPORTED ? lp->ts->snapshot : NULL;
	if (snap && pg_load_source_begin(&s->src, lp->source->pg, snap, &err) == 0) {
		log_info("imported snapshot %s", snap);
	} else {
		if (snap) {
			log_info("snapshot %s cannot be imported (%s): loading under a fresh snapshot", snap,
				 err ? err : "?");
			free(err);
			err = NULL;
			PQclear(PQexec(lp->source->pg, "ROLLBACK"));
		}
		if (pg_load_source_begin(&s->src, lp->source->pg, NULL, &err) < 0)
			return fail_conn(lp, "source transaction", err);
		log_info("reading under a fresh snapshot taken at %X/%X", (unsigned)(s->src.snapshot_lsn >> 32),
			 (unsigned)s->src.snapshot_lsn);
		read_snapshot(lp);
	}
	if (!s->have_tables) {
		if (pg_task_tables_read(lp->source->pg, lp->ctx->task, &s->tables, &err) < 0)
			return fail_conn(lp, "reading the source catalog", err);
		s->have_tables = true;
	}
	return 0;
}

static bool usable(load_proc *lp)
{
	return !state(lp)->src.aborted;
}

static void end(load_proc *lp)
{
	char *err = NULL;
	pg_load_source_end(&state(lp)->src, &err);
	free(err);
}

/* The engine's view of task-state table k (built once). */
static int table_of(load_proc *lp, int k, pg_load_table **out)
{
	pg_state *s = state(lp);
	if (!s->lt_ready[k]) {
		int i = pg_task_find_oid(&s->tables, lp->ts->tables[k].source_oid);
		if (i < 0)
			return pg_task_fail(lp->ctx, FERRY_EXIT_TRANSIENT, "table %s is gone from the source catalog",
					    lp->ts->tables[k].source_name);
		pg_load_table_options o = {.names = &s->tables.map, .filter = s->tables.resolved[i].filter,
					   .target_owned = lp->ctx->task->target_table_prep != TABLE_PREP_NOTHING};
		char *err = NULL;
		if (pg_load_table_init(&s->lts[k], s->tables.cat->tables[i], &o, &err) < 0)
			return fail_conn(lp, lp->ts->tables[k].source_name, err);
		s->lt_ready[k] = true;
	}
	*out = &s->lts[k];
	return 0;
}

static int finish(load_proc *lp, int k)
{
	pg_state *s = state(lp);
	pg_load_table *lt;
	int rc = table_of(lp, k, &lt);
	if (rc != 0)
		return rc;
	char *err = NULL;
	rc = s->ops->finish_table(lp->target, lt, &s->tables.map, lp->ctx->task, &err);
	return rc < 0 ? fail_conn(lp, lp->ts->tables[k].source_name, err) : 0;
}

static pg_load_partition partition_of(const taskstate *ts, const taskstate_partition *tp)
{
	return (pg_load_partition){.table_id = ts->tables[tp->table].source_oid, .table = tp->table,
				   .number = tp->number, .count = tp->count, .kind = tp->kind, .lo = tp->lo,
				   .hi = tp->hi, .est_rows = tp->est_rows, .open_lo = tp->open_lo,
				   .open_hi = tp->open_hi};
}

static bool copies_whole(load_proc *lp)
{
	return state(lp)->ops->can_copy_whole;
}

/* Streams one partition (whole: its whole table), looking at the signal flags between
 * steps. */
static int copy(load_proc *lp, int pi, bool whole, int64_t *rows)
{
	pg_state *s = state(lp);
	pg_load_partition p = partition_of(lp->ts, &lp->ts->parts[pi]);
	pg_load_table *lt;
	int rc = table_of(lp, p.table, &lt);
	if (rc != 0)
		return rc;
	void *c = NULL;
	load_copy_watch watch = {.lp = lp, .ops = s->ops, .copy = &c, .table = p.table};
	target_copy_args a = {.src = &s->src, .target = lp->target, .lt = lt, .p = &p, .tables = &s->tables,
			      .task = lp->ctx->task, .interrupt = load_copy_interrupted, .interrupt_arg = &watch,
			      .whole = whole};
	char *err = NULL, label[256];
	if (whole)
		snprintf(label, sizeof label, "partitions 1-%d/%d (whole table)", p.count, p.count);
	else
		pg_load_partition_label(lt, &p, label, sizeof label);
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
	uint64_t pos = 0;
	if (st == PG_LOAD_DONE && c && s->ops->copy_invalid != NULL)
		atomic_fetch_add(&lp->ts->tables[p.table].invalid_values, s->ops->copy_invalid(c));
	if (st == PG_LOAD_DONE && c && s->ops->copy_position(c, &pos)) {
		taskstate_table *t = &lp->ts->tables[p.table];
		load_raise_position(t, pos);
		t->snap_xmax = s->snap_xmax;
		memcpy(t->xip, s->xip, sizeof t->xip);
		t->n_xip = s->n_xip;
	}
	if (c)
		s->ops->copy_free(c);
	if (st == PG_LOAD_ERROR)
		return fail_conn(lp, label, err);
	log_info("%s %s %s: %lld rows", lt->source_name, label, st == PG_LOAD_SKIPPED ? "already loaded" : "copied",
		 (long long)*rows);
	return 0;
}

static void free_state(load_proc *lp)
{
	pg_state *s = state(lp);
	if (s == NULL)
		return;
	for (int k = 0; s->lts && k < lp->ts->n_tables; k++)
		if (s->lt_ready[k])
			pg_load_table_free(&s->lts[k]);
	free(s->lts);
	free(s->lt_ready);
	if (s->have_tables)
		pg_task_tables_free(&s->tables);
	free(s);
	lp->engine_state = NULL;
}

const load_engine load_engine_pg = {.begin = begin, .usable = usable, .end = end, .copy = copy, .finish = finish,
				    .free = free_state, .can_copy_whole = copies_whole};
