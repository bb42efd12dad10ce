/* Inside the PostgreSQL apply engine: the state shared by pg_apply.c (records,
 * transactions, commits) and pg_apply_change.c (changes into statements). */
#ifndef FERRY_PG_APPLY_INT_H
#define FERRY_PG_APPLY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/sqlquote.h"
#include "ipc/record.h"
#include "workers/pg_apply.h"
#include "workers/pg_apply_pipe.h"
#include "workers/pg_apply_table.h"

/* Prepared statements kept per table and in all (a 64-row statement's plan takes a few
 * hundred kB of the server's memory); beyond, the least recently used is deallocated. */
#define APPLY_STMTS_PER_TABLE 64
#define APPLY_STMTS_TOTAL 512
/* Statements in flight (pipeline ring entries). */
#define APPLY_PIPE_DEPTH 4096
/* After this many full multi-row INSERTs of one table in a row, with no other statement
 * between, the run goes on as COPY (cheaper for the server; leaving and entering
 * pipeline mode costs a round trip, so only long runs pay). */
#define APPLY_COPY_AFTER_BATCHES 8

struct pg_apply {
	PGconn *conn;
	char *task;
	int worker;
	char prefix[32];        /* statement names: prefix + number */
	char progress_stmt[48];
	bool replica_role;
	int batch_rows;         /* most rows per multi-row statement (APPLY_BATCH_ROWS) */
	apply_pipe pipe;
	apply_tables tables;

	uint64_t committed;     /* position in the committed progress row */
	uint64_t complete;      /* commit position of the last source transaction fed whole */
	uint64_t txn_position;  /* the open source transaction's position */
	bool in_source_txn;
	bool skipping;          /* the open source transaction is already on the target */
	bool target_open;       /* BEGIN sent, no COMMIT yet */
	bool flush_deferred;    /* commit at the end of the open source transaction */
	uint64_t pending;       /* changes in the open target transaction */
	uint64_t pending_txns;  /* source transactions in it */
	bool failed;

	/* the change being applied, one slot per column (sized to the widest table) */
	record_value *newv;
	record_value *oldv;
	uint8_t *shape;
	int scratch_cols;

	apply_params params;    /* of a single-row statement */
	/* Tables with rows waiting in their batch, in the order their batches began. With
	 * session_replication_role = replica several tables may wait at once (no trigger or
	 * foreign key sees the order between tables inside one target transaction); else
	 * at most one, so statements run in source order. */
	apply_table **waiting;
	int nwaiting;
	int cap_waiting;
	apply_table *run_table; /* the table of the current run of full INSERT batches */
	int run_batches;
	apply_table *copy_table; /* the table a running COPY loads (a->pipe.in_copy) */
	uint8_t *copy_shape;    /* and its columns */
	strbuf sql;             /* statement text being prepared */
	strbuf keytext;         /* key values for messages */
	uint64_t stmt_seq;
	uint64_t use_clock;
	int nprepared;          /* statements prepared on the server now */
	pg_apply_stats stats;
};

/* How one change is applied: its statement kind (the column shape is in a->shape), and
 * whether an UPDATE/DELETE must match a row (exact mode). */
typedef struct apply_plan {
	apply_stmt_kind kind;
	bool exact;
	const record_value *match; /* values of the MATCH columns; the key shown in messages */
} apply_plan;

/* pg_apply.c */
int apply_fail(pg_apply *a);            /* rolls back after p->error was set; returns -1 */
int apply_ensure_txn(pg_apply *a);      /* sends BEGIN when no target transaction is open */

/* pg_apply_change.c: records into plans */
int apply_change(pg_apply *a, const record_view *v);
int apply_truncate(pg_apply *a, const record_view *v);
/* Grows the per-column scratch to the widest table. */
int apply_scratch_fit(pg_apply *a, int ncols);
void apply_scratch_free(pg_apply *a);

/* pg_apply_send.c: plans into statements */
/* Queues a planned change: into its table's batch when it can wait, else alone. */
int apply_send_change(pg_apply *a, apply_table *t, const apply_plan *pl, const record_view *v);
/* Sends every table's waiting rows. */
int apply_send_waiting(pg_apply *a);
/* Before a statement of table t that cannot wait: sends what must run before it. */
int apply_send_before(pg_apply *a, apply_table *t);
/* Deallocates a table's statements on the server (its description changed). */
int apply_forget_table_stmts(pg_apply *a, apply_table *t);
/* Fails the engine for lack of memory; -1. */
int apply_oom(pg_apply *a);

#endif
