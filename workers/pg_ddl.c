/* PostgreSQL DDL text from the table model: statements for before the load, after it,
 * and at cutover. Nothing here talks to a server. */
#include "workers/pg_ddl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INDENT "    "

/* ---- scripts and errors --------------------------------------------------------------- */

void pg_ddl_script_free(pg_ddl_script *script)
{
	for (int i = 0; i < script->n_statements; i++)
		free(script->statements[i]);
	free(script->statements);
	for (int i = 0; i < script->n_notes; i++)
		free(script->notes[i]);
	free(script->notes);
	memset(script, 0, sizeof *script);
}

static int list_push(char ***items, int *n, int *cap, char *s)
{
	if (s == NULL)
		return -1;
	if (*n == *cap) {
		int new_cap = *cap ? *cap * 2 : 8;
		char **p = realloc(*items, (size_t)new_cap * sizeof *p);
		if (p == NULL) {
			free(s);
			return -1;
		}
		*items = p;
		*cap = new_cap;
	}
	(*items)[(*n)++] = s;
	return 0;
}

int pg_ddl_script_add(pg_ddl_script *script, strbuf *sb)
{
	return list_push(&script->statements, &script->n_statements, &script->cap_statements,
			 strbuf_detach(sb));
}

void pg_ddl_script_note(pg_ddl_script *notes, const char *fmt, ...)
{
	if (notes == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	list_push(&notes->notes, &notes->n_notes, &notes->cap_notes, s); /* a lost note is harmless */
}

static int set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(*err);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

static int oom(char **err)
{
	return set_err(err, "building DDL: out of memory");
}

/* ---- names --------------------------------------------------------------------------- */

static void append_table(strbuf *sb, const catalog_table *t, const pg_ddl_options *o)
{
	const char *schema, *name;
	catalog_map_table(o->names, t, &schema, &name);
	sql_append_pg_qualified(sb, schema, name);
}

/* Objects in the table's own schema follow the table (rename_table may move it); others
 * go where their schema is mapped. */
static const char *object_schema(const catalog_table *t, const pg_ddl_options *o,
				 const char *schema)
{
	if (strcmp(schema, t->schema) == 0) {
		const char *ts, *tn;
		catalog_map_table(o->names, t, &ts, &tn);
		return ts;
	}
	return catalog_map_schema(o->names, schema);
}

static void append_sequence(strbuf *sb, const catalog_table *t, const pg_ddl_options *o,
			    const catalog_sequence *s)
{
	sql_append_pg_qualified(sb, object_schema(t, o, s->schema), s->name);
}

/* ---- types ----------------------------------------------------------------------------- */

static const char *fixed_type_name(catalog_type_class cls)
{
	switch (cls) {
	case CATALOG_TYPE_BOOL: return "boolean";
	case CATALOG_TYPE_INT1: case CATALOG_TYPE_INT2: case CATALOG_TYPE_UINT1:
	case CATALOG_TYPE_YEAR: return "smallint";
	case CATALOG_TYPE_INT3: case CATALOG_TYPE_INT4: case CATALOG_TYPE_UINT2:
	case CATALOG_TYPE_UINT3: return "integer";
	case CATALOG_TYPE_INT8: case CATALOG_TYPE_UINT4: return "bigint";
	case CATALOG_TYPE_UINT8: return "numeric(20,0)";
	case CATALOG_TYPE_FLOAT4: return "real";
	case CATALOG_TYPE_FLOAT8: return "double precision";
	case CATALOG_TYPE_TEXT: return "text";
	case CATALOG_TYPE_BYTES: case CATALOG_TYPE_VARBINARY: case CATALOG_TYPE_BINARY:
		return "bytea";
	case CATALOG_TYPE_DATE: return "date";
	case CATALOG_TYPE_JSON: return "json";
	case CATALOG_TYPE_JSONB: return "jsonb";
	case CATALOG_TYPE_UUID: return "uuid";
	case CATALOG_TYPE_INET: return "inet";
	case CATALOG_TYPE_CIDR: return "cidr";
	default: return NULL;
	}
}

/* name, name(n) when n >= 0, then suffix: format_type's spelling. */
static void append_with_modifier(strbuf *out, const char *name, int n, const char *suffix)
{
	strbuf_append(out, name);
	if (n >= 0)
		strbuf_appendf(out, "(%d)", n);
	strbuf_append(out, suffix);
}

int pg_ddl_type_name(const catalog_type *type, const catalog_name_map *map, strbuf *out)
{
	const char *fixed = fixed_type_name(type->cls);
	if (fixed != NULL) {
		strbuf_append(out, fixed);
		return 0;
	}
	switch (type->cls) {
	case CATALOG_TYPE_NUMERIC:
		strbuf_append(out, "numeric");
		if (type->precision >= 0)
			strbuf_appendf(out, "(%d,%d)", type->precision, type->scale);
		return 0;
	case CATALOG_TYPE_VARCHAR: append_with_modifier(out, "character varying", type->length, ""); return 0;
	case CATALOG_TYPE_CHAR:
		append_with_modifier(out, type->length >= 0 ? "character" : "bpchar", type->length, "");
		return 0;
	case CATALOG_TYPE_BIT: append_with_modifier(out, "bit", type->length, ""); return 0;
	case CATALOG_TYPE_VARBIT: append_with_modifier(out, "bit varying", type->length, ""); return 0;
	case CATALOG_TYPE_TIME: append_with_modifier(out, "time", type->precision, " without time zone"); return 0;
	case CATALOG_TYPE_TIMETZ: append_with_modifier(out, "time", type->precision, " with time zone"); return 0;
	case CATALOG_TYPE_TIMESTAMP:
		append_with_modifier(out, "timestamp", type->precision, " without time zone");
		return 0;
	case CATALOG_TYPE_TIMESTAMPTZ:
		append_with_modifier(out, "timestamp", type->precision, " with time zone");
		return 0;
	case CATALOG_TYPE_INTERVAL: append_with_modifier(out, "interval", type->precision, ""); return 0;
	case CATALOG_TYPE_ENUM:
		if (type->udt_name == NULL)
			return -1;
		sql_append_pg_qualified(out, type->udt_schema != NULL ? catalog_map_schema(map, type->udt_schema) : NULL,
					type->udt_name);
		return 0;
	case CATALOG_TYPE_ARRAY:
		if (type->element == NULL || type->element->cls == CATALOG_TYPE_ARRAY ||
		    pg_ddl_type_name(type->element, map, out) < 0)
			return -1;
		strbuf_append(out, "[]");
		return 0;
	default:
		return -1;
	}
}

static bool is_enum_based(const catalog_type *type)
{
	return type->cls == CATALOG_TYPE_ENUM ||
	       (type->cls == CATALOG_TYPE_ARRAY && type->element != NULL &&
		type->element->cls == CATALOG_TYPE_ENUM);
}

static int column_type_text(const catalog_table *t, const catalog_column *c,
			    const pg_ddl_options *o, strbuf *out, char **err)
{
	if (o->column_type != NULL && o->column_type(o->column_type_arg, t, c, out) == 1)
		return 0;
	/* An identity column must be an integer type. */
	if (c->auto_increment && c->type.cls == CATALOG_TYPE_UINT8) {
		strbuf_append(out, "bigint");
		return 0;
	}
	/* Same engine: the source's own spelling, except enums, whose schema may be renamed. */
	if (t->engine == ENGINE_POSTGRESQL && !is_enum_based(&c->type)) {
		strbuf_append(out, c->type_name);
		return 0;
	}
	if (pg_ddl_type_name(&c->type, o->names, out) == 0)
		return 0;
	return set_err(err, "table %s.%s, column %s: no PostgreSQL type for %s", t->schema, t->name,
		       c->name, c->type_name);
}

/* ---- CREATE TYPE for enums ------------------------------------------------------------- */

/* The enum is created unless it exists; if it exists with other labels, the statement
 * fails, so a mismatch never reaches the data. */
static void enum_body(strbuf *sb, const catalog_type *type, const char *schema)
{
	strbuf qualified = STRBUF_INIT, labels = STRBUF_INIT;
	sql_append_pg_qualified(&qualified, schema, type->udt_name);
	for (int i = 0; i < type->n_labels; i++) {
		if (i > 0)
			strbuf_append(&labels, ", ");
		sql_append_pg_literal(&labels, type->labels[i]);
	}
	strbuf_appendf(sb, "BEGIN\n" INDENT "CREATE TYPE %s AS ENUM (%s);\n",
		       strbuf_str(&qualified), strbuf_str(&labels));
	strbuf_append(sb, "EXCEPTION WHEN duplicate_object THEN\n" INDENT
		      "IF ARRAY(SELECT e.enumlabel::pg_catalog.text FROM pg_catalog.pg_enum e"
		      " WHERE e.enumtypid = ");
	sql_append_pg_literal(sb, strbuf_str(&qualified));
	strbuf_appendf(sb, "::pg_catalog.regtype ORDER BY e.enumsortorder)"
		       " IS DISTINCT FROM ARRAY[%s]::pg_catalog.text[] THEN\n",
		       type->n_labels > 0 ? strbuf_str(&labels) : "");
	strbuf_append(sb, INDENT INDENT "RAISE EXCEPTION 'type % exists with other labels', ");
	sql_append_pg_literal(sb, strbuf_str(&qualified));
	strbuf_append(sb, "\n" INDENT INDENT INDENT "USING HINT = 'Drop it or give it the source''s labels.';\n"
		      INDENT "END IF;\nEND\n");
	if (strbuf_failed(&qualified) || strbuf_failed(&labels))
		sb->failed = true;
	strbuf_free(&qualified);
	strbuf_free(&labels);
}

/* DO with body (freed), under a dollar-quote tag that does not occur in it. */
static int add_do_block(pg_ddl_script *script, strbuf *body)
{
	strbuf sb = STRBUF_INIT;
	char tag[32] = "$ferry$";
	for (int i = 1; strstr(strbuf_str(body), tag) != NULL; i++)
		snprintf(tag, sizeof tag, "$ferry%d$", i);
	strbuf_appendf(&sb, "DO %s\n%s%s", tag, strbuf_str(body), tag);
	if (strbuf_failed(body))
		sb.failed = true;
	strbuf_free(body);
	return pg_ddl_script_add(script, &sb);
}

static int add_create_enum(pg_ddl_script *script, const catalog_type *type,
			   const pg_ddl_options *o)
{
	strbuf body = STRBUF_INIT;
	enum_body(&body, type, catalog_map_schema(o->names, type->udt_schema));
	return add_do_block(script, &body);
}

/* ---- columns ---------------------------------------------------------------------------- */

static void append_sequence_options(strbuf *sb, const catalog_sequence *s)
{
	strbuf_appendf(sb, "START WITH %lld INCREMENT BY %lld MINVALUE %lld MAXVALUE %lld CACHE %lld%s",
		       (long long)s->start, (long long)s->increment, (long long)s->min_value,
		       (long long)s->max_value, (long long)s->cache, s->cycle ? " CYCLE" : "");
}

static void append_identity(strbuf *sb, const catalog_table *t, int i, const pg_ddl_options *o)
{
	const catalog_column *c = &t->columns[i];
	strbuf_appendf(sb, " GENERATED %s AS IDENTITY",
		       c->identity == CATALOG_IDENTITY_ALWAYS ? "ALWAYS" : "BY DEFAULT");
	int s = catalog_column_sequence(t, i);
	if (s < 0 || !t->sequences[s].identity)
		return;
	strbuf_append(sb, " (SEQUENCE NAME ");
	append_sequence(sb, t, o, &t->sequences[s]);
	strbuf_append_char(sb, ' ');
	append_sequence_options(sb, &t->sequences[s]);
	strbuf_append_char(sb, ')');
}

/* An enum default prints as 'label'::schema.type: the cast names the source's type, so it
 * is written with the target's (renamed) type instead. Other defaults go as they are. */
static void append_default_expr(strbuf *sb, const catalog_table *t, const catalog_column *c,
				const pg_ddl_options *o)
{
	size_t len = strlen(c->default_expr), tlen = strlen(c->type_name);
	strbuf_append(sb, " DEFAULT ");
	if (is_enum_based(&c->type) && len > tlen + 2 &&
	    strcmp(c->default_expr + len - tlen, c->type_name) == 0 &&
	    strncmp(c->default_expr + len - tlen - 2, "::", 2) == 0) {
		strbuf_append_len(sb, c->default_expr, len - tlen);
		/* cannot fail: the column's type was rendered just the same */
		(void)pg_ddl_type_name(&c->type, o->names, sb);
		return;
	}
	strbuf_append(sb, c->default_expr);
}

/* Generated expression, identity, or default: at most one of them applies. */
static int append_column_default(strbuf *sb, const catalog_table *t, int i,
				 const pg_ddl_options *o, pg_ddl_script *notes, char **err)
{
	const catalog_column *c = &t->columns[i];
	bool same_engine = t->engine == ENGINE_POSTGRESQL;
	if (c->generated_expr != NULL) {
		if (!same_engine)
			return set_err(err, "table %s.%s, column %s: generated columns of another engine"
				       " are not translated", t->schema, t->name, c->name);
		strbuf_appendf(sb, " GENERATED ALWAYS AS (%s) STORED", c->generated_expr);
	} else if (c->identity != CATALOG_IDENTITY_NONE) {
		append_identity(sb, t, i, o);
	} else if (c->auto_increment) {
		strbuf_append(sb, " GENERATED BY DEFAULT AS IDENTITY");
	} else if (c->default_sequence >= 0 && c->default_sequence < t->n_sequences) {
		strbuf qualified = STRBUF_INIT;
		append_sequence(&qualified, t, o, &t->sequences[c->default_sequence]);
		strbuf_append(sb, " DEFAULT nextval(");
		sql_append_pg_literal(sb, strbuf_str(&qualified));
		strbuf_append(sb, "::regclass)");
		if (strbuf_failed(&qualified))
			sb->failed = true;
		strbuf_free(&qualified);
	} else if (c->default_expr != NULL && !same_engine) {
		pg_ddl_script_note(notes, "column %s.%s.%s: default %s not translated", t->schema, t->name,
			 c->name, c->default_expr);
	} else if (c->default_expr != NULL && c->default_volatile) {
		pg_ddl_script_note(notes, "column %s.%s.%s: volatile default %s not created", t->schema,
			 t->name, c->name, c->default_expr);
	} else if (c->default_expr != NULL) {
		append_default_expr(sb, t, c, o);
	}
	return 0;
}

static int append_column(strbuf *sb, const catalog_table *t, int i, const char *name,
			 const pg_ddl_options *o, pg_ddl_script *notes, char **err)
{
	const catalog_column *c = &t->columns[i];
	sql_append_pg_ident(sb, name);
	strbuf_append_char(sb, ' ');
	if (column_type_text(t, c, o, sb, err) < 0)
		return -1;
	if (c->collation != NULL && t->engine == ENGINE_POSTGRESQL)
		strbuf_appendf(sb, " COLLATE %s", c->collation);
	if (append_column_default(sb, t, i, o, notes, err) < 0)
		return -1;
	if (c->not_null)
		strbuf_append(sb, " NOT NULL");
	return 0;
}

/* ---- CREATE TABLE ---------------------------------------------------------------------- */

static int append_primary_key(strbuf *sb, const catalog_table *t, const pg_ddl_options *o,
			      char **err)
{
	strbuf_append(sb, ",\n" INDENT);
	if (t->key_name != NULL) {
		strbuf_append(sb, "CONSTRAINT ");
		sql_append_pg_ident(sb, t->key_name);
		strbuf_append_char(sb, ' ');
	}
	strbuf_append(sb, "PRIMARY KEY (");
	for (int k = 0; k < t->n_key_columns; k++) {
		int col = t->key_columns[k];
		const char *name = col >= 0 ? catalog_map_column(o->names, t, col) : NULL;
		if (name == NULL)
			return set_err(err, "table %s.%s: primary key column %s is excluded; the target "
				       "needs it to apply changes", t->schema, t->name,
				       col >= 0 ? t->columns[col].name : "?");
		if (k > 0)
			strbuf_append(sb, ", ");
		sql_append_pg_ident(sb, name);
	}
	strbuf_append_char(sb, ')');
	return 0;
}

/* Partitioning is kept unless columns are renamed or excluded: the key's text names them. */
static bool keeps_partitioning(const catalog_table *t, const pg_ddl_options *o)
{
	return t->kind == CATALOG_TABLE_PARTITIONED && t->partition_key != NULL &&
	       t->engine == ENGINE_POSTGRESQL && !catalog_map_changes_columns(o->names, t);
}

/* The primary key goes after the load (see pg_ddl_options.defer_primary_key): the table
 * is created by the before-load script itself, so it cannot have a key of its own. */
static bool defers_key(const catalog_table *t, const pg_ddl_options *o)
{
	return o->defer_primary_key && o->prep == TABLE_PREP_DROP && o->create_tables &&
	       t->key_kind == CATALOG_KEY_PRIMARY;
}

static int create_table(const catalog_table *t, const pg_ddl_options *o, bool with_key, strbuf *out,
			pg_ddl_script *notes, char **err);

int pg_ddl_create_table(const catalog_table *t, const pg_ddl_options *o, strbuf *out,
			pg_ddl_script *notes, char **err)
{
	return create_table(t, o, true, out, notes, err);
}

static int create_table(const catalog_table *t, const pg_ddl_options *o, bool with_key, strbuf *out,
			pg_ddl_script *notes, char **err)
{
	strbuf_append(out, "CREATE TABLE ");
	if (o->prep != TABLE_PREP_DROP)
		strbuf_append(out, "IF NOT EXISTS ");
	append_table(out, t, o);
	strbuf_append(out, " (");
	bool first = true;
	for (int i = 0; i < t->n_columns; i++) {
		const char *name = catalog_map_column(o->names, t, i);
		if (name == NULL)
			continue;
		strbuf_append(out, first ? "\n" INDENT : ",\n" INDENT);
		first = false;
		if (append_column(out, t, i, name, o, notes, err) < 0)
			return -1;
	}
	if (t->key_kind == CATALOG_KEY_PRIMARY) {
		/* built even when deferred: an excluded key column fails before anything runs */
		strbuf key = STRBUF_INIT;
		int rc = append_primary_key(&key, t, o, err);
		if (rc == 0 && with_key)
			strbuf_append_len(out, strbuf_str(&key), key.len);
		strbuf_free(&key);
		if (rc < 0)
			return -1;
	}
	strbuf_append(out, "\n)");
	if (keeps_partitioning(t, o))
		strbuf_appendf(out, " PARTITION BY %s", t->partition_key);
	else if (t->kind == CATALOG_TABLE_PARTITIONED)
		pg_ddl_script_note(notes, "table %s.%s: created as a plain table (partitioning not kept: "
			 "columns renamed or excluded, or another engine)", t->schema, t->name);
	return strbuf_failed(out) ? oom(err) : 0;
}

static int add_partitions(pg_ddl_script *script, const catalog_table *t, const pg_ddl_options *o)
{
	for (int i = 0; i < t->n_partitions; i++) {
		const catalog_partition *p = &t->partitions[i];
		strbuf sb = STRBUF_INIT;
		strbuf_append(&sb, "CREATE TABLE ");
		if (o->prep != TABLE_PREP_DROP)
			strbuf_append(&sb, "IF NOT EXISTS ");
		sql_append_pg_qualified(&sb, object_schema(t, o, p->schema), p->name);
		strbuf_append(&sb, " PARTITION OF ");
		if (p->parent < 0) {
			append_table(&sb, t, o);
		} else {
			const catalog_partition *parent = &t->partitions[p->parent];
			sql_append_pg_qualified(&sb, object_schema(t, o, parent->schema), parent->name);
		}
		strbuf_appendf(&sb, " %s", p->bound != NULL ? p->bound : "DEFAULT");
		if (p->partition_key != NULL)
			strbuf_appendf(&sb, " PARTITION BY %s", p->partition_key);
		if (pg_ddl_script_add(script, &sb) < 0)
			return -1;
	}
	return 0;
}

/* ---- schemas, sequences ------------------------------------------------------------------ */

/* Adds CREATE SCHEMA IF NOT EXISTS for schema unless seen already (seen: NULL-terminated
 * list of at most max entries). */
static int add_schema(pg_ddl_script *script, const char **seen, int max, const char *schema)
{
	int n = 0;
	for (; n < max && seen[n] != NULL; n++)
		if (strcmp(seen[n], schema) == 0)
			return 0;
	if (n < max)
		seen[n] = schema;
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "CREATE SCHEMA IF NOT EXISTS ");
	sql_append_pg_ident(&sb, schema);
	return pg_ddl_script_add(script, &sb);
}

