/* MySQL SELECT text -> PostgreSQL COPY text (see the header). */
#include "workers/my_value.h"

#include <stdio.h>
#include <string.h>

void my_value_select_expr(strbuf *sb, const char *column, const my_pg_column *mc)
{
	if (mc->type.conv == TYPEMAP_FLOAT4) {
		strbuf_append(sb, "CAST(");
		sql_append_mysql_ident(sb, column);
		strbuf_append(sb, " AS DOUBLE)");
	} else if (mc->mysql && mc->type.conv == TYPEMAP_BIT) {
		/* a MySQL target's loader reads BIT as a number (workers/my_infile.c) */
		strbuf_append(sb, "CAST(");
		sql_append_mysql_ident(sb, column);
		strbuf_append(sb, " AS UNSIGNED)");
	} else {
		sql_append_mysql_ident(sb, column);
	}
}

void my_value_copy_escape(strbuf *out, const char *s, size_t len)
{
	if (!strbuf_reserve(out, len + 16))
		return;
	const char *end = s + len, *run = s;
	for (const char *p = s; p < end; p++) {
		char e;
		switch (*p) {
		case '\\': e = '\\'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		default: continue;
		}
		strbuf_append_len(out, run, (size_t)(p - run));
		strbuf_append_char(out, '\\');
		strbuf_append_char(out, e);
		run = p + 1;
	}
	strbuf_append_len(out, run, (size_t)(end - run));
}

bool my_value_zero_date(const char *s, size_t len)
{
	if (len < 10)
		return false;
	return memcmp(s, "0000", 4) == 0 || memcmp(s + 4, "-00", 3) == 0 || memcmp(s + 7, "-00", 3) == 0;
}

invalid_values_kind my_value_invalid(my_invalid *inv, const char *column, const my_pg_column *mc,
				     const char *value, size_t len)
{
	if (inv->count++ == 0) {
		char shown[64];
		size_t n = len < 40 ? len : 40;
		for (size_t i = 0; i < n; i++)
			shown[i] = value[i] >= 32 && value[i] < 127 ? value[i] : '?';
		shown[n] = '\0';
		const char *what = inv->policy == INVALID_VALUES_NULL ? "NULL"
				   : inv->policy == INVALID_VALUES_ERROR ? "nothing (the task stops)"
				   : typemap_substitute(mc->type.conv) ? typemap_substitute(mc->type.conv)
				   : mc->type.conv == TYPEMAP_TEXT ? "the text without its NUL bytes" : "NULL";
		snprintf(inv->first, sizeof inv->first, "column %s: %s value '%s%s' written as %s", column,
			 typemap_conv_name(mc->type.conv), shown, len > n ? "..." : "", what);
	}
	return inv->policy;
}

/* The substitute of an invalid value (policy substitute), COPY text. */
static void substitute(strbuf *out, const my_pg_column *mc, const char *v, size_t len)
{
	const char *s = typemap_substitute(mc->type.conv);
	if (s != NULL) {
		strbuf_append(out, s);
	} else if (mc->type.conv == TYPEMAP_TEXT || mc->type.conv == TYPEMAP_JSON) {
		for (const char *p = v, *end = v + len; p < end;) {
			const char *nul = memchr(p, '\0', (size_t)(end - p));
			const char *stop = nul ? nul : end;
			my_value_copy_escape(out, p, (size_t)(stop - p));
			p = nul ? nul + 1 : end;
		}
	} else {
		strbuf_append(out, "\\N");
	}
}

/* An invalid value by the policy: 0 with what it becomes appended, -1 on error. */
static int invalid(strbuf *out, const my_pg_column *mc, const char *column, const char *v, size_t len,
		   my_invalid *inv, char *why, size_t why_len)
{
	switch (my_value_invalid(inv, column, mc, v, len)) {
	case INVALID_VALUES_NULL: strbuf_append(out, "\\N"); return 0;
	case INVALID_VALUES_SUBSTITUTE: substitute(out, mc, v, len); return 0;
	case INVALID_VALUES_ERROR: break;
	}
	snprintf(why, why_len, "%s: PostgreSQL cannot hold it; set invalid_values = null or substitute to go on "
		 "(doc/type-mapping.md), or fix the value on the source", inv->first);
	return -1;
}

