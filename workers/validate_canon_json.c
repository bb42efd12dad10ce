/* Canonical JSON text (validate_canon.h): what MySQL's JSON, MariaDB's JSON text and
 * PostgreSQL's json/jsonb print for one value becomes the same string. Strings are
 * decoded and written again with the fewest escapes; object members are sorted by their
 * written key and the last of duplicate keys wins; numbers lose redundant zeros and
 * their exponent. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "workers/validate_canon.h"

#define JSON_MAX_DEPTH 200
#define JSON_MAX_SHIFT 400 /* exponents beyond this stay as written */

typedef struct jp {
	const char *p, *end;
	int depth;
	bool oom;
} jp;

static bool value(jp *j, strbuf *out);

static void ws(jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static void put_utf8(strbuf *out, unsigned cp)
{
	if (cp < 0x80) {
		strbuf_append_char(out, (char)cp);
	} else if (cp < 0x800) {
		strbuf_append_char(out, (char)(0xc0 | cp >> 6));
		strbuf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		strbuf_append_char(out, (char)(0xe0 | cp >> 12));
		strbuf_append_char(out, (char)(0x80 | (cp >> 6 & 0x3f)));
		strbuf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		strbuf_append_char(out, (char)(0xf0 | cp >> 18));
		strbuf_append_char(out, (char)(0x80 | (cp >> 12 & 0x3f)));
		strbuf_append_char(out, (char)(0x80 | (cp >> 6 & 0x3f)));
		strbuf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	}
}

static bool hex4(jp *j, unsigned *cp)
{
	if (j->end - j->p < 4)
		return false;
	*cp = 0;
	for (int i = 0; i < 4; i++) {
		int c = j->p[i], d = isdigit(c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
					 : c >= 'A' && c <= 'F'     ? c - 'A' + 10 : -1;
		if (d < 0)
			return false;
		*cp = *cp << 4 | (unsigned)d;
	}
	j->p += 4;
	return true;
}

static bool escape(jp *j, strbuf *out)
{
	char c = *j->p++;
	const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
	const char *hit = c ? strchr(from, c) : NULL;
	if (hit) {
		char ch = to[hit - from];
		if (ch == '"' || ch == '\\')
			strbuf_append_char(out, '\\');
		if ((unsigned char)ch < 0x20)
			strbuf_appendf(out, "\\u%04x", (unsigned)ch);
		else
			strbuf_append_char(out, ch);
		return true;
	}
	unsigned cp, lo;
	if (c != 'u' || !hex4(j, &cp))
		return false;
	if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
		j->p += 2;
		if (!hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return false;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp < 0x20 || cp == '"' || cp == '\\')
		strbuf_appendf(out, cp < 0x20 ? "\\u%04x" : "\\%c", cp);
	else
		put_utf8(out, cp);
	return true;
}

static bool string(jp *j, strbuf *out)
{
	j->p++; /* the opening quote */
	strbuf_append_char(out, '"');
	while (j->p < j->end && *j->p != '"') {
		if (*j->p == '\\') {
			j->p++;
			if (j->p >= j->end || !escape(j, out))
				return false;
		} else if ((unsigned char)*j->p < 0x20) {
			strbuf_appendf(out, "\\u%04x", (unsigned)(unsigned char)*j->p++);
		} else {
			strbuf_append_char(out, *j->p++);
		}
	}
	if (j->p >= j->end)
		return false;
	j->p++;
	strbuf_append_char(out, '"');
	return true;
}

/* -12.50e+1 -> -125: digits with the point moved by the exponent, then as NUMBER. */
static bool number(jp *j, strbuf *out)
{
	strbuf digits = STRBUF_INIT;
	bool neg = j->p < j->end && *j->p == '-';
	j->p += neg;
	long point = 0, exp = 0;
	bool seen_point = false, any = false;
	for (; j->p < j->end && (isdigit((unsigned char)*j->p) || *j->p == '.'); j->p++) {
		if (*j->p == '.') {
			seen_point = true;
			continue;
		}
		strbuf_append_char(&digits, *j->p);
		point += !seen_point;
		any = true;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		char *e;
		exp = strtol(j->p + 1, &e, 10);
		j->p = e;
	}
	bool ok = any && exp > -JSON_MAX_SHIFT && exp < JSON_MAX_SHIFT;
	if (ok) {
		const char *d = strbuf_str(&digits);
		long n = (long)strlen(d), at = point + exp;
		strbuf text = STRBUF_INIT;
		if (neg)
			strbuf_append_char(&text, '-');
		for (long i = at < 0 ? at : 0; i < (at > n ? at : n); i++) {
			if (i == at)
				strbuf_append_char(&text, '.');
			strbuf_append_char(&text, i >= 0 && i < n ? d[i] : '0');
		}
		bool is_null;
		vd_canon_side none = {0};
		ok = vd_canon_value(VD_CANON_NUMBER, &none, strbuf_str(&text), strlen(strbuf_str(&text)), out,
				    &is_null) == 0;
		strbuf_free(&text);
	}
	strbuf_free(&digits);
	return ok;
}

typedef struct member {
	char *key, *val;
	int order;
} member;

static int member_cmp(const void *a, const void *b)
{
	const member *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->order - y->order;
}

static void members_free(member *m, int n)
{
	for (int i = 0; i < n; i++) {
		free(m[i].key);
		free(m[i].val);
	}
	free(m);
}

/* Members into m (grown); false on bad JSON. */
static bool read_members(jp *j, member **m, int *n)
{
	int cap = 0;
	for (;;) {
		ws(j);
		if (j->p >= j->end || *j->p != '"')
			return false;
		strbuf k = STRBUF_INIT, v = STRBUF_INIT;
		bool ok = string(j, &k);
		ws(j);
		ok = ok && j->p < j->end && *j->p++ == ':' && value(j, &v);
		if (ok && *n == cap) {
			cap = cap ? cap * 2 : 8;
			member *g = realloc(*m, (size_t)cap * sizeof *g);
			ok = g != NULL;
			if (g)
				*m = g;
		}
		if (!ok) {
			strbuf_free(&k);
			strbuf_free(&v);
			return false;
		}
		(*m)[*n] = (member){.key = strbuf_detach(&k), .val = strbuf_detach(&v), .order = *n};
		(*n)++;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		return j->p < j->end && *j->p++ == '}';
	}
}

static bool object(jp *j, strbuf *out)
{
	j->p++;
	member *m = NULL;
	int n = 0;
	ws(j);
	bool ok = j->p < j->end && *j->p == '}' ? (j->p++, true) : read_members(j, &m, &n);
	if (ok) {
		qsort(m, (size_t)n, sizeof *m, member_cmp);
		strbuf_append_char(out, '{');
		bool first = true;
		for (int i = 0; i < n; i++) {
			if (i + 1 < n && strcmp(m[i].key, m[i + 1].key) == 0)
				continue; /* a later duplicate wins */
			if (!first)
				strbuf_append_char(out, ',');
			first = false;
			strbuf_append(out, m[i].key ? m[i].key : "");
			strbuf_append_char(out, ':');
			strbuf_append(out, m[i].val ? m[i].val : "");
		}
		strbuf_append_char(out, '}');
	}
	members_free(m, n);
	return ok;
}

static bool array(jp *j, strbuf *out)
{
	j->p++;
	strbuf_append_char(out, '[');
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		strbuf_append_char(out, ']');
		return true;
	}
	for (bool first = true;; first = false) {
		if (!first)
			strbuf_append_char(out, ',');
		if (!value(j, out))
			return false;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			strbuf_append_char(out, ']');
			return true;
		}
		return false;
	}
}

static bool literal(jp *j, const char *word, strbuf *out)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return false;
	j->p += n;
	strbuf_append(out, word);
	return true;
}

static bool value(jp *j, strbuf *out)
{
	ws(j);
	if (j->p >= j->end || ++j->depth > JSON_MAX_DEPTH)
		return false;
	bool ok;
	switch (*j->p) {
	case '{': ok = object(j, out); break;
	case '[': ok = array(j, out); break;
	case '"': ok = string(j, out); break;
	case 't': ok = literal(j, "true", out); break;
	case 'f': ok = literal(j, "false", out); break;
	case 'n': ok = literal(j, "null", out); break;
	default: ok = number(j, out); break;
	}
	j->depth--;
	return ok;
}

int vd_canon_json(const char *text, size_t len, strbuf *out)
{
	jp j = {.p = text, .end = text + len};
	bool ok = value(&j, out);
	ws(&j);
	if (strbuf_failed(out))
		return -1;
	return ok && j.p == j.end ? 0 : 1;
}
