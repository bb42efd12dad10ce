/* Growable string buffer and SQL identifier/literal quoting. */
#include "common/sqlquote.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(strbuf *sb)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->failed = false;
}

void strbuf_free(strbuf *sb)
{
	free(sb->data);
	strbuf_init(sb);
}

void strbuf_reset(strbuf *sb)
{
	sb->len = 0;
	if (sb->data != NULL)
		sb->data[0] = '\0';
	sb->failed = false;
}

bool strbuf_reserve(strbuf *sb, size_t extra)
{
	if (sb->failed)
		return false;
	if (extra >= SIZE_MAX / 2 - sb->len) {
		sb->failed = true;
		return false;
	}
	size_t need = sb->len + extra + 1;
	if (need <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	char *data = realloc(sb->data, cap);
	if (data == NULL) {
		sb->failed = true;
		return false;
	}
	if (sb->data == NULL)
		data[0] = '\0';
	sb->data = data;
	sb->cap = cap;
	return true;
}

void strbuf_append_len(strbuf *sb, const char *s, size_t n)
{
	if (!strbuf_reserve(sb, n))
		return;
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void strbuf_append(strbuf *sb, const char *s)
{
	strbuf_append_len(sb, s, strlen(s));
}

void strbuf_append_char(strbuf *sb, char c)
{
	strbuf_append_len(sb, &c, 1);
}

void strbuf_appendf(strbuf *sb, const char *fmt, ...)
{
	/* Try in the space there is; on truncation grow to the exact size and print again. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!strbuf_reserve(sb, attempt == 0 ? 32 : 0))
			return;
		size_t room = sb->cap - sb->len;
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(sb->data + sb->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sb->data[sb->len] = '\0';
			sb->failed = true;
			return;
		}
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		sb->data[sb->len] = '\0';
		if (!strbuf_reserve(sb, (size_t)n))
			return;
	}
}

const char *strbuf_str(const strbuf *sb)
{
	return sb->data != NULL && !sb->failed ? sb->data : "";
}

char *strbuf_detach(strbuf *sb)
{
	if (sb->failed) {
		strbuf_free(sb);
		return NULL;
	}
	char *s = sb->data != NULL ? sb->data : strdup("");
	strbuf_init(sb);
	return s;
}

/* Appends s between quote characters, doubling every embedded quote character. */
static void append_doubled(strbuf *sb, const char *s, char quote)
{
	strbuf_append_char(sb, quote);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == quote)
			strbuf_append_char(sb, quote);
		strbuf_append_char(sb, *p);
	}
	strbuf_append_char(sb, quote);
}

void sql_append_pg_ident(strbuf *sb, const char *ident)
{
	append_doubled(sb, ident, '"');
}

void sql_append_pg_qualified(strbuf *sb, const char *schema, const char *name)
{
	if (schema != NULL && schema[0] != '\0') {
		sql_append_pg_ident(sb, schema);
		strbuf_append_char(sb, '.');
	}
	sql_append_pg_ident(sb, name);
}

static bool is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

void sql_append_pg_literal(strbuf *sb, const char *value)
{
	/* With a backslash present, E'' makes the meaning independent of
	 * standard_conforming_strings (the same choice PQescapeLiteral makes). A space keeps
	 * the E from joining an identifier written just before. */
	bool escape = strchr(value, '\\') != NULL;
	if (escape && sb->len > 0 && !sb->failed && is_ident_char(sb->data[sb->len - 1]))
		strbuf_append_char(sb, ' ');
	if (escape)
		strbuf_append_char(sb, 'E');
	strbuf_append_char(sb, '\'');
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\'' || (escape && *p == '\\'))
			strbuf_append_char(sb, *p);
		strbuf_append_char(sb, *p);
	}
	strbuf_append_char(sb, '\'');
}

void sql_append_pg_array_element(strbuf *sb, const char *value)
{
	strbuf_append_char(sb, '"');
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_append_char(sb, '\\');
		strbuf_append_char(sb, *p);
	}
	strbuf_append_char(sb, '"');
}

void sql_append_mysql_ident(strbuf *sb, const char *ident)
{
	append_doubled(sb, ident, '`');
}

void sql_append_mysql_qualified(strbuf *sb, const char *schema, const char *name)
{
	if (schema != NULL && schema[0] != '\0') {
		sql_append_mysql_ident(sb, schema);
		strbuf_append_char(sb, '.');
	}
	sql_append_mysql_ident(sb, name);
}
