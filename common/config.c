/* Reads one INI file into a ferry_config. A line-counting reader feeds libinih (which
 * gives its handler no line numbers and limits lines to the reader's buffer), the key
 * table (config_keys.c) parses each value, then checks that span keys and sections run.
 * Every problem is collected with file:line; loading never stops at the first one. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/config_keys.h"
#include "common/rules.h"

#define SECTION_NAME_MAX 48 /* keeps "ferry_<task>" a valid 63-byte slot name */
#define WHY_MAX 512

enum { CUR_NONE = -1, CUR_IGNORE = -2 }; /* before any section; inside a rejected one */

typedef struct section_state {
	config_section_kind kind;
	int index;	/* into cfg->endpoints / cfg->tasks */
	int line;	/* of the header; 0 while [ferryd] is not written */
	char *label;	/* "task orders", for messages */
	int *key_lines; /* per key table index: line the key was set on, 0 = default */
} section_state;

typedef struct parser {
	const char *file; /* as the caller named it, for messages */
	char *base_dir;	  /* resolves relative path values */
	FILE *fp;
	char *line;
	size_t line_cap;
	int lineno;
	int read_errno;
	ferry_config *cfg;
	config_diag *diag;
	section_state *sections; /* [0] is [ferryd], written or not */
	int n_sections;
	int cur; /* index into sections, or CUR_* */
} parser;

static void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size);

	if (!p) {
		fprintf(stderr, "ferry: out of memory\n");
		abort();
	}
	return p;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	if (vasprintf(&out, fmt, ap) < 0) {
		fprintf(stderr, "ferry: out of memory\n");
		abort();
	}
	va_end(ap);
	return out;
}

/* ---- diagnostics ------------------------------------------------------------- */

/* "FILE:LINE: [section] key: message"; the parts that do not apply are left out. */
static void diag_at(parser *p, bool error, int line, const char *section, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void diag_at(parser *p, bool error, int line, const char *section, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *msg, *where, *full;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0) {
		fprintf(stderr, "ferry: out of memory\n");
		abort();
	}
	va_end(ap);
	where = line > 0 ? xasprintf("%s:%d:", p->file, line) : xasprintf("%s:", p->file);
	if (section && key)
		full = xasprintf("%s [%s] %s: %s", where, section, key, msg);
	else if (section)
		full = xasprintf("%s [%s]: %s", where, section, msg);
	else if (key)
		full = xasprintf("%s %s: %s", where, key, msg);
	else
		full = xasprintf("%s %s", where, msg);
	string_list_add_line(error ? &p->diag->errors : &p->diag->warnings, full, line);
	free(full);
	free(where);
	free(msg);
}

static const char *current_label(const parser *p)
{
	return p->cur >= 0 ? p->sections[p->cur].label : NULL;
}

/* ---- sections ---------------------------------------------------------------- */

static void *section_obj(parser *p, const section_state *s)
{
	switch (s->kind) {
	case CONFIG_SECTION_ENDPOINT: return &p->cfg->endpoints[s->index];
	case CONFIG_SECTION_TASK: return &p->cfg->tasks[s->index];
	default: return &p->cfg->ferryd;
	}
}

/* "ferry_<task>" -> "ferry_orders_eu" for task "Orders-EU": a valid slot name. */
static char *expand_default(const char *text, const char *section_name)
{
	const char *at = strstr(text, "<task>");
	char *out, *c;

	if (!at || !section_name)
		return xasprintf("%s", text);
	out = xasprintf("%.*s%s%s", (int)(at - text), text, section_name, at + strlen("<task>"));
	for (c = out + (at - text); c < out + (at - text) + strlen(section_name); c++)
		*c = *c == '-' ? '_' : (char)tolower((unsigned char)*c);
	return out;
}

