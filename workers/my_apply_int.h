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

/* The net change per key of one table in the open target transaction (my_apply_merge.c):
 * a burst of changes becomes one DELETE of the keys that were there and one multi-row
 * INSERT of the rows that are there at the end, instead of a statement per change. */
typedef struct my_merge_row {
	uint32_t hash;
	bool existed;           /* its first change found the row: it was there before */
	bool present;           /* the row is there after its last change */
	bool exact;             /* its first change was applied in exact mode */
	record_op first_op;     /* for messages */
	size_t key_off, key_len;   /* its key as SQL: "42" or "(1, 'a')", in keys */
	size_t tuple_off, tuple_len; /* "(v1, v2)": the last row, in tuples, when present */
	size_t text_off, text_len; /* "id=42" for messages, in texts */
	uint64_t first_position, last_position;
} my_merge_row;

typedef struct my_merge {
	my_merge_row *rows;
	int n, cap;
	int *slots;             /* open addressing: row index + 1; 0 free */
	int nslots;
	strbuf keys, tuples, texts;
} my_merge;

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
	bool mergeable;        /* keyed by columns whose SQL text is their identity */
	my_merge merge;
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
	bool merged;                 /* a DELETE of many keys (my_apply_merge.c) */
} my_stmt;

/* One change's row in the packet: its text, source position and key (for messages). */
typedef struct my_row {
	size_t start, len;           /* "(v1, v2)" of an INSERT; the whole statement otherwise */
	uint64_t position;
	size_t key_off, key_len;     /* in the packet's key text */
	record_op op;                /* a merged row's first change; 0: the statement's */
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
int my_apply_oom(my_apply *a);
/* A new statement in the packet (its separator written, its text to follow) and a row of
 * the last statement: its source position and key text; NULL when out of memory. */
my_stmt *my_packet_stmt(my_apply *a, record_op op, const my_apply_table *t, my_expect expect, uint64_t rows);
my_row *my_packet_row(my_apply *a, my_stmt *s, uint64_t position, const strbuf *key);
/* Starts a multi-row INSERT of t: "INSERT INTO t (c1, c2) VALUES ". */
my_stmt *my_apply_open_insert(my_apply *a, const my_apply_table *t, bool upsert);
/* Value i of a change as an SQL literal into sb; -1 when the task refuses an invalid one. */
int my_apply_append_value(my_apply *a, my_apply_table *t, const record_view *v, int i, const record_value *val,
			  strbuf *sb);
/* "(v1, v2)": every column of vals into sql. */
int my_apply_append_tuple(my_apply *a, my_apply_table *t, const record_view *v, const record_value *vals,
			  strbuf *sql);
/* "id=42" (the key columns of m) for messages, into out. */
void my_apply_key_text(my_apply *a, const my_apply_table *t, const record_value *m, strbuf *out);
bool my_apply_same_value(const record_value *x, const record_value *y);
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

/* my_apply_merge.c */
/* Whether t's changes can be merged by key: keyed by integer, boolean, date, year or uuid
 * columns, whose SQL text is their identity (a text key may be equal under the target's
 * collation with another spelling). */
bool my_merge_eligible(const my_apply_table *t);
/* Whether the target table has exactly the columns the changes write (generated ones
 * aside) and no triggers: a row merged into DELETE and INSERT then ends as UPDATEs
 * would leave it. Asks the target (once per description). */
bool my_merge_target_fits(my_apply *a, const my_apply_table *t);
/* Takes a change (its values in a->newv / a->oldv) into t's merge: 1 taken, 0 when it
 * must be a statement of its own (an incomplete row, or a change the merged state
 * contradicts: its statement then reports it), -1 failed. */
int my_merge_take(my_apply *a, my_apply_table *t, const record_view *v, bool idempotent);
/* Writes t's merged changes into the packet and empties the merge. */
int my_merge_flush(my_apply *a, my_apply_table *t);
int my_merge_flush_all(my_apply *a);
/* A merged DELETE matched fewer rows than it must: after rolling the target transaction
 * back, the row of s whose key is not on the target, or -1 when none is found. */
int my_merge_find_missing(my_apply *a, const my_stmt *s);
void my_merge_free(my_merge *m);

#endif
