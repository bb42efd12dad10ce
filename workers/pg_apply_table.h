/* The apply engine's tables: what the RELATION records said about each table id, how a
 * change of it is matched on the target, and the statements prepared for it.
 *
 * A prepared statement is known by (kind, rows, shape): the shape has one byte per
 * column saying which columns the statement writes and how it matches the row (see
 * APPLY_COL_*), so an UPDATE that leaves a TOASTed column unchanged gets a statement
 * that does not name that column. */
#ifndef FERRY_PG_APPLY_TABLE_H
#define FERRY_PG_APPLY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/relmsg.h"
#include "workers/pg_apply_batch.h"

/* Shape bits, one byte per column. Parameters of a row are the SET columns in column
 * order, then the MATCH columns in column order; MATCH_NULL columns take none. */
enum {
	APPLY_COL_SET = 1,       /* written from the new image */
	APPLY_COL_MATCH = 2,     /* compared with a parameter */
	APPLY_COL_MATCH_NULL = 4 /* compared with IS NULL */
};

typedef enum apply_stmt_kind {
	APPLY_INSERT,      /* INSERT ... VALUES (...), (...) */
	APPLY_UPSERT,      /* INSERT ... ON CONFLICT (key) DO UPDATE: idempotent insert/update */
	APPLY_UPSERT_MOVE, /* idempotent key change: delete the old key's row, upsert the new */
	APPLY_UPDATE,      /* UPDATE ... WHERE key */
	APPLY_DELETE,      /* DELETE ... WHERE key */
	APPLY_UPDATE_ONE,  /* keyless table: update one row equal to the old image */
	APPLY_DELETE_ONE   /* keyless table: delete one row equal to the old image */
} apply_stmt_kind;

typedef struct apply_stmt {
	apply_stmt_kind kind;
	int nrows;
	int row_params; /* parameters per row */
	uint8_t *shape; /* ncols bytes, owned */
	uint64_t last_used;
	char name[48];
} apply_stmt;

typedef struct apply_table {
	uint32_t table_id;
	bool described;        /* a RELATION record arrived */
	relmsg rel;            /* owned */
	char *qname;           /* "schema"."name", quoted for SQL and messages */
	bool keyed;            /* match on the key columns; else on every column, one row */
	uint8_t *text_compare; /* per column: 1 when the type has no equality operator */
	uint64_t idempotent_until; /* changes at positions <= this: idempotent mode; 0 none */
	apply_batch *batch;    /* rows waiting for a multi-row statement */
	bool listed;           /* on the engine's list of tables with waiting rows */
	/* The target's column types (qualified internal names, no modifier), looked up the first
	 * time a multi-row UPDATE or DELETE needs casts: 0 not yet, 1 known, -1 unknown. */
	int types_state;
	char **target_types;
	apply_stmt *stmts;
	int nstmts;
	int cap_stmts;
} apply_table;

/* Open-addressing map table id -> table; tables live until apply_tables_free. */
typedef struct apply_tables {
	apply_table **slots;
	size_t cap;
	size_t count;
	int max_cols; /* the widest described table */
} apply_tables;

void apply_tables_init(apply_tables *ts);
void apply_tables_free(apply_tables *ts);
apply_table *apply_tables_find(const apply_tables *ts, uint32_t table_id);
/* Finds or creates (undescribed); NULL when out of memory. */
apply_table *apply_tables_get(apply_tables *ts, uint32_t table_id);

/* Installs a description (taking over rel's memory; rel is left empty) and forgets the
 * old statements (the caller deallocated them on the server). -1 when out of memory. */
int apply_table_describe(apply_tables *ts, apply_table *t, relmsg *rel);

/* Takes over types (ncols strings, NULL where a column was not found). */
void apply_table_set_types(apply_table *t, char **types);

/* Whether a column of this type (as the source names it) must be compared as text
 * because the type has no equality operator (json, xml, geometric types, their arrays). */
bool apply_type_needs_text_compare(const char *type_name);

apply_stmt *apply_table_find_stmt(apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape);
/* Adds a statement (name copied); NULL when out of memory. */
apply_stmt *apply_table_add_stmt(apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape,
				 int row_params, const char *name);
/* The least recently used statement's index, -1 when there is none. */
int apply_table_lru_stmt(const apply_table *t);
void apply_table_remove_stmt(apply_table *t, int index);

#endif
