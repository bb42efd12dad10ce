/* Validation across engines: the canonical text of a value, and the row hash computed
 * over it on the client.
 *
 * Two servers of different engines print equal values differently (t / 1, '\x0a' /
 * raw bytes, 1.50 / 1.5, '+00' after a timestamptz, a text[] / a SET). A pair of
 * different engines therefore reads the rows on both sides and compares their canonical
 * forms, by the kind the type map gives each column (common/typemap.c):
 *   NUMBER   integers, DECIMAL/numeric, YEAR: no sign on zero, no trailing zeros after
 *            the point, no leading zeros
 *   FLOAT4 / FLOAT8   the IEEE value, printed with the digits that identify it (%.9g /
 *            %.17g); MySQL renders floats as doubles (col + 0E0) so nothing is rounded
 *   BOOL     0 / 1 (PostgreSQL's f / t; MySQL's TINYINT(1))
 *   CHAR     trailing spaces dropped (PostgreSQL pads character(n), MySQL does not)
 *   BYTES    lower-case hex without PostgreSQL's \x (MySQL renders HEX(col))
 *   BIT      the bits without leading zeros (PostgreSQL's 0101 / MySQL's BIN(col))
 *   DATE, TIMESTAMP   ISO date and time, fraction without trailing zeros, without the
 *            +00 offset (both sessions run in UTC); MySQL's zero dates as the task's
 *            invalid_values made them (NULL or -infinity)
 *   TIME     microseconds, signed (MySQL TIME and PostgreSQL interval or time alike)
 *   JSON     no spaces, object members sorted by key bytes (the last of duplicate keys
 *            kept, as jsonb does), numbers as NUMBER
 *   SET      the labels sorted and joined by commas (MySQL 'b,a' / PostgreSQL {a,b})
 *   RAW      as printed (text, enum labels, uuid, inet)
 * Pure functions, no I/O. */
#ifndef FERRY_VALIDATE_CANON_H
#define FERRY_VALIDATE_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/catalog.h"
#include "common/config.h"
#include "common/sqlquote.h"

typedef enum vd_canon_kind {
	VD_CANON_RAW = 0,
	VD_CANON_NUMBER,
	VD_CANON_FLOAT4,
	VD_CANON_FLOAT8,
	VD_CANON_BOOL,
	VD_CANON_CHAR,
	VD_CANON_BYTES,
	VD_CANON_BIT,
	VD_CANON_DATE,
	VD_CANON_TIMESTAMP,
	VD_CANON_TIME,
	VD_CANON_JSON,
	VD_CANON_SET,
	VD_CANON_ARRAY /* PostgreSQL array -> MySQL JSON: the PostgreSQL side renders to_jsonb() */
} vd_canon_kind;

/* The kind of a source column's class. */
vd_canon_kind vd_canon_kind_of(catalog_type_class cls);

/* How a side prints: its engine, and for a MySQL source what invalid_values did to its
 * zero dates and out-of-range booleans. */
typedef struct vd_canon_side {
	engine_kind engine;
	bool mysql_source;
	invalid_values_kind invalid;
} vd_canon_side;

/* The canonical form of value (len bytes) into out. *is_null: the value stands for SQL
 * NULL on the other side (a MySQL zero date the task turned into NULL). A value the
 * kind does not parse is kept as it is (it will show as a difference). 0, or -1 when
 * memory runs out. */
int vd_canon_value(vd_canon_kind kind, const vd_canon_side *side, const char *value, size_t len, strbuf *out,
		   bool *is_null);

/* JSON text in canonical form. 0; 1 when text is not JSON (out then undefined); -1 on
 * memory. */
int vd_canon_json(const char *text, size_t len, strbuf *out);

/* Row hash: feed every cell (NULL = SQL NULL), then finish. Equal rows hash alike on any
 * machine; a range's hash is the sum of its rows' hashes (order-free). */
typedef struct vd_row_hasher {
	uint64_t h;
} vd_row_hasher;

void vd_row_hash_init(vd_row_hasher *rh);
void vd_row_hash_cell(vd_row_hasher *rh, const char *value, size_t len);
uint64_t vd_row_hash_finish(const vd_row_hasher *rh);

#endif