static void apply_defaults(parser *p, const section_state *s, const char *section_name)
{
	char why[WHY_MAX];

	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		if (key->section != s->kind || !key->default_value)
			continue;
		char *text = expand_default(key->default_value, section_name);
		if (config_key_set(key, section_obj(p, s), text, p->base_dir, 0, why, sizeof(why)) < 0)
			diag_at(p, true, s->line, s->label, key->name, "default '%s' rejected: %s", text, why);
		free(text);
	}
}

static int add_section(parser *p, config_section_kind kind, const char *name, int line)
{
	section_state *s;

	p->sections = xrealloc(p->sections, sizeof(*s) * (size_t)(p->n_sections + 1));
	s = &p->sections[p->n_sections];
	*s = (section_state){.kind = kind, .line = line};
	s->key_lines = calloc(config_key_count(), sizeof(int));
	if (!s->key_lines)
		abort();
	if (kind == CONFIG_SECTION_ENDPOINT) {
		s->index = p->cfg->n_endpoints++;
		p->cfg->endpoints = xrealloc(p->cfg->endpoints, sizeof(endpoint_config) * (size_t)p->cfg->n_endpoints);
		p->cfg->endpoints[s->index] = (endpoint_config){.name = xasprintf("%s", name), .line = line};
	} else if (kind == CONFIG_SECTION_TASK) {
		s->index = p->cfg->n_tasks++;
		p->cfg->tasks = xrealloc(p->cfg->tasks, sizeof(task_config) * (size_t)p->cfg->n_tasks);
		p->cfg->tasks[s->index] = (task_config){.name = xasprintf("%s", name), .line = line};
	}
	s->label = name ? xasprintf("%s %s", config_section_kind_name(kind), name)
			: xasprintf("%s", config_section_kind_name(kind));
	apply_defaults(p, s, name);
	return p->n_sections++;
}

static int find_section(const parser *p, config_section_kind kind, const char *name)
{
	for (int i = 0; i < p->n_sections; i++) {
		const section_state *s = &p->sections[i];
		if (s->kind != kind)
			continue;
		if (kind == CONFIG_SECTION_FERRYD)
			return s->line ? i : -1;
		const char *sname = kind == CONFIG_SECTION_TASK ? p->cfg->tasks[s->index].name
								: p->cfg->endpoints[s->index].name;
		if (strcmp(sname, name) == 0)
			return i;
	}
	return -1;
}

static bool valid_section_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SECTION_NAME_MAX)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

static bool section_kind_parse(const char *word, config_section_kind *kind)
{
	for (int k = CONFIG_SECTION_FERRYD; k <= CONFIG_SECTION_TASK; k++) {
		if (strcmp(word, config_section_kind_name((config_section_kind)k)) == 0) {
			*kind = (config_section_kind)k;
			return true;
		}
	}
	return false;
}

static void unknown_section(parser *p, const char *shown, const char *word, const char *name)
{
	static const char *const kinds[] = {"ferryd", "endpoint", "task", NULL};
	const char *near = config_suggest(word, kinds);

	if (near)
		diag_at(p, true, p->lineno, shown, NULL, "unknown section; did you mean [%s%s%s]?", near,
			*name ? " " : "", name);
	else
		diag_at(p, true, p->lineno, shown, NULL,
			"unknown section (allowed: [ferryd], [endpoint NAME], [task NAME])");
}

