/* The Prometheus text exposition format (version 0.0.4), as a scraper reads it: per
 * metric family one "# HELP" and one "# TYPE" line, then its samples, each
 * "name{label="value",...} number". Label values escape backslash, double quote and
 * newline; help texts escape backslash and newline. Names are the caller's constants
 * and are not checked here. */
#ifndef FERRY_METRICS_TEXT_H
#define FERRY_METRICS_TEXT_H

#include <stdint.h>

#include "common/sqlquote.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct prom_label {
	const char *name;
	const char *value; /* NULL leaves the label out */
} prom_label;

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge). */
void prom_family(strbuf *out, const char *name, const char *type, const char *help);
/* name{labels} value */
void prom_sample(strbuf *out, const char *name, const prom_label *labels, int n_labels, int64_t value);
/* The same with a fractional value, printed with millisecond precision. */
void prom_sample_seconds(strbuf *out, const char *name, const prom_label *labels, int n_labels, double value);

/* A label value between its quotes: \ -> \\, " -> \", newline -> \n. */
void prom_append_label_value(strbuf *out, const char *value);
/* A help text: \ -> \\, newline -> \n. */
void prom_append_help(strbuf *out, const char *text);

#endif
