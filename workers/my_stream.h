/* The MySQL/MariaDB change stream converter: binlog events in, change records
 * (ipc/record.h) out, in commit order, through the caller's emit (capture routes them
 * to the apply workers). No network: capture_my.c fetches the events.
 *
 * Per source transaction: BEGIN, a RELATION record before a table's first change (and
 * again after its TABLE_MAP changed), the changes, COMMIT. All carry the transaction's
 * position (see "Positions" below), the GTID sequence number (MariaDB; 0 elsewhere) as
 * xid and the event time as commit time. Transactions without a selected table emit
 * nothing. Transaction boundaries: MariaDB's GTID event opens a group, closed by XID,
 * a QUERY "COMMIT", or (standalone groups: DDL, TRUNCATE) the group's single QUERY; on
 * MySQL a QUERY "BEGIN" opens it (after its GTID or anonymous-GTID event).
 *   WRITE_ROWS   one INSERT per row (new image);
 *   UPDATE_ROWS  one UPDATE per row: the before image as the old image (FULL when every
 *                column is there, KEY when the server logged the key only: MINIMAL),
 *                the after image as new (columns it leaves out UNCHANGED);
 *   DELETE_ROWS  one DELETE per row (old image as for UPDATE);
 *   QUERY        TRUNCATE [TABLE] of a selected table: a TRUNCATE record; other DDL
 *                (CREATE, ALTER, DROP, RENAME) is logged as not replicated; the rest
 *                (SAVEPOINT, ...) is ignored. A TABLE_MAP that no longer matches the
 *                planned table stops the stream with the reason, as does an XA
 *                transaction (not replicated yet).
 *
 * Positions: record_mysql_position(file number, offset) of the transaction's first event
 * plus one (a transaction starting exactly where an applied one ended sorts after it),
 * so apply's "at or before my committed position" skip and the snapshot comparison of the
 * load (finish_position, an exact end-of-transaction position) both hold: a transaction
 * is in a snapshot taken at P exactly when its position is <= P. The stream resumes at
 * a committed position minus one: the start of that transaction, which apply then skips.
 * my_stream_boundary() is the end of the last whole transaction (or the idle position
 * a heartbeat reported): where a restart needs nothing before. Every MariaDB GTID read
 * goes into the options' GTID log at the real position of its event's start (the
 * transaction's position minus one), so the GTID state at any of those positions is
 * known (my_gtid_log_at). */
#ifndef FERRY_MY_STREAM_H
#define FERRY_MY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "ipc/taskstate.h"
#include "workers/my_binlog.h"
#include "workers/my_gtid.h"
#include "workers/my_task.h"

typedef struct my_stream my_stream;

/* Receives each record (table_id 0 for BEGIN and COMMIT); valid only during the call.
 * Non-zero stops the converter. */
typedef int (*my_stream_emit_fn)(void *arg, uint32_t table_id, const void *rec, size_t len);

typedef struct my_stream_options {
	const my_task_tables *tables; /* the task's tables (catalog, rules, PostgreSQL shapes) */
	taskstate *ts;                /* table ids: 1 + the index of the source table in ts->tables */
	my_stream_emit_fn emit;
	void *emit_arg;
	invalid_values_kind invalid_values;
	bool checksum;                /* events end with a CRC32 */
	const char *file;             /* the binlog file the stream starts in */
	my_gtid_log *gtids;           /* MariaDB: every GTID read is added (NULL: none kept) */
} my_stream_options;

my_stream *my_stream_new(const my_stream_options *o, char *err, size_t errlen);
void my_stream_free(my_stream *s);

/* The bodies of MariaDB's compressed events (log_bin_compress), which the transport
 * decompresses: the caller fills them from the library's event. NULL otherwise. */
typedef struct my_stream_override {
	const uint8_t *present, *present_after, *data; /* ROWS */
	size_t data_len;
	int ncols;
	uint64_t table_id;
	const char *sql, *db;                          /* QUERY */
	size_t sql_len, db_len;
} my_stream_override;

/* Feeds one event (raw: header first, as sent). 0, or -1 (my_stream_error()). */
int my_stream_feed(my_stream *s, const uint8_t *raw, size_t len, const my_stream_override *ov);
const char *my_stream_error(const my_stream *s);

/* The current file and the last whole-transaction boundary (record_mysql_position of
 * a real position, not +1), and the furthest position read. */
const char *my_stream_file(const my_stream *s);
uint64_t my_stream_boundary(const my_stream *s);
uint64_t my_stream_received(const my_stream *s);
bool my_stream_in_transaction(const my_stream *s);

/* The file name of a file number in the naming of name ("binlog.000012", 13 ->
 * "binlog.000013"). */
void my_stream_file_name(const char *name, uint32_t file_no, char *out, size_t size);

typedef struct my_stream_stats {
	uint64_t transactions;  /* emitted */
	uint64_t changes;       /* INSERT/UPDATE/DELETE/TRUNCATE records emitted */
	uint64_t ddl;           /* DDL statements seen (not replicated) */
	uint64_t invalid;       /* invalid values met */
} my_stream_stats;
void my_stream_get_stats(const my_stream *s, my_stream_stats *out);

#endif