/* Validates "[kind name]" (already stripped of brackets and trimmed) and opens it. */
static void open_section(parser *p, char *inside)
{
	char *name = inside + strcspn(inside, " \t");
	config_section_kind kind;
	int prev;

	if (*name)
		*name++ = '\0';
	name += strspn(name, " \t");
	if (!section_kind_parse(inside, &kind)) {
		char *shown = xasprintf("%s%s%s", inside, *name ? " " : "", name);
		unknown_section(p, shown, inside, name);
		free(shown);
		return;
	}
	if (kind == CONFIG_SECTION_FERRYD && *name) {
		diag_at(p, true, p->lineno, "ferryd", NULL, "takes no name (found '%s')", name);
		return;
	}
	if (kind != CONFIG_SECTION_FERRYD && !*name) {
		diag_at(p, true, p->lineno, inside, NULL, "needs a name: [%s NAME]", inside);
		return;
	}
	if (kind != CONFIG_SECTION_FERRYD && !valid_section_name(name)) {
		char *shown = xasprintf("%s %s", inside, name);
		diag_at(p, true, p->lineno, shown, NULL,
			"not a valid name (letters, digits, '_' and '-', at most %d)", SECTION_NAME_MAX);
		free(shown);
		return;
	}
	prev = find_section(p, kind, name);
	if (prev >= 0) {
		diag_at(p, true, p->lineno, p->sections[prev].label, NULL, "duplicate section (first at line %d)",
			p->sections[prev].line);
		return;
	}
	if (kind == CONFIG_SECTION_FERRYD) {
		p->sections[0].line = p->lineno;
		p->cur = 0;
	} else {
		p->cur = add_section(p, kind, name, p->lineno);
	}
}

/* ---- the line reader ------------------------------------------------------------ */

/* Like libinih: the first of chars, or an inline ';' comment (';' after whitespace). */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = *s == ' ' || *s == '\t';
		s++;
	}
	return s;
}

static void header_line(parser *p, const char *text)
{
	const char *close = find_chars_or_comment(text + 1, "]");
	const char *after = close + 1;
	char *inside;

	p->cur = CUR_IGNORE; /* until the header proves valid */
	if (*close != ']') {
		diag_at(p, true, p->lineno, NULL, NULL, "section header without closing ']'");
		return;
	}
	after += strspn(after, " \t");
	if (*after && *after != ';') {
		diag_at(p, true, p->lineno, NULL, NULL, "unexpected text after ']': '%s'", after);
		return;
	}
	inside = xasprintf("%.*s", (int)(close - text - 1), text + 1);
	char *start = inside + strspn(inside, " \t");
	size_t len = strlen(start);
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		start[--len] = '\0';
	open_section(p, start);
	free(inside);
}

/* Returns what libinih should see for the line: the line itself, or "" when we have
 * dealt with it (section headers) or rejected it. */
static const char *classify_line(parser *p, const char *text)
{
	const char *sep;

	if (*text == '\0' || *text == ';' || *text == '#')
		return text;
	if (*text == '[') {
		header_line(p, text);
		return "";
	}
	sep = find_chars_or_comment(text, "=:");
	if (*sep != '=' && *sep != ':') {
		/* the text is not echoed: a stray line may be a pasted password */
		diag_at(p, true, p->lineno, current_label(p), NULL, "expected 'key = value'");
		return "";
	}
	if (sep == text) {
		diag_at(p, true, p->lineno, current_label(p), NULL, "missing key name before '%c'", *sep);
		return "";
	}
	return text;
}

static void mark_key_seen(parser *p, const char *name)
{
	const config_key *key;

	if (p->cur >= 0 && (key = config_key_find(p->sections[p->cur].kind, name)))
		p->sections[p->cur].key_lines[config_key_index(key)] = p->lineno;
}

/* The line is dropped; name its key when one can be seen, so the message points at it. */
static void line_too_long(parser *p, const char *text, int max)
{
	const char *sep = strpbrk(text, "=:");
	char *key = NULL;

	if (*text == '[') {
		p->cur = CUR_IGNORE;
	} else if (sep && sep > text) {
		size_t n = (size_t)(sep - text);
		while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
			n--;
		key = xasprintf("%.*s", (int)n, text);
		mark_key_seen(p, key);
	}
	diag_at(p, true, p->lineno, current_label(p), key, "line too long (at most %d bytes)", max);
	free(key);
}

/* libinih's ini_reader: hands over one whole line per call, counting lines, with leading
 * whitespace removed so an indented "key = value" is never taken for a continuation
 * of the previous value. */
