/* PostgreSQL capture engine: prepares a source for logical replication, then turns the
 * pgoutput stream into change records (ipc/record.h) for the apply workers.
 *
 * Two parts, used by the capture worker's main loop:
 *
 * 1. Source preparation (pg_capture_preflight, pg_capture_prepare), once at task start:
 *    checks everything logical replication needs, each failure saying what to change,
 *    then creates the publication and the slot when they are missing. A new slot comes
 *    with an exported snapshot for the load workers; an existing slot (restart) gives its
 *    confirmed position and no snapshot.
 *
 * 2. The stream converter (pg_capture_new ... pg_capture_feed): consumes the events of a
 *    START_REPLICATION stream (workers/pg_repl.h) or already decoded pgoutput messages
 *    (workers/pgoutput.h) and hands each resulting record to the caller's emit callback.
 *    It keeps the relation cache, buffers streamed transactions on disk until they
 *    commit, and tracks the positions the caller reports back to the server.
 *
 * The stream: the replication connection is opened with replication=database and the
 * options of pg_value_session_options() (the WAL sender prints the values in its
 * session's formats; pg_capture_prepare checks them), then START_REPLICATION with
 * proto_version 2 and streaming on PostgreSQL >= 14, proto_version 1 below (a large
 * transaction then arrives whole at its commit; it is converted change by change and
 * never held either).
 *
 * Records (ipc/record.h), in commit order: per source transaction BEGIN, RELATION
 * records where needed, its changes, COMMIT, all with the transaction's commit LSN as
 * position, its xid and commit time. A transaction with nothing selected emits nothing.
 * A RELATION record precedes the first change of each table and every change whose
 * columns differ from the last description the output carried; columns are the
 * relation's in pgoutput order minus the excluded ones. UPDATE and DELETE carry the
 * old image the server sent: key columns with values and the others NULL (KEY), or the
 * whole old row (FULL); an unchanged TOASTed value is RECORD_KIND_UNCHANGED.
 *
 * Known limit of PostgreSQL itself: with publish_via_partition_root, TRUNCATE of one
 * partition is not sent at all (only a TRUNCATE of the partitioned table is); the
 * target keeps that partition's rows.
 *
 * Nothing here exits, sleeps or waits on the network except the SQL round trips of
 * preparation and of naming column types (only when a relation is first used with a
 * type not seen before). Errors are returned as values with a message. */
#ifndef FERRY_PG_CAPTURE_H
#define FERRY_PG_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/rules.h"
#include "common/sqlquote.h"
#include "ipc/codec.h"
#include "workers/endpoint.h"
#include "workers/pg_repl.h"
#include "workers/pgoutput.h"

/* ==== 1. source preparation ========================================================== */

typedef struct pg_capture_source {
	const char *const *schemas; /* the selected tables, source names, n_tables each */
	const char *const *names;
	int n_tables;
	const char *publication;
	const char *slot; /* lower-case letters, digits and '_' (the server's rule) */
	/* Per selected table: the task's row filter, "(expr)" in the source's dialect, or
	 * NULL. May itself be NULL (no filters). A new publication carries them (PostgreSQL
	 * 15 row filters): the source sends only the rows inside, and an UPDATE that moves
	 * a row across the filter arrives as an INSERT or a DELETE. */
	const char *const *filters;
} pg_capture_source;

/* Checks, on an ordinary connection to the source database, without changing anything:
 *   - server version >= 12, wal_level = logical;
 *   - a free replication slot (max_replication_slots) when the slot must be created, and
 *     a free WAL sender (max_wal_senders; own_walsender_pid, the backend pid of the
 *     caller's replication connection if it is already open, is not counted as taken);
 *   - an existing slot: logical, pgoutput, this database, not in use by another
 *     process, its WAL not lost;
 *   - the user has REPLICATION (or is a superuser);
 *   - every selected table exists (plain or partitioned table) and the user may SELECT it;
 *   - every selected table (each leaf partition of a partitioned one) has a replica
 *     identity: a primary key, REPLICA IDENTITY USING INDEX or FULL. A table without
 *     one is an ERROR, not a warning: once it is in a publication that publishes
 *     updates and deletes, the source server itself refuses UPDATE and DELETE on it,
 *     which would break the application. The message says how to give it one.
 *   - an existing publication publishes insert, update, delete and truncate, every
 *     selected table, and partitioned tables through their root; a publication's row
 *     filter or column list is reported as a warning.
 * Problems are appended to problems, one line each ("what is wrong: what to do");
 * warnings to warnings (may be NULL). Returns ENDPOINT_OK when there is no problem,
 * ENDPOINT_FATAL when a person must act, ENDPOINT_TRANSIENT when a query failed because
 * the connection was lost or the slot is busy (retry later). */
endpoint_result pg_capture_preflight(PGconn *sql, const pg_capture_source *src, int own_walsender_pid,
				     strbuf *problems, strbuf *warnings);

