/* Table rules: parses include/exclude/rename/exclude_column/filter/lowercase values into
 * name patterns once, then answers per table which rows and names to migrate. The rule
 * syntax and its meaning are described in rules.h. */
#include "common/rules.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PARTS 3 /* schema.table.column */
#define WHY_MAX 256

/* ---- memory and strings ----------------------------------------------------------- */

static void out_of_memory(void)
{
	fprintf(stderr, "ferry: out of memory\n");
	abort();
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

static void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		out_of_memory();
	return p;
}

/* A growable string, always NUL-terminated. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
} sbuf;

static void sbuf_putc(sbuf *b, char c)
{
	if (b->len + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->s = xrealloc(b->s, b->cap);
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

static void sbuf_puts(sbuf *b, const char *s)
{
	while (*s)
		sbuf_putc(b, *s++);
}

static void sbuf_truncate(sbuf *b, size_t len)
{
	if (b->s && len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

/* Hands the text over to the caller ("" when nothing was added). */
static char *sbuf_take(sbuf *b)
{
	char *s = b->s ? b->s : xstrdup("");

	*b = (sbuf){0};
	return s;
}

/* ASCII-only, as PostgreSQL folds unquoted identifiers in UTF-8 databases. */
static char *ascii_lower_dup(const char *s)
{
	char *out = xstrdup(s);

	for (char *c = out; *c; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	return out;
}

/* Writes name as a rule would spell it, quoted when it holds a character with a
 * meaning in rules, so messages can be pasted back into the config. */
static void put_name(sbuf *b, const char *name)
{
	size_t len = strlen(name);
	bool quote = len == 0 || strpbrk(name, ".:\"*?") != NULL ||
		     isspace((unsigned char)name[0]) || isspace((unsigned char)name[len - 1]);

	if (!quote) {
		sbuf_puts(b, name);
		return;
	}
	sbuf_putc(b, '"');
	for (const char *c = name; *c; c++) {
		if (*c == '"')
			sbuf_putc(b, '"');
		sbuf_putc(b, *c);
	}
	sbuf_putc(b, '"');
}

static char *table_label(const char *schema, const char *table)
{
	sbuf b = {0};

	put_name(&b, schema);
	sbuf_putc(&b, '.');
	put_name(&b, table);
	return sbuf_take(&b);
}

/* ---- name patterns ----------------------------------------------------------------- */

/* One dotted part of a rule. glob is the internal form: '*' and '?' are wildcards and
 * '\\' makes the next byte literal (only * ? and \ are ever escaped). literal is the name
 * itself when the part has no wildcard, else NULL. */
typedef struct name_pat {
	char *glob;
	char *literal;
} name_pat;

static void name_pat_free(name_pat *n)
{
	free(n->glob);
	free(n->literal);
	*n = (name_pat){0};
}

/* Bytes of the UTF-8 character at s (1 for a stray byte, so bad input still advances). */
static size_t utf8_char_len(const char *s)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;

	for (size_t i = 1; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			return 1;
	}
	return n;
}

