/* Validation reports: a table's result as one text line, its differences as text lines,
 * and the same as JSON (the document doc/validate.md describes). Pure formatting. */
#ifndef FERRY_VALIDATE_REPORT_H
#define FERRY_VALIDATE_REPORT_H

#include <stddef.h>

#include "common/sqlquote.h"
#include "supervisor/jsonbuf.h"
#include "workers/validate_model.h"

/* Bytes of a value shown in text (longer ones are cut and say their length). */
#define VD_TEXT_VALUE_MAX 120
/* Bytes of a value in JSON (longer ones are cut; the difference says "truncated"). */
#define VD_JSON_VALUE_MAX 4096

/* NULL, or the value in single quotes with control characters, quotes and backslashes
 * escaped, cut after max bytes (on a character boundary) with its length added. */
void vd_format_value(strbuf *out, const char *value, size_t max);
/* id=5 / a=1, b='x y': plain when the value is a simple word, else as vd_format_value. */
void vd_format_key(strbuf *out, const vd_table *t, char *const *key);

/* The column titles of vd_report_line. */
void vd_report_header(strbuf *out);
/* "<table> <rows> <differing> <seconds> <result>[: reason]" and a newline. */
void vd_report_line(strbuf *out, const vd_table *t, const vd_table_result *r);
/* The differences, one line each (nothing when there are none). */
void vd_report_diffs(strbuf *out, const vd_table *t, const vd_table_result *r);
/* One table as a JSON object. */
void vd_report_json(jsonbuf *jb, const vd_table *t, const vd_table_result *r);

#endif