/* The checks of pg_capture_preflight, as the pre-migration assessment names them. */
typedef enum pg_capture_check {
	PG_CHECK_VERSION = 0,      /* server version */
	PG_CHECK_WAL_LEVEL,
	PG_CHECK_REPLICATION,      /* the user's REPLICATION privilege */
	PG_CHECK_SENDERS,          /* a free WAL sender */
	PG_CHECK_SLOT,             /* room for the slot, or the existing one fits */
	PG_CHECK_TABLES,           /* the selected tables exist */
	PG_CHECK_SELECT,           /* the user may read them */
	PG_CHECK_REPLICA_IDENTITY, /* each has a primary key or replica identity */
	PG_CHECK_PUBLICATION,      /* an existing publication fits */
	PG_CHECK_COUNT
} pg_capture_check;

typedef enum pg_capture_finding {
	PG_FINDING_NOTE,    /* what a check saw; it passed unless a problem follows */
	PG_FINDING_WARNING,
	PG_FINDING_PROBLEM  /* "what is wrong: what to do" */
} pg_capture_finding;

typedef void (*pg_capture_report_fn)(void *arg, pg_capture_check check, pg_capture_finding kind, const char *text);

/* "wal_level", "replication slot", ... */
const char *pg_capture_check_name(pg_capture_check check);
/* Whether a check matters only for change data capture (not for a full-load task). */
bool pg_capture_check_cdc_only(pg_capture_check check);

/* pg_capture_preflight for the pre-migration assessment: the same checks, read-only,
 * as if no replication connection were open; each finding goes to report as it is
 * found, attributed to its check, notes included. A slot in use by another process is
 * a warning here (a running ferryd holds it), not a reason to stop. Returns like
 * pg_capture_preflight: TRANSIENT when the connection was lost. */
endpoint_result pg_capture_assess(PGconn *sql, const pg_capture_source *src, pg_capture_report_fn report, void *arg);

typedef struct pg_capture_prepared {
	bool publication_created;
	bool slot_created;
	/* The exported snapshot when the slot was just created (malloc'd), else NULL: the
	 * slot existed (a restart) and loaders cannot get the slot's starting point any
	 * more. The snapshot lives only while the replication connection stays open AND
	 * IDLE: the caller must send nothing on that connection (not even
	 * START_REPLICATION) until every load worker has run SET TRANSACTION SNAPSHOT. */
	char *snapshot;
	/* Where the stream starts: the slot's consistent point (new slot) or its
	 * confirmed_flush_lsn (existing slot). Give it to pg_capture_options.start_lsn. */
	uint64_t start_lsn;
	char *warnings; /* preflight warnings, one a line, or NULL */
} pg_capture_prepared;

/* Runs pg_capture_preflight (own_walsender_pid = repl's backend), checks that repl was
 * opened with pg_value_session_options() (the stream's values are printed in that
 * session's formats), creates the publication when missing (FOR TABLE the selected
 * tables, WITH (publish_via_partition_root = true) on PostgreSQL >= 13), then the slot
 * when missing (on repl, with an exported snapshot). sql must not be inside a
 * transaction: creating a slot waits for every running transaction to end.
 * repl: a replication=database connection. On failure *err (malloc'd, one line per
 * problem) says what to change; the result is zeroed. */
endpoint_result pg_capture_prepare(PGconn *sql, PGconn *repl, const pg_capture_source *src,
				   pg_capture_prepared *out, char **err);
void pg_capture_prepared_free(pg_capture_prepared *p);

/* ==== 2. the stream converter ======================================================== */

/* A source relation as a Relation message describes it (columns in pgoutput's order:
 * generated columns are not sent by PostgreSQL <= 15, dropped ones never). */
typedef struct pg_capture_source_rel {
	uint32_t relid;
	const char *schema;
	const char *name;
	char replident; /* d default, n nothing, f full, i index */
	int ncols;
	const char *const *columns;
	/* Replica identity columns; NULL when the identity is FULL (pgoutput then flags
	 * every column, which says nothing about the key) or there is none. */
	const bool *is_key;
	const uint32_t *type_oids;
} pg_capture_source_rel;

/* What the task makes of a selected relation: its table id in the records and the
 * rules applied (common/rules.h). table.n_columns must equal the relation's ncols;
 * table.target_columns[i] NULL leaves column i out. The converter takes ownership of
 * table (rules_table_free) when the lookup returns 1. */
typedef struct pg_capture_mapping {
	uint32_t table_id; /* > 0 */
	rules_table table;
} pg_capture_mapping;

/* Maps a relation: 1 selected (out filled), 0 not selected (its changes are ignored),
 * -1 error (message in err). Typically rules_resolve_table() plus the task's table id.
 * Called for each new or changed relation description, never per row. */
typedef int (*pg_capture_lookup_fn)(void *arg, const pg_capture_source_rel *rel, pg_capture_mapping *out,
				    char *err, size_t errlen);

