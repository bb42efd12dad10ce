/* Statement parameters, and the rows of a table gathered for one multi-row statement.
 *
 * Parameters are text values in one buffer, by offset (-1: SQL NULL), turned into the
 * pointers libpq wants just before sending, so building them never allocates once the
 * buffers have grown. A batch holds the rows of consecutive changes of one table that
 * share a statement kind and column shape. It remembers which keys it holds, because
 * one multi-row UPDATE, DELETE or upsert must not touch a row twice: a later UPDATE or
 * upsert of a key the batch holds replaces that row's values instead (the target sees
 * only the last state of a row inside one target transaction, which is all it keeps). */
#ifndef FERRY_PG_APPLY_BATCH_H
#define FERRY_PG_APPLY_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/sqlquote.h"
#include "ipc/record.h"
#include "ipc/relmsg.h"
#include "workers/pg_apply_pipe.h"

/* Rows of one multi-row statement at most, a power of APPLY_BATCH_STEP; smaller
 * statements take max / STEP, max / STEP^2, ... 1 rows. */
#define APPLY_BATCH_ROWS 64
#define APPLY_BATCH_STEP 4
/* A batch is sent once its parameter text reaches this size (wide rows). */
#define APPLY_BATCH_BYTES (256 * 1024)
/* An UPDATE or upsert batch holds the rows of up to this many full statements before it
 * is sent (as that many statements): a later change of a key it holds replaces that row,
 * so a table of few hot rows costs the target one write per key per target transaction,
 * not one per statement's worth of changes. */
#define APPLY_BATCH_HOLD 16

typedef struct apply_params {
	strbuf text;
	int *offset;
	const char **values;
	int count;
	int cap;
} apply_params;

/* Room for more parameters; -1 when out of memory. */
int apply_params_fit(apply_params *ps, int more);
/* Appends one value's input text (NULL: a NULL parameter; never UNCHANGED). */
void apply_params_add(apply_params *ps, const record_value *v);
/* Sets parameter index to v's text, appended to the buffer (the old text stays as garbage). */
void apply_params_set(apply_params *ps, int index, const record_value *v);
/* Fills values[] from the offsets (after the last add). */
void apply_params_resolve(apply_params *ps);
/* Empties the parameters; a buffer grown past what batches need is released. */
void apply_params_reset(apply_params *ps);
void apply_params_free(apply_params *ps);

typedef struct apply_batch {
	int kind;              /* apply_stmt_kind */
	uint8_t op;            /* record_op of the first row (messages) */
	bool exact;            /* UPDATE/DELETE rows must each match a row */
	int rows;
	int row_params;
	int max_rows;          /* rows of the largest statement */
	int hold_rows;         /* rows held before the batch is sent: max_rows or more */
	uint8_t *shape;        /* ncols bytes */
	uint64_t position;     /* of the first row */
	char key[PIPE_KEY_TEXT]; /* of the first row */
	apply_params params;
	struct apply_batch_key {
		uint64_t hash; /* 0 = free */
		int row;
	} *seen;               /* the keys held: open addressing, at most half full */
	size_t seen_cap;       /* a power of two; 0 until the first key */
} apply_batch;

apply_batch *apply_batch_new(int ncols);
void apply_batch_free(apply_batch *b);
/* Forgets the rows (after they were sent). */
void apply_batch_clear(apply_batch *b);
/* The row holding a key with this hash (nonzero), or -1 after noting it for row (the
 * batch's next row); -2 when out of memory. */
int apply_batch_note_key(apply_batch *b, uint64_t hash, int row);

/* A nonzero hash of the values of the key columns. */
uint64_t apply_key_hash(const record_value *vals, const relmsg_column *cols, int ncols);

#endif