static char *read_line(char *str, int num, void *stream)
{
	parser *p = stream;
	ssize_t n = getline(&p->line, &p->line_cap, p->fp);
	const char *text, *pass;
	size_t len;

	if (n < 0) {
		if (ferror(p->fp))
			p->read_errno = errno;
		return NULL;
	}
	p->lineno++;
	len = (size_t)n;
	if (len > 0 && p->line[len - 1] == '\n')
		len--;
	if (len > 0 && p->line[len - 1] == '\r')
		len--;
	p->line[len] = '\0';
	text = p->line;
	if (p->lineno == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (strlen(text) != len) {
		diag_at(p, true, p->lineno, current_label(p), NULL, "line contains a NUL byte");
		pass = "";
	} else if (len > (size_t)num - 2) { /* room for "\n\0" */
		line_too_long(p, text + strspn(text, " \t"), num - 2);
		pass = "";
	} else {
		pass = classify_line(p, text + strspn(text, " \t"));
	}
	snprintf(str, (size_t)num, "%s\n", pass);
	return str;
}

/* ---- key = value --------------------------------------------------------------- */

static void unknown_key(parser *p, const section_state *s, const char *name)
{
	const char *near = config_key_suggest(s->kind, name);

	if (near) {
		diag_at(p, true, p->lineno, s->label, name, "unknown key; did you mean %s?", near);
		return;
	}
	for (int k = CONFIG_SECTION_FERRYD; k <= CONFIG_SECTION_TASK; k++) {
		if (config_key_find((config_section_kind)k, name)) {
			diag_at(p, true, p->lineno, s->label, name, "unknown key here; it belongs in [%s%s]",
				config_section_kind_name((config_section_kind)k), k == CONFIG_SECTION_FERRYD ? "" : " NAME");
			return;
		}
	}
	diag_at(p, true, p->lineno, s->label, name, "unknown key");
}

/* libinih's handler. Its section argument is ignored: the reader tracks sections, with
 * their line numbers and without libinih's 50-byte limit. Always returns 1 (our own
 * diagnostics are richer than libinih's "first error line"). */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	parser *p = user;
	const config_key *key;
	section_state *s;
	char why[WHY_MAX];
	int *seen;

	if (p->cur == CUR_IGNORE)
		return 1;
	if (p->cur == CUR_NONE) {
		diag_at(p, true, p->lineno, NULL, name,
			"key outside any section (put it under [ferryd], [endpoint NAME] or [task NAME])");
		return 1;
	}
	s = &p->sections[p->cur];
	key = config_key_find(s->kind, name);
	if (!key) {
		unknown_key(p, s, name);
		return 1;
	}
	seen = &s->key_lines[config_key_index(key)];
	if (*seen && key->type != KEY_LIST) {
		diag_at(p, true, p->lineno, s->label, name, "duplicate key (first set at line %d)", *seen);
		return 1;
	}
	*seen = p->lineno;
	if (config_key_set(key, section_obj(p, s), value, p->base_dir, p->lineno, why, sizeof(why)) < 0)
		diag_at(p, true, p->lineno, s->label, name, "%s", why);
	return 1;
}

/* ---- checks across keys and sections ------------------------------------------ */

/* Where to point a message about key: where it was set, else the section header. */
static int key_line(const section_state *s, const char *name)
{
	const config_key *key = config_key_find(s->kind, name);
	int line = key ? s->key_lines[config_key_index(key)] : 0;

	return line ? line : s->line;
}

static bool key_set(const section_state *s, const char *name)
{
	const config_key *key = config_key_find(s->kind, name);

	return key && s->key_lines[config_key_index(key)] != 0;
}

static void check_required(parser *p, const section_state *s)
{
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		if (key->section == s->kind && key->required && !s->key_lines[i])
			diag_at(p, true, s->line, s->label, key->name, "required key is missing");
	}
}

