/* MySQL tables shaped for a PostgreSQL target (see the header). */
#include "workers/my_pgmap.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names --------------------------------------------------------------------------------- */

static uint32_t fnv32(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void my_pg_derived_name(char out[MY_PG_NAME_MAX + 1], const char *a, const char *b)
{
	char whole[1024];
	snprintf(whole, sizeof whole, "%s_%s", a, b);
	size_t n = strlen(whole);
	if (n <= MY_PG_NAME_MAX) {
		memcpy(out, whole, n + 1);
		return;
	}
	size_t keep = MY_PG_NAME_MAX - 9;
	while (keep > 0 && ((unsigned char)whole[keep] & 0xC0) == 0x80)
		keep--; /* not inside a UTF-8 character */
	snprintf(out, MY_PG_NAME_MAX + 1, "%.*s_%08" PRIx32, (int)keep, whole, fnv32(whole));
}

my_charset my_pg_charset(const char *collation)
{
	if (collation == NULL)
		return MY_CHARSET_NONE;
	static const struct {
		const char *prefix;
		my_charset cs;
	} sets[] = {{"utf8mb4_", MY_CHARSET_UTF8}, {"utf8mb3_", MY_CHARSET_UTF8}, {"utf8_", MY_CHARSET_UTF8},
		    {"ascii_", MY_CHARSET_UTF8}, {"latin1_", MY_CHARSET_LATIN1}, {"binary", MY_CHARSET_BINARY}};
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
		if (strncmp(collation, sets[i].prefix, strlen(sets[i].prefix)) == 0)
			return sets[i].cs;
	return MY_CHARSET_OTHER;
}

/* ---- defaults ------------------------------------------------------------------------------- */

/* MariaDB's quoted default ('it''s', 'a\\b') into out; false when expr is not one literal. */
static bool unquote(const char *expr, strbuf *out)
{
	size_t n = strlen(expr);
	if (n < 2 || expr[0] != '\'' || expr[n - 1] != '\'')
		return false;
	strbuf_append(out, "");
	for (size_t i = 1; i < n - 1; i++) {
		char ch = expr[i];
		if (ch == '\'' && expr[i + 1] == '\'' && i + 1 < n - 1) {
			i++;
		} else if (ch == '\'') {
			return false; /* two literals, or an expression */
		} else if (ch == '\\' && i + 1 < n - 1) {
			char e = expr[++i];
			ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'Z' ? 26 : e;
			if (e == '0')
				return false; /* a NUL: PostgreSQL text cannot hold it */
		}
		strbuf_append_char(out, ch);
	}
	return true;
}

static bool is_number(const char *s)
{
	char *end;
	if (*s == '\0' || isspace((unsigned char)*s))
		return false;
	strtod(s, &end);
	return *end == '\0';
}

static bool is_now(const char *expr)
{
	static const char *const names[] = {"current_timestamp", "now", "localtimestamp", "localtime"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (strncasecmp(expr, names[i], n) == 0 &&
		    (expr[n] == '\0' || (expr[n] == '(' && strchr(expr + n, ')') == expr + strlen(expr) - 1)))
			return true;
	}
	return false;
}

/* A zero or partial date (0000-00-00, 2024-00-10, 2024-05-00): no PostgreSQL value. */
static bool zero_date(const char *s)
{
	return strlen(s) >= 10 && (strncmp(s, "0000", 4) == 0 || strncmp(s + 4, "-00", 3) == 0 ||
				   strncmp(s + 7, "-00", 3) == 0);
}

static int set_default(const char *text, strbuf *out)
{
	/* 'a,b' -> '{"a","b"}' */
	strbuf arr = STRBUF_INIT;
	strbuf_append_char(&arr, '{');
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, ",");
		char *label = strndup(p, n);
		if (label == NULL)
			arr.failed = true;
		else
			sql_append_pg_array_element(&arr, label);
		free(label);
		p += n;
		if (*p == ',' && *++p)
			strbuf_append_char(&arr, ',');
	}
	strbuf_append_char(&arr, '}');
	if (!strbuf_failed(&arr))
		sql_append_pg_literal(out, strbuf_str(&arr));
	strbuf_free(&arr);
	return 1;
}

