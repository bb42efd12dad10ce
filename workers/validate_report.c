/* Validation reports as text and JSON (see the header). */
#include "workers/validate_report.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Length of the UTF-8 prefix of s of at most max bytes that ends on a character. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void vd_format_value(strbuf *out, const char *value, size_t max)
{
	if (value == NULL) {
		strbuf_append(out, "NULL");
		return;
	}
	size_t len = strlen(value), n = utf8_cut(value, len, max);
	strbuf_append_char(out, '\'');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		switch (c) {
		case '\n': strbuf_append(out, "\\n"); break;
		case '\r': strbuf_append(out, "\\r"); break;
		case '\t': strbuf_append(out, "\\t"); break;
		case '\\': strbuf_append(out, "\\\\"); break;
		case '\'': strbuf_append(out, "\\'"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				strbuf_appendf(out, "\\x%02x", c);
			else
				strbuf_append_char(out, (char)c);
		}
	}
	strbuf_append_char(out, '\'');
	if (n < len)
		strbuf_appendf(out, "... (%zu bytes)", len);
}

static bool simple_word(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v; v++)
		if (!((*v >= '0' && *v <= '9') || (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      strchr("_.:+-", *v)))
			return false;
	return true;
}

void vd_format_key(strbuf *out, const vd_table *t, char *const *key)
{
	for (int k = 0; k < t->n_key; k++) {
		if (k)
			strbuf_append(out, ", ");
		strbuf_appendf(out, "%s=", t->cols[VD_SOURCE][t->key[k]]);
		if (simple_word(key[k]))
			strbuf_append(out, key[k]);
		else
			vd_format_value(out, key[k], VD_TEXT_VALUE_MAX);
	}
}

void vd_report_header(strbuf *out)
{
	strbuf_appendf(out, "%-44s %12s %10s %9s  %s\n", "TABLE", "ROWS", "DIFFERING", "TIME", "RESULT");
}

void vd_report_line(strbuf *out, const vd_table *t, const vd_table_result *r)
{
	char rows[32] = "-", differing[32] = "-";
	if (r->status == VD_EQUAL || r->status == VD_DIFFERENT) {
		snprintf(rows, sizeof rows, "%" PRId64, r->rows_source);
		snprintf(differing, sizeof differing, "%" PRId64, r->rows_differing);
	}
	strbuf_appendf(out, "%-44s %12s %10s %8.2fs  %s", t->label, rows, differing, r->seconds,
		       vd_status_name(r->status));
	if (r->reason)
		strbuf_appendf(out, ": %s", r->reason);
	if (r->rows_unsettled > 0)
		strbuf_appendf(out, " (%" PRId64 " rows kept changing and were not compared)", r->rows_unsettled);
	strbuf_append_char(out, '\n');
}

static void summary(strbuf *out, const vd_table *t, const vd_table_result *r)
{
	strbuf_appendf(out, "differences in %s (target %s): %" PRId64 " rows", t->label, t->target_label,
		       r->rows_differing);
	if (t->n_key == 0) {
		strbuf_appendf(out, " (%" PRId64 " on the source only, %" PRId64 " on the target only; no key: rows "
				    "are not listed)\n", r->rows_missing, r->rows_extra);
		return;
	}
	strbuf_appendf(out, " (%" PRId64 " changed, %" PRId64 " missing on the target, %" PRId64
			    " extra on the target)\n", r->rows_changed, r->rows_missing, r->rows_extra);
}

