/* PostgreSQL values in text form <-> the canonical record values (ipc/record.h).
 * Capture turns pgoutput's text columns into canonical kinds by type OID; apply and
 * validation turn canonical values back into PostgreSQL input text. The round trip
 * text -> canonical -> text gives a value PostgreSQL reads back as the same datum.
 *
 * The text forms expected are those of a session with DateStyle = ISO, TimeZone = UTC,
 * bytea_output = hex and extra_float_digits = 3: pg_value_session_options() is the
 * libpq "options" value that sets them. */
#ifndef FERRY_PG_VALUE_H
#define FERRY_PG_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "common/sqlquote.h"
#include "ipc/record.h"

/* Type OIDs of the built-in types ferry maps to canonical kinds (pg_type.dat). */
enum {
	PG_OID_BOOL = 16,
	PG_OID_BYTEA = 17,
	PG_OID_CHAR = 18,
	PG_OID_NAME = 19,
	PG_OID_INT8 = 20,
	PG_OID_INT2 = 21,
	PG_OID_INT4 = 23,
	PG_OID_TEXT = 25,
	PG_OID_OID = 26,
	PG_OID_JSON = 114,
	PG_OID_FLOAT4 = 700,
	PG_OID_FLOAT8 = 701,
	PG_OID_BPCHAR = 1042,
	PG_OID_VARCHAR = 1043,
	PG_OID_DATE = 1082,
	PG_OID_TIME = 1083,
	PG_OID_TIMESTAMP = 1114,
	PG_OID_TIMESTAMPTZ = 1184,
	PG_OID_NUMERIC = 1700,
	PG_OID_UUID = 2950,
	PG_OID_JSONB = 3802
};

const char *pg_value_session_options(void);

/* The canonical kind a column of this type is carried as (TEXTREP for types without
 * a kind of their own: arrays, enums, intervals, ranges, geometry, ...). */
record_kind pg_value_kind_for_type(uint32_t type_oid);

/* Appends the canonical value of one column. 0 on success; -1 with err filled when the
 * text is not a valid value of that type. */
int pg_value_put_text(record_encoder *e, uint32_t type_oid, const char *text, size_t len, char *err,
		      size_t errlen);

/* Appends PostgreSQL input text for a canonical value (NULL and UNCHANGED have none:
 * the caller handles them). -1 for those kinds. */
int pg_value_append_text(strbuf *sb, const record_value *v);

/* Calendar helpers shared by the engines' value code: days since 1970-01-01 of a
 * proleptic Gregorian date (year 0 = 1 BC), and back. */
int64_t pg_value_days_from_civil(int64_t y, unsigned m, unsigned d);
void pg_value_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