static void check_ferryd(parser *p, const section_state *s)
{
	const ferryd_config *f = &p->cfg->ferryd;

	if (f->restart_delay_max_ms < f->restart_delay_ms)
		diag_at(p, true, key_line(s, "restart_delay_max"), s->label, "restart_delay_max",
			"is below restart_delay");
}

/* The password itself is read at connect time; here we only catch what will fail. */
static void check_password_file(parser *p, const section_state *s, const endpoint_config *ep)
{
	int line = key_line(s, "password_file");
	struct stat st;
	int fd = open(ep->password_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not hang us */

	if (fd < 0 || fstat(fd, &st) < 0) {
		diag_at(p, true, line, s->label, "password_file", "cannot read '%s': %s", ep->password_file,
			strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		diag_at(p, true, line, s->label, "password_file", "'%s' is not a regular file", ep->password_file);
	} else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		diag_at(p, false, line, s->label, "password_file",
			"'%s' is accessible by group or others (mode %04o); chmod 600 it", ep->password_file,
			(unsigned)(st.st_mode & 07777));
	}
	if (fd >= 0)
		close(fd);
}

static void check_endpoint(parser *p, const section_state *s)
{
	endpoint_config *ep = &p->cfg->endpoints[s->index];

	check_required(p, s);
	if (ep->port == 0)
		ep->port = ep->engine == ENGINE_MYSQL ? 3306 : 5432;
	if (ep->password_file && ep->password_env)
		diag_at(p, true, key_line(s, "password_env"), s->label, "password_env",
			"set together with password_file (line %d); keep one", key_line(s, "password_file"));
	else if (ep->password_file)
		check_password_file(p, s, ep);
}

static const endpoint_config *resolve_endpoint(parser *p, const section_state *s, const char *key,
					       const char *name)
{
	const endpoint_config *ep = name ? config_find_endpoint(p->cfg, name) : NULL;
	char *defined = xasprintf("%s", "");

	if (ep || !name) {
		free(defined);
		return ep;
	}
	for (int i = 0; i < p->cfg->n_endpoints; i++) {
		char *more = xasprintf("%s%s%s", defined, i ? ", " : "", p->cfg->endpoints[i].name);
		free(defined);
		defined = more;
	}
	diag_at(p, true, key_line(s, key), s->label, key, "no [endpoint %s] is defined (defined: %s)", name,
		*defined ? defined : "none");
	free(defined);
	return NULL;
}

/* Keys meaningful for one source engine only: say so rather than ignore them quietly. */
static void warn_engine_keys(parser *p, const section_state *s, const task_config *t)
{
	static const struct { const char *key; engine_kind engine; } only[] = {
		{"slot_name", ENGINE_POSTGRESQL}, {"publication", ENGINE_POSTGRESQL}, {"server_id", ENGINE_MYSQL},
	};

	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		if (key_set(s, only[i].key) && t->source_ep->engine != only[i].engine)
			diag_at(p, false, key_line(s, only[i].key), s->label, only[i].key,
				"ignored: source endpoint '%s' is not %s", t->source_ep->name,
				only[i].engine == ENGINE_MYSQL ? "mysql" : "postgresql");
	}
}

static void check_task(parser *p, const section_state *s)
{
	task_config *t = &p->cfg->tasks[s->index];

	check_required(p, s);
	t->source_ep = resolve_endpoint(p, s, "source", t->source);
	t->target_ep = resolve_endpoint(p, s, "target", t->target);
	if (t->source_ep && t->source_ep == t->target_ep)
		diag_at(p, true, key_line(s, "target"), s->label, "target",
			"is the source endpoint '%s' too; a task copies between two endpoints", t->source);
	if (t->source_ep)
		warn_engine_keys(p, s, t);
}

