/* MySQL/MariaDB values on their way to PostgreSQL: the text a SELECT returns (full load)
 * turned into PostgreSQL COPY text, by the conversion the type map chose for the column
 * (common/typemap.h), with the task's handling of invalid values.
 *
 * The full load reads with the session of my_task_session() (UTC, utf8mb4) and selects
 * FLOAT columns as CAST(c AS DOUBLE) (MySQL prints a FLOAT with 6 digits; the double
 * carries the exact single-precision value, which PostgreSQL's real reads back bit for
 * bit): my_value_select_expr() writes each column's select expression. */
#ifndef FERRY_MY_VALUE_H
#define FERRY_MY_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/sqlquote.h"
#include "workers/my_pgmap.h"

/* What happened to the invalid values met so far (per table and worker). */
typedef struct my_invalid {
	invalid_values_kind policy;
	uint64_t count;      /* invalid values met (all policies) */
	char first[300];     /* the first one, described: column, value, what was written */
} my_invalid;

/* The expression a SELECT of the full load reads column c (source name) with (for a
 * MySQL target, BIT as its number: LOAD DATA reads it so). */
void my_value_select_expr(strbuf *sb, const char *column, const my_pg_column *mc);

/* Appends one value in PostgreSQL's COPY text format (escaped; NULL is \N) to out.
 * value NULL = SQL NULL. Returns 0, or -1 when the value is invalid and the policy is
 * error (then why says which value and what to do). column: for messages. */
int my_value_copy_text(strbuf *out, const my_pg_column *mc, const char *column, const char *value, size_t len,
		       my_invalid *inv, char *why, size_t why_len);

/* Whether a DATE / DATETIME / TIMESTAMP text is a zero or partial date
 * ("0000-00-00", "2024-00-10 ..."), which PostgreSQL cannot hold. */
bool my_value_zero_date(const char *s, size_t len);

/* COPY text escaping of raw bytes (backslash, newline, carriage return, tab). */
void my_value_copy_escape(strbuf *out, const char *s, size_t len);

/* Notes an invalid value: counts it, keeps the first description. Returns the policy. */
invalid_values_kind my_value_invalid(my_invalid *inv, const char *column, const my_pg_column *mc,
				     const char *value, size_t len);

#endif
