/* The type map between MySQL/MariaDB and PostgreSQL: the one place that decides what a
 * column of one engine becomes on the other (doc/type-mapping.md is its table, and a
 * unit test checks the two agree).
 *
 * MySQL -> PostgreSQL
 *   typemap_mysql_parse() reads information_schema.COLUMNS.COLUMN_TYPE ("int(10)
 *   unsigned", "decimal(65,30)", "enum('a','b')") into the neutral catalog type;
 *   typemap_mysql_to_pg() gives the PostgreSQL type and how each value converts
 *   (typemap_conv). Choices worth knowing:
 *     TINYINT(1)             boolean; values other than 0 and 1 are invalid values
 *     BIGINT UNSIGNED        numeric(20,0): every value fits
 *     INT UNSIGNED           bigint; smaller unsigned types the next signed size up
 *     TIME                   interval: MySQL's TIME runs from -838:59:59 to 838:59:59
 *     DATETIME / TIMESTAMP   timestamp / timestamptz (TIMESTAMP is an instant, read in UTC)
 *     ENUM                   an enum type created on the target, labels in MySQL's order
 *                            (so ORDER BY sorts alike); the caller names it
 *     SET                    text[] of the labels set, in declared order
 *     JSON (MariaDB's LONGTEXT with a json_valid() check, MySQL's JSON)  jsonb
 *     YEAR                   smallint (YEAR 0000 is 0)
 *   GEOMETRY and the other spatial types have no mapping: an error names the column.
 *
 * Values the target cannot hold (zero dates, partial dates such as 2024-00-10, ENUM's
 * empty error value, TINYINT(1) values other than 0 and 1, a NUL byte in text) are
 * "invalid values": the task's invalid_values setting decides (error stops the task,
 * null writes NULL, substitute writes typemap_substitute's documented value), and every
 * one is counted in the status and logged.
 *
 * PostgreSQL -> MySQL
 *   typemap_pg_to_mysql() gives the MySQL column type of a PostgreSQL column, for the
 *   other direction's schema creation. */
#ifndef FERRY_TYPEMAP_H
#define FERRY_TYPEMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/catalog.h"
#include "common/config.h"
#include "common/sqlquote.h"

/* How a MySQL value turns into a value of the PostgreSQL column the map chose. */
typedef enum typemap_conv {
	TYPEMAP_INT = 0,   /* signed integer */
	TYPEMAP_UINT,      /* unsigned integer */
	TYPEMAP_BOOL,      /* TINYINT(1): 0 false, 1 true, anything else invalid */
	TYPEMAP_DECIMAL,   /* exact decimal text */
	TYPEMAP_FLOAT4,    /* IEEE single, carried exactly */
	TYPEMAP_FLOAT8,
	TYPEMAP_TEXT,      /* character data, UTF-8; a NUL byte is invalid */
	TYPEMAP_BYTES,     /* binary strings; BINARY(n) keeps its zero padding to n bytes */
	TYPEMAP_BIT,       /* BIT(n) -> bit(n): n binary digits */
	TYPEMAP_DATE,      /* zero and partial dates invalid */
	TYPEMAP_TIME,      /* signed duration -> interval */
	TYPEMAP_DATETIME,  /* wall clock -> timestamp */
	TYPEMAP_TIMESTAMP, /* instant (UTC) -> timestamptz */
	TYPEMAP_YEAR,      /* -> smallint */
	TYPEMAP_JSON,      /* JSON text -> jsonb */
	TYPEMAP_ENUM,      /* label; the empty error value is invalid */
	TYPEMAP_SET,       /* comma list of labels -> text[] */
	TYPEMAP_UUID,      /* MariaDB UUID -> uuid */
	TYPEMAP_INET       /* MariaDB INET4 / INET6 -> inet */
} typemap_conv;

typedef struct typemap_pg {
	typemap_conv conv;
	catalog_type_class cls; /* the PostgreSQL column's neutral class */
	int length, precision, scale; /* as in catalog_type, for cls */
	/* PostgreSQL spelling ("numeric(20,0)", "timestamp(6) with time zone"); empty for
	 * ENUM, whose type the caller creates and names. */
	char name[64];
} typemap_pg;

/* Parses COLUMN_TYPE into out (cls, length, precision, scale, enum/set labels; out must
 * be a freshly initialised type, e.g. a new catalog column's). is_json: the column is
 * MariaDB's JSON alias (LONGTEXT with a json_valid() check). 0, or -1 with why: a type
 * without a mapping (spatial types, an unknown name) or text that is not a type. */
int typemap_mysql_parse(const char *column_type, bool is_json, catalog_type *out, char *why,
			size_t why_len);

/* The PostgreSQL type of a parsed MySQL type. 0, or -1 with why (no mapping). */
int typemap_mysql_to_pg(const catalog_type *src, typemap_pg *out, char *why, size_t why_len);

/* The MySQL column type of a PostgreSQL column type (pg_catalog's classes), appended to
 * out. 0, or -1 with why: a type MySQL cannot hold (numeric wider than 65 digits,
 * time with time zone, a class without a mapping). */
int typemap_pg_to_mysql(const catalog_type *src, strbuf *out, char *why, size_t why_len);

/* Reads a PostgreSQL type as format_type() spells it ("integer", "numeric(12,2)",
 * "character varying(20)", "timestamp(3) with time zone", "text[]") into out, for the
 * documentation check and for messages. 0, or -1 when the spelling is not one of the
 * built-in types the map knows. */
int typemap_pg_parse(const char *name, catalog_type *out);

/* ---- invalid values ------------------------------------------------------------------ */

const char *typemap_invalid_values_name(invalid_values_kind k);

/* What `invalid_values = substitute` writes for an invalid value of conv, as
 * PostgreSQL input text ("-infinity"), or NULL when conv's substitute is SQL NULL (ENUM)
 * or the value itself with the offending bytes removed (TEXT: see the doc). */
const char *typemap_substitute(typemap_conv conv);

/* The name of a conversion, for messages: "TINYINT(1)", "DATE", ... */
const char *typemap_conv_name(typemap_conv conv);

#endif