/* Schemas the table, its enums, sequences and partitions live in on the target. */
static int add_schemas(pg_ddl_script *script, const catalog_table *t, const pg_ddl_options *o)
{
	int max = 1 + t->n_columns + t->n_sequences + t->n_partitions;
	const char **seen = calloc((size_t)max + 1, sizeof *seen);
	if (seen == NULL)
		return -1;
	const char *ts, *tn;
	catalog_map_table(o->names, t, &ts, &tn);
	int rc = add_schema(script, seen, max, ts);
	for (int i = 0; rc == 0 && i < t->n_columns; i++) {
		const catalog_type *type = &t->columns[i].type;
		if (type->cls == CATALOG_TYPE_ARRAY && type->element != NULL)
			type = type->element;
		if (type->cls == CATALOG_TYPE_ENUM && type->udt_schema != NULL &&
		    catalog_map_column(o->names, t, i) != NULL)
			rc = add_schema(script, seen, max, catalog_map_schema(o->names, type->udt_schema));
	}
	for (int i = 0; rc == 0 && i < t->n_sequences; i++)
		rc = add_schema(script, seen, max, object_schema(t, o, t->sequences[i].schema));
	for (int i = 0; rc == 0 && keeps_partitioning(t, o) && i < t->n_partitions; i++)
		rc = add_schema(script, seen, max, object_schema(t, o, t->partitions[i].schema));
	free(seen);
	return rc;
}