void vd_report_diffs(strbuf *out, const vd_table *t, const vd_table_result *r)
{
	if (r->rows_differing == 0)
		return;
	summary(out, t, r);
	for (int i = 0; i < r->n_diffs; i++) {
		const vd_diff *d = &r->diffs[i];
		strbuf_append(out, "  ");
		vd_format_key(out, t, d->key);
		switch (d->kind) {
		case VD_DIFF_MISSING: strbuf_append(out, ": missing on the target"); break;
		case VD_DIFF_EXTRA: strbuf_append(out, ": extra on the target (not on the source)"); break;
		case VD_DIFF_CHANGED:
			strbuf_appendf(out, ": column %s: source ", t->cols[VD_SOURCE][d->column]);
			vd_format_value(out, d->value[VD_SOURCE], VD_TEXT_VALUE_MAX);
			strbuf_append(out, ", target ");
			vd_format_value(out, d->value[VD_TARGET], VD_TEXT_VALUE_MAX);
			break;
		}
		strbuf_append_char(out, '\n');
	}
	if (r->truncated)
		strbuf_appendf(out, "  ... more differences are not listed (the first %d are)\n", r->n_diffs);
}

/* A value cut to VD_JSON_VALUE_MAX bytes; sets *cut when it was. */
static void json_value_text(jsonbuf *jb, const char *key, const char *value, bool *cut)
{
	json_key(jb, key);
	if (value == NULL) {
		json_null(jb);
		return;
	}
	size_t len = strlen(value), n = utf8_cut(value, len, VD_JSON_VALUE_MAX);
	if (n == len) {
		json_string(jb, value);
		return;
	}
	char buf[VD_JSON_VALUE_MAX + 1];
	memcpy(buf, value, n);
	buf[n] = '\0';
	json_string(jb, buf);
	*cut = true;
}

static void json_diff(jsonbuf *jb, const vd_table *t, const vd_diff *d)
{
	json_object_begin(jb);
	json_member_string(jb, "kind", vd_diff_kind_name(d->kind));
	json_key(jb, "key");
	json_object_begin(jb);
	for (int k = 0; k < t->n_key; k++)
		json_member_string(jb, t->cols[VD_SOURCE][t->key[k]], d->key[k]);
	json_object_end(jb);
	bool changed = d->kind == VD_DIFF_CHANGED, cut = false;
	json_member_string(jb, "column", changed ? t->cols[VD_SOURCE][d->column] : NULL);
	json_member_string(jb, "target_column", changed ? t->cols[VD_TARGET][d->column] : NULL);
	json_value_text(jb, "source", changed ? d->value[VD_SOURCE] : NULL, &cut);
	json_value_text(jb, "target", changed ? d->value[VD_TARGET] : NULL, &cut);
	json_key(jb, "truncated");
	json_bool(jb, cut);
	json_object_end(jb);
}

void vd_report_json(jsonbuf *jb, const vd_table *t, const vd_table_result *r)
{
	json_object_begin(jb);
	json_member_string(jb, "table", t->label);
	json_member_string(jb, "target", t->target_label);
	json_key(jb, "key");
	json_array_begin(jb);
	for (int k = 0; k < t->n_key; k++)
		json_string(jb, t->cols[VD_SOURCE][t->key[k]]);
	json_array_end(jb);
	json_member_string(jb, "result", vd_status_name(r->status));
	json_member_string(jb, "reason", r->reason);
	json_member_int(jb, "rows_source", r->rows_source);
	json_member_int(jb, "rows_target", r->rows_target);
	json_member_int(jb, "rows_differing", r->rows_differing);
	json_member_int(jb, "rows_changed", r->rows_changed);
	json_member_int(jb, "rows_missing", r->rows_missing);
	json_member_int(jb, "rows_extra", r->rows_extra);
	json_member_int(jb, "rows_unsettled", r->rows_unsettled);
	json_member_int(jb, "ranges", r->ranges);
	json_member_int(jb, "ranges_differing", r->ranges_differing);
	json_member_int(jb, "rechecks", r->rechecks);
	json_member_int(jb, "milliseconds", (int64_t)(r->seconds * 1000.0 + 0.5));
	json_key(jb, "differences");
	json_array_begin(jb);
	for (int i = 0; i < r->n_diffs; i++)
		json_diff(jb, t, &r->diffs[i]);
	json_array_end(jb);
	json_key(jb, "differences_truncated");
	json_bool(jb, r->truncated);
	json_object_end(jb);
}