/* Glob match with one backtrack point per '*': O(len(p) * len(s)) at worst. */
static bool glob_match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	while (*s) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (*p == '?') {
			p++;
			s += utf8_char_len(s);
			continue;
		}
		const char *lit = *p == '\\' && p[1] ? p + 1 : p;
		if (*p && *lit == *s) {
			p = lit + 1;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		star_s += utf8_char_len(star_s);
		s = star_s;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static bool name_match(const name_pat *n, const char *name)
{
	return n->literal ? strcmp(n->literal, name) == 0 : glob_match(n->glob, name);
}

typedef struct glob_token {
	char kind; /* '*', '?' or 'c' (one literal character) */
	const char *text;
	size_t len;
} glob_token;

static glob_token *glob_tokens(const char *g, size_t *n)
{
	glob_token *t = xcalloc(strlen(g) + 1, sizeof(*t));

	*n = 0;
	while (*g) {
		glob_token *tok = &t[(*n)++];
		if (*g == '*' || *g == '?') {
			*tok = (glob_token){*g, g, 1};
			g++;
		} else if (*g == '\\' && g[1]) {
			*tok = (glob_token){'c', g + 1, 1};
			g += 2;
		} else {
			*tok = (glob_token){'c', g, utf8_char_len(g)};
			g += tok->len;
		}
	}
	return t;
}

/* Whether pattern a matches every name pattern b matches (sound, not complete: a
 * "no" may be wrong, a "yes" never is). Dynamic programming over token positions. */
static bool glob_covers(const char *a, const char *b)
{
	size_t na, nb;
	glob_token *ta = glob_tokens(a, &na), *tb = glob_tokens(b, &nb);
	bool *dp = xcalloc((na + 1) * (nb + 1), sizeof(bool)); /* dp[i][j]: a[i..] covers b[j..] */
#define DP(i, j) dp[(i) * (nb + 1) + (j)]

	for (size_t i = na + 1; i-- > 0;) {
		for (size_t j = nb + 1; j-- > 0;) {
			bool v;
			if (i == na)
				v = j == nb;
			else if (ta[i].kind == '*')
				v = DP(i + 1, j) || (j < nb && DP(i, j + 1));
			else if (j == nb || tb[j].kind == '*')
				v = false;
			else if (ta[i].kind == '?')
				v = DP(i + 1, j + 1);
			else
				v = tb[j].kind == 'c' && ta[i].len == tb[j].len &&
				    memcmp(ta[i].text, tb[j].text, ta[i].len) == 0 && DP(i + 1, j + 1);
			DP(i, j) = v;
		}
	}
	bool result = DP(0, 0);
#undef DP
	free(dp);
	free(ta);
	free(tb);
	return result;
}

/* State of one part while it is being read. */
typedef struct part_reader {
	sbuf glob, lit;
	size_t glob_keep, lit_keep; /* lengths up to the last character that is not trailing space */
	bool started, wild, last_star;
} part_reader;

static void part_put(part_reader *r, char c, bool wildcard, bool counts)
{
	if (wildcard) {
		if (!(c == '*' && r->last_star))
			sbuf_putc(&r->glob, c);
		r->wild = true;
	} else {
		if (c == '*' || c == '?' || c == '\\')
			sbuf_putc(&r->glob, '\\');
		sbuf_putc(&r->glob, c);
	}
	r->last_star = wildcard && c == '*';
	sbuf_putc(&r->lit, c);
	r->started = true;
	if (counts) {
		r->glob_keep = r->glob.len;
		r->lit_keep = r->lit.len;
	}
}

/* Reads a "quoted" segment starting at *pp (on the opening quote). */
static int part_quoted(part_reader *r, const char **pp, char *why)
{
	const char *p = *pp + 1;

	for (;;) {
		if (*p == '\0') {
			snprintf(why, WHY_MAX, "unterminated quote (a \" is never closed; write \"\" for a \" in a name)");
			return -1;
		}
		if (*p == '"' && p[1] != '"')
			break;
		if (*p == '"')
			p++;
		part_put(r, *p++, false, true);
	}
	r->started = true;
	r->glob_keep = r->glob.len;
	r->lit_keep = r->lit.len;
	*pp = p + 1;
	return 0;
}

static int part_finish(part_reader *r, name_pat *out, char *why)
{
	sbuf_truncate(&r->glob, r->glob_keep);
	sbuf_truncate(&r->lit, r->lit_keep);
	if (r->lit_keep == 0) {
		snprintf(why, WHY_MAX, "empty name");
		free(r->glob.s);
		free(r->lit.s);
		return -1;
	}
	out->glob = sbuf_take(&r->glob);
	char *lit = sbuf_take(&r->lit);
	if (r->wild) {
		free(lit);
		lit = NULL;
	}
	out->literal = lit;
	return 0;
}

/* Parses dotted names at *pp: up to MAX_PARTS + 1 parts (so callers can tell "too
 * many"), stopping at the end or, with stop_at_colon, at an unquoted ':' (*pp is then
 * left after it and *at_colon set). Returns the number of parts, or -1 with why. */
static int parse_dotted(const char **pp, bool stop_at_colon, name_pat *parts, bool *at_colon, char *why)
{
	const char *p = *pp;
	int n = 0;

	*at_colon = false;
	for (;;) {
		part_reader r = {0};
		while (*p && *p != '.' && *p != ':') {
			if (*p == '"') {
				if (part_quoted(&r, &p, why) < 0)
					goto fail_part;
			} else if (isspace((unsigned char)*p)) {
				if (r.started)
					part_put(&r, *p, false, false);
				p++;
			} else {
				part_put(&r, *p, *p == '*' || *p == '?', true);
				p++;
			}
		}
		if (*p == ':' && !stop_at_colon) {
			snprintf(why, WHY_MAX, "unexpected ':' (quote a name that contains one)");
			goto fail_part;
		}
		if (part_finish(&r, &parts[n], why) < 0)
			goto fail;
		if (++n > MAX_PARTS || *p != '.')
			break;
		p++;
		continue;
fail_part:
		free(r.glob.s);
		free(r.lit.s);
		goto fail;
	}
	if (*p == ':') {
		*at_colon = true;
		p++;
	}
	*pp = p;
	return n;
fail:
	for (int i = 0; i < n; i++)
		name_pat_free(&parts[i]);
	return -1;
}

/* ---- compiled rules ------------------------------------------------------------------- */

typedef struct rule {
	const char *key;
	char *value; /* as written, for messages */
	int line;    /* 0 = unknown */
	int id;	     /* index over all rules, for usage tracking */
	int n_src;
	name_pat src[MAX_PARTS + 1];
	int n_dst;
	name_pat dst[MAX_PARTS + 1];
	char *expr;	/* filter */
	bool include;	/* selection */
	bool shadowed;	/* selection: an earlier pattern always decides first */
} rule;

typedef struct rule_list {
	rule *v;
	int n;
} rule_list;

enum rule_kind { RK_SELECT, RK_RENAME_SCHEMA, RK_RENAME_TABLE, RK_RENAME_COLUMN, RK_EXCLUDE_COLUMN,
		 RK_FILTER, RK_LOWERCASE, RK_COUNT };

struct rules {
	char *file; /* NULL when not known */
	char *task;
	bool engine_known;
	engine_kind engine;
	bool has_include;
	rule_list list[RK_COUNT]; /* list[RK_SELECT] in evaluation order */
	int n_rules;
};

static void rule_free(rule *ru)
{
	free(ru->value);
	free(ru->expr);
	for (int i = 0; i < ru->n_src; i++)
		name_pat_free(&ru->src[i]);
	for (int i = 0; i < ru->n_dst; i++)
		name_pat_free(&ru->dst[i]);
}

void rules_free(rules *r)
{
	if (!r)
		return;
	for (int k = 0; k < RK_COUNT; k++) {
		for (int i = 0; i < r->list[k].n; i++)
			rule_free(&r->list[k].v[i]);
		free(r->list[k].v);
	}
	free(r->file);
	free(r->task);
	free(r);
}

/* "FILE:LINE: [task T] KEY: 'VALUE': message", leaving out what is not known. */
static void report(config_diag *diag, bool error, const rules *r, const rule *ru, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void report(config_diag *diag, bool error, const rules *r, const rule *ru, const char *fmt, ...)
{
	va_list ap;
	char *msg, *full;
	sbuf where = {0};
	char line[32];

	if (!diag)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		out_of_memory();
	va_end(ap);
	if (r->file)
		sbuf_puts(&where, r->file);
	if (ru && ru->line > 0) {
		snprintf(line, sizeof line, r->file ? ":%d" : "line %d", ru->line);
		sbuf_puts(&where, line);
	}
	if (where.len)
		sbuf_puts(&where, ": ");
	int rc = ru ? asprintf(&full, "%s[task %s] %s: '%s': %s", where.s ? where.s : "", r->task, ru->key,
			       ru->value, msg)
		    : asprintf(&full, "%s[task %s] %s", where.s ? where.s : "", r->task, msg);
	if (rc < 0)
		out_of_memory();
	free(where.s);
	string_list_add(error ? &diag->errors : &diag->warnings, full);
	free(full);
	free(msg);
}

/* ---- filter expressions ---------------------------------------------------------------- */

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* Index just after the quoted text opened by s[i] (quote q; qq inside is one q), or -1. */
static long skip_quoted(const char *s, long i, char q, bool backslash_escapes)
{
	for (long j = i + 1; s[j]; j++) {
		if (backslash_escapes && s[j] == '\\' && s[j + 1]) {
			j++;
		} else if (s[j] == q) {
			if (s[j + 1] != q)
				return j + 1;
			j++;
		}
	}
	return -1;
}

/* PostgreSQL $tag$...$tag$: index after the closing tag, 0 when s[i] starts none
 * (a $1 parameter, a '$' inside a name), -1 when it is never closed. */
static long skip_dollar_quote(const char *s, long i)
{
	long j = i + 1;

	if (i > 0 && ident_char(s[i - 1]))
		return 0;
	if (isdigit((unsigned char)s[j]))
		return 0;
	while (s[j] && s[j] != '$' && ident_char(s[j]))
		j++;
	if (s[j] != '$')
		return 0;
	size_t tag_len = (size_t)(j - i + 1);
	for (long k = j + 1; s[k]; k++) {
		if (strncmp(s + k, s + i, tag_len) == 0)
			return k + (long)tag_len;
	}
	return -1;
}

/* E'...' is the PostgreSQL string form where a backslash escapes the quote. */
static bool pg_escape_string(const char *s, long i)
{
	return i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') && (i == 1 || !ident_char(s[i - 2]));
}

static bool starts_comment(const char *s, long i, bool mysql)
{
	if (s[i] == '/' && s[i + 1] == '*')
		return true;
	if (mysql && s[i] == '#')
		return true;
	/* MySQL reads "--" as a comment only before a space (1--1 is arithmetic there). */
	return s[i] == '-' && s[i + 1] == '-' &&
	       (!mysql || s[i + 2] == '\0' || isspace((unsigned char)s[i + 2]));
}

/* A cheap check that expr stays inside "WHERE (expr)": not empty, parentheses and
 * quotes balanced, no statement separator, no comment (it would swallow what follows).
 * The dialect is the source's: MySQL strings take backslash escapes and `names`. */
static int filter_check(const char *expr, bool mysql, char *why)
{
	int depth = 0;
	bool any = false;

	for (long i = 0; expr[i]; i++) {
		char c = expr[i];
		long next = 0;
		if (isspace((unsigned char)c))
			continue;
		any = true;
		if (starts_comment(expr, i, mysql)) {
			snprintf(why, WHY_MAX, "comment at character %ld: comments are not allowed in a filter", i + 1);
			return -1;
		}
		if (c == ';') {
			snprintf(why, WHY_MAX, "';' at character %ld: a filter is one condition", i + 1);
			return -1;
		}
		if (c == '(') {
			depth++;
		} else if (c == ')' && --depth < 0) {
			snprintf(why, WHY_MAX, "')' at character %ld closes no '('", i + 1);
			return -1;
		} else if (c == '\'') {
			next = skip_quoted(expr, i, c, mysql || pg_escape_string(expr, i));
		} else if (c == '"') {
			next = skip_quoted(expr, i, c, mysql);
		} else if (c == '`' && mysql) {
			next = skip_quoted(expr, i, c, false);
		} else if (c == '$' && !mysql) {
			next = skip_dollar_quote(expr, i);
		}
		if (next < 0) {
			snprintf(why, WHY_MAX, "the %c at character %ld is never closed", c, i + 1);
			return -1;
		}
		if (next > 0)
			i = next - 1;
	}
	if (!any) {
		snprintf(why, WHY_MAX, "no condition after ':'");
		return -1;
	}
	if (depth > 0) {
		snprintf(why, WHY_MAX, "%d '(' never closed", depth);
		return -1;
	}
	return 0;
}

/* ---- compiling ---------------------------------------------------------------------------- */

/* The shape of one rule key. */
typedef struct key_spec {
	const char *key;
	enum rule_kind kind;
	size_t offset;		/* of its string_list in task_config */
	int src_min, src_max;	/* dotted parts before ':' (or in all) */
	unsigned literal_src;	/* bit i: source part i must name one object */
	int dst_min, dst_max;	/* parts after ':'; 0 = no ':' part */
	bool filter;		/* after ':' comes an SQL condition */
	const char *shape;	/* for messages */
} key_spec;

static const key_spec key_specs[] = {
	{"include", RK_SELECT, offsetof(task_config, include), 2, 2, 0, 0, 0, false, "schema.table"},
	{"exclude", RK_SELECT, offsetof(task_config, exclude), 2, 2, 0, 0, 0, false, "schema.table"},
	{"rename_schema", RK_RENAME_SCHEMA, offsetof(task_config, rename_schema), 1, 1, 1u, 1, 1, false,
	 "schema:newschema"},
	{"rename_table", RK_RENAME_TABLE, offsetof(task_config, rename_table), 2, 2, 3u, 1, 2, false,
	 "schema.table:newschema.newtable or schema.table:newtable"},
	{"rename_column", RK_RENAME_COLUMN, offsetof(task_config, rename_column), 3, 3, 4u, 1, 1, false,
	 "schema.table.column:newcolumn"},
	{"exclude_column", RK_EXCLUDE_COLUMN, offsetof(task_config, exclude_column), 3, 3, 0, 0, 0, false,
	 "schema.table.column"},
	{"filter", RK_FILTER, offsetof(task_config, filter), 2, 2, 0, 0, 0, true, "schema.table: condition"},
	{"lowercase", RK_LOWERCASE, offsetof(task_config, lowercase), 2, 2, 0, 0, 0, false, "schema.table"},
};

#define SPEC_INCLUDE (&key_specs[0])
#define SPEC_EXCLUDE (&key_specs[1])
#define N_SPECS (sizeof(key_specs) / sizeof(key_specs[0]))

static const string_list *spec_list(const key_spec *spec, const task_config *task)
{
	return (const string_list *)(const void *)((const char *)task + spec->offset);
}

static const char *const part_names[] = {"schema", "table", "column", "name"};

static int check_part_count(const key_spec *spec, int n, int min, int max, const char *side, char *why)
{
	if (n >= min && n <= max)
		return 0;
	if (n < min)
		snprintf(why, WHY_MAX, "only %d name%s%s (expected %s)", n, n == 1 ? "" : "s", side, spec->shape);
	else
		snprintf(why, WHY_MAX, "too many '.'-separated names%s (expected %s; quote a name that contains '.')",
			 side, spec->shape);
	return -1;
}

static int check_literal(const name_pat *n, const char *what, char *why)
{
	if (n->literal)
		return 0;
	snprintf(why, WHY_MAX, "the %s must be one name: an unquoted * or ? is a wildcard (quote it to mean the character)",
		 what);
	return -1;
}

/* The part after ':': new names, or a filter's condition. */
static int parse_rule_target(const key_spec *spec, const char *p, rule *ru, bool mysql, char *why)
{
	bool colon;

	if (spec->filter) {
		while (isspace((unsigned char)*p))
			p++;
		if (filter_check(p, mysql, why) < 0)
			return -1;
		ru->expr = xstrdup(p);
		return 0;
	}
	ru->n_dst = parse_dotted(&p, false, ru->dst, &colon, why);
	if (ru->n_dst < 0) {
		ru->n_dst = 0;
		return -1;
	}
	if (check_part_count(spec, ru->n_dst, spec->dst_min, spec->dst_max, " after ':'", why) < 0)
		return -1;
	for (int i = 0; i < ru->n_dst; i++) {
		if (check_literal(&ru->dst[i], ru->n_dst == 2 && i == 0 ? "new schema" : "new name", why) < 0)
			return -1;
	}
	return 0;
}

static int parse_rule(const key_spec *spec, const char *value, rule *ru, bool mysql, char *why)
{
	const char *p = value;
	bool colon, wants_colon = spec->dst_max > 0 || spec->filter;

	ru->n_src = parse_dotted(&p, wants_colon, ru->src, &colon, why);
	if (ru->n_src < 0) {
		ru->n_src = 0;
		return -1;
	}
	if (check_part_count(spec, ru->n_src, spec->src_min, spec->src_max, wants_colon ? " before ':'" : "",
			     why) < 0)
		return -1;
	if (wants_colon && !colon) {
		snprintf(why, WHY_MAX, "missing ':' (expected %s)", spec->shape);
		return -1;
	}
	for (int i = 0; i < ru->n_src; i++) {
		if ((spec->literal_src & (1u << i)) && check_literal(&ru->src[i], part_names[i], why) < 0)
			return -1;
	}
	return wants_colon ? parse_rule_target(spec, p, ru, mysql, why) : 0;
}

static bool source_is_mysql(const rules *r)
{
	return r->engine_known && r->engine == ENGINE_MYSQL;
}

/* Parses one value into r's list for spec; reports and returns -1 when malformed. */
static int add_rule(rules *r, const key_spec *spec, const string_list *list, int index, config_diag *diag)
{
	char why[WHY_MAX] = "";
	const char *value = list->items[index] ? list->items[index] : "";
	rule ru = {.key = spec->key, .value = xstrdup(value), .include = spec == SPEC_INCLUDE};

	ru.line = list->lines ? list->lines[index] : 0;
	if (parse_rule(spec, value, &ru, source_is_mysql(r), why) < 0) {
		report(diag, true, r, &ru, "%s", why);
		rule_free(&ru);
		return -1;
	}
	rule_list *l = &r->list[spec->kind];
	l->v = xrealloc(l->v, sizeof(rule) * (size_t)(l->n + 1));
	ru.id = r->n_rules++;
	l->v[l->n++] = ru;
	if (ru.include)
		r->has_include = true;
	return 0;
}

/* include and exclude lines in evaluation order: by line when the loader recorded lines
 * for both, otherwise every exclude before every include. */
typedef struct sel_ref {
	const key_spec *spec;
	int index;
} sel_ref;

/* Excludes are tried before includes, so an exclude always wins (as in DMS, and as the
 * usual "include = public.*" then "exclude = public.audit_*" means); among each kind,
 * the order written. */
static sel_ref *selection_order(const task_config *task, int *n)
{
	const string_list *inc = &task->include, *exc = &task->exclude;
	sel_ref *order = xcalloc((size_t)(inc->count + exc->count), sizeof(*order));
	int k = 0;

	for (int e = 0; e < exc->count; e++)
		order[k++] = (sel_ref){SPEC_EXCLUDE, e};
	for (int i = 0; i < inc->count; i++)
		order[k++] = (sel_ref){SPEC_INCLUDE, i};
	*n = k;
	return order;
}

static int compile_lists(rules *r, const task_config *task, config_diag *diag)
{
	int errors = 0, n_sel;
	sel_ref *order = selection_order(task, &n_sel);

	for (int k = 0; k < n_sel; k++)
		errors += add_rule(r, order[k].spec, spec_list(order[k].spec, task), order[k].index, diag) < 0;
	free(order);
	for (size_t s = 0; s < N_SPECS; s++) {
		const key_spec *spec = &key_specs[s];
		const string_list *list = spec_list(spec, task);
		if (spec->kind == RK_SELECT)
			continue;
		for (int i = 0; i < list->count; i++)
			errors += add_rule(r, spec, list, i, diag) < 0;
	}
	return errors;
}

static bool same_sources(const rule *a, const rule *b)
{
	if (a->n_src != b->n_src)
		return false;
	for (int i = 0; i < a->n_src; i++) {
		if (strcmp(a->src[i].glob, b->src[i].glob) != 0)
			return false;
	}
	return true;
}

/* A second rename of the same object could never apply: an error, not a silent pick. */
static int check_duplicate_renames(const rules *r, config_diag *diag)
{
	static const enum rule_kind kinds[] = {RK_RENAME_SCHEMA, RK_RENAME_TABLE, RK_RENAME_COLUMN};
	int errors = 0;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const rule_list *l = &r->list[kinds[k]];
		for (int j = 1; j < l->n; j++) {
			for (int i = 0; i < j; i++) {
				if (!same_sources(&l->v[i], &l->v[j]))
					continue;
				if (l->v[i].line > 0)
					report(diag, true, r, &l->v[j], "renames what line %d already renames", l->v[i].line);
				else
					report(diag, true, r, &l->v[j], "renames what '%s' already renames", l->v[i].value);
				errors++;
				break;
			}
		}
	}
	return errors;
}

static bool is_system_schema(const rules *r, const char *schema)
{
	bool pg = !r->engine_known || r->engine == ENGINE_POSTGRESQL;
	bool my = !r->engine_known || r->engine == ENGINE_MYSQL;

	if (strcasecmp(schema, "information_schema") == 0)
		return true;
	if (pg && strncmp(schema, "pg_", 3) == 0)
		return true;
	return my && (strcasecmp(schema, "mysql") == 0 || strcasecmp(schema, "performance_schema") == 0 ||
		      strcasecmp(schema, "sys") == 0);
}

/* Whether selection rule a decides, before b, every table b matches. */
static bool selection_covers(const rules *r, const rule *a, const rule *b)
{
	/* A wildcard schema never reaches a system schema that b writes out. */
	if (!a->src[0].literal && b->src[0].literal && is_system_schema(r, b->src[0].literal))
		return false;
	return glob_covers(a->src[0].glob, b->src[0].glob) && glob_covers(a->src[1].glob, b->src[1].glob);
}

/* Flags selection rules that can never decide; warns when the one in the way does the
 * opposite (the exclude after a wider include: the likeliest ordering mistake). */
static void mark_shadowed(const rules *r, config_diag *diag)
{
	const rule_list *l = &r->list[RK_SELECT];

	for (int j = 1; j < l->n; j++) {
		rule *b = &l->v[j];
		for (int i = 0; i < j && !b->shadowed; i++) {
			const rule *a = &l->v[i];
			if (a->shadowed || !selection_covers(r, a, b))
				continue;
			b->shadowed = true;
			if (a->include == b->include)
				continue;
			if (a->line > 0)
				report(diag, false, r, b, "never applies: %s '%s' on line %d excludes every table it matches",
				       a->key, a->value, a->line);
			else
				report(diag, false, r, b, "never applies: %s '%s' excludes every table it matches",
				       a->key, a->value);
		}
	}
}

rules *rules_compile(const task_config *task, const char *file, config_diag *diag)
{
	rules *r = xcalloc(1, sizeof(*r));

	r->file = file ? xstrdup(file) : NULL;
	r->task = xstrdup(task->name ? task->name : "?");
	if (task->source_ep) {
		r->engine_known = true;
		r->engine = task->source_ep->engine;
	}
	int errors = compile_lists(r, task, diag);
	errors += check_duplicate_renames(r, diag);
	mark_shadowed(r, diag); /* among the well-formed ones, so `ferryd -t` shows it all at once */
	if (errors) {
		rules_free(r);
		return NULL;
	}
	return r;
}

/* ---- queries -------------------------------------------------------------------------------- */

static void mark_used(bool *used, const rule *ru)
{
	if (used && ru)
		used[ru->id] = true;
}

static bool table_matches(const rule *ru, const char *schema, const char *table)
{
	return name_match(&ru->src[0], schema) && name_match(&ru->src[1], table);
}

static bool select_decide(const rules *r, const char *schema, const char *table, bool *used)
{
	bool sys = is_system_schema(r, schema);
	const rule_list *l = &r->list[RK_SELECT];

	for (int i = 0; i < l->n; i++) {
		const rule *ru = &l->v[i];
		if (sys && !ru->src[0].literal)
			continue;
		if (table_matches(ru, schema, table)) {
			mark_used(used, ru);
			return ru->include;
		}
	}
	return !sys && !r->has_include;
}

bool rules_select(const rules *r, const char *schema, const char *table)
{
	return select_decide(r, schema, table, NULL);
}

static const rule *first_table_rule(const rules *r, enum rule_kind kind, const char *schema, const char *table)
{
	const rule_list *l = &r->list[kind];

	for (int i = 0; i < l->n; i++) {
		if (table_matches(&l->v[i], schema, table))
			return &l->v[i];
	}
	return NULL;
}

static const rule *schema_rename(const rules *r, const char *schema)
{
	const rule_list *l = &r->list[RK_RENAME_SCHEMA];

	for (int i = 0; i < l->n; i++) {
		if (name_match(&l->v[i].src[0], schema))
			return &l->v[i];
	}
	return NULL;
}

char *rules_target_schema(const rules *r, const char *schema)
{
	const rule *rs = schema_rename(r, schema);
	const rule_list *low = &r->list[RK_LOWERCASE];

	if (rs)
		return xstrdup(rs->dst[0].literal);
	for (int i = 0; i < low->n; i++) {
		if (name_match(&low->v[i].src[0], schema))
			return ascii_lower_dup(schema);
	}
	return xstrdup(schema);
}

/* Composes: rename_table's own schema, else rename_schema, else the source schema;
 * lowercasing only touches names no rename wrote. */
static void resolve_table_names(const rules *r, const rules_source_table *src, bool lower, rules_table *out,
				bool *used)
{
	const rule *rt = first_table_rule(r, RK_RENAME_TABLE, src->schema, src->name);
	const rule *rs = NULL;

	mark_used(used, rt);
	if (!rt || rt->n_dst < 2) {
		rs = schema_rename(r, src->schema);
		mark_used(used, rs);
	}
	if (rt && rt->n_dst == 2)
		out->target_schema = xstrdup(rt->dst[0].literal);
	else if (rs)
		out->target_schema = xstrdup(rs->dst[0].literal);
	else
		out->target_schema = lower ? ascii_lower_dup(src->schema) : xstrdup(src->schema);
	if (rt)
		out->target_name = xstrdup(rt->dst[rt->n_dst - 1].literal);
	else
		out->target_name = lower ? ascii_lower_dup(src->name) : xstrdup(src->name);
}

/* Every matching filter, each in parentheses, joined with AND; NULL when none. */
static char *resolve_filter(const rules *r, const rules_source_table *src, bool *used)
{
	const rule_list *l = &r->list[RK_FILTER];
	sbuf b = {0};

	for (int i = 0; i < l->n; i++) {
		if (!table_matches(&l->v[i], src->schema, src->name))
			continue;
		mark_used(used, &l->v[i]);
		if (b.len)
			sbuf_puts(&b, " AND ");
		sbuf_putc(&b, '(');
		sbuf_puts(&b, l->v[i].expr);
		sbuf_putc(&b, ')');
	}
	return b.len ? sbuf_take(&b) : NULL;
}

/* The column rules of one kind whose schema.table part matches this table. */
static const rule **column_rules_for(const rules *r, enum rule_kind kind, const rules_source_table *src, int *n)
{
	const rule_list *l = &r->list[kind];
	const rule **out = xcalloc((size_t)l->n, sizeof(*out));

	*n = 0;
	for (int i = 0; i < l->n; i++) {
		if (table_matches(&l->v[i], src->schema, src->name))
			out[(*n)++] = &l->v[i];
	}
	return out;
}

static const rule *first_column_rule(const rule **cands, int n, const char *column)
{
	for (int i = 0; i < n; i++) {
		if (name_match(&cands[i]->src[2], column))
			return cands[i];
	}
	return NULL;
}

typedef struct named_index {
	const char *name;
	int index;
} named_index;

static int named_index_cmp(const void *a, const void *b)
{
	const named_index *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Two source columns with one target name would make the target table impossible. */
static int check_column_collisions(const rules *r, const rules_source_table *src, const rules_table *t,
				   config_diag *diag)
{
	named_index *v = xcalloc((size_t)t->n_columns, sizeof(*v));
	int n = 0, errors = 0;

	for (int i = 0; i < t->n_columns; i++) {
		if (t->target_columns[i])
			v[n++] = (named_index){t->target_columns[i], i};
	}
	qsort(v, (size_t)n, sizeof(*v), named_index_cmp);
	for (int i = 1; i < n; i++) {
		if (strcmp(v[i - 1].name, v[i].name) != 0)
			continue;
		char *label = table_label(src->schema, src->name);
		sbuf a = {0}, b = {0}, c = {0};
		put_name(&a, src->columns[v[i - 1].index]);
		put_name(&b, src->columns[v[i].index]);
		put_name(&c, v[i].name);
		report(diag, true, r, NULL, "table %s: columns %s and %s would both be named %s on the target "
		       "(check rename_column and lowercase)", label, a.s, b.s, c.s);
		free(label), free(a.s), free(b.s), free(c.s);
		errors++;
	}
	free(v);
	return errors;
}

static int report_key_excluded(const rules *r, const rule *x, const rules_source_table *src, int col,
			       config_diag *diag)
{
	char *label = table_label(src->schema, src->name);
	sbuf c = {0};

	put_name(&c, src->columns[col]);
	report(diag, true, r, x, "would leave out %s, a primary-key column of %s; the key is needed to apply "
	       "updates and deletes (narrow the pattern)", c.s, label);
	free(c.s);
	free(label);
	return 1;
}

static int resolve_columns(const rules *r, const rules_source_table *src, bool lower, rules_table *out,
			   config_diag *diag, bool *used)
{
	int n_x, n_rn, errors = 0, kept = 0;
	const rule **xs = column_rules_for(r, RK_EXCLUDE_COLUMN, src, &n_x);
	const rule **rns = column_rules_for(r, RK_RENAME_COLUMN, src, &n_rn);

	out->n_columns = src->n_columns;
	out->target_columns = xcalloc((size_t)src->n_columns, sizeof(char *));
	for (int i = 0; i < src->n_columns; i++) {
		const char *c = src->columns[i];
		const rule *x = first_column_rule(xs, n_x, c), *rn;
		mark_used(used, x);
		if (x) {
			if (src->is_key && src->is_key[i])
				errors += report_key_excluded(r, x, src, i, diag);
			continue;
		}
		rn = first_column_rule(rns, n_rn, c);
		mark_used(used, rn);
		out->target_columns[i] = rn ? xstrdup(rn->dst[0].literal) : lower ? ascii_lower_dup(c) : xstrdup(c);
		kept++;
	}
	if (!errors && kept == 0 && src->n_columns > 0) {
		char *label = table_label(src->schema, src->name);
		report(diag, true, r, NULL, "table %s: exclude_column leaves out every column", label);
		free(label);
		errors++;
	}
	if (!errors)
		errors += check_column_collisions(r, src, out, diag);
	free(xs);
	free(rns);
	return errors ? -1 : 0;
}

static int resolve_table(const rules *r, const rules_source_table *src, rules_table *out, config_diag *diag,
			 bool *used)
{
	*out = (rules_table){0};
	if (!select_decide(r, src->schema, src->name, used))
		return 0;
	const rule *low = first_table_rule(r, RK_LOWERCASE, src->schema, src->name);
	mark_used(used, low);
	out->source_schema = xstrdup(src->schema);
	out->source_name = xstrdup(src->name);
	resolve_table_names(r, src, low != NULL, out, used);
	out->filter = resolve_filter(r, src, used);
	if (resolve_columns(r, src, low != NULL, out, diag, used) < 0) {
		rules_table_free(out);
		return -1;
	}
	return 1;
}

int rules_resolve_table(const rules *r, const rules_source_table *src, rules_table *out, config_diag *diag)
{
	return resolve_table(r, src, out, diag, NULL);
}

void rules_table_free(rules_table *t)
{
	if (!t)
		return;
	free(t->source_schema);
	free(t->source_name);
	free(t->target_schema);
	free(t->target_name);
	for (int i = 0; i < t->n_columns; i++)
		free(t->target_columns[i]);
	free(t->target_columns);
	free(t->filter);
	*t = (rules_table){0};
}

static int target_cmp(const rules_table *x, const rules_table *y)
{
	int c = strcmp(x->target_schema, y->target_schema);

	return c ? c : strcmp(x->target_name, y->target_name);
}

/* By target, then by position in the input, so messages come out in a stable order. */
static int target_sort_cmp(const void *a, const void *b)
{
	const rules_table *x = *(const rules_table *const *)a, *y = *(const rules_table *const *)b;
	int c = target_cmp(x, y);

	return c ? c : (x > y) - (x < y);
}

static int check_target_collisions(const rules *r, rules_table *t, int n, config_diag *diag)
{
	rules_table **v = xcalloc((size_t)n, sizeof(*v));
	int errors = 0;

	for (int i = 0; i < n; i++)
		v[i] = &t[i];
	qsort(v, (size_t)n, sizeof(*v), target_sort_cmp);
	for (int i = 1; i < n; i++) {
		if (target_cmp(v[i - 1], v[i]) != 0)
			continue;
		char *a = table_label(v[i - 1]->source_schema, v[i - 1]->source_name);
		char *b = table_label(v[i]->source_schema, v[i]->source_name);
		char *to = table_label(v[i]->target_schema, v[i]->target_name);
		report(diag, true, r, NULL, "source tables %s and %s would both be loaded into %s "
		       "(check rename_schema, rename_table and lowercase)", a, b, to);
		free(a), free(b), free(to);
		errors++;
	}
	free(v);
	return errors;
}

static void warn_unused(const rules *r, const bool *used, config_diag *diag)
{
	for (int k = 0; k < RK_COUNT; k++) {
		const rule_list *l = &r->list[k];
		for (int i = 0; i < l->n; i++) {
			const rule *ru = &l->v[i];
			if (used[ru->id] || ru->shadowed)
				continue;
			if (k == RK_SELECT)
				report(diag, false, r, ru, "decides no table of the source");
			else if (k == RK_RENAME_COLUMN || k == RK_EXCLUDE_COLUMN)
				report(diag, false, r, ru, "matches no column of a selected table");
			else
				report(diag, false, r, ru, "matches no selected table");
		}
	}
}

int rules_resolve(const rules *r, const rules_source_table *src, int n, rules_plan *plan, config_diag *diag)
{
	bool *used = xcalloc((size_t)r->n_rules, sizeof(bool));
	rules_table *t = xcalloc((size_t)n, sizeof(*t));
	int k = 0, errors = 0;

	*plan = (rules_plan){0};
	for (int i = 0; i < n; i++) {
		int rc = resolve_table(r, &src[i], &t[k], diag, used);
		if (rc < 0)
			errors++;
		else if (rc > 0)
			k++;
	}
	if (!errors)
		errors += check_target_collisions(r, t, k, diag);
	warn_unused(r, used, diag);
	free(used);
	if (errors) {
		for (int i = 0; i < k; i++)
			rules_table_free(&t[i]);
		free(t);
		return -1;
	}
	plan->tables = t;
	plan->n_tables = k;
	return 0;
}

void rules_plan_free(rules_plan *plan)
{
	if (!plan)
		return;
	for (int i = 0; i < plan->n_tables; i++)
		rules_table_free(&plan->tables[i]);
	free(plan->tables);
	*plan = (rules_plan){0};
}

/* ---- reload comparison ----------------------------------------------------------------------- */

static bool list_item_equal(const string_list *a, int i, const string_list *b, int j)
{
	const char *x = a->items[i] ? a->items[i] : "", *y = b->items[j] ? b->items[j] : "";

	return strcmp(x, y) == 0;
}

static bool lists_equal(const string_list *a, const string_list *b)
{
	if (a->count != b->count)
		return false;
	for (int i = 0; i < a->count; i++) {
		if (!list_item_equal(a, i, b, i))
			return false;
	}
	return true;
}

bool rules_config_equal(const task_config *a, const task_config *b)
{
	int na, nb;
	sel_ref *oa = selection_order(a, &na), *ob = selection_order(b, &nb);
	bool equal = na == nb;

	for (int i = 0; equal && i < na; i++) {
		equal = oa[i].spec == ob[i].spec &&
			list_item_equal(spec_list(oa[i].spec, a), oa[i].index, spec_list(ob[i].spec, b), ob[i].index);
	}
	free(oa);
	free(ob);
	for (size_t s = 0; equal && s < N_SPECS; s++) {
		if (key_specs[s].kind != RK_SELECT)
			equal = lists_equal(spec_list(&key_specs[s], a), spec_list(&key_specs[s], b));
	}
	return equal;
}