static int add_enums(pg_ddl_script *script, const catalog_table *t, const pg_ddl_options *o)
{
	for (int i = 0; i < t->n_columns; i++) {
		const catalog_type *type = &t->columns[i].type;
		if (type->cls == CATALOG_TYPE_ARRAY && type->element != NULL)
			type = type->element;
		if (type->cls != CATALOG_TYPE_ENUM || type->udt_name == NULL ||
		    catalog_map_column(o->names, t, i) == NULL)
			continue;
		bool done = false; /* the same type in an earlier column */
		for (int j = 0; j < i && !done; j++) {
			const catalog_type *prev = &t->columns[j].type;
			if (prev->cls == CATALOG_TYPE_ARRAY && prev->element != NULL)
				prev = prev->element;
			done = prev->cls == CATALOG_TYPE_ENUM && prev->udt_name != NULL &&
			       catalog_map_column(o->names, t, j) != NULL &&
			       strcmp(prev->udt_name, type->udt_name) == 0 &&
			       strcmp(prev->udt_schema, type->udt_schema) == 0;
		}
		if (!done && add_create_enum(script, type, o) < 0)
			return -1;
	}
	return 0;
}

/* Owned sequences that are not identity sequences (those come with their column). */
static bool creates_sequence(const catalog_table *t, const catalog_sequence *s,
			     const pg_ddl_options *o)
{
	return !s->identity && s->column >= 0 && catalog_map_column(o->names, t, s->column) != NULL;
}

