/* Canonical values (ipc/record.h) into values of a MySQL/MariaDB column: what the MySQL
 * target writes, in the load (fields of LOAD DATA) and in apply (SQL literals), through
 * one conversion so both write the same thing.
 *
 * A column's conversion is fixed once (my_out_col) from its source type: the class
 * chooses what the MySQL column is (common/typemap.h, PostgreSQL -> MySQL) and so what
 * its values become:
 *   boolean                 1 / 0
 *   integers, numeric       the number; numeric checked against the DECIMAL(p,s) it
 *                           became (65,30 when unconstrained): more digits, NaN or
 *                           +-Infinity are invalid values, never rounded or cut
 *   real, double            the exact IEEE value (real as single precision); NaN and
 *                           +-Infinity are invalid values (MySQL has none)
 *   bytea                   the bytes
 *   date, timestamp(tz)     'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' in UTC; years before 1 or
 *                           after 9999 and +-infinity are invalid values
 *   time                    'HH:MM:SS[.ffffff]'
 *   bit(n), varbit(n)       n <= 64: the bits as an unsigned number (BIT(n) column);
 *                           longer: the bits packed into bytes, first bit highest
 *   arrays                  a JSON array (numbers and booleans as JSON's, NULL as null,
 *                           json elements as they are, anything else as strings)
 *   character(n)            the text without trailing spaces (MySQL's CHAR drops
 *                           them when read, and its no-pad comparisons would not match)
 *   json, jsonb, uuid, text, enums, interval, inet, ...   the text
 * Values of a MySQL source (MySQL -> MySQL) go by their canonical kind the same way;
 * what only MySQL holds (zero and partial dates) arrives as TEXTREP and is written as its
 * text (workers/my_rowdec.h).
 *
 * Invalid values: the task's invalid_values decides (common/typemap.h): error stops the
 * task, null writes NULL, substitute writes my_out_substitute()'s value: the nearest
 * date MySQL holds (0001-01-01 / 9999-12-31 23:59:59.999999) for dates out of range and
 * +-infinity, the largest finite number of the column's float type for +-Infinity, NULL
 * for NaN and for a numeric that does not fit. */
#ifndef FERRY_MY_OUT_H
#define FERRY_MY_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/catalog.h"
#include "common/sqlquote.h"
#include "ipc/record.h"

typedef struct my_out_col {
	catalog_type_class cls;  /* the source column's class */
	catalog_type_class elem; /* arrays: the element's class (OTHER = unknown: strings) */
	int precision, scale;    /* numeric: the DECIMAL it became */
	int bits;                /* bit/varbit: declared length, -1 unlimited */
} my_out_col;

/* From the source catalog's type. */
void my_out_col_init(my_out_col *c, const catalog_type *type);
/* From a PostgreSQL source's RELATION description (type oid, modifier, format_type()
 * name such as "integer[]" or "public.mood"). */
void my_out_col_from_pg(my_out_col *c, uint32_t type_oid, int32_t typmod, const char *type_name);
/* From a MySQL source's RELATION description: the column type as COLUMN_TYPE spells it
 * ("bit(9)", "decimal(10,2)"); an unknown spelling converts values by their kind. */
void my_out_col_from_mysql(my_out_col *c, const char *column_type);

typedef enum my_out_form {
	MY_OUT_NULL = 0,
	MY_OUT_PLAIN,   /* a number: written as it is */
	MY_OUT_STRING,  /* character data (UTF-8) */
	MY_OUT_BINARY,  /* bytes */
	MY_OUT_INVALID  /* no MySQL value: why says what */
} my_out_form;

/* Converts v (not UNCHANGED) for column c; the value's bytes go to out (reset first).
 * MY_OUT_INVALID leaves a reason in why. */
my_out_form my_out_convert(const my_out_col *c, const record_value *v, strbuf *out, char *why,
			       size_t why_len);
/* The invalid_values = substitute value of an invalid v (see above). */
my_out_form my_out_substitute(const my_out_col *c, const record_value *v, strbuf *out);

/* An SQL literal: NULL, the number, '...' escaped for a session without
 * NO_BACKSLASH_ESCAPES (the target's, my_target_session), or X'...'. */
void my_out_append_sql(strbuf *sb, my_out_form f, const char *p, size_t n);
/* A field of LOAD DATA ... FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED
 * BY '\n': \N for NULL, else the bytes with backslash, tab, newline, carriage return and
 * NUL escaped. */
void my_out_append_infile(strbuf *sb, my_out_form f, const char *p, size_t n);

/* A PostgreSQL array's text ("{1,NULL,{2}}", "{\"a b\",c}") as a JSON array; elem is the
 * element class. -1 when the text is not an array. Exposed for the tests. */
int my_out_array_to_json(const char *text, size_t len, catalog_type_class elem, strbuf *out);

#endif
