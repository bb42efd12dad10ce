/* Partition planning for the full load of PostgreSQL tables (workers/pg_load.h).
 *
 * A table whose estimated rows exceed partition_rows is split into
 * ceil(rows / partition_rows) partitions (at most max_partitions):
 *   - a single integer key column (the primary key, or the unique key the catalog chose):
 *     key ranges between the key's minimum and maximum. Boundaries come from the key
 *     column's histogram in pg_stats when the source has one (equal-depth: each range
 *     holds about the same number of rows however the keys are spread); without one the
 *     ranges are even in key space, and skew only makes some partitions larger: load
 *     workers pull partitions one at a time, so a large one delays the end of the load by
 *     at most its own length. The first range has no lower and the last no upper bound.
 *   - otherwise, on PostgreSQL >= 14 (TID range scans), ranges of heap pages from the
 *     table's current size; the last range has no upper bound. Not for partitioned tables
 *     (each partition has its own pages) and not when the load does not share one
 *     snapshot (ctid ranges are only consistent with one another under one snapshot).
 *   - otherwise one partition.
 * An empty table, or one of at most partition_rows rows, is one partition. A table the
 * source never estimated (not vacuumed or analyzed yet) counts one row per 100 bytes.
 *
 * With a target connection the plan is stored in ferry.load_plan on the first call and
 * read back on later ones, so the partition numbers recorded in ferry.load_progress keep
 * meaning the same ranges after a restart (estimates and key extremes move). */
#ifndef FERRY_PG_LOAD_PLAN_H
#define FERRY_PG_LOAD_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "workers/pg_load.h"

/* A growable array of partitions; copy parts[0..n) where the workers can reach them. */
typedef struct pg_load_plan {
	pg_load_partition *parts;
	int n, cap;
} pg_load_plan;

void pg_load_plan_free(pg_load_plan *plan);

typedef struct pg_load_plan_options {
	const char *task;       /* ferry.load_plan.task (with a target connection) */
	int64_t partition_rows; /* <= 0: never split */
	int max_partitions;     /* per table; 0 = 1024 */
	bool shared_snapshot;   /* every partition is read under the same (exported) snapshot */
} pg_load_plan_options;

/* Appends the partitions of lt (the `table`-th of the caller's list) to plan. The
 * source's key extremes, size and statistics are read on source (ideally inside the
 * load's snapshot; the open ends keep the plan complete either way). target may be NULL
 * (the plan is not stored then). 0, or -1 with *err; plan unchanged on failure. */
int pg_load_plan_table(PGconn *source, PGconn *target, const pg_load_table *lt, int table,
		       const pg_load_plan_options *o, pg_load_plan *plan, char **err);

/* For planners of other source engines: stores parts[0..n) as lt's plan unless one is
 * stored already, then appends the stored plan (the same whoever stored it first) to
 * plan. 0, or -1 with *err; plan unchanged on failure. */
int pg_load_plan_store(PGconn *target, const pg_load_table *lt, int table, const pg_load_plan_options *o,
		       const pg_load_partition *parts, int n, pg_load_plan *plan, char **err);

/* The boundaries of n key ranges over [min, max]: writes n - 1 strictly increasing
 * values to cuts and returns how many it wrote (fewer when the span is too small; then
 * fewer ranges). With histogram bounds (ascending, n_bounds >= 2) the cuts are taken at
 * even ranks of the histogram, else at even steps of the span. Exposed for the tests. */
int pg_load_plan_int_cuts(int64_t min, int64_t max, const int64_t *bounds, int n_bounds, int n,
			  int64_t *cuts);

#endif
