/* Prometheus text exposition format: escaping and line layout (see the header). */
#include "supervisor/metrics_text.h"

#include <inttypes.h>

static void append_escaped(strbuf *out, const char *s, int escape_quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			strbuf_append(out, "\\\\");
		else if (*s == '\n')
			strbuf_append(out, "\\n");
		else if (*s == '"' && escape_quote)
			strbuf_append(out, "\\\"");
		else
			strbuf_append_char(out, *s);
	}
}

void prom_append_label_value(strbuf *out, const char *value)
{
	append_escaped(out, value, 1);
}

void prom_append_help(strbuf *out, const char *text)
{
	append_escaped(out, text, 0);
}

void prom_family(strbuf *out, const char *name, const char *type, const char *help)
{
	strbuf_appendf(out, "# HELP %s ", name);
	prom_append_help(out, help);
	strbuf_appendf(out, "\n# TYPE %s %s\n", name, type);
}

static void append_series(strbuf *out, const char *name, const prom_label *labels, int n_labels)
{
	strbuf_append(out, name);
	int written = 0;
	for (int i = 0; i < n_labels; i++) {
		if (labels[i].value == NULL)
			continue;
		strbuf_append(out, written++ ? "," : "{");
		strbuf_append(out, labels[i].name);
		strbuf_append(out, "=\"");
		prom_append_label_value(out, labels[i].value);
		strbuf_append_char(out, '"');
	}
	if (written)
		strbuf_append_char(out, '}');
}

void prom_sample(strbuf *out, const char *name, const prom_label *labels, int n_labels, int64_t value)
{
	append_series(out, name, labels, n_labels);
	strbuf_appendf(out, " %" PRId64 "\n", value);
}

void prom_sample_seconds(strbuf *out, const char *name, const prom_label *labels, int n_labels, double value)
{
	append_series(out, name, labels, n_labels);
	strbuf_appendf(out, " %.3f\n", value);
}