static int literal_default(const char *text, const typemap_pg *type, strbuf *out)
{
	switch (type->conv) {
	case TYPEMAP_DATE: case TYPEMAP_DATETIME: case TYPEMAP_TIMESTAMP:
		if (zero_date(text))
			return 0;
		break;
	case TYPEMAP_BYTES: case TYPEMAP_BIT:
		return 0; /* binary text: not worth guessing its encoding */
	case TYPEMAP_SET:
		return set_default(text, out);
	case TYPEMAP_BOOL:
		if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0)
			return 0;
		strbuf_append(out, text[0] == '1' ? "true" : "false");
		return 1;
	case TYPEMAP_ENUM:
		if (*text == '\0')
			return 0;
		break;
	default:
		break;
	}
	sql_append_pg_literal(out, text);
	return 1;
}

static int bit_default(const char *expr, int bits, strbuf *out)
{
	size_t n = strlen(expr);
	if (n < 3 || strncasecmp(expr, "b'", 2) != 0 || expr[n - 1] != '\'' || (int)(n - 3) > bits)
		return 0;
	for (size_t i = 2; i < n - 1; i++)
		if (expr[i] != '0' && expr[i] != '1')
			return 0;
	strbuf_append(out, "B'");
	for (int i = (int)(n - 3); i < bits; i++)
		strbuf_append_char(out, '0'); /* MySQL pads on the left, PostgreSQL wants n digits */
	strbuf_append_len(out, expr + 2, n - 3);
	strbuf_append_char(out, '\'');
	return 1;
}

int my_pg_default(const char *expr, const typemap_pg *type, int bit_length, strbuf *out)
{
	if (expr == NULL || strcasecmp(expr, "NULL") == 0)
		return 0;
	if (type->conv == TYPEMAP_BIT)
		return bit_default(expr, bit_length, out);
	if (is_now(expr))
		return type->conv == TYPEMAP_DATETIME || type->conv == TYPEMAP_TIMESTAMP
			       ? (strbuf_append(out, "CURRENT_TIMESTAMP"), 1) : 0;
	if (strcasecmp(expr, "curdate()") == 0 || strcasecmp(expr, "current_date()") == 0)
		return type->conv == TYPEMAP_DATE ? (strbuf_append(out, "CURRENT_DATE"), 1) : 0;
	if (is_number(expr)) {
		switch (type->conv) {
		case TYPEMAP_INT: case TYPEMAP_UINT: case TYPEMAP_DECIMAL: case TYPEMAP_FLOAT4:
		case TYPEMAP_FLOAT8: case TYPEMAP_YEAR:
			strbuf_append(out, expr);
			return 1;
		default:
			return literal_default(expr, type, out);
		}
	}
	strbuf text = STRBUF_INIT;
	int rc = unquote(expr, &text) && !strbuf_failed(&text) ? literal_default(strbuf_str(&text), type, out) : 0;
	strbuf_free(&text);
	return rc;
}

/* ---- the table ------------------------------------------------------------------------------- */

typedef struct build {
	const catalog_table *src;
	const my_pg_options *o;
	my_pg_table *out;
	strbuf *problems;
	pg_ddl_script *notes;
	const char *tschema, *tname;
	int problem_count;
	bool oom;
} build;

