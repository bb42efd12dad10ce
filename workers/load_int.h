/* The load worker's parts: the engine-neutral driver (load.c: plan, claims, table
 * states, the after-load hand-off) and one engine per source (load_pg.c for PostgreSQL,
 * load_my.c for MySQL/MariaDB), each into either target through workers/target.h. The driver calls the
 * engine through load_engine; the engine keeps its own state in load_proc.engine_state. */
#ifndef FERRY_LOAD_INT_H
#define FERRY_LOAD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "ipc/taskstate.h"
#include "workers/endpoint.h"
#include "workers/worker.h"

/* For the after-load index builds of the load session only: a primary key of a few
 * million rows sorts in memory instead of in temporary files (the server's default is
 * 64MB). */
#define LOAD_AFTER_LOAD_MAINTENANCE_WORK_MEM "256MB"

typedef struct load_proc load_proc;

typedef struct load_engine {
	/* Opens the source transaction (the shared snapshot when there is one, else a fresh
	 * one) and, the first time, reads the task's tables. 0, or an exit code after
	 * failing the worker. */
	int (*begin)(load_proc *lp);
	/* Whether the open source transaction can take another partition. */
	bool (*usable)(load_proc *lp);
	/* Ends the source transaction (quietly; also after a failure). */
	void (*end)(load_proc *lp);
	/* Copies partition pi and records it on the target; *rows the rows it copied (0 when
	 * it was recorded already). Raises the table's finish_position when the engine
	 * records one. whole: copy pi's whole table in one transaction that empties it
	 * first (the driver holds every partition of it; only when can_copy_whole).
	 * 0, or an exit code. */
	int (*copy)(load_proc *lp, int pi, bool whole, int64_t *rows);
	/* Whether the engine, into this target, can copy a table planned in partitions
	 * whole (see load.c); asked after begin. NULL = never. */
	bool (*can_copy_whole)(load_proc *lp);
	/* The table's after-load step (indexes, ANALYZE, its partition-0 row). 0 or an exit code. */
	int (*finish)(load_proc *lp, int k);
	void (*free)(load_proc *lp);
} load_engine;

struct load_proc {
	worker_context *ctx;
	taskstate *ts;
	endpoint_conn *source, *target;
	const load_engine *engine;
	void *engine_state;
	bool in_txn;
};

extern const load_engine load_engine_pg;
extern const load_engine load_engine_my;

/* 0 when no stop is requested (waiting up to wait_ms for a signal), else the exit code. */
int load_check_signals(load_proc *lp, int64_t wait_ms);
/* The rows of partition copy in flight (sent, not committed), published in the task
 * state while it streams so status shows progress within a partition. */
static inline void load_publish_rows(load_proc *lp, int table, int64_t rows)
{
	taskstate_set_loading(lp->ts, lp->ctx->index, table, rows);
}

/* A copy under way, for the interrupt callback of engines that stream a whole partition
 * in one call (target_copy_args.interrupt = load_copy_interrupted, interrupt_arg = it). */
struct target_ops;
typedef struct load_copy_watch {
	load_proc *lp;
	const struct target_ops *ops;
	void *const *copy; /* the engine's copy once copy_start() has returned it */
	int table;
} load_copy_watch;

/* The signal flags, looked at, and the rows sent so far, published. */
int load_copy_interrupted(void *arg);
/* Raises the table's finish_position to pos (load workers race on it). */
void load_raise_position(taskstate_table *t, uint64_t pos);

#endif