static int add_sequences(pg_ddl_script *script, const catalog_table *t, const pg_ddl_options *o)
{
	for (int i = 0; i < t->n_sequences; i++) {
		const catalog_sequence *s = &t->sequences[i];
		if (!creates_sequence(t, s, o))
			continue;
		strbuf sb = STRBUF_INIT;
		strbuf_append(&sb, "CREATE SEQUENCE IF NOT EXISTS ");
		append_sequence(&sb, t, o, s);
		if (s->data_type != NULL)
			strbuf_appendf(&sb, " AS %s", s->data_type);
		strbuf_append_char(&sb, ' ');
		append_sequence_options(&sb, s);
		if (pg_ddl_script_add(script, &sb) < 0)
			return -1;
	}
	return 0;
}

static int add_sequence_ownership(pg_ddl_script *script, const catalog_table *t,
				  const pg_ddl_options *o)
{
	for (int i = 0; i < t->n_sequences; i++) {
		const catalog_sequence *s = &t->sequences[i];
		if (!creates_sequence(t, s, o))
			continue;
		strbuf sb = STRBUF_INIT;
		strbuf_append(&sb, "ALTER SEQUENCE ");
		append_sequence(&sb, t, o, s);
		strbuf_append(&sb, " OWNED BY ");
		append_table(&sb, t, o);
		strbuf_append_char(&sb, '.');
		sql_append_pg_ident(&sb, catalog_map_column(o->names, t, s->column));
		if (pg_ddl_script_add(script, &sb) < 0)
			return -1;
	}
	return 0;
}

