/* PostgreSQL logical replication over libpq's replication protocol: slot creation with an
 * exported snapshot, START_REPLICATION with pgoutput, the CopyBoth stream of XLogData and
 * keepalives, and standby status updates. The connection must have been opened with
 * replication=database. Errors are returned as malloc'd text (caller frees). */
#ifndef FERRY_PG_REPL_H
#define FERRY_PG_REPL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct pg_system_info {
	char systemid[32];
	int timeline;
	uint64_t xlogpos;
} pg_system_info;

int pg_repl_identify(PGconn *conn, pg_system_info *info, char **err);

/* Creates a pgoutput slot. With export_snapshot, *snapshot receives the exported snapshot
 * name (malloc'd): it stays valid only while this connection is open and idle. */
int pg_repl_create_slot(PGconn *conn, const char *slot, bool export_snapshot, char **snapshot,
			uint64_t *consistent_lsn, char **err);
/* 1 exists, 0 does not, -1 error; *confirmed_lsn = its confirmed_flush_lsn when it exists. */
int pg_repl_slot_exists(PGconn *conn, const char *slot, uint64_t *confirmed_lsn, char **err);
int pg_repl_drop_slot(PGconn *conn, const char *slot, char **err);

typedef struct pg_repl_options {
	const char *slot;
	const char *publication;
	uint64_t start_lsn;  /* 0: the slot's confirmed position */
	int proto_version;   /* 1 or 2 */
	bool streaming;      /* protocol 2: in-progress transactions streamed (bounded memory) */
	bool messages;       /* logical decoding messages (pg_logical_emit_message) */
} pg_repl_options;

int pg_repl_start(PGconn *conn, const pg_repl_options *opts, char **err);

typedef enum pg_repl_event_kind {
	PG_REPL_DATA,        /* an XLogData message: data/len hold the pgoutput payload */
	PG_REPL_KEEPALIVE,   /* a primary keepalive: reply_requested says if we must answer now */
	PG_REPL_TIMEOUT,     /* nothing arrived within the timeout */
	PG_REPL_INTERRUPTED, /* a signal arrived while waiting */
	PG_REPL_END,         /* the server ended the stream */
	PG_REPL_ERROR
} pg_repl_event_kind;

typedef struct pg_repl_event {
	pg_repl_event_kind kind;
	uint64_t wal_start; /* DATA: LSN of the message */
	uint64_t wal_end;   /* DATA and KEEPALIVE: the server's current end of WAL */
	int64_t send_time_us;
	bool reply_requested;
	const char *data;   /* DATA: valid until the next pg_repl_read */
	int len;
} pg_repl_event;

typedef struct pg_repl_stream {
	PGconn *conn;
	char *buf; /* PQgetCopyData's buffer, freed on the next read */
} pg_repl_stream;

void pg_repl_stream_init(pg_repl_stream *s, PGconn *conn);
void pg_repl_stream_free(pg_repl_stream *s);
/* Waits at most timeout_ms for the next message (-1: no limit). On PG_REPL_ERROR *err is set. */
int pg_repl_read(pg_repl_stream *s, pg_repl_event *ev, int timeout_ms, char **err);
/* Standby status update: what was received, what is durably applied on the target
 * (flush: the slot keeps the WAL after it), and whether the server should reply. */
int pg_repl_send_status(pg_repl_stream *s, uint64_t written, uint64_t flushed, bool reply, char **err);

/* Microseconds since the PostgreSQL epoch (2000-01-01), as the protocol wants it. */
int64_t pg_repl_now(void);

#endif
