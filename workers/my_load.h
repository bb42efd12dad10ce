/* Full load of MySQL/MariaDB tables: the source transaction with the binlog position of
 * its snapshot, the partition plan, the partition's rows (SELECT streamed with
 * mysql_use_result, my_load_open_rows: any target reads them so), and the copy of one
 * partition into PostgreSQL (rows turned into COPY text through the type map, COPY FROM
 * STDIN on the target), committed with its progress row. A MySQL/MariaDB target loads
 * the same rows through workers/my_infile.h (my_infile_my_source).
 *
 * The target side keeps the same contract as the PostgreSQL load (workers/pg_load.h):
 * ferry.load_progress and ferry.load_plan, keyed by the source table's name as
 * "schema"."name"; a recorded partition is skipped; a whole-table partition of a table
 * the task owns TRUNCATEs it in the same transaction (and COPYs with FREEZE); a key range
 * of a resumed load is DELETEd first. pg_load_bookkeeping_init, pg_load_progress_read,
 * pg_load_progress_forget and pg_load_finish_table work on the target view
 * (my_load_table.lt) as they do for PostgreSQL sources.
 *
 * Snapshot and position: a MySQL snapshot cannot be shared between connections, so each
 * load worker takes its own (START TRANSACTION WITH CONSISTENT SNAPSHOT) and reads the
 * binlog position that snapshot corresponds to: MariaDB reports it exactly
 * (binlog_snapshot_file/_position); on MySQL the position is read before and after
 * taking the snapshot and the snapshot is retaken until the two agree. Every change
 * committed at or before that position is in the snapshot, every later one is not: the
 * position is the partition's finish_position, so apply runs a table in idempotent mode
 * until the stream passes it, and skips exactly the changes of keyless tables that the
 * snapshot holds. */
#ifndef FERRY_MY_LOAD_H
#define FERRY_MY_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "workers/my_pgmap.h"
#include "workers/my_value.h"
#include "workers/pg_load.h"
#include "workers/pg_load_plan.h"

/* ---- the source transaction -------------------------------------------------------------- */

typedef struct my_load_source {
	MYSQL *conn;
	bool has_position;
	uint64_t position;  /* record_mysql_position() of the snapshot */
	char file[256];     /* binlog file of the snapshot */
	bool in_query;      /* a partition is streaming out of it */
	bool aborted;       /* the transaction is over (failure or abandon): end it, begin anew */
} my_load_source;

/* Opens a REPEATABLE READ consistent-snapshot transaction on conn (a session set up by
 * my_task_session) and, with want_position, reads the snapshot's binlog position.
 * 0, or -1 with *err. */
int my_load_source_begin(my_load_source *s, MYSQL *conn, bool want_position, char **err);
int my_load_source_end(my_load_source *s, char **err);

/* The binlog file number of a name ("binlog.000123" -> 123); 0 when it has none. */
uint32_t my_load_file_number(const char *file);

/* ---- a table, prepared once ---------------------------------------------------------------- */

typedef struct my_load_table {
	const my_pg_table *pt;
	pg_load_table lt;    /* target view: source_name ("schema"."name"), target_name and list,
			      * key_target, target_owned; lt.source is pt->target */
	char *select_list;   /* the copied columns' select expressions */
	char *from;          /* `schema`.`name` */
	char *filter;        /* "(expr)" or NULL */
	int key_column;      /* source column of the single integer key; -1 none */
	char *key_source;    /* that column, backticked */
	int n_copied;
	int *copied;         /* source column index of each copied column, in order */
} my_load_table;

int my_load_table_init(my_load_table *t, const my_pg_table *pt, const char *filter, bool target_owned, char **err);
void my_load_table_free(my_load_table *t);

/* ---- the plan ------------------------------------------------------------------------------- */

/* Splits a table of more than partition_rows estimated rows by ranges of its single
 * integer key (even steps between the key's minimum and maximum; the first and last
 * ranges open), else one partition: *parts (malloc'd, *n of them), for the target to
 * store (target_ops.plan_store, which keeps a plan stored earlier). 0, or -1 with *err. */
int my_load_plan_parts(MYSQL *src, const my_load_table *t, int table, const pg_load_plan_options *o,
		       pg_load_partition **parts, int *n, char **err);

/* ---- a partition's rows ------------------------------------------------------------------------ */

/* Starts the partition's SELECT (its key range and the table's filter) on src, streamed:
 * *res until my_load_end_rows (every row read) or my_load_drop_rows (abandoned: the
 * source transaction ends with it). label: for messages. 0, or -1 with *err. */
int my_load_open_rows(my_load_source *src, const my_load_table *t, const pg_load_partition *p, const char *label,
		      MYSQL_RES **res, char **err);
/* After the last row: the read's error, if any (then the transaction is over), and the
 * result freed. 0, or -1 with *err. */
int my_load_end_rows(my_load_source *src, MYSQL_RES *res, const char *label, char **err);
void my_load_drop_rows(my_load_source *src, MYSQL_RES *res);

/* ---- copying one partition into PostgreSQL ------------------------------------------------------- */

typedef struct my_load_copy my_load_copy;

typedef struct my_load_copy_options {
	const char *task;
	invalid_values_kind invalid_values;
	size_t chunk_bytes; /* 0 = 64 kB */
} my_load_copy_options;

/* Like pg_load_copy_start: PG_LOAD_MORE with *out, PG_LOAD_SKIPPED, or PG_LOAD_ERROR. */
pg_load_status my_load_copy_start(my_load_source *src, PGconn *tgt, const my_load_table *t,
				  const pg_load_partition *p, const my_load_copy_options *o, my_load_copy **out,
				  char **err);
/* Moves rows for about timeout_ms: MORE, DONE (committed) or ERROR. */
pg_load_status my_load_copy_step(my_load_copy *c, int timeout_ms, char **err);
int64_t my_load_copy_rows(const my_load_copy *c);
/* Invalid values met in this partition (count, first description). */
const my_invalid *my_load_copy_invalid(const my_load_copy *c);
/* Abandons a copy not DONE: the target transaction rolls back; an unfinished source
 * read ends the source transaction (src->aborted). */
void my_load_copy_free(my_load_copy *c);

#endif
