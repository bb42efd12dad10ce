/* Recursive-descent JSON parser producing a tree of json_value. */
#include "supervisor/jsonparse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 32

typedef struct parser {
	const char *text;
	size_t pos;
	char *err;
	size_t errlen;
	bool failed;
} parser;

static int parse_value(parser *p, json_value *out, int depth);

static int fail(parser *p, const char *what)
{
	if (!p->failed)
		snprintf(p->err, p->errlen, "offset %zu: %s", p->pos, what);
	p->failed = true;
	return -1;
}

static void skip_space(parser *p)
{
	while (strchr(" \t\r\n", p->text[p->pos]) && p->text[p->pos] != '\0')
		p->pos++;
}

static int expect_word(parser *p, const char *word)
{
	size_t n = strlen(word);
	if (strncmp(p->text + p->pos, word, n) != 0)
		return fail(p, "unexpected character");
	p->pos += n;
	return 0;
}

static int hex4(parser *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p->text[p->pos++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return fail(p, "bad \\u escape");
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *dst, uint32_t cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | (cp >> 6));
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | (cp >> 12));
		dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | (cp >> 18));
	dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX, with a surrogate pair when it takes two. */
static int unicode_escape(parser *p, char *dst, size_t *n)
{
	uint32_t cp;
	if (hex4(p, &cp) < 0)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		uint32_t low;
		if (p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
			return fail(p, "lone surrogate in \\u escape");
		p->pos += 2;
		if (hex4(p, &low) < 0 || low < 0xdc00 || low > 0xdfff)
			return fail(p, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		return fail(p, "lone surrogate in \\u escape");
	}
	*n += put_utf8(dst + *n, cp);
	return 0;
}

static int escape(parser *p, char *dst, size_t *n)
{
	char c = p->text[p->pos++];
	const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
	const char *hit = c ? strchr(from, c) : NULL;
	if (hit) {
		dst[(*n)++] = to[hit - from];
		return 0;
	}
	if (c == 'u')
		return unicode_escape(p, dst, n);
	return fail(p, "bad escape");
}

/* The decoded text is never longer than the quoted source, so one allocation of the
 * source's length is enough. */
static int parse_string(parser *p, char **out)
{
	p->pos++; /* opening quote */
	const char *end = p->text + p->pos;
	while (*end && *end != '"')
		end += (*end == '\\' && end[1]) ? 2 : 1;
	char *dst = malloc((size_t)(end - (p->text + p->pos)) + 1);
	if (dst == NULL)
		return fail(p, "out of memory");
	size_t n = 0;
	for (;;) {
		unsigned char c = (unsigned char)p->text[p->pos];
		if (c == '"')
			break;
		if (c == '\0' || c < 0x20) {
			free(dst);
			return fail(p, c ? "control character in string" : "unterminated string");
		}
		p->pos++;
		if (c != '\\')
			dst[n++] = (char)c;
		else if (escape(p, dst, &n) < 0) {
			free(dst);
			return -1;
		}
	}
	p->pos++;
	dst[n] = '\0';
	*out = dst;
	return 0;
}

static int parse_number(parser *p, json_value *out)
{
	const char *start = p->text + p->pos;
	char *end;
	if (!(*start == '-' || (*start >= '0' && *start <= '9')))
		return fail(p, "unexpected character");
	out->type = JSON_NUMBER;
	out->number = strtod(start, &end);
	if (end == start)
		return fail(p, "bad number");
	p->pos += (size_t)(end - start);
	return 0;
}

/* Appends one slot to a container, returning it zeroed. */
static json_value *grow(parser *p, json_value *c, int *cap, bool with_key)
{
	if (c->count == *cap) {
		int ncap = *cap ? *cap * 2 : 8;
		json_value *items = realloc(c->items, sizeof *items * (size_t)ncap);
		if (items == NULL)
			return fail(p, "out of memory"), NULL;
		c->items = items;
		if (with_key) {
			char **keys = realloc(c->keys, sizeof *keys * (size_t)ncap);
			if (keys == NULL)
				return fail(p, "out of memory"), NULL;
			c->keys = keys;
		}
		*cap = ncap;
	}
	json_value *v = &c->items[c->count];
	memset(v, 0, sizeof *v);
	if (with_key)
		c->keys[c->count] = NULL;
	c->count++;
	return v;
}

static int parse_container(parser *p, json_value *out, int depth, bool object)
{
	out->type = object ? JSON_OBJECT : JSON_ARRAY;
	char close = object ? '}' : ']';
	int cap = 0;
	p->pos++;
	skip_space(p);
	if (p->text[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		skip_space(p);
		json_value *item = grow(p, out, &cap, object);
		if (item == NULL)
			return -1;
		if (object) {
			if (p->text[p->pos] != '"')
				return fail(p, "expected a member name");
			if (parse_string(p, &out->keys[out->count - 1]) < 0)
				return -1;
			skip_space(p);
			if (p->text[p->pos++] != ':')
				return fail(p, "expected ':'");
		}
		if (parse_value(p, item, depth + 1) < 0)
			return -1;
		skip_space(p);
		char c = p->text[p->pos++];
		if (c == close)
			return 0;
		if (c != ',')
			return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int parse_value(parser *p, json_value *out, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return fail(p, "nested too deep");
	skip_space(p);
	switch (p->text[p->pos]) {
	case '{': return parse_container(p, out, depth, true);
	case '[': return parse_container(p, out, depth, false);
	case '"': out->type = JSON_STRING; return parse_string(p, &out->string);
	case 't': out->type = JSON_BOOL; out->boolean = true; return expect_word(p, "true");
	case 'f': out->type = JSON_BOOL; out->boolean = false; return expect_word(p, "false");
	case 'n': out->type = JSON_NULL; return expect_word(p, "null");
	case '\0': return fail(p, "unexpected end of input");
	default: return parse_number(p, out);
	}
}

static void free_contents(json_value *v)
{
	for (int i = 0; i < v->count; i++) {
		free_contents(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
}

void json_free(json_value *v)
{
	if (v == NULL)
		return;
	free_contents(v);
	free(v);
}

json_value *json_parse(const char *text, char *err, size_t errlen)
{
	parser p = {.text = text, .pos = 0, .err = err, .errlen = errlen, .failed = false};
	json_value *root = calloc(1, sizeof *root);
	if (root == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_value(&p, root, 0) == 0) {
		skip_space(&p);
		if (p.text[p.pos] == '\0')
			return root;
		fail(&p, "trailing characters after the document");
	}
	json_free(root);
	return NULL;
}

const json_value *json_get(const json_value *v, const char *key)
{
	if (v == NULL || v->type != JSON_OBJECT)
		return NULL;
	for (int i = 0; i < v->count; i++) {
		if (v->keys[i] && strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	}
	return NULL;
}

const char *json_get_string(const json_value *v, const char *key)
{
	const json_value *m = json_get(v, key);
	return m && m->type == JSON_STRING ? m->string : NULL;
}

double json_get_number(const json_value *v, const char *key, double fallback)
{
	const json_value *m = json_get(v, key);
	return m && m->type == JSON_NUMBER ? m->number : fallback;
}
