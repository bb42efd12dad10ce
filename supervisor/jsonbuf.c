/* JSON writer for the control socket's answers. */
#include "supervisor/jsonbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsonbuf_init(jsonbuf *jb) { memset(jb, 0, sizeof *jb); }

void jsonbuf_free(jsonbuf *jb)
{
	free(jb->data);
	memset(jb, 0, sizeof *jb);
}

char *jsonbuf_take(jsonbuf *jb, size_t *len)
{
	char *text = jb->failed ? NULL : jb->data;
	if (text == NULL)
		free(jb->data);
	if (len)
		*len = text ? jb->len : 0;
	memset(jb, 0, sizeof *jb);
	return text;
}

static void put(jsonbuf *jb, const char *s, size_t n)
{
	if (jb->failed)
		return;
	if (jb->len + n + 1 > jb->cap) {
		size_t cap = jb->cap ? jb->cap : 1024;
		while (cap < jb->len + n + 1)
			cap *= 2;
		char *grown = realloc(jb->data, cap);
		if (grown == NULL) {
			jb->failed = true;
			return;
		}
		jb->data = grown;
		jb->cap = cap;
	}
	memcpy(jb->data + jb->len, s, n);
	jb->len += n;
	jb->data[jb->len] = '\0';
}

static void put_str(jsonbuf *jb, const char *s) { put(jb, s, strlen(s)); }

void jsonbuf_append(jsonbuf *jb, const char *text) { put_str(jb, text); }

/* Before any value: a comma if a sibling came before (not after "key":). */
static void before_value(jsonbuf *jb)
{
	if (jb->after_key) {
		jb->after_key = false;
		return;
	}
	if (jb->depth > 0 && jb->need_comma[jb->depth - 1])
		put(jb, ",", 1);
	if (jb->depth > 0)
		jb->need_comma[jb->depth - 1] = true;
}

static void open_container(jsonbuf *jb, char c)
{
	before_value(jb);
	put(jb, &c, 1);
	if (jb->depth < JSONBUF_MAX_DEPTH)
		jb->need_comma[jb->depth] = false;
	else
		jb->failed = true;
	jb->depth++;
}

static void close_container(jsonbuf *jb, char c)
{
	if (jb->depth > 0)
		jb->depth--;
	put(jb, &c, 1);
}

void json_object_begin(jsonbuf *jb) { open_container(jb, '{'); }
void json_object_end(jsonbuf *jb) { close_container(jb, '}'); }
void json_array_begin(jsonbuf *jb) { open_container(jb, '['); }
void json_array_end(jsonbuf *jb) { close_container(jb, ']'); }

/* Length of a valid UTF-8 sequence starting at s (2..4), or 0 when invalid. */
static int utf8_sequence(const unsigned char *s)
{
	int n;
	uint32_t cp;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void put_escaped(jsonbuf *jb, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	put(jb, "\"", 1);
	while (*s) {
		char esc[8];
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			put(jb, esc, 2);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			const char *named = *s == '\n' ? "\\n" : *s == '\t' ? "\\t" : *s == '\r' ? "\\r" : NULL;
			if (named)
				put_str(jb, named);
			else {
				snprintf(esc, sizeof esc, "\\u%04x", *s);
				put_str(jb, esc);
			}
			s++;
		} else if (*s < 0x80) {
			put(jb, (const char *)s, 1);
			s++;
		} else {
			int n = utf8_sequence(s);
			if (n > 0)
				put(jb, (const char *)s, (size_t)n);
			else
				put_str(jb, "\\ufffd");
			s += n > 0 ? n : 1;
		}
	}
	put(jb, "\"", 1);
}

void json_key(jsonbuf *jb, const char *key)
{
	before_value(jb);
	put_escaped(jb, key);
	put(jb, ":", 1);
	jb->after_key = true;
}

void json_string(jsonbuf *jb, const char *s)
{
	before_value(jb);
	if (s == NULL)
		put_str(jb, "null");
	else
		put_escaped(jb, s);
}

void json_int(jsonbuf *jb, int64_t v)
{
	char buf[32];
	before_value(jb);
	snprintf(buf, sizeof buf, "%" PRId64, v);
	put_str(jb, buf);
}

void json_bool(jsonbuf *jb, bool v)
{
	before_value(jb);
	put_str(jb, v ? "true" : "false");
}

void json_null(jsonbuf *jb)
{
	before_value(jb);
	put_str(jb, "null");
}

void json_member_string(jsonbuf *jb, const char *key, const char *s)
{
	json_key(jb, key);
	json_string(jb, s);
}

void json_member_int(jsonbuf *jb, const char *key, int64_t v)
{
	json_key(jb, key);
	json_int(jb, v);
}