static bool same_server(const endpoint_config *a, const endpoint_config *b)
{
	return a->engine == b->engine && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* Two tasks reading one server must not share a replication slot (postgresql) or a
 * replica server_id (mysql: the server drops the older connection). */
static void check_shared_source(parser *p, const section_state *s, const section_state *prev)
{
	const task_config *t = &p->cfg->tasks[s->index], *u = &p->cfg->tasks[prev->index];

	if (!t->source_ep || !u->source_ep || !t->source_ep->host || !u->source_ep->host ||
	    !same_server(t->source_ep, u->source_ep))
		return;
	if (t->source_ep->engine == ENGINE_POSTGRESQL && strcmp(t->slot_name, u->slot_name) == 0)
		diag_at(p, true, key_line(s, "slot_name"), s->label, "slot_name",
			"'%s' is also the slot of [%s] on the same source server; each task needs its own",
			t->slot_name, prev->label);
	if (t->source_ep->engine == ENGINE_MYSQL && t->server_id == u->server_id)
		diag_at(p, true, key_line(s, "server_id"), s->label, "server_id",
			"%lld is also the server_id of [%s] on the same source server; each task needs its own",
			(long long)t->server_id, prev->label);
}

static void check_all(parser *p)
{
	check_ferryd(p, &p->sections[0]);
	for (int i = 1; i < p->n_sections; i++) {
		if (p->sections[i].kind == CONFIG_SECTION_ENDPOINT)
			check_endpoint(p, &p->sections[i]);
	}
	for (int i = 1; i < p->n_sections; i++) {
		if (p->sections[i].kind != CONFIG_SECTION_TASK)
			continue;
		check_task(p, &p->sections[i]);
		for (int j = 1; j < i; j++) {
			if (p->sections[j].kind == CONFIG_SECTION_TASK)
				check_shared_source(p, &p->sections[i], &p->sections[j]);
		}
	}
}

/* ---- load and free --------------------------------------------------------------- */

static void read_file(parser *p)
{
	int rc;

	p->fp = fopen(p->file, "re");
	if (!p->fp) {
		diag_at(p, true, 0, NULL, NULL, "cannot open: %s", strerror(errno));
		return;
	}
	rc = ini_parse_stream(read_line, p, on_key, p);
	if (p->read_errno)
		diag_at(p, true, p->lineno + 1, NULL, NULL, "cannot read: %s", strerror(p->read_errno));
	else if (rc > 0) /* lines it rejects are blanked by read_line: this is a safety net */
		diag_at(p, true, rc, NULL, NULL, "syntax error");
	else if (rc < 0)
		diag_at(p, true, 0, NULL, NULL, "cannot parse (libinih error %d)", rc);
	fclose(p->fp);
	if (!p->read_errno)
		check_all(p);
}

/* Checks that span sections run after the file is read; present their messages in line
 * order with the rest, like a compiler (insertion sort: stable, and lists are short). */
static void sort_by_line(string_list *list, int from)
{
	for (int i = from + 1; list->lines && i < list->count; i++) {
		char *item = list->items[i];
		int line = list->lines[i], j = i;
		for (; j > from && list->lines[j - 1] > line; j--) {
			list->items[j] = list->items[j - 1];
			list->lines[j] = list->lines[j - 1];
		}
		list->items[j] = item;
		list->lines[j] = line;
	}
}

static void parser_free(parser *p)
{
	for (int i = 0; i < p->n_sections; i++) {
		free(p->sections[i].label);
		free(p->sections[i].key_lines);
	}
	free(p->sections);
	free(p->line);
	free(p->base_dir);
}

ferry_config *config_load(const char *path, config_diag *diag)
{
	int errors_before = diag->errors.count, warnings_before = diag->warnings.count;
	ferry_config *cfg = calloc(1, sizeof(*cfg));
	parser p = {.file = path, .diag = diag, .cfg = cfg, .cur = CUR_NONE};

	if (!cfg)
		abort();
	cfg->path = config_path_absolute(path, NULL);
	if (!cfg->path) {
		diag_at(&p, true, 0, NULL, NULL, "cannot find the working directory: %s", strerror(errno));
		free(cfg);
		return NULL;
	}
	p.base_dir = xasprintf("%.*s", (int)(strrchr(cfg->path, '/') - cfg->path), cfg->path);
	if (!*p.base_dir) { /* a file in / */
		free(p.base_dir);
		p.base_dir = xasprintf("/");
	}
	add_section(&p, CONFIG_SECTION_FERRYD, NULL, 0);
	read_file(&p);
	parser_free(&p);
	/* Rule syntax is part of the config: ferryd -t and reload report it with file:line. */
	for (int i = 0; i < cfg->n_tasks; i++)
		rules_free(rules_compile(&cfg->tasks[i], path, diag));
	sort_by_line(&diag->errors, errors_before);
	sort_by_line(&diag->warnings, warnings_before);
	if (diag->errors.count > errors_before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void free_section_keys(config_section_kind kind, void *obj)
{
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		if (key->section == kind)
			config_key_free(key, obj);
	}
}

void config_free(ferry_config *cfg)
{
	if (!cfg)
		return;
	free_section_keys(CONFIG_SECTION_FERRYD, &cfg->ferryd);
	for (int i = 0; i < cfg->n_endpoints; i++) {
		free_section_keys(CONFIG_SECTION_ENDPOINT, &cfg->endpoints[i]);
		free(cfg->endpoints[i].name);
	}
	for (int i = 0; i < cfg->n_tasks; i++) {
		free_section_keys(CONFIG_SECTION_TASK, &cfg->tasks[i]);
		free(cfg->tasks[i].name);
	}
	free(cfg->endpoints);
	free(cfg->tasks);
	free(cfg->path);
	free(cfg);
}

void config_diag_free(config_diag *diag)
{
	string_list_free(&diag->errors);
	string_list_free(&diag->warnings);
}

const endpoint_config *config_find_endpoint(const ferry_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_endpoints; i++) {
		if (strcmp(cfg->endpoints[i].name, name) == 0)
			return &cfg->endpoints[i];
	}
	return NULL;
}

const task_config *config_find_task(const ferry_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_tasks; i++) {
		if (strcmp(cfg->tasks[i].name, name) == 0)
			return &cfg->tasks[i];
	}
	return NULL;
}

