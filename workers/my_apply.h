/* Applies change records (ipc/record.h) to a MySQL/MariaDB target, exactly once: the
 * counterpart of workers/pg_apply.h, with the same contract.
 *
 * A target transaction (InnoDB) spans one or more whole source transactions and commits
 * together with this worker's row in ferry.apply_progress (task, worker, position):
 * after a crash the progress row says exactly which source transactions are on the
 * target, and records at or before it are skipped when fed again.
 *
 * Changes become SQL text, values written through workers/my_out.h (the load's
 * conversion), sent as multi-statement packets (one round trip for many statements) and
 * their results checked one by one:
 *   - a run of INSERTs into one table: one multi-row INSERT;
 *   - UPDATE and DELETE by key; a table without a key matches every column of the old
 *     row (NULL as IS NULL) with LIMIT 1;
 *   - idempotent mode (a table still catching up, see my_apply_set_idempotent): INSERT
 *     ... ON DUPLICATE KEY UPDATE for inserts and for updates whose new row is complete
 *     (a key change first deletes the old key's row), DELETE if present;
 *   - exact mode: an UPDATE or DELETE must match one row ("Rows matched" / affected
 *     rows), an INSERT must not meet a duplicate key;
 *   - TRUNCATE as DELETE FROM (MySQL's TRUNCATE would commit the transaction).
 * A change the target refuses (an error, or exact mode finding no row) rolls the target
 * transaction back and fails with the table, the key, the source position and the
 * server's message; when it came in a multi-row INSERT, the rows are retried one by one
 * first so the message names the row. Deadlocks, lock wait timeouts and a lost
 * connection are reported as transient (my_target_transient()).
 *
 * Invalid values (my_out.h) follow invalid_values as in the load.
 *
 * Use as pg_apply: open, record..., flush when enough is pending, close. No call exits
 * the process. */
#ifndef FERRY_MY_APPLY_H
#define FERRY_MY_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "common/config.h"

typedef struct my_apply my_apply;

/* Takes over conn (open, idle, no transaction): sets the session up (my_target.h),
 * creates the bookkeeping tables if missing and reads this worker's committed position
 * (0 for a new worker). source: the engine whose RELATION records describe the columns
 * (PostgreSQL: type oids and format_type() names; MySQL: COLUMN_TYPE spellings). NULL
 * with *err on failure; the caller keeps owning conn. */
my_apply *my_apply_open(MYSQL *conn, const char *task, int worker, engine_kind source, invalid_values_kind invalid,
			char **err);

uint64_t my_apply_position(const my_apply *a);

/* Changes of this table at positions <= until_position in idempotent mode; 0 = exact
 * mode. May come before the table's RELATION record. -1 when out of memory. */
int my_apply_set_idempotent(my_apply *a, uint32_t table_id, uint64_t until_position);

/* Feeds one record. 0 or -1 with *err. */
int my_apply_record(my_apply *a, const void *rec, size_t len, char **err);

/* Commits the target transaction with the progress row at the end of the last complete
 * source transaction: 0 committed (or nothing to commit), 1 deferred to the open source
 * transaction's COMMIT record, -1 error (nothing committed). */
int my_apply_flush(my_apply *a, char **err);

uint64_t my_apply_pending_changes(const my_apply *a);
bool my_apply_in_source_txn(const my_apply *a);

/* After a failure: the table whose change was refused, named as the task state names it
 * ("db"."table", taskstate.h), or NULL when the failure was not one table's. */
const char *my_apply_failed_table(const my_apply *a);

/* Invalid values of the table written as NULL or substitutes in batches committed since
 * the last call; the count restarts at 0. */
uint64_t my_apply_take_invalid(my_apply *a, uint32_t table_id);

typedef struct my_apply_stats {
	uint64_t changes;      /* committed */
	uint64_t transactions; /* source transactions committed */
	uint64_t commits;
	uint64_t statements;
	uint64_t packets;      /* round trips */
	uint64_t invalid;      /* invalid values written as NULL or substitutes */
	uint64_t merged_keys;  /* keys written by merged DELETE and INSERT statements */
} my_apply_stats;

void my_apply_get_stats(const my_apply *a, my_apply_stats *out);

/* Rolls back what is not committed and frees the engine; the connection stays open. */
void my_apply_close(my_apply *a);

#endif
