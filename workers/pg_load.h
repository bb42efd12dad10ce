/* Full load of PostgreSQL tables into PostgreSQL: one partition at a time, streamed with
 * COPY from the source to the target and committed together with its progress row.
 *
 * How a load worker drives it
 *   once per task      pg_load_bookkeeping_init(target)       ferry.load_progress/_plan
 *   once per table     pg_load_table_init()                    column lists, format, shape
 *                      pg_load_plan_table() (pg_load_plan.h)   the table's partitions
 *   per worker         pg_load_source_begin(source, snapshot)  the source transaction
 *   per partition      pg_load_copy_start(), then pg_load_copy_step() until it returns
 *                      PG_LOAD_DONE (pg_load_copy_rows() meanwhile for the progress bar),
 *                      pg_load_copy_free()
 *   after a table's last partition
 *                      pg_load_finish_table()                  indexes, ANALYZE
 * No call blocks longer than its timeout while rows stream; the short statements around a
 * copy (BEGIN, TRUNCATE, the progress row, COMMIT) are plain round trips. Nothing here
 * exits or logs: every failure comes back as a value with a one-line message naming the
 * table and partition, and the server's message, detail and hint.
 *
 * Exactly once
 *   A partition's rows and its ferry.load_progress row commit in one target transaction,
 *   and that row's primary key (task, source_table, partition) refuses a second commit.
 *   A partition found recorded is skipped; a partition not recorded has nothing on the
 *   target from an earlier attempt, since that attempt's transaction never committed.
 *   On top of that, as a guard against rows written outside these transactions:
 *   - whole-table partitions of a table the task owns (target_table_prep drop or
 *     truncate) TRUNCATE the target table in the same transaction, which also allows
 *     COPY FREEZE (rows written already frozen: no hint-bit or anti-wraparound rewrite
 *     of the table later);
 *   - integer-key partitions of such a table, when the table already has recorded
 *     partitions (a resumed load), DELETE their key range first, in the same transaction;
 *   - a table planned in several partitions may still be copied whole (whole_table
 *     below), in the same way as a ctid table reloaded whole (next item);
 *   - ctid partitions cannot be deleted by range on the target (the target's row
 *     addresses are its own). They are only consistent with one another when every one
 *     of them reads the same snapshot. So a ctid partition copied under a fresh snapshot
 *     (the exported one is gone after a restart) reloads the whole table in one
 *     transaction instead: LOCK, TRUNCATE, every page, the progress rows of all of the
 *     table's partitions. Other workers then find their ctid partitions of that table
 *     recorded and skip them. A table that is not the task's (target_table_prep =
 *     nothing) and has recorded partitions cannot be emptied: an error says so.
 *   Partition 0 in ferry.load_progress records that the table's after-load step (indexes,
 *   ANALYZE) committed; its rows column is 0.
 *
 * finish_position
 *   Under the exported snapshot it is NULL (the slot's consistent point applies). Under a
 *   fresh snapshot it is the source's WAL insert position read in the statement that
 *   took the snapshot: every transaction the snapshot sees committed before that
 *   position, and every change committed after it is missing from the copy, so changes
 *   after it can be applied exactly and only those before it need idempotent mode. The
 *   table's position is the greatest of its partitions'. */
#ifndef FERRY_PG_LOAD_H
#define FERRY_PG_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/catalog.h"
#include "workers/pg_ddl.h"

/* Results of the calls that move data. */
typedef enum pg_load_status {
	PG_LOAD_ERROR = -1,
	PG_LOAD_DONE = 0,   /* the partition is committed on the target */
	PG_LOAD_MORE = 1,   /* rows are still streaming: call pg_load_copy_step() again */
	PG_LOAD_SKIPPED = 2 /* the partition was recorded already: nothing copied */
} pg_load_status;

/* ---- bookkeeping on the target ------------------------------------------------------- */

/* Creates schema ferry with load_progress (the wave's shared contract) and load_plan (the
 * partitions of each table, so a restarted task copies the same ranges the recorded
 * partitions cover) unless they exist. Safe to call from several processes at once. */
int pg_load_bookkeeping_init(PGconn *target, char **err);

/* ---- a table, prepared once --------------------------------------------------------- */