/* ---- the scripts --------------------------------------------------------------------------- */

static int add_table_statement(pg_ddl_script *script, const char *verb, const catalog_table *t,
			       const pg_ddl_options *o)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, verb);
	append_table(&sb, t, o);
	return pg_ddl_script_add(script, &sb);
}

static int add_create(pg_ddl_script *script, const catalog_table *t, const pg_ddl_options *o,
		      char **err)
{
	if (add_schemas(script, t, o) < 0 || add_enums(script, t, o) < 0 ||
	    add_sequences(script, t, o) < 0)
		return oom(err);
	strbuf sb = STRBUF_INIT;
	if (create_table(t, o, !defers_key(t, o), &sb, script, err) < 0) {
		strbuf_free(&sb);
		return -1;
	}
	if (pg_ddl_script_add(script, &sb) < 0)
		return oom(err);
	if ((keeps_partitioning(t, o) && add_partitions(script, t, o) < 0) ||
	    add_sequence_ownership(script, t, o) < 0)
		return oom(err);
	return 0;
}

int pg_ddl_before_load(const catalog_table *t, const pg_ddl_options *o, pg_ddl_script *script,
		       char **err)
{
	if (o->prep == TABLE_PREP_DROP && !o->create_tables)
		return set_err(err, "table %s.%s: target_table_prep = drop needs create_tables = yes "
			       "(a dropped table must be created again)", t->schema, t->name);
	if (o->prep == TABLE_PREP_DROP && add_table_statement(script, "DROP TABLE IF EXISTS ", t, o) < 0)
		return oom(err);
	if (o->create_tables && add_create(script, t, o, err) < 0)
		return -1;
	if (o->prep == TABLE_PREP_TRUNCATE && add_table_statement(script, "TRUNCATE TABLE ", t, o) < 0)
		return oom(err);
	return 0;
}

