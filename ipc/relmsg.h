/* A table's description carried in the change stream as a RECORD_OP_RELATION record:
 * capture sends it before the first change of a table and again after the source's
 * schema changes, so apply always knows the columns of the records it reads, also after
 * a restart (the stream resends it). Columns are in the order of the change records.
 *
 * Layout in the record's new image (one tuple): source schema, source name, target
 * schema, target name (TEXT), replica identity (TEXT, one of d f i n), then per column:
 * target name (TEXT), type oid (UINT64), type modifier (INT64), part of the key (BOOL),
 * source type name as the source prints it (TEXT). */
#ifndef FERRY_RELMSG_H
#define FERRY_RELMSG_H

#include <stdbool.h>
#include <stdint.h>

#include "ipc/record.h"

typedef struct relmsg_column {
	char *name;      /* target column name */
	uint32_t type_oid; /* PostgreSQL type oid; for MySQL sources the engine's type code */
	int32_t typmod;
	bool key;        /* part of the primary key / replica identity */
	char *type_name; /* e.g. "numeric(10,2)", "varchar(20)" */
} relmsg_column;

typedef struct relmsg {
	uint32_t table_id;
	char *source_schema;
	char *source_name;
	char *target_schema;
	char *target_name;
	char replident; /* 'd' default (primary key), 'f' full, 'i' index, 'n' nothing */
	int ncols;
	relmsg_column *cols;
} relmsg;

/* Encodes d as a RELATION record at position into buf. 0, or -1 (errno ENOMEM/EINVAL). */
int relmsg_encode(record_buf *buf, uint64_t position, const relmsg *d);
/* Decodes a RELATION record that record_decode() accepted into an owned copy.
 * 0, or -1 with what set when the tuple is not a relation description. */
int relmsg_decode(const record_view *view, relmsg *out, const char **what);
void relmsg_free(relmsg *r);
/* Number of key columns (0: the table has none: match on all columns). */
int relmsg_key_count(const relmsg *r);

#endif