static void problem(build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(build *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char line[600];
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (b->problems != NULL)
		strbuf_appendf(b->problems, "%s\n", line);
	b->problem_count++;
}

static void note(build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(build *b, const char *fmt, ...)
{
	if (b->notes == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	char **grown = s ? realloc(b->notes->notes, (size_t)(b->notes->n_notes + 1) * sizeof *grown) : NULL;
	if (grown == NULL) {
		free(s);
		return; /* a lost note is harmless */
	}
	b->notes->notes = grown;
	b->notes->notes[b->notes->n_notes++] = s;
	b->notes->cap_notes = b->notes->n_notes;
}

static void check_name(build *b, const char *what, const char *name, const char *hint)
{
	if (strlen(name) > MY_PG_NAME_MAX)
		problem(b, "table %s.%s: %s name \"%s\" is %zu bytes, PostgreSQL allows %d: shorten it with %s",
			b->src->schema, b->src->name, what, name, strlen(name), MY_PG_NAME_MAX, hint);
}

static const char *int_type_max(const char *type)
{
	return strcmp(type, "smallint") == 0 ? "32767" : strcmp(type, "integer") == 0 ? "2147483647" : NULL;
}

/* AUTO_INCREMENT: identity by default with its sequence starting at the next value. */
static void add_identity(build *b, catalog_column *tc, int ti, const my_pg_column *mc)
{
	if (mc->type.cls != CATALOG_TYPE_INT2 && mc->type.cls != CATALOG_TYPE_INT4 &&
	    mc->type.cls != CATALOG_TYPE_INT8) {
		note(b, "table %s.%s column %s: AUTO_INCREMENT not kept (numeric(20,0) cannot be an identity)",
		     b->src->schema, b->src->name, tc->name);
		return;
	}
	char seq[MY_PG_NAME_MAX + 1], col_seq[200];
	snprintf(col_seq, sizeof col_seq, "%s_seq", tc->name);
	my_pg_derived_name(seq, b->tname, col_seq);
	catalog_sequence *s = catalog_add_sequence(b->out->target, b->tschema, seq);
	if (s == NULL) {
		b->oom = true;
		return;
	}
	tc->identity = CATALOG_IDENTITY_BY_DEFAULT;
	s->identity = true;
	s->column = ti;
	const char *max = int_type_max(mc->type.name);
	s->max_value = max ? strtoll(max, NULL, 10) : INT64_MAX;
	s->min_value = 1;
	s->cache = 1;
	int64_t next = b->src->auto_increment_next;
	s->start = next < 1 ? 1 : next > s->max_value ? s->max_value : next;
}

static void map_column_default(build *b, const catalog_column *c, catalog_column *tc, const my_pg_column *mc)
{
	if (c->default_expr == NULL)
		return;
	strbuf sb = STRBUF_INIT;
	if (my_pg_default(c->default_expr, &mc->type, c->type.length, &sb) == 1) {
		if (strbuf_failed(&sb) || catalog_set_string(&tc->default_expr, strbuf_str(&sb)) < 0)
			b->oom = true;
	} else {
		note(b, "table %s.%s column %s: default %s not created (no PostgreSQL equivalent)", b->src->schema,
		     b->src->name, c->name, c->default_expr);
	}
	strbuf_free(&sb);
}

/* ENUM/SET labels of from, appended to to. */
static int copy_labels(catalog_type *to, const catalog_type *from)
{
	for (int i = 0; i < from->n_labels; i++)
		if (catalog_type_add_label(to, from->labels[i]) < 0)
			return -1;
	return 0;
}

static int enum_type(build *b, const catalog_column *c, catalog_column *tc)
{
	char name[MY_PG_NAME_MAX + 1];
	my_pg_derived_name(name, b->tname, tc->name);
	if (catalog_set_string(&tc->type.udt_schema, b->tschema) < 0 ||
	    catalog_set_string(&tc->type.udt_name, name) < 0)
		return -1;
	return copy_labels(&tc->type, &c->type);
}

static void add_target_column(build *b, int i, const char *name)
{
	const catalog_column *c = &b->src->columns[i];
	my_pg_column *mc = &b->out->cols[i];
	char why[300];
	if (c->type.cls == CATALOG_TYPE_OTHER || typemap_mysql_to_pg(&c->type, &mc->type, why, sizeof why) < 0) {
		catalog_type scratch = {.cls = CATALOG_TYPE_OTHER, .length = -1, .precision = -1};
		if (typemap_mysql_parse(c->type_name, false, &scratch, why, sizeof why) == 0)
			snprintf(why, sizeof why, "type %s has no mapping", c->type_name);
		for (int k = 0; k < scratch.n_labels; k++)
			free(scratch.labels[k]);
		free(scratch.labels);
		problem(b, "table %s.%s column %s: %s", b->src->schema, b->src->name, c->name, why);
		return;
	}
	mc->charset = my_pg_charset(c->collation);
	mc->bytes = c->type.cls == CATALOG_TYPE_BINARY ? c->type.length : 0;
	if (b->o->cdc && mc->charset == MY_CHARSET_OTHER)
		problem(b, "table %s.%s column %s: collation %s: the change stream is read for utf8mb4, utf8mb3, "
			"ascii, latin1 and binary data only: convert the column (ALTER TABLE ... CONVERT TO "
			"CHARACTER SET utf8mb4) or exclude it", b->src->schema, b->src->name, c->name, c->collation);
	check_name(b, "column", name, "rename_column");
	catalog_column *tc = catalog_add_column(b->out->target, name, mc->type.name);
	if (tc == NULL) {
		b->oom = true;
		return;
	}
	mc->target = b->out->target->n_columns - 1;
	tc->type.cls = mc->type.cls;
	tc->type.length = mc->type.length;
	tc->type.precision = mc->type.precision;
	tc->type.scale = mc->type.scale;
	tc->not_null = c->not_null;
	if (mc->type.conv == TYPEMAP_SET && catalog_type_make_array(&tc->type) != NULL)
		tc->type.element->cls = CATALOG_TYPE_TEXT;
	if (mc->type.conv == TYPEMAP_ENUM && enum_type(b, c, tc) < 0)
		b->oom = true;
	if (c->generated_expr != NULL)
		note(b, "table %s.%s column %s: generated column copied as a plain column (its expression is MySQL's)",
		     b->src->schema, b->src->name, c->name);
	if (c->auto_increment)
		add_identity(b, tc, mc->target, mc);
	else
		map_column_default(b, c, tc, mc);
}

static void add_key(build *b)
{
	const catalog_table *s = b->src;
	if (s->key_kind == CATALOG_KEY_NONE)
		return;
	int *cols = malloc((size_t)s->n_key_columns * sizeof *cols);
	if (cols == NULL) {
		b->oom = true;
		return;
	}
	for (int k = 0; k < s->n_key_columns; k++) {
		cols[k] = b->out->cols[s->key_columns[k]].target;
		if (cols[k] < 0) {
			problem(b, "table %s.%s: key column %s is excluded; the target needs it to apply changes",
				s->schema, s->name, s->columns[s->key_columns[k]].name);
			free(cols);
			return;
		}
	}
	char name[MY_PG_NAME_MAX + 1];
	my_pg_derived_name(name, b->tname, s->key_kind == CATALOG_KEY_PRIMARY ? "pkey" : s->key_name);
	if (catalog_set_key(b->out->target, s->key_kind, name, cols, s->n_key_columns) < 0)
		b->oom = true;
	free(cols);
}

/* 0 when the index can be built from its columns, else the reason. */
static const char *index_unusable(const build *b, const catalog_index *idx)
{
	if (idx->method != NULL && strcasecmp(idx->method, "BTREE") != 0 && strcasecmp(idx->method, "HASH") != 0)
		return idx->method;
	if (idx->has_expression)
		return "functional key part";
	for (int k = 0; k < idx->n_parts; k++) {
		if (idx->parts[k].prefix_length > 0)
			return "prefix of a column";
		if (idx->parts[k].column < 0 || b->out->cols[idx->parts[k].column].target < 0)
			return "uses an excluded column";
	}
	return NULL;
}

static void add_indexes(build *b)
{
	for (int i = 0; i < b->src->n_indexes && !b->oom; i++) {
		const catalog_index *idx = &b->src->indexes[i];
		const char *why = index_unusable(b, idx);
		if (why != NULL) {
			note(b, "index %s on %s.%s: not created (%s)", idx->name, b->src->schema, b->src->name, why);
			continue;
		}
		char name[MY_PG_NAME_MAX + 1];
		my_pg_derived_name(name, b->tname, idx->name);
		catalog_index *ti = catalog_add_index(b->out->target, name);
		if (ti == NULL) {
			b->oom = true;
			return;
		}
		ti->unique = idx->unique;
		for (int k = 0; k < idx->n_parts && !b->oom; k++)
			if (catalog_index_add_part(ti, b->out->cols[idx->parts[k].column].target, idx->parts[k].descending, 0) < 0)
				b->oom = true;
	}
}

/* ---- a MySQL target: the source's own shape ------------------------------------------------ */

static int copy_type(catalog_type *to, const catalog_type *from)
{
	to->cls = from->cls;
	to->length = from->length;
	to->precision = from->precision;
	to->scale = from->scale;
	return copy_labels(to, from);
}

static void add_mysql_column(build *b, int i, const char *name)
{
	const catalog_column *c = &b->src->columns[i];
	my_pg_column *mc = &b->out->cols[i];
	char why[300];
	if (c->generated_expr != NULL) {
		note(b, "table %s.%s column %s: generated column not created (AS %s)", b->src->schema, b->src->name,
		     c->name, c->generated_expr);
		return;
	}
	/* the decoder reads a value by the PostgreSQL mapping's conversion: a type without
	 * one (spatial) has no reader */
	if (c->type.cls == CATALOG_TYPE_OTHER || typemap_mysql_to_pg(&c->type, &mc->type, why, sizeof why) < 0) {
		problem(b, "table %s.%s column %s: type %s is not migrated: exclude the column (exclude_column)",
			b->src->schema, b->src->name, c->name, c->type_name);
		return;
	}
	mc->mysql = true;
	if (mc->type.conv == TYPEMAP_BOOL)
		mc->type.conv = TYPEMAP_INT; /* TINYINT(1) holds any TINYINT */
	mc->charset = my_pg_charset(c->collation);
	mc->bytes = c->type.cls == CATALOG_TYPE_BINARY ? c->type.length : 0;
	if (b->o->cdc && mc->charset == MY_CHARSET_OTHER)
		problem(b, "table %s.%s column %s: collation %s: the change stream is read for utf8mb4, utf8mb3, "
			"ascii, latin1 and binary data only: convert the column (ALTER TABLE ... CONVERT TO "
			"CHARACTER SET utf8mb4) or exclude it", b->src->schema, b->src->name, c->name, c->collation);
	/* MariaDB's JSON is a LONGTEXT with a json_valid() check: JSON says both, on either
	 * flavour of target */
	bool json = c->type.cls == CATALOG_TYPE_JSON;
	catalog_column *tc = catalog_add_column(b->out->target, name, json ? "json" : c->type_name);
	if (tc == NULL || copy_type(&tc->type, &c->type) < 0 ||
	    catalog_set_string(&tc->collation, json ? NULL : c->collation) < 0 ||
	    catalog_set_string(&tc->default_expr, c->default_expr) < 0 ||
	    catalog_set_string(&tc->on_update, c->on_update) < 0) {
		b->oom = true;
		return;
	}
	mc->target = b->out->target->n_columns - 1;
	tc->not_null = c->not_null;
	tc->auto_increment = c->auto_increment;
}

static void add_mysql_indexes(build *b)
{
	for (int i = 0; i < b->src->n_indexes && !b->oom; i++) {
		const catalog_index *idx = &b->src->indexes[i];
		const char *why = idx->has_expression ? "functional key part" : NULL;
		for (int k = 0; why == NULL && k < idx->n_parts; k++)
			if (idx->parts[k].column < 0 || b->out->cols[idx->parts[k].column].target < 0)
				why = "uses an excluded or generated column";
		if (why != NULL) {
			note(b, "index %s on %s.%s: not created (%s)", idx->name, b->src->schema, b->src->name, why);
			continue;
		}
		catalog_index *ti = catalog_add_index(b->out->target, idx->name);
		if (ti == NULL || catalog_set_string(&ti->method, idx->method) < 0) {
			b->oom = true;
			return;
		}
		ti->unique = idx->unique;
		for (int k = 0; k < idx->n_parts && !b->oom; k++)
			if (catalog_index_add_part(ti, b->out->cols[idx->parts[k].column].target, idx->parts[k].descending,
						   idx->parts[k].prefix_length) < 0)
				b->oom = true;
	}
}

int my_pg_table_build(const catalog_table *src, const my_pg_options *o, my_pg_table *out, strbuf *problems,
		      pg_ddl_script *notes)
{
	memset(out, 0, sizeof *out);
	build b = {.src = src, .o = o, .out = out, .problems = problems, .notes = notes};
	catalog_map_table(o->names, src, &b.tschema, &b.tname);
	out->source = src;
	out->n_cols = src->n_columns;
	out->cat = catalog_new(o->mysql_target ? ENGINE_MYSQL : ENGINE_POSTGRESQL);
	out->cols = calloc((size_t)src->n_columns + 1, sizeof *out->cols);
	out->target = out->cat ? catalog_add_table(out->cat, b.tschema, b.tname) : NULL;
	if (out->target == NULL || out->cols == NULL) {
		my_pg_table_free(out);
		if (problems)
			strbuf_append(problems, "out of memory\n");
		return -1;
	}
	out->target->id = src->id;
	out->target->est_rows = src->est_rows;
	out->target->est_bytes = src->est_bytes;
	out->target->auto_increment_next = src->auto_increment_next;
	if (!o->mysql_target) { /* a MySQL target checks its own names (workers/my_ddl.h) */
		check_name(&b, "schema", b.tschema, "rename_schema");
		check_name(&b, "table", b.tname, "rename_table");
	}
	for (int i = 0; i < src->n_columns && !b.oom; i++) {
		out->cols[i].target = -1;
		const char *name = catalog_map_column(o->names, src, i);
		if (name != NULL && o->mysql_target)
			add_mysql_column(&b, i, name);
		else if (name != NULL)
			add_target_column(&b, i, name);
	}
	out->n_copied = out->target->n_columns;
	if (!b.oom && b.problem_count == 0)
		add_key(&b);
	if (!b.oom && b.problem_count == 0)
		o->mysql_target ? add_mysql_indexes(&b) : add_indexes(&b);
	if (b.oom && problems)
		strbuf_append(problems, "out of memory\n");
	if (b.oom || b.problem_count > 0) {
		my_pg_table_free(out);
		return -1;
	}
	return 0;
}

void my_pg_table_free(my_pg_table *t)
{
	if (t->cat)
		catalog_free(t->cat);
	free(t->cols);
	memset(t, 0, sizeof *t);
}