/* ---- indexes --------------------------------------------------------------------------------- */

/* Rebuilds "USING method (a, b DESC)" from the key parts: for renamed columns and for
 * indexes of another engine. 1 (with a note) when that cannot be done faithfully. */
static int append_index_parts(strbuf *out, const catalog_table *t, const catalog_index *idx,
			      const pg_ddl_options *o, pg_ddl_script *notes)
{
	if (idx->has_expression || idx->n_parts == 0) {
		pg_ddl_script_note(notes, "index %s on %s.%s: not created (expression or partial index on a table "
			 "with renamed or excluded columns)", idx->name, t->schema, t->name);
		return 1;
	}
	if (t->engine == ENGINE_POSTGRESQL && idx->method != NULL) {
		strbuf_append(out, " USING ");
		sql_append_pg_ident(out, idx->method);
	} else if (idx->method != NULL && strcasecmp(idx->method, "BTREE") != 0 &&
		   strcasecmp(idx->method, "HASH") != 0) {
		pg_ddl_script_note(notes, "index %s on %s.%s: not created (%s index)", idx->name, t->schema,
			 t->name, idx->method);
		return 1;
	}
	strbuf_append(out, " (");
	for (int k = 0; k < idx->n_parts; k++) {
		int col = idx->parts[k].column;
		const char *name = col >= 0 ? catalog_map_column(o->names, t, col) : NULL;
		if (name == NULL) {
			pg_ddl_script_note(notes, "index %s on %s.%s: not created (uses an excluded column)",
				 idx->name, t->schema, t->name);
			return 1;
		}
		if (k > 0)
			strbuf_append(out, ", ");
		sql_append_pg_ident(out, name);
		if (idx->parts[k].descending)
			strbuf_append(out, " DESC");
	}
	strbuf_append_char(out, ')');
	return 0;
}

