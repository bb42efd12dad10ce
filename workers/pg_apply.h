/* Applies change records (ipc/record.h) to a PostgreSQL target, exactly once.
 *
 * The engine owns one target connection while it is open. A target transaction spans
 * one or more whole source transactions and commits together with this worker's row in
 * ferry.apply_progress (task, worker, position): after a crash the progress row says
 * exactly which source transactions are on the target.
 *
 * Changes become prepared statements (one per table, kind and set of columns written)
 * sent through libpq's pipeline mode without waiting for results, which are checked as
 * they come back. Consecutive changes of a table that one statement can carry go as one
 * multi-row INSERT, upsert, UPDATE or DELETE (64 rows at most); within one target
 * transaction a later change of a row the waiting statement holds replaces its values;
 * a long run of INSERTs into one table goes as COPY. Everything is streamed to the
 * server as it comes, so a source transaction of any size takes bounded memory. When
 * the session may set session_replication_role = replica, the waiting rows of different
 * tables may reach the server in another order than the source's (no trigger or foreign
 * key observes it inside one transaction); otherwise statements keep source order.
 *
 * Use:
 *   a = pg_apply_open(conn, task, worker, &err);
 *   for each record:  pg_apply_record(a, rec, len, &err);
 *   when pg_apply_pending_changes(a) >= commit_rows, a time limit passes or the input
 *   is idle:          pg_apply_flush(a, &err);
 *   pg_apply_close(a);
 * Every record may be fed, also those already applied: records of source transactions
 * at or before pg_apply_position() are skipped (a whole transaction is skipped or
 * applied), RELATION records are always taken. Positions must not decrease.
 *
 * Errors are returned as malloc'd text (the caller frees) that names the target table,
 * the key values (truncated), the source position and the server's message. After an
 * error the target transaction is rolled back, nothing of it is committed, and the
 * engine refuses further work: the caller stops (or restarts from the progress row).
 * No call exits the process; a call waits for the server only as long as the pipeline
 * is full or a commit runs (see pg_apply_set_wait_hook to bound that). */
#ifndef FERRY_PG_APPLY_H
#define FERRY_PG_APPLY_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pg_apply pg_apply;

/* Takes over target (an idle, open connection, not in a transaction): sets the session
 * options the value text needs (pg_value.h), session_replication_role = replica when
 * permitted (target triggers and foreign keys do not fire, as in native logical
 * replication), creates schema ferry and ferry.apply_progress if missing, and reads this
 * worker's committed position (0 for a new worker). NULL with *err on failure. The
 * caller keeps owning the connection and closes it after pg_apply_close/pg_apply_free. */
pg_apply *pg_apply_open(PGconn *target, const char *task, int worker, char **err);

/* The position of the last source transaction committed on the target. */
uint64_t pg_apply_position(const pg_apply *a);
/* After a failure: the quoted target name of the table whose change the target refused,
 * or NULL when the failure was not one table's (a lost connection, the progress row). */
const char *pg_apply_failed_table(const pg_apply *a);

/* Changes of this table at positions <= until_position are applied in idempotent mode
 * (INSERT: insert or update on key conflict; UPDATE: update, or insert when missing;
 * DELETE: delete if present), later ones in exact mode (a change that matches no row
 * or conflicts is an error). 0 turns idempotent mode off. May come before the table's
 * RELATION record. -1 (errno ENOMEM) when out of memory.
 * Two cases cannot insert a missing row, and skip it: an UPDATE that leaves TOASTed
 * columns unchanged (their values are not in the record; in catch-up such a row is one
 * a later change deletes or moves anyway), and any change of a table without a key
 * (whose INSERTs are plain inserts: nothing identifies a row already there). */
int pg_apply_set_idempotent(pg_apply *a, uint32_t table_id, uint64_t until_position);

/* Feeds one record. RELATION records describe a table; BEGIN/COMMIT delimit a source
 * transaction; changes are queued into the open target transaction (and sent). When a
 * flush was deferred (pg_apply_flush returned 1), the COMMIT record commits. 0 or -1. */
int pg_apply_record(pg_apply *a, const void *rec, size_t len, char **err);

/* Commits the target transaction with the progress row at the end of the last complete
 * source transaction. 0: committed (or nothing to commit); 1: a source transaction is
 * open, the commit happens when its COMMIT record is fed (a source transaction is never
 * split); -1: error, nothing committed. An empty batch still commits when the position
 * moved (so the source may release its log). */
int pg_apply_flush(pg_apply *a, char **err);

/* Sends what is buffered and reads the results that have arrived, without waiting: for
 * a caller that idles inside a source transaction. 0 or -1. */
int pg_apply_push(pg_apply *a, char **err);

/* Changes queued in the open target transaction (0 when none is open). */
uint64_t pg_apply_pending_changes(const pg_apply *a);

/* True between a source transaction's BEGIN and COMMIT records. */
bool pg_apply_in_source_txn(const pg_apply *a);

/* Most rows one multi-row statement carries (rounded down to 1, 4, 16 or 64; 1: every
 * change is its own statement). Default 64. Takes effect for new batches. */
void pg_apply_set_batch_rows(pg_apply *a, int rows);

/* Whether session_replication_role = replica could be set (false: the user is not
 * allowed to; target triggers and foreign keys then fire on applied rows). */
bool pg_apply_replica_role(const pg_apply *a);

/* Called about once a second while the engine waits for the server; a nonzero return
 * abandons the wait: the call fails ("interrupted"), nothing more is committed and the
 * caller must close the connection (the server then rolls back). */
void pg_apply_set_wait_hook(pg_apply *a, int (*hook)(void *arg), void *arg);

typedef struct pg_apply_stats {
	uint64_t changes;       /* changes committed on the target by this engine */
	uint64_t transactions;  /* source transactions committed */
	uint64_t commits;       /* target commits */
	uint64_t statements;    /* statements executed (a multi-row INSERT counts once) */
	uint64_t prepared;      /* statements prepared */
} pg_apply_stats;

void pg_apply_get_stats(const pg_apply *a, pg_apply_stats *out);

/* Rolls back uncommitted work, leaves pipeline mode and frees the engine; the
 * connection stays open and usable when it was healthy. */
void pg_apply_close(pg_apply *a);

/* Frees the engine without touching the connection (e.g. after the caller closed it). */
void pg_apply_free(pg_apply *a);

#endif
