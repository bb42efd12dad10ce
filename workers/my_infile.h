/* Full load into a MySQL/MariaDB target: one partition at a time, rows fed to
 * LOAD DATA LOCAL INFILE from memory by a local-infile handler (no file is written) and
 * committed with the partition's ferry.load_progress row in one InnoDB transaction.
 *
 * Rows come from a row source (my_infile_source): for a PostgreSQL source, the partition's
 * COPY ... TO STDOUT (text) read as it streams (my_infile_pg_source), each row as
 * canonical values (ipc/record.h) written through the value conversion of
 * workers/my_out.h, the same one apply uses; for a MySQL/MariaDB source, the partition's
 * SELECT streamed with mysql_use_result (my_infile_my_source), each value in MySQL's own
 * text as the source prints it (same types on both sides: nothing to convert, only
 * escaping), so zero dates and other MySQL-only values load as they are.
 *
 * Exactly once, as on a PostgreSQL target (workers/pg_load.h):
 *   - the partition's rows and its progress row commit together; a recorded partition is
 *     skipped; one not recorded has nothing of an earlier attempt on the target;
 *   - as a guard, a whole-table partition of a table the task owns deletes the table's
 *     rows first, an integer-range partition of such a table with recorded siblings its
 *     key range, in the same transaction (DELETE, not TRUNCATE: MySQL's TRUNCATE ends
 *     the transaction);
 *   - a ctid partition read under a fresh snapshot reloads the whole table with every
 *     partition's progress row, the workers of the table serialised on its load_plan
 *     rows.
 * LOAD DATA LOCAL turns duplicate keys and bad values into warnings (the server cannot
 * stop the client's stream): a partition whose load left any warning, or loaded another
 * number of rows than the source sent, is rolled back with the server's first warnings
 * in the error. Invalid values (my_out.h) follow the task's invalid_values; each one
 * not refused is counted and the first ones logged with table, column and key. */
#ifndef FERRY_MY_INFILE_H
#define FERRY_MY_INFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "common/catalog.h"
#include "common/config.h"
#include "common/sqlquote.h"
#include "ipc/record.h"
#include "workers/pg_load.h"
#include "workers/pg_load_plan.h"

/* Where the rows of a partition come from: next, or next_line. */
typedef struct my_infile_source {
	/* 1: a row in *row (ncols values, valid until the next call); 0: the partition
	 * ended; 2: nothing arrived within wait_ms; -1: error in *err. */
	int (*next)(void *arg, int wait_ms, record_tuple *row, char **err);
	/* Instead of next: 1 with one row appended to out as a LOAD DATA line (the copied
	 * columns in order, my_out_append_infile's fields, '\n'); 0: the partition ended;
	 * -1: error in *err. */
	int (*next_line)(void *arg, strbuf *out, char **err);
	/* After next returned 0: the rows the source says it sent, or -1 with *err. */
	int64_t (*finish)(void *arg, char **err);
	/* An unfinished stream is dropped (the source transaction may end with it). */
	void (*abandon)(void *arg);
	void (*free)(void *arg);
	void *arg;
} my_infile_source;

/* A PostgreSQL partition's COPY as a row source: the statement starts on src (which
 * must not be copying already); lt's copied columns (names: the map lt was built with)
 * in order. whole: every row of the table. 0, or -1 with *err. */
int my_infile_pg_source(pg_load_source *src, const pg_load_table *lt, const catalog_name_map *names,
		      const pg_load_partition *p, bool whole, my_infile_source *out, char **err);

typedef struct my_infile_options {
	const char *task;
	const catalog_name_map *names;
	invalid_values_kind invalid;
	bool target_owned;         /* target_table_prep drop or truncate */
	bool exported;             /* the source reads the shared snapshot: no finish position */
	uint64_t snapshot_position;/* else: the fresh snapshot's position */
	int (*interrupt)(void *arg);
	void *interrupt_arg;
} my_infile_options;

typedef struct my_infile_copy my_infile_copy;

/* Opens the target transaction, skips a recorded partition (PG_LOAD_SKIPPED, *out NULL)
 * and prepares the range: PG_LOAD_MORE with *out, which then needs its rows
 * (my_infile_copy_set_source: the source is asked only for partitions not recorded, so a
 * skipped one costs the source nothing). *whole tells whether the source must send every
 * row of the table (a ctid partition reloaded whole). lt and o are borrowed until the
 * copy is freed. */
pg_load_status my_infile_copy_start(MYSQL *conn, const pg_load_table *lt, const pg_load_partition *p,
				  const my_infile_options *o, my_infile_copy **out, bool *whole, char **err);
/* A MySQL partition's rows as a row source: the SELECT (workers/my_load.h) starts on src,
 * which must not be reading another; t's copied columns in order. 0, or -1 with *err. */
struct my_load_source;
struct my_load_table;
int my_infile_my_source(struct my_load_source *src, const struct my_load_table *t, const pg_load_partition *p,
			my_infile_source *out, char **err);

/* Hands the partition's rows over (freed with the copy). */
void my_infile_copy_set_source(my_infile_copy *c, const my_infile_source *source);
/* Runs LOAD DATA to the end and commits: DONE, ERROR, or MORE when the interrupt hook
 * asked to stop (the copy is then abandoned: free it). */
pg_load_status my_infile_copy_step(my_infile_copy *c, char **err);
int64_t my_infile_copy_rows(const my_infile_copy *c);
/* Invalid values written as NULL or substitutes (exact once DONE). */
uint64_t my_infile_copy_invalid(const my_infile_copy *c);
bool my_infile_copy_position(const my_infile_copy *c, uint64_t *position);
/* Rolls back what is not committed, drops an unfinished source stream, frees. */
void my_infile_copy_free(my_infile_copy *c);

/* ---- per table ---------------------------------------------------------------------------- */

/* ferry.load_progress of the table (as pg_load_progress_read). */
int my_infile_progress_read(MYSQL *conn, const char *task, const char *source_table, pg_load_table_progress *out,
			  char **err);
/* Forgets the table's progress and stored plan. */
int my_infile_progress_forget(MYSQL *conn, const char *task, const char *source_table, char **err);
/* The table's partitions: the stored plan in ferry.load_plan, else one planned on the
 * source (pg_load_plan_table without a target) and stored, then read back. */
int my_infile_plan_table(PGconn *source, MYSQL *conn, const pg_load_table *lt, int table,
		       const pg_load_plan_options *o, pg_load_plan *plan, char **err);
/* Another source engine's plan (parts[0..n), computed on its source): stored unless a
 * plan is stored already, then the stored one appended to plan. */
int my_infile_plan_store(MYSQL *conn, const pg_load_table *lt, int table, const pg_load_plan_options *o,
			 const pg_load_partition *parts, int n, pg_load_plan *plan, char **err);
/* The secondary indexes (those the table lacks), ANALYZE TABLE, then partition 0. Notes
 * of indexes left out go to the log. 0 (also when recorded already), or -1 with *err. */
int my_infile_finish_table(MYSQL *conn, const pg_load_table *lt, const catalog_name_map *names,
			 const task_config *task, char **err);

#endif