int pg_ddl_create_index(const catalog_table *t, const catalog_index *idx,
			const pg_ddl_options *o, strbuf *out, pg_ddl_script *notes, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "CREATE %sINDEX IF NOT EXISTS ", idx->unique ? "UNIQUE " : "");
	sql_append_pg_ident(&sb, idx->name);
	strbuf_append(&sb, " ON ");
	append_table(&sb, t, o);
	int rc = 0;
	if (t->engine == ENGINE_POSTGRESQL && idx->definition_tail != NULL &&
	    !catalog_map_changes_columns(o->names, t))
		strbuf_appendf(&sb, " %s", idx->definition_tail);
	else
		rc = append_index_parts(&sb, t, idx, o, notes);
	if (rc == 0 && strbuf_failed(&sb))
		rc = oom(err);
	if (rc == 0)
		strbuf_append_len(out, strbuf_str(&sb), sb.len);
	strbuf_free(&sb);
	return rc;
}

static int add_replica_identity(pg_ddl_script *script, const catalog_table *t,
				const pg_ddl_options *o, bool index_created)
{
	if (t->engine != ENGINE_POSTGRESQL || t->replica_identity == CATALOG_RI_DEFAULT ||
	    (t->replica_identity == CATALOG_RI_INDEX && !index_created))
		return 0;
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "ALTER TABLE ");
	append_table(&sb, t, o);
	strbuf_append(&sb, " REPLICA IDENTITY ");
	if (t->replica_identity == CATALOG_RI_INDEX) {
		strbuf_append(&sb, "USING INDEX ");
		sql_append_pg_ident(&sb, t->replica_identity_index);
	} else {
		strbuf_append(&sb, t->replica_identity == CATALOG_RI_FULL ? "FULL" : "NOTHING");
	}
	return pg_ddl_script_add(script, &sb);
}