typedef struct pg_load_table_options {
	const catalog_name_map *names; /* renames and excluded columns; NULL = none */
	/* The target table as pg_catalog_read() found it on the target, when the task did
	 * not create it from the source's model (target_table_prep = nothing): checked with
	 * catalog_table_shape_diff() and used to choose the COPY format. NULL = the target
	 * table was created from the source's model. */
	const catalog_table *target;
	const char *filter; /* row filter, rules_table.filter form "(expr)"; NULL = all rows */
	/* target_table_prep is drop or truncate: every row of the target table comes from
	 * this task, so a partition may TRUNCATE or DELETE on it (see the header comment). */
	bool target_owned;
} pg_load_table_options;

/* Everything a partition's COPY statements need, built once per table (no per-row or
 * per-partition work). Strings are owned; the source model is borrowed and must outlive
 * the table. */
typedef struct pg_load_table {
	const catalog_table *source;
	char *source_name;  /* "schema"."name": FROM, and ferry.load_progress.source_table */
	char *target_name;  /* "tschema"."tname" */
	char *select_list;  /* the copied source columns, quoted, comma-separated */
	char *target_list;  /* their target names, same order */
	int n_copied;       /* columns copied (generated and excluded ones are not) */
	char *filter;       /* "(expr)" or NULL */
	int key_column;     /* source column of the single integer key; -1 = none */
	char *key_source;   /* that column quoted, as the source and the target name it */
	char *key_target;
	bool binary;        /* FORMAT binary: every copied type reads back the same */
	bool partitioned;   /* declarative partitioning: no ONLY, no ctid ranges, no FREEZE */
	bool target_owned;
} pg_load_table;

/* 0, or -1 with *err (malloc'd): a target table of another shape (every difference
 * listed), no column left to copy, out of memory. */
int pg_load_table_init(pg_load_table *lt, const catalog_table *source,
		       const pg_load_table_options *o, char **err);
void pg_load_table_free(pg_load_table *lt);

/* ---- partitions ---------------------------------------------------------------------- */

typedef enum pg_load_part_kind {
	PG_LOAD_PART_WHOLE = 0, /* every row of the table */
	PG_LOAD_PART_INT_RANGE, /* key >= lo AND key < hi */
	PG_LOAD_PART_CTID_RANGE /* ctid >= '(lo,0)' AND ctid < '(hi,0)': heap pages [lo, hi) */
} pg_load_part_kind;

/* One unit of work. Fixed size and no pointers, so a plan can live in shared memory;
 * `table` indexes the caller's table list (e.g. the catalog's order), and table_id lets a
 * worker check it resolved the same table. The first partition has no lower bound and
 * the last no upper bound (open_lo/open_hi), so rows beyond the planned extremes are
 * still copied exactly once. */
typedef struct pg_load_partition {
	uint64_t table_id;  /* source oid */
	int32_t table;
	int32_t number;     /* 1..count */
	int32_t count;      /* partitions of the table */
	int32_t kind;       /* pg_load_part_kind */
	int64_t lo, hi;
	int64_t est_rows;   /* for a progress bar; -1 unknown */
	int64_t est_bytes;  /* for ordering the work: the largest first */
	int32_t open_lo, open_hi; /* booleans; int32 so the struct has no padding */
} pg_load_partition;

/* "partition 2/4 (id >= 100 and < 200)" for messages; returns buf. */
const char *pg_load_partition_label(const pg_load_table *lt, const pg_load_partition *p,
				    char *buf, size_t size);

/* ---- the source transaction ---------------------------------------------------------- */

typedef struct pg_load_source {
	PGconn *conn;
	bool exported;         /* under an exported snapshot: finish_position is NULL */
	uint64_t snapshot_lsn; /* fresh snapshot: see "finish_position" above */
	int server_version;    /* PQserverVersion */
	bool in_copy;          /* a partition is streaming out of it */
	bool aborted;          /* a statement failed or a copy was abandoned: the transaction
				* is over; end it and begin another */
} pg_load_source;

/* Sets the session up (text output the target reads back identically: DateStyle ISO,
 * IntervalStyle postgres, TimeZone UTC, extra_float_digits 3, bytea_output hex; no
 * statement or idle timeout), then BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY and
 * SET TRANSACTION SNAPSHOT snapshot when one is given. Every partition copied through s
 * reads that one snapshot. 0, or -1 with *err (an expired snapshot says so). */
int pg_load_source_begin(pg_load_source *s, PGconn *conn, const char *snapshot, char **err);
/* Ends the source transaction. */
int pg_load_source_end(pg_load_source *s, char **err);
/* For loaders into other engines, which stream the source's COPY themselves:
 * the COPY ... TO STDOUT statement of partition p (FORMAT binary only when binary and
 * lt->binary; whole: every row, for a ctid partition reloaded whole), and the
 * cancellation of a COPY left unfinished (the transaction is aborted then). */
