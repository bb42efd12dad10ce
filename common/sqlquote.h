/* A growable string buffer, and the quoting every piece of SQL text goes through.
 *
 * strbuf follows libpq's PQExpBuffer: appends never fail in the caller's face; a failed
 * allocation marks the buffer "failed", later appends do nothing, and the caller checks
 * strbuf_failed() once when the text is complete. So building a statement needs no error
 * check per append, and nothing half-built is ever sent.
 *
 * SQL is built from identifiers and literals only through the sql_append_* functions
 * below; values travel as query parameters wherever the statement allows them. */
#ifndef FERRY_SQLQUOTE_H
#define FERRY_SQLQUOTE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
	char *data;  /* NUL-terminated once anything was appended; NULL before */
	size_t len;  /* bytes in data, without the NUL */
	size_t cap;  /* bytes allocated */
	bool failed; /* an allocation failed: data is incomplete and must not be used */
} strbuf;

#define STRBUF_INIT {NULL, 0, 0, false}

void strbuf_init(strbuf *sb);
/* Frees the memory; the buffer is empty and usable again. */
void strbuf_free(strbuf *sb);
/* Empties the buffer, keeping its memory; clears the failed mark. */
void strbuf_reset(strbuf *sb);
/* Makes room for extra more bytes (plus the NUL); false (and failed) when it cannot. */
bool strbuf_reserve(strbuf *sb, size_t extra);

void strbuf_append(strbuf *sb, const char *s);
void strbuf_append_len(strbuf *sb, const char *s, size_t n);
void strbuf_append_char(strbuf *sb, char c);
void strbuf_appendf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text so far: "" when empty (never NULL). */
const char *strbuf_str(const strbuf *sb);
static inline bool strbuf_failed(const strbuf *sb) { return sb->failed; }
/* Hands the text over (malloc'd, caller frees) and leaves the buffer empty; NULL when
 * the buffer failed (its memory is freed then). */
char *strbuf_detach(strbuf *sb);

/* PostgreSQL identifier, always quoted so case, spaces and keywords survive:
 * My "T" -> "My ""T""". */
void sql_append_pg_ident(strbuf *sb, const char *ident);
/* "schema"."name"; schema NULL or "" gives the bare quoted name. */
void sql_append_pg_qualified(strbuf *sb, const char *schema, const char *name);
/* PostgreSQL string literal, correct whatever standard_conforming_strings is:
 * it's -> 'it''s'; a value with a backslash becomes E'...' with the backslash doubled
 * (preceded by a space when it would otherwise follow an identifier character). */
void sql_append_pg_literal(strbuf *sb, const char *value);
/* One element of a PostgreSQL array literal ("{...}" text, e.g. a text[] query
 * parameter): always double-quoted, with " and \ escaped by a backslash. */
void sql_append_pg_array_element(strbuf *sb, const char *value);

/* MySQL/MariaDB identifier: always in backticks, a backtick doubled. */
void sql_append_mysql_ident(strbuf *sb, const char *ident);
/* `schema`.`name`; schema NULL or "" gives the bare quoted name. */
void sql_append_mysql_qualified(strbuf *sb, const char *schema, const char *name);
/* No MySQL string literal helper on purpose: whether a backslash escapes depends on the
 * session's sql_mode (NO_BACKSLASH_ESCAPES), so use mysql_real_escape_string_quote() on
 * the connection, or parameters. */

#endif