/* The deferred primary key, unless the table has one already (created with it, e.g.
 * before the key was deferred): the check and the ALTER in one statement. */
static int add_deferred_key(pg_ddl_script *script, const catalog_table *t, const pg_ddl_options *o,
			    char **err)
{
	strbuf table = STRBUF_INIT, key = STRBUF_INIT, body = STRBUF_INIT;
	const size_t prefix = strlen(",\n" INDENT); /* append_primary_key's: a column list's */
	append_table(&table, t, o);
	int rc = append_primary_key(&key, t, o, err);
	if (rc == 0) {
		strbuf_append(&body, "BEGIN\n" INDENT "IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint"
			      " WHERE conrelid = ");
		sql_append_pg_literal(&body, strbuf_str(&table));
		strbuf_appendf(&body, "::pg_catalog.regclass AND contype = 'p') THEN\n" INDENT INDENT
			       "ALTER TABLE %s ADD %s;\n" INDENT "END IF;\nEND\n",
			       strbuf_str(&table), key.len > prefix ? strbuf_str(&key) + prefix : "");
		if (strbuf_failed(&table) || strbuf_failed(&key))
			body.failed = true;
		rc = add_do_block(script, &body) < 0 ? oom(err) : 0;
	}
	strbuf_free(&table);
	strbuf_free(&key);
	strbuf_free(&body);
	return rc;
}

int pg_ddl_after_load(const catalog_table *t, const pg_ddl_options *o, pg_ddl_script *script,
		      char **err)
{
	if (defers_key(t, o) && add_deferred_key(script, t, o, err) < 0)
		return -1;
	const char *ri = t->replica_identity_index;
	bool ri_created = ri != NULL && t->key_kind == CATALOG_KEY_PRIMARY && t->key_name != NULL &&
			  strcmp(ri, t->key_name) == 0;
	for (int i = 0; i < t->n_indexes; i++) {
		strbuf sb = STRBUF_INIT;
		int rc = pg_ddl_create_index(t, &t->indexes[i], o, &sb, script, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		if (pg_ddl_script_add(script, &sb) < 0)
			return oom(err);
		if (ri != NULL && strcmp(ri, t->indexes[i].name) == 0)
			ri_created = true;
	}
	if (add_replica_identity(script, t, o, ri_created) < 0)
		return oom(err);
	return 0;
}

/* ---- cutover ----------------------------------------------------------------------------------- */

int pg_ddl_setval(const catalog_table *t, const catalog_sequence *seq, const pg_ddl_options *o,
		  int64_t last_value, bool is_called, strbuf *out, char **err)
{
	const char *column = seq->column >= 0 ? catalog_map_column(o->names, t, seq->column) : NULL;
	if (column == NULL)
		return set_err(err, "sequence %s.%s: its column is not on the target", seq->schema,
			       seq->name);
	strbuf table = STRBUF_INIT;
	append_table(&table, t, o);
	const char *cmp = seq->increment < 0 ? "<=" : ">=";
	long long v = (long long)last_value;
	/* The target's own extreme wins when it is past the source's: then it is "called". */
	strbuf_append(out, "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(");
	sql_append_pg_literal(out, strbuf_str(&table));
	strbuf_append(out, ", ");
	sql_append_pg_literal(out, column);
	strbuf_appendf(out, "), CASE WHEN m.v %s %lld THEN m.v ELSE %lld END, ", cmp, v, v);
	if (is_called)
		strbuf_append(out, "true");
	else
		strbuf_appendf(out, "COALESCE(m.v %s %lld, false)", cmp, v);
	strbuf_appendf(out, ") FROM (SELECT pg_catalog.%s(", seq->increment < 0 ? "min" : "max");
	sql_append_pg_ident(out, column);
	strbuf_appendf(out, ")::pg_catalog.int8 AS v FROM %s) m", strbuf_str(&table));
	bool failed = strbuf_failed(&table) || strbuf_failed(out);
	strbuf_free(&table);
	return failed ? oom(err) : 0;
}