/* ---- reload ------------------------------------------------------------------- */

static int diff_section(config_section_kind kind, const char *label, const void *old_obj, const void *new_obj,
			config_restart_key_fn report, void *arg)
{
	int n = 0;

	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		if (key->section != kind || key->reloadable || config_key_equal(key, old_obj, new_obj))
			continue;
		if (report)
			report(label, key->name, arg);
		n++;
	}
	return n;
}

/* "IEI": the order of include (I) and exclude (E) lines among each other, which decides
 * which pattern wins; without line numbers excludes come first, as in rules.c. */
static char *selection_order(const task_config *t)
{
	const string_list *inc = &t->include, *exc = &t->exclude;
	char *out = xasprintf("%*s", inc->count + exc->count, "");
	int i = 0, e = 0;

	while (i < inc->count || e < exc->count) {
		int li = inc->lines && i < inc->count ? inc->lines[i] : 0;
		int le = exc->lines && e < exc->count ? exc->lines[e] : 0;
		bool take_include = e == exc->count || (i < inc->count && li < le);
		out[i + e] = take_include ? 'I' : 'E';
		take_include ? i++ : e++;
	}
	return out;
}

static int diff_task(const char *label, const task_config *before, const task_config *now,
		     config_restart_key_fn report, void *arg)
{
	int n = diff_section(CONFIG_SECTION_TASK, label, before, now, report, arg);
	char *order_before, *order_now;

	if (!config_key_equal(config_key_find(CONFIG_SECTION_TASK, "include"), before, now) ||
	    !config_key_equal(config_key_find(CONFIG_SECTION_TASK, "exclude"), before, now))
		return n; /* already named */
	order_before = selection_order(before);
	order_now = selection_order(now);
	if (strcmp(order_before, order_now) != 0) {
		if (report)
			report(label, "include", arg);
		n++;
	}
	free(order_before);
	free(order_now);
	return n;
}

