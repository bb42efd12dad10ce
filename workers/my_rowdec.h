/* Row images of the binlog (workers/my_binlog.h) turned into change-record tuples
 * (ipc/record.h) for a PostgreSQL target: each value in the canonical kind whose
 * PostgreSQL text (pg_value_append_text) is valid input for the column the type map
 * chose, the same values the full load writes (workers/my_value.h):
 *   integers INT64 / UINT64, TINYINT(1) BOOL, DECIMAL its exact text, FLOAT / DOUBLE
 *   FLOAT64 (a FLOAT's single-precision value exactly), text TEXT (latin1 transcoded to
 *   UTF-8), binary BYTES (BINARY(n) padded back to n bytes: the binlog drops trailing
 *   zeros), BIT its digits, DATE, TIME (signed, into interval), DATETIME TIMESTAMP,
 *   TIMESTAMP TIMESTAMPTZ, YEAR INT64, JSON, ENUM its label, SET a text[] literal,
 *   UUID, INET its text.
 * Columns left out (exclude_column) are not in the tuple; columns absent from a MINIMAL
 * image are UNCHANGED (the target keeps, or on INSERT defaults, them). Invalid values
 * follow the task's policy and are counted (workers/my_value.h's my_invalid).
 * For a MySQL target (my_pg_column.mysql) values stay MySQL's: TINYINT(1) INT64, SET its
 * comma list as TEXT, zero and partial dates their text as TEXTREP ("0000-00-00",
 * "2024-00-10 00:00:00.000000"), text with NUL bytes as it is. */
#ifndef FERRY_MY_ROWDEC_H
#define FERRY_MY_ROWDEC_H

#include <stddef.h>

#include "ipc/record.h"
#include "workers/my_binlog.h"
#include "workers/my_pgmap.h"
#include "workers/my_value.h"

/* Whether a TABLE_MAP still describes the table the task planned: the same number of
 * columns and, for each, a binlog type its conversion reads (and DECIMAL's precision and
 * scale). 0, or -1 with why naming the first column that differs. */
int my_rowdec_check(const my_table_map *tm, const my_pg_table *pt, char *why, size_t why_len);

/* Appends one image's tuple (record_encode_tuple included). Columns the image leaves
 * out are UNCHANGED in a new image and NULL in an old (key-only) one. 0, or -1 with why:
 * an invalid value under invalid_values = error, or bytes that do not decode. */
int my_rowdec_tuple(record_encoder *e, const my_table_map *tm, const my_pg_table *pt, const my_cell *cells,
		    bool old_image, my_invalid *inv, strbuf *scratch, char *why, size_t why_len);

/* Appends latin1 (MySQL's: Windows-1252) bytes as UTF-8. */
void my_rowdec_latin1(strbuf *out, const uint8_t *p, size_t len);

#endif