static void append_hex(strbuf *out, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (!strbuf_reserve(out, 2 * n + 3))
		return;
	strbuf_append(out, "\\\\x"); /* \x with COPY's backslash escaped */
	for (size_t i = 0; i < n; i++) {
		out->data[out->len++] = hex[p[i] >> 4];
		out->data[out->len++] = hex[p[i] & 15];
	}
	out->data[out->len] = '\0';
}

/* BIT(n): big-endian bytes -> n binary digits. */
static void append_bits(strbuf *out, const unsigned char *p, size_t n, int bits)
{
	for (int i = bits - 1; i >= 0; i--) {
		size_t byte = n - 1 - (size_t)(i / 8);
		int bit = byte < n ? (p[byte] >> (i % 8)) & 1 : 0;
		strbuf_append_char(out, bit ? '1' : '0');
	}
}

/* SET "a,b" -> {"a","b"}, COPY-escaped. */
static void append_set(strbuf *out, const char *v, size_t len)
{
	strbuf arr = STRBUF_INIT;
	strbuf_append_char(&arr, '{');
	for (const char *p = v, *end = v + len; p < end;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma ? comma : end;
		strbuf_append_char(&arr, '"');
		for (const char *q = p; q < stop; q++) {
			if (*q == '"' || *q == '\\')
				strbuf_append_char(&arr, '\\');
			strbuf_append_char(&arr, *q);
		}
		strbuf_append_char(&arr, '"');
		p = comma ? comma + 1 : end;
		if (comma)
			strbuf_append_char(&arr, ',');
	}
	strbuf_append_char(&arr, '}');
	if (strbuf_failed(&arr))
		out->failed = true;
	else
		my_value_copy_escape(out, arr.data, arr.len);
	strbuf_free(&arr);
}

int my_value_copy_text(strbuf *out, const my_pg_column *mc, const char *column, const char *v, size_t len,
		       my_invalid *inv, char *why, size_t why_len)
{
	if (v == NULL) {
		strbuf_append(out, "\\N");
		return 0;
	}
	switch (mc->type.conv) {
	case TYPEMAP_BOOL:
		if (len == 1 && (v[0] == '0' || v[0] == '1')) {
			strbuf_append_char(out, v[0] == '1' ? 't' : 'f');
			return 0;
		}
		return invalid(out, mc, column, v, len, inv, why, why_len);
	case TYPEMAP_TEXT:
	case TYPEMAP_JSON:
		if (memchr(v, '\0', len) != NULL)
			return invalid(out, mc, column, v, len, inv, why, why_len);
		my_value_copy_escape(out, v, len);
		return 0;
	case TYPEMAP_ENUM:
		if (len == 0)
			return invalid(out, mc, column, v, len, inv, why, why_len);
		my_value_copy_escape(out, v, len);
		return 0;
	case TYPEMAP_BYTES: append_hex(out, (const unsigned char *)v, len); return 0;
	case TYPEMAP_BIT: append_bits(out, (const unsigned char *)v, len, mc->type.length); return 0;
	case TYPEMAP_SET: append_set(out, v, len); return 0;
	case TYPEMAP_DATE:
	case TYPEMAP_DATETIME:
		if (my_value_zero_date(v, len))
			return invalid(out, mc, column, v, len, inv, why, why_len);
		strbuf_append_len(out, v, len);
		return 0;
	case TYPEMAP_TIMESTAMP:
		if (my_value_zero_date(v, len))
			return invalid(out, mc, column, v, len, inv, why, why_len);
		strbuf_append_len(out, v, len);
		strbuf_append(out, "+00");
		return 0;
	default:
		/* numbers, TIME (interval input), YEAR, UUID and INET text: as they are */
		strbuf_append_len(out, v, len);
		return 0;
	}
}