void pg_load_source_copy_sql(strbuf *sb, const pg_load_table *lt, const pg_load_partition *p, bool whole,
			     bool binary);
void pg_load_source_cancel(pg_load_source *src);

/* ---- copying one partition ------------------------------------------------------------ */

typedef struct pg_load_copy_options {
	const char *task;   /* ferry.load_progress.task */
	bool no_freeze;     /* never COPY FREEZE (for measuring what it brings) */
	/* Copy every row of the partition's table in this one transaction and record all of
	 * its partitions, as a ctid partition under a fresh snapshot does (see "Exactly
	 * once"): for a caller that holds every partition of a table the task owns and
	 * finds one copy of it better than several. A recorded partition is not skipped:
	 * the table is emptied and loaded again. */
	bool whole_table;
	size_t chunk_bytes; /* rows are passed on in chunks of about this size; 0 = 64 kB */
} pg_load_copy_options;

typedef struct pg_load_copy pg_load_copy;

/* Opens the target transaction, skips a recorded partition (PG_LOAD_SKIPPED, *out NULL),
 * prepares the range (TRUNCATE / DELETE as above) and starts both COPY statements:
 * PG_LOAD_MORE with *out. The target connection must be idle (no transaction open). The
 * partition's plan, table and options are borrowed until pg_load_copy_free(). */
pg_load_status pg_load_copy_start(pg_load_source *src, PGconn *target, const pg_load_table *lt,
				  const pg_load_partition *p, const pg_load_copy_options *o,
				  pg_load_copy **out, char **err);
/* Moves rows for at most timeout_ms (waiting on both sockets, never spinning): MORE while
 * rows are left, DONE once the partition and its progress row are committed, ERROR with
 * *err. Memory stays at one chunk plus libpq's buffers whatever the partition's size. */
pg_load_status pg_load_copy_step(pg_load_copy *c, int timeout_ms, char **err);
/* Rows passed to the target so far (exact once DONE): callable at any time. */
int64_t pg_load_copy_rows(const pg_load_copy *c);
/* After DONE: whether finish_position was recorded (a fresh snapshot) and its value. */
bool pg_load_copy_position(const pg_load_copy *c, uint64_t *position);
/* Frees c. A copy not DONE is abandoned: the target transaction is rolled back; the
 * source COPY is cancelled, which aborts the source transaction (begin a new one, with a
 * fresh snapshot once the exported one cannot be imported again). */
void pg_load_copy_free(pg_load_copy *c);

/* start + step until done + free. *rows (may be NULL) gets the rows copied, 0 when
 * SKIPPED. */
pg_load_status pg_load_copy_partition(pg_load_source *src, PGconn *target,
				      const pg_load_table *lt, const pg_load_partition *p,
				      const pg_load_copy_options *o, int64_t *rows, char **err);

/* ---- after the last partition ------------------------------------------------------------ */

typedef struct pg_load_finish_options {
	const char *task;
	const pg_ddl_script *after_load; /* pg_ddl_after_load() statements; NULL = none */
	bool analyze;                    /* ANALYZE the target table */
	const char *maintenance_work_mem; /* for the index builds, e.g. "512MB"; NULL = server's */
} pg_load_finish_options;

/* Runs the after-load statements and ANALYZE in one target transaction with the table's
 * partition-0 progress row; PG_LOAD_SKIPPED when that row exists already. */
pg_load_status pg_load_finish_table(PGconn *target, const pg_load_table *lt,
				    const pg_load_finish_options *o, char **err);

/* ---- what the target has recorded -------------------------------------------------------- */

typedef struct pg_load_table_progress {
	int partitions_done;    /* recorded partitions (partition 0 not counted) */
	int64_t rows;           /* their rows */
	bool finished;          /* partition 0: the after-load step committed */
	bool has_position;      /* some partition has a finish_position */
	uint64_t max_position;  /* the greatest of them */
} pg_load_table_progress;

int pg_load_progress_read(PGconn *target, const char *task, const pg_load_table *lt,
			  pg_load_table_progress *out, char **err);
/* Forgets the table's progress and plan, for a reload from zero (run it in the same
 * transaction as the DROP or TRUNCATE that empties the target table). */
int pg_load_progress_forget(PGconn *target, const char *task, const pg_load_table *lt,
			    char **err);

#endif