/* Names of column types as the source prints them (format_type): names[i] receives a
 * malloc'd string for oids[i]/typmods[i]. 0, or -1 with err. */
typedef int (*pg_capture_type_names_fn)(void *arg, int n, const uint32_t *oids, const int32_t *typmods,
					char **names, char *err, size_t errlen);
/* The ready implementation over an ordinary connection to the source (arg = PGconn *):
 * one round trip, with an empty search_path so non-built-in types come qualified. */
int pg_capture_pg_type_names(void *conn, int n, const uint32_t *oids, const int32_t *typmods, char **names,
			     char *err, size_t errlen);

/* Receives each record, in stream order. table_id is 0 for BEGIN and COMMIT. rec is
 * valid only during the call. Non-zero stops the converter with an error. */
typedef int (*pg_capture_emit_fn)(void *arg, uint32_t table_id, const void *rec, size_t len);

/* A logical decoding message (pg_logical_emit_message), for later markers. Called when
 * the message arrives, also inside a streamed transaction that may still abort. */
typedef void (*pg_capture_message_fn)(void *arg, const pgo_message *m);

typedef struct pg_capture_options {
	pg_capture_emit_fn emit;
	void *emit_arg;
	pg_capture_lookup_fn lookup;
	void *lookup_arg;
	pg_capture_type_names_fn type_names;
	void *type_names_arg;
	pg_capture_message_fn on_message; /* optional */
	void *message_arg;
	/* Directory for the buffers of streamed transactions (protocol 2: a transaction
	 * larger than the server's logical_decoding_work_mem arrives in blocks before its
	 * commit and may still abort, wholly or a subtransaction at a time; it is kept on
	 * disk, compressed, until then: workers/pg_txnbuf.h). Owned by this converter:
	 * buffer files an earlier process left there are deleted at start. */
	const char *spool_dir;
	codec_id spool_codec;
	/* The slot position the stream starts from (pg_capture_prepared.start_lsn): the
	 * flush position reported never goes below it. */
	uint64_t start_lsn;
} pg_capture_options;

typedef struct pg_capture pg_capture;

/* NULL with err on failure (bad options, spool directory unusable, out of memory). */
pg_capture *pg_capture_new(const pg_capture_options *opts, char *err, size_t errlen);
void pg_capture_free(pg_capture *c);

/* Feeds one event of pg_repl_read(): DATA is decoded and converted, KEEPALIVE updates
 * the positions; other kinds are the caller's. A Stream Commit replays the whole
 * buffered transaction through emit within this call (reading it back from disk), so
 * an emit that blocks delays the stream that long. Returns 0, 1 when the server asked for
 * an immediate status update (answer with pg_capture_send_status), or -1 on error
 * (pg_capture_error(): malformed stream, unknown relation, a value that does not
 * convert, a failed lookup or emit, spool I/O). After an error the converter must not
 * be fed again: the caller restarts the stream from the slot. */
int pg_capture_feed(pg_capture *c, const pg_repl_event *ev);

/* Converts one decoded message (what pg_capture_feed does after decoding). 0 or -1. */
int pg_capture_convert(pg_capture *c, const pgo_message *m);

const char *pg_capture_error(const pg_capture *c);

/* The flush position to report once every emitted record with position <= applied
 * has been committed on the target (applied = the lowest position every apply worker
 * has committed; 0 = none yet). When everything emitted is applied this is the end of
 * the last commit seen, or the server's position at the last keepalive outside a
 * transaction when that is later (transactions with nothing selected emit nothing but
 * still move it); otherwise applied + 1, which makes the server skip the transaction
 * at applied after a restart. Never below options.start_lsn. */
uint64_t pg_capture_flush_lsn(const pg_capture *c, uint64_t applied);

/* Sends a standby status update: written = the last position received, flushed =
 * flush_lsn (from pg_capture_flush_lsn). 0, or -1 with err set. */
int pg_capture_send_status(pg_capture *c, pg_repl_stream *s, uint64_t flush_lsn, bool reply, char *err,
			   size_t errlen);

typedef struct pg_capture_stats {
	uint64_t received_lsn;     /* the furthest server position seen (data or keepalive) */
	uint64_t last_commit_lsn;  /* position (commit LSN) of the last transaction seen */
	uint64_t last_commit_end;  /* its end: what may be confirmed once it is applied */
	uint64_t last_emitted_lsn; /* position of the last COMMIT record emitted; 0 none */
	uint64_t changes_emitted;  /* INSERT/UPDATE/DELETE/TRUNCATE records */
	uint64_t changes_ignored;  /* changes of relations not selected */
	uint64_t transactions_emitted;
	uint64_t streamed_committed;
	uint64_t streamed_aborted;
	int streamed_open;         /* streamed transactions not yet committed or aborted */
} pg_capture_stats;

void pg_capture_get_stats(const pg_capture *c, pg_capture_stats *out);

#endif
