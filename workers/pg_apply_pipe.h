/* A libpq pipeline that streams statements to the target and checks their results as
 * they come back, without ever waiting for one statement before sending the next.
 *
 * Each statement sent takes an entry in a fixed ring describing what its result must be
 * (a row count, a command tag) and where it came from (table, key, source position) so a
 * failure can be named. The ring bounds how far the client runs ahead; libpq's output
 * buffer is flushed every PIPE_FLUSH_BYTES and results are read whenever the socket
 * would block, so neither side's buffers grow with the size of a transaction.
 * The connection is non-blocking and in pipeline mode between apply_pipe_start and
 * apply_pipe_stop, except while a COPY runs (pg_apply_copy.c): libpq allows no COPY in
 * pipeline mode, so the pipeline is drained and left for it, and entered again by the
 * next statement sent. */
#ifndef FERRY_PG_APPLY_PIPE_H
#define FERRY_PG_APPLY_PIPE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sqlquote.h"

#define PIPE_KEY_TEXT 72

typedef enum pipe_kind {
	PIPE_CHANGE,  /* a change statement */
	PIPE_PREPARE, /* preparing a statement */
	PIPE_COMMAND, /* BEGIN, COMMIT, TRUNCATE, DEALLOCATE, the progress row ... */
	PIPE_QUERY,   /* a query whose rows the engine reads (apply_pipe_query) */
	PIPE_SYNC
} pipe_kind;

/* What a statement is and what its result must be. */
typedef struct pipe_entry {
	uint8_t kind;         /* pipe_kind */
	uint8_t op;           /* record_op of a change (messages) */
	bool got_result;
	int32_t expect_rows;  /* -1: any row count */
	bool expect_none;     /* the statement returns the keys it missed: none allowed */
	uint32_t rows;        /* rows the statement carries (multi-row INSERT) */
	const char *what;     /* PIPE_COMMAND/PIPE_PREPARE: a static label */
	const char *expect_tag; /* a command tag the result must have, or NULL */
	char *const *table;   /* -> the table's quoted name (stable), or NULL */
	uint64_t position;    /* source position, 0 when none */
	PGresult **keep;      /* PIPE_QUERY: where its result goes */
	char key[PIPE_KEY_TEXT];
} pipe_entry;

typedef struct apply_pipe {
	PGconn *conn;
	pipe_entry *ring;
	size_t cap;
	size_t head;      /* oldest entry */
	size_t count;     /* entries awaiting their results */
	size_t unflushed; /* bytes queued since libpq's buffer was last flushed */
	bool out_pending; /* the last PQflush left data unsent */
	bool unsynced;    /* statements were queued since the last sync */
	bool failed;
	bool draining;    /* rolling back: results are read and ignored */
	strbuf error;     /* the first failure */
	char *failed_table; /* the quoted table name that failure blames, or NULL (owned) */
	bool in_copy;     /* a COPY ... FROM STDIN is running (pipeline mode is off) */
	pipe_entry copy_ctx; /* what the COPY applies (messages) */
	strbuf copy_buf;  /* COPY data not yet given to libpq */
	int (*hook)(void *arg);
	void *hook_arg;
	uint64_t statements; /* change statements sent */
} apply_pipe;

int apply_pipe_init(apply_pipe *p, PGconn *conn, size_t cap);
void apply_pipe_free(apply_pipe *p);
/* Enters pipeline mode on a non-blocking connection; -1 with the error set. */
int apply_pipe_start(apply_pipe *p);
/* Leaves pipeline mode and restores a blocking connection (after everything was read). */
void apply_pipe_stop(apply_pipe *p);

/* Each send waits while the ring is full, then queues the statement; ctx says what the
 * result must be. All return 0, or -1 with p->error set (p->failed). */
int apply_pipe_prepared(apply_pipe *p, const pipe_entry *ctx, const char *stmt, int nparams,
			const char *const *values, size_t bytes);
int apply_pipe_prepare(apply_pipe *p, const pipe_entry *ctx, const char *name, const char *sql);
/* A statement without parameters. */
int apply_pipe_command(apply_pipe *p, const pipe_entry *ctx, const char *sql);
int apply_pipe_sync(apply_pipe *p);
/* Runs a query in the pipeline and waits for its rows (after everything queued before
 * it): *out receives the TUPLES_OK result (the caller clears it). */
int apply_pipe_query(apply_pipe *p, const char *what, const char *sql, int nparams, const char *const *values,
		     PGresult **out);

/* Flushes output and reads the results that have arrived, without waiting. */
int apply_pipe_service(apply_pipe *p);
/* Waits until every queued statement has its result (queue a sync first). */
int apply_pipe_wait_all(apply_pipe *p);

/* Records a failure (the first one wins) without a statement to blame; returns -1. */
int apply_pipe_fail(apply_pipe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the pipeline segment, waits for every result, leaves pipeline mode and starts
 * sql, a COPY ... FROM STDIN; then the caller appends rows (COPY text format) to
 * p->copy_buf and calls apply_pipe_copy_push. Any other statement, a wait for all
 * results or a rollback ends the COPY first. 0 or -1. */
int apply_pipe_copy_begin(apply_pipe *p, const pipe_entry *ctx, const char *sql);
/* Hands p->copy_buf to libpq once it is big enough (all: whatever it holds). */
int apply_pipe_copy_push(apply_pipe *p, bool all);
/* Finishes the COPY (aborting it while rolling back), checks its result and enters
 * pipeline mode again. 0 (also when no COPY runs) or -1. */
int apply_pipe_copy_end(apply_pipe *p);

/* Shared by pg_apply_pipe.c and pg_apply_copy.c. */
int apply_pipe_wait_socket(apply_pipe *p);
int apply_pipe_fail_conn(apply_pipe *p, const char *doing);
int apply_pipe_fail_entry(apply_pipe *p, const pipe_entry *e, const PGresult *r, const char *why);

/* Brings the connection back to idle: ends the pipeline segment, reads and ignores the
 * remaining results, and rolls back an open transaction. Best effort (a dead server
 * rolls back by itself). */
void apply_pipe_rollback(apply_pipe *p);

/* "INSERT", "UPDATE", "DELETE", "TRUNCATE" for a record_op; "change" otherwise. */
const char *apply_op_label(int op);

/* "0/16B3F28" */
void apply_format_lsn(char *buf, size_t size, uint64_t position);

#endif