static int report_task_change(const char *name, const char *what, config_restart_key_fn report, void *arg)
{
	char *label = xasprintf("task %s", name);

	if (report)
		report(label, what, arg);
	free(label);
	return 1;
}

int config_restart_keys_changed(const ferry_config *old_cfg, const ferry_config *new_cfg,
				config_restart_key_fn report, void *arg)
{
	int n = diff_section(CONFIG_SECTION_FERRYD, "ferryd", &old_cfg->ferryd, &new_cfg->ferryd, report, arg);

	for (int i = 0; i < new_cfg->n_endpoints; i++) {
		const endpoint_config *now = &new_cfg->endpoints[i];
		const endpoint_config *before = config_find_endpoint(old_cfg, now->name);
		if (!before)
			continue; /* unused until a task names it, and that task is reported */
		char *label = xasprintf("endpoint %s", now->name);
		n += diff_section(CONFIG_SECTION_ENDPOINT, label, before, now, report, arg);
		free(label);
	}
	for (int i = 0; i < new_cfg->n_tasks; i++) {
		const task_config *now = &new_cfg->tasks[i];
		const task_config *before = config_find_task(old_cfg, now->name);
		if (!before) {
			n += report_task_change(now->name, "(added)", report, arg);
			continue;
		}
		char *label = xasprintf("task %s", now->name);
		n += diff_task(label, before, now, report, arg);
		free(label);
	}
	for (int i = 0; i < old_cfg->n_tasks; i++) {
		if (!config_find_task(new_cfg, old_cfg->tasks[i].name))
			n += report_task_change(old_cfg->tasks[i].name, "(removed)", report, arg);
	}
	return n;
}

static int copy_reloadable(config_section_kind kind, void *running, const void *new_obj)
{
	int n = 0;

	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		if (key->section != kind || !key->reloadable || config_key_equal(key, running, new_obj))
			continue;
		config_key_copy(key, running, new_obj);
		n++;
	}
	return n;
}

int config_apply_reloadable(ferry_config *running, const ferry_config *new_cfg)
{
	int n = copy_reloadable(CONFIG_SECTION_FERRYD, &running->ferryd, &new_cfg->ferryd);

	for (int i = 0; i < running->n_endpoints; i++) {
		const endpoint_config *now = config_find_endpoint(new_cfg, running->endpoints[i].name);
		if (now)
			n += copy_reloadable(CONFIG_SECTION_ENDPOINT, &running->endpoints[i], now);
	}
	for (int i = 0; i < running->n_tasks; i++) {
		const task_config *now = config_find_task(new_cfg, running->tasks[i].name);
		if (now)
			n += copy_reloadable(CONFIG_SECTION_TASK, &running->tasks[i], now);
	}
	return n;
}

/* ---- passwords ------------------------------------------------------------------ */

static char *read_password_file(const endpoint_config *ep, char **err)
{
	FILE *fp = fopen(ep->password_file, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!fp) {
		*err = xasprintf("endpoint %s: cannot read password_file '%s': %s", ep->name, ep->password_file,
				 strerror(errno));
		return NULL;
	}
	n = getline(&line, &cap, fp);
	fclose(fp);
	if (n <= 0) {
		free(line);
		*err = xasprintf("endpoint %s: password_file '%s' is empty", ep->name, ep->password_file);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

char *endpoint_read_password(const endpoint_config *ep, char **err)
{
	const char *value;

	*err = NULL;
	if (ep->password_file)
		return read_password_file(ep, err);
	if (!ep->password_env)
		return NULL;
	value = getenv(ep->password_env);
	if (!value) {
		*err = xasprintf("endpoint %s: environment variable %s (password_env) is not set", ep->name,
				 ep->password_env);
		return NULL;
	}
	return xasprintf("%s", value);
}
