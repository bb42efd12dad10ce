/* Inside the MySQL apply engine: the state shared by my_apply.c (records, source
 * transactions, commits) and my_apply_sql.c (changes into statements, packets and their
 * results). */
#ifndef FERRY_MY_APPLY_INT_H
#define FERRY_MY_APPLY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/sqlquote.h"
#include "ipc/record.h"
#include "ipc/relmsg.h"
#include "workers/my_apply.h"
#include "workers/my_out.h"

/* A packet is sent once it holds this many bytes or statements (and at every commit). */
#define MY_APPLY_PACKET_BYTES (1024 * 1024)
#define MY_APPLY_PACKET_STMTS 256
/* Rows one multi-row INSERT carries at most. */
#define MY_APPLY_INSERT_ROWS 1000

typedef struct my_apply_table {
	uint32_t table_id;
	bool described;
	relmsg rel;            /* owned */
	char *qname;           /* `db`.`name` */
	char *sname;           /* "db"."name": as the task state names it (taskstate.h) */
	bool keyed;            /* match on the key columns; else on every column, one row */
	my_out_col *cols;    /* per column */
	uint64_t idempotent_until;
	uint64_t invalid_pending;   /* invalid values in the open target transaction */
	uint64_t invalid_committed; /* ... in committed ones, not taken yet */
} my_apply_table;

/* What a statement's result must show. */
typedef enum my_expect {
	MY_EXPECT_ANY = 0,
	MY_EXPECT_MATCHED_ONE, /* UPDATE: "Rows matched: 1" */
	MY_EXPECT_AFFECTED     /* INSERT / DELETE: affected rows = expect_rows */
} my_expect;

typedef struct my_stmt {
	record_op op;                /* 0: bookkeeping (START TRANSACTION, progress, COMMIT) */
	const my_apply_table *table;
	my_expect expect;
	uint64_t expect_rows;
	size_t start;                /* the statement's text in the packet */
	size_t prefix_len;           /* multi-row INSERT: "INSERT INTO t (...) VALUES " */
	size_t suffix_start;         /* upsert: where " ON DUPLICATE KEY UPDATE ..." begins */
	int first_row, nrows;        /* its rows (multi-row INSERT), else one */
	const char *what;            /* bookkeeping: what it does, for messages */
} my_stmt;

/* One change's row in the packet: its text, source position and key (for messages). */
typedef struct my_row {
	size_t start, len;           /* "(v1, v2)" of an INSERT; the whole statement otherwise */
	uint64_t position;
	size_t key_off, key_len;     /* in the packet's key text */
} my_row;

typedef struct my_packet {
	strbuf sql;
	strbuf keys;
	my_stmt *stmts;
	int n, cap;
	my_row *rows;
	int nrows, cap_rows;
	bool insert_open;            /* the last statement is a multi-row INSERT taking rows */
	bool insert_upsert;
	const my_apply_table *insert_table;
} my_packet;

struct my_apply {
	MYSQL *conn;
	char *task;
	int worker;
	engine_kind source;
	invalid_values_kind invalid;
	my_apply_table **tables;
	int n_tables, cap_tables;
	my_packet pk;

	uint64_t committed;     /* position in the committed progress row */
	uint64_t complete;      /* commit position of the last source transaction fed whole */
	uint64_t txn_position;
	bool in_source_txn;
	bool skipping;          /* the open source transaction is already on the target */
	bool target_open;       /* START TRANSACTION queued or sent, no COMMIT yet */
	bool flush_deferred;
	uint64_t pending;       /* changes in the open target transaction */
	uint64_t pending_txns;
	bool failed;
	strbuf error;           /* the failure, once failed */
	const char *failed_table; /* its sname */

	record_value *newv, *oldv; /* the change being applied, one slot per column */
	int scratch_cols;
	strbuf value;           /* one converted value */
	my_apply_stats stats;
};

/* my_apply.c */
int my_apply_fail(my_apply *a, const my_apply_table *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void my_apply_format_position(char *buf, size_t size, uint64_t position);

/* my_apply_sql.c */
void my_packet_init(my_packet *pk);
void my_packet_free(my_packet *pk);
/* Ends the open multi-row INSERT, if any (before its table's description changes). */
void my_apply_close_insert(my_apply *a);
/* Queues a bookkeeping statement (START TRANSACTION, the progress row, COMMIT). */
int my_apply_queue_command(my_apply *a, const char *sql, my_expect expect, const char *what);
/* Queues one change (INSERT/UPDATE/DELETE) of a described table. */
int my_apply_queue_change(my_apply *a, my_apply_table *t, const record_view *v);
int my_apply_queue_truncate(my_apply *a, my_apply_table *t, const record_view *v);
/* Sends the packet and checks every result; 0, or -1 with the engine failed (the target
 * transaction rolled back). */
int my_apply_send(my_apply *a);
/* Sends when the packet is full enough. */
int my_apply_send_if_full(my_apply *a);

#endif
